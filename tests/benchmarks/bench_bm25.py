"""covekit's BM25 against bm25s and rank_bm25 on BEIR SciFact (queries/s, same process).

Run with ``make bench`` (pytest-benchmark), or as a script that prints the table::

    python tests/benchmarks/bench_bm25.py [--rounds 5]

All three index the same terms: the SciFact corpus (title + " " + text) analyzed once by
``covekit.Analyzer()`` (Lucene's English analysis), so the peers score exactly the same
bag of words. Before anything is timed, covekit's top-10 is checked against the pure-
Python reference (tests/bm25_reference.py) on a sample of queries, and its agreement
with bm25s (same Lucene formula, k1=0.9, b=0.4) is reported. rank_bm25 implements
Okapi BM25 with another idf, so only its speed is comparable.

What is timed, single-threaded, for the 300 test queries at k=10:

- covekit: ``index.search(query_strings, k=10, strategy=...)``, i.e. analysis + search,
  for each strategy (all three return the same results).
- bm25s: ``retrieve(query_tokens, k=10, n_threads=1)`` on pre-analyzed queries (its
  query tokenization is *not* timed, which favours it), with the fastest backend
  available: numba when installed, else numpy; and a second row that adds
  ``bm25s.tokenize`` of the query strings (its regex tokenizer with English stopwords,
  no stemmer) to the same retrieval, so both sides start from strings.
- rank_bm25: ``get_scores`` + top-10 on pre-analyzed queries, on the first 30 queries
  only (it scores every document per query; the rate is per query all the same).

A second table repeats this with long queries (5 test queries joined, ~50 terms).
The best of ``rounds`` batches (each at least 0.1 s of calls) is kept. Peers that are
not installed are skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

_HERE = Path(__file__).resolve().parent
for _dir in (_HERE, _HERE.parent):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

from bm25_reference import ReferenceBM25  # noqa: E402
from shared_data import beir_dir  # noqa: E402
from timing import best_per_call  # noqa: E402

K = 10
RANK_BM25_QUERIES = 30


@dataclass
class Data:
    texts: list[str]
    doc_terms: list[list[str]]
    queries: list[str]
    query_terms: list[list[str]]


@cache
def scifact() -> Data:
    import covekit
    from covekit.evals.retrieval import load_beir

    ds = load_beir(beir_dir("scifact"))
    texts = [d.full_text for d in ds.corpus.values()]
    analyzer = covekit.Analyzer()
    queries = list(ds.queries.values())
    return Data(
        texts,
        [analyzer.analyze(t) for t in texts],
        queries,
        [analyzer.analyze(q) for q in queries],
    )


def best_of(fn: Callable[[], Any], rounds: int) -> float:
    # Warm-up: at least three calls and a quarter of a second (the first timings of a
    # fresh process run slow: page faults, CPU frequency); then batches of at least 0.1 s.
    return best_per_call(fn, rounds, min_time=0.1, warmup_calls=3, warmup_time=0.25)


def long_queries(data: Data) -> Data:
    """Each query is 5 consecutive test queries joined (about 50 terms): MaxScore's case."""
    qs = [" ".join(data.queries[i : i + 5]) for i in range(0, len(data.queries), 5)]
    qt = [
        [t for q in data.query_terms[i : i + 5] for t in q] for i in range(0, len(data.queries), 5)
    ]
    return Data(data.texts, data.doc_terms, qs, qt)


def covekit_runner(data: Data, strategy: str = "auto") -> Callable[[], Any]:
    import covekit

    index = covekit.BM25Index(k1=0.9, b=0.4)
    index.add(np.arange(len(data.texts), dtype=np.uint64), data.texts)
    # Exactness before speed: top-10 equals the reference on a sample of queries.
    ref = ReferenceBM25(0.9, 0.4)
    for i, terms in enumerate(data.doc_terms):
        ref.add(i, terms)
    ids, _ = index.search(data.queries[:25], k=K)
    for row, terms in zip(ids, data.query_terms[:25], strict=True):
        expected = [i for i, _ in ref.search(terms, K)]
        if row[: len(expected)].tolist() != expected:
            raise AssertionError("covekit's top-10 differs from the reference implementation")
    return lambda: index.search(data.queries, k=K, num_threads=1, strategy=strategy)


