"""Grounding (covekit.execution.grounding, cpp/src/grounding.cpp): speed of the sentence
scorer and of the support check, against the same scoring in pure Python.

Run with ``make bench`` (pytest-benchmark), or as a script that prints the figures and
can rewrite its block of docs/benchmarks.md::

    COVEKIT_TEST_DATA=../shared/data python tests/benchmarks/bench_grounding.py \\
        [--rounds 5] [--queries 100] [--update docs/benchmarks.md]

Workload: BEIR SciFact, the first ``queries`` test claims, each with its top-5 BM25 hits
(whole abstracts, title and text) as the evidence passages [1]..[5].

- *rank*: every sentence of the 5 passages scored against the claim
  (``_core.Grounder.rank``) vs ``tests/grounding_reference.py``'s ``rank``, the same
  formulas in Python over covekit's analyzer and segmenter; the two must give the same
  sentences in the same order with the same scores before anything is timed.
- *support*: the ExtractiveModel's answer to the claim (up to 3 cited sentences)
  checked against the 5 passages (``_core.Grounder.support``) vs the reference
  ``support``; the same spans, markers and supports are checked first. ``covekit.ground``
  (the public call: the native check plus the Python result objects) is timed as well.
- *answer*: ``ExtractiveModel.complete`` on the rendered messages (parse, rank, compose).

Per call: best of ``rounds`` batches of at least 0.05 s, one thread. Also reported: the
share of claims the ExtractiveModel refuses at its default ``min_support``, and among the
answers, the share that cite at least one document judged relevant.
"""

from __future__ import annotations

import argparse
import platform
import sys
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

_HERE = Path(__file__).resolve().parent
for _dir in (_HERE, _HERE.parent):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

import grounding_reference  # noqa: E402
from shared_data import beir_dir  # noqa: E402
from timing import best_per_call  # noqa: E402

K = 5


@cache
def workload(n: int = 100) -> list[dict[str, Any]]:
    """Per claim: the claim, the ids and texts of its top-5 hits, the relevant ids."""
    import covekit
    from covekit.evals.retrieval import load_beir

    ds = load_beir(beir_dir("scifact"))
    ids = list(ds.corpus)
    texts = [ds.corpus[i].full_text for i in ids]
    index = covekit.BM25Index()
    index.add(np.arange(len(texts), dtype=np.uint64), texts)
    qids = list(ds.queries)[:n]
    hits, _ = index.search([ds.queries[q] for q in qids], k=K)
    out = []
    for q, row in zip(qids, hits, strict=True):
        docs = [ids[int(j)] for j in row]
        out.append(
            {
                "question": ds.queries[q],
                "doc_ids": docs,
                "passages": [texts[int(j)] for j in row],
                "relevant": set(ds.qrels.get(q, {})),
            }
        )
    return out


def messages(item: dict[str, Any]) -> list[dict[str, str]]:
    blocks = "\n\n".join(
        f"[{m}] {d}\n{t}"
        for m, (d, t) in enumerate(zip(item["doc_ids"], item["passages"], strict=True), 1)
    )
    return [
        {"role": "user", "content": "Sources:\n\n" + blocks},
        {"role": "user", "content": item["question"]},
    ]


def check_same(items: list[dict[str, Any]], answers: list[str]) -> None:
    """The native calls and the Python reference agree on every item (before timing)."""
    from covekit import ground
    from covekit._core import Grounder

    g = Grounder()
    for item, answer in zip(items, answers, strict=True):
        got = g.rank(item["question"], item["passages"])
        want = grounding_reference.rank(item["question"], item["passages"])
        assert [x[:3] for x in got] == [x[:3] for x in want]
        assert np.allclose([x[3:6] for x in got], [x[3:6] for x in want], rtol=1e-12, atol=1e-12)
        passages = dict(enumerate(item["passages"], 1))
        sup = ground(answer, passages).sentences
        ref = grounding_reference.support(answer, passages)
        assert [(s.start, s.end, s.markers) for s in sup] == [r[:3] for r in ref]
        assert np.allclose([s.support for s in sup], [r[3] for r in ref], rtol=1e-12)


