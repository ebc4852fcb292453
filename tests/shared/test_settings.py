"""Settings are validated at start: production refuses development secrets, and asks each process only for
the secrets it uses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.gateway.settings import GatewaySettings
from services.identity.settings import IdentitySettings
from shared.settings import ServiceSettings

KEYS = '["a-real-internal-token-key-of-enough-length"]'


def test_production_refuses_the_development_internal_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPEP_ENVIRONMENT", "production")
    monkeypatch.setenv("EPEP_DB_PASSWORD", "s3cret")
    with pytest.raises(ValidationError, match="EPEP_INTERNAL_TOKEN_KEYS"):
        ServiceSettings()


def test_production_needs_a_database_password_only_where_there_is_a_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPEP_ENVIRONMENT", "production")
    monkeypatch.setenv("EPEP_INTERNAL_TOKEN_KEYS", KEYS)
    with pytest.raises(ValidationError, match="EPEP_DB_PASSWORD"):
        ServiceSettings()
    assert GatewaySettings().environment == "production"


def test_identity_refuses_the_development_code_key_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPEP_ENVIRONMENT", "production")
    monkeypatch.setenv("EPEP_INTERNAL_TOKEN_KEYS", KEYS)
    monkeypatch.setenv("EPEP_DB_PASSWORD", "s3cret")
    with pytest.raises(ValidationError, match="EPEP_CODE_HMAC_KEYS"):
        IdentitySettings()
    monkeypatch.setenv("EPEP_CODE_HMAC_KEYS", '["k9:a-production-code-key-0123456789"]')
    assert IdentitySettings().code_hmac_keys[0].get_secret_value().startswith("k9:")


def test_a_malformed_code_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPEP_CODE_HMAC_KEYS", '["no-id-here"]')
    with pytest.raises(ValidationError, match="id:secret"):
        IdentitySettings()


def test_production_runs_on_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPEP_ENVIRONMENT", "production")
    monkeypatch.setenv("EPEP_INTERNAL_TOKEN_KEYS", KEYS)
    monkeypatch.setenv("EPEP_DB_PASSWORD", "s3cret")
    monkeypatch.setenv("EPEP_CLOCK_FILE", "/tmp/now")
    with pytest.raises(ValidationError, match="EPEP_CLOCK_FILE"):
        ServiceSettings()
    monkeypatch.delenv("EPEP_CLOCK_FILE")
    assert ServiceSettings().clock_file is None


def test_a_clock_file_is_now_for_the_schedulers(tmp_path: object) -> None:
    from datetime import UTC, datetime
    from pathlib import Path

    from shared.schedule import now
    clock = Path(str(tmp_path)) / "now"
    clock.write_text("2027-03-17T09:30:00+00:00\n")
    assert now(clock) == datetime(2027, 3, 17, 9, 30, tzinfo=UTC)
    clock.write_text("not a time")  # unreadable: the system's clock, never a crash
    assert abs((now(clock) - datetime.now(UTC)).total_seconds()) < 5
    assert abs((now(None) - datetime.now(UTC)).total_seconds()) < 5
