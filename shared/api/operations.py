"""The operation catalogue: every operation of the public API, declared once.

An `Operation` says what the gateway, the owning service and the portal all need to agree on: the method, the
path template and the type of each of its parameters, the query, body and response models, which service owns it
and whether it needs a session. The gateway routes and documents by it (and builds the upstream path from it,
never from the decoded request path), the services answer with its response model, and the portal calls it.

Each area's operations are declared beside its models (`shared/api/peps.py`, `children.py`...); `catalogue()`
imports them all. To add an operation: declare it there with `operation(...)`, then write its handler in the
owning service at the same path (see docs/api.md).
"""

from __future__ import annotations

import importlib
import re
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError

from shared.errors import FieldError

PREFIX = "/api/v1"

# A section's key ("attainment"), a default template's key ("school-age"): lower-case words, never a path.
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]

# Every path parameter's name, once, with its type: an operation whose template names another is refused when it
# is declared. A value that is not of its type names nothing, so it answers 404 like an unknown id.
PATH_PARAMETERS: dict[str, Any] = {
    "attachment_id": uuid.UUID,
    "child_id": uuid.UUID,
    "delivery_id": uuid.UUID,
    "invitation_id": uuid.UUID,
    "key": Key,
    "la_id": uuid.UUID,
    "org_id": uuid.UUID,
    "pep_id": uuid.UUID,
    "request_id": uuid.UUID,
    "session_id": uuid.UUID,
    "setting_id": uuid.UUID,
    "sibling_id": uuid.UUID,
    "task_id": uuid.UUID,
    "template_id": uuid.UUID,
    "user_id": uuid.UUID,
}
_ADAPTERS = {name: TypeAdapter(kind) for name, kind in PATH_PARAMETERS.items()}
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

SERVICES = ("identity", "pep", "delegation", "notify", "qa", "gateway")
# What a session-holding caller may be told besides success; public operations drop 401.
DEFAULT_ERRORS = (401, 404, 422)


class ProblemDocument(BaseModel):
    """RFC 9457 problem details: every error the API answers with."""

    type: str
    title: str
    status: int
    detail: str | None = None
    code: str | None = None
    errors: list[FieldError] | None = None
    request_id: str | None = None
    retry_after: int | None = None


class InvalidParameter(ValueError):
    """A path parameter that is not of its declared type."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass(frozen=True, eq=False)
class Operation:
    """One operation of the public API."""

    id: str  # the OpenAPI operationId and the portal's name for it: snake_case, unique
    method: str  # lower case
    path: str  # the template without /api/v1: "/peps/{pep_id}/sections/{key}"
    summary: str
    service: str  # which service owns it ("gateway": the gateway answers it itself)
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    many: bool = False  # the response is a list of `response`
    status: int = 200
    public: bool = False  # no session needed
    query: type[BaseModel] | None = None
    tags: tuple[str, ...] = ()
    errors: tuple[int, ...] = DEFAULT_ERRORS
    with_address: bool = False  # the gateway adds the browser's address to the body it passes on
    media: str | None = None  # a response that is not JSON: "application/pdf", "text/csv", "*/*"
    upstream: str | None = None  # the owning service's path, where it is not `path` (the views session calls)
    body_media: str = "application/json"
    parameters: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = _PLACEHOLDER.findall(self.path)
        unknown = [n for n in names if n not in PATH_PARAMETERS]
        if unknown:
            raise ValueError(f"{self.id}: path parameter(s) {unknown} have no type in PATH_PARAMETERS")
        if self.service not in SERVICES:
            raise ValueError(f"{self.id}: unknown service {self.service!r}")
        object.__setattr__(self, "parameters", {n: PATH_PARAMETERS[n] for n in names})

    @property
    def public_path(self) -> str:
        return PREFIX + self.path

    @property
    def service_path(self) -> str:
        """The route's template in the owning service."""
        return self.upstream or self.path

    @property
    def response_adapter(self) -> TypeAdapter[Any] | None:
        if self.response is None:
            return None
        return _response_adapter(self)

    def validate_parameters(self, raw: dict[str, str]) -> dict[str, Any]:
        """Each path parameter as its type; InvalidParameter names the first that is not."""
        values = {}
        for name in self.parameters:
            try:
                values[name] = _ADAPTERS[name].validate_python(raw[name])
            except (KeyError, ValidationError):
                raise InvalidParameter(name) from None
        return values

    def bind(self, path: str | None = None, **params: Any) -> str:
        """The path with each parameter validated and quoted whole (a `/`, `?`, `%` or `..` in a value stays
        inside it). `path` is the template to fill (default: the service's)."""
        template = path if path is not None else self.service_path
        values = self.validate_parameters({k: str(v) for k, v in params.items()})
        extra = set(params) - set(values)
        if extra:
            raise TypeError(f"{self.id} takes no path parameter(s) {sorted(extra)}")
        return _PLACEHOLDER.sub(lambda m: quote(str(values[m.group(1)]), safe=""), template)

    def target(self, query: dict[str, Any] | BaseModel | None = None, **params: Any) -> str:
        """The service path with its query string, from values (never from a request's raw path)."""
        path = self.bind(**params)
        encoded = encode_query(query)
        return f"{path}?{encoded}" if encoded else path


_RESPONSE_ADAPTERS: dict[int, TypeAdapter[Any]] = {}


def _response_adapter(op: Operation) -> TypeAdapter[Any]:
    found = _RESPONSE_ADAPTERS.get(id(op))
    if found is None:
        assert op.response is not None
        found = TypeAdapter(list[op.response]) if op.many else TypeAdapter(op.response)  # type: ignore[name-defined]
        _RESPONSE_ADAPTERS[id(op)] = found
    return found


def encode_query(query: dict[str, Any] | BaseModel | None) -> str:
    """A query string from a model (what was set, in JSON form) or a dict (None and "" left out)."""
    if query is None:
        return ""
    if isinstance(query, BaseModel):
        items = query.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True).items()
    else:
        items = query.items()
    pairs: list[tuple[str, str]] = []
    for name, value in items:
        for one in value if isinstance(value, list | tuple) else [value]:
            if one is None or one == "":
                continue
            pairs.append((name, _query_text(one)))
    return urlencode(pairs)


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return str(value)


_CATALOGUE: dict[str, Operation] = {}
_ROUTES: dict[tuple[str, str], Operation] = {}


def operation(id: str, method: str, path: str, summary: str, *, service: str, **options: Any) -> Operation:
    """Declare an operation (once: a second declaration of the same id or route is a mistake)."""
    op = Operation(id=id, method=method.lower(), path=path, summary=summary, service=service, **options)
    route = (op.method, op.path)
    if id in _CATALOGUE or route in _ROUTES:
        raise ValueError(f"operation {id} {route} is declared twice")
    _CATALOGUE[id] = op
    _ROUTES[route] = op
    return op


# The modules that declare operations, in the order the OpenAPI document lists them.
AREAS = ("auth", "identity", "children", "peps", "attachments", "views", "tasks", "timescales", "clocks", "in_date",
         "qa", "notifications")


def catalogue() -> dict[str, Operation]:
    """Every operation, by id."""
    for area in AREAS:
        importlib.import_module(f"shared.api.{area}")
    return dict(_CATALOGUE)


def of_service(service: str) -> list[Operation]:
    return [op for op in catalogue().values() if op.service == service]
