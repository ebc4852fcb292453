"""Structured JSON logs. Fields come from `extra=`; never pass secrets, codes or a child's personal data."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime

from aiohttp import web
from opentelemetry import trace

from shared.metrics import METHODS, route_of
from shared.web import REQUEST_ID, Handler

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname.lower(), "service": self.service, "logger": record.name,
                 "msg": record.getMessage()}
        span = trace.get_current_span().get_span_context()
        if span.is_valid:  # the line's place in its trace: the span that was current when it was logged
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log would print paths and query strings (tokens in emailed links): ours
    # (access_log_middleware) logs route templates only.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("aiormq").setLevel(logging.WARNING)
    logging.getLogger("aio_pika").setLevel(logging.WARNING)


ACCESS = logging.getLogger("epep.access")
_UNLOGGED = {"/healthz", "/readyz", "/metrics"}  # probes and scrapes, every few seconds: not worth a line each


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One line per request: method, route template, status, duration and request id.

    Never the path as requested, its query string, headers or cookies: paths carry secrets (the token in
    /your-views/<token> and /invitations/<token>, emailed to people) and query strings what a person typed (a
    child's name searched for). The template (`/your-views/{token}`) says which page without them; the request id
    leads to the rest, and the trace and span ids to the trace."""
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        if request.path not in _UNLOGGED:
            ACCESS.info("request", extra={
                "http_method": request.method if request.method in METHODS else "other",
                "http_route": route_of(request), "http_status": status,
                "duration_ms": round((time.perf_counter() - start) * 1000, 1),
                "request_id": request.get(REQUEST_ID)})
