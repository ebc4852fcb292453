"""Work each replica does on a timer (reminders, digests, scheduled delegations), on the system's clock or,
for tests and rehearsals, on a clock file (EPEP_CLOCK_FILE: an ISO date-time the scheduler reads each tick).
Whatever a tick does must be safe for several replicas at once: claim each piece of work with a unique row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web

from shared.metrics import SCHEDULED_LAST_RUN

log = logging.getLogger(__name__)
UK = ZoneInfo("Europe/London")


def now(clock_file: Path | None) -> datetime:
    """The time: the clock file's, when one is set and readable; otherwise the system's."""
    if clock_file is not None:
        with contextlib.suppress(OSError, ValueError):
            moment = datetime.fromisoformat(clock_file.read_text().strip())
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.now(UTC)


def every(name: str, interval: Callable[[web.Application], float],
          tick: Callable[[web.Application, datetime], Awaitable[Any]]) -> Callable[[web.Application],
                                                                                   AsyncIterator[None]]:
    """A cleanup context running `tick(app, now)` every `interval(app)` seconds while the app serves. A tick
    that fails on the database or the network is logged and tried again next time."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        from shared.service import SETTINGS  # (shared.service imports this package's neighbours)

        clock_file = app[SETTINGS].clock_file
        stopping = asyncio.Event()

        async def loop() -> None:
            while not stopping.is_set():
                try:
                    await tick(app, now(clock_file))
                    SCHEDULED_LAST_RUN.labels(name).set_to_current_time()
                except (OSError, asyncpg.PostgresError) as exc:
                    log.warning("scheduled work failed; trying again next tick",
                                extra={"work": name, "error": type(exc).__name__})
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=interval(app))

        task = asyncio.create_task(loop(), name=name)
        yield
        # On shutdown the tick in hand finishes; one still running after the shutdown timeout is cancelled
        # (its transaction rolls back and the next tick, here or on another replica, does that work).
        stopping.set()
        try:
            await asyncio.wait_for(task, timeout=app[SETTINGS].shutdown_timeout)
        except TimeoutError:
            log.warning("shutdown timed out: the scheduled tick in hand was cancelled", extra={"tick": name})
        except asyncio.CancelledError:
            pass

    return context
