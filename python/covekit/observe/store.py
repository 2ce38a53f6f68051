"""A crash-safe SQLite store of traces: :class:`SQLiteTraceStore` is a
:class:`~covekit.observe.sink.SpanSink` that keeps every finished span, with its
attributes as JSON and the columns the usual questions need (workflow, model, tokens,
cost, status, user) extracted for SQL, beside the outcome labels recorded for each trace.

``export`` only queues the spans; a background writer thread inserts them in batches,
one transaction per batch (WAL journal), so a request never waits for the disk. What
was queued is written by :meth:`~SQLiteTraceStore.flush`, :meth:`~SQLiteTraceStore.close`
and at interpreter exit; a process killed mid-write loses at most the batch that was
not committed yet, and the file always reopens.

>>> from covekit.observe.trace import Tracer
>>> from covekit.observe.store import SQLiteTraceStore
>>> store = SQLiteTraceStore(":memory:")
>>> tracer = Tracer()
>>> with tracer.span("answer", {"covekit.workflow": "support"}):
...     with tracer.span("chat", {"gen_ai.request.model": "m1", "covekit.cost_usd": 0.002}):
...         pass
>>> store.export(tracer.trace().spans)
>>> store.record_outcome(tracer.trace_id, "success", source="user")
>>> [(t.workflow, t.model, t.spans, t.label) for t in store.ls()]
[('support', 'm1', 2, 'success')]
>>> g = store.stats().groups[0]
>>> g.requests, g.successes, round(g.cost_per_success, 4)
(1, 1, 0.002)
>>> store.close()

Thread safety: every method may be called from any thread; ``export`` takes the GIL
for a few microseconds and never touches the disk.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import re
import sqlite3
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from covekit.errors import (
    InvalidInput,
    InvalidRetentionRule,
    OptionalDependencyMissing,
    TraceStoreCorrupt,
    TraceStoreError,
    TraceStoreLocked,
    TraceStoreReadOnly,
    TraceStoreVersionError,
    UnknownTrace,
)
from covekit.observe.trace import Span, SpanEvent, Status, Trace

__all__ = [
    "GroupStats",
    "Outcome",
    "SQLiteTraceStore",
    "StepStats",
    "StoreCounters",
    "TraceStats",
    "TraceSummary",
    "parse_duration",
]

log = logging.getLogger("covekit.observe.store")

OutcomeSource = Literal["user", "reviewer", "eval"]
_SOURCES = ("user", "reviewer", "eval")
#: Labels that count as a successful outcome in :meth:`SQLiteTraceStore.stats`.
SUCCESS_LABELS = ("success", "good", "correct", "resolved", "accepted", "thumbs_up")

# Attribute names the store lifts into columns (first one present wins).
_WORKFLOW_KEYS = ("covekit.workflow", "covekit.route.workflow")
_MODEL_KEYS = ("gen_ai.response.model", "gen_ai.request.model")
_USER_KEYS = ("covekit.user.id", "enduser.id")
_INPUT_KEYS = ("gen_ai.usage.input_tokens",)
_OUTPUT_KEYS = ("gen_ai.usage.output_tokens",)
_CACHED_KEYS = ("gen_ai.usage.cache_read.input_tokens", "covekit.usage.cached_input_tokens")
_COST_KEY = "covekit.cost_usd"
#: Cost components summed when a span has no ``covekit.cost_usd``: cached input tokens
#: are priced on their own, so they are not counted at the full input price.
_COST_PARTS = (
    "covekit.cost.input_usd",
    "covekit.cost.cached_input_usd",
    "covekit.cost.output_usd",
)
_OUTCOME_KEY = "covekit.outcome"

# ---------------------------------------------------------------- schema and migrations

#: Each migration takes the schema from version ``i`` to ``i + 1``.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: spans
        """CREATE TABLE spans (
            trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_id TEXT,
            name TEXT NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER,
            duration_ms REAL, status TEXT NOT NULL, status_message TEXT NOT NULL,
            error_type TEXT, workflow TEXT, model TEXT, user_id TEXT, outcome TEXT,
            input_tokens INTEGER, output_tokens INTEGER, cached_input_tokens INTEGER,
            cost_usd REAL, attributes TEXT NOT NULL, events TEXT NOT NULL)""",
        "CREATE UNIQUE INDEX spans_trace ON spans (trace_id, span_id)",
        "CREATE INDEX spans_name_duration ON spans (name, duration_ms, start_ns, status)",
    ),
    (  # 2: per-trace summary (kept by the writer) and outcome labels
        """CREATE TABLE traces (
            trace_id TEXT PRIMARY KEY, start_ns INTEGER NOT NULL, end_ns INTEGER,
            duration_ms REAL, root_name TEXT, workflow TEXT, model TEXT, user_id TEXT,
            error_type TEXT, outcome TEXT, label TEXT, spans INTEGER NOT NULL,
            input_tokens INTEGER, output_tokens INTEGER, cached_input_tokens INTEGER,
            cost_usd REAL)""",
        "CREATE INDEX traces_time ON traces (start_ns)",
        "CREATE INDEX traces_workflow ON traces (workflow, start_ns)",
        "CREATE INDEX traces_model ON traces (model, start_ns)",
        "CREATE INDEX traces_label ON traces (label, start_ns)",
        "CREATE INDEX traces_outcome ON traces (outcome, start_ns)",
        "CREATE INDEX traces_error ON traces (error_type, start_ns)",
        "CREATE INDEX traces_user ON traces (user_id)",
        """CREATE TABLE outcomes (
            id INTEGER PRIMARY KEY, trace_id TEXT NOT NULL, label TEXT NOT NULL,
            score REAL, comment TEXT, source TEXT NOT NULL, created_ns INTEGER NOT NULL)""",
        "CREATE INDEX outcomes_trace ON outcomes (trace_id, id)",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

_SPAN_COLUMNS = (
    "trace_id, span_id, parent_id, name, start_ns, end_ns, duration_ms, status, "
    "status_message, error_type, workflow, model, user_id, outcome, input_tokens, "
    "output_tokens, cached_input_tokens, cost_usd, attributes, events"
)
_INSERT_SPAN = f"INSERT OR REPLACE INTO spans ({_SPAN_COLUMNS}) VALUES ({', '.join('?' * 20)})"

# Recomputes one trace's summary from its spans (exact when spans arrive in pieces or
# twice); the label is the latest recorded outcome.
_UPSERT_TRACE = """
INSERT INTO traces (trace_id, start_ns, end_ns, duration_ms, root_name, workflow, model,
    user_id, error_type, outcome, label, spans, input_tokens, output_tokens,
    cached_input_tokens, cost_usd)
