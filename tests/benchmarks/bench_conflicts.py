"""The conflict signal (covekit.decision.conflicts): speed, and how often it flags real text.

Run with ``make bench`` (pytest-benchmark), or as a script that prints the figures::

    python tests/benchmarks/bench_conflicts.py [--rounds 5] [--queries 100] [--show 10]

No other library does this, so there is no peer to compare with; the figures stand alone.

Speed: ``find_conflicts`` on the chunks a context builder keeps, single thread, best of
``rounds`` batches of at least 0.2 s (per request: the time of a batch over its requests),
with chunks it has not seen (the cache of chunk analyses emptied before each request) and
with chunks seen before (the cache warm, as when the same chunks are kept again):

- *SciFact*: for each of 20 test queries, the top-10 BM25 hits of BEIR SciFact, each cut
  to its first 150 words (abstracts dense with numbers: p-values, percentages, counts);
- *policy text*: 20 requests of 10 chunks of about 150 words, each chunk three sentences
  from the labelled policy cases of tests/test_conflicts.py among sentences without
  numbers (about 3 quantities per chunk).

False positives: for 100 SciFact test queries, the top-10 BM25 hits (whole abstracts,
each its own document) go through ``find_conflicts`` with the defaults; the flags per
query are counted by kind, and ``--show`` prints that many flags with the sentence
around each mention, to be judged by eye. SciFact abstracts are different studies, so a
flag there is a false positive by the standard "two sources state different values for
the same fact"; what the count measures is how often different studies' figures look
alike to the rules.

Labelled cases: the policy-text pairs of tests/test_conflicts.py (conflict or not) give
precision and recall for ``min_shared_terms`` 1, 2 and 3 and ``window`` 2 to 5.
"""

from __future__ import annotations

import argparse
import collections
import platform
import random
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

from shared_data import beir_dir  # noqa: E402
from test_conflicts import HELD_OUT_CASES, POLICY_CASES  # noqa: E402
from timing import best_per_call  # noqa: E402

Chunks = list[tuple[int, str, str]]

FILLER = [
    "Our support team is happy to help with any questions about your account.",
    "Please keep your receipt as proof of purchase.",
    "Items must be returned in their original packaging.",
    "You can manage your subscription from the billing page of the dashboard.",
    "We may update these terms from time to time and will notify you by email.",
    "Contact us through the help center if something is unclear.",
    "Gift cards cannot be exchanged for cash.",
    "Personalised items are not eligible for return.",
    "All prices include applicable taxes unless stated otherwise.",
]


@cache
def scifact() -> tuple[list[str], list[str], list[str], np.ndarray]:
    """Document ids, texts, the first 100 test queries, and their top-10 BM25 hits."""
    import covekit
    from covekit.evals.retrieval import load_beir

    ds = load_beir(beir_dir("scifact"))
    ids = list(ds.corpus)
    texts = [ds.corpus[i].full_text for i in ids]
    index = covekit.BM25Index()
    index.add(np.arange(len(texts), dtype=np.uint64), texts)
    queries = list(ds.queries.values())[:100]
    hits, _ = index.search(queries, k=10)
    return ids, texts, queries, hits


def scifact_requests(n: int = 20, words: int = 150) -> list[Chunks]:
    ids, texts, _, hits = scifact()
    return [
        [(int(j), ids[int(j)], " ".join(texts[int(j)].split()[:words])) for j in row]
        for row in hits[:n]
    ]


def policy_requests(n: int = 20, seed: int = 0) -> list[Chunks]:
    sentences = [s for a, b, _ in POLICY_CASES + HELD_OUT_CASES for s in (a, b)]
    rng = random.Random(seed)
    requests = []
    for _ in range(n):
        chunks = []
        for c in range(10):
            parts = rng.sample(sentences, 3)
            while len(" ".join(parts).split()) < 150:
                parts.append(rng.choice(FILLER))
            rng.shuffle(parts)
            chunks.append((c, f"doc-{c}", " ".join(parts)))
        requests.append(chunks)
    return requests


def per_request(requests: list[Chunks], rounds: int, *, cold: bool) -> float:
    """Seconds per request; ``cold``: the cache of chunk analyses is emptied before each."""
    from covekit.decision import conflicts

    clear = conflicts._cached_analysis.cache_clear

    def run() -> None:
        for r in requests:
            if cold:
                clear()
            conflicts.find_conflicts(r)

    return best_per_call(run, rounds, min_time=0.2, warmup_calls=2) / len(requests)


