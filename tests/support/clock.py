"""A clock file for replicas of a service: the one thing tests replace when time is the subject. The replicas
read "now" from the file (EPEP_CLOCK_FILE) on every tick of their schedulers; the test writes it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")
LONG_AGO = "2000-01-01T00:00:00+00:00"  # before anything: nothing is owed until the test moves time


@contextlib.contextmanager
def replicas_on_a_clock(system: Any, service: str, names: tuple[str, ...], clock_file: Path,
                        interval_setting: str) -> Iterator[Path]:
    """Start `names` as more replicas of `service` that tick every 0.2 s on the clock in `clock_file`."""
    clock_file.write_text(LONG_AGO)
    env = {"EPEP_CLOCK_FILE": str(clock_file), interval_setting: "0.2"}
    try:
        for name in names:
            system.local.start_replica(service, name, env)
        yield clock_file
    finally:
        for name in names:
            system.local.stop(name)


def set_clock(clock_file: Path, day: date, hour: int = 9, minute: int = 0) -> None:
    """Move the replicas' time to `day` at `hour`:`minute`, UK time."""
    clock_file.write_text(datetime(day.year, day.month, day.day, hour, minute, tzinfo=UK).isoformat())


@contextlib.contextmanager
def service_on_a_clock(system: Any, service: str, clock_file: Path, env: dict[str, str] | None = None
                       ) -> Iterator[Path]:
    """Restart `service`'s own process (on its own port, so the gateway still reaches it) reading "now" from
    `clock_file`, for its answers as well as its schedulers: "what is due today" is then the test's day. It starts
    long ago, so the work its schedulers do as they start owes nothing (prompts about every child of an LA whose
    term dates a test has just set would flood the mailbox of the tests after it); the test then sets its day.
    Afterwards the service is restarted on the system's clock."""
    clock_file.write_text(LONG_AGO)
    local = system.local
    before = dict(local.service_env.get(service, {}))
    local.service_env[service] = {**before, "EPEP_CLOCK_FILE": str(clock_file), **(env or {})}
    local.stop(service)
    local.start(service)
    local.wait_ready([service])
    try:
        yield clock_file
    finally:
        local.service_env[service] = before
        local.stop(service)
        local.start(service)
        local.wait_ready([service])
