"""The operation catalogue is the one contract: the gateway routes exactly it, each owning service serves each of
its operations at the declared path, the OpenAPI document made from it is valid, and a path parameter can never
carry a `/`, `?` or `..` out of its segment."""

from __future__ import annotations

import importlib
import re
import uuid

import pytest
from aiohttp import web
from openapi_spec_validator import validate

from services.gateway.openapi import document
from shared.api.operations import PATH_PARAMETERS, SERVICES, InvalidParameter, Operation, catalogue

OPERATIONS = catalogue()
SERVICE_NAMES = [s for s in SERVICES if s != "gateway"]


def _routes(service: str) -> dict[tuple[str, str], object]:
    spec = importlib.import_module(f"services.{service}.app").SPEC
    app = web.Application()
    spec.routes(app)
    found = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        template = info.get("formatter") or info.get("path")
        if template:
            found[(route.method.lower(), template)] = route.handler
    return found


def test_every_operation_has_a_readable_unique_id_and_typed_parameters() -> None:
    assert len(OPERATIONS) >= 120
    for op_id, op in OPERATIONS.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]+", op_id), op_id
        assert set(re.findall(r"\{([a-z_]+)\}", op.path)) == set(op.parameters), op_id
        assert all(name in PATH_PARAMETERS for name in op.parameters)
        assert op.summary and op.tags, op_id
    routes = [(op.method, op.path) for op in OPERATIONS.values()]
    assert len(routes) == len(set(routes))


def test_the_openapi_document_is_valid_and_declares_every_parameter() -> None:
    doc = document()
    validate(doc)  # openapi-spec-validator: raises on any error
    ids = [entry["operationId"] for methods in doc["paths"].values() for entry in methods.values()]
    assert sorted(ids) == sorted(OPERATIONS)
    section = doc["paths"]["/api/v1/peps/{pep_id}/sections/{key}"]["get"]
    assert {(p["name"], p["in"], p["required"]) for p in section["parameters"]} == {
        ("pep_id", "path", True), ("key", "path", True)}
    tray = doc["paths"]["/api/v1/tasks"]["get"]
    assert {p["name"] for p in tray["parameters"] if p["in"] == "query"} >= {"tray", "sort"}
    assert tray["security"] == [{"session": []}]
    assert doc["paths"]["/api/v1/auth/sign-in"]["post"]["security"] == []
    problem = section["responses"]["404"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/ProblemDocument"}


def test_the_gateway_routes_exactly_the_catalogue() -> None:
    from services.gateway.app import SPEC

    app = web.Application()
    assert SPEC.routes is not None
    SPEC.routes(app)
    routed = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        routed.add((route.method.lower(), info.get("formatter") or info.get("path")))
    declared = {(op.method, op.public_path) for op in OPERATIONS.values()}
    assert routed - {("head", path) for _, path in routed} == declared


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_operation_is_served_by_its_owning_service_at_its_path(service: str) -> None:
    """...through the operation itself (`shared.web.serves`): what the handler returns is validated against the
    operation's response model and serialised from it, so the route answers what the catalogue declares."""
    served = _routes(service)
    missing = [op.id for op in OPERATIONS.values()
               if op.service == service and (op.method, op.service_path) not in served]
    assert missing == []
    not_through_the_operation = [op.id for op in OPERATIONS.values() if op.service == service
                                 and getattr(served[(op.method, op.service_path)], "operation", None) is not op]
    assert not_through_the_operation == []


@pytest.mark.parametrize("value", ["..", "../metrics", "a/b", "x?y=1", "%2F", "..%2Fchildren", "", " ",
                                   f"{uuid.uuid4()}/..", f"{uuid.uuid4()}?", "../../" + str(uuid.uuid4())])
def test_a_path_parameter_that_is_not_of_its_type_is_refused(value: str) -> None:
    section: Operation = OPERATIONS["get_section"]
    with pytest.raises(InvalidParameter):
        section.bind(pep_id=value, key="attainment")
    with pytest.raises(InvalidParameter):
        section.bind(pep_id=uuid.uuid4(), key=value)


def test_a_path_parameter_stays_inside_its_segment_when_quoted() -> None:
    section = OPERATIONS["get_section"]
    pep_id = uuid.uuid4()
    assert section.bind(pep_id=pep_id, key="attainment") == f"/peps/{pep_id}/sections/attainment"
    # The quoting itself: a template of our own whose parameter is a free string keeps every character inside.
    assert section.bind("/x/{key}", pep_id=pep_id, key="a-b_c") == "/x/a-b_c"
    with pytest.raises(TypeError):
        section.bind(pep_id=pep_id, key="attainment", child_id=uuid.uuid4())
