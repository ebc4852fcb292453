"""How every service starts: `python -m services.<name> serve | migrate`.

`serve` runs the HTTP API, the outbox relay and the consumers in one process; all three are stateless
and coordinate through Postgres and RabbitMQ, so an operator can run as many replicas as they like.
SIGTERM stops consuming, lets in-flight messages and requests finish, then closes the pool and bus.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor

from shared import db, sealed
from shared.bus import Bus, Consumers, OutboxRelay, Subscription, declare_subscription, queue_name
from shared.logs import access_log_middleware, setup_logging
from shared.metrics import (
    BROKER_CONNECTED,
    CONSUMERS_CONSUMING,
    exposition,
    http_metrics_middleware,
    label_every_metric,
    read_outbox,
    read_queues,
    say,
)
from shared.migrate import ensure_database, migrate
from shared.settings import ServiceSettings
from shared.telemetry import resource_attributes, setup_tracing, shutdown_tracing
from shared.web import internal_auth_middleware, problem_middleware, request_id_middleware

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", ServiceSettings)
POOL = web.AppKey("pool", asyncpg.Pool)
BUS = web.AppKey("bus", Bus)
CONSUMERS = web.AppKey("consumers", Consumers)


@dataclass
class ServiceSpec:
    """What makes a service itself; everything else is shared."""

    name: str
    settings_class: type[ServiceSettings] = ServiceSettings
    routes: Callable[[web.Application], None] | None = None
    subscriptions: Callable[[web.Application], list[Subscription]] | None = None
    migrations: Path | None = None  # None: no database (gateway, portal)
    shared_migrations: tuple[str, ...] = ("bus",)  # folders under shared/migrations this service also applies
    uses_bus: bool = True
    internal: bool = True  # reached only through the gateway, with its signed token
    extra_contexts: list[Callable[[web.Application], AsyncIterator[None]]] = field(default_factory=list)
    middlewares: Callable[[ServiceSettings], list[Any]] | None = None
    # The largest request body the service reads (uploads need more than the 1 MiB default).
    client_max_size: int = 1024**2
    # Extra one-off commands, e.g. {"seed-demo": seed}: async functions of the settings.
    commands: dict[str, Callable[[ServiceSettings], Coroutine[Any, Any, None]]] = field(default_factory=dict)


def create_app(spec: ServiceSpec, settings: ServiceSettings) -> web.Application:
    # Probes would flood the traces; the instrumentor reads its exclusions from the environment.
    os.environ.setdefault("OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS", "healthz,readyz")
    AioHttpServerInstrumentor().instrument()  # idempotent: adds its tracing middleware to every Application
    label_every_metric(resource_attributes(settings, spec.name))
    # The access log outside the request id (it reads the id the inner middleware chose) and inside the
    # instrumentor's span (so its line carries the request's trace and span ids).
    middlewares: list[Any] = [http_metrics_middleware, access_log_middleware, request_id_middleware,
                              problem_middleware]
    if spec.internal:
        middlewares.append(internal_auth_middleware(spec.name, settings.internal_verifier(spec.name)))
    if spec.middlewares:
        middlewares.extend(spec.middlewares(settings))
    app = web.Application(middlewares=middlewares, client_max_size=spec.client_max_size)
    app[SETTINGS] = settings
    if (message_keys := settings.message_keys_held()) is not None:  # identity, pep and notify: shared/sealed.py
        sealed.configure(message_keys)
    if spec.migrations is not None:
        app.cleanup_ctx.append(_pool_ctx(spec))
    if spec.uses_bus:
        app.cleanup_ctx.append(_bus_ctx(spec))
    # Contexts close in reverse order, so on SIGTERM the consumers stop first, then the scheduled work and
    # clients, then the relay publishes what they wrote, then the bus and pool close.
    if spec.migrations is not None and spec.uses_bus:
        app.cleanup_ctx.append(_relay_ctx(spec))
    for ctx in spec.extra_contexts:
        app.cleanup_ctx.append(ctx)
    if spec.subscriptions is not None:
        app.cleanup_ctx.append(_consumers_ctx(spec))
        app.on_shutdown.append(_stop_consuming)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    if spec.routes:
        spec.routes(app)
    return app


def _pool_ctx(spec: ServiceSpec) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        app[POOL] = await db.create_pool_when_up(app[SETTINGS], spec.name)
        yield
        # close() waits for every connection to come back; one still out after the timeout is cut off.
        try:
            await asyncio.wait_for(app[POOL].close(), timeout=app[SETTINGS].shutdown_timeout)
        except TimeoutError:
            log.warning("shutdown timed out: database connections still in use were cut off",
                        extra={"service": spec.name})
            app[POOL].terminate()
    return ctx


def _bus_ctx(spec: ServiceSpec) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        app[BUS] = Bus(app[SETTINGS], spec.name)
        await app[BUS].connect()
        yield
        with contextlib.suppress(Exception):  # a broker that is away must not hold the exit up
            await asyncio.wait_for(app[BUS].close(), timeout=app[SETTINGS].bus_publish_timeout)
    return ctx


def _relay_ctx(spec: ServiceSpec) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        relay = OutboxRelay(app[POOL], app[BUS], app[SETTINGS], spec.name)
        task = asyncio.create_task(relay.run(), name=f"{spec.name}-outbox-relay")
        yield
        relay.stop()
        # Let the current batch finish its confirms.
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=app[SETTINGS].bus_publish_timeout + 1)
        # Drain: publish what the last requests, messages and ticks wrote now, not at the next start.
        try:
            await asyncio.wait_for(relay.drain(), timeout=app[SETTINGS].bus_publish_timeout + 1)
        except Exception as exc:  # the broker is away: the rows wait in the outbox for the next relay
            log.warning("outbox not drained at shutdown", extra={"service": spec.name, "error": type(exc).__name__})
        await relay.close()
    return ctx


def _consumers_ctx(spec: ServiceSpec) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        assert spec.subscriptions is not None
        consumers = Consumers(app[BUS], app[POOL], app[SETTINGS])
        app[CONSUMERS] = consumers
        await consumers.start(spec.subscriptions(app))
        yield
        await consumers.stop(timeout=app[SETTINGS].shutdown_timeout)
    return ctx


async def _stop_consuming(app: web.Application) -> None:
    """On SIGTERM, before the requests in hand are waited for: take no new messages (the broker gives them to
    other replicas). The messages in hand finish in the consumers' cleanup."""
    if CONSUMERS in app:
        await app[CONSUMERS].cancel()


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


