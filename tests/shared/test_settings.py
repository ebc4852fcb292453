"""Settings are validated at start: production refuses development secrets, and asks each process only for
the secrets it uses."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from services.gateway.settings import GatewaySettings
from services.identity.settings import IdentitySettings
from services.notify.settings import NotifySettings
from services.pep.app import Settings as PepSettings
from shared.internal_auth import development_private_key, development_public_key, new_key_pair
from shared.sealed import development_key
from shared.settings import ServiceSettings

GATEWAY_PRIVATE, GATEWAY_PUBLIC = new_key_pair()
KEYS = json.dumps({"gateway": [GATEWAY_PUBLIC]})


def test_production_refuses_the_development_internal_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPEP_ENVIRONMENT", "production")
    monkeypatch.setenv("EPEP_DB_PASSWORD", "s3cret")
    with pytest.raises(ValidationError, match="EPEP_INTERNAL_TRUSTED_KEYS"):
        ServiceSettings()  # unset: it would trust the development keys, which anybody can derive
    monkeypatch.setenv("EPEP_INTERNAL_TRUSTED_KEYS", json.dumps({"gateway": [GATEWAY_PUBLIC],
                                                                 "qa": [development_public_key("qa")]}))
    with pytest.raises(ValidationError, match="EPEP_INTERNAL_TRUSTED_KEYS"):
        ServiceSettings()  # one development key among real ones
    monkeypatch.setenv("EPEP_INTERNAL_TRUSTED_KEYS", KEYS)
    assert ServiceSettings().environment == "production"
    with pytest.raises(ValidationError, match="EPEP_INTERNAL_SIGNING_KEYS"):
        GatewaySettings()  # the gateway signs: its own key must be set too
    monkeypatch.setenv("EPEP_INTERNAL_SIGNING_KEYS", json.dumps([development_private_key("gateway")]))
    with pytest.raises(ValidationError, match="EPEP_INTERNAL_SIGNING_KEYS"):
        GatewaySettings()
    monkeypatch.setenv("EPEP_INTERNAL_SIGNING_KEYS", json.dumps([GATEWAY_PRIVATE]))
    assert GatewaySettings().internal_signer().issuer == "gateway"


def test_development_keys_only_on_the_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose and a forgotten EPEP_ENVIRONMENT: listening beyond this machine, the public keys are refused too."""
    assert ServiceSettings(environment="development", host="127.0.0.1").internal_verifier("pep")
    assert ServiceSettings(environment="test", host="::1").internal_verifier("notify")
    for host in ("0.0.0.0", "10.1.2.3", "pep"):
        with pytest.raises(ValidationError, match="EPEP_INTERNAL_TRUSTED_KEYS"):
            ServiceSettings(environment="development", host=host)
    monkeypatch.setenv("EPEP_INTERNAL_TRUSTED_KEYS", KEYS)
    assert ServiceSettings(environment="development", host="0.0.0.0").host == "0.0.0.0"


