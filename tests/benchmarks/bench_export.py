"""Export of 10,000 spans to a real Arize Phoenix server over OTLP/HTTP (issue 18).

Run with ``make bench`` (pytest collects ``test_export_to_phoenix``), or as a script::

    python tests/benchmarks/bench_export.py [--spans 10000] [--repeats 3] [--markdown]

Phoenix is started by ``tests/phoenix_server.py`` (free loopback port, temporary working
directory, SQLite). The spans are 1,000 traces of 10 spans each, shaped like a pipeline
run (a root AGENT span, a RETRIEVER, an LLM span with token counts, guardrails and
evaluators, about 6 attributes each). Each repeat uses a new Phoenix project and
measures, from the first ``export()``:

- **enqueue**: the time the callers spend in ``OTLPExporter.export`` (what a request
  pays; the conversion and the sending are on the exporter's thread);
- **sent**: until ``flush()`` returns, every span accepted by Phoenix's OTLP endpoint;
- **queryable**: until Phoenix counts all 10,000 in the project (GraphQL
  ``recordCount``, polled every 0.2 s: Phoenix inserts what it received in the
  background); then the REST API must list all of them.

The reference is the OpenTelemetry SDK itself: the same 10,000 spans made with an SDK
tracer and sent by its ``BatchSpanProcessor`` with the same OTLP HTTP exporter, timed
until ``force_flush()`` returns. Medians over the repeats; the machine is shared (2
cores, other jobs running), so the figures are noisy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_TESTS = str(Path(__file__).resolve().parent.parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

import phoenix_server  # noqa: E402
from covekit.observe.trace import Span, Tracer  # noqa: E402

SPANS_PER_TRACE = 10


def make_spans(n: int) -> list[list[Span]]:
    """``n`` spans as traces of 10, shaped like a pipeline run."""
    traces = []
    for _ in range(n // SPANS_PER_TRACE):
        tr = Tracer()
        with tr.span("covekit.pipeline", {"gen_ai.operation.name": "invoke_agent"}) as root:
            with tr.span("redact") as s:
                s.set("covekit.redaction.counts", {"EMAIL": 1})
            with tr.span("policy.input") as s:
                s.set("covekit.policy.action", "allow")
            with tr.span("build_context", {"gen_ai.operation.name": "retrieval"}) as s:
                s.set("gen_ai.data_source.id", "d8b5dfd3b5af54d4")
                with tr.span("retrieve", {"gen_ai.operation.name": "retrieval"}) as r:
                    r.set("gen_ai.request.top_k", 50)
                with tr.span("rerank"):
                    pass
                with tr.span("pack") as p:
                    p.set("covekit.pack.kept", 4)
            with tr.span("chat gpt", {"gen_ai.operation.name": "chat"}) as c:
                c.set("gen_ai.request.model", "gpt-4o-mini")
                c.set("gen_ai.response.model", "gpt-4o-mini-2024-07-18")
                c.set("gen_ai.usage.input_tokens", 900)
                c.set("gen_ai.usage.output_tokens", 90)
                c.set("gen_ai.response.finish_reasons", ["stop"])
                c.set("covekit.cost_usd", 0.0002)
            with tr.span("ground") as s:
                s.set("covekit.grounding.score", 0.9)
            with tr.span("confidence") as s:
                s.set("covekit.confidence", 0.8)
            root.set("covekit.outcome", "answered")
        traces.append(list(tr.trace().spans))
    return traces


def _until_stored(server: phoenix_server.PhoenixServer, project: str, n: int) -> float:
    """The clock once Phoenix counts ``n`` spans in ``project`` (polled every 0.2 s)."""
    deadline = time.monotonic() + 600.0
    while server.span_count(project) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"Phoenix stored {server.span_count(project)} of {n} spans")
        time.sleep(0.2)
    return time.perf_counter()


def run_covekit(server: phoenix_server.PhoenixServer, n: int, project: str) -> dict[str, float]:
    from covekit.observe.export import OTLPExporter

    traces = make_spans(n)
    ex = OTLPExporter(server.traces_endpoint, project=project, timeout_s=30.0)
    t0 = time.perf_counter()
    enqueue = 0.0
    for spans in traces:
        t = time.perf_counter()
        ex.export(spans)
        enqueue += time.perf_counter() - t
    assert ex.flush(timeout_s=300.0)
    sent = time.perf_counter() - t0
    queryable = _until_stored(server, project, n) - t0
    got = server.spans(project)
    ex.shutdown()
    assert (ex.exported, ex.dropped, len(got)) == (n, 0, n), (ex.stats(), len(got))
    return {"enqueue": enqueue, "sent": sent, "queryable": queryable}


def run_sdk(server: phoenix_server.PhoenixServer, n: int, project: str) -> dict[str, float]:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"openinference.project.name": project}))
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=server.traces_endpoint, timeout=30.0),
            max_queue_size=20_000,
            max_export_batch_size=512,
        )
    )
    tracer = provider.get_tracer("bench")
    t0 = time.perf_counter()
    for _ in range(n // SPANS_PER_TRACE):
        with tracer.start_as_current_span("root", attributes={"gen_ai.operation.name": "chat"}):
            for _ in range(SPANS_PER_TRACE - 1):
                with tracer.start_as_current_span(
                    "child", attributes={"gen_ai.usage.input_tokens": 900, "a": "b"}
                ):
                    pass
    made = time.perf_counter() - t0
    provider.force_flush(300_000)
    sent = time.perf_counter() - t0
    queryable = _until_stored(server, project, n) - t0
    got = server.spans(project)
    provider.shutdown()
    assert len(got) == n, len(got)
    return {"enqueue": made, "sent": sent, "queryable": queryable}


def measure(n: int, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, phoenix_server.serve(Path(tmp)) as server:
        rows: dict[str, list[dict[str, float]]] = {"covekit": [], "sdk": []}
        for r in range(repeats):
            rows["covekit"].append(run_covekit(server, n, f"bench-covekit-{r}"))
            rows["sdk"].append(run_sdk(server, n, f"bench-sdk-{r}"))
        med = {
            who: {k: statistics.median(x[k] for x in runs) for k in runs[0]}
            for who, runs in rows.items()
        }
        return {"n": n, "repeats": repeats, "start_s": server.start_seconds, "median": med}


def markdown(res: dict[str, Any]) -> str:
    n, m = res["n"], res["median"]
    c, s = m["covekit"], m["sdk"]
    lines = [
        f"Phoenix started in {res['start_s']:.1f} s. {n:,} spans, median of {res['repeats']} runs.",
        "",
        "| exporter | in the callers (s) | sent (s) | spans/s sent | queryable in Phoenix (s) |",
        "|---|---|---|---|---|",
        f"| covekit `OTLPExporter` | {c['enqueue']:.3f} (`export` calls) | {c['sent']:.2f} "
        f"| {n / c['sent']:,.0f} | {c['queryable']:.2f} |",
        f"| OpenTelemetry SDK, BatchSpanProcessor | {s['enqueue']:.3f} (making the spans) "
        f"| {s['sent']:.2f} | {n / s['sent']:,.0f} | {s['queryable']:.2f} |",
    ]
    return "\n".join(lines)


def test_export_to_phoenix() -> None:
    res = measure(10_000, 1)
    print("\n" + markdown(res))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spans", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    res = measure(args.spans, args.repeats)
    print(markdown(res) if args.markdown else res)


if __name__ == "__main__":
    main()
