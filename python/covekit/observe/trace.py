"""Traces as plain data: a :class:`Trace` is a list of :class:`Span` objects (one per
step of a request), each with its ids, name, start and end on the nanosecond clock,
attributes, events and status, after OpenTelemetry's data model.

Attribute names follow OpenTelemetry's GenAI semantic conventions where one exists
(``gen_ai.operation.name``, ``gen_ai.request.model``, ``gen_ai.response.model``,
``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens``,
``gen_ai.response.finish_reasons``, ``gen_ai.provider.name``, ``error.type``) and sit
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

Thread safety: a :class:`Tracer` belongs to one request (one thread at a time); the
finished :class:`Trace` is immutable data.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_RESPONSE_FINISH_REASONS",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "Span",
    "SpanEvent",
    "Trace",
    "Tracer",
]

GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"

Status = Literal["UNSET", "OK", "ERROR"]


def _new_id(nbytes: int) -> str:
    return os.urandom(nbytes).hex()


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
    child of the innermost open span and closes it (status ``"ERROR"`` with the
    exception's type in ``error.type`` if the block raises, else ``"OK"`` unless set).

    >>> tr = Tracer()
    >>> with tr.span("answer") as root:
    ...     with tr.span("retrieve") as child:
    ...         pass
    >>> child.parent_id == root.span_id, tr.trace().names()
    (True, ['answer', 'retrieve'])
    """

    def __init__(self, trace_id: str | None = None) -> None:
        self.trace_id = trace_id or _new_id(16)
        self._spans: list[Span] = []
        self._open: list[Span] = []

    @contextmanager
    def span(self, name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Span]:
        """Opens a span for the ``with`` block (see the class docs)."""
        parent = self._open[-1].span_id if self._open else None
        s = Span(
            self.trace_id, _new_id(8), parent, name, time.time_ns(), None, dict(attributes or {})
        )
        self._spans.append(s)
        self._open.append(s)
        try:
            yield s
        except BaseException as e:
            s.status, s.status_message = "ERROR", str(e)[:500]
            s.attributes.setdefault("error.type", type(e).__name__)
            raise
        finally:
            s.end_ns = time.time_ns()
            if s.status == "UNSET":
                s.status = "OK"
            self._open.pop()

    def trace(self) -> Trace:
        """The spans so far, as a :class:`Trace`."""
        return Trace(self.trace_id, tuple(self._spans))
