"""The OpenAPI 3.1 document, generated from the pydantic models each operation declares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from shared.errors import FieldError


class ProblemDocument(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str | None = None
    code: str | None = None
    errors: list[FieldError] | None = None
    request_id: str | None = None
    retry_after: int | None = None


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    request: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    authenticated: bool = True
    tags: list[str] = field(default_factory=list)
    many: bool = False  # the success response is a list of the model, not one


OPERATIONS: list[Operation] = []


def operation(op: Operation) -> Operation:
    OPERATIONS.append(op)
    return op


def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        responses: dict[str, Any] = {}
        for status, model in sorted(op.responses.items()):
            entry: dict[str, Any] = {"description": _status_text(status)}
            if model is not None:
                media = "application/problem+json" if model is ProblemDocument else "application/json"
                schema = {"type": "array", "items": ref(model)} if op.many and status < 300 else ref(model)
                entry["content"] = {media: {"schema": schema}}
            responses[str(status)] = entry
        body: dict[str, Any] = {"summary": op.summary, "operationId": f"{op.method}_{op.path}".replace("/", "_"),
                                "tags": op.tags, "responses": responses}
        if op.request is not None:
            body["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(op.request)}}}
        if op.authenticated:
            body["security"] = [{"session": []}]
        paths.setdefault(op.path, {})[op.method] = body
    return {
        "openapi": "3.1.0",
        "info": {"title": "ePEP API", "version": "1.0.0",
                 "description": "Personal Education Plans for children in care. Errors are RFC 9457 problem "
                                "documents; validation errors name each field."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "epep_session"}}},
    }


def _status_text(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase
