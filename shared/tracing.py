"""OpenTelemetry traces across HTTP and Kafka hops: on when OTEL_EXPORTER_OTLP_ENDPOINT is set,
otherwise every helper here returns at its first line (no spans, no headers, no exporter)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator

from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind

log = logging.getLogger(__name__)

# The W3C trace context headers, the only ones read from a Kafka record.
_HEADERS = ("traceparent", "tracestate")

_tracer: trace.Tracer | None = None  # set by enable(): None means tracing is off
_provider = None


def enable(provider: trace.TracerProvider) -> None:
    """Trace with `provider` from now on (configure() in a service; an in-memory one in tests)."""
    global _tracer, _provider
    _tracer, _provider = provider.get_tracer("billing"), provider


def disable() -> None:
    global _tracer, _provider
    _tracer = _provider = None


def shutdown() -> None:
    """Export the spans still buffered and stop (a service stopping); nothing when off."""
    if _provider is not None and hasattr(_provider, "shutdown"):
        _provider.shutdown()
    disable()


def enabled() -> bool:
    return _tracer is not None


def configure(service: str) -> bool:
    """Export spans over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporter reads
    that and the other OTEL_* variables itself); True when tracing is now on."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    enable(provider)
    log.info("tracing on: spans exported to %s", os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"])
    return True


def instrument_http(app) -> None:
    """Server spans for `app`'s requests (continuing a caller's `traceparent`), when tracing is on."""
    if _tracer is None or getattr(app.state, "traced", False):
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    app.state.traced = True
    FastAPIInstrumentor.instrument_app(app, tracer_provider=trace.get_tracer_provider(),
                                       excluded_urls="/metrics,/health")


def outbox_headers() -> dict[str, str] | None:
    """The current trace context as headers to store with an outbox row (the relay publishes them
    with the record); None when tracing is off or no span is active."""
    if _tracer is None:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier or None


def _context_of(headers: Iterable[tuple[str, bytes]]):
    carrier = {name: value.decode(errors="replace") for name, value in headers or () if name in _HEADERS}
    return propagate.extract(carrier) if carrier else None


_OFF = contextlib.nullcontext()  # reusable: what a helper returns when tracing is off


def consuming(topic: str, records, event_id: object = None) -> contextlib.AbstractContextManager:
    """A consumer span around handling `records` of `topic`, the child of the first record's
    producer context (W3C headers) and linked to the others'. Does nothing when tracing is off."""
    return _OFF if _tracer is None else _consuming(topic, records, event_id)


@contextlib.contextmanager
def _consuming(topic: str, records, event_id: object) -> Iterator[None]:
    contexts = [_context_of(getattr(r, "headers", ())) for r in records]
    parent = contexts[0] if contexts else None
    links = [Link(trace.get_current_span(c).get_span_context()) for c in contexts[1:] if c is not None]
    with _tracer.start_as_current_span(
            f"{topic} process", context=parent, kind=SpanKind.CONSUMER, links=links,
            attributes={"messaging.system": "kafka", "messaging.destination.name": topic,
                        "messaging.batch.message_count": len(records),
                        **({"messaging.message.id": str(event_id)} if event_id else {})}):
        yield


def span(name: str, **attributes) -> contextlib.AbstractContextManager:
    """An internal span (a relay batch, a periodic task), when tracing is on."""
    return _OFF if _tracer is None else _tracer.start_as_current_span(name, attributes=attributes)


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the active span, for log lines; None when off or outside one."""
    if _tracer is None:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
