"""OpenTelemetry tracing: one trace from the browser request through the outbox and RabbitMQ to SMTP.

The exporter is chosen by EPEP_TRACES_EXPORTER: `file` writes one JSON span per line to
var/traces/<service>.jsonl (local runs and tests read it), `console` prints, `otlp` uses the standard
OTEL_EXPORTER_OTLP_* variables, `none` keeps tracing on (context still propagates) but exports nothing.
EPEP_TRACES_SAMPLE_RATIO sets the share of traces recorded where they start (1.0 locally and in tests, 0.1 in
deploy/); every other span follows its parent's decision, across services too, so a trace is whole or absent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult, TraceIdRatioBased
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

from shared.settings import ServiceSettings

_provider: TracerProvider | None = None
# Emailed links carry secrets in their paths (invitation tokens), and a query string can hold anything a person
# typed (a child's name searched for, an email address, a token): never in a trace. Parameter names stay.
_SECRETS = [(re.compile(r"(/invitations/)(?!lookup\b|accept\b)[A-Za-z0-9_%-]{16,}"), r"\1[redacted]"),
            # the young person's or carer's emailed views link (the portal's page, and its code form under it)
            (re.compile(r"(/your-views/)(?!answers\b|autosave\b)[A-Za-z0-9_%-]{16,}"), r"\1[redacted]"),
            (re.compile(r"([?&][^=&\s#]+=)[^&\s#]*"), r"\1[redacted]")]


def redact(value: object) -> object:
    if isinstance(value, str):
        for pattern, replacement in _SECRETS:
            value = pattern.sub(replacement, value)
    return value


class RedactingExporter(SpanExporter):
    """Passes spans on with secrets taken out of their names and attributes, whatever the exporter."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([ReadableSpan(
            name=str(redact(s.name)), context=s.context, parent=s.parent, resource=s.resource,
            attributes={k: redact(v) for k, v in (s.attributes or {}).items()},  # type: ignore[misc]
            events=s.events, links=s.links, kind=s.kind, status=s.status, start_time=s.start_time,
            end_time=s.end_time, instrumentation_scope=s.instrumentation_scope) for s in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def _span_line(span: ReadableSpan) -> str:
    # One line straight from the SDK: re-parsing its indented JSON to compact it cost the gateway a tenth of
    # its CPU in the benchmark (docs/performance.md).
    return span.to_json(indent=None) + "\n"


class _NoLoneQueries(Sampler):
    """Parent-based: a span with a parent (in this process, or a caller's traceparent header or an event's stored
    context) is recorded exactly when its parent was; a trace's first span is recorded for `ratio` of trace ids
    (EPEP_TRACES_SAMPLE_RATIO). A span not recorded still has its trace id, which propagates onwards and is
    logged, with the sampled flag off so the next service drops its spans too.
    Except a SQL statement outside any trace, never recorded: the outbox relay's polls and the schedulers'
    claims, every second or so in every replica, would each make a one-span trace that says nothing. A
    statement inside a request, a message or a traced tick follows its span."""

    def __init__(self, ratio: float = 1.0) -> None:
        self.ratio = ratio
        self.default = ParentBased(TraceIdRatioBased(ratio))

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str, kind: SpanKind | None = None,
                      attributes: Attributes = None, links: Sequence[Link] | None = None,
                      trace_state: TraceState | None = None) -> SamplingResult:
        lone = not trace.get_current_span(parent_context).get_span_context().is_valid
        if lone and attributes and ("db.system" in attributes or "db.system.name" in attributes):
            return SamplingResult(Decision.DROP)
        return self.default.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"NoLoneQueries{{{self.default.get_description()}}}"


def resource_attributes(settings: ServiceSettings, service: str) -> dict[str, str]:
    """What every span (its resource) and every metric (its labels, shared/metrics.py) says about the process."""
    return {"service.name": f"epep-{service}", "service.version": settings.service_version,
            "deployment.environment.name": settings.deployment_environment or settings.environment}


def setup_tracing(settings: ServiceSettings, service: str) -> TracerProvider:
    global _provider
    if _provider is not None:
        return _provider
    # Resource.create also reads OTEL_RESOURCE_ATTRIBUTES (the pod's name and namespace in Kubernetes).
    provider = TracerProvider(resource=Resource.create(resource_attributes(settings, service)),
                              sampler=_NoLoneQueries(settings.traces_sample_ratio))
    if settings.traces_exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(RedactingExporter(ConsoleSpanExporter())))
    elif settings.traces_exporter == "file":
        os.makedirs(settings.trace_dir, exist_ok=True)
        out = open(os.path.join(settings.trace_dir, f"{service}.jsonl"), "a", buffering=1)  # noqa: SIM115
        # Simple (synchronous) processor: the file is local and tests read spans as soon as they end.
        provider.add_span_processor(SimpleSpanProcessor(
            RedactingExporter(ConsoleSpanExporter(out=out, formatter=_span_line))))
    elif settings.traces_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(RedactingExporter(OTLPSpanExporter())))
    trace.set_tracer_provider(provider)
    # A span per SQL statement, in the request's or message's trace: the statement's text with its $1 placeholders,
    # never the values bound to them (capture_parameters stays off: they are people's and children's details).
    AsyncPGInstrumentor(capture_parameters=False).instrument(tracer_provider=provider)
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
