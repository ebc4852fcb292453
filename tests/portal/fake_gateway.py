"""A stand-in for the gateway's public API: each test says what it answers, and reads what it was asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

SESSION = {"expires_at": "2030-01-01T12:00:00+00:00", "idle_expires_at": "2030-01-01T08:20:00+00:00",
           "warn_seconds_before": 120, "idle_timeout_seconds": 1200}
ME = {"id": "43b9c6ce-ef2e-529b-91a6-3c5ee6507007", "email": "admin@demo.test", "given_name": "Amira",
      "family_name": "Admin", "memberships": [
          {"organisation_id": "6d167f16-e5cf-516e-a384-6cf45f7bd0ed", "organisation_name": "Demo Virtual School",
           "organisation_type": "local_authority", "role": "vs_admin"}]}


def problem(status: int, title: str, detail: str | None = None, code: str | None = None,
            errors: list[dict[str, str]] | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if code:
        body["code"] = code
    if errors:
        body["errors"] = errors
    return status, body


@dataclass
class FakeGateway:
    # (method, path without /api/v1) -> (status, JSON body or None)
    answers: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, Any, str | None]] = field(default_factory=list)

    # Answers given once each, in turn, before `answers` (a race: the first call loses, the next one wins).
    in_turn: dict[tuple[str, str], list[tuple[int, Any]]] = field(default_factory=dict)

    def answer(self, method: str, path: str, status: int, body: Any = None) -> None:
        self.answers[(method, path)] = (status, body)

    def answer_once(self, method: str, path: str, status: int, body: Any = None) -> None:
        self.in_turn.setdefault((method, path), []).append((status, body))

    def signed_in(self, me: dict[str, Any] | None = None) -> None:
        self.answer("GET", "/me", 200, me or ME)
        self.answer("GET", "/session", 200, SESSION)

    def asked(self, method: str, path: str) -> list[Any]:
        """The bodies (or query strings) of the calls made to this endpoint."""
        return [body for m, p, body, _ in self.calls if (m, p) == (method, path)]

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path.removeprefix("/api/v1")
        if request.content_type.startswith("multipart/"):  # an upload: its fields, and a file by its name
            body: Any = {k: getattr(v, "filename", v) for k, v in (await request.post()).items()}
        else:
            body = await request.json() if request.can_read_body else dict(request.query)
        self.calls.append((request.method, path, body, request.cookies.get("epep_session")))
        waiting = self.in_turn.get((request.method, path))
        status, answer = waiting.pop(0) if waiting else self.answers.get(
            (request.method, path), problem(404, "Not found", code="not_found"))
        if answer is None:
            return web.Response(status=status)
        content_type = "application/problem+json" if status >= 400 else "application/json"
        return web.json_response(answer, status=status, content_type=content_type)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        server = TestServer(app)
        await server.start_server()
        try:
            yield str(server.make_url("")).rstrip("/")
        finally:
            await server.close()


def with_session(portal: TestClient) -> TestClient:
    """The client with the session cookie the stand-in gateway knows (`fake.signed_in()` says as whom)."""
    portal.session.cookie_jar.update_cookies({"epep_session": "session-token"})
    return portal
