"""Settings read from the environment and validated at start.

Every process reads its own environment, so names are the same in each process
(`EPEP_DB_PASSWORD` is this service's database password, whichever service it is).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared import internal_auth, sealed


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EPEP_", extra="ignore")
    # What this kind of process needs, so production checks ask only for its own secrets.
    uses_database: ClassVar[bool] = True
    uses_internal_tokens: ClassVar[bool] = True
    # The issuer name of a process that signs internal tokens (the gateway; qa and delegation, which call pep).
    internal_issuer: ClassVar[str | None] = None
    # Whether it takes internal tokens (every service but the gateway, which takes the browser's session).
    verifies_internal_tokens: ClassVar[bool] = True
    # Whether it seals or opens the secrets notify emails (shared/sealed.py): identity and pep seal, notify opens.
    holds_message_keys: ClassVar[bool] = False

    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 0

    # Postgres: the service connects as its own role to its own schema.
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    # EPEP_PG_HOSTS: a primary and its standbys, "host:port,host:port" (an IPv6 host in brackets). When set it
    # replaces pg_host/pg_port: every connection tries them in turn and takes the one that accepts writes
    # (target_session_attrs=read-write), so after a failover the service finds the new primary by itself.
    pg_hosts: str = ""
    pg_database: str = "epep"
    db_password: SecretStr = SecretStr("")
    db_pool_min: int = 1
    db_pool_max: int = 10
    # Idle connections close after this, so a burst (a backlog of events) does not hold connections for long.
    db_pool_idle_seconds: float = 60.0
    # Only the migrate command uses the admin login (to create the schema and role).
    pg_admin_user: str = "postgres"
    pg_admin_password: SecretStr = SecretStr("")

    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    # Prefixes every exchange and queue name, so test runs never collide on one broker.
    bus_prefix: str = ""
    bus_prefetch: int = 16
    # Seconds before each timed retry; after the last one a message goes to the dead-letter queue.
    bus_retry_delays: list[float] = Field(default_factory=lambda: [1.0, 10.0, 60.0, 300.0, 300.0])
    # Waiting retries held unacked per consumer at once (each is held until due; see shared/bus.py).
    bus_retry_prefetch: int = 200
    bus_delivery_limit: int = 10
    bus_publish_timeout: float = 5.0

    # The internal tokens (shared/internal_auth.py). EPEP_INTERNAL_SIGNING_KEYS: this process's own Ed25519
    # private keys, base64, the first signs (only processes with an internal_issuer sign). EPEP_INTERNAL_TRUSTED_KEYS:
    # a JSON map issuer -> the public keys, base64, that verify its tokens (trust only the issuers that call this
    # service: the gateway; for pep also qa and delegation). Unset: the development keys, derived from the issuers'
    # names, refused in production and on any address but the loopback.
    internal_signing_keys: list[SecretStr] = []
    internal_trusted_keys: dict[str, list[str]] = {}
    # EPEP_MESSAGE_KEYS (identity, pep and notify only): Fernet keys sealing the codes and tokens that events carry
    # for notify to email; the first seals, all open. Unset: the development key, refused in production.
    message_keys: list[SecretStr] = []

    # What is running where, on every span and metric (service.version, deployment.environment.name): the
    # release (the images set it from their build argument EPEP_VERSION) and the deployment's own name
    # ("staging", "production-west"); the latter defaults to `environment`.
    service_version: str = "dev"
    deployment_environment: str = ""

    # Trace exporter: none, console, file (JSON lines under trace_dir) or otlp (OTEL_EXPORTER_OTLP_* env).
    traces_exporter: Literal["none", "console", "file", "otlp"] = "none"
    # EPEP_TRACES_SAMPLE_RATIO: the share of new traces recorded (0 to 1), decided once where a trace starts; a
    # span whose caller sent a trace context follows the caller's decision (shared/telemetry.py). 1.0 here, for
    # `make run` and the tests; deploy/ sets 0.1. An unsampled request still carries its trace id onwards and logs it.
    traces_sample_ratio: float = 1.0
    trace_dir: str = "var/traces"
    log_level: str = "INFO"
    shutdown_timeout: float = 10.0
    # EPEP_CLOCK_FILE: an ISO date-time the schedulers use as "now" (shared/schedule.py): tests and rehearsals
    # only, refused in production.
    clock_file: Path | None = None

    @field_validator("bus_retry_delays")
    @classmethod
    def _retries_held_briefly(cls, delays: list[float]) -> list[float]:
        # A waiting retry is an unacked message; RabbitMQ closes the channel of a consumer that holds one
        # longer than its consumer_timeout (30 minutes by default).
        if any(not 0 <= d <= 1500 for d in delays):
            raise ValueError("each bus retry delay must be between 0 and 1500 seconds")
        return delays

    @field_validator("traces_sample_ratio", mode="before")
    @classmethod
    def _a_share_of_traces(cls, value: object) -> float:
        try:
            ratio = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            ratio = float("nan")
        if not 0.0 <= ratio <= 1.0:  # NaN fails this too
            raise ValueError(f"EPEP_TRACES_SAMPLE_RATIO must be a number from 0 to 1 (the share of new traces "
                             f"recorded, e.g. 0.1), not {value!r}")
        return ratio

    @field_validator("pg_hosts")
    @classmethod
    def _database_hosts(cls, value: str) -> str:
        return ",".join(f"{host}:{port}" for host, port in parse_hosts(value)) if value.strip() else ""

    @model_validator(mode="after")
    def _internal_keys(self) -> ServiceSettings:
        if not self.uses_internal_tokens:
            return self
        issuer = self.internal_issuer
        if issuer is not None and not self.internal_signing_keys:
            self.internal_signing_keys = [SecretStr(internal_auth.development_private_key(issuer))]
        # Parsed now, so a malformed or short key stops the process at start; Ed25519 is the minimum strength.
        internal_auth.Verifier(self.internal_trusted_keys)
        if issuer is not None:
            self.internal_signer()
        development = [k.get_secret_value() for k in self.internal_signing_keys] + [
            k for keys in self.internal_trusted_keys.values() for k in keys]
        unset = self.verifies_internal_tokens and not self.internal_trusted_keys
        if (unset or any(map(internal_auth.is_development_key, development))) and not self._private_to_this_machine:
            # Anybody can derive these from the source: a service trusting them trusts anyone.
            raise ValueError("EPEP_INTERNAL_SIGNING_KEYS and EPEP_INTERNAL_TRUSTED_KEYS must be set (not the "
                             "development keys) in production and wherever the service listens beyond localhost")
        return self

    @property
    def _private_to_this_machine(self) -> bool:
        """Not production, and listening on the loopback only: where development keys may be used."""
        if self.environment == "production":
            return False
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"

    def internal_signer(self) -> internal_auth.Signer:
        """This process's signer: only processes with an issuer name sign."""
        if self.internal_issuer is None:
            raise ValueError(f"{type(self).__name__} does not sign internal tokens")
        return internal_auth.Signer(self.internal_issuer, self.internal_signing_keys)

    def internal_verifier(self, service: str) -> internal_auth.Verifier:
        """The keys `service` trusts: as set, else the development keys of the issuers that call it."""
        return internal_auth.Verifier(self.internal_trusted_keys or internal_auth.development_trusted_keys(service))

    def message_keys_held(self) -> list[str] | None:
        """The keys this process seals and opens with (shared.sealed.configure); None for a process without."""
        if not self.holds_message_keys:
            return None
        return [k.get_secret_value() for k in self.message_keys] or [sealed.development_key()]

    @model_validator(mode="after")
    def _message_keys(self) -> ServiceSettings:
        keys = self.message_keys_held()
        if keys is not None:
            sealed.Sealer(keys)  # a malformed key stops the process at start
            if any(map(sealed.is_development_key, keys)) and not self._private_to_this_machine:
                # Anybody can derive it from the source: it would seal the codes for everyone to open.
                raise ValueError("EPEP_MESSAGE_KEYS must be set (not the development key) in production and "
                                 "wherever the service listens beyond localhost")
        return self

    @model_validator(mode="after")
    def _no_development_secrets_in_production(self) -> ServiceSettings:
        if self.environment == "production":
            if self.uses_database and not self.db_password.get_secret_value():
                raise ValueError("EPEP_DB_PASSWORD must be set in production")
            if self.clock_file is not None:
                raise ValueError("EPEP_CLOCK_FILE is for tests and rehearsals: production runs on real time")
        return self

    def role_name(self, service: str) -> str:
        return f"epep_{service}"

    def _address(self, database: str) -> str:
        """host:port/database, or every EPEP_PG_HOSTS host and the choice of the one that takes writes."""
        if self.pg_hosts:
            return f"{self.pg_hosts}/{database}?target_session_attrs=read-write"
        return f"{self.pg_host}:{self.pg_port}/{database}"

    def service_dsn(self, service: str) -> str:
        pw = self.db_password.get_secret_value() or f"{self.role_name(service)}-dev"
        return f"postgresql://{self.role_name(service)}:{pw}@{self._address(self.pg_database)}"

    def admin_dsn(self, database: str | None = None) -> str:
        pw = self.pg_admin_password.get_secret_value()
        auth = f"{self.pg_admin_user}:{pw}" if pw else self.pg_admin_user
        return f"postgresql://{auth}@{self._address(database or self.pg_database)}"


def parse_hosts(value: str) -> list[tuple[str, int]]:
    """EPEP_PG_HOSTS ("10.0.0.5:5432,10.0.0.6:5432", "[::1]:5432") as (host, port) pairs; a clear error naming
    the setting for anything else, so a typo stops the service at start rather than at its first query."""
    hosts = []
    for item in value.split(","):
        entry = item.strip()
        host, sep, port = entry.rpartition(":")
        bracketed = host.startswith("[") and host.endswith("]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or (
                ":" in host and not bracketed) or any(c in host for c in "/?@ "):
            raise ValueError(f"EPEP_PG_HOSTS must be host:port pairs separated by commas (e.g. "
                             f"10.0.0.5:5432,10.0.0.6:5432; an IPv6 address in brackets), not {entry!r} in it")
        hosts.append((host, int(port)))
    return hosts
