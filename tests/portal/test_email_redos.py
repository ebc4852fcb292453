"""Security review, finding 1: a megabyte in an email field must not stall the portal.

The invitation form checked its email with `[^@\\s]+@[^@\\s]+\\.[^@\\s]+` on text of any length: `a@`, many dots
and an `@` took quadratic time, and the portal's one event loop served nobody meanwhile (16k characters: 1.3 s;
1 MB: over an hour). The portal runs in a process of its own here, so a stalled portal fails the test instead of
stalling it."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.portal.fake_gateway import FakeGateway
from tests.portal.test_pep_pages import CHILD, CHILD_PROFILE, ME, OVERVIEW, PEP, section

ROOT = Path(__file__).resolve().parents[2]
ATTACK = "a@" + "." * 1_000_000 + "@"  # a megabyte of the worst case for that pattern
RUN_PORTAL = """
import sys
from aiohttp import web
from services.portal.app import SPEC
from services.portal.settings import PortalSettings
from shared.service import create_app
settings = PortalSettings(environment="test", static_dir=sys.argv[1], gateway_url=sys.argv[2])
web.run_app(create_app(SPEC, settings), host="127.0.0.1", port=int(sys.argv[3]), print=None)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeGateway, str]]:
    gateway = FakeGateway()
    async with gateway.running() as url:
        yield gateway, url


@pytest.fixture
def portal(tmp_path: Path, fake: tuple[FakeGateway, str]) -> Iterator[str]:
    (tmp_path / "portal.css").write_text("")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", RUN_PORTAL, str(tmp_path), fake[1], str(port)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()  # a portal still matching the pattern would otherwise run for an hour
        proc.wait()


async def _timed(coro: object) -> tuple[float, aiohttp.ClientResponse]:
    started = time.monotonic()
    response = await coro  # type: ignore[misc]
    await response.read()
    return time.monotonic() - started, response


async def test_a_megabyte_email_is_answered_at_once_and_other_pages_are_served_meanwhile(
        portal: str, fake: tuple[FakeGateway, str]) -> None:
    gateway, _ = fake
    gateway.signed_in(ME)
    gateway.answer("GET", f"/peps/{PEP}", 200, OVERVIEW)
    gateway.answer("GET", f"/children/{CHILD}", 200, CHILD_PROFILE)
    gateway.answer("GET", f"/peps/{PEP}/sections/views", 200, {**section(), "key": "views"})
    gateway.answer("GET", f"/peps/{PEP}/views-invitations", 200, [])
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout, cookie_jar=aiohttp.CookieJar(unsafe=True),
                                     cookies={"epep_session": "session-token"}) as browser:
        html = await (await browser.get(f"{portal}/sign-in")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert token, html
        form = {"csrf_token": token.group(1), "given_name": "Kai", "email": ATTACK, "days": "14"}
        post = asyncio.ensure_future(_timed(browser.post(f"{portal}/peps/{PEP}/sections/views/invitations",
                                                         data=form, allow_redirects=False)))
        await asyncio.sleep(0.05)  # the attack is in the portal's hands
        other_time, other = await _timed(browser.get(f"{portal}/cookies"))
        post_time, answer = await post
    text = await answer.text()
    assert answer.status == 400 and "320 characters or fewer" in text, text[:500]
    assert post_time < 0.75, post_time
    assert other.status == 200 and other_time < 0.75, other_time
    # Nothing was sent on: the address was refused in the portal.
    assert gateway.asked("POST", f"/peps/{PEP}/views-invitations") == []


async def test_an_anonymous_megabyte_is_not_read_for_a_signed_in_page(
        portal: str, fake: tuple[FakeGateway, str]) -> None:
    """A session cookie anyone can make up is not a session: the gateway is asked before the body is read."""
    gateway, _ = fake  # it knows no session: /session answers 404 here, 401 from the real gateway
    gateway.answer("GET", "/session", 401, {"type": "about:blank", "title": "Not signed in", "status": 401,
                                            "code": "session_ended"})
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5), cookie_jar=aiohttp.CookieJar(unsafe=True),
                                     cookies={"epep_session": "made-up"}) as browser:
        html = await (await browser.get(f"{portal}/sign-in")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert token, html
        elapsed, answer = await _timed(browser.post(
            f"{portal}/peps/{PEP}/sections/views/invitations",
            data={"csrf_token": token.group(1), "given_name": "Kai", "email": ATTACK, "days": "14"},
            allow_redirects=False))
    assert answer.status == 303 and answer.headers["Location"].startswith("/sign-in"), answer.status
    assert elapsed < 0.75, elapsed
    assert [c[1] for c in gateway.calls] == ["/session"]  # asked who it was, and nothing else
