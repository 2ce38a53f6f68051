"""Export of covekit's spans over OTLP/HTTP to Arize Phoenix, Langfuse or any
OpenTelemetry collector.

:class:`OTLPExporter` is a :class:`~covekit.observe.sink.SpanSink`: ``export(spans)``
only queues them; a background thread converts them into OpenTelemetry spans (keeping
covekit's trace and span ids, so a trace keeps its id everywhere) and sends them in
batches with the OTLP HTTP exporter of the ``otel`` extra (``pip install
'covekit[otel]'``). An endpoint that is down never blocks or breaks a request: a batch
that fails is retried with exponential backoff, then dropped and counted in
:attr:`OTLPExporter.dropped` (and logged). ``shutdown()`` flushes within a timeout.

Each span also gets the OpenInference attributes that Phoenix (and Langfuse) read
natively, next to the GenAI ones it already carries: ``openinference.span.kind``
(:func:`span_kind`), ``llm.model_name``, ``llm.token_count.prompt`` / ``completion`` /
``total``, ``tool.name``, and ``input.value`` / ``output.value`` when the span still
holds content after the tracer's privacy policy (:func:`openinference_attributes`).

>>> from covekit.observe.trace import Span
>>> chat = Span("ab" * 16, "01" * 8, "02" * 8, "chat m", 0, 5, {
...     "gen_ai.operation.name": "chat", "gen_ai.response.model": "m",
...     "gen_ai.usage.input_tokens": 90, "gen_ai.usage.output_tokens": 9})
>>> extra = openinference_attributes(chat)
>>> extra["openinference.span.kind"], extra["llm.model_name"], extra["llm.token_count.total"]
('LLM', 'm', 99)

Thread safety: ``export`` may be called from any number of threads; one background
thread per exporter does the conversion and the sending.
"""

from __future__ import annotations

import atexit
import base64
import json
import logging
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from covekit.errors import InvalidInput, OptionalDependencyMissing

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter

    from covekit.observe.trace import Span

__all__ = [
    "SPAN_KINDS",
    "OTLPExporter",
    "openinference_attributes",
    "span_kind",
]

log = logging.getLogger("covekit.observe.export")

#: The OpenInference span kinds covekit assigns (``openinference.span.kind``).
SPAN_KINDS = (
    "LLM",
    "EMBEDDING",
    "RETRIEVER",
    "RERANKER",
    "TOOL",
    "CHAIN",
    "AGENT",
    "GUARDRAIL",
    "EVALUATOR",
)

_KIND_OF_OPERATION = {
    "chat": "LLM",
    "text_completion": "LLM",
    "generate_content": "LLM",
    "embeddings": "EMBEDDING",
    "retrieval": "RETRIEVER",
    "execute_tool": "TOOL",
    "invoke_agent": "AGENT",
    "create_agent": "AGENT",
}
# the first word of the span's name (before " " or "."), when it has no operation name
_KIND_OF_NAME = {
    "chat": "LLM",
    "retrieve": "RETRIEVER",
    "retrieval": "RETRIEVER",
    "search": "RETRIEVER",
    "build_context": "RETRIEVER",
    "embed": "EMBEDDING",
    "rerank": "RERANKER",
    "tool": "TOOL",
    "execute_tool": "TOOL",
    "agent": "AGENT",
    "redact": "GUARDRAIL",
    "policy": "GUARDRAIL",
    "validate": "GUARDRAIL",
    "contract": "GUARDRAIL",
    "guardrail": "GUARDRAIL",
    "ground": "EVALUATOR",
    "confidence": "EVALUATOR",
    "evaluate": "EVALUATOR",
    "eval": "EVALUATOR",
}
# attributes that hold a step's content once the privacy policy let it through, in the
# order they are looked for (the first one present becomes input.value / output.value)
_INPUT_KEYS = ("input.value", "gen_ai.input.messages", "gen_ai.prompt", "covekit.question")
_OUTPUT_KEYS = ("output.value", "gen_ai.output.messages", "gen_ai.completion", "covekit.answer")
_INT64 = (-(2**63), 2**63 - 1)


