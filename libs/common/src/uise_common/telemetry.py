"""OpenTelemetry traces and metrics: OTLP when an endpoint is set, otherwise JSON-lines files
under <data_dir>/traces (one file per process: `<service>.jsonl`, `<service>-2.jsonl` for a
replica) that `uise-stack traces` shows. Either way spans pass through
`MaskingSpanExporter` first, so no IIN or person's name leaves the process in a span."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Link, Status

from uise_common.privacy import mask_mapping, mask_text
from uise_common.settings import Settings

SUBMISSION_ATTR = "uise.submission_id"


def _masked_attributes(attributes) -> dict:
    return mask_mapping(dict(attributes or {}))


def mask_span(span: ReadableSpan) -> ReadableSpan:
    """A copy of `span` with personal data masked in its name (a URL path may hold an IIN), its
    status description, and the attributes of the span, its events (a recorded exception's
    message and stack trace) and its links."""
    status = span.status
    if status.description:
        status = Status(status.status_code, mask_text(status.description))
    return ReadableSpan(
        name=mask_text(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_masked_attributes(span.attributes),
        events=[Event(e.name, _masked_attributes(e.attributes), e.timestamp) for e in span.events],
        links=[Link(link.context, _masked_attributes(link.attributes)) for link in span.links],
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class MaskingSpanExporter(SpanExporter):
    """Masks personal data in every span, then hands them to the exporter it wraps."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([mask_span(s) for s in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span as one JSON line; flushed at once so a killed process loses
    no span it had finished."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for s in spans:
            ctx = s.get_span_context()
            lines.append(json.dumps({
                "trace_id": format(ctx.trace_id, "032x"),
                "span_id": format(ctx.span_id, "016x"),
                "parent_id": format(s.parent.span_id, "016x") if s.parent else None,
                "name": s.name,
                "kind": s.kind.name,
                "service": s.resource.attributes.get("service.name"),
                "instance": s.resource.attributes.get("service.instance.id"),
                "start": s.start_time,
                "end": s.end_time,
                "status": s.status.status_code.name,
                "status_description": s.status.description,
                "attributes": dict(s.attributes or {}),
                "events": [{"name": e.name, "time": e.timestamp, "attributes": dict(e.attributes or {})}
                           for e in s.events],
            }, default=str, ensure_ascii=False))
        with self._lock:
            self._file.write("".join(line + "\n" for line in lines))
            self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()


def setup_telemetry(settings: Settings) -> tuple[TracerProvider, MeterProvider]:
    instance = settings.instance_name or settings.service_name
    resource = Resource.create({"service.name": settings.service_name, "service.namespace": "uise",
                                "service.instance.id": instance})
    tracer_provider = TracerProvider(resource=resource)
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        base = settings.otlp_endpoint.rstrip("/")
        tracer_provider.add_span_processor(
            BatchSpanProcessor(MaskingSpanExporter(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
        )
        reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{base}/v1/metrics"))
    else:
        trace_dir = settings.trace_dir
        tracer_provider.add_span_processor(
            SimpleSpanProcessor(MaskingSpanExporter(
                JsonLinesSpanExporter(trace_dir / f"{instance}.jsonl")))
        )
        metrics_file = (trace_dir / f"{instance}.metrics.jsonl").open("a")
        reader = PeriodicExportingMetricReader(
            ConsoleMetricExporter(out=metrics_file, formatter=lambda m: m.to_json(indent=None) + "\n"),
            export_interval_millis=15_000,
        )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    # One service per process: the first runtime owns the globals (a second one, as when the
    # OpenAPI generator builds every service's app in one process, keeps its own providers).
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
    return tracer_provider, meter_provider


def tag_submission(submission_id: str | None) -> None:
    """Mark the current span as belonging to a submission, so its whole path can be found."""
    if submission_id:
        trace.get_current_span().set_attribute(SUBMISSION_ATTR, submission_id)
