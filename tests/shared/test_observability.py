"""Traces go out over OTLP when configured, with secrets taken out, and the JSON logs carry their trace ids."""

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


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


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
           "EPEP_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector_port}"}
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
            for scope in resource_spans.scope_spans:
                spans.extend((span.name, span.trace_id.hex(), span) for span in scope.spans)
    names = {name for name, _, _ in spans}
    assert any("/fail" in name for name in names), names
    assert SECRET not in "".join(str(message) for message in received)  # redacted whatever the exporter

    # The log line about the failed request carries the trace id of that request's span.
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    (failure,) = [line for line in lines if line["msg"] == "unhandled error"]
    assert failure["trace_id"] in {trace_id for name, trace_id, _ in spans if "/fail" in name}
