"""Secrets in emailed links never reach a trace, whichever exporter is used."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from shared.telemetry import RedactingExporter, redact

TOKEN = "Qm9vZ2llLXRva2VuLXRoYXQtaXMtbG9uZw"


class Collect(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def test_invitation_tokens_and_codes_are_redacted_from_paths_and_queries() -> None:
    assert redact(f"/invitations/{TOKEN}") == "/invitations/[redacted]"
    assert redact(f"/invitations/{TOKEN}/accept") == "/invitations/[redacted]/accept"
    assert redact(f"http://gw/api/v1/invitations/lookup?token={TOKEN}&x=1") == \
        "http://gw/api/v1/invitations/lookup?token=[redacted]&x=[redacted]"
    # Whatever a query holds (a child's name searched for, an address) stays out; its parameter names stay in.
    assert redact("/children?q=Jordan%20Example&limit=25") == "/children?q=[redacted]&limit=[redacted]"
    assert redact("/deliveries?recipient=dana@example.test") == "/deliveries?recipient=[redacted]"
    assert redact("/invitations/lookup") == "/invitations/lookup"
    assert redact("/api/v1/organisations/abc/invitations") == "/api/v1/organisations/abc/invitations"


def test_the_exporter_redacts_span_names_and_attributes() -> None:
    collected = Collect()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(collected)))
    with provider.get_tracer("t").start_as_current_span(f"GET /invitations/{TOKEN}",
                                                        attributes={"url.full": f"/x?token={TOKEN}", "n": 3}):
        pass
    span = collected.spans[0]
    assert TOKEN not in span.name and TOKEN not in str(span.attributes)
    assert span.attributes["n"] == 3


def test_sql_statements_are_traced_inside_a_trace_only() -> None:
    """A statement under a request's or message's span is kept; one outside any trace (the relay's polls, the
    schedulers' claims, every second in every replica) would be a one-span trace saying nothing, so it is not."""
    from shared.telemetry import _NoLoneQueries

    tracer = TracerProvider(sampler=_NoLoneQueries()).get_tracer("test")
    query = {"db.system": "postgresql", "db.statement": "SELECT 1"}
    with tracer.start_as_current_span("SELECT", attributes=query) as lone:
        assert not lone.is_recording()
    with tracer.start_as_current_span("GET /children/{child_id}") as request:
        assert request.is_recording()
        with tracer.start_as_current_span("SELECT", attributes=query) as inside:
            assert inside.is_recording()
            assert inside.get_span_context().trace_id == request.get_span_context().trace_id