def measure(rounds: int, n: int) -> dict[str, Any]:
    import covekit
    from covekit._core import Grounder

    items = workload(n)
    model = covekit.ExtractiveModel()
    msgs = [messages(it) for it in items]
    replies = [model.complete(m) for m in msgs]
    answers = [r.text for r in replies]
    check_same(items, answers)
    g = Grounder()
    passages = [it["passages"] for it in items]
    maps = [dict(enumerate(p, 1)) for p in passages]
    markers = list(range(1, K + 1))
    qs = [it["question"] for it in items]

    def per_item(fn: Any) -> float:
        return best_per_call(fn, rounds) / len(items)

    res: dict[str, Any] = {
        "rank native": per_item(lambda: [g.rank(q, p) for q, p in zip(qs, passages, strict=True)]),
        "rank python": per_item(
            lambda: [grounding_reference.rank(q, p) for q, p in zip(qs, passages, strict=True)]
        ),
        "support native": per_item(
            lambda: [g.support(a, p, markers) for a, p in zip(answers, passages, strict=True)]
        ),
        "support python": per_item(
            lambda: [grounding_reference.support(a, m) for a, m in zip(answers, maps, strict=True)]
        ),
        "ground": per_item(
            lambda: [covekit.ground(a, m) for a, m in zip(answers, maps, strict=True)]
        ),
        "answer": per_item(lambda: [model.complete(m) for m in msgs]),
    }
    refused = [r.finish_reason == "refusal" for r in replies]
    answered = [
        (it, covekit.ground(r.text, dict(enumerate(it["passages"], 1))).cited)
        for it, r in zip(items, replies, strict=True)
        if r.finish_reason != "refusal"
    ]
    hits = sum(
        1 for it, cited in answered if {it["doc_ids"][m - 1] for m in cited} & it["relevant"]
    )
    res["queries"] = len(items)
    res["sentences"] = sum(len(g.rank(q, p)) for q, p in zip(qs, passages, strict=True)) / len(
        items
    )
    res["refused"] = sum(refused) / len(items)
    res["answered accuracy"] = hits / len(answered) if answered else float("nan")
    return res


def markdown(res: dict[str, Any]) -> str:
    import covekit

    us = {
        k: v * 1e6
        for k, v in res.items()
        if isinstance(v, float) and k not in ("sentences", "refused", "answered accuracy")
    }
    lines = [
        f"Machine: {platform.machine()}, 2 cores, Python {platform.python_version()}, "
        f"covekit {covekit.__version__}. BEIR SciFact, {res['queries']} test claims, top-{K} "
        f"BM25 abstracts each ({res['sentences']:.1f} sentences per claim on average).",
        "",
        "| step | covekit (C++) µs/call | pure Python µs/call | ratio |",
        "|---|---|---|---|",
        f"| rank the sentences against the claim | {us['rank native']:.0f} | "
        f"{us['rank python']:.0f} "
        f"| {res['rank python'] / res['rank native']:.1f}x |",
        f"| support of the extractive answer | {us['support native']:.0f} | "
        f"{us['support python']:.0f} | {res['support python'] / res['support native']:.1f}x |",
        f"| `covekit.ground` (support + result objects) | {us['ground']:.0f} | | |",
        f"| `ExtractiveModel.complete` (parse, rank, compose) | {us['answer']:.0f} | | |",
        "",
        f"ExtractiveModel with its defaults (min_support 0.3): {res['refused']:.0%} of the claims "
        f"refused; of the answers, {res['answered accuracy']:.0%} cite a document judged relevant.",
    ]
    return "\n".join(lines)


@pytest.mark.parametrize("step", ["rank", "support"])
def test_grounding_speed(step: str, benchmark: Any) -> None:
    import covekit
    from covekit._core import Grounder

    items = workload(20)
    benchmark.group = f"grounding {step}, SciFact top-{K}"
    if benchmark.disabled:
        benchmark.pedantic(lambda: None)
        return
    g = Grounder()
    if step == "rank":
        benchmark.pedantic(
            lambda: [g.rank(it["question"], it["passages"]) for it in items], rounds=5
        )
    else:
        model = covekit.ExtractiveModel()
        answers = [model.complete(messages(it)).text for it in items]
        marks = list(range(1, K + 1))
        benchmark.pedantic(
            lambda: [
                g.support(a, it["passages"], marks) for a, it in zip(answers, items, strict=True)
            ],
            rounds=5,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--update", type=Path, help="rewrite this file's bench_grounding.py block")
    args = ap.parse_args()
    text = markdown(measure(args.rounds, args.queries))
    print(text)
    if args.update:
        from doc_block import update_block

        update_block(args.update, "bench_grounding.py", text)


if __name__ == "__main__":
    main()
