"""The portal's own /metrics is for Prometheus on the pod network: a request that came through the ingress or the
Gateway (which add X-Forwarded-For) gets 404, a direct one the metrics (issue 23, finding 9; the Gateway also
rewrites the path away: tests/deploy/test_manifests.py)."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from services.portal.app import SPEC
from services.portal.settings import PortalSettings
from shared.service import create_app


async def test_the_portals_metrics_answer_404_through_a_proxy(tmp_path: Path) -> None:
    (tmp_path / "portal.css").write_text("")
    settings = PortalSettings(environment="test", static_dir=tmp_path, gateway_url="http://127.0.0.1:9")
    async with TestClient(TestServer(create_app(SPEC, settings))) as client:
        direct = await client.get("/metrics")
        assert direct.status == 200 and "epep_" in await direct.text()
        assert (await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})).status == 404
