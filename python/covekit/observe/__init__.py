"""Observability: traces of requests as plain data (spans named after OpenTelemetry's
GenAI semantic conventions), the current span carried through threads and asyncio,
sinks that receive finished traces, and the content policy applied before they do."""

from covekit.observe.privacy import CONTENT_ATTRIBUTES, ContentPolicy
from covekit.observe.sink import SpanSink
from covekit.observe.trace import (
    Span,
    SpanEvent,
    Trace,
    Tracer,
    child_span,
    current_span,
    current_tracer,
    wrap,
)

__all__ = [
    "CONTENT_ATTRIBUTES",
    "ContentPolicy",
    "Span",
    "SpanEvent",
    "SpanSink",
    "Trace",
    "Tracer",
    "child_span",
    "current_span",
    "current_tracer",
    "wrap",
]
