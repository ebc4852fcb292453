"""Issue 23, finding 3: one key must not let any service be anyone. The attacks, against a service's own
middleware (the one pep runs) with the settings it starts with: a token a compromised service can make claiming a
Virtual School admin of some LA is refused, whoever signed it but the gateway; so is a token naming no issuer, and
an HS256 token made with the shared secret every service used to hold."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.service import ServiceSpec, create_app
from shared.settings import ServiceSettings
from shared.web import CLAIMS

# What every service held before: the gateway's HS256 key, shared with all five services.
OLD_SHARED_SECRET = "dev-internal-token-key-not-for-production-use-0001"
VS_ADMIN = {"sub": "00000000-0000-0000-0000-00000000a11a", "session_id": None, "address": None,
            "memberships": [{"organisation_id": "00000000-0000-0000-0000-0000000000a1",
                             "organisation_type": "local_authority", "role": "vs_admin"}]}


def _key_of(issuer: str) -> Ed25519PrivateKey:
    """A development key as shared/internal_auth.py derives it: what a running development qa signs with."""
    label = b"epep internal token development key, public, never for production: "
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label + issuer.encode()).digest())


def _kid(key: Ed25519PrivateKey) -> str:
    return hashlib.sha256(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def _payload(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {**VS_ADMIN, "aud": "pep", "iat": now, "exp": now + 60, **extra}


def _route(app: web.Application, path: str, handler: Any) -> None:
    app.router.add_get(path, handler)


async def _who(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    return web.json_response({"sub": claims.sub, "roles": [m.role for m in claims.memberships]})


@pytest.fixture
async def pep() -> AsyncIterator[TestClient]:
    spec = ServiceSpec(name="pep", migrations=None, uses_bus=False,
                       routes=lambda app: _route(app, "/children", _who))
    client = TestClient(TestServer(create_app(spec, ServiceSettings(environment="test"))))
    await client.start_server()
    yield client
    await client.close()


async def _status(client: TestClient, token: str) -> int:
    return (await client.get("/children", headers={"Authorization": f"Bearer {token}"})).status


async def test_an_hs256_token_made_with_the_old_shared_secret_is_refused(pep: TestClient) -> None:
    kid = hashlib.sha256(OLD_SHARED_SECRET.encode()).hexdigest()[:12]
    for payload in (_payload(), _payload(iss="gateway")):
        token = jwt.encode(payload, OLD_SHARED_SECRET, algorithm="HS256", headers={"kid": kid})
        assert await _status(pep, token) == 401


async def test_a_token_from_notify_claiming_a_vs_admin_is_refused(pep: TestClient) -> None:
    notify = Ed25519PrivateKey.generate()  # notify's own key: no service trusts it to speak for anyone
    for issuer in ("notify", "gateway"):
        token = jwt.encode(_payload(iss=issuer), notify, algorithm="EdDSA", headers={"kid": _kid(notify)})
        assert await _status(pep, token) == 401


async def test_a_trusted_service_may_speak_only_for_itself(pep: TestClient) -> None:
    qa = _key_of("qa")  # pep trusts qa's key, but only for qa itself
    as_admin = jwt.encode(_payload(iss="qa"), qa, algorithm="EdDSA", headers={"kid": _kid(qa)})
    assert await _status(pep, as_admin) == 401
    as_gateway = jwt.encode(_payload(iss="qa", sub="service:gateway", memberships=[]), qa, algorithm="EdDSA",
                            headers={"kid": _kid(qa)})
    assert await _status(pep, as_gateway) == 401
    as_itself = jwt.encode(_payload(iss="qa", sub="service:qa", memberships=[]), qa, algorithm="EdDSA",
                           headers={"kid": _kid(qa)})
    assert await _status(pep, as_itself) == 200


async def test_a_token_without_an_issuer_is_refused(pep: TestClient) -> None:
    gateway = _key_of("gateway")
    token = jwt.encode(_payload(), gateway, algorithm="EdDSA", headers={"kid": _kid(gateway)})
    assert await _status(pep, token) == 401
    signed = jwt.encode(_payload(iss="gateway"), gateway, algorithm="EdDSA", headers={"kid": _kid(gateway)})
    resp = await pep.get("/children", headers={"Authorization": f"Bearer {signed}"})
    assert resp.status == 200 and (await resp.json())["roles"] == ["vs_admin"]  # the gateway's own is taken


def test_the_development_keys_are_the_derived_ones() -> None:
    """The derivation above is the one shared/internal_auth.py uses, so the attacks above use real keys."""
    from shared import internal_auth
    assert internal_auth.development_public_key("qa") == base64.b64encode(
        _key_of("qa").public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
