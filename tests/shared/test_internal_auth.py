"""The gateway's signed internal tokens: short-lived, audience-bound, and their keys rotate without downtime."""

from __future__ import annotations

import time

import jwt
import pytest
from pydantic import SecretStr

from shared.errors import Problem
from shared.internal_auth import Claims, Membership, sign, verify

OLD, NEW = SecretStr("old-key-" + "o" * 32), SecretStr("new-key-" + "n" * 32)
CLAIMS = Claims(sub="user-1", memberships=[Membership(organisation_id="org", organisation_type="setting",
                                                      role="designated_teacher")])


def test_a_token_carries_the_claims_to_its_audience() -> None:
    assert verify(sign(CLAIMS, "pep", [OLD]), "pep", [OLD]) == CLAIMS


def test_a_token_for_one_service_is_refused_by_another() -> None:
    with pytest.raises(Problem):
        verify(sign(CLAIMS, "pep", [OLD]), "identity", [OLD])


def test_rotation_add_the_new_key_then_sign_with_it_then_drop_the_old() -> None:
    old_token = sign(CLAIMS, "pep", [OLD])
    assert verify(old_token, "pep", [OLD, NEW]) == CLAIMS  # step 1: new key added, old still signs
    new_token = sign(CLAIMS, "pep", [NEW, OLD])  # step 2: new key signs, old still verifies
    assert verify(new_token, "pep", [OLD, NEW]) == CLAIMS
    assert verify(old_token, "pep", [NEW, OLD]) == CLAIMS
    with pytest.raises(Problem):  # step 3: the old key is gone
        verify(old_token, "pep", [NEW])


def test_an_expired_or_forged_token_is_refused() -> None:
    expired = jwt.encode({**CLAIMS.model_dump(), "aud": "pep", "iat": int(time.time()) - 120,
                          "exp": int(time.time()) - 60}, OLD.get_secret_value(), algorithm="HS256",
                         headers={"kid": jwt.get_unverified_header(sign(CLAIMS, "pep", [OLD]))["kid"]})
    with pytest.raises(Problem):
        verify(expired, "pep", [OLD])
    forged = jwt.encode({**CLAIMS.model_dump(), "aud": "pep", "iat": int(time.time()), "exp": int(time.time()) + 60},
                        "attacker", algorithm="HS256")
    with pytest.raises(Problem):
        verify(forged, "pep", [OLD])
