"""SQLiteTraceStore: storage, columns, queries, outcomes, retention, deletion, bad files,
and nothing lost (threads, interpreter exit, SIGKILL)."""

from __future__ import annotations

import gc
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from covekit.errors import (
    CovekitError,
    InvalidInput,
    InvalidRetentionRule,
    TraceStoreCorrupt,
    TraceStoreError,
    TraceStoreLocked,
    TraceStoreReadOnly,
    TraceStoreVersionError,
    UnknownTrace,
)
from covekit.observe.sink import SpanSink
from covekit.observe.store import (
    _MIGRATIONS,
    SCHEMA_VERSION,
    SQLiteTraceStore,
    parse_duration,
)
from covekit.observe.trace import Span, SpanEvent, Tracer

#: Starts threads and processes, and the writer thread of each store.
pytestmark = pytest.mark.thread_unsafe

REPO = Path(__file__).resolve().parent.parent
NOW = time.time_ns()
MS = 1_000_000


def tid(i: int) -> str:
    return f"{i:032x}"


def sid(i: int) -> str:
    return f"{i:016x}"


def request(
    i: int,
    *,
    workflow: str = "support",
    model: str = "m1",
    start: int | None = None,
    chat_ms: int = 10,
    cost: float | None = 0.01,
    outcome: str = "answered",
    error: str | None = None,
    user: str | None = None,
) -> list[Span]:
    """One trace: a root, a route span (the workflow) and a chat span (the model)."""
    t0 = NOW - 60 * 1_000_000_000 + i * MS if start is None else start
    root_attrs: dict[str, object] = {"covekit.outcome": outcome}
    if user is not None:
        root_attrs["enduser.id"] = user
    chat: dict[str, object] = {
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 20,
        "gen_ai.usage.cache_read.input_tokens": 40,
    }
    if cost is not None:
        chat["covekit.cost_usd"] = cost
    chat_span = Span(tid(i), sid(3), sid(1), "chat", t0 + 2 * MS, t0 + (2 + chat_ms) * MS, chat)
    chat_span.status = "OK"
    if error is not None:
        chat_span.status = "ERROR"
        chat_span.status_message = "boom"
        chat_span.attributes["error.type"] = error
    return [
        Span(tid(i), sid(1), None, "answer", t0, t0 + (chat_ms + 5) * MS, root_attrs, status="OK"),
        Span(
            tid(i),
            sid(2),
            sid(1),
            "route",
            t0 + MS,
            t0 + 2 * MS,
            {"covekit.route.workflow": workflow},
            status="OK",
        ),
        chat_span,
    ]


@pytest.fixture
def store() -> SQLiteTraceStore:
    return SQLiteTraceStore()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "traces.sqlite"


# ---------------------------------------------------------------- round trip and columns


def test_is_a_span_sink(store: SQLiteTraceStore) -> None:
    assert isinstance(store, SpanSink)


def test_round_trip_keeps_every_field(store: SQLiteTraceStore) -> None:
    spans = request(1)
    spans[2].events.append(SpanEvent("reask", NOW, {"attempt": 2, "why": ["schema"]}))
    spans[0].attributes["nested"] = {"a": [1, 2.5, None, True], "é": "ü"}
    store.export(spans)
    back = store.show(tid(1))
    assert back.trace_id == tid(1)
    assert list(back.spans) == spans
    assert back.root.name == "answer"


def test_tracer_spans_round_trip(store: SQLiteTraceStore) -> None:
    tracer = Tracer()
    with tracer.span("answer"), tracer.span("retrieve", {"gen_ai.request.top_k": 5}):
        pass
    with pytest.raises(RuntimeError), tracer.span("tool"):
        raise RuntimeError("x")
    store.export(tracer.trace().spans)
    assert store.show(tracer.trace_id) == tracer.trace()
    [summary] = store.ls()
    assert summary.error_type == "RuntimeError"


def test_columns_and_trace_summary(store: SQLiteTraceStore) -> None:
    store.export(request(1, workflow="billing", model="gpt-x", cost=0.25, user="ada"))
    [t] = store.ls()
    assert (t.trace_id, t.root_name, t.workflow, t.model, t.spans) == (
        tid(1), "answer", "billing", "gpt-x", 3
    )  # fmt: skip
    assert (t.input_tokens, t.output_tokens, t.cached_input_tokens) == (100, 20, 40)
    assert t.cost_usd == pytest.approx(0.25)
    assert t.duration_ms == pytest.approx(15.0)
    assert t.outcome == "answered" and t.label is None and t.error_type is None
    assert t.start.tzinfo is UTC
    row = store._query("SELECT user_id FROM traces")
    assert row == [("ada",)]


