"""Internal tokens: short-lived, audience-bound, signed by each issuer's own private key and verified with public
keys only; a service speaks only for itself and passes a person's claims on by relaying the gateway's token."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from shared.errors import Problem
from shared.internal_auth import (
    Claims,
    Membership,
    Signer,
    Verifier,
    audience_for,
    development_private_key,
    development_public_key,
    development_trusted_keys,
    is_development_key,
    new_key_pair,
)
from shared.service import ServiceSpec, create_app
from shared.settings import ServiceSettings
from shared.web import CLAIMS as CLAIMS_KEY
from shared.web import REQUEST_ID, ServiceClient, client_session

(OLD, OLD_PUBLIC), (NEW, NEW_PUBLIC) = new_key_pair(), new_key_pair()
CLAIMS = Claims(sub="user-1", memberships=[Membership(organisation_id="org", organisation_type="setting",
                                                      role="designated_teacher")])


def gateway(*keys: str) -> Signer:
    return Signer("gateway", [SecretStr(k) for k in keys])


def trusting(*keys: str) -> Verifier:
    return Verifier({"gateway": list(keys)})


def same(a: Claims, b: Claims) -> bool:
    return a.model_dump() == b.model_dump()


def test_a_token_carries_the_claims_to_its_audience() -> None:
    assert same(trusting(OLD_PUBLIC).verify(gateway(OLD).sign(CLAIMS, "pep"), "pep"), CLAIMS)


def test_a_token_for_one_service_is_refused_by_another() -> None:
    with pytest.raises(Problem):
        trusting(OLD_PUBLIC).verify(gateway(OLD).sign(CLAIMS, "pep"), "identity")


def test_rotation_add_the_new_public_key_then_sign_with_the_new_then_drop_the_old() -> None:
    old_token = gateway(OLD).sign(CLAIMS, "pep")
    assert same(trusting(OLD_PUBLIC, NEW_PUBLIC).verify(old_token, "pep"), CLAIMS)  # 1. new public key added
    new_token = gateway(NEW, OLD).sign(CLAIMS, "pep")  # 2. the new private key signs
    assert same(trusting(OLD_PUBLIC, NEW_PUBLIC).verify(new_token, "pep"), CLAIMS)
    with pytest.raises(Problem):  # 3. the old public key is gone
        trusting(NEW_PUBLIC).verify(old_token, "pep")


def test_an_expired_or_forged_token_is_refused() -> None:
    key = gateway(OLD)._key
    now = int(time.time())
    expired = jwt.encode({**CLAIMS.model_dump(), "iss": "gateway", "aud": "pep", "iat": now - 120, "exp": now - 60},
                         key, algorithm="EdDSA", headers={"kid": gateway(OLD)._kid})
    with pytest.raises(Problem):
        trusting(OLD_PUBLIC).verify(expired, "pep")
    other, _ = new_key_pair()  # signed by a key nobody trusts, with a trusted key's id
    forged = jwt.encode({**CLAIMS.model_dump(), "iss": "gateway", "aud": "pep", "iat": now, "exp": now + 60},
                        gateway(other)._key, algorithm="EdDSA", headers={"kid": gateway(OLD)._kid})
    with pytest.raises(Problem):
        trusting(OLD_PUBLIC).verify(forged, "pep")


def test_a_service_signs_only_as_itself() -> None:
    qa = Signer("qa", [SecretStr(OLD)])
    with pytest.raises(ValueError, match="service:qa"):
        qa.sign(CLAIMS, "pep")
    token = qa.sign(Claims(sub="service:qa"), "pep")
    assert Verifier({"qa": [OLD_PUBLIC]}).verify(token, "pep").sub == "service:qa"
    with pytest.raises(Problem):  # the gateway's keys do not vouch for qa, nor qa's for the gateway
        Verifier({"gateway": [OLD_PUBLIC]}).verify(token, "pep")


def test_claims_say_which_service_signed_them() -> None:
    """pep takes a QA decision from qa alone: service:qa in a token qa signed, not the same words from the gateway."""
    qa = Verifier({"qa": [OLD_PUBLIC], "gateway": [NEW_PUBLIC]}).verify(
        Signer("qa", [SecretStr(OLD)]).sign(Claims(sub="service:qa"), "pep"), "pep")
    assert qa.is_from("qa") and not qa.is_from("delegation")
    said_by_gateway = Verifier({"gateway": [NEW_PUBLIC]}).verify(gateway(NEW).sign(Claims(sub="service:qa"), "pep"),
                                                                  "pep")
    assert said_by_gateway.sub == "service:qa" and not said_by_gateway.is_from("qa")
    assert not Claims(sub="service:qa").is_from("qa")  # made, not verified
    person = trusting(OLD_PUBLIC).verify(gateway(OLD).sign(CLAIMS, "pep"), "pep")
    assert not person.is_from("qa") and not person.is_from("gateway")


def test_only_a_persons_token_from_the_gateway_may_be_relayed() -> None:
    assert audience_for("gateway", "qa", CLAIMS) == ["qa", "pep"]
    assert audience_for("gateway", "notify", CLAIMS) == "notify"
    assert audience_for("gateway", "qa", Claims(sub="service:gateway")) == "qa"
    assert audience_for("qa", "pep", Claims(sub="service:qa")) == "pep"


def test_keys_are_ed25519_and_the_development_ones_are_known() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        Signer("gateway", [SecretStr("c2hvcnQ=")])
    with pytest.raises(ValueError, match="32-byte"):
        Verifier({"gateway": ["a-long-shared-secret-is-not-a-public-key-at-all"]})
    assert is_development_key(development_private_key("gateway"))
    assert is_development_key(development_public_key("notify"))
    assert not is_development_key(OLD) and not is_development_key(OLD_PUBLIC)


def test_in_development_a_service_trusts_the_gateway_and_the_services_that_call_it() -> None:
    assert set(development_trusted_keys("pep")) == {"gateway", "qa", "delegation"}
    assert set(development_trusted_keys("notify")) == set(development_trusted_keys("identity")) == {"gateway"}


# ---- relaying: qa asks pep with the person's own claims ---------------------------------------------------


def _route(app: web.Application, path: str, handler: Any) -> None:
    app.router.add_get(path, handler)


async def _pep_says(request: web.Request) -> web.Response:
    claims = request[CLAIMS_KEY]
    return web.json_response({"sub": claims.sub, "roles": [m.role for m in claims.memberships]})


async def _qa_asks_pep(request: web.Request) -> web.Response:
    """What qa does: call pep with the claims its own middleware took from the gateway's token."""
    client = request.app[PEP_CLIENT]
    answer = await client.call("GET", "/children", request[CLAIMS_KEY], request_id=request[REQUEST_ID])
    return web.json_response(answer)


