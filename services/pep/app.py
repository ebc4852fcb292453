from __future__ import annotations

from pathlib import Path

from services.pep import demo
from shared.readmodels import users_only
from shared.service import ServiceSpec
from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = 8102


SPEC = ServiceSpec(name="pep", settings_class=Settings, subscriptions=users_only("pep"),
                   migrations=Path(__file__).parent / "migrations", shared_migrations=("bus", "users"),
                   commands={"seed-demo": demo.seed})
