"""Trace store (covekit.observe.store): spans per second written through
``SQLiteTraceStore`` with its background writer, from 1 and 8 threads, against a plain
``sqlite3`` insert-per-span loop and the OpenTelemetry SDK's ``InMemorySpanExporter``;
and the time of ``stats()`` / ``ls()`` / ``show()`` over a file of many spans.

Run with ``make bench`` (pytest-benchmark, a small workload), or as a script that prints
the figures and can rewrite its block of docs/benchmarks.md::

    python tests/benchmarks/bench_trace_store.py [--spans 100000] [--repeats 3] \\
        [--stats-spans 1000000] [--update docs/benchmarks.md]

Workload: traces of 10 spans shaped like a pipeline request (a root with
``covekit.outcome``, a route span with the workflow, a chat span with model, tokens and
cost, 7 more steps with a few attributes), made before timing.

- *store, T threads*: T threads ``export`` one trace at a time, then ``flush()``; the
  time runs from the first export until every span is committed (sustained, end to end,
  into a WAL file on the local disk). Each figure is the median of ``repeats`` runs into
  a fresh file. Every span is checked to be in the file afterwards.
- *sqlite3, insert per span*: the naive sink: one ``INSERT`` (same columns, attributes
  as JSON) committed per span, WAL, ``synchronous=NORMAL``.
- *OpenTelemetry SDK*: spans started and ended through a ``TracerProvider`` with a
  ``SimpleSpanProcessor(InMemorySpanExporter())`` (the SDK's own span objects and
  in-memory export, no disk), if ``opentelemetry-sdk`` is installed.
- *queries*: a file of ``stats-spans`` spans (built by the store, not timed), then the
  median of 3 calls of ``stats()``, ``stats(workflow=..., since="1d")``,
  ``ls(limit=50)`` and ``show(trace_id)``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

_HERE = Path(__file__).resolve().parent
for _dir in (_HERE, _HERE.parent):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

from covekit.observe.store import SQLiteTraceStore  # noqa: E402
from covekit.observe.trace import Span  # noqa: E402

PER_TRACE = 10
MS = 1_000_000


def make_traces(n_traces: int, *, start_ns: int | None = None, seed: int = 0) -> list[list[Span]]:
    """Traces of 10 spans each (see the module docs)."""
    t_base = time.time_ns() - 3600 * 10**9 if start_ns is None else start_ns
    out = []
    for t in range(seed, seed + n_traces):
        trace_id = f"{t:032x}"
        t0 = t_base + t * MS
        root = f"{t:08x}00000000"
        spans = [
            Span(trace_id, root, None, "covekit.pipeline", t0, t0 + 40 * MS,
                 {"gen_ai.operation.name": "invoke_agent", "covekit.outcome": "answered",
                  "covekit.confidence": 0.8}, status="OK"),
            Span(trace_id, f"{t:08x}00000001", root, "route", t0 + MS, t0 + 2 * MS,
                 {"covekit.route.workflow": f"wf{t % 4}", "covekit.route.tier": "small"},
                 status="OK"),
            Span(trace_id, f"{t:08x}00000002", root, f"chat m{t % 3}", t0 + 2 * MS,
                 t0 + (2 + (t * 7919) % 30) * MS,
                 {"gen_ai.operation.name": "chat", "gen_ai.request.model": f"m{t % 3}",
                  "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 150,
                  "covekit.usage.cached_input_tokens": 800, "covekit.cost_usd": 0.0012},
                 status="OK"),
        ]  # fmt: skip
        for k in range(3, PER_TRACE):
            spans.append(
                Span(trace_id, f"{t:08x}{k:08x}", root, f"step{k}", t0 + k * MS,
                     t0 + k * MS + (t * 31 + k) % 5000 * 1000,
                     {"covekit.step": k, "covekit.items": [1, 2, 3]}, status="OK")
            )  # fmt: skip
        out.append(spans)
    return out


def store_rate(traces: list[list[Span]], threads: int, folder: Path) -> float:
    """Spans per second, first export to everything committed, into a fresh file."""
    path = folder / f"store-{threads}-{time.monotonic_ns()}.sqlite"
    store = SQLiteTraceStore(path)
    chunks = [traces[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def work(chunk: list[list[Span]]) -> None:
        barrier.wait()
        for spans in chunk:
            store.export(spans)

    workers = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for w in workers:
        w.start()
    barrier.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join()
    store.flush()
    elapsed = time.perf_counter() - t0
    store.close()
    n = sum(len(s) for s in traces)
    assert store.counters.written == n and store.counters.dropped == 0, store.counters
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM spans").fetchone()[0] == n
    db.close()
    return n / elapsed


def sqlite_rate(traces: list[list[Span]], folder: Path) -> float:
    """The naive sink: an INSERT committed per span."""
    path = folder / f"plain-{time.monotonic_ns()}.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE spans (trace_id TEXT, span_id TEXT, parent_id TEXT, name TEXT, "
        "start_ns INTEGER, end_ns INTEGER, status TEXT, attributes TEXT)"
    )
    t0 = time.perf_counter()
    n = 0
    for spans in traces:
        for s in spans:
            db.execute(
                "INSERT INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (s.trace_id, s.span_id, s.parent_id, s.name, s.start_ns, s.end_ns, s.status,
                 json.dumps(s.attributes)),
            )  # fmt: skip
            n += 1
    elapsed = time.perf_counter() - t0
    db.close()
    return n / elapsed


def otel_rate(traces: list[list[Span]]) -> float | None:
    """Spans per second through the OpenTelemetry SDK into its InMemorySpanExporter."""
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )
    except ImportError:
        return None
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")
    t0 = time.perf_counter()
    n = 0
    for spans in traces:
        for s in spans:
            span = tracer.start_span(s.name, attributes=s.attributes, start_time=s.start_ns)
            span.end(end_time=s.end_ns)
            n += 1
    elapsed = time.perf_counter() - t0
    assert len(exporter.get_finished_spans()) == n
    provider.shutdown()
    return n / elapsed


def median_time(fn: Any, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def query_times(n_spans: int, folder: Path) -> dict[str, float]:
    path = folder / "queries.sqlite"
    store = SQLiteTraceStore(path, batch_size=5000)
    n_traces = n_spans // PER_TRACE
    step = 10_000
    for first in range(0, n_traces, step):
        for spans in make_traces(min(step, n_traces - first), seed=first):
            store.export(spans)
        store.flush()
    store.close()
    store = SQLiteTraceStore(path, read_only=True)
    assert store.stats().groups[0].requests > 0
    res = {
        "stats()": median_time(store.stats),
        "stats(workflow='wf1', since='1d')": median_time(
            lambda: store.stats(workflow="wf1", since="1d")
        ),
        "ls(limit=50)": median_time(lambda: store.ls(limit=50)),
        "show(trace_id)": median_time(lambda: store.show(f"{n_traces // 2:032x}")),
    }
    store.close()
    return res


def measure(n_spans: int, repeats: int, stats_spans: int) -> dict[str, Any]:
    traces = make_traces(n_spans // PER_TRACE)
    with tempfile.TemporaryDirectory(dir=os.environ.get("COVEKIT_BENCH_TMP")) as d:
        folder = Path(d)
        rates: dict[str, float | None] = {}
        for threads in (1, 8):
            rates[f"SQLiteTraceStore, {threads} thread{'s' if threads > 1 else ''}"] = (
                statistics.median(store_rate(traces, threads, folder) for _ in range(repeats))
            )
        small = traces[: max(1, len(traces) // 10)]  # the naive loop is slow
        rates["sqlite3, INSERT + commit per span"] = statistics.median(
            sqlite_rate(small, folder) for _ in range(repeats)
        )
        otel = [otel_rate(traces) for _ in range(repeats)]
        rates["OpenTelemetry SDK, InMemorySpanExporter (no disk)"] = (
            None if otel[0] is None else statistics.median(r for r in otel if r is not None)
        )
        queries = query_times(stats_spans, folder) if stats_spans else {}
    return {"rates": rates, "queries": queries, "spans": n_spans, "repeats": repeats,
            "stats_spans": stats_spans}  # fmt: skip


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}. {res['spans']:,} spans "
        f"(traces of {PER_TRACE}); medians of {res['repeats']} runs.",
        "",
        "| writer | spans/s |",
        "|---|---|",
    ]
    for name, rate in res["rates"].items():
        lines.append(f"| {name} | {'not installed' if rate is None else f'{rate:,.0f}'} |")
    if res["queries"]:
        lines += [
            "",
            f"Queries over {res['stats_spans']:,} stored spans (median of 3):",
            "",
            "| query | seconds |",
            "|---|---|",
        ]
        for name, secs in res["queries"].items():
            lines.append(f"| `{name}` | {secs:.3f} |")
    return "\n".join(lines)


def test_trace_store_throughput(benchmark: Any, tmp_path: Path) -> None:
    traces = make_traces(500)
    benchmark.group = "trace store, 5,000 spans"
    if benchmark.disabled:
        benchmark.pedantic(lambda: None)
        return
    benchmark.pedantic(lambda: store_rate(traces, 1, tmp_path), rounds=3)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--spans", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--stats-spans", type=int, default=1_000_000)
    ap.add_argument("--update", type=Path, help="rewrite this file's bench_trace_store.py block")
    args = ap.parse_args()
    text = markdown(measure(args.spans, args.repeats, args.stats_spans))
    print(text)
    if args.update:
        from doc_block import update_block

        update_block(args.update, "bench_trace_store.py", text)


if __name__ == "__main__":
    main()


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
