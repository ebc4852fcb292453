"""Key rotation end to end, as an operator does it (deploy/README.md, "Secrets and their rotation"): the key
lists come from the environment, and through each of the three steps a running service keeps accepting what
the gateway signs, old and new, until the old key is removed. The same for the sign-in codes' HMAC keys."""

from __future__ import annotations

import json
import uuid

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from services.identity.domain import codes
from services.identity.settings import IdentitySettings
from shared.internal_auth import Claims, sign
from shared.service import ServiceSpec, create_app
from shared.settings import ServiceSettings
from shared.web import CLAIMS

OLD, NEW = "old-internal-key-" + "o" * 32, "new-internal-key-" + "n" * 32
CLAIMS_ = Claims(sub="user-1")


def settings_from_env(monkeypatch: pytest.MonkeyPatch, keys: list[str]) -> ServiceSettings:
    monkeypatch.setenv("EPEP_INTERNAL_TOKEN_KEYS", json.dumps(keys))
    return ServiceSettings(environment="test")


async def who_am_i(request: web.Request) -> web.Response:
    return web.json_response({"sub": request[CLAIMS].sub})


async def status_of(client: TestClient, token: str) -> int:
    resp = await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    return resp.status


async def test_internal_token_keys_rotate_in_three_steps_without_a_refused_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def service_with(keys: list[str]) -> TestClient:
        spec = ServiceSpec(name="pep", migrations=None, uses_bus=False,
                           routes=lambda app: app.router.add_get("/whoami", who_am_i) and None)
        client = TestClient(TestServer(create_app(spec, settings_from_env(monkeypatch, keys))))
        await client.start_server()
        return client

    def gateway_signs(keys: list[str]) -> str:
        return sign(CLAIMS_, "pep", [SecretStr(k) for k in keys])

    before, step1, step2, step3 = [await service_with(k) for k in ([OLD], [OLD, NEW], [NEW, OLD], [NEW])]
    try:
        old_token, new_token = gateway_signs([OLD]), gateway_signs([NEW, OLD])
        assert await status_of(before, old_token) == 200
        # 1. Add the new key at the end everywhere: what the gateway signs with the old key is still accepted.
        assert await status_of(step1, old_token) == 200
        # 2. Promote it: the gateway signs with the new key; services that have it accept both.
        assert await status_of(step1, new_token) == 200 and await status_of(step2, new_token) == 200
        assert await status_of(step2, old_token) == 200
        # 3. Remove the old key: only what the new key signed is accepted.
        assert await status_of(step3, new_token) == 200
        assert await status_of(step3, old_token) == 401
        assert await status_of(before, new_token) == 401  # why step 1 comes first
    finally:
        for client in (before, step1, step2, step3):
            await client.close()


def test_code_hmac_keys_from_the_environment_rotate_too(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = "k1:old-code-secret-0123456789", "k2:new-code-secret-0123456789"
    attempt = uuid.uuid4()

    def keys(listed: list[str]) -> list[SecretStr]:
        monkeypatch.setenv("EPEP_CODE_HMAC_KEYS", json.dumps(listed))
        return IdentitySettings(environment="test").code_hmac_keys

    kid, digest = codes.digest(keys([old]), attempt, "12345678")  # a code sent before the rotation
    assert kid == "k1"
    assert codes.matches(keys([old, new]), attempt, "12345678", kid, digest)  # 1. added
    new_kid, new_digest = codes.digest(keys([new, old]), attempt, "87654321")  # 2. promoted: signs new codes
    assert new_kid == "k2"
    assert codes.matches(keys([new, old]), attempt, "12345678", kid, digest)  # the old code still works
    assert codes.matches(keys([new]), attempt, "87654321", new_kid, new_digest)  # 3. removed
    assert not codes.matches(keys([new]), attempt, "12345678", kid, digest)
