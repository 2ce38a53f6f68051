"""Traces as plain data: a :class:`Trace` is a list of :class:`Span` objects (one per
step of a request), each with its ids, name, start and end on the nanosecond clock,
attributes, events and status, after OpenTelemetry's data model.

Attribute names follow OpenTelemetry's GenAI semantic conventions where one exists
(``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens``,
``gen_ai.usage.cache_read.input_tokens``, ``gen_ai.response.finish_reasons``,
``gen_ai.tool.name``, ``gen_ai.data_source.id``, ``gen_ai.request.top_k``,
``gen_ai.evaluation.*``, ``error.type``) and sit
under ``covekit.`` otherwise (``covekit.cost_usd``, ``covekit.verdicts``...). Values are
JSON-like (str, int, float, bool, None, lists and dicts of them), so ``to_dict()`` goes
straight into ``json.dumps`` and an exporter can map a span onto an OpenTelemetry span
one to one.

>>> from covekit.observe.trace import Tracer
>>> tracer = Tracer()
>>> with tracer.span("chat", {"gen_ai.operation.name": "chat"}) as s:
...     s.set("gen_ai.usage.input_tokens", 12)
>>> [(x.name, x.attributes["gen_ai.usage.input_tokens"], x.status) for x in tracer.trace().spans]
[('chat', 12, 'OK')]

Thread safety: a :class:`Tracer` belongs to one request; its spans may be opened from
many threads and tasks at once (each follows its own context, see :func:`wrap`); the
finished :class:`Trace` is plain data.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from covekit.errors import InvalidInput

if TYPE_CHECKING:
    from covekit.observe.privacy import ContentPolicy
    from covekit.observe.sink import SpanSink

__all__ = [
    "GEN_AI_DATA_SOURCE_ID",
    "GEN_AI_EVALUATION_EXPLANATION",
    "GEN_AI_EVALUATION_NAME",
    "GEN_AI_EVALUATION_SCORE_LABEL",
    "GEN_AI_EVALUATION_SCORE_VALUE",
    "GEN_AI_INPUT_MESSAGES",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_OUTPUT_MESSAGES",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_MAX_TOKENS",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_REQUEST_TOP_K",
    "GEN_AI_RESPONSE_FINISH_REASONS",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_SYSTEM_INSTRUCTIONS",
    "GEN_AI_TOOL_CALL_ARGUMENTS",
    "GEN_AI_TOOL_CALL_ID",
    "GEN_AI_TOOL_CALL_RESULT",
    "GEN_AI_TOOL_NAME",
    "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "Span",
    "SpanEvent",
    "Trace",
    "Tracer",
    "child_span",
    "current_span",
    "current_tracer",
    "wrap",
]

GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TOP_K = "gen_ai.request.top_k"
GEN_AI_DATA_SOURCE_ID = "gen_ai.data_source.id"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_EVALUATION_NAME = "gen_ai.evaluation.name"
GEN_AI_EVALUATION_SCORE_VALUE = "gen_ai.evaluation.score.value"
GEN_AI_EVALUATION_SCORE_LABEL = "gen_ai.evaluation.score.label"
GEN_AI_EVALUATION_EXPLANATION = "gen_ai.evaluation.explanation"
# content: off by default (covekit.observe.privacy)
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"

_log = logging.getLogger("covekit.observe")
# the innermost open span of this context, with its tracer
_CURRENT: contextvars.ContextVar[tuple[Tracer, Span] | None] = contextvars.ContextVar(
    "covekit_current_span", default=None
)

Status = Literal["UNSET", "OK", "ERROR"]


def _new_id(nbytes: int) -> str:
    # random's generator: seeded from os.urandom, reseeded in a forked child, and much
    # cheaper than a system call per span (OpenTelemetry's SDK does the same)
    return f"{random.getrandbits(nbytes * 8):0{nbytes * 2}x}"


@dataclass(frozen=True, slots=True)
class SpanEvent:
    """Something that happened at one instant of a span (a retry, a verdict...).

    >>> SpanEvent("reask", 5, {"attempt": 2}).to_dict()["name"]
    'reask'
    """

    name: str
    time_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "time_ns": self.time_ns, "attributes": dict(self.attributes)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SpanEvent:
        return cls(str(d["name"]), int(d["time_ns"]), dict(d.get("attributes") or {}))


@dataclass(slots=True)
class Span:
    """One step of a request: OpenTelemetry's span as plain data. ``trace_id`` is 32 hex
    digits, ``span_id`` and ``parent_id`` 16 (``parent_id`` None for the root);
    ``start_ns`` and ``end_ns`` are :func:`time.time_ns` readings (``end_ns`` None while
    open); ``status`` is ``"UNSET"``, ``"OK"`` or ``"ERROR"`` (with ``status_message``).

    >>> s = Span("0" * 32, "1" * 16, None, "retrieve", 1_000, 3_500)
    >>> s.duration_ms, Span.from_dict(s.to_dict()) == s
    (0.0025, True)
    """

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    status: Status = "UNSET"
    status_message: str = ""

    @property
    def duration_ms(self) -> float | None:
        """The span's length in milliseconds (None while it is open)."""
        return None if self.end_ns is None else (self.end_ns - self.start_ns) / 1e6

    def set(self, key: str, value: Any) -> None:
        """Sets one attribute."""
        self.attributes[key] = value

    def event(self, name: str, attributes: Mapping[str, Any] | None = None) -> None:
        """Records an event now."""
        self.events.append(SpanEvent(name, time.time_ns(), dict(attributes or {})))

    def to_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_id": self.parent_id,
            "name": self.name,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "attributes": dict(self.attributes),
            "events": [e.to_dict() for e in self.events],
            "status": self.status,
            "status_message": self.status_message,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Span:
        status = d.get("status", "UNSET")
        if status not in ("UNSET", "OK", "ERROR"):
            status = "UNSET"
        return cls(
            str(d["trace_id"]),
            str(d["span_id"]),
            d.get("parent_id"),
            str(d["name"]),
            int(d["start_ns"]),
            None if d.get("end_ns") is None else int(d["end_ns"]),
            dict(d.get("attributes") or {}),
            [SpanEvent.from_dict(e) for e in d.get("events") or ()],
            status,
            str(d.get("status_message", "")),
        )


