"""Key rotation end to end, as an operator does it (deploy/README.md, "Secrets and their rotation"): the key
lists come from the environment, and through each of the three steps a running service keeps accepting what
the gateway signs, old and new, until the old key is removed. The same for the sign-in codes' HMAC keys."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from services.gateway.settings import GatewaySettings
from services.identity.domain import codes
from services.identity.settings import IdentitySettings
from shared.internal_auth import Claims, new_key_pair
from shared.service import ServiceSpec, create_app
from shared.settings import ServiceSettings
from shared.web import CLAIMS

(OLD, OLD_PUBLIC), (NEW, NEW_PUBLIC) = new_key_pair(), new_key_pair()
CLAIMS_ = Claims(sub="user-1")


def settings_from_env(monkeypatch: pytest.MonkeyPatch, public_keys: list[str]) -> ServiceSettings:
    monkeypatch.setenv("EPEP_INTERNAL_TRUSTED_KEYS", json.dumps({"gateway": public_keys}))
    return ServiceSettings(environment="test")


def _route(app: web.Application, path: str, handler: Any) -> None:
    app.router.add_get(path, handler)


async def who_am_i(request: web.Request) -> web.Response:
    return web.json_response({"sub": request[CLAIMS].sub})


async def status_of(client: TestClient, token: str) -> int:
    resp = await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    return resp.status


async def test_internal_token_keys_rotate_in_three_steps_without_a_refused_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def service_with(keys: list[str]) -> TestClient:
        spec = ServiceSpec(name="pep", migrations=None, uses_bus=False,
                           routes=lambda app: _route(app, "/whoami", who_am_i))
        client = TestClient(TestServer(create_app(spec, settings_from_env(monkeypatch, keys))))
        await client.start_server()
        return client

    def gateway_signs(private_keys: list[str]) -> str:
        monkeypatch.setenv("EPEP_INTERNAL_SIGNING_KEYS", json.dumps(private_keys))
        return GatewaySettings(environment="test").internal_signer().sign(CLAIMS_, "pep")

    before, step1, step2, step3 = [await service_with(k) for k in (
        [OLD_PUBLIC], [OLD_PUBLIC, NEW_PUBLIC], [NEW_PUBLIC, OLD_PUBLIC], [NEW_PUBLIC])]
    try:
        old_token, new_token = gateway_signs([OLD]), gateway_signs([NEW, OLD])
        assert await status_of(before, old_token) == 200
        # 1. Add the new public key at the end everywhere: what the gateway signs with the old key is accepted.
        assert await status_of(step1, old_token) == 200
        # 2. Give the gateway the new private key first: it signs with it; services that have both accept both.
        assert await status_of(step1, new_token) == 200 and await status_of(step2, new_token) == 200
        assert await status_of(step2, old_token) == 200
        # 3. Remove the old public key: only what the new key signed is accepted.
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