def test_cost_components_when_no_cost_column(store: SQLiteTraceStore) -> None:
    spans = request(1, cost=None)
    spans[2].attributes.update({
        "covekit.cost.input_usd": 0.006,   # 60 uncached input tokens at the input price
        "covekit.cost.cached_input_usd": 0.001,  # 40 cached tokens at the cached price
        "covekit.cost.output_usd": 0.004,
    })  # fmt: skip
    store.export(spans)
    assert store.ls()[0].cost_usd == pytest.approx(0.011)
    store.export(request(2, cost=None))
    assert store.ls()[0].cost_usd is None


def test_spans_of_one_trace_in_pieces_and_twice(store: SQLiteTraceStore) -> None:
    spans = request(1)
    store.export(spans[1:])
    store.export(spans[:1])
    store.export(spans)  # exported again: stored once, the summary stays exact
    [t] = store.ls()
    assert t.spans == 3 and t.root_name == "answer" and t.input_tokens == 100
    assert len(store.show(tid(1)).spans) == 3


def test_non_serializable_attribute_stored_as_repr_and_counted(store: SQLiteTraceStore) -> None:
    class Thing:
        def __repr__(self) -> str:
            return "<Thing>"

    spans = request(1)
    spans[0].attributes["obj"] = Thing()
    spans[0].attributes["set"] = {1}
    store.export(spans)
    store.flush()
    assert store.counters.unserializable == 2
    attrs = store.show(tid(1)).root.attributes
    assert attrs["obj"] == "<Thing>" and attrs["set"] == "{1}"


def test_not_a_span_is_dropped_and_counted(store: SQLiteTraceStore) -> None:
    store.export([object(), *request(1)])  # type: ignore[list-item]
    store.flush()
    assert store.counters.dropped == 1 and store.counters.written == 3


def test_empty_export_and_repr(store: SQLiteTraceStore) -> None:
    store.export([])
    assert store.flush() and store.ls() == []
    assert "SQLiteTraceStore" in repr(store)


# ---------------------------------------------------------------- queries


@pytest.fixture
def filled(store: SQLiteTraceStore) -> SQLiteTraceStore:
    store.export(request(1, workflow="support", model="a", chat_ms=10))
    store.export(request(2, workflow="support", model="b", chat_ms=20, outcome="refused"))
    store.export(request(3, workflow="billing", model="a", chat_ms=30, error="Timeout"))
    store.export(request(4, workflow="billing", model="a", chat_ms=40))
    old = NOW - 10 * 86400 * 1_000_000_000
    store.export(request(5, workflow="support", model="a", chat_ms=50, start=old))
    return store


def ids(rows: list[object]) -> list[str]:
    return [r.trace_id for r in rows]  # type: ignore[attr-defined]


def test_ls_filters(filled: SQLiteTraceStore) -> None:
    assert ids(filled.ls()) == [tid(4), tid(3), tid(2), tid(1), tid(5)]  # newest first
    assert ids(filled.ls(workflow="billing")) == [tid(4), tid(3)]
    assert ids(filled.ls(model="b")) == [tid(2)]
    assert ids(filled.ls(outcome="refused")) == [tid(2)]
    assert ids(filled.ls(error=True)) == [tid(3)]
    assert ids(filled.ls(error="Timeout")) == [tid(3)]
    assert ids(filled.ls(error="Other")) == []
    assert tid(3) not in ids(filled.ls(error=False))
    assert ids(filled.ls(since="1d")) == [tid(4), tid(3), tid(2), tid(1)]
    assert ids(filled.ls(until=timedelta(days=1))) == [tid(5)]
    assert ids(filled.ls(since=datetime.now(UTC) - timedelta(days=2))) == ids(filled.ls(since="2d"))
    assert ids(filled.ls(until=NOW / 1e9 - 86400)) == [tid(5)]
    assert ids(filled.ls(limit=2)) == [tid(4), tid(3)]
    assert len(filled.ls(limit=None)) == 5
    assert ids(filled.ls(workflow="support", model="a", since="1d")) == [tid(1)]


