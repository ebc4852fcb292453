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


def _sampling_provider(ratio: float) -> tuple[TracerProvider, Collect]:
    from shared.telemetry import _NoLoneQueries

    collected = Collect()
    provider = TracerProvider(sampler=_NoLoneQueries(ratio))
    provider.add_span_processor(SimpleSpanProcessor(collected))
    return provider, collected


def test_a_child_follows_its_parents_sampling_decision() -> None:
    """ParentBased(TraceIdRatioBased(ratio)): the ratio decides a trace's first span only; every span under it,
    SQL statements included, is recorded exactly when its parent is, so a trace is whole or absent."""
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

    tracer = _sampling_provider(0.0)[0].get_tracer("test")  # no new trace would be recorded on its own
    query = {"db.system": "postgresql", "db.statement": "SELECT 1"}
    for flags, recorded in ((TraceFlags.SAMPLED, True), (TraceFlags.DEFAULT, False)):
        parent = SpanContext(trace_id=0x1234, span_id=0x99, is_remote=False, trace_flags=TraceFlags(flags))
        with tracer.start_as_current_span("GET /children", context=set_span_in_context(NonRecordingSpan(parent))) \
                as child:
            assert child.is_recording() is recorded
            assert child.get_span_context().trace_flags.sampled is recorded
            assert child.get_span_context().trace_id == 0x1234  # the trace id carries on either way
            with tracer.start_as_current_span("SELECT", attributes=query) as statement:
                assert statement.is_recording() is recorded


def test_the_ratio_decides_where_a_trace_starts() -> None:
    provider, collected = _sampling_provider(0.1)
    tracer = provider.get_tracer("test")
    for _ in range(2000):
        with tracer.start_as_current_span("GET /children"), tracer.start_as_current_span("inner"):
            pass
    roots = [s for s in collected.spans if s.parent is None]
    assert 100 < len(roots) < 300  # a tenth of 2,000, give or take chance
    assert len(collected.spans) == 2 * len(roots)  # each recorded trace whole, never a stray inner span
    everything, every_span = _sampling_provider(1.0)
    with everything.get_tracer("test").start_as_current_span("GET /children"):
        pass
    assert len(every_span.spans) == 1
    nothing, no_span = _sampling_provider(0.0)
    with nothing.get_tracer("test").start_as_current_span("GET /children"):
        pass
    assert no_span.spans == []


def test_a_request_not_sampled_still_carries_and_logs_its_trace_id() -> None:
    """The gateway's unrecorded request sends its trace id on (sampled flag off), so the next service does not record
    it either, and both services' log lines name the same trace."""
    import json
    import logging

    from opentelemetry import propagate
    from opentelemetry.trace import format_trace_id

    from shared.logs import JsonFormatter

    gateway = _sampling_provider(0.0)[0].get_tracer("gateway")
    pep_provider, pep_spans = _sampling_provider(1.0)  # even at 1.0 downstream, the caller's decision holds
    pep = pep_provider.get_tracer("pep")
    record = logging.LogRecord("access", logging.INFO, __file__, 1, "request", None, None)
    with gateway.start_as_current_span("GET /api/v1/children") as request:
        assert not request.is_recording()
        trace_id = format_trace_id(request.get_span_context().trace_id)
        headers: dict[str, str] = {}
        propagate.inject(headers)
        gateway_line = json.loads(JsonFormatter("gateway").format(record))
    _, sent_trace_id, _, flags = headers["traceparent"].split("-")
    assert sent_trace_id == trace_id and not int(flags, 16) & 1  # the sampled bit off (W3C trace-flags)
    with pep.start_as_current_span("GET /children", context=propagate.extract(headers)) as handled:
        assert not handled.is_recording()
        pep_line = json.loads(JsonFormatter("pep").format(record))
    assert gateway_line["trace_id"] == pep_line["trace_id"] == trace_id
    assert pep_spans.spans == []


def test_deploy_samples_a_tenth_and_the_bench_runs_with_it() -> None:
    import yaml

    from deploy.local.system import ROOT, LocalSystem
    from shared.settings import ServiceSettings
    from tests.bench.run import production_sample_ratio, tracing_of

    assert production_sample_ratio() == 0.1
    assert ServiceSettings(traces_sample_ratio="0.1").traces_sample_ratio == 0.1
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    assert compose["x-service-env"]["EPEP_TRACES_SAMPLE_RATIO"] == "${EPEP_TRACES_SAMPLE_RATIO:-0.1}"
    assert LocalSystem().env_for("pep")["EPEP_TRACES_SAMPLE_RATIO"] == "1.0"  # make run and the tests
    assert tracing_of(0.1)["setting"] == "production"
    assert tracing_of(1.0)["setting"].startswith("NOT production")
