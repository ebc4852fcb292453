"""One error type, mapped by middleware to RFC 9457 problem+json. Nothing internal leaks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError


class FieldError(BaseModel):
    field: str
    message: str


class Problem(Exception):
    """Raise to answer with a problem document: status, a short title, a detail a person can act on."""

    def __init__(self, status: int, title: str, detail: str | None = None, *, code: str | None = None,
                 errors: list[FieldError] | None = None, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(title)
        self.status, self.title, self.detail, self.code = status, title, detail, code
        self.errors, self.headers, self.extra = errors or [], headers or {}, extra or {}

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": f"https://epep.invalid/problems/{self.code or self.status}",
                                "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if self.code:
            body["code"] = self.code
        if self.errors:
            body["errors"] = [e.model_dump() for e in self.errors]
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any], headers: dict[str, str] | None = None) -> Problem:
        """Rebuild a problem a downstream service answered with, so the gateway can pass it on."""
        known = {"type", "title", "status", "detail", "code", "errors", "instance"}
        return cls(int(body.get("status", 502)), str(body.get("title", "Bad gateway")), body.get("detail"),
                   code=body.get("code"), errors=[FieldError(**e) for e in body.get("errors", [])],
                   headers=headers, extra={k: v for k, v in body.items() if k not in known})


def validation_problem(exc: ValidationError) -> Problem:
    errors = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        errors.append(FieldError(field=loc, message=_message(err)))
    names = ", ".join(e.field for e in errors)
    return Problem(422, "The request has invalid fields", f"Check these fields: {names}", code="validation",
                   errors=errors)


def _message(err: Any) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "This field is required"
    if kind == "string_too_long":
        return f"Must be at most {err['ctx']['max_length']} characters"
    return str(err.get("msg", "Invalid value")).removeprefix("Value error, ")
