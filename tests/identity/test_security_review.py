"""Security review (issue 23), identity's findings, each attack performed against identity's own HTTP handlers on
real Postgres (no broker: events stay in the outbox). The gateway's signed token is stood in for by the claims it
would carry, so what is tested is identity's own rule.

Finding 5: the same-answer design must not leak whether a password was right or an address has an account.
Finding 7: one LA's admin must not control another LA's staff.
Finding 9: /me/password and /me/email are throttled; new setting staff and a replaced DT see nothing until granted."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.identity import account, admin, handlers
from services.identity import store as identity_store
from services.identity.domain.passwords import hash_password
from services.identity.membership import nominate
from services.identity.settings import IdentitySettings
from shared import db
from shared.internal_auth import Claims
from shared.migrate import ensure_database, migrate
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, problem_middleware, request_id_middleware
from tests.conftest import PG_HOST, PG_PORT, module_database

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "identity" / "migrations"
PASSWORD = "correct horse battery staple"
GATEWAY = {"sub": "service:gateway"}
database = module_database("epep_idsec")


@web.middleware
async def claims_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                            ) -> web.StreamResponse:
    """What the internal token would say, from the test: identity's rules are what is under test here."""
    request[CLAIMS] = Claims.model_validate(json.loads(request.headers["X-Test-Claims"]))
    return await handler(request)


class Identity:
    def __init__(self, client: TestClient, pool: asyncpg.Pool) -> None:
        self.client, self.pool = client, pool

    async def call(self, path: str, body: Any = None, claims: dict[str, Any] | None = None,
                   method: str = "POST") -> tuple[int, Any]:
        resp = await self.client.request(method, path, json=body,
                                         headers={"X-Test-Claims": json.dumps(claims or GATEWAY)})
        text = await resp.text()
        return resp.status, json.loads(text) if text else None

    async def person(self, email: str, given: str = "Sam", family: str = "Person",
                     memberships: tuple[tuple[uuid.UUID, str], ...] = ()) -> uuid.UUID:
        user_id = uuid.uuid4()
        await self.pool.execute("INSERT INTO users (id, email, email_normalised, given_name, family_name, "
                                "password_hash) VALUES ($1, $2, $2, $3, $4, $5)", user_id, email, given, family,
                                await hash_password(PASSWORD))
        for org, role in memberships:
            await self.pool.execute("INSERT INTO memberships (user_id, organisation_id, role) VALUES ($1, $2, $3)",
                                    user_id, org, role)
        return user_id

    async def organisation(self, kind: str = "local_authority", la: uuid.UUID | None = None) -> uuid.UUID:
        org_id = uuid.uuid4()
        await self.pool.execute("INSERT INTO organisations (id, name, type, la_id) VALUES ($1, $2, $3, $4)",
                                org_id, f"Org {org_id.hex[:6]}", kind, la)
        return org_id

    async def sign_in(self, email: str, password: str, address: str) -> str:
        status, body = await self.call("/sign-in", {"email": email, "password": password, "client_address": address})
        assert status == 202, body
        return str(body["attempt_id"])

    async def session(self, user_id: uuid.UUID) -> str:
        token = uuid.uuid4().hex
        async with self.pool.acquire() as conn:
            await identity_store.create_session(conn, user_id, handlers._token_hash(token), 3600)
        return token


@pytest.fixture
async def identity(database: str) -> AsyncIterator[Identity]:
    # Account throttles start late here, so what the code answers is seen rather than the account's delay.
    settings = IdentitySettings(pg_host=PG_HOST, pg_port=PG_PORT, pg_database=database, environment="test",
                                throttle_free_failures_account=50, throttle_free_failures_address=50)
    await ensure_database(settings)
    conn = await asyncpg.connect(settings.admin_dsn())
    await conn.execute("DROP SCHEMA IF EXISTS identity CASCADE")
    await conn.close()
    await migrate(settings, "identity", MIGRATIONS, ("bus",))
    pool = await db.create_pool(settings, "identity")
    app = web.Application(middlewares=[request_id_middleware, problem_middleware, claims_middleware])
    app[SETTINGS], app[POOL] = settings, pool
    for module in (handlers, account, admin):
        app.router.add_routes(module.routes)
    async with TestClient(TestServer(app)) as client:
        yield Identity(client, pool)
    await pool.close()


def _user(user_id: uuid.UUID, *memberships: tuple[uuid.UUID, str]) -> dict[str, Any]:
    return {"sub": str(user_id), "session_id": str(uuid.uuid4()), "address": "198.51.100.9",
            "memberships": [{"organisation_id": str(o), "organisation_type": "local_authority", "role": r}
                            for o, r in memberships]}


# ---- finding 5: the same-answer design ---------------------------------------------------------------------------


