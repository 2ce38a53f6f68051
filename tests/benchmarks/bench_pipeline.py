"""The pipeline on BEIR SciFact: how well its confidence is calibrated, how often it
refuses, and its own overhead (everything but the model call).

Run with ``make bench`` (pytest-benchmark collects the test functions), or as a script
that prints the tables::

    OPENBLAS_NUM_THREADS=1 python tests/benchmarks/bench_pipeline.py [--update docs/benchmarks.md]
        [--folds 5] [--seed 0]

**Setup.** SciFact's 5,183 documents (``title + " " + text``) chunked at 128 tokens
(cl100k_base), the hashing embedder fitted on the corpus, one ``covekit.KnowledgeBase``
(the same as tests/benchmarks/bench_context.py); ``covekit.Pipeline`` with its default
model, ``covekit.ExtractiveModel``, 50 candidates and a 2,000-token prompt budget; the
300 test claims, one thread. An answer is **correct** when it cites at least one
document that SciFact judges relevant to the claim.

**Calibration.** The confidence features of each answered claim
(``covekit.ConfidenceSignals``: retrieval scores, margin, the cited chunks' score and
rank, distinct sources, conflicts, staleness, grounding) are fitted by
``covekit.Calibrator`` with k-fold cross-validation by claim (``--folds``, claims
shuffled with ``--seed``): each claim's confidence comes from a calibrator that never
saw it. Reported over the pooled held-out predictions: the expected calibration error
(10 equal-width bins), the Brier score and the reliability table, for isotonic and
logistic fits and for the unfitted prior. Refused answers are left out of the fit and
of the ECE (their confidence is 0 and none of them is correct: they cite nothing); the
refusal share and the accuracy of the answers that were not refused are given.

**Overhead.** Per claim, the pipeline's time minus the model call (the ``chat`` span of
its trace), i.e. redaction (off here), retrieval and context building, grounding,
citations and confidence: p50 and p95.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_HERE = Path(__file__).resolve().parent
for p in (_HERE, _HERE.parent):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_context import scifact  # noqa: E402
from doc_block import update_block  # noqa: E402

BINS = 10
CANDIDATES = 50
BUDGET = 2000


@dataclass
class Run:
    answers: list[Any]
    correct: list[int]
    overhead_ms: list[float]
    total_ms: list[float]
    steps_ms: dict[str, list[float]]


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


def cross_validate(run: Run, method: str, folds: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Held-out confidences of the answered claims, and their labels."""
    import covekit
    from covekit.execution.calibrate import features_matrix

    idx = [i for i, a in enumerate(run.answers) if a.outcome == "answered"]
    x = features_matrix([run.answers[i].signals for i in idx])
    y = np.array([run.correct[i] for i in idx], dtype=np.float64)
    if method == "prior":
        return covekit.Calibrator().predict(x), y
    order = np.random.default_rng(seed).permutation(len(idx))
    fold_of = np.empty(len(idx), dtype=np.int64)
    fold_of[order] = np.arange(len(idx)) % folds
    out = np.empty(len(idx))
    for f in range(folds):
        train, test = fold_of != f, fold_of == f
        cal = covekit.Calibrator(method).fit(x[train], y[train])  # type: ignore[arg-type]
        out[test] = cal.predict(x[test])
    return out, y


def calibration(run: Run, folds: int, seed: int) -> dict[str, Any]:
    import covekit

    res: dict[str, Any] = {}
    for method in ("isotonic", "logistic", "prior"):
        p, y = cross_validate(run, method, folds, seed)
        rng = np.random.default_rng(seed)
        floor = [
            covekit.expected_calibration_error(p, (rng.random(p.size) < p).astype(float), BINS)
            for _ in range(1000)
        ]
        res[method] = {
            "floor": (float(np.mean(floor)), float(np.percentile(floor, 95))),
            "ece": covekit.expected_calibration_error(p, y, BINS),
            "brier": covekit.brier_score(p, y),
            "table": covekit.reliability_table(p, y, BINS),
            "n": int(y.size),
            "base_rate": float(y.mean()),
        }
    n = len(run.answers)
    refused = [a for a in run.answers if a.outcome != "answered"]
    answered = [c for a, c in zip(run.answers, run.correct, strict=True) if a.outcome == "answered"]
    res["refusal_share"] = len(refused) / n
    res["accuracy_answered"] = float(np.mean(answered)) if answered else float("nan")
    res["accuracy_all"] = float(np.mean(run.correct))
    res["queries"] = n
    spread = {}
    for method in ("isotonic", "logistic"):
        eces = [
            covekit.expected_calibration_error(*cross_validate(run, method, folds, s), BINS)
            for s in range(seed, seed + 10)
        ]
        spread[method] = (float(np.mean(eces)), float(np.std(eces)), float(np.max(eces)))
    res["spread"] = spread
    return res


