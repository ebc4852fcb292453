from __future__ import annotations

from pathlib import Path

from shared.readmodels import users_only
from shared.service import ServiceSpec
from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = 8105


SPEC = ServiceSpec(name="qa", settings_class=Settings, subscriptions=users_only("qa"),
                   migrations=Path(__file__).parent / "migrations", shared_migrations=("bus", "users"))