def bm25s_runner(data: Data) -> tuple[Callable[[], Any], str, float]:
    import bm25s

    backend = "numba" if importlib.util.find_spec("numba") else "numpy"
    retriever = bm25s.BM25(k1=0.9, b=0.4, method="lucene", backend=backend)
    retriever.index(data.doc_terms, show_progress=False)
    vocab = retriever.vocab_dict
    queries = [[t for t in q if t in vocab] or [""] for q in data.query_terms]

    def run() -> Any:
        return retriever.retrieve(queries, k=K, n_threads=1, show_progress=False)

    # Agreement with covekit's top-10 (same formula; float32 ties may order differently).
    import covekit

    index = covekit.BM25Index()
    index.add(np.arange(len(data.texts), dtype=np.uint64), data.texts)
    ours, _ = index.search(data.queries, k=K)
    theirs, _ = run()
    same = sum(
        set(a.tolist()) == set(b.tolist()) for a, b in zip(ours, np.asarray(theirs), strict=True)
    )
    return run, backend, same / len(data.queries)


def rank_bm25_runner(data: Data) -> Callable[[], Any]:
    from rank_bm25 import BM25Okapi

    model = BM25Okapi(data.doc_terms, k1=0.9, b=0.4)
    queries = data.query_terms[:RANK_BM25_QUERIES]

    def run() -> Any:
        return [np.argsort(-model.get_scores(q))[:K] for q in queries]

    return run


def measure(rounds: int, data: Data) -> list[tuple[str, float, str]]:
    nq = len(data.queries)
    rows = []
    for strategy in ("auto", "maxscore", "exhaustive"):
        t = best_of(covekit_runner(data, strategy), rounds)
        rows.append((f"covekit ({strategy})", nq / t, "query strings: analysis + search"))
    if importlib.util.find_spec("bm25s"):
        run, backend, agree = bm25s_runner(data)
        t = best_of(run, rounds)
        rows.append(
            (f"bm25s ({backend})", nq / t, f"pre-analyzed queries; same top-10 set: {agree:.1%}")
        )
        # Its own query tokenizer (regex + English stopwords; PyStemmer is not used), so
        # that both sides start from query strings: tokenize, then the retrieval above.
        import bm25s

        def with_tokenizer() -> Any:
            bm25s.tokenize(data.queries, stopwords="en", show_progress=False, return_ids=False)
            return run()

        t = best_of(with_tokenizer, rounds)
        rows.append((f"bm25s ({backend}) + bm25s.tokenize", nq / t, "from query strings"))
    if importlib.util.find_spec("rank_bm25"):
        t = best_of(rank_bm25_runner(data), max(1, rounds // 2))
        rows.append(("rank_bm25", RANK_BM25_QUERIES / t, "pre-analyzed queries, Okapi idf"))
    return rows


def table(rows: list[tuple[str, float, str]]) -> str:
    base = rows[0][1]
    lines = [
        "| library | queries/s | covekit's speed-up | note |",
        "|---|---:|---:|---|",
    ]
    for name, qps, note in rows:
        lines.append(f"| {name} | {qps:,.0f} | {base / qps:.2f}x | {note} |")
    return "\n".join(lines)


@pytest.mark.parametrize("lib", ["covekit", "bm25s", "rank_bm25"])
def test_bm25_qps(lib: str, benchmark: Any) -> None:
    data = scifact()
    benchmark.group = "bm25 scifact k=10"
    if lib == "covekit":
        fn = covekit_runner(data)
    elif lib == "bm25s":
        pytest.importorskip("bm25s")
        fn = bm25s_runner(data)[0]
    else:
        pytest.importorskip("rank_bm25")
        fn = rank_bm25_runner(data)
    if benchmark.disabled:
        benchmark.pedantic(lambda: None)
        return
    benchmark.pedantic(fn, rounds=3, warmup_rounds=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    data = scifact()
    print(f"SciFact test queries ({len(data.queries)}), k={K}, one thread\n")
    print(table(measure(args.rounds, data)))
    longq = long_queries(data)
    print(f"\nLong queries ({len(longq.queries)} of 5 test queries each), k={K}, one thread\n")
    print(table(measure(args.rounds, longq)))


if __name__ == "__main__":
    main()