@dataclass(frozen=True, slots=True)
class Trace:
    """The spans of one request, in the order they started (the root first).

    >>> t = Trace("ab" * 16, (Span("ab" * 16, "01" * 8, None, "answer", 0, 10),))
    >>> t.root.name, t.span("answer").end_ns, Trace.from_dict(t.to_dict()) == t
    ('answer', 10, True)
    """

    trace_id: str
    spans: tuple[Span, ...] = ()

    @property
    def root(self) -> Span:
        """The span without a parent."""
        for s in self.spans:
            if s.parent_id is None:
                return s
        raise KeyError("this trace has no root span")

    def span(self, name: str) -> Span:
        """The first span called ``name`` (KeyError if none)."""
        for s in self.spans:
            if s.name == name:
                return s
        raise KeyError(name)

    def names(self) -> list[str]:
        """The span names, in order."""
        return [s.name for s in self.spans]

    def to_dict(self) -> dict[str, Any]:
        return {"trace_id": self.trace_id, "spans": [s.to_dict() for s in self.spans]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Trace:
        return cls(str(d["trace_id"]), tuple(Span.from_dict(s) for s in d.get("spans") or ()))


class Tracer:
    """Makes the spans of one request: :meth:`span` is a context manager that opens a
    child of the current span and closes it (status ``"ERROR"`` with the exception's
    type in ``error.type`` if the block raises, else ``"OK"`` unless set).

    The current span is a :mod:`contextvars` variable, so it follows the request
    through ``asyncio`` tasks (they copy the context when created) and through threads
    that run :func:`wrap`-ped callables; a span opened on a thread that did not carry the
    context becomes a child of the tracer's open root.

    When a root span closes, the spans finished since the last export go through
    ``content`` (a :class:`~covekit.observe.privacy.ContentPolicy`; default: content
    off) and then to each sink's ``export``. A sink that raises is counted in
    :attr:`dropped` (spans) and :attr:`sink_errors` and logged on the
    ``covekit.observe`` logger; the request goes on.

    >>> tr = Tracer()
    >>> with tr.span("answer") as root:
    ...     with tr.span("retrieve") as child:
    ...         pass
    >>> child.parent_id == root.span_id, tr.trace().names()
    (True, ['answer', 'retrieve'])

    Raises:
        InvalidInput: a sink without ``export``, or a ``content`` that is not a
            ContentPolicy.
    """

    def __init__(
        self,
        trace_id: str | None = None,
        *,
        sinks: Iterable[SpanSink] = (),
        content: ContentPolicy | None = None,
    ) -> None:
        from covekit.observe.privacy import ContentPolicy

        self.trace_id = trace_id or _new_id(16)
        self.sinks: tuple[SpanSink, ...] = tuple(sinks)
        for sink in self.sinks:
            if not callable(getattr(sink, "export", None)):
                raise InvalidInput(
                    f"a sink needs an export(spans) method; {type(sink).__name__} has none"
                )
        if content is None:
            content = _default_policy()
        elif not isinstance(content, ContentPolicy):
            raise InvalidInput(
                f"content must be a covekit.ContentPolicy, not {type(content).__name__}"
            )
        self.content: ContentPolicy = content
        #: Spans a sink failed to take (each failing sink counts the trace's spans).
        self.dropped = 0
        #: Calls of a sink's ``export`` that raised.
        self.sink_errors = 0
        self._spans: list[Span] = []
        self._exported = 0
        self._root: Span | None = None
        self._lock = threading.Lock()

    @property
    def records_content(self) -> bool:
        """True when the content policy keeps content in some form: instrumented code
        checks it before it spends time putting prompts and answers on spans."""
        return self.content.capture

    def span(self, name: str, attributes: Mapping[str, Any] | None = None) -> _Scope:
        """Opens a span for the ``with`` block (see the class docs)."""
        return _Scope(self, name, attributes)

    def _open(self, name: str, attributes: Mapping[str, Any] | None) -> Span:
        cur = _CURRENT.get()
        if cur is not None and cur[0] is self:
            parent: str | None = cur[1].span_id
        else:
            root = self._root
            parent = root.span_id if root is not None and root.end_ns is None else None
        s = Span(
            self.trace_id, _new_id(8), parent, name, time.time_ns(), None, dict(attributes or {})
        )
        with self._lock:
            self._spans.append(s)
            if parent is None:
                self._root = s
        return s

    def _flush(self) -> None:
        with self._lock:
            spans = [s for s in self._spans[self._exported :] if s.end_ns is not None]
            self._exported = len(self._spans)
        if not self.sinks or not spans:  # a span still open now is never exported
            return
        try:
            private = self.content.apply(spans)
        except Exception:  # a policy that fails must not leak: nothing is exported
            _log.exception("covekit: the content policy failed; %d spans dropped", len(spans))
            with self._lock:
                self.dropped += len(spans) * len(self.sinks)
                self.sink_errors += len(self.sinks)
            return
        for sink in self.sinks:
            try:
                sink.export(private)
            except Exception:
                with self._lock:
                    self.dropped += len(private)
                    self.sink_errors += 1
                _log.exception(
                    "covekit: the span sink %s raised; %d spans dropped",
                    type(sink).__name__,
                    len(private),
                )

    def trace(self, *, private: bool = False) -> Trace:
        """The spans so far, as a :class:`Trace`; with ``private=True``, after the
        content policy (what the sinks receive)."""
        spans = list(self._spans)
        if private:
            spans = self.content.apply(spans)
        return Trace(self.trace_id, tuple(spans))


class _Scope:
    """The context manager of :meth:`Tracer.span` (a class: cheaper than a generator)."""

    __slots__ = ("_attributes", "_name", "_span", "_token", "_tracer")

    def __init__(self, tracer: Tracer, name: str, attributes: Mapping[str, Any] | None) -> None:
        self._tracer = tracer
        self._name = name
        self._attributes = attributes

    def __enter__(self) -> Span:
        s = self._tracer._open(self._name, self._attributes)
        self._span = s
        self._token = _CURRENT.set((self._tracer, s))
        return s

    def __exit__(self, tp: type[BaseException] | None, e: BaseException | None, tb: object) -> None:
        s = self._span
        if e is not None:
            s.status, s.status_message = "ERROR", str(e)[:500]
            s.attributes.setdefault("error.type", type(e).__name__)
        s.end_ns = time.time_ns()
        if s.status == "UNSET":
            s.status = "OK"
        _CURRENT.reset(self._token)
        if s.parent_id is None:
            self._tracer._flush()


@functools.cache
def _default_policy() -> ContentPolicy:
    """The policy of a tracer given none: content off (one for the process)."""
    from covekit.observe.privacy import ContentPolicy

    return ContentPolicy()


class _NoSpan:
    """The context manager :func:`child_span` returns when no tracer is active."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_SPAN = _NoSpan()


def current_span() -> Span | None:
    """The innermost open span of the current context (None when nothing is traced).

    >>> current_span() is None
    True
    >>> tr = Tracer()
    >>> with tr.span("answer") as s:
    ...     current_span() is s
    True
    """
    cur = _CURRENT.get()
    return None if cur is None else cur[1]


def current_tracer() -> Tracer | None:
    """The tracer of the current span (None when nothing is traced)."""
    cur = _CURRENT.get()
    return None if cur is None else cur[0]


def child_span(
    name: str, attributes: Mapping[str, Any] | None = None
) -> AbstractContextManager[Span | None]:
    """A child of the current span for a ``with`` block, or, when nothing is traced, a
    context manager that yields None (one contextvar lookup: the cost of tracing off).
    Instrumented code (the contract, the context builder, models, tools) uses it.

    >>> with child_span("retrieve") as s:
    ...     s is None
    True
    >>> tr = Tracer()
    >>> with tr.span("answer"):
    ...     with child_span("retrieve", {"gen_ai.request.top_k": 5}) as s:
    ...         pass
    >>> s.name, tr.trace().names()
    ('retrieve', ['answer', 'retrieve'])
    """
    cur = _CURRENT.get()
    if cur is None:
        return _NO_SPAN
    return cur[0].span(name, attributes)


P = ParamSpec("P")
R = TypeVar("R")


def wrap(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` bound to the current context (its current span and tracer), for a
    thread: ``executor.submit(wrap(work), x)``. Each call runs in its own copy of the
    context captured here, so the wrapped callable may run on many threads at once.

    >>> from concurrent.futures import ThreadPoolExecutor
    >>> tr = Tracer()
    >>> def work(i):
    ...     with child_span(f"part {i}") as s:
    ...         return s.parent_id
    >>> with tr.span("answer") as root, ThreadPoolExecutor(2) as pool:
    ...     parents = list(pool.map(wrap(work), range(3)))
    >>> parents == [root.span_id] * 3
    True
    """
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return ctx.copy().run(fn, *args, **kwargs)

    return run
