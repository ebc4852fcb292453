"""Every service's /metrics: request durations by route template, its queues, dead letters and outbox."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY, generate_latest

from shared import db
from shared.bus import add_event
from shared.metrics import read_outbox
from shared.service import POOL, create_app
from shared.settings import ServiceSettings
from tests.shared.lifecycle_service import SERVICE, SPEC, TickDone
from tests.shared.test_lifecycle import database, eventually, settings  # noqa: F401 - the same fixtures


def value(text: str, name: str, **labels: str) -> float:
    """One sample's value from the exposition text (labels given must all match)."""
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            return float(match.group(2))
    raise AssertionError(f"no sample {name} {labels}")


@pytest.fixture
async def served(settings: ServiceSettings) -> AsyncIterator[tuple[web.Application, TestClient, int]]:  # noqa: F811
    """The small service, served, with one piece of work to read back."""
    app = create_app(SPEC, settings)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        work_id = await app[POOL].fetchval("INSERT INTO work (kind, finished_at) VALUES ('request', now()) "
                                           "RETURNING id")
        yield app, client, work_id
    finally:
        await client.close()


async def test_metrics_count_requests_by_route_template_and_read_queues_and_the_outbox(
        served: tuple[web.Application, TestClient, int], settings: ServiceSettings) -> None:  # noqa: F811
    _, client, work_id = served
    for _ in range(3):
        assert (await client.get(f"/work/{work_id}")).status == 200
    assert (await client.get("/work/999999999")).status == 404
    assert (await client.get("/no/such/page")).status == 404
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()

    hist = "epep_http_request_duration_seconds_count"
    assert value(text, hist, route="/work/{work_id}", method="GET", status="200") >= 3
    assert value(text, hist, route="/work/{work_id}", method="GET", status="404") >= 1
    assert value(text, hist, route="unmatched", method="GET", status="404") >= 1
    # Paths as requested never become label values (one series per id would grow without bound). Read
    # from the labels alone: a sample's value (a float such as 31.759999999999998) may hold any digits.
    label_values = {label for line in text.splitlines() if not line.startswith("#")
                    for label in re.findall(r'="((?:[^"\\]|\\.)*)"', line.partition("{")[2].rpartition("}")[0])}
    assert "/work/{work_id}" in label_values and "unmatched" in label_values
    leaked = [v for v in label_values if f"/work/{work_id}" in v or "999999999" in v or "/no/such" in v]
    assert leaked == []

    queue = f"{settings.bus_prefix}{SERVICE}.slow"
    assert value(text, "epep_queue_consumers", queue=queue) == 1
    assert value(text, "epep_queue_messages", queue=queue) == 0
    assert value(text, "epep_dead_letter_messages", queue=f"{queue}.dlq") == 0
    assert value(text, "epep_metrics_source_up", source="broker") == 1
    assert value(text, "epep_metrics_source_up", source="database") == 1
    assert value(text, "epep_outbox_unpublished") >= 0
    # Every series says which release and deployment it came from (the spans' resource attributes).
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert all(f'service_version="{settings.service_version}"' in line and
               f'deployment_environment_name="{settings.environment}"' in line for line in samples)

    # Once a scheduled tick has finished, it says when.
    async def ticked() -> bool:
        text = await (await client.get("/metrics")).text()
        return any(line.startswith("epep_scheduled_work_last_run_timestamp_seconds{")
                   and 'work="lifecycle-tick"' in line for line in text.splitlines())
    await eventually(ticked, 10, "a tick to finish")

    # Through the ingress (which always adds X-Forwarded-For) there is nothing to see.
    assert (await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})).status == 404


async def test_the_outbox_backlog_and_its_oldest_age(settings: ServiceSettings) -> None:  # noqa: F811
    pool = await db.create_pool(settings, SERVICE)
    try:
        async with pool.acquire() as conn, conn.transaction():  # no relay runs here: the event stays put
            await add_event(conn, SERVICE, TickDone(day=date(2027, 1, 4)))
        await pool.execute("UPDATE outbox SET created_at = now() - interval '10 minutes'")
        await read_outbox(pool)
        text = generate_latest(REGISTRY).decode()
        assert value(text, "epep_outbox_unpublished") == 1
        assert 600 <= value(text, "epep_outbox_oldest_unpublished_age_seconds") < 700
    finally:
        await pool.close()


async def test_each_request_counts_the_statements_it_sent_to_postgres(
        served: tuple[web.Application, TestClient, int]) -> None:
    """The hot paths' round trips are held by tests through this histogram (issue 19); here, its counting."""
    _, client, work_id = served
    labels = {"route": "/work/{work_id}", "method": "GET"}

    async def read() -> tuple[float, float, float]:
        text = await (await client.get("/metrics")).text()
        return tuple(value(text, f"epep_db_statements_per_request_{s}", **labels, **extra)  # type: ignore[return-value]
                     for s, extra in (("count", {}), ("sum", {}), ("bucket", {"le": "1.0"})))

    assert (await client.get(f"/work/{work_id}")).status == 200  # the series exists from here on
    before = await read()
    for _ in range(4):
        assert (await client.get(f"/work/{work_id}")).status == 200
    after = await read()
    # Four requests of one SELECT each, and nothing else (no pool reset round trip on release).
    assert [a - b for a, b in zip(after, before, strict=True)] == [4, 4, 4]
    text = await (await client.get("/metrics")).text()
    # The process's own statements (the one above, outside any request) are nobody's request's.
    assert "/metrics" not in {line.split('route="')[1].split('"')[0] for line in text.splitlines()
                              if line.startswith("epep_db_statements_per_request_count")}