def _broker_checks(app: web.Application) -> dict[str, str]:
    checks: dict[str, str] = {}
    if BUS in app:
        checks["broker"] = "ok" if app[BUS].is_connected else "unreachable"
        say(BROKER_CONNECTED, app[BUS].is_connected)
    if CONSUMERS in app:
        checks["consumers"] = "ok" if app[CONSUMERS].consuming else "not consuming"
        say(CONSUMERS_CONSUMING, app[CONSUMERS].consuming)
    return checks


async def _readyz(request: web.Request) -> web.Response:
    """Ready to take requests: the process answers HTTP and its database answers. The broker is reported but is
    not a condition: requests do not need it (their events wait in the outbox, consumers catch up when it is
    back), so a broker outage must not take every pod out of its Service. Its health is a metric and an alert
    instead (epep_broker_connected, epep_consumers_consuming; docs/operations.md)."""
    app = request.app
    checks: dict[str, str] = {}
    if POOL in app:
        try:
            await asyncio.wait_for(app[POOL].fetchval("SELECT 1"), timeout=2)
            checks["database"] = "ok"
        except Exception:
            checks["database"] = "unreachable"
    ok = checks.get("database", "ok") == "ok"
    checks.update(_broker_checks(app))
    return web.json_response({"status": "ready" if ok else "not ready", "checks": checks}, status=200 if ok else 503)


async def _metrics(request: web.Request) -> web.Response:
    """For Prometheus on the pod's own port. The gateway and portal are reached from outside through the
    ingress, which always adds X-Forwarded-For: such a request gets a 404, a scraper's direct one the metrics."""
    app = request.app
    if "X-Forwarded-For" in request.headers:
        raise web.HTTPNotFound()
    if POOL in app and BUS in app:
        await read_outbox(app[POOL])
    if BUS in app and CONSUMERS in app:
        await read_queues(app[BUS].connection, [queue_name(app[SETTINGS], s) for s in app[CONSUMERS].subscriptions])
    _broker_checks(app)
    return exposition()


def main(spec: ServiceSpec, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m services.{spec.name}")
    parser.add_argument("command", choices=["serve", "migrate", *spec.commands])
    args = parser.parse_args(argv)
    settings = spec.settings_class()
    setup_logging(spec.name, settings.log_level)
    if args.command == "migrate":
        if spec.migrations is None:
            return
        asyncio.run(_migrate(spec, settings))
        return
    if args.command in spec.commands:
        asyncio.run(spec.commands[args.command](settings))
        return
    setup_tracing(settings, spec.name)
    try:
        web.run_app(create_app(spec, settings), host=settings.host, port=settings.port, print=None,
                    shutdown_timeout=settings.shutdown_timeout, access_log=None, handle_signals=True)
    finally:
        shutdown_tracing()


async def _migrate(spec: ServiceSpec, settings: ServiceSettings) -> None:
    assert spec.migrations is not None
    await ensure_database(settings)
    applied = await migrate(settings, spec.name, spec.migrations, spec.shared_migrations)
    log.info("migrations done", extra={"service": spec.name, "applied": len(applied)})
    if spec.uses_bus and spec.subscriptions is not None:
        await _declare_topology(spec, settings)


async def _declare_topology(spec: ServiceSpec, settings: ServiceSettings) -> None:
    """Declare the service's queues and bindings at deploy time, before anything is served: an event published
    before its consumer's queue exists would otherwise miss it (it would wait in epep.unrouted)."""
    app = web.Application()
    app[SETTINGS] = settings
    bus = Bus(settings, spec.name)
    await bus.connect()
    try:
        assert spec.subscriptions is not None
        for sub in spec.subscriptions(app):
            await declare_subscription(bus, sub)
    finally:
        await bus.close()