def test_ls_bad_arguments(filled: SQLiteTraceStore) -> None:
    for kwargs in ({"limit": -1}, {"error": 3}, {"since": "yesterday"}, {"since": True},
                   {"until": [1]}):  # fmt: skip
        with pytest.raises(InvalidInput):
            filled.ls(**kwargs)  # type: ignore[arg-type]


def test_show_unknown_trace(store: SQLiteTraceStore) -> None:
    with pytest.raises(UnknownTrace) as info:
        store.show("nope")
    assert isinstance(info.value, KeyError) and isinstance(info.value, CovekitError)


def test_stats_percentiles_nearest_rank(store: SQLiteTraceStore) -> None:
    for i in range(1, 101):  # chat durations 1..100 ms
        store.export(request(i, chat_ms=i))
    steps = {s.name: s for s in store.stats().steps}
    chat = steps["chat"]
    assert (chat.count, chat.p50_ms, chat.p95_ms, chat.p99_ms) == (100, 50.0, 95.0, 99.0)
    assert chat.mean_ms == pytest.approx(50.5)
    assert steps["route"].p99_ms == 1.0
    assert set(steps) == {"answer", "chat", "route"}


def test_stats_groups_rates_and_cost_per_success(filled: SQLiteTraceStore) -> None:
    filled.record_outcome(tid(1), "success")
    filled.record_outcome(tid(4), "bad")
    filled.record_outcome(tid(4), "success", source="reviewer")  # the latest label wins
    filled.record_outcome(tid(3), "success")
    filled.record_outcome(tid(3), "wrong", source="eval")
    stats = filled.stats()
    groups = {(g.workflow, g.model): g for g in stats.groups}
    assert set(groups) == {("billing", "a"), ("support", "a"), ("support", "b")}
    billing = groups["billing", "a"]
    assert (billing.requests, billing.errors, billing.successes) == (2, 1, 1)
    assert billing.error_rate == 0.5 and billing.refusal_rate == 0.0
    assert billing.cost_usd == pytest.approx(0.02)
    assert billing.cost_per_success == pytest.approx(0.02)
    support_a = groups["support", "a"]
    assert (support_a.requests, support_a.successes) == (2, 1)
    assert (support_a.input_tokens, support_a.cached_input_tokens) == (200, 80)
    support_b = groups["support", "b"]
    assert support_b.refusal_rate == 1.0 and support_b.cost_per_success is None
    chat = {s.name: s for s in stats.steps}["chat"]
    assert (chat.count, chat.errors) == (5, 1)


def test_stats_filters(filled: SQLiteTraceStore) -> None:
    recent = filled.stats(since="1d")
    assert sum(g.requests for g in recent.groups) == 4
    chat = {s.name: s for s in recent.steps}["chat"]
    assert chat.count == 4 and chat.p99_ms == 40.0
    billing = filled.stats(workflow="billing")
    assert [(g.workflow, g.requests) for g in billing.groups] == [("billing", 2)]
    chat = {s.name: s for s in billing.steps}["chat"]
    assert (chat.count, chat.p50_ms, chat.p99_ms) == (2, 30.0, 40.0)
    only = filled.stats(workflow="support", model="a", since="1d")
    assert {s.name: s.count for s in only.steps} == {"answer": 1, "chat": 1, "route": 1}
    none = filled.stats(success_labels=())
    assert all(g.successes == 0 for g in none.groups)


def test_to_pandas(filled: SQLiteTraceStore) -> None:
    pytest.importorskip("pandas", reason="pandas is not installed")
    df = filled.ls().to_pandas()
    assert list(df["trace_id"])[:2] == [tid(4), tid(3)]
    groups = filled.stats().groups.to_pandas()
    assert "cost_per_success" in groups.columns and len(groups) == 3


def test_export_jsonl(filled: SQLiteTraceStore, tmp_path: Path) -> None:
    filled.record_outcome(tid(2), "success", score=0.9, comment="ok")
    out = tmp_path / "sub" / "golden.jsonl"
    assert filled.export_jsonl(out, workflow="support") == 3
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [d["trace_id"] for d in lines] == [tid(2), tid(1), tid(5)]
    assert lines[0]["outcomes"][0]["label"] == "success"
    assert lines[0]["outcomes"][0]["score"] == 0.9
    assert len(lines[0]["spans"]) == 3
    assert not (tmp_path / "sub" / "golden.jsonl.tmp").exists()