async def test_resend_answers_the_same_for_a_right_and_a_wrong_password(identity: Identity) -> None:
    la = await identity.organisation()
    await identity.person("right@example.test", memberships=((la, "social_worker"),))
    right = await identity.sign_in("right@example.test", PASSWORD, "203.0.113.1")
    wrong = await identity.sign_in("right@example.test", "not the password at all", "203.0.113.2")
    answers = {}
    for name, attempt in (("right", right), ("wrong", wrong)):
        answers[name] = [(await identity.call("/sign-in/resend", {"attempt_id": attempt,
                                                                  "client_address": f"203.0.113.{n}"}))[0]
                         for n in range(10, 17)]
    # Before the fix: the fifth resend of a right password's attempt answered 429, a wrong one's always 202.
    assert answers["right"] == answers["wrong"] == [202] * 7


async def test_a_wrong_code_locks_and_expires_alike_whether_the_password_was_right(identity: Identity) -> None:
    la = await identity.organisation()
    await identity.person("codes@example.test", memberships=((la, "social_worker"),))
    right = await identity.sign_in("codes@example.test", PASSWORD, "203.0.113.3")
    wrong = await identity.sign_in("codes@example.test", "not the password at all", "203.0.113.4")

    async def guesses(attempt: str) -> list[str]:
        return [(await identity.call("/sign-in/verify", {"attempt_id": attempt, "code": "0000 0000",
                                                         "client_address": "203.0.113.5"}))[1]["code"]
                for _ in range(7)]

    locked_right, locked_wrong = await guesses(right), await guesses(wrong)
    assert locked_right == locked_wrong, (locked_right, locked_wrong)  # was: code_locked only for the right one
    assert locked_right[-1] == "code_locked"

    right = await identity.sign_in("codes@example.test", PASSWORD, "203.0.113.3")
    wrong = await identity.sign_in("codes@example.test", "not the password at all", "203.0.113.4")
    await identity.pool.execute("UPDATE sign_in_attempts SET code_expires_at = now() - interval '1 second' "
                                "WHERE id = ANY($1::uuid[])", [right, wrong])
    expired = [(await identity.call("/sign-in/verify", {"attempt_id": a, "code": "0000 0000"}))[1]["code"]
               for a in (right, wrong)]
    assert expired == ["code_expired", "code_expired"], expired  # was: code_invalid for the wrong password


async def test_a_reset_code_for_an_unknown_address_expires_like_a_real_one(identity: Identity) -> None:
    la = await identity.organisation()
    await identity.person("reset@example.test", memberships=((la, "social_worker"),))
    real = (await identity.call("/auth/password-reset", {"email": "reset@example.test"}))[1]["attempt_id"]
    nobody = (await identity.call("/auth/password-reset", {"email": "nobody@example.test"}))[1]["attempt_id"]
    await identity.pool.execute("UPDATE email_codes SET code_expires_at = now() - interval '1 second' "
                                "WHERE id = ANY($1::uuid[])", [real, nobody])
    answers = [(await identity.call("/auth/password-reset/complete", {
        "attempt_id": a, "code": "0000 0000", "new_password": "a long enough new password"}))[1]["code"]
        for a in (real, nobody)]
    assert answers == ["code_expired", "code_expired"], answers  # was: the unknown address's stayed code_invalid


async def test_the_password_rules_do_not_name_the_account_before_the_code(identity: Identity) -> None:
    la = await identity.organisation()
    await identity.person("zebedee@example.test", given="Zebedee", memberships=((la, "social_worker"),))
    real = (await identity.call("/auth/password-reset", {"email": "zebedee@example.test"}))[1]["attempt_id"]
    nobody = (await identity.call("/auth/password-reset", {"email": "someone@example.test"}))[1]["attempt_id"]
    answers = [await identity.call("/auth/password-reset/complete", {
        "attempt_id": a, "code": "0000 0000", "new_password": "zebedee rides a bicycle"}) for a in (real, nobody)]
    # Before the fix the real account answered 422 "must not contain your name": the account and its name, found.
    assert [(s, b["code"]) for s, b in answers] == [(400, "code_invalid"), (400, "code_invalid")], answers


# ---- finding 7: one LA's admin and another LA's staff -------------------------------------------------------------


