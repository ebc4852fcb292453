"""Traces go out over OTLP when configured, with secrets taken out and the SQL statements in them; the JSON logs
carry their trace and span ids, with one access line per request that holds no path, token or query string."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from deploy.local.system import ROOT, free_port
from shared.settings import ServiceSettings
from tests.conftest import PG_HOST, PG_PORT
from tests.shared.test_lifecycle import AMQP_URL, database, eventually, settings  # noqa: F401 - fixtures

SECRET = "s3cr3t-query-value-1234"
TOKEN = "Zq8pLr4vTt2WnYx6Kb0dFh3J"  # as an emailed link's path carries it


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


def _read(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return str(resp.read().decode())


async def test_spans_reach_an_otlp_collector_and_logs_carry_their_trace_ids(
        settings: ServiceSettings, tmp_path: Path) -> None:  # noqa: F811
    received: list[ExportTraceServiceRequest] = []

    async def collect(request: web.Request) -> web.Response:  # a stand-in OTLP/HTTP collector
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        received.append(message)
        return web.Response(body=b"", content_type="application/x-protobuf")

    collector = web.Application()
    collector.router.add_post("/v1/traces", collect)
    runner = web.AppRunner(collector)
    await runner.setup()
    collector_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", collector_port).start()

    port = free_port()
    env = {**os.environ, "EPEP_PORT": str(port), "EPEP_PG_HOST": PG_HOST, "EPEP_PG_PORT": str(PG_PORT),
           "EPEP_PG_DATABASE": settings.pg_database, "EPEP_AMQP_URL": AMQP_URL,
           "EPEP_BUS_PREFIX": settings.bus_prefix, "EPEP_ENVIRONMENT": "test", "EPEP_DB_POOL_MAX": "4",
           "EPEP_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector_port}",
           "EPEP_SERVICE_VERSION": "9.8.7", "EPEP_DEPLOYMENT_ENVIRONMENT": "rehearsal"}
    log = tmp_path / "service.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.shared.lifecycle_service", "serve",
                                                    cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"

        async def ready() -> bool:
            assert proc.returncode is None, log.read_text()
            return await asyncio.to_thread(_get, f"{base}/readyz") == 200
        await eventually(ready, 30, "the service to be ready")
        assert await asyncio.to_thread(_get, f"{base}/work/999999999?token={SECRET}") == 404
        assert await asyncio.to_thread(_get, f"{base}/fail") == 500
        assert await asyncio.to_thread(_get, f"{base}/your-views/{TOKEN}?code={SECRET}") == 404
        # Every metric says which release and which deployment it came from, as the spans do.
        metrics = await asyncio.to_thread(_read, f"{base}/metrics")
        samples = [line for line in metrics.splitlines() if line.startswith("epep_")]
        assert samples and all('service_version="9.8.7"' in line and 'deployment_environment_name="rehearsal"' in line
                               for line in samples)
        proc.send_signal(signal.SIGTERM)  # shutting down flushes the batch of spans
        assert await asyncio.wait_for(proc.wait(), 30) == 0, log.read_text()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await runner.cleanup()

    spans: list[tuple[str, str, Any]] = []
    for message in received:
        for resource_spans in message.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            assert resource["service.name"] == "epep-lifecycletest"
            assert resource["service.version"] == "9.8.7"
            assert resource["deployment.environment.name"] == "rehearsal"
            for scope in resource_spans.scope_spans:
                spans.extend((span.name, span.trace_id.hex(), span) for span in scope.spans)
    names = {name for name, _, _ in spans}
    assert any("/fail" in name for name in names), names
    assert SECRET not in "".join(str(message) for message in received)  # redacted whatever the exporter

    assert TOKEN not in "".join(str(message) for message in received)

    # asyncpg's spans sit in the request's trace, under its server span: the statement, never its values.
    (lookup,) = [(trace_id, span) for name, trace_id, span in spans if name.startswith("GET /work/")]
    queries = [span for _, trace_id, span in spans if trace_id == lookup[0] and span.name != lookup[1].name]
    assert queries and all(span.parent_span_id == lookup[1].span_id for span in queries)
    statements = [{a.key: a.value.string_value for a in span.attributes} for span in queries]
    assert any("SELECT kind FROM work WHERE id = $1" in str(attributes) for attributes in statements), statements
    assert "999999999" not in str(statements)
    # ... and only there: a statement outside any trace (the relay's polls, the ticks' claims) makes no trace.
    roots = [span for _, _, span in spans if not span.parent_span_id]
    assert roots and not [span.name for span in roots if any(a.key.startswith("db.") for a in span.attributes)]

    # The log line about the failed request carries the trace id and span id of that request's span.
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    (failure,) = [line for line in lines if line["msg"] == "unhandled error"]
    (fail_span,) = [(trace_id, span) for name, trace_id, span in spans if name == "GET /fail"]
    assert (failure["trace_id"], failure["span_id"]) == (fail_span[0], fail_span[1].span_id.hex())

    # One access line per request (not the probes' and scrapes'): the route's template, never the path as asked.
    access = [line for line in lines if line["logger"] == "epep.access"]
    assert {(a["http_method"], a["http_route"], a["http_status"]) for a in access} == {
        ("GET", "/work/{work_id}", 404), ("GET", "/fail", 500), ("GET", "unmatched", 404)}
    assert all(isinstance(a["duration_ms"], float) and len(a["request_id"]) >= 8 and len(a["span_id"]) == 16
               for a in access)
    assert SECRET not in text and TOKEN not in text and "999999999" not in text