PEP_CLIENT = web.AppKey("pep_client", ServiceClient)


@pytest.fixture
async def pep_and_qa() -> AsyncIterator[tuple[TestClient, TestClient]]:
    settings = ServiceSettings(environment="test")  # the development keys: the gateway, qa and delegation
    pep_spec = ServiceSpec(name="pep", migrations=None, uses_bus=False,
                           routes=lambda app: _route(app, "/children", _pep_says))
    pep = TestClient(TestServer(create_app(pep_spec, settings)))
    await pep.start_server()
    session = client_session()

    def qa_routes(app: web.Application) -> None:
        app.router.add_get("/ask", _qa_asks_pep)
        app[PEP_CLIENT] = ServiceClient("pep", str(pep.make_url("")), qa_signer, session)

    qa_signer = Signer("qa", [SecretStr(development_private_key("qa"))])
    qa = TestClient(TestServer(create_app(ServiceSpec(name="qa", migrations=None, uses_bus=False,
                                                      routes=qa_routes), settings)))
    await qa.start_server()
    yield pep, qa
    await qa.close()
    await pep.close()
    await session.close()


async def test_qa_relays_the_gateways_token_to_pep(pep_and_qa: tuple[TestClient, TestClient]) -> None:
    pep, qa = pep_and_qa
    the_gateway = gateway(development_private_key("gateway"))
    token = the_gateway.sign(CLAIMS, audience_for("gateway", "qa", CLAIMS))
    resp = await qa.get("/ask", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200 and await resp.json() == {"sub": "user-1", "roles": ["designated_teacher"]}
    # A token the gateway signed for qa alone cannot be passed on, and qa cannot sign one for the person.
    only_qa = the_gateway.sign(CLAIMS, "qa")
    assert (await qa.get("/ask", headers={"Authorization": f"Bearer {only_qa}"})).status == 500
    assert (await pep.get("/children", headers={"Authorization": f"Bearer {only_qa}"})).status == 401
