"""Where finished spans go: a :class:`SpanSink` receives the spans of each finished trace
(after the tracer's privacy policy) and is flushed by ``shutdown()``. The trace store
(:class:`covekit.observe.store.SQLiteTraceStore`) and the OTLP exporter implement it;
so does any object with these two methods.

>>> from covekit.observe.sink import SpanSink
>>> class Collect:
...     def __init__(self): self.spans = []
...     def export(self, spans): self.spans.extend(spans)
...     def shutdown(self): pass
>>> isinstance(Collect(), SpanSink)
True

Thread safety: a sink's ``export`` may be called from many threads at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from covekit.observe.trace import Span

__all__ = ["SpanSink"]


@runtime_checkable
class SpanSink(Protocol):
    """Receives finished spans (see the module docs); structural, so any object with
    ``export`` and ``shutdown`` is one.

    >>> import covekit
    >>> isinstance(covekit.SQLiteTraceStore(":memory:"), SpanSink)
    True
    """

    def export(self, spans: Sequence[Span]) -> None:
        """Takes the finished spans of one trace. Must return quickly (queue the work)
        and must not raise for a fault of its own backend: count and log it."""
        ...

    def shutdown(self) -> None:
        """Flushes what was queued and releases the backend; idempotent."""
        ...