SELECT trace_id, min(start_ns), max(end_ns),
    coalesce(max(CASE WHEN parent_id IS NULL THEN duration_ms END),
             (max(end_ns) - min(start_ns)) / 1e6),
    max(CASE WHEN parent_id IS NULL THEN name END), max(workflow), max(model), max(user_id),
    max(error_type), max(outcome),
    (SELECT label FROM outcomes o WHERE o.trace_id = spans.trace_id ORDER BY id DESC LIMIT 1),
    count(*), sum(input_tokens), sum(output_tokens), sum(cached_input_tokens), sum(cost_usd)
FROM spans WHERE trace_id = ? GROUP BY trace_id
ON CONFLICT (trace_id) DO UPDATE SET
    start_ns = excluded.start_ns, end_ns = excluded.end_ns,
    duration_ms = excluded.duration_ms, root_name = excluded.root_name,
    workflow = excluded.workflow, model = excluded.model, user_id = excluded.user_id,
    error_type = excluded.error_type, outcome = excluded.outcome, spans = excluded.spans,
    input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
    cached_input_tokens = excluded.cached_input_tokens, cost_usd = excluded.cost_usd
"""

# ---------------------------------------------------------------- durations

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(rule: timedelta | str) -> timedelta:
    """A retention rule or time window as a :class:`~datetime.timedelta`: a timedelta, or
    a number and a unit (``s``, ``m``, ``h``, ``d``, ``w``), such as ``"30d"`` or
    ``"12h"``. Anything else raises :class:`~covekit.errors.InvalidRetentionRule`.

    >>> parse_duration("30d"), parse_duration("1.5h")
    (datetime.timedelta(days=30), datetime.timedelta(seconds=5400))
    """
    if isinstance(rule, timedelta):
        if rule <= timedelta(0):
            raise InvalidRetentionRule(f"a duration must be positive (such as '30d'), got {rule!r}")
        return rule
    if isinstance(rule, str):
        m = _DURATION.match(rule)
        if m and float(m.group(1)) > 0:
            return timedelta(seconds=float(m.group(1)) * _UNIT_SECONDS[m.group(2)])
    raise InvalidRetentionRule(
        f"cannot read the duration {rule!r}: pass a datetime.timedelta or a positive "
        "number and a unit, such as '30d', '12h', '90m', '45s' or '2w'"
    )


TimePoint = datetime | timedelta | str | int | float | None


def _rank_sql(q: float) -> str:
    """The 1-based nearest rank ``max(1, ceil(q * n))`` in SQL (no ceil() in every SQLite)."""
    x = f"({q!r} * n)"
    return f"max(1, CAST({x} AS INTEGER) + ({x} > CAST({x} AS INTEGER)))"


def _time_ns(when: TimePoint, now_ns: int) -> int | None:
    """A time bound in ns since the epoch: a datetime (naive is UTC), a duration back
    from now (timedelta or ``"1h"``), or an int/float in seconds since the epoch."""
    if when is None:
        return None
    if isinstance(when, datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return int(when.timestamp() * 1e9)
    if isinstance(when, bool):
        raise InvalidInput(f"a time must be a datetime, timedelta, '1h' or seconds, got {when!r}")
    if isinstance(when, int | float):
        return int(when * 1e9)
    if isinstance(when, timedelta | str):
        try:
            back = parse_duration(when)
        except InvalidRetentionRule as exc:
            raise InvalidInput(str(exc)) from exc
        return now_ns - int(back.total_seconds() * 1e9)
    raise InvalidInput(f"a time must be a datetime, timedelta, '1h' or seconds, got {when!r}")


# ---------------------------------------------------------------- results


T = TypeVar("T")


class Rows(list[T]):
    """A list of result dataclasses; :meth:`to_pandas` makes a DataFrame of them.

    >>> Rows([Outcome("t", "success", None, None, "user", 0)])[0].label
    'success'
    """

    def to_pandas(self) -> Any:
        """A :class:`pandas.DataFrame`, one row per item (needs pandas)."""
        try:
            pd = importlib.import_module("pandas")
        except ImportError as exc:
            raise OptionalDependencyMissing("to_pandas() needs pandas: pip install pandas") from exc
        return pd.DataFrame([asdict(cast(Any, x)) for x in self])


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """One trace, as :meth:`SQLiteTraceStore.ls` lists it. ``outcome`` is the answer's
    (``covekit.outcome`` on the root: answered, refused, escalated); ``label`` the
    latest recorded with :meth:`SQLiteTraceStore.record_outcome`.

    >>> TraceSummary("t", 0, 1.0, "answer", None, None, None, None, None, 1, 0, 0, 0, 0.0).spans
    1
    """

    trace_id: str
    start_ns: int
    duration_ms: float | None
    root_name: str | None
    workflow: str | None
    model: str | None
    error_type: str | None
    outcome: str | None
    label: str | None
    spans: int
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    cost_usd: float | None

    @property
    def start(self) -> datetime:
        """The trace's start as an aware UTC datetime."""
        return datetime.fromtimestamp(self.start_ns / 1e9, tz=UTC)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One outcome label recorded for a trace.

    >>> Outcome("t", "success", 1.0, None, "reviewer", 0).source
    'reviewer'
    """

    trace_id: str
    label: str
    score: float | None
    comment: str | None
    source: str
    created_ns: int


@dataclass(frozen=True, slots=True)
class StepStats:
    """Latency of one step (span name): percentiles in milliseconds, error count.

    >>> StepStats("retrieve", 3, 1.0, 2.0, 2.0, 1.5, 0).p95_ms
    2.0
    """

    name: str
    count: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    errors: int


@dataclass(frozen=True, slots=True)
class GroupStats:
    """Requests (traces) of one workflow and model: tokens, cost, outcome rates and
    ``cost_per_success`` = total cost / requests with a success label (None if none).

    >>> GroupStats("w", "m", 2, 0, 0, 0, 0, 0, 0.5, 1).cost_per_success
    0.5
    """

    workflow: str | None
    model: str | None
    requests: int
    errors: int
    refusals: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cost_usd: float
    successes: int
    error_rate: float = field(init=False)
    refusal_rate: float = field(init=False)
    cost_per_success: float | None = field(init=False)

    def __post_init__(self) -> None:
        n = self.requests
        object.__setattr__(self, "error_rate", self.errors / n if n else 0.0)
        object.__setattr__(self, "refusal_rate", self.refusals / n if n else 0.0)
        cps = self.cost_usd / self.successes if self.successes else None
        object.__setattr__(self, "cost_per_success", cps)


@dataclass(frozen=True, slots=True)
class TraceStats:
    """What :meth:`SQLiteTraceStore.stats` returns: per step and per (workflow, model).

    >>> TraceStats(Rows(), Rows()).groups
    []
    """

    steps: Rows[StepStats]
    groups: Rows[GroupStats]


@dataclass(slots=True)
class StoreCounters:
    """What the store has done: spans written, dropped (queue full past
    ``queue_timeout``, or a batch that could not be written), attribute values that
    were not JSON and were stored as their ``repr``, and failed batch writes.

    >>> StoreCounters().written
    0
    """

    written: int = 0
    dropped: int = 0
    unserializable: int = 0
    write_errors: int = 0
    batches: int = 0


# ---------------------------------------------------------------- span -> row


def _first(attrs: dict[str, Any], keys: Sequence[str]) -> Any:
    for k in keys:
        v = attrs.get(k)
        if v is not None:
            return v
    return None


def _int_or_none(v: Any) -> int | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return int(v) if math.isfinite(v) else None


def _float_or_none(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if math.isfinite(v) else None


def _str_or_none(v: Any) -> str | None:
    return None if v is None else str(v)


class _Encoder:
    """JSON with a count of the values that had to be stored as their ``repr``."""

    def __init__(self) -> None:
        self.bad = 0
        self.dumps = json.JSONEncoder(
            default=self.default, ensure_ascii=False, separators=(",", ":")
        ).encode

    def default(self, o: Any) -> Any:
        self.bad += 1
        return repr(o)


_EXTRACTED = frozenset(
    (*_WORKFLOW_KEYS, *_MODEL_KEYS, *_USER_KEYS, *_INPUT_KEYS, *_OUTPUT_KEYS, *_CACHED_KEYS,
     _COST_KEY, *_COST_PARTS, _OUTCOME_KEY)
)  # fmt: skip


def _row(s: Span, enc: _Encoder) -> tuple[Any, ...]:
    if not (isinstance(s.trace_id, str) and isinstance(s.span_id, str) and isinstance(s.name, str)):
        raise TypeError("trace_id, span_id and name must be str")
    a = s.attributes
    workflow = model = user = outcome = None
    n_in = n_out = n_cached = None
    cost = None
    if not _EXTRACTED.isdisjoint(a):  # most spans carry none of these: skip the lookups
        workflow = _str_or_none(_first(a, _WORKFLOW_KEYS))
        model = _str_or_none(_first(a, _MODEL_KEYS))
        user = _str_or_none(_first(a, _USER_KEYS))
        outcome = _str_or_none(a.get(_OUTCOME_KEY))
        n_in = _int_or_none(_first(a, _INPUT_KEYS))
        n_out = _int_or_none(_first(a, _OUTPUT_KEYS))
        n_cached = _int_or_none(_first(a, _CACHED_KEYS))
        cost = _float_or_none(a.get(_COST_KEY))
        if cost is None:
            parts = [_float_or_none(a.get(k)) for k in _COST_PARTS]
            if any(p is not None for p in parts):
                cost = sum(p for p in parts if p is not None)
    error = None
    if s.status == "ERROR":
        error = _str_or_none(a.get("error.type")) or "error"
    end_ns = s.end_ns
    start_ns = int(s.start_ns)
    if end_ns is not None:
        end_ns = int(end_ns)
    return (
        s.trace_id,
        s.span_id,
        s.parent_id,
        s.name,
        start_ns,
        end_ns,
        None if end_ns is None else (end_ns - start_ns) / 1e6,
        s.status,
        s.status_message,
        error,
        workflow,
        model,
        user,
        outcome,
        n_in,
        n_out,
        n_cached,
        cost,
        enc.dumps(a) if a else "{}",
        enc.dumps([e.to_dict() for e in s.events]) if s.events else "[]",
    )


def _span_of(r: tuple[Any, ...]) -> Span:
    status: Status = r[7] if r[7] in ("UNSET", "OK", "ERROR") else "UNSET"
    return Span(
        r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[18]),
        [SpanEvent.from_dict(e) for e in json.loads(r[19])], status, r[8],
    )  # fmt: skip


# ---------------------------------------------------------------- the writer


class _Writer:
    """The connection, the queue and the background thread (no reference to the store,
    so an unreferenced store is collected and its finalizer flushes)."""

    def __init__(
        self,
        db: sqlite3.Connection,
        path: str,
        *,
        batch_size: int,
        max_queue: int,
        queue_timeout: float,
        flush_interval: float,
        read_only: bool,
    ) -> None:
        self.db = db
        self.path = path
        self.batch_size = batch_size
        self.max_queue = max_queue
        self.queue_timeout = queue_timeout
        self.flush_interval = flush_interval
        self.read_only = read_only
        self.lock = threading.Lock()  # the connection
        self.cond = threading.Condition()  # the queue
        self.queue: deque[Span] = deque()
        self.queued = 0  # spans put in the queue so far
        self.done = 0  # spans taken out of the queue and handled (written or dropped)
        self.counters = StoreCounters()
        self.closed = False
        self.thread: threading.Thread | None = None
        if not read_only:
            self.thread = threading.Thread(
                target=self._loop, name="covekit-trace-store", daemon=True
            )
            self.thread.start()

    # -- producer side
    def put(self, spans: Sequence[Span]) -> None:
        n = len(spans)
        if n == 0:
            return
        with self.cond:
            if self.closed or self.read_only:
                self.counters.dropped += n
                log.warning("trace store %s is %s: %d spans dropped", self.path,
                            "closed" if self.closed else "read-only", n)  # fmt: skip
                return
            if len(self.queue) + n > self.max_queue:
                deadline = time.monotonic() + self.queue_timeout
                while len(self.queue) + n > self.max_queue and not self.closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self.counters.dropped += n
                        log.warning("trace store %s: queue full, %d spans dropped",
                                    self.path, n)  # fmt: skip
                        return
                    self.cond.wait(left)
            self.queue.extend(spans)
            self.queued += n
            self.cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until every span queued so far is handled; False on timeout."""
        with self.cond:
            target = self.queued
            if self.thread is None or not self.thread.is_alive():
                return self.done >= target
            self.cond.notify_all()
            end = None if timeout is None else time.monotonic() + timeout
            while self.done < target:
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self.cond.wait(left if left is not None else 0.5)
                if self.thread is None or not self.thread.is_alive():
                    break
            return self.done >= target

    # -- consumer side
    def _loop(self) -> None:
        while True:
            with self.cond:
                if not self.queue and not self.closed:
                    self.cond.wait(self.flush_interval)
                if not self.queue:
                    if self.closed:
                        return
                    continue
                batch = [self.queue.popleft() for _ in range(min(self.batch_size, len(self.queue)))]
                self.cond.notify_all()  # room in the queue
            try:
                self._write(batch)
            except Exception as exc:  # a bug must not stop the writer: count, log, go on
                self.counters.dropped += len(batch)
                log.exception("trace store %s: %d spans dropped: %r", self.path, len(batch), exc)
            with self.cond:
                self.done += len(batch)
                self.cond.notify_all()

    def _write(self, batch: list[Span]) -> None:
        enc = _Encoder()
        rows: list[tuple[Any, ...]] = []
        for s in batch:
            try:
                rows.append(_row(s, enc))
            except Exception as exc:  # not a Span, or ids that are not text
                self.counters.dropped += 1
                log.warning("trace store %s: span dropped, not storable: %r", self.path, exc)
        traces = sorted({(r[0],) for r in rows})
        for attempt in range(3):
            try:
                with self.lock:
                    self.db.execute("BEGIN IMMEDIATE")
                    try:
                        self.db.executemany(_INSERT_SPAN, rows)
                        self.db.executemany(_UPSERT_TRACE, traces)
                        self.db.execute("COMMIT")
                    except BaseException:
                        self.db.execute("ROLLBACK")
                        raise
                self.counters.written += len(rows)
                self.counters.unserializable += enc.bad
                self.counters.batches += 1
                return
            except sqlite3.Error as exc:
                self.counters.write_errors += 1
                log.warning("trace store %s: batch of %d spans not written (attempt %d): %s",
                            self.path, len(rows), attempt + 1, exc)  # fmt: skip
                time.sleep(0.05 * (attempt + 1))
        self.counters.dropped += len(rows)

    def close(self) -> None:
        with self.cond:
            if self.closed:
                return
            self.closed = True
            self.cond.notify_all()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join()
        with self.lock:
            try:
                self.db.close()
            except sqlite3.Error:  # pragma: no cover - closing never fails in practice
                pass