# ---------------------------------------------------------------- outcomes


def test_record_outcome_before_the_trace_arrives(store: SQLiteTraceStore) -> None:
    store.record_outcome(tid(7), "success", score=1, comment="great", source="user")
    store.export(request(7))
    [t] = store.ls()
    assert t.label == "success"
    [o] = store.outcomes(tid(7))
    assert (o.label, o.score, o.comment, o.source) == ("success", 1.0, "great", "user")
    assert ids(store.ls(outcome="success")) == [tid(7)]


def test_record_outcome_bad_input(store: SQLiteTraceStore) -> None:
    for args, kwargs in (
        (("", "success"), {}),
        ((tid(1), ""), {}),
        ((tid(1), "ok"), {"source": "robot"}),
        ((tid(1), "ok"), {"score": float("nan")}),
        ((tid(1), "ok"), {"score": "high"}),
        ((tid(1), "ok"), {"comment": 3}),
    ):
        with pytest.raises(InvalidInput):
            store.record_outcome(*args, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- retention and deletion


def test_parse_duration() -> None:
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration(" 12h ") == timedelta(hours=12)
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("45s") == timedelta(seconds=45)
    assert parse_duration("2w") == timedelta(weeks=2)
    assert parse_duration(timedelta(hours=1)) == timedelta(hours=1)
    for bad in ("30", "d", "30 days", "-1d", "0d", "", "1y", timedelta(0), 30, None):
        with pytest.raises(InvalidRetentionRule) as info:
            parse_duration(bad)  # type: ignore[arg-type]
        assert isinstance(info.value, ValueError) and "30d" in str(info.value)


def test_purge(filled: SQLiteTraceStore) -> None:
    filled.record_outcome(tid(5), "success")
    assert filled.purge(older_than="7d") == 1
    assert tid(5) not in ids(filled.ls())
    assert filled.outcomes(tid(5)) == []
    assert filled.purge(older_than=timedelta(days=7)) == 0
    with pytest.raises(InvalidRetentionRule):
        filled.purge(older_than="a week")
    assert len(filled.ls()) == 4


def test_retention_runs_on_open(path: Path) -> None:
    with SQLiteTraceStore(path) as s:
        s.export(request(1, start=NOW - 40 * 86400 * 1_000_000_000))
        s.export(request(2))
    with SQLiteTraceStore(path, retention="30d") as s:
        assert ids(s.ls()) == [tid(2)]
    with pytest.raises(InvalidRetentionRule):
        SQLiteTraceStore(path, retention="forever")


def test_delete_by_trace_and_user_leaves_no_bytes(path: Path) -> None:
    secret = "ada-lovelace-8f3a"
    with SQLiteTraceStore(path) as s:
        s.export(request(1, user=secret))
        s.export(request(2, user="bob"))
        s.export(request(3, user=secret))
        s.export(request(4))
        s.flush()
        assert s.delete(user=secret) == 2
        assert s.delete(trace_id=tid(4)) == 1
        assert s.delete(trace_id=tid(4)) == 0
        assert ids(s.ls()) == [tid(2)]
        with pytest.raises(InvalidInput):
            s.delete()
        with pytest.raises(InvalidInput):
            s.delete(trace_id=tid(2), user="bob")
        raw = b"".join(p.read_bytes() for p in path.parent.iterdir())
        assert secret.encode() not in raw
        assert tid(4).encode() not in raw


# ---------------------------------------------------------------- schema, bad files


def test_schema_version_and_wal(path: Path) -> None:
    SQLiteTraceStore(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT max(version) FROM covekit_schema").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    for name in ("traces_time", "traces_workflow", "traces_model", "traces_label",
                 "traces_outcome", "traces_error", "spans_trace"):  # fmt: skip
        assert name in indexes
    db.close()


def test_migrates_an_older_file(path: Path) -> None:
    with sqlite3.connect(path) as db:  # a file of schema version 1
        db.execute("CREATE TABLE covekit_schema (version INTEGER NOT NULL, applied_ns INTEGER)")
        for statement in _MIGRATIONS[0]:
            db.execute(statement)
        db.execute("INSERT INTO covekit_schema VALUES (1, 0)")
        db.execute(
            "INSERT INTO spans (trace_id, span_id, name, start_ns, status, status_message, "
            "attributes, events) VALUES (?, ?, 'old', 1, 'OK', '', '{}', '[]')",
            (tid(9), sid(1)),
        )
    db.close()
    with SQLiteTraceStore(path) as s:
        assert s.show(tid(9)).root.name == "old"
        s.export(request(1))
        assert tid(1) in ids(s.ls())
    with sqlite3.connect(path) as db:
        versions = [r[0] for r in db.execute("SELECT version FROM covekit_schema ORDER BY 1")]
    db.close()
    assert versions == list(range(1, SCHEMA_VERSION + 1))


def test_newer_schema_version(path: Path) -> None:
    SQLiteTraceStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO covekit_schema VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    db.close()
    for read_only in (False, True):
        with pytest.raises(TraceStoreVersionError) as info:
            SQLiteTraceStore(path, read_only=read_only)
        assert info.value.version == SCHEMA_VERSION + 1
        assert info.value.supported == SCHEMA_VERSION
        assert "upgrade covekit" in str(info.value)


def test_corrupt_file(path: Path) -> None:
    path.write_bytes(b"this is not an SQLite file, " * 200)
    with pytest.raises(TraceStoreCorrupt) as info:
        SQLiteTraceStore(path)
    assert info.value.path == str(path) and isinstance(info.value, ValueError)


def test_damaged_sqlite_file(path: Path) -> None:
    with SQLiteTraceStore(path) as s:
        for i in range(200):
            s.export(request(i))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(path.read_bytes())
    data[100 : len(data) // 2] = b"\xff" * (len(data) // 2 - 100)  # header kept, pages broken
    path.write_bytes(bytes(data))
    with pytest.raises(TraceStoreError):  # corrupt, or unusable, but a clear covekit error
        s = SQLiteTraceStore(path)
        s.ls()
        s.stats()


def test_foreign_sqlite_file(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER)")
    db.close()
    with pytest.raises(TraceStoreCorrupt, match="customers"):
        SQLiteTraceStore(path)


def test_locked_by_another_process(path: Path) -> None:
    SQLiteTraceStore(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sqlite3, sys, time
            db = sqlite3.connect({str(path)!r}, isolation_level=None)
            db.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        with pytest.raises(TraceStoreLocked) as info:
            SQLiteTraceStore(path, busy_timeout=0.3)
        assert time.monotonic() - t0 >= 0.25  # it waited for the busy timeout first
        assert "locked" in str(info.value)
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(10)
        holder.stdin.close()
        assert holder.stdout is not None
        holder.stdout.close()
    SQLiteTraceStore(path, busy_timeout=0.3).close()  # free again


def test_path_that_cannot_be_created() -> None:
    with pytest.raises(TraceStoreReadOnly) as info:
        SQLiteTraceStore("/proc/covekit-no-such-dir/traces.sqlite")
    assert isinstance(info.value, PermissionError) and "writable" in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files anyway")
def test_read_only_file(path: Path) -> None:
    SQLiteTraceStore(path).close()
    path.parent.chmod(0o555)
    try:
        with pytest.raises(TraceStoreReadOnly):
            SQLiteTraceStore(path)
    finally:
        path.parent.chmod(0o755)


def test_read_only_mode(path: Path) -> None:
    with SQLiteTraceStore(path) as s:
        s.export(request(1))
    with SQLiteTraceStore(path, read_only=True) as ro:
        assert ids(ro.ls()) == [tid(1)] and ro.stats().groups[0].requests == 1
        ro.export(request(2))  # never raises: dropped and counted
        assert ro.counters.dropped == 3
        with pytest.raises(TraceStoreReadOnly):
            ro.record_outcome(tid(1), "success")
        with pytest.raises(TraceStoreReadOnly):
            ro.purge(older_than="1d")
    with pytest.raises(TraceStoreError):
        SQLiteTraceStore(path.parent / "missing.sqlite", read_only=True)
    with pytest.raises(InvalidInput):
        SQLiteTraceStore(":memory:", read_only=True)


def test_bad_constructor_arguments() -> None:
    for kwargs in ({"batch_size": 0}, {"max_queue": True}, {"busy_timeout": -1},
                   {"queue_timeout": "1"}, {"flush_interval": -0.1}):  # fmt: skip
        with pytest.raises(InvalidInput):
            SQLiteTraceStore(**kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- writer behaviour


def test_queue_full_drops_and_counts_without_raising() -> None:
    s = SQLiteTraceStore(max_queue=4, queue_timeout=0.05)
    with s._w.lock:  # the writer cannot write: the queue fills up
        s.export(request(1))
        deadline = time.monotonic() + 30
        while s._w.queue and time.monotonic() < deadline:  # the writer takes the first
            time.sleep(0.01)  # batch, then waits for the lock
        s.export(request(2))
        t0 = time.monotonic()
        s.export(request(3))  # no room: waits queue_timeout, then drops
        assert time.monotonic() - t0 < 1.0
    s.flush()
    assert s.counters.dropped == 3 and s.counters.written == 6
    s.close()


def test_export_after_close_is_counted(store: SQLiteTraceStore) -> None:
    store.close()
    assert store.closed
    store.export(request(1))
    assert store.counters.dropped == 3
    with pytest.raises(TraceStoreError):
        store.record_outcome(tid(1), "success")
    store.shutdown()  # idempotent


def test_durable_on_close(path: Path) -> None:
    s = SQLiteTraceStore(path, flush_interval=5.0)
    for i in range(50):
        s.export(request(i))
    s.close()
    with SQLiteTraceStore(path) as again:
        assert len(again.ls(limit=None)) == 50


def test_collected_store_flushes_and_does_not_stay_alive(path: Path) -> None:
    s = SQLiteTraceStore(path)
    s.export(request(1))
    ref = weakref.ref(s)
    del s
    gc.collect()
    assert ref() is None  # the writer thread does not keep the store alive
    with SQLiteTraceStore(path) as again:
        assert ids(again.ls()) == [tid(1)]


def _run(code: str, path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "python")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), str(path)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def test_durable_at_interpreter_exit(path: Path) -> None:
    result = _run(
        """
        import sys
        from covekit.observe.store import SQLiteTraceStore
        from covekit.observe.trace import Span
        store = SQLiteTraceStore(sys.argv[1], flush_interval=10.0)
        for i in range(3000):
            store.export([Span(f"{i:032x}", "0" * 16, None, "answer", 1, 2)])
        # no close(): the atexit finalizer writes the queue
        """,
        path,
    )
    assert result.returncode == 0, result.stderr
    with SQLiteTraceStore(path) as s:
        assert len(s.ls(limit=None)) == 3000


def test_many_threads_nothing_lost(path: Path) -> None:
    threads, per_thread = 8, 2500
    s = SQLiteTraceStore(path, batch_size=500)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for j in range(per_thread):
                i = t * per_thread + j
                s.export([Span(tid(i), sid(j), None, f"step{j % 7}", NOW, NOW + j, {"t": t})])
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    reader_counts = [len(s.ls(limit=10)) for _ in range(5)]  # queries while writing
    for w in workers:
        w.join()
    s.close()
    assert errors == [] and all(n <= 10 for n in reader_counts)
    assert s.counters.written == threads * per_thread and s.counters.dropped == 0
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM spans").fetchone()[0] == threads * per_thread
        assert db.execute("SELECT count(DISTINCT trace_id) FROM traces").fetchone()[0] == (
            threads * per_thread
        )
    db.close()


def test_sigkill_while_writing_loses_no_committed_span(path: Path) -> None:
    code = """
        import sys
        from covekit.observe.store import SQLiteTraceStore
        from covekit.observe.trace import Span
        store = SQLiteTraceStore(sys.argv[1], batch_size=200)
        i = 0
        while True:
            for _ in range(50):
                t = f"{i:032x}"
                store.export([Span(t, f"{k:016x}", None if k == 0 else "0" * 16,
                                   "answer" if k == 0 else "step", i, i + k, {"k": k})
                              for k in range(4)])
                i += 1
            store.flush()
            print(i, flush=True)  # every trace below i is committed
        """
    env = {**os.environ, "PYTHONPATH": str(REPO / "python")}
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), str(path)],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    committed = 0
    assert proc.stdout is not None
    try:
        while committed < 3000:
            line = proc.stdout.readline()
            assert line, "the writer process ended early"
            committed = int(line)
        for _ in range(3):  # kill it in the middle of later batches
            line = proc.stdout.readline()
            committed = int(line) if line else committed
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    with SQLiteTraceStore(path) as s:
        assert s._query("PRAGMA integrity_check") == [("ok",)]
        counts = dict(s._query("SELECT trace_id, count(*) FROM spans GROUP BY trace_id"))
        stored = s._query("SELECT count(*), min(spans), max(spans) FROM traces")[0]
    missing = [i for i in range(committed) if counts.get(tid(i)) != 4]
    assert missing == []
    assert stored[0] >= committed and stored[2] == 4


# ---------------------------------------------------------------- the covekit trace command


def _cli(argv: list[str]) -> int:
    """``covekit trace ...`` through the package's own command parser (cli.py wires it)."""
    from covekit import cli

    args = cli.build_parser().parse_args(argv)
    return int(args.func(args))


def test_cli_trace_commands(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with SQLiteTraceStore(path) as s:
        s.export(request(1, workflow="support", model="a"))
        spans = request(2, workflow="billing", model="b", error="Timeout")
        spans[0].attributes["covekit.context.summary"] = "3 chunks, 812 tokens"
        s.export(spans)
        s.record_outcome(tid(1), "success", score=1.0, comment="fixed it")
    db = ["trace", "--db", str(path)]
    assert _cli([*db, "ls"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["start", "(UTC)", "trace_id"]
    assert [line.split()[2] for line in out[1:]] == [tid(2), tid(1)]
    assert _cli([*db, "ls", "--workflow", "billing", "--error", "any", "--since", "1d"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and tid(2) in out[1] and "Timeout" in out[1]
    assert _cli([*db, "ls", "--outcome", "success", "--since", str(NOW / 1e9 - 3600)]) == 0
    assert tid(1) in capsys.readouterr().out
    assert _cli([*db, "show", tid(2)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"trace {tid(2)}  workflow=billing  spans=3"
    assert "\n  chat  10 ms  ERROR  model=b  in=100  out=20  cached=40" in out
    assert "summary: 3 chunks, 812 tokens" in out
    assert _cli([*db, "show", tid(1)]) == 0
    assert "outcome: success by user score=1 (fixed it)" in capsys.readouterr().out
    assert _cli([*db, "stats", "--since", "1d"]) == 0
    out = capsys.readouterr().out
    assert "p99 ms" in out and "cost/success" in out
    support = next(line for line in out.splitlines() if line.startswith("support"))
    assert support.split()[-2:] == ["1", "0.01"]
    target = tmp_path / "golden.jsonl"
    assert _cli([*db, "export", str(target), "--workflow", "support"]) == 0
    assert capsys.readouterr().out.strip() == f"1 traces written to {target}"
    assert json.loads(target.read_text(encoding="utf-8"))["trace_id"] == tid(1)


def test_cli_trace_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "none.sqlite"
    monkeypatch.setenv("COVEKIT_TRACE_DB", str(missing))
    with pytest.raises(TraceStoreError):
        _cli(["trace", "ls"])
    assert not missing.exists()  # read-only: a query never creates a file
    SQLiteTraceStore(missing).close()
    with pytest.raises(UnknownTrace):
        _cli(["trace", "show", tid(5)])
    with pytest.raises(InvalidInput):
        _cli(["trace", "ls", "--since", "yesterday"])


def test_span_with_bad_ids_is_dropped_and_the_writer_goes_on(store: SQLiteTraceStore) -> None:
    bad = Span(123, sid(1), None, "answer", 0, 1)  # type: ignore[arg-type]
    store.export([bad, *request(1)])
    store.export(request(2))
    store.flush()
    assert store.counters.dropped == 1 and store.counters.written == 6
    assert ids(store.ls()) == [tid(2), tid(1)]


def test_percentile_paths_agree(store: SQLiteTraceStore) -> None:
    import random

    rng = random.Random(7)
    for i in range(301):
        store.export(request(i, chat_ms=rng.randint(1, 40)))  # many ties
    by_index = {s.name: s for s in store.stats().steps}  # the index walk
    by_window = {s.name: s for s in store.stats(workflow="support").steps}  # window functions
    assert by_index == by_window
    durations = sorted(s.duration_ms for t in store.traces() for s in t.spans if s.name == "chat")
    n = len(durations)
    for q, got in ((0.5, by_index["chat"].p50_ms), (0.95, by_index["chat"].p95_ms),
                   (0.99, by_index["chat"].p99_ms)):  # fmt: skip
        assert got == durations[max(0, -(-int(q * 1000) * n // 1000) - 1)]
