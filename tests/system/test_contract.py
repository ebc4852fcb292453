"""The public API as a stranger meets it: a client generated from the gateway's own OpenAPI document signs in and
reads a PEP, and a path parameter carrying an encoded `/`, `?` or `..` goes nowhere but a 404."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from shared import demo
from tests.conftest import RunningSystem

JORDAN = str(demo.CHILDREN[0]["id"])
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def caseworker(system: RunningSystem) -> str:
    return system.sign_in("caseworker@demo.test")


def _get(system: RunningSystem, raw_path: str, cookie: str) -> tuple[int, str, bytes]:
    """A GET with the path sent exactly as written (urllib neither decodes nor normalises it)."""
    req = urllib.request.Request(system.gateway_url + raw_path, headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers.get_content_type(), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get_content_type(), exc.read()


@pytest.mark.parametrize("attack", [
    # encoded / : the file route's id climbs to the child's record (it used to answer the child's profile)
    "/api/v1/attachments/..%2Fchildren%2F{child}%3F/content",
    "/api/v1/attachments/..%2F..%2Fmetrics%3F/content",
    "/api/v1/children/{child}%2F..%2F..%2Fmetrics",
    "/api/v1/peps/{child}/sections/..%2F..%2F..%2Fmetrics",
    # encoded ? : the rest of the path becomes a query the service never meant to take
    "/api/v1/children/{child}%3Fx%3D1/peps",
    "/api/v1/peps/{child}/sections/attainment%3Fa%3Db",
    # .. as a whole parameter, plain and encoded
    "/api/v1/children/%2E%2E/peps",
    "/api/v1/peps/{child}/sections/%2E%2E",
    "/api/v1/children/../metrics",
    # routes the catalogue does not hold, internal or made up
    "/api/v1/metrics",
    "/api/v1/sessions/resolve",
    "/api/v1/children/{child}/subject-access/../../metrics",
])
def test_an_encoded_separator_in_a_path_parameter_reaches_nothing(system: RunningSystem, caseworker: str,
                                                                   attack: str) -> None:
    status, media, body = _get(system, attack.format(child=JORDAN), caseworker)
    assert status == 404, (attack, body[:200])
    assert media == "application/problem+json"
    assert JORDAN.encode() not in body and b"# HELP" not in body


def test_the_same_operation_with_a_plain_parameter_works(system: RunningSystem, caseworker: str) -> None:
    """The 404s above are the parameters', not the routes': the same routes answer with good values."""
    status, media, body = _get(system, f"/api/v1/children/{JORDAN}/peps", caseworker)
    assert (status, media) == (200, "application/json"), body[:200]


def _generated_client(system: RunningSystem, where: Path) -> Any:
    with urllib.request.urlopen(system.gateway_url + "/api/v1/openapi.json", timeout=30) as resp:
        spec = resp.read()
    import json

    validate(json.loads(spec))
    (where / "openapi.json").write_bytes(spec)
    (where / "config.yaml").write_text("package_name_override: epep_client\nproject_name_override: epep-client\n"
                                       "post_hooks: []\n")
    subprocess.run([str(VENV_BIN / "openapi-python-client"), "generate", "--path", str(where / "openapi.json"),
                    "--config", str(where / "config.yaml"), "--output-path", str(where / "epep_client"),
                    "--meta", "none", "--overwrite"], check=True, capture_output=True, timeout=300)
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module("epep_client")
    finally:
        sys.path.remove(str(where))


def test_a_client_generated_from_the_openapi_document_signs_in_and_reads_a_pep(system: RunningSystem,
                                                                               caseworker: str,
                                                                               tmp_path: Path) -> None:
    client_package = _generated_client(system, tmp_path)
    from epep_client.api.auth import get_me, sign_in, verify_sign_in  # type: ignore[import-not-found]
    from epep_client.api.peps import get_pep, list_child_peps, start_pep  # type: ignore[import-not-found]
    from epep_client.models import SignIn, VerifyCode  # type: ignore[import-not-found]

    client = client_package.Client(base_url=system.gateway_url)
    since = time.time()
    started = sign_in.sync(client=client, body=SignIn(email="caseworker@demo.test", password="demo-pass-2026"))
    code = system.mailbox.wait_for_code("caseworker@demo.test", since)
    signed_in = verify_sign_in.sync(client=client, body=VerifyCode(attempt_id=started.attempt_id, code=code))
    assert signed_in.user_id is not None
    me = get_me.sync(client=client)
    assert me.email == "caseworker@demo.test"

    peps = list_child_peps.sync(child_id=JORDAN, client=client)
    assert isinstance(peps, list)
    if not peps:  # a PEP to read, made through the API as a caseworker would
        status, _, _ = system.api("POST", f"/api/v1/children/{JORDAN}/peps", {
            "kind": "termly_review", "term": "spring", "academic_year": "2026/27"}, cookie=caseworker)
        assert status in (201, 409)
        peps = list_child_peps.sync(child_id=JORDAN, client=client)
    pep = get_pep.sync(pep_id=peps[0].id, client=client)
    assert str(pep.id) == str(peps[0].id)
    assert pep.sections, "a PEP read through the generated client has its sections"
    assert start_pep is not None  # every operation is there, not only the ones used here
