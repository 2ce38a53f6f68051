"""The pipeline on BEIR SciFact: how well its confidence is calibrated, how often it
refuses, and its own overhead (everything but the model call).

Run with ``make bench`` (pytest-benchmark collects the test functions), or as a script
that prints the tables::

    OPENBLAS_NUM_THREADS=1 python tests/benchmarks/bench_pipeline.py [--update docs/benchmarks.md]
        [--folds 5] [--seed 0] [--repeats 50]

**Setup.** SciFact's 5,183 documents (``title + " " + text``) chunked at 128 tokens
(cl100k_base), the hashing embedder fitted on the corpus, one ``covekit.KnowledgeBase``
(the same as tests/benchmarks/bench_context.py, but built on one thread, so that the
vector graph and every figure below are the same from run to run); ``covekit.Pipeline``
with its default model, ``covekit.ExtractiveModel``, 50 candidates and a 2,000-token
prompt budget; the 300 test claims (SciFact's only judged split here), one thread. An
answer is **correct** when it cites at least one document that SciFact judges relevant
to the claim.

**Calibration.** The confidence features of each answered claim
(``covekit.ConfidenceSignals``: retrieval scores and margin, the cited chunks' score and
rank, how far they stand out from the other candidates in keyword and in vector search,
the rank at which both searches agree on one, the best rank and number of chunks of the
cited documents, distinct sources, conflicts, staleness, grounding, coverage) are fitted
by ``covekit.Calibrator`` with k-fold cross-validation by claim (``--folds``): each
claim's confidence comes from a calibrator that never saw it, and whatever the
calibrator chooses (the default's L2 penalty, by an inner cross-validation) it chooses
on the training folds only. The claims are shuffled into folds ``--repeats`` times
(seeds ``--seed`` onwards) and the expected calibration error (10 equal-width bins) is
given as the mean and spread over those shuffles; the Brier score with its
decomposition (reliability, resolution, uncertainty) and the AUC show that the
confidence tells answers apart (a constant would have resolution 0 and AUC 0.5). The
noise floor is the ECE that perfectly calibrated confidences get on as many answers;
a bootstrap over claims gives the ECE's own uncertainty. Refused answers are left out
of the fit and of the headline ECE (their confidence is 0 and none of them is correct:
they cite nothing); the refusal share, the accuracy of the answers that were not
refused and the ECE over all claims are given.

**Overhead.** Per claim, the pipeline's time minus the model call (the ``chat`` span of
its trace), i.e. redaction (off here), retrieval and context building, grounding,
citations and confidence: p50 and p95.

**Tracing overhead.** The wall time of ``Pipeline.answer`` per claim (ExtractiveModel,
in process) with tracing off (a tracer that records nothing and sets no current span,
so the context builder's and contract's ``child_span`` calls are one contextvar lookup
each) against tracing on as shipped (every span, ``answer.trace``), on with a sink
(the default content policy applied, the spans handed to an in-memory sink), and on
with a ``covekit.observe.store.SQLiteTraceStore`` sink (its background writer shares
the cores). Each claim is answered once untimed (its first search warms the caches),
then once in each mode, the order rotating from claim to claim; ``--trace-repeats``
passes over the 300 claims; the figure is the median per-claim time of each mode, and
the overhead the median, over claims and passes, of (on - off) / off, each claim's time
in a mode paired with its time with tracing off in the same round. On a shared machine
that spread is wider than the effect, so the tracer's own cost is also measured
directly: the pipeline's trace (its span names and attributes) rebuilt 2,000 times
with a fresh ``Tracer`` (sink and content policy included), as a share of the median
request with tracing off.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_HERE = Path(__file__).resolve().parent
for p in (_HERE, _HERE.parent):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_context import SciFact  # noqa: E402
from doc_block import update_block  # noqa: E402
from shared_data import beir_dir  # noqa: E402

BINS = 10
CANDIDATES = 50
BUDGET = 2000
REPEATS = 50  # shuffles of the claims into folds (repeated cross-validation)


@dataclass
class Run:
    answers: list[Any]
    correct: list[int]
    overhead_ms: list[float]
    total_ms: list[float]
    steps_ms: dict[str, list[float]]


_SCIFACT: SciFact | None = None


def scifact() -> SciFact:
    """bench_context.py's SciFact knowledge base, built on one thread: the vector graph
    built on several threads depends on their interleaving, and with it which chunks the
    vector search returns, so every figure here would change from run to run."""
    global _SCIFACT
    if _SCIFACT is not None:
        return _SCIFACT
    import covekit
    from covekit.evals import load_beir

    ds = load_beir(beir_dir("scifact"))
    doc_ids = list(ds.corpus)
    texts = [ds.corpus[d].full_text for d in doc_ids]
    emb = covekit.HashingEmbedder()
    emb.fit(texts)
    kb = covekit.KnowledgeBase(covekit.Chunker("cl100k_base", max_tokens=128), emb)
    docs = [covekit.Document(t, d, acl=["public"]) for d, t in zip(doc_ids, texts, strict=True)]
    kb.add(docs, num_threads=1)
    qids = list(ds.queries)
    _SCIFACT = SciFact(kb, qids, [ds.queries[q] for q in qids], ds.qrels)
    return _SCIFACT


def run_pipeline() -> Run:
    import covekit

    sf = scifact()
    pipe = covekit.Pipeline(
        sf.kb,
        context={"model": "gpt-4o-mini", "tokenizer": "cl100k_base", "candidates": CANDIDATES},
        budget=BUDGET,
    )
    for q in sf.queries[:10]:  # warm up
        pipe.answer(q, principals=["public"])
    answers, correct, overhead, total = [], [], [], []
    steps: dict[str, list[float]] = {}
    for qid, q in zip(sf.qids, sf.queries, strict=True):
        a = pipe.answer(q, principals=["public"])
        rel = sf.qrels[qid]
        answers.append(a)
        correct.append(int(any(d in rel for d in a.doc_ids)))
        root = a.trace.root
        chat = sum((s.end_ns - s.start_ns) for s in a.trace.spans if s.name.startswith("chat "))
        total.append((root.end_ns - root.start_ns) / 1e6)
        overhead.append((root.end_ns - root.start_ns - chat) / 1e6)
        for sp in a.trace.spans[1:]:
            name = "chat" if sp.name.startswith("chat ") else sp.name
            steps.setdefault(name, []).append((sp.end_ns - sp.start_ns) / 1e6)
    return Run(answers, correct, overhead, total, steps)


class _NullSpan:
    def set(self, key: str, value: Any) -> None:
        pass

    def event(self, name: str, attributes: Any = None) -> None:
        pass


class NullTracer:
    """Tracing off: the pipeline's ``tracer.span`` blocks record nothing and set no
    current span, so nothing below them is traced either."""

    records_content = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    @contextlib.contextmanager
    def span(self, name: str, attributes: Any = None) -> Iterator[_NullSpan]:
        yield _NullSpan()

    def trace(self, *, private: bool = False) -> Any:
        return None


class _ListSink:
    def __init__(self) -> None:
        self.n = 0

    def export(self, spans: Any) -> None:
        self.n += len(spans)

    def shutdown(self) -> None:
        pass


def tracing_overhead(repeats: int) -> dict[str, Any]:
    """Per mode, the median per-claim ``answer`` time of each pass (ms)."""
    import tempfile

    import covekit
    import covekit.pipeline as pipeline_mod

    sf = scifact()
    opts = {"model": "gpt-4o-mini", "tokenizer": "cl100k_base", "candidates": CANDIDATES}
    tmp = tempfile.TemporaryDirectory()
    store: Any = None
    try:
        from covekit.observe.store import SQLiteTraceStore

        store = SQLiteTraceStore(Path(tmp.name) / "traces.db")
    except ImportError:  # pragma: no cover - the store lands with issue 18
        store = None
    pipes = {
        "off": covekit.Pipeline(sf.kb, context=opts, budget=BUDGET),
        "on": covekit.Pipeline(sf.kb, context=opts, budget=BUDGET),
        "on + sink": covekit.Pipeline(sf.kb, context=opts, budget=BUDGET, sinks=[_ListSink()]),
    }
    if store is not None:
        pipes["on + SQLite store"] = covekit.Pipeline(
            sf.kb, context=opts, budget=BUDGET, sinks=[store]
        )
    real = pipeline_mod.Tracer

    def answer(mode: str, q: str) -> float:
        pipeline_mod.Tracer = NullTracer if mode == "off" else real  # type: ignore[misc]
        try:
            t = time.perf_counter_ns()
            pipes[mode].answer(q, principals=["public"])
            return (time.perf_counter_ns() - t) / 1e6
        finally:
            pipeline_mod.Tracer = real  # type: ignore[misc]

    for q in sf.queries[:10]:  # warm up
        for mode in pipes:
            answer(mode, q)
    passes: dict[str, list[float]] = {m: [] for m in pipes}
    per_claim: dict[str, list[float]] = {m: [] for m in pipes}  # every pass, claim order
    for r in range(repeats):
        times: dict[str, list[float]] = {m: [] for m in pipes}
        names = list(pipes)
        for i, q in enumerate(sf.queries):
            answer("on", q)  # untimed: the claim's first search warms what it touches
            k = (i + r) % len(names)  # each mode goes first equally often
            for mode in names[k:] + names[:k]:
                times[mode].append(answer(mode, q))
        for m in pipes:
            passes[m].append(float(np.median(times[m])))
            per_claim[m].extend(times[m])
    if store is not None:
        store.close()
    tmp.cleanup()
    # the tracer's own cost, measured directly: a trace of the pipeline's shape
    # (its span names and attributes) rebuilt with a fresh Tracer, policy applied
    shape = pipes["on"].answer(sf.queries[0], principals=["public"]).trace
    sink = _ListSink()

    def replay() -> None:
        from covekit.observe.trace import Tracer, child_span

        tr = Tracer(sinks=[sink])
        spans = shape.spans
        with tr.span(spans[0].name, spans[0].attributes):
            for sp in spans[1:]:
                with child_span(sp.name, sp.attributes):
                    pass
        tr.trace(private=True)

    for _ in range(200):
        replay()
    per_trace = []
    for _ in range(7):
        t = time.perf_counter_ns()
        for _ in range(2000):
            replay()
        per_trace.append((time.perf_counter_ns() - t) / 2000 / 1e3)
    return {
        "passes": passes,
        "per_claim": per_claim,
        "tracer_us": float(np.median(per_trace)),
        "spans": len(shape.spans),
        "repeats": repeats,
        "claims": len(sf.queries),
    }


def tracing_table(res: dict[str, Any]) -> str:
    passes, per_claim = res["passes"], res["per_claim"]
    off = np.array(per_claim["off"])
    lines = [
        "| mode | median per claim (ms) | overhead vs off: median of paired (on - off) / off "
        "[25th, 75th percentile] | met? (<= 5%) |",
        "|---|---|---|---|",
        f"| tracing off | {float(np.median(passes['off'])):.2f} | - | - |",
    ]
    for mode, got in per_claim.items():
        if mode == "off":
            continue
        rel = (np.array(got) - off) / off * 100
        mid, lo, hi = (float(np.percentile(rel, p)) for p in (50, 25, 75))
        lines.append(
            f"| tracing {mode} | {float(np.median(passes[mode])):.2f} | {mid:+.1f}% "
            f"[{lo:+.1f}%, {hi:+.1f}%] | {'yes' if mid <= 5 else '**no**'} |"
        )
    direct = res["tracer_us"] / 1e3 / float(np.median(passes["off"])) * 100
    lines.append(
        f"| the tracer itself ({res['spans']} spans of the pipeline's trace, sink and content "
        f"policy; median of 7 x 2,000) | {res['tracer_us']:.0f} µs per request | "
        f"{direct:.1f}% of the median request with tracing off | "
        f"{'yes' if direct <= 5 else '**no**'} |"
    )
    return (
        "\n".join(lines)
        + f"\n\n{res['claims']} claims x {res['repeats']} passes; each claim answered once "
        "untimed, then once in each mode, the order rotating from claim to claim; the "
        "overhead pairs each claim's time in a mode with its time with tracing off in the "
        "same round. Tracing off: a tracer that records nothing and sets no current span. "
        "Noisy: the 2 cores were shared with other work (the quartiles show the spread)."
    )


def _calibrators() -> list[tuple[str, Any, int | None]]:
    """The calibrators compared: (label, factory, the feature columns: None for all).
    The first is the default, the one the target is about."""
    import covekit

    return [
        ("logistic, l2 by inner CV (the default)", lambda: covekit.Calibrator(), None),
        ("logistic, l2 = 1", lambda: covekit.Calibrator(l2=1.0), None),
        ("logistic, l2 = 1, the 13 signals of v1", lambda: covekit.Calibrator(l2=1.0), 13),
        ("isotonic", lambda: covekit.Calibrator("isotonic"), None),
        ("isotonic, >= 20 per level", lambda: covekit.Calibrator("isotonic", min_block=20), None),
        ("unfitted prior", None, None),
    ]


def answered_xy(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """The confidence features and labels of the claims that were answered."""
    from covekit.execution.calibrate import features_matrix

    idx = [i for i, a in enumerate(run.answers) if a.outcome == "answered"]
    x = features_matrix([run.answers[i].signals for i in idx])
    y = np.array([run.correct[i] for i in idx], dtype=np.float64)
    return x, y


def cross_validate(
    x: np.ndarray, y: np.ndarray, make: Any, cols: int | None, folds: int, seed: int
) -> np.ndarray:
    """Held-out confidences: claims shuffled with ``seed`` and dealt into ``folds``; each
    fold predicted by a calibrator ``make()`` fitted on the other folds only (whatever it
    chooses, such as its L2 penalty, it chooses from those)."""
    import covekit

    if cols is not None:
        x = x[:, :cols]
    if make is None:
        return covekit.Calibrator().predict(x)
    order = np.random.default_rng(seed).permutation(len(y))
    fold_of = np.empty(len(y), dtype=np.int64)
    fold_of[order] = np.arange(len(y)) % folds
    out = np.empty(len(y))
    for f in range(folds):
        train, test = fold_of != f, fold_of == f
        out[test] = make().fit(x[train], y[train]).predict(x[test])
    return out


def calibration(run: Run, folds: int, seed: int, repeats: int) -> dict[str, Any]:
    from covekit.execution.calibrate import (
        brier_decomposition,
        expected_calibration_error,
        reliability_table,
        roc_auc,
    )

    x, y = answered_xy(run)
    rng = np.random.default_rng(seed)
    res: dict[str, Any] = {"methods": {}, "n": int(y.size), "base_rate": float(y.mean())}
    for label, make, cols in _calibrators():
        shuffles = [cross_validate(x, y, make, cols, folds, s) for s in range(seed, seed + repeats)]
        eces = [expected_calibration_error(p, y, BINS) for p in shuffles]
        decs = [brier_decomposition(p, y, BINS) for p in shuffles]
        p0 = shuffles[0]
        floor = [
            expected_calibration_error(p0, (rng.random(p0.size) < p0).astype(float), BINS)
            for _ in range(1000)
        ]
        boot = []
        for _ in range(1000):
            i = rng.integers(0, y.size, y.size)
            boot.append(expected_calibration_error(p0[i], y[i], BINS))
        res["methods"][label] = {
            "ece": (float(np.mean(eces)), float(np.std(eces)), float(np.max(eces))),
            "ece0": eces[0],
            "boot": (float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))),
            "floor": (float(np.mean(floor)), float(np.percentile(floor, 95))),
            "brier": float(np.mean([d["brier"] for d in decs])),
            "reliability": float(np.mean([d["reliability"] for d in decs])),
            "resolution": float(np.mean([d["resolution"] for d in decs])),
            "uncertainty": decs[0]["uncertainty"],
            "auc": float(np.mean([roc_auc(p, y) for p in shuffles])),
            "table": reliability_table(p0, y, BINS),
        }
    n = len(run.answers)
    refused = [a for a in run.answers if a.outcome != "answered"]
    answered = [c for a, c in zip(run.answers, run.correct, strict=True) if a.outcome == "answered"]
    res["refusal_share"] = len(refused) / n
    res["accuracy_answered"] = float(np.mean(answered)) if answered else float("nan")
    res["accuracy_all"] = float(np.mean(run.correct))
    res["queries"] = n
    res["refused"] = len(refused)
    # the same, over every claim: a refusal has confidence 0 and is never right
    default = next(iter(res["methods"]))
    make, cols = _calibrators()[0][1:]
    full = [
        expected_calibration_error(
            np.concatenate([cross_validate(x, y, make, cols, folds, s), np.zeros(len(refused))]),
            np.concatenate([y, np.zeros(len(refused))]),
            BINS,
        )
        for s in range(seed, seed + repeats)
    ]
    res["all_claims_ece"] = (float(np.mean(full)), float(np.std(full)))
    res["default"] = default
    return res


def calibration_tables(res: dict[str, Any], folds: int, repeats: int) -> str:
    methods = res["methods"]
    label = res["default"]
    d = methods[label]
    mean, sd, top = d["ece"]
    floor, floor95 = d["floor"]
    if mean <= 0.05:
        met = "yes" if floor95 <= 0.05 else "yes, within the noise (see below)"
    elif mean <= floor:
        met = (
            "**no**, but below the noise floor: the data cannot tell it from perfectly "
            "calibrated (see below)"
        )
    else:
        met = "**no**"
    lines = [
        "| target | measured | met? |",
        "|---|---|---|",
        f"| ECE <= 0.05 (10 equal-width bins, {folds}-fold cross-validation by claim, "
        f"{repeats} shuffles of the folds), the default calibrator | "
        f"{mean:.3f} ± {sd:.3f} (max {top:.3f}); Brier {d['brier']:.3f}, AUC {d['auc']:.3f} "
        f"| {met} |",
        "",
        f"{res['queries']} claims; refused {res['refusal_share']:.1%} ({res['refused']}); "
        f"accuracy of the answers not refused {res['accuracy_answered']:.1%} ({res['n']} "
        f"answers; over all claims, a refusal counted wrong, {res['accuracy_all']:.1%}).",
        "",
        "How sure the figure is. The noise floor is the ECE that perfectly calibrated "
        "confidences (the same values, outcomes drawn from them) get on "
        f"{res['n']} answers: {floor:.3f} on average, {floor95:.3f} at the 95th percentile "
        "(1,000 draws). Resampling the claims (bootstrap, 1,000 draws, first shuffle) puts "
        f"the ECE between {d['boot'][0]:.3f} and {d['boot'][1]:.3f} (95%; a resample's ECE "
        "carries that noise again, so the interval leans high). Over every claim, "
        "refusals included at confidence 0 (none of them is right), the ECE is "
        f"{res['all_claims_ece'][0]:.3f} ± {res['all_claims_ece'][1]:.3f}.",
        "",
        f"Every calibrator, mean over the {repeats} shuffles (ECE ± sd; the Brier score and "
        "its parts over the same 10 bins: reliability, lower is better; resolution, higher "
        "is better, 0 for a constant; uncertainty "
        f"{d['uncertainty']:.3f} = base rate {res['base_rate']:.3f} times its complement; "
        "AUC, 0.5 for a confidence that tells nothing):",
        "",
        "| calibrator | ECE | noise floor | Brier | reliability | resolution | AUC |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in methods.items():
        e = r["ece"]
        lines.append(
            f"| {name} | {e[0]:.3f} ± {e[1]:.3f} | {r['floor'][0]:.3f} | {r['brier']:.3f} | "
            f"{r['reliability']:.3f} | {r['resolution']:.3f} | {r['auc']:.3f} |"
        )
    iso = methods["isotonic"]
    lines += ["", f"Reliability (held-out, first shuffle; {label} / isotonic):", ""]
    lines += ["| bin | answers | mean confidence | share correct | answers | mean confidence "
              "| share correct |", "|---|---|---|---|---|---|---|"]  # fmt: skip

    def cell(r: dict[str, Any]) -> str:
        if not r["count"]:
            return "0 | - | -"
        return f"{r['count']} | {r['confidence']:.3f} | {r['accuracy']:.3f}"

    for a, b in zip(d["table"], iso["table"], strict=True):
        lines.append(f"| {a['lo']:.1f}-{a['hi']:.1f} | {cell(a)} | {cell(b)} |")
    return "\n".join(lines)


def overhead_table(run: Run) -> str:
    o = np.array(run.overhead_ms)
    t = np.array(run.total_ms)
    p50, p95 = float(np.percentile(o, 50)), float(np.percentile(o, 95))
    return (
        "| target | measured | met? |\n|---|---|---|\n"
        f"| pipeline overhead (all but the model call) p50 <= 10 ms, one core | p50 {p50:.2f} ms, "
        f"p95 {p95:.2f} ms | {'yes' if p50 <= 10 else '**no**'} |\n\n"
        f"With the model call (ExtractiveModel, in process): p50 "
        f"{float(np.percentile(t, 50)):.2f} ms, p95 {float(np.percentile(t, 95)):.2f} ms. "
        "Median per step (ms): "
        + ", ".join(f"{k} {float(np.median(v)):.2f}" for k, v in run.steps_ms.items())
        + "."
    )


def machine() -> str:
    import covekit

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, covekit {covekit.__version__}"
    )


_RUN: Run | None = None


def cached_run() -> Run:
    global _RUN
    if _RUN is None:
        _RUN = run_pipeline()
    return _RUN


def test_pipeline_calibration() -> None:
    run = cached_run()
    print("\n" + calibration_tables(calibration(run, 5, 0, REPEATS), 5, REPEATS))


def test_pipeline_overhead() -> None:
    print("\n" + overhead_table(cached_run()))


def test_tracing_overhead() -> None:
    print("\n" + tracing_table(tracing_overhead(1)))


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--update", type=Path)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=REPEATS)
    ap.add_argument("--trace-repeats", type=int, default=3)
    ap.add_argument("--only-tracing", action="store_true", help="print the tracing table only")
    args = ap.parse_args()
    if args.only_tracing:
        print(tracing_table(tracing_overhead(args.trace_repeats)))
        return 0
    t0 = time.perf_counter()
    run = cached_run()
    took = time.perf_counter() - t0
    parts = [
        f"Machine: {machine()}. {len(run.answers)} SciFact claims answered in {took:.0f} s "
        "(knowledge base build included).",
        "#### Calibration of the confidence",
        calibration_tables(
            calibration(run, args.folds, args.seed, args.repeats), args.folds, args.repeats
        ),
        "#### Pipeline overhead",
        overhead_table(run),
        "#### Tracing overhead",
        tracing_table(tracing_overhead(args.trace_repeats)),
    ]
    text = "\n\n".join(parts)
    print(text)
    if args.update:
        update_block(args.update, "bench_pipeline.py", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