async def test_one_las_admin_cannot_undo_another_las_deactivation_or_end_a_shared_persons_sessions(
        identity: Identity) -> None:
    la_a, la_b = await identity.organisation(), await identity.organisation()
    admin_a = await identity.person("admin.a@example.test", memberships=((la_a, "vs_admin"),))
    admin_b = await identity.person("admin.b@example.test", memberships=((la_b, "vs_admin"),))
    shared = await identity.person("shared@example.test", memberships=((la_a, "social_worker"),
                                                                      (la_b, "social_worker")))
    token = await identity.session(shared)
    as_a, as_b = _user(admin_a, (la_a, "vs_admin")), _user(admin_b, (la_b, "vs_admin"))

    # LA B lets the person go: their work for B ends at once, their work for A goes on.
    assert (await identity.call(f"/users/{shared}/deactivate", claims=as_b))[0] == 204
    status, resolved = await identity.call("/sessions/resolve", {"session_token": token})
    assert status == 200 and [m["organisation_id"] for m in resolved["memberships"]] == [str(la_a)]

    # LA A reactivates "the account": before the fix this cleared the global flag and put them back in LA B.
    assert (await identity.call(f"/users/{shared}/reactivate", claims=as_a))[0] == 204
    status, resolved = await identity.call("/sessions/resolve", {"session_token": token})
    assert status == 200 and [m["organisation_id"] for m in resolved["memberships"]] == [str(la_a)]
    assert await identity.pool.fetchval("SELECT disabled_at IS NOT NULL FROM memberships WHERE user_id = $1 "
                                        "AND organisation_id = $2", shared, la_b)

    # Ending every session is a whole-account action: not for A while the person also works for B.
    status, problem = await identity.call(f"/users/{shared}/sessions/revoke-all", claims=as_a)
    assert (status, problem["code"]) == (403, "works_elsewhere")
    assert (await identity.call("/sessions/resolve", {"session_token": token}))[0] == 200
    # B still sees them among its people, as deactivated; A as active.
    status, people_b = await identity.call(f"/organisations/{la_b}/users", claims=as_b, method="GET")
    assert status == 200 and [p["deactivated"] for p in people_b if p["user_id"] == str(shared)] == [True]
    status, people_a = await identity.call(f"/organisations/{la_a}/users", claims=as_a, method="GET")
    assert [p["deactivated"] for p in people_a if p["user_id"] == str(shared)] == [False]


async def test_with_no_active_membership_left_a_person_cannot_sign_in_and_their_sessions_end(
        identity: Identity) -> None:
    la = await identity.organisation()
    admin_id = await identity.person("admin.c@example.test", memberships=((la, "vs_admin"),))
    leaver = await identity.person("leaver@example.test", memberships=((la, "social_worker"),))
    token = await identity.session(leaver)
    assert (await identity.call(f"/users/{leaver}/deactivate", claims=_user(admin_id, (la, "vs_admin"))))[0] == 204
    assert (await identity.call("/sessions/resolve", {"session_token": token}))[0] == 401
    attempt = await identity.sign_in("leaver@example.test", PASSWORD, "203.0.113.7")
    assert await identity.pool.fetchval("SELECT user_id FROM sign_in_attempts WHERE id = $1", uuid.UUID(attempt)) \
        is None  # no code is sent: the password alone is not enough


# ---- finding 9: the current password's throttle, and staff access by default ---------------------------------


@pytest.mark.parametrize(("path", "field"), [("/me/password", "current_password"), ("/me/email", "password")])
async def test_guessing_the_current_password_is_throttled(identity: Identity, path: str, field: str) -> None:
    la = await identity.organisation()
    me = await identity.person(f"{uuid.uuid4().hex[:8]}@example.test", memberships=((la, "social_worker"),))
    body = {field: "a wrong guess", "new_password": "another long password", "new_email": "new@example.test"}
    statuses = [(await identity.call(path, body, claims=_user(me, (la, "social_worker"))))[0] for _ in range(55)]
    # Before the fix: 422 every time, as fast as anyone could ask.
    assert statuses[:50] == [422] * 50 and statuses[-1] == 429, statuses


async def test_new_setting_staff_and_a_replaced_dt_see_nothing_until_granted(identity: Identity) -> None:
    la = await identity.organisation()
    school = await identity.organisation("setting", la)
    newcomer = await identity.person("new.staff@example.test", memberships=((school, "setting_staff"),))
    old_dt = await identity.person("old.dt@example.test")
    new_dt = await identity.person("new.dt@example.test")
    async with identity.pool.acquire() as conn:
        await nominate(conn, school, old_dt, None)
        await nominate(conn, school, new_dt, None)  # the old DT stays on as staff
    for person in (newcomer, old_dt):
        status, resolved = await identity.call("/sessions/resolve", {"session_token": await identity.session(person)})
        staff = [m for m in resolved["memberships"] if m["role"] == "setting_staff"]
        # Before the fix: no "children" at all, which pep reads as every child at the setting.
        assert status == 200 and [(m["children"], m["sections"]) for m in staff] == [([], [])], resolved
    # What the DT grants is what they see; a grant of everything (null) still means everything.
    await identity.pool.execute("INSERT INTO staff_access (setting_id, user_id) VALUES ($1, $2)", school, newcomer)
    resolved = (await identity.call("/sessions/resolve", {"session_token": await identity.session(newcomer)}))[1]
    assert [(m.get("children"), m.get("sections")) for m in resolved["memberships"]] == [(None, None)]