# ---------------------------------------------------------------- the store


class SQLiteTraceStore:
    """Traces in an SQLite file (or ``":memory:"``), written by a background thread.

    Args:
        path: the file (its folder is created), or ``":memory:"``.
        retention: purge traces older than this on open (``"30d"``, a timedelta).
        busy_timeout: seconds to wait for another process's lock before
            :class:`~covekit.errors.TraceStoreLocked`.
        batch_size: spans per transaction, at most.
        max_queue: spans waiting to be written, at most; ``export`` then waits up to
            ``queue_timeout`` seconds for room and drops (counted) past that.
        flush_interval: seconds the writer waits for more spans when idle.
        read_only: open an existing file for queries only (no writer thread).

    Errors: :class:`~covekit.errors.TraceStoreCorrupt` (not SQLite, damaged, foreign
    tables), :class:`~covekit.errors.TraceStoreVersionError` (a newer schema),
    :class:`~covekit.errors.TraceStoreLocked`, :class:`~covekit.errors.TraceStoreReadOnly`
    (a path that cannot be written), :class:`~covekit.errors.TraceStoreError` otherwise.
    An attribute value that is not JSON is stored as its ``repr`` and counted in
    ``counters.unserializable``.

    >>> store = SQLiteTraceStore()
    >>> store.export([Span("a" * 32, "b" * 16, None, "answer", 0, 2_000_000, status="OK")])
    >>> store.flush()
    True
    >>> store.show("a" * 32).root.name, store.counters.written
    ('answer', 1)
    >>> store.close()
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        retention: timedelta | str | None = None,
        busy_timeout: float = 5.0,
        batch_size: int = 2000,
        max_queue: int = 1_000_000,
        queue_timeout: float = 1.0,
        flush_interval: float = 0.05,
        read_only: bool = False,
    ) -> None:
        for name, value in (("batch_size", batch_size), ("max_queue", max_queue)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(f"{name} must be an int >= 1, got {value!r}")
        for name, num in (
            ("busy_timeout", busy_timeout),
            ("queue_timeout", queue_timeout),
            ("flush_interval", flush_interval),
        ):
            if isinstance(num, bool) or not isinstance(num, int | float) or num < 0:
                raise InvalidInput(f"{name} must be >= 0 seconds, got {num!r}")
        self.retention = None if retention is None else parse_duration(retention)
        self.path = str(path)
        memory = self.path == ":memory:"
        if memory and read_only:
            raise InvalidInput("read_only=True needs a file, not ':memory:'")
        db = self._connect(memory, busy_timeout, read_only)
        try:
            self._guard(lambda: self._setup(db, memory, read_only))
        except BaseException:
            db.close()
            raise
        self._w = _Writer(
            db, self.path, batch_size=batch_size, max_queue=max_queue,
            queue_timeout=queue_timeout, flush_interval=flush_interval, read_only=read_only,
        )  # fmt: skip
        # Flushes at close(), when the store is collected, and at interpreter exit; holds
        # the writer, not the store, so it does not keep the store alive.
        self._finalizer = weakref.finalize(self, _Writer.close, self._w)
        if self.retention is not None and not read_only:
            self.purge(older_than=self.retention)

    # -- opening
    def _connect(self, memory: bool, busy_timeout: float, read_only: bool) -> sqlite3.Connection:
        try:
            if read_only:
                uri = Path(self.path).resolve().as_uri() + "?mode=ro"
                return sqlite3.connect(
                    uri, uri=True, timeout=busy_timeout, check_same_thread=False,
                    isolation_level=None,
                )  # fmt: skip
            if not memory:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            return sqlite3.connect(
                self.path, timeout=busy_timeout, check_same_thread=False, isolation_level=None
            )
        except OSError as exc:
            raise TraceStoreReadOnly(
                f"cannot create the trace store {self.path}: {exc}; pick a writable path",
                path=self.path,
            ) from exc
        except sqlite3.Error as exc:
            raise TraceStoreError(
                f"cannot open the trace store {self.path}: {exc}", path=self.path
            ) from exc

    def _setup(self, db: sqlite3.Connection, memory: bool, read_only: bool) -> None:
        db.execute("PRAGMA secure_delete=ON")  # deleted traces leave no bytes behind
        db.execute("PRAGMA cache_size=-32768")  # 32 MiB: the indexes of a large store
        db.execute("PRAGMA temp_store=MEMORY")  # the sorts of the percentiles
        if read_only:
            version = self._version(db)
            if version != SCHEMA_VERSION:
                self._check_version(version)
                raise TraceStoreError(
                    f"{self.path} has schema version {version}, older than {SCHEMA_VERSION}; "
                    "open it once without read_only=True to migrate it",
                    path=self.path,
                )
            return
        if not memory:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":  # pragma: no cover - a filesystem without WAL
                log.warning("trace store %s: journal mode %s, not WAL", self.path, mode)
            db.execute("PRAGMA synchronous=NORMAL")  # in WAL: survives a process crash
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS covekit_schema "
                "(version INTEGER NOT NULL, applied_ns INTEGER NOT NULL)"
            )
            version = self._version(db)
            self._check_version(version)
            if version == 0:
                tables = {
                    r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                }
                foreign = tables - {"covekit_schema"}
                if foreign:
                    raise TraceStoreCorrupt(
                        f"{self.path} is an SQLite file with other tables "
                        f"({', '.join(sorted(foreign))}), not a trace store; use another path",
                        path=self.path,
                    )
            for v in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[v]:
                    db.execute(statement)
                db.execute("INSERT INTO covekit_schema VALUES (?, ?)", (v + 1, time.time_ns()))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @staticmethod
    def _version(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT max(version) FROM covekit_schema").fetchone()
        return int(row[0] or 0)

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise TraceStoreVersionError(
                f"{self.path} has trace-store schema version {version}, newer than this "
                f"covekit's ({SCHEMA_VERSION}); upgrade covekit to read it",
                path=self.path, version=version, supported=SCHEMA_VERSION,
            )  # fmt: skip

    def _guard(self, work: Callable[[], T]) -> T:
        try:
            return work()
        except TraceStoreError:
            raise
        except sqlite3.OperationalError as exc:
            message = str(exc)
            if "locked" in message or "busy" in message:
                raise TraceStoreLocked(
                    f"the trace store {self.path} is locked by another connection: {message}",
                    path=self.path,
                ) from exc
            if "readonly" in message or "read-only" in message:
                raise TraceStoreReadOnly(
                    f"the trace store {self.path} cannot be written ({message}); open it "
                    "with read_only=True to query it",
                    path=self.path,
                ) from exc
            if "no such table" in message:
                raise TraceStoreCorrupt(
                    f"the trace store {self.path} lacks a table ({message})", path=self.path
                ) from exc
            raise TraceStoreError(
                f"the trace store {self.path}: {message}", path=self.path
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise TraceStoreCorrupt(
                f"the trace store {self.path} is not a usable SQLite database ({exc}); "
                "delete it or use another path",
                path=self.path,
            ) from exc

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        def work() -> list[tuple[Any, ...]]:
            with self._w.lock:
                return list(self._w.db.execute(sql, params).fetchall())

        return self._guard(work)

    def _transaction(self, statements: Iterable[tuple[str, Sequence[Any]]]) -> list[int]:
        """Runs the statements in one write transaction; the rows each changed."""
        self._check_writable()

        def work() -> list[int]:
            changed = []
            with self._w.lock:
                db = self._w.db
                db.execute("BEGIN IMMEDIATE")
                try:
                    for sql, params in statements:
                        changed.append(db.execute(sql, params).rowcount)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            return changed

        return self._guard(work)

    def _check_writable(self) -> None:
        if self._w.read_only:
            raise TraceStoreReadOnly(
                f"the trace store {self.path} was opened with read_only=True", path=self.path
            )
        if self._w.closed:
            raise TraceStoreError(f"the trace store {self.path} is closed", path=self.path)

    # -- SpanSink
    def export(self, spans: Sequence[Span]) -> None:
        """Queues finished spans for the writer; returns at once (waits at most
        ``queue_timeout`` when the queue is full, then drops and counts). Never raises."""
        try:
            self._w.put(list(spans))
        except Exception as exc:  # pragma: no cover - a sink never breaks a request
            log.warning("trace store %s: export failed: %r", self.path, exc)

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until everything exported so far is written (committed); False if
        ``timeout`` seconds passed first.

        >>> SQLiteTraceStore().flush()
        True
        """
        return self._w.flush(timeout)

    def shutdown(self) -> None:
        """Flushes and closes (the SpanSink name of :meth:`close`); idempotent.

        >>> SQLiteTraceStore().shutdown()
        """
        self.close()

    def close(self) -> None:
        """Writes what was queued, stops the writer and closes the file; idempotent.

        >>> s = SQLiteTraceStore(); s.close(); s.close()
        """
        self._finalizer()

    def __enter__(self) -> SQLiteTraceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<covekit.SQLiteTraceStore path={self.path!r} written={self.counters.written}>"

    @property
    def counters(self) -> StoreCounters:
        """Spans written, dropped, unserializable values, failed batch writes."""
        return self._w.counters

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._w.closed

    # -- outcomes, retention, deletion
    def record_outcome(
        self,
        trace_id: str,
        label: str,
        score: float | None = None,
        comment: str | None = None,
        source: OutcomeSource = "user",
    ) -> None:
        """Records an outcome label for a trace (it may arrive before the trace's spans
        are written); the latest label is the trace's ``label``. Written at once.

        >>> s = SQLiteTraceStore()
        >>> s.record_outcome("f" * 32, "success", score=1.0, source="eval")
        >>> [(o.label, o.source) for o in s.outcomes("f" * 32)]
        [('success', 'eval')]
        """
        if not isinstance(trace_id, str) or not trace_id:
            raise InvalidInput(f"trace_id must be a non-empty str, got {trace_id!r}")
        if not isinstance(label, str) or not label:
            raise InvalidInput(f"label must be a non-empty str, got {label!r}")
        if source not in _SOURCES:
            raise InvalidInput(f"source must be one of {', '.join(_SOURCES)}, got {source!r}")
        if score is not None and (
            isinstance(score, bool)
            or not isinstance(score, int | float)
            or not math.isfinite(score)
        ):
            raise InvalidInput(f"score must be a finite number or None, got {score!r}")
        if comment is not None and not isinstance(comment, str):
            raise InvalidInput(f"comment must be a str or None, got {comment!r}")
        self._transaction([
            ("INSERT INTO outcomes (trace_id, label, score, comment, source, created_ns) "
             "VALUES (?, ?, ?, ?, ?, ?)",
             (trace_id, label, None if score is None else float(score), comment, source,
              time.time_ns())),
            ("UPDATE traces SET label = ? WHERE trace_id = ?", (label, trace_id)),
        ])  # fmt: skip

    def outcomes(self, trace_id: str) -> Rows[Outcome]:
        """The outcomes recorded for a trace, oldest first.

        >>> SQLiteTraceStore().outcomes("0" * 32)
        []
        """
        rows = self._query(
            "SELECT trace_id, label, score, comment, source, created_ns FROM outcomes "
            "WHERE trace_id = ? ORDER BY id",
            (trace_id,),
        )
        return Rows(Outcome(*r) for r in rows)

    def purge(self, older_than: timedelta | str) -> int:
        """Deletes the traces that started more than ``older_than`` ago (a timedelta or
        ``"30d"``, ``"12h"``...), with their spans and outcomes; the number of traces.

        >>> s = SQLiteTraceStore()
        >>> s.export([Span("a" * 32, "b" * 16, None, "old", 0, 1)])
        >>> s.purge(older_than="30d")
        1
        """
        cutoff = time.time_ns() - int(parse_duration(older_than).total_seconds() * 1e9)
        return self._delete("start_ns < ?", (cutoff,))

    def delete(self, *, trace_id: str | None = None, user: str | None = None) -> int:
        """Deletes one trace, or every trace of a user (``covekit.user.id`` or
        ``enduser.id`` on a span), with spans and outcomes; the number of traces. The
        freed pages are zeroed (``secure_delete``) and the WAL is checkpointed, so the
        deleted values leave the file's bytes.

        >>> s = SQLiteTraceStore()
        >>> s.export([Span("a" * 32, "b" * 16, None, "q", 0, 1, {"enduser.id": "ada"})])
        >>> s.delete(user="ada"), s.ls()
        (1, [])
        """
        if (trace_id is None) == (user is None):
            raise InvalidInput("delete() takes exactly one of trace_id= or user=")
        if trace_id is not None:
            return self._delete("trace_id = ?", (trace_id,))
        return self._delete("user_id = ?", (user,))

    def _delete(self, where: str, params: tuple[Any, ...]) -> int:
        self._check_writable()
        self.flush()
        sub = f"SELECT trace_id FROM traces WHERE {where}"
        changed = self._transaction([
            (f"DELETE FROM spans WHERE trace_id IN ({sub})", params),
            (f"DELETE FROM outcomes WHERE trace_id IN ({sub})", params),
            (f"DELETE FROM traces WHERE {where}", params),
        ])  # fmt: skip
        self._query("PRAGMA wal_checkpoint(TRUNCATE)")
        return changed[-1]

    # -- queries
    def ls(
        self,
        *,
        workflow: str | None = None,
        model: str | None = None,
        outcome: str | None = None,
        error: bool | str | None = None,
        since: TimePoint = None,
        until: TimePoint = None,
        limit: int | None = 50,
    ) -> Rows[TraceSummary]:
        """Traces, newest first. ``outcome`` matches the recorded label or the answer's
        outcome (answered, refused, escalated); ``error`` True/False for traces with or
        without an error span, or an ``error.type``; ``since``/``until`` a datetime, a
        duration back from now (``"1h"``) or epoch seconds.

        >>> SQLiteTraceStore().ls(workflow="support", error=True, since="1h")
        []
        """
        where, params = self._filters(workflow, model, since, until)
        if outcome is not None:
            where.append("(label = ? OR outcome = ?)")
            params += [outcome, outcome]
        if error is True:
            where.append("error_type IS NOT NULL")
        elif error is False:
            where.append("error_type IS NULL")
        elif isinstance(error, str):
            where.append("error_type = ?")
            params.append(error)
        elif error is not None:
            raise InvalidInput(f"error must be True, False, an error type or None, got {error!r}")
        sql = (
            "SELECT trace_id, start_ns, duration_ms, root_name, workflow, model, error_type, "
            "outcome, label, spans, input_tokens, output_tokens, cached_input_tokens, cost_usd "
            "FROM traces"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY start_ns DESC"
        )
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise InvalidInput(f"limit must be an int >= 0 or None, got {limit!r}")
            sql += f" LIMIT {int(limit)}"
        self.flush()
        return Rows(TraceSummary(*r) for r in self._query(sql, params))

    def _filters(
        self, workflow: str | None, model: str | None, since: TimePoint, until: TimePoint
    ) -> tuple[list[str], list[Any]]:
        now = time.time_ns()
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("workflow", workflow), ("model", model)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        lo, hi = _time_ns(since, now), _time_ns(until, now)
        if lo is not None:
            where.append("start_ns >= ?")
            params.append(lo)
        if hi is not None:
            where.append("start_ns < ?")
            params.append(hi)
        return where, params

    def show(self, trace_id: str) -> Trace:
        """The trace back, its spans in the order they started
        (:class:`~covekit.errors.UnknownTrace` if the store does not hold it).

        >>> s = SQLiteTraceStore()
        >>> s.export([Span("a" * 32, "b" * 16, None, "answer", 5, 9, {"k": [1, 2]})])
        >>> s.show("a" * 32).spans[0].attributes
        {'k': [1, 2]}
        """
        self.flush()
        rows = self._query(
            f"SELECT {_SPAN_COLUMNS} FROM spans WHERE trace_id = ? ORDER BY start_ns, rowid",
            (trace_id,),
        )
        if not rows:
            raise UnknownTrace(f"no trace {trace_id} in this store", path=self.path)
        return Trace(trace_id, tuple(_span_of(r) for r in rows))

    def traces(self, **filters: Any) -> Iterator[Trace]:
        """The traces :meth:`ls` lists (same filters, ``limit=None`` by default), whole.

        >>> list(SQLiteTraceStore().traces())
        []
        """
        filters.setdefault("limit", None)
        for summary in self.ls(**filters):
            yield self.show(summary.trace_id)

    def stats(
        self,
        *,
        workflow: str | None = None,
        model: str | None = None,
        since: TimePoint = None,
        until: TimePoint = None,
        success_labels: Sequence[str] = SUCCESS_LABELS,
    ) -> TraceStats:
        """SQL aggregates over the stored traces: latency percentiles (p50/p95/p99, ms)
        per step, and per (workflow, model) requests, tokens, cost, error and refusal
        rates and cost per successful outcome (total cost / requests whose latest label
        is one of ``success_labels``).

        >>> SQLiteTraceStore().stats().steps
        []
        """
        self.flush()
        where, params = self._filters(workflow, model, since, until)
        labels = list(success_labels)
        marks = ", ".join("?" * len(labels)) or "NULL"
        groups_sql = (
            "SELECT workflow, model, count(*), count(error_type), "
            "sum(outcome = 'refused'), coalesce(sum(input_tokens), 0), "
            "coalesce(sum(output_tokens), 0), coalesce(sum(cached_input_tokens), 0), "
            f"coalesce(sum(cost_usd), 0.0), sum(label IN ({marks})) FROM traces"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " GROUP BY workflow, model ORDER BY workflow, model"
        )
        groups = Rows(
            GroupStats(r[0], r[1], r[2], r[3], int(r[4] or 0), r[5], r[6], r[7], r[8],
                       int(r[9] or 0))
            for r in self._query(groups_sql, labels + params)
        )  # fmt: skip
        # Steps: spans filtered by time directly (the index holds start_ns), by workflow
        # and model through their trace.
        swhere: list[str] = ["duration_ms IS NOT NULL"]
        sparams: list[Any] = []
        now = time.time_ns()
        lo, hi = _time_ns(since, now), _time_ns(until, now)
        if lo is not None:
            swhere.append("start_ns >= ?")
            sparams.append(lo)
        if hi is not None:
            swhere.append("start_ns < ?")
            sparams.append(hi)
        twhere = [w for w in where if not w.startswith("start_ns")]
        if twhere:
            swhere.append(
                "trace_id IN (SELECT trace_id FROM traces WHERE " + " AND ".join(twhere) + ")"
            )
            sparams += [
                p for w, p in zip(where, params, strict=False) if not w.startswith("start_ns")
            ]
        cond = " AND ".join(swhere)
        counts = self._query(
            f"SELECT name, count(*), avg(duration_ms), sum(status = 'ERROR') FROM spans "
            f"WHERE {cond} GROUP BY name ORDER BY name",
            sparams,
        )
        steps: Rows[StepStats] = Rows()
        if twhere:  # a filter through the traces: one pass, percentiles by window functions
            ranked = self._query(
                "SELECT name, duration_ms, rn, n FROM (SELECT name, duration_ms, "
                "row_number() OVER (PARTITION BY name ORDER BY duration_ms) AS rn, "
                f"count(*) OVER (PARTITION BY name) AS n FROM spans WHERE {cond}) "
                f"WHERE rn IN ({_rank_sql(0.50)}, {_rank_sql(0.95)}, {_rank_sql(0.99)})",
                sparams,
            )
            at: dict[tuple[str, int], float] = {(r[0], r[2]): r[1] for r in ranked}
        pick = (
            f"SELECT duration_ms FROM spans WHERE name = ? AND {cond} "
            "ORDER BY duration_ms LIMIT 1 OFFSET ?"
        )
        pick_desc = pick.replace("ORDER BY duration_ms", "ORDER BY duration_ms DESC")
        for name, n, mean, errors in counts:
            pct: list[float | None] = []
            for q in (0.50, 0.95, 0.99):
                k = max(0, math.ceil(q * n) - 1)  # nearest rank, 0-based
                if twhere:
                    pct.append(at.get((name, k + 1)))
                elif 2 * k < n:  # the (name, duration_ms, ...) index walks to the rank
                    row = self._query(pick, [name, *sparams, k])
                    pct.append(row[0][0] if row else None)
                else:  # from the top: p99 walks 1% of the entries, not 99%
                    row = self._query(pick_desc, [name, *sparams, n - 1 - k])
                    pct.append(row[0][0] if row else None)
            steps.append(StepStats(name, n, pct[0], pct[1], pct[2], mean, int(errors or 0)))
        return TraceStats(steps, groups)

    def export_jsonl(self, path: str | os.PathLike[str], **filters: Any) -> int:
        """Writes the traces :meth:`ls` lists (same filters) to a JSONL file, one trace a
        line (``Trace.to_dict()`` plus its ``outcomes``); the number of traces. Spans are
        stored after the tracer's privacy policy, so the file holds what the store holds.

        >>> import tempfile, pathlib
        >>> s = SQLiteTraceStore()
        >>> s.export([Span("a" * 32, "b" * 16, None, "answer", 5, 9)])
        >>> s.export_jsonl(pathlib.Path(tempfile.mkdtemp()) / "t.jsonl")
        1
        """
        n = 0
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for trace in self.traces(**filters):
                d = trace.to_dict()
                d["outcomes"] = [asdict(o) for o in self.outcomes(trace.trace_id)]
                f.write(json.dumps(d, ensure_ascii=False, default=repr) + "\n")
                n += 1
        os.replace(tmp, out)
        return n
