"""The OpenAPI 3.1 document, generated from the operation catalogue: every operation with its path and query
parameters, request and response schemas, errors as RFC 9457 problem documents, and the session cookie."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from shared.api.operations import Operation, ProblemDocument, catalogue

REF = "#/components/schemas/{model}"


def _parameters(op: Operation) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for name, kind in op.parameters.items():
        found.append({"name": name, "in": "path", "required": True,
                      "schema": TypeAdapter(kind).json_schema(ref_template=REF)})
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template=REF, by_alias=True)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            entry: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
            description = prop.pop("description", None)
            prop.pop("title", None)
            if description:
                entry["description"] = description
            entry["schema"] = prop
            found.append(entry)
    return found


def document() -> dict[str, Any]:
    ops = list(catalogue().values())
    models: list[tuple[type[BaseModel], Any]] = [(ProblemDocument, "serialization")]
    for op in ops:
        if op.body is not None:
            models.append((op.body, "validation"))
        if op.response is not None:
            models.append((op.response, "serialization"))
    refs, definitions = models_json_schema(list(dict.fromkeys(models)), ref_template=REF)
    schemas = definitions.get("$defs", {})

    def ref(model: type[BaseModel], mode: str) -> dict[str, Any]:
        return dict(refs[(model, mode)])  # type: ignore[index]

    problem = {"application/problem+json": {"schema": ref(ProblemDocument, "serialization")}}
    paths: dict[str, Any] = {}
    for op in ops:
        responses: dict[str, Any] = {}
        success: dict[str, Any] = {"description": HTTPStatus(op.status).phrase}
        if op.response is not None:
            schema = ref(op.response, "serialization")
            success["content"] = {"application/json": {"schema": {"type": "array", "items": schema}
                                                       if op.many else schema}}
        elif op.media is not None:
            binary = op.media not in ("application/json", "text/csv")
            success["content"] = {op.media: {"schema": {"type": "string", "format": "binary"} if binary else {}}}
        responses[str(op.status)] = success
        for status in sorted(set(op.errors) | ({401} if not op.public else set())):
            responses[str(status)] = {"description": HTTPStatus(status).phrase, "content": problem}
        entry: dict[str, Any] = {"operationId": op.id, "summary": op.summary, "tags": list(op.tags),
                                 "responses": responses}
        params = _parameters(op)
        if params:
            entry["parameters"] = params
        if op.body is not None:
            entry["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": ref(op.body, "validation")}}}
        elif op.body_media == "multipart/form-data":
            entry["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file", "kind"],
                "properties": {"file": {"type": "string", "format": "binary"}, "kind": {"type": "string"},
                               "pep_id": {"type": "string", "format": "uuid"}}}}}}
        entry["security"] = [] if op.public else [{"session": []}]
        paths.setdefault(op.public_path, {})[op.method] = entry
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