def test_internal_keys_are_ed25519(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPEP_INTERNAL_TRUSTED_KEYS", '{"gateway": ["a-real-internal-token-key-of-enough-length"]}')
    with pytest.raises(ValidationError, match="Ed25519"):
        ServiceSettings()
    monkeypatch.setenv("EPEP_INTERNAL_TRUSTED_KEYS", KEYS)
    monkeypatch.setenv("EPEP_INTERNAL_SIGNING_KEYS", '["c2hvcnQ="]')
    with pytest.raises(ValidationError, match="Ed25519"):
        GatewaySettings()


def test_production_needs_a_database_password_only_where_there_is_a_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPEP_ENVIRONMENT", "production")
    monkeypatch.setenv("EPEP_INTERNAL_TRUSTED_KEYS", KEYS)
    with pytest.raises(ValidationError, match="EPEP_DB_PASSWORD"):
        ServiceSettings()
    monkeypatch.setenv("EPEP_INTERNAL_SIGNING_KEYS", json.dumps([GATEWAY_PRIVATE]))
    assert GatewaySettings().environment == "production"


def test_identity_refuses_the_development_code_key_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPEP_ENVIRONMENT", "production")
    monkeypatch.setenv("EPEP_INTERNAL_TRUSTED_KEYS", KEYS)
    monkeypatch.setenv("EPEP_DB_PASSWORD", "s3cret")
    monkeypatch.setenv("EPEP_MESSAGE_KEYS", json.dumps([Fernet.generate_key().decode()]))
    with pytest.raises(ValidationError, match="EPEP_CODE_HMAC_KEYS"):
        IdentitySettings()
    monkeypatch.setenv("EPEP_CODE_HMAC_KEYS", '["k9:a-production-code-key-0123456789"]')
    assert IdentitySettings().code_hmac_keys[0].get_secret_value().startswith("k9:")


def test_the_message_key_is_held_by_identity_pep_and_notify_and_never_the_development_one_in_production(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The key sealing emailed codes and tokens (shared/sealed.py): anybody can derive the development one."""
    assert IdentitySettings().message_keys_held() == [development_key()]  # development, on the loopback
    assert NotifySettings().message_keys_held() == [development_key()] == PepSettings().message_keys_held()
    assert GatewaySettings().message_keys_held() is None and ServiceSettings().message_keys_held() is None
    monkeypatch.setenv("EPEP_ENVIRONMENT", "production")
    monkeypatch.setenv("EPEP_INTERNAL_TRUSTED_KEYS", KEYS)
    monkeypatch.setenv("EPEP_DB_PASSWORD", "s3cret")
    for settings_class in (IdentitySettings, NotifySettings, PepSettings):
        with pytest.raises(ValidationError, match="EPEP_MESSAGE_KEYS"):
            settings_class()  # unset: the development key
    monkeypatch.setenv("EPEP_MESSAGE_KEYS", json.dumps([development_key()]))
    with pytest.raises(ValidationError, match="EPEP_MESSAGE_KEYS"):
        NotifySettings()
    monkeypatch.setenv("EPEP_MESSAGE_KEYS", '["not-a-fernet-key"]')
    with pytest.raises(ValidationError):
        NotifySettings()
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("EPEP_MESSAGE_KEYS", json.dumps([key]))
    assert NotifySettings().message_keys_held() == [key]
    monkeypatch.setenv("EPEP_ENVIRONMENT", "development")
    monkeypatch.delenv("EPEP_MESSAGE_KEYS")
    with pytest.raises(ValidationError, match="EPEP_MESSAGE_KEYS"):
        PepSettings(host="0.0.0.0")  # a forgotten EPEP_ENVIRONMENT, listening beyond this machine


def test_a_malformed_code_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPEP_CODE_HMAC_KEYS", '["no-id-here"]')
    with pytest.raises(ValidationError, match="id:secret"):
        IdentitySettings()


def test_production_runs_on_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPEP_ENVIRONMENT", "production")
    monkeypatch.setenv("EPEP_INTERNAL_TRUSTED_KEYS", KEYS)
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


@pytest.mark.parametrize("ratio", ["1.5", "-0.1", "nan", "a tenth", ""])
def test_a_trace_sample_ratio_outside_0_to_1_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, ratio: str) -> None:
    monkeypatch.setenv("EPEP_TRACES_SAMPLE_RATIO", ratio)
    with pytest.raises(ValidationError, match="EPEP_TRACES_SAMPLE_RATIO must be a number from 0 to 1"):
        ServiceSettings()


def test_traces_are_all_recorded_unless_a_ratio_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ServiceSettings().traces_sample_ratio == 1.0  # make run and the tests
    for ratio, expected in (("0.1", 0.1), ("0", 0.0), ("1", 1.0)):
        monkeypatch.setenv("EPEP_TRACES_SAMPLE_RATIO", ratio)
        assert ServiceSettings().traces_sample_ratio == expected