def span_kind(span: Span) -> str:
    """The OpenInference span kind of a covekit span: an explicit
    ``openinference.span.kind`` attribute, else from ``gen_ai.operation.name``
    (``chat`` → LLM, ``retrieval`` → RETRIEVER, ``execute_tool`` → TOOL,
    ``invoke_agent`` → AGENT...), else from the first word of the name (``redact``,
    ``policy.input`` → GUARDRAIL; ``ground``, ``confidence`` → EVALUATOR), else CHAIN.

    >>> from covekit.observe.trace import Span
    >>> [span_kind(Span("0" * 32, "1" * 16, None, n, 0, 1)) for n in ("policy.input", "route")]
    ['GUARDRAIL', 'CHAIN']
    """
    a = span.attributes
    explicit = a.get("openinference.span.kind")
    if isinstance(explicit, str) and explicit.upper() in SPAN_KINDS:
        return explicit.upper()
    op = a.get("gen_ai.operation.name")
    if isinstance(op, str) and op in _KIND_OF_OPERATION:
        return _KIND_OF_OPERATION[op]
    if any(k.startswith("gen_ai.evaluation.") for k in a):
        return "EVALUATOR"
    first = span.name.replace(".", " ").split(" ", 1)[0].lower()
    return _KIND_OF_NAME.get(first, "CHAIN")


def _content(value: Any) -> tuple[str, str]:
    """``(text, mime type)`` of a content attribute for input.value / output.value."""
    if isinstance(value, str):
        return value, "text/plain"
    try:
        return json.dumps(value, ensure_ascii=False, default=str), "application/json"
    except (TypeError, ValueError):
        return str(value), "text/plain"


def openinference_attributes(span: Span) -> dict[str, Any]:
    """The OpenInference attributes derived from a span's GenAI ones (none of the span's
    own attributes is replaced): the kind, the model, the token counts, the tool, and
    the content only where the span carries it.

    >>> from covekit.observe.trace import Span
    >>> openinference_attributes(Span("0" * 32, "1" * 16, None, "tool lookup", 0, 1,
    ...                                {"gen_ai.tool.name": "lookup"}))
    {'openinference.span.kind': 'TOOL', 'tool.name': 'lookup'}
    """
    a = span.attributes
    out: dict[str, Any] = {"openinference.span.kind": span_kind(span)}
    model = a.get("gen_ai.response.model") or a.get("gen_ai.request.model")
    if isinstance(model, str) and model:
        out["llm.model_name"] = model
    provider = a.get("gen_ai.provider.name")
    if isinstance(provider, str) and provider:
        out["llm.provider"] = provider
        out["llm.system"] = provider
    prompt = a.get("gen_ai.usage.input_tokens")
    completion = a.get("gen_ai.usage.output_tokens")
    if isinstance(prompt, int) and not isinstance(prompt, bool):
        out["llm.token_count.prompt"] = prompt
    if isinstance(completion, int) and not isinstance(completion, bool):
        out["llm.token_count.completion"] = completion
    if "llm.token_count.prompt" in out and "llm.token_count.completion" in out:
        out["llm.token_count.total"] = (
            out["llm.token_count.prompt"] + out["llm.token_count.completion"]
        )
    cached = a.get("gen_ai.usage.cache_read.input_tokens")
    if isinstance(cached, int) and not isinstance(cached, bool):
        out["llm.token_count.prompt_details.cache_read"] = cached
    tool = a.get("gen_ai.tool.name")
    if isinstance(tool, str) and tool:
        out["tool.name"] = tool
    for keys, prefix in ((_INPUT_KEYS, "input"), (_OUTPUT_KEYS, "output")):
        for k in keys:
            if a.get(k) is not None:
                text, mime = _content(a[k])
                out[f"{prefix}.value"] = text
                out[f"{prefix}.mime_type"] = mime
                break
    return {k: v for k, v in out.items() if k not in a}


