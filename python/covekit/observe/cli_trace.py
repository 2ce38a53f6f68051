"""The ``covekit trace`` command: ``ls``, ``show``, ``stats`` and ``export`` over a trace
store file (:class:`~covekit.observe.store.SQLiteTraceStore`, always opened read-only:
a query never writes or creates the file). :func:`add_trace_parser` adds the command
to an :mod:`argparse` subparsers object; each function takes the parsed arguments and
returns the exit status.

>>> import argparse, pathlib, tempfile
>>> from covekit.observe.store import SQLiteTraceStore
>>> from covekit.observe.trace import Span
>>> db = pathlib.Path(tempfile.mkdtemp()) / "traces.sqlite"
>>> with SQLiteTraceStore(db) as s:
...     s.export([Span("a" * 32, "1" * 16, None, "answer", 0, 3_000_000,
...                    {"covekit.workflow": "support"}, status="OK")])
>>> parser = argparse.ArgumentParser(prog="covekit")
>>> _ = add_trace_parser(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["trace", "--db", str(db), "show", "a" * 32])
>>> args.func(args)
trace aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  workflow=support  spans=1
answer  3 ms  OK
0

The store file is ``--db``, else ``$COVEKIT_TRACE_DB``, else ``traces.sqlite``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

from covekit.observe.store import SQLiteTraceStore
from covekit.observe.trace import Span

__all__ = ["add_trace_parser", "export", "ls", "show", "stats"]


def _open(args: argparse.Namespace) -> SQLiteTraceStore:
    path = args.db or os.environ.get("COVEKIT_TRACE_DB") or "traces.sqlite"
    return SQLiteTraceStore(path, read_only=True)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [list(header)] + [[_fmt(v) for v in r] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("workflow", "model", "since", "until"):
        value = getattr(args, key, None)
        if value is not None:
            try:
                out[key] = float(value)  # epoch seconds
            except ValueError:
                out[key] = value  # a duration back from now: 1h, 7d
    if getattr(args, "outcome", None) is not None:
        out["outcome"] = args.outcome
    if getattr(args, "error", None) is not None:
        out["error"] = True if args.error == "any" else args.error
    return out


def ls(args: argparse.Namespace) -> int:
    """``covekit trace ls``: the traces, newest first, as a table.

    >>> ls.__name__
    'ls'
    """
    with _open(args) as store:
        rows = store.ls(limit=args.limit, **_filters(args))
    print(_table(
        ("start (UTC)", "trace_id", "workflow", "model", "ms", "spans", "tokens in/out",
         "cost_usd", "outcome", "label", "error"),
        [(r.start.strftime("%Y-%m-%d %H:%M:%S"), r.trace_id, r.workflow, r.model,
          r.duration_ms, r.spans, f"{_fmt(r.input_tokens)}/{_fmt(r.output_tokens)}",
          r.cost_usd, r.outcome, r.label, r.error_type) for r in rows],
    ))  # fmt: skip
    return 0


def _tree(spans: Sequence[Span]) -> list[tuple[int, Span]]:
    children: dict[str | None, list[Span]] = {}
    ids = {s.span_id for s in spans}
    for s in spans:
        parent = s.parent_id if s.parent_id in ids else None
        children.setdefault(parent, []).append(s)
    out: list[tuple[int, Span]] = []

    def walk(parent: str | None, depth: int) -> None:
        for s in children.get(parent, ()):
            out.append((depth, s))
            if s.span_id != parent:
                walk(s.span_id, depth + 1)

    walk(None, 0)
    return out


_WORKFLOW = ("covekit.workflow", "covekit.route.workflow")
_DETAILS = (
    ("gen_ai.request.model", "model"),
    ("gen_ai.usage.input_tokens", "in"),
    ("gen_ai.usage.output_tokens", "out"),
    ("covekit.usage.cached_input_tokens", "cached"),
    ("gen_ai.usage.cache_read.input_tokens", "cached"),
    ("covekit.cost_usd", "cost_usd"),
    ("covekit.outcome", "outcome"),
    ("error.type", "error"),
)


def show(args: argparse.Namespace) -> int:
    """``covekit trace show TRACE_ID``: the span tree with timings, tokens, cost, the
    context manifest summary, verdicts and outcomes (see the module example).

    >>> show.__name__
    'show'
    """
    with _open(args) as store:
        trace = store.show(args.trace_id)
        outcomes = store.outcomes(args.trace_id)
    workflow = next(
        (s.attributes[k] for s in trace.spans for k in _WORKFLOW if k in s.attributes), None
    )
    head = f"trace {trace.trace_id}"
    if workflow is not None:
        head += f"  workflow={workflow}"
    print(f"{head}  spans={len(trace.spans)}")
    for depth, s in _tree(trace.spans):
        parts = [f"{'  ' * depth}{s.name}", f"{_fmt(s.duration_ms)} ms", s.status]
        for key, label in _DETAILS:
            if s.attributes.get(key) is not None:
                parts.append(f"{label}={_fmt(s.attributes[key])}")
        print("  ".join(parts))
        for key in ("covekit.context.summary", "covekit.verdicts"):
            if s.attributes.get(key) is not None:
                print(f"{'  ' * (depth + 1)}{key.split('.')[-1]}: {s.attributes[key]}")
    for o in outcomes:
        score = "" if o.score is None else f" score={o.score:g}"
        comment = "" if not o.comment else f" ({o.comment})"
        print(f"outcome: {o.label} by {o.source}{score}{comment}")
    return 0


def stats(args: argparse.Namespace) -> int:
    """``covekit trace stats``: latency per step, and per workflow and model the
    requests, tokens, cost, cost per successful outcome, error and refusal rates.

    >>> stats.__name__
    'stats'
    """
    with _open(args) as store:
        report = store.stats(**_filters(args))
    print(
        _table(
            ("step", "count", "p50 ms", "p95 ms", "p99 ms", "errors"),
            [(s.name, s.count, s.p50_ms, s.p95_ms, s.p99_ms, s.errors) for s in report.steps],
        )
    )
    print()
    print(_table(
        ("workflow", "model", "requests", "error %", "refusal %", "tokens in", "cached",
         "tokens out", "cost_usd", "successes", "cost/success"),
        [(g.workflow, g.model, g.requests, round(100 * g.error_rate, 1),
          round(100 * g.refusal_rate, 1), g.input_tokens, g.cached_input_tokens,
          g.output_tokens, g.cost_usd, g.successes, g.cost_per_success)
         for g in report.groups],
    ))  # fmt: skip
    return 0


def export(args: argparse.Namespace) -> int:
    """``covekit trace export OUT.jsonl``: the traces (same filters as ``ls``) with
    their outcomes, one a line, as stored (after the tracer's privacy policy).

    >>> export.__name__
    'export'
    """
    with _open(args) as store:
        n = store.export_jsonl(args.out, limit=args.limit, **_filters(args))
    print(f"{n} traces written to {args.out}")
    return 0


def add_trace_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds ``trace`` with its ``ls``, ``show``, ``stats`` and ``export`` commands to an
    :mod:`argparse` subparsers object; each sets ``func`` (see the module example).

    >>> p = argparse.ArgumentParser()
    >>> _ = add_trace_parser(p.add_subparsers())
    >>> p.parse_args(["trace", "ls", "--workflow", "support"]).workflow
    'support'
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "trace", help="query a trace store: ls, show, stats, export"
    )
    parser.add_argument("--db", default=None, help="the store file (or $COVEKIT_TRACE_DB)")
    sub = parser.add_subparsers(dest="trace_command", required=True)

    def filters(p: argparse.ArgumentParser, *, traces: bool) -> None:
        p.add_argument("--workflow")
        p.add_argument("--model")
        p.add_argument("--since", help="a duration back from now (1h, 7d) or epoch seconds")
        p.add_argument("--until", help="a duration back from now (1h, 7d) or epoch seconds")
        if traces:
            p.add_argument("--outcome", help="a recorded label, or answered/refused/escalated")
            p.add_argument("--error", help="'any', or an error.type")

    p = sub.add_parser("ls", help="list traces, newest first")
    filters(p, traces=True)
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=ls)
    p = sub.add_parser("show", help="one trace's span tree")
    p.add_argument("trace_id")
    p.set_defaults(func=show)
    p = sub.add_parser("stats", help="latency, tokens, cost, cost per success, rates")
    filters(p, traces=False)
    p.set_defaults(func=stats)
    p = sub.add_parser("export", help="write traces with their outcomes as JSONL")
    p.add_argument("out")
    filters(p, traces=True)
    p.add_argument("--limit", type=int, default=None)
    p.set_defaults(func=export)
    return parser
