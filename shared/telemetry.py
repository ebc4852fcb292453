"""OpenTelemetry tracing: one trace from the browser request through the outbox and RabbitMQ to SMTP.

The exporter is chosen by EPEP_TRACES_EXPORTER: `file` writes one JSON span per line to
var/traces/<service>.jsonl (local runs and tests read it), `console` prints, `otlp` uses the standard
OTEL_EXPORTER_OTLP_* variables, `none` keeps tracing on (context still propagates) but exports nothing.
"""

from __future__ import annotations

import json
import os
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

from shared.settings import ServiceSettings

_provider: TracerProvider | None = None


def _span_line(span: ReadableSpan) -> str:
    return json.dumps(json.loads(span.to_json()), separators=(",", ":")) + "\n"


def setup_tracing(settings: ServiceSettings, service: str) -> TracerProvider:
    global _provider
    if _provider is not None:
        return _provider
    provider = TracerProvider(resource=Resource.create({"service.name": f"epep-{service}"}))
    if settings.traces_exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif settings.traces_exporter == "file":
        os.makedirs(settings.trace_dir, exist_ok=True)
        out = open(os.path.join(settings.trace_dir, f"{service}.jsonl"), "a", buffering=1)  # noqa: SIM115
        # Simple (synchronous) processor: the file is local and tests read spans as soon as they end.
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out, formatter=_span_line)))
    elif settings.traces_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def shutdown_tracing() -> None:
    if _provider is not None:
        _provider.shutdown()


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def current_carrier() -> dict[str, str]:
    """The current trace context as W3C headers (traceparent, tracestate)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from(carrier: dict[str, Any]) -> Context:
    return propagate.extract({k: str(v) for k, v in carrier.items() if v is not None})
