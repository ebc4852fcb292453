"""Prometheus metrics, served at /metrics on each process's own port (never through the gateway).

Counted as things happen: HTTP request durations (by route template, never a raw path with ids in it),
emails sent and failed (notify), reminder lag (delegation), each scheduler's last run. Read at scrape time:
the service's queues (messages ready, consumers), their dead-letter queues, and its outbox backlog. Labels
hold queue names, route templates and outcomes only: nothing personal, nothing secret.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator

import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web
from aiormq.exceptions import ChannelNotFoundEntity
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from shared.db import POOLED, STATEMENTS, Statements

HTTP_SECONDS = Histogram(
    "epep_http_request_duration_seconds", "HTTP requests served, by route template, method and status",
    ["route", "method", "status"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
QUEUE_MESSAGES = Gauge("epep_queue_messages", "Messages ready in one of this service's consumer queues", ["queue"])
QUEUE_CONSUMERS = Gauge("epep_queue_consumers", "Consumers on one of this service's queues (0: nothing takes them)",
                        ["queue"])
DEAD_LETTERS = Gauge("epep_dead_letter_messages", "Messages in a dead-letter queue: each needs a person", ["queue"])
OUTBOX_UNPUBLISHED = Gauge("epep_outbox_unpublished", "Events committed to the outbox and not yet published")
OUTBOX_OLDEST_AGE = Gauge("epep_outbox_oldest_unpublished_age_seconds",
                          "Age of the oldest unpublished outbox event (0 when none)")
SOURCE_UP = Gauge("epep_metrics_source_up", "1 when the scrape could read this source (database, broker)",
                  ["source"])
# The broker's health is its own signal, not readiness: a service without its broker still answers requests (their
# events wait in the outbox), so an alert says so instead of every pod leaving its Service (docs/operations.md).
BROKER_CONNECTED = Gauge("epep_broker_connected",
                         "1 while this process's broker connection is up; 0: its events wait in the outbox")
CONSUMERS_CONSUMING = Gauge("epep_consumers_consuming",
                            "1 while every consumer of this process is consuming; 0: it takes no messages")
# Left out of /metrics until the process says them (`say`): a gauge reads 0 until set, and the gateway and portal
# have no broker, identity no consumers; a 0 from them would keep an alert firing for as long as they run.
_UNSAID = {"epep_broker_connected", "epep_consumers_consuming"}
_SAID: set[str] = set()
# Round trips to Postgres per request, by route: the hot paths' counts are held by tests (issue 19's "one round trip
# for a read, two for a save"), and a count that grows in production shows here before it shows as latency.
DB_STATEMENTS = Histogram(
    "epep_db_statements_per_request", "Statements sent to Postgres while serving one request, by route template",
    ["route", "method"], buckets=(0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50))
EMAILS = Counter("epep_emails_total", "Emails notify tried to send, by outcome", ["outcome"])
REMINDER_LAG = Histogram(
    "epep_reminder_lag_seconds", "How late each task reminder went, after the moment it was owed (07:00 UK time)",
    buckets=(60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 24 * 3600, 3 * 24 * 3600))
SCHEDULED_LAST_RUN = Gauge("epep_scheduled_work_last_run_timestamp_seconds",
                           "Unix time a scheduler last finished a tick", ["work"])

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
_UNTIMED = {"/healthz", "/readyz", "/metrics"}


def route_of(request: web.Request) -> str:
    """The route's template (`/children/{child_id}`), never the path itself; `unmatched` for a 404."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def http_metrics_middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    start = time.perf_counter()
    status = 500
    statements = Statements()
    STATEMENTS.set(statements)
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        if request.path not in _UNTIMED:
            method = request.method if request.method in METHODS else "other"
            route = route_of(request)
            HTTP_SECONDS.labels(route, method, str(status)).observe(time.perf_counter() - start)
            # asyncpg counts each statement in a callback it has scheduled: observe after those have run.
            asyncio.get_running_loop().call_soon(_observe_statements, route, method, statements)


def _observe_statements(route: str, method: str, statements: Statements) -> None:
    if POOLED:  # not in the gateway or the portal, which have no database
        DB_STATEMENTS.labels(route, method).observe(statements.n)


async def read_outbox(pool: asyncpg.Pool) -> None:
    try:
        row = await pool.fetchrow(
            "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age "
            "FROM outbox WHERE published_at IS NULL", timeout=2)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        SOURCE_UP.labels("database").set(0)
        return
    SOURCE_UP.labels("database").set(1)
    OUTBOX_UNPUBLISHED.set(row["n"])
    OUTBOX_OLDEST_AGE.set(float(row["age"]))


async def read_queues(connection: AbstractRobustConnection | None, queues: list[str]) -> None:
    """Messages and consumers of each queue and its `.dlq`, by passive declare on a channel of its own (a
    passive declare of a missing queue closes its channel). A broker that is away costs a scrape 5 s at most."""
    if connection is None or connection.is_closed:
        SOURCE_UP.labels("broker").set(0)
        return
    try:
        await asyncio.wait_for(_read_queues(connection, queues), timeout=5)
    except Exception:  # the broker went away mid-scrape: say so
        SOURCE_UP.labels("broker").set(0)
        return
    SOURCE_UP.labels("broker").set(1)


async def _read_queues(connection: AbstractRobustConnection, queues: list[str]) -> None:
    targets = [(queue, dead) for name in queues for queue, dead in ((name, False), (f"{name}.dlq", True))]
    channel = await connection.channel()
    try:
        for queue, dead in targets:
            if channel.is_closed:
                channel = await connection.channel()
            try:
                result = (await channel.declare_queue(queue, passive=True, timeout=2)).declaration_result
            except ChannelNotFoundEntity:
                continue  # not declared (yet): nothing to report
            (DEAD_LETTERS if dead else QUEUE_MESSAGES).labels(queue).set(result.message_count or 0)
            QUEUE_CONSUMERS.labels(queue).set(result.consumer_count or 0)
    finally:
        if not channel.is_closed:
            await channel.close()


# The process's resource attributes (shared/telemetry.py), as labels on every series it exposes: which release and
# which deployment a figure came from, as its spans say. Prometheus label names cannot hold dots.
_RESOURCE_LABELS: dict[str, str] = {}
_EXPOSED_ATTRIBUTES = ("service.version", "deployment.environment.name")


def say(gauge: Gauge, value: bool) -> None:
    """Set one of the process's broker signals (BROKER_CONNECTED, CONSUMERS_CONSUMING), exposed from then on."""
    gauge.set(value)
    _SAID.update(metric.name for metric in gauge.describe())


def label_every_metric(attributes: dict[str, str]) -> None:
    _RESOURCE_LABELS.clear()
    _RESOURCE_LABELS.update({k.replace(".", "_"): attributes[k] for k in _EXPOSED_ATTRIBUTES if k in attributes})


class _WithResourceLabels(Collector):
    """The default registry's metrics, each sample with the resource labels added (its own labels win); the broker
    signals only once said."""

    def collect(self) -> Iterator[Metric]:
        for metric in REGISTRY.collect():
            if metric.name in _UNSAID and metric.name not in _SAID:
                continue
            labelled = Metric(metric.name, metric.documentation, metric.type, metric.unit)
            labelled.samples = [sample._replace(labels={**sample.labels, **{
                k: v for k, v in _RESOURCE_LABELS.items() if k not in sample.labels}}) for sample in metric.samples]
            yield labelled


def exposition() -> web.Response:
    return web.Response(body=generate_latest(_WithResourceLabels()), headers={"Content-Type": CONTENT_TYPE_LATEST})