def calibration_tables(res: dict[str, Any], folds: int) -> str:
    iso, log_, prior = res["isotonic"], res["logistic"], res["prior"]
    mean, sd, _ = res["spread"]["logistic"]
    floor = log_["floor"][0]
    met = (
        "yes"
        if mean <= 0.05
        else ("**no**, at the noise floor" if mean <= floor + sd else "**no**")
    )
    lines = [
        "| target | measured | met? |",
        "|---|---|---|",
        f"| ECE <= 0.05 (10 equal-width bins, {folds}-fold cross-validation by claim), "
        "the default logistic calibrator | "
        f"{mean:.3f} ± {sd:.3f} over 10 shuffles of the folds (one shuffle: logistic "
        f"{log_['ece']:.3f}, isotonic {iso['ece']:.3f}; unfitted prior {prior['ece']:.3f}); "
        f"noise floor {floor:.3f} | {met} |",
        "",
        "The noise floor: the ECE that perfectly calibrated confidences (the same values, "
        f"outcomes drawn from them) get on {iso['n']} answers, mean (95th percentile) over "
        f"1,000 draws: isotonic {iso['floor'][0]:.3f} ({iso['floor'][1]:.3f}), logistic "
        f"{log_['floor'][0]:.3f} ({log_['floor'][1]:.3f}).",
        "",
        "Over 10 shuffles of the claims into folds, ECE mean ± sd (max): "
        + "; ".join(f"{m} {a:.3f} ± {b:.3f} ({c:.3f})" for m, (a, b, c) in res["spread"].items())
        + ".",
        "",
        f"{res['queries']} claims; refused {res['refusal_share']:.1%}; accuracy of the "
        f"answers not refused {res['accuracy_answered']:.1%} ({iso['n']} answers; accuracy "
        f"over all claims, a refusal counted wrong, {res['accuracy_all']:.1%}).",
        "",
        "| fit | ECE | Brier | answers | share correct |",
        "|---|---|---|---|---|",
    ]
    for name, r in (("isotonic", iso), ("logistic", log_), ("unfitted prior", prior)):
        lines.append(
            f"| {name} | {r['ece']:.3f} | {r['brier']:.3f} | {r['n']} | {r['base_rate']:.3f} |"
        )
    lines += ["", "Reliability (held-out, isotonic / logistic):", ""]
    lines += ["| bin | answers | mean confidence | share correct | answers | mean confidence "
              "| share correct |", "|---|---|---|---|---|---|---|"]  # fmt: skip

    def cell(r: dict[str, Any]) -> str:
        if not r["count"]:
            return "0 | - | -"
        return f"{r['count']} | {r['confidence']:.3f} | {r['accuracy']:.3f}"

    for a, b in zip(iso["table"], log_["table"], strict=True):
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
    print("\n" + calibration_tables(calibration(run, 5, 0), 5))


def test_pipeline_overhead() -> None:
    print("\n" + overhead_table(cached_run()))


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--update", type=Path)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    run = cached_run()
    took = time.perf_counter() - t0
    parts = [
        f"Machine: {machine()}. {len(run.answers)} SciFact claims answered in {took:.0f} s "
        "(knowledge base build included).",
        "#### Calibration of the confidence",
        calibration_tables(calibration(run, args.folds, args.seed), args.folds),
        "#### Pipeline overhead",
        overhead_table(run),
    ]
    text = "\n\n".join(parts)
    print(text)
    if args.update:
        update_block(args.update, "bench_pipeline.py", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