def speed(rounds: int) -> list[str]:
    from covekit.decision.conflicts import extract_mentions

    lines = [
        "| workload (10 chunks per request) | words | mentions | µs, new chunks | µs, seen before |"
    ]
    lines.append("|---|---:|---:|---:|---:|")
    for name, requests in (
        ("SciFact top-10, first 150 words", scifact_requests()),
        ("policy text, ~150 words", policy_requests()),
    ):
        words = sum(len(t.split()) for r in requests for _, _, t in r) / len(requests)
        mentions = sum(len(extract_mentions(c, d, t)) for r in requests for c, d, t in r) / len(
            requests
        )
        cold = per_request(requests, rounds, cold=True)
        warm = per_request(requests, rounds, cold=False)
        lines.append(
            f"| {name} | {words:,.0f} | {mentions:.1f} | {cold * 1e6:,.0f} | {warm * 1e6:,.0f} |"
        )
    return lines


def sentence(text: str, start: int, end: int) -> str:
    left = max(text.rfind(". ", 0, start) + 2, start - 140, 0)
    right = text.find(". ", end)
    right = min(right + 1 if right >= 0 else len(text), end + 100)
    return f"{text[left:start]}[[{text[start:end]}]]{text[end:right]}"


def false_positives(show: int, queries: int) -> list[str]:
    from covekit.decision.conflicts import find_conflicts

    ids, texts, qs, hits = scifact()
    by_id = dict(zip(ids, texts, strict=True))
    flags = []
    per_query = []
    kinds: collections.Counter[str] = collections.Counter()
    for q, row in zip(qs[:queries], hits[:queries], strict=True):
        found = find_conflicts([(int(j), ids[int(j)], texts[int(j)]) for j in row])
        per_query.append(len(found))
        for c in found:
            kinds[f"{c.kind} ({c.unit})"] += 1
            flags.append((q, c))
    n = len(per_query)
    lines = [
        f"SciFact, {n} test queries, top-10 BM25 hits (whole abstracts): "
        f"{sum(per_query)} flags, {sum(per_query) / n:.2f} per query, "
        f"{sum(1 for x in per_query if x)} queries with at least one",
        "by kind: " + ", ".join(f"{k}: {v}" for k, v in kinds.most_common()),
    ]
    for q, c in flags[:show]:
        lines.append(f"\nquery: {q}\n  shared terms: {', '.join(c.terms)}")
        for m in c.mentions:
            lines.append(f"  [{m.doc_id}] {sentence(by_id[m.doc_id], m.start, m.end)}")
    return lines


def labelled() -> list[str]:
    from covekit.decision.conflicts import find_conflicts

    lines = [
        "| cases | window | min_shared_terms | true pos. | false pos. | false neg. | true neg. |"
    ]
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for name, cases in (("tuning", POLICY_CASES), ("held out", HELD_OUT_CASES)):
        for window in (2, 3, 4, 5):
            for mst in (1, 2, 3):
                tp = fp = fn = tn = 0
                for a, b, expected in cases:
                    got = bool(
                        find_conflicts(
                            [(1, "a", a), (2, "b", b)], min_shared_terms=mst, window=window
                        )
                    )
                    tp += got and expected
                    fp += got and not expected
                    fn += not got and expected
                    tn += not got and not expected
                lines.append(f"| {name} | {window} | {mst} | {tp} | {fp} | {fn} | {tn} |")
    return lines


@pytest.mark.parametrize("workload", ["scifact", "policy"])
def test_conflicts_speed(workload: str, benchmark: Any) -> None:
    from covekit.decision.conflicts import find_conflicts

    requests = scifact_requests() if workload == "scifact" else policy_requests()
    benchmark.group = "find_conflicts, 10 chunks of ~150 words"

    def run() -> None:
        for r in requests:
            find_conflicts(r)

    if benchmark.disabled:
        benchmark.pedantic(lambda: None)
        return
    benchmark.pedantic(run, rounds=5, warmup_rounds=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--show", type=int, default=10, help="flags to print with their sentences")
    args = ap.parse_args()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}\n")
    print("\n".join(speed(args.rounds)))
    print()
    print("\n".join(labelled()))
    print()
    print("\n".join(false_positives(args.show, args.queries)))


if __name__ == "__main__":
    main()