class _Counts:
    """The exporter's counters (under the exporter's lock)."""

    __slots__ = ("converted", "dropped", "dropped_attributes", "exported", "failed_batches")

    def __init__(self) -> None:
        self.exported = 0
        self.dropped = 0
        self.converted = 0
        self.dropped_attributes = 0
        self.failed_batches = 0


def _scalar(v: Any) -> bool:
    return type(v) in (str, bool, float) or (type(v) is int and _INT64[0] <= v <= _INT64[1])


class OTLPExporter:
    """Sends finished spans to an OTLP/HTTP endpoint from a background thread.

    ``endpoint`` is the full traces URL: ``http://127.0.0.1:6006/v1/traces`` for a local
    Phoenix, ``https://cloud.langfuse.com/api/public/otel/v1/traces`` for Langfuse
    (see :meth:`langfuse`), ``http://collector:4318/v1/traces`` for an OpenTelemetry
    collector. ``headers`` go with every request (authentication). ``project`` names
    the Phoenix project (the resource attribute ``openinference.project.name``);
    ``service_name`` is the resource's ``service.name``.

    Spans wait in a queue of at most ``max_queue`` spans (beyond it new spans are
    dropped and counted) and are sent in batches of ``batch_size`` at least every
    ``schedule_delay_s``. Each attempt is one OTLP request of at most ``timeout_s``
    (the OpenTelemetry exporter itself retries a transient error within that time); a
    batch whose attempt fails is retried ``retries`` times after ``backoff_s``, then
    twice that, and so on (with jitter), then dropped: :attr:`dropped` counts it and
    the log says why. ``span_exporter`` replaces the OTLP exporter by any OpenTelemetry
    ``SpanExporter`` (e.g. the SDK's ``InMemorySpanExporter`` in a test).

    Attribute values OpenTelemetry cannot carry are mapped: dicts and mixed lists become
    JSON text, None is left out, any other value becomes ``str(value)`` (counted in
    :attr:`converted`) or, if even that fails, is dropped (:attr:`dropped_attributes`).

    >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    ...     InMemorySpanExporter)
    >>> from covekit.observe.trace import Tracer
    >>> memory = InMemorySpanExporter()
    >>> exporter = OTLPExporter(span_exporter=memory)
    >>> tracer = Tracer()
    >>> with tracer.span("covekit.pipeline", {"gen_ai.operation.name": "invoke_agent"}):
    ...     with tracer.span("chat m", {"gen_ai.operation.name": "chat"}):
    ...         pass
    >>> exporter.export(tracer.trace().spans)
    >>> exporter.shutdown()
    >>> sorted((s.name, s.attributes["openinference.span.kind"])
    ...        for s in memory.get_finished_spans())
    [('chat m', 'LLM'), ('covekit.pipeline', 'AGENT')]
    >>> exporter.exported, exporter.dropped
    (2, 0)
    """

    def __init__(
        self,
        endpoint: str = "http://127.0.0.1:6006/v1/traces",
        *,
        headers: Mapping[str, str] | None = None,
        project: str | None = None,
        service_name: str = "covekit",
        timeout_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 1.0,
        batch_size: int = 512,
        max_queue: int = 20_000,
        schedule_delay_s: float = 0.5,
        span_exporter: SpanExporter | None = None,
    ) -> None:
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise InvalidInput(f"endpoint must be an http:// or https:// URL, got {endpoint!r}")
        for name, value, low in (
            ("timeout_s", timeout_s, 0.0),
            ("backoff_s", backoff_s, 0.0),
            ("schedule_delay_s", schedule_delay_s, 0.0),
        ):
            if not isinstance(value, int | float) or not value >= low or value != value:
                raise InvalidInput(f"{name} must be a number >= {low}, got {value!r}")
        if timeout_s <= 0:
            raise InvalidInput(f"timeout_s must be > 0, got {timeout_s!r}")
        for name, n, low in (("retries", retries, 0), ("batch_size", batch_size, 1),
                             ("max_queue", max_queue, 1)):  # fmt: skip
            if not isinstance(n, int) or isinstance(n, bool) or n < low:
                raise InvalidInput(f"{name} must be an integer >= {low}, got {n!r}")
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        except ImportError:
            raise OptionalDependencyMissing(
                "OTLPExporter needs OpenTelemetry: pip install 'covekit[otel]'"
            ) from None
        if span_exporter is None:
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )
            except ImportError:
                raise OptionalDependencyMissing(
                    "OTLPExporter needs the OTLP HTTP exporter: pip install 'covekit[otel]'"
                ) from None
            span_exporter = OTLPSpanExporter(
                endpoint=endpoint, headers=dict(headers or {}), timeout=timeout_s
            )
        from covekit import __version__

        self.endpoint = endpoint
        self.headers = dict(headers or {})
        self.retries = retries
        self.backoff_s = float(backoff_s)
        self.batch_size = batch_size
        self.max_queue = max_queue
        self.schedule_delay_s = float(schedule_delay_s)
        resource: dict[str, Any] = {"service.name": service_name}
        if project:
            resource["openinference.project.name"] = project
        self._resource = Resource.create(resource)
        self._scope = InstrumentationScope("covekit", __version__)
        self._exporter = span_exporter
        self._queue: deque[Span] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._abort = threading.Event()  # cuts a backoff short at shutdown
        self._in_flight = 0
        self._flush_wanted = 0
        self._closed = False
        self._stopped = False
        self._counts = _Counts()
        self._warned_closed = False
        self._thread = threading.Thread(target=self._run, name="covekit-otlp-export", daemon=True)
        self._thread.start()
        ref = weakref.ref(self)
        atexit.register(_shutdown_at_exit, ref)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def langfuse(
        cls,
        public_key: str,
        secret_key: str,
        *,
        host: str = "https://cloud.langfuse.com",
        **kw: Any,
    ) -> OTLPExporter:
        """An exporter to Langfuse's OTLP endpoint (``{host}/api/public/otel/v1/traces``)
        with the Basic authentication it takes (``public_key:secret_key``) and the
        ``x-langfuse-ingestion-version: 4`` header Langfuse's API asks direct OTLP
        exporters for (real-time ingestion). ``host`` is your region's or your own
        deployment's root URL; ``kw`` go to :class:`OTLPExporter`.

        >>> ex = OTLPExporter.langfuse("pk-lf-1", "sk-lf-2", host="http://127.0.0.1:3000")
        >>> ex.endpoint
        'http://127.0.0.1:3000/api/public/otel/v1/traces'
        >>> ex.shutdown()
        """
        token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode("ascii")
        headers = {
            "Authorization": f"Basic {token}",
            "x-langfuse-ingestion-version": "4",
            **dict(kw.pop("headers", None) or {}),
        }
        return cls(host.rstrip("/") + "/api/public/otel/v1/traces", headers=headers, **kw)

    # ------------------------------------------------------------------ counters
    @property
    def exported(self) -> int:
        """Spans the endpoint accepted."""
        with self._lock:
            return self._counts.exported

    @property
    def dropped(self) -> int:
        """Spans given up on: the queue was full, every attempt failed, or the exporter
        was shut down before they could be sent."""
        with self._lock:
            return self._counts.dropped

    @property
    def converted(self) -> int:
        """Attribute values OpenTelemetry cannot carry that were sent as ``str(value)``."""
        with self._lock:
            return self._counts.converted

    @property
    def dropped_attributes(self) -> int:
        """Attribute values left out because not even ``str(value)`` worked."""
        with self._lock:
            return self._counts.dropped_attributes

    def stats(self) -> dict[str, int]:
        """All the counters, and the spans still queued.

        >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        ...     InMemorySpanExporter)
        >>> ex = OTLPExporter(span_exporter=InMemorySpanExporter())
        >>> ex.stats()
        {'exported': 0, 'dropped': 0, 'converted': 0, 'dropped_attributes': 0, 'failed_batches': 0, 'queued': 0}
        >>> ex.shutdown()
        """  # noqa: E501
        with self._lock:
            c = self._counts
            return {
                "exported": c.exported,
                "dropped": c.dropped,
                "converted": c.converted,
                "dropped_attributes": c.dropped_attributes,
                "failed_batches": c.failed_batches,
                "queued": len(self._queue) + self._in_flight,
            }

    # ------------------------------------------------------------------ SpanSink
    def export(self, spans: Sequence[Span]) -> None:
        """Queues finished spans and returns at once (never raises for the endpoint)."""
        spans = list(spans)
        if not spans:
            return
        with self._lock:
            if self._closed:
                self._counts.dropped += len(spans)
                if not self._warned_closed:
                    self._warned_closed = True
                    log.warning("OTLPExporter is shut down: %d span(s) dropped", len(spans))
                return
            room = self.max_queue - len(self._queue) - self._in_flight
            if room < len(spans):
                lost = len(spans) - max(room, 0)
                self._counts.dropped += lost
                spans = spans[: max(room, 0)]
                log.warning(
                    "OTLPExporter queue full (%d spans): %d span(s) dropped", self.max_queue, lost
                )
            self._queue.extend(spans)
            self._wake.notify()

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Waits until every queued span was sent or dropped; False if ``timeout_s``
        passed first (the spans stay queued)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._flush_wanted += 1
            self._wake.notify()
            try:
                while self._queue or self._in_flight:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._thread.is_alive():
                        return False
                    self._idle.wait(min(left, 0.1))
                return True
            finally:
                self._flush_wanted -= 1

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Sends what is queued (within ``timeout_s``), stops the thread and closes the
        connection; spans still unsent then are dropped and counted. Idempotent: later
        calls return at once, and spans exported after it are dropped and counted."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        done = self.flush(timeout_s)
        if not done:
            self._abort.set()
        with self._lock:
            self._stopped = True
            self._wake.notify()
        self._thread.join(max(1.0, timeout_s / 10) if done else 1.0)
        with self._lock:
            lost = len(self._queue)
            self._queue.clear()
            self._counts.dropped += lost
        if lost:
            log.warning("OTLPExporter shut down with %d span(s) unsent: dropped", lost)
        try:
            self._exporter.shutdown()
        except Exception:  # the backend's own fault: logged, never raised
            log.exception("OTLPExporter: the span exporter failed to shut down")

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        while True:
            with self._lock:
                first_seen: float | None = None  # when the oldest queued span was seen
                while not self._stopped:
                    if not self._queue:
                        first_seen = None
                        self._wake.wait(5.0)  # export, flush and shutdown notify
                        continue
                    if self._flush_wanted or len(self._queue) >= self.batch_size:
                        break
                    now = time.monotonic()
                    if first_seen is None:
                        first_seen = now
                    left = first_seen + self.schedule_delay_s - now
                    if left <= 0:
                        break
                    self._wake.wait(left)
                if self._stopped and not self._queue:
                    self._idle.notify_all()
                    return
                n = min(self.batch_size, len(self._queue))
                batch = [self._queue.popleft() for _ in range(n)]
                self._in_flight = n
            if batch:
                try:
                    self._send(batch)
                except Exception:  # a bug in the conversion must not kill the thread
                    log.exception("OTLPExporter: %d span(s) dropped", len(batch))
                    with self._lock:
                        self._counts.dropped += len(batch)
            with self._lock:
                self._in_flight = 0
                if not self._queue:
                    self._idle.notify_all()
                if self._stopped and self._abort.is_set():
                    self._counts.dropped += len(self._queue)
                    self._queue.clear()
                    self._idle.notify_all()
                    return

    def _send(self, batch: list[Span]) -> None:
        from opentelemetry.sdk.trace.export import SpanExportResult

        readable = [self._to_otel(s) for s in batch]
        for attempt in range(self.retries + 1):
            if self._abort.is_set():
                break
            try:
                ok = self._exporter.export(readable) == SpanExportResult.SUCCESS
            except Exception as e:  # an exporter that raises is a failed attempt
                log.warning("OTLPExporter: export attempt raised %s: %s", type(e).__name__, e)
                ok = False
            if ok:
                with self._lock:
                    self._counts.exported += len(batch)
                return
            if attempt < self.retries:
                delay = self.backoff_s * (2**attempt) * random.uniform(0.8, 1.2)
                if self._abort.wait(delay):
                    break
        with self._lock:
            self._counts.dropped += len(batch)
            self._counts.failed_batches += 1
        log.warning(
            "OTLPExporter: %d span(s) dropped after %d attempt(s) to %s",
            len(batch), attempt + 1, self.endpoint,
        )  # fmt: skip

    # ------------------------------------------------------------------ conversion
    def _value(self, v: Any) -> tuple[bool, Any]:
        """``(keep, value)``: ``v`` as an OpenTelemetry attribute value."""
        if v is None:
            return False, None
        if _scalar(v):
            return True, v
        if isinstance(v, list | tuple):
            if not v:
                return True, ()
            t = type(v[0])
            if all(type(x) is t for x in v) and all(_scalar(x) for x in v):
                return True, tuple(v)
        if isinstance(v, list | tuple | dict):
            try:
                return True, json.dumps(v, ensure_ascii=False, allow_nan=True)
            except (TypeError, ValueError):
                pass
        try:
            text = str(v) if not isinstance(v, list | tuple | dict) else _json_str(v)
        except Exception:
            with self._lock:
                self._counts.dropped_attributes += 1
            return False, None
        with self._lock:
            self._counts.converted += 1
        return True, text

    def _attributes(self, attrs: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in attrs.items():
            keep, value = self._value(v)
            if keep:
                out[str(k)] = value
        return out

    def _to_otel(self, s: Span) -> ReadableSpan:
        from opentelemetry.sdk.trace import Event, ReadableSpan
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

        trace_id = int(s.trace_id, 16)
        flags = TraceFlags(TraceFlags.SAMPLED)
        context = SpanContext(trace_id, int(s.span_id, 16), is_remote=False, trace_flags=flags)
        parent = (
            None
            if s.parent_id is None
            else SpanContext(trace_id, int(s.parent_id, 16), is_remote=False, trace_flags=flags)
        )
        attributes = self._attributes(s.attributes)
        attributes.update(self._attributes(openinference_attributes(s)))
        llm = attributes.get("openinference.span.kind") == "LLM"
        kind = SpanKind.CLIENT if llm else SpanKind.INTERNAL
        if s.status == "ERROR":
            status = Status(StatusCode.ERROR, s.status_message or None)
        elif s.status == "OK":
            status = Status(StatusCode.OK)
        else:
            status = Status(StatusCode.UNSET)
        events = [Event(e.name, self._attributes(e.attributes), e.time_ns) for e in s.events]
        return ReadableSpan(
            name=s.name,
            context=context,
            parent=parent,
            resource=self._resource,
            attributes=attributes,
            events=events,
            kind=kind,
            status=status,
            start_time=s.start_ns,
            end_time=s.end_ns if s.end_ns is not None else s.start_ns,
            instrumentation_scope=self._scope,
        )


def _json_str(v: Any) -> str:
    """JSON text of a container holding values JSON cannot carry (those become str)."""
    return json.dumps(v, ensure_ascii=False, default=str)


def _shutdown_at_exit(ref: weakref.ref[OTLPExporter]) -> None:
    exporter = ref()
    if exporter is not None:
        exporter.shutdown(timeout_s=5.0)
