"""covekit.evals.retrieval: metric definitions, the BEIR loader, and the BM25 quality
proof on BEIR SciFact (test split) against the published BM25 figures."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from covekit import Analyzer, BM25Index
from covekit.data.bm25 import MISSING_ID
from covekit.errors import InvalidInput
from covekit.evals.retrieval import load_beir, mrr_at_k, ndcg_at_k, recall_at_k
from shared_data import beir_dir

# Published BM25 nDCG@10 on SciFact: BEIR paper (Thakur et al. 2021, Elasticsearch)
# and Pyserini's "flat" BEIR index (Lucene, k1=0.9, b=0.4, title + text).
BEIR_PAPER = 0.665
PYSERINI_FLAT = 0.679


def test_ndcg_graded_and_ideal_from_qrels() -> None:
    qrels = {"q": {"a": 2, "b": 1, "c": 0, "z": 1}}
    run = {"q": ["c", "b", "a"]}
    dcg = 1 / math.log2(3) + 2 / math.log2(4)
    idcg = 2 + 1 / math.log2(3) + 1 / math.log2(4)  # z is relevant but not retrieved
    assert ndcg_at_k(run, qrels, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(run, qrels, 1) == 0.0
    assert ndcg_at_k({"q": ["a", "b", "z"]}, qrels, 10) == pytest.approx(1.0)


def test_recall_and_mrr() -> None:
    qrels = {"q1": {"a": 1, "b": 1}, "q2": {"x": 1}, "q3": {"n": 0}}  # q3: nothing relevant
    run = {"q1": ["b", "c", "a"], "q2": ["y"]}
    assert recall_at_k(run, qrels, 1) == pytest.approx((0.5 + 0) / 2)
    assert recall_at_k(run, qrels, 3) == pytest.approx((1.0 + 0) / 2)
    assert mrr_at_k(run, qrels, 10) == pytest.approx((1.0 + 0) / 2)
    assert mrr_at_k({"q1": ["c", "a"]}, qrels, 1) == 0.0
    assert ndcg_at_k({}, {}, 10) == recall_at_k({}, {}, 5) == mrr_at_k({}, {}, 5) == 0.0
    with pytest.raises(InvalidInput, match="k must be"):
        ndcg_at_k(run, qrels, 0)


def test_load_beir_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"corpus\.jsonl"):
        load_beir(tmp_path)
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text("not json\n")
    (tmp_path / "queries.jsonl").write_text("")
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n")
    with pytest.raises(InvalidInput, match=r"corpus\.jsonl:1"):
        load_beir(tmp_path)
    (tmp_path / "qrels" / "test.tsv").write_text("q\td\tx\n")
    with pytest.raises(InvalidInput, match="not an int"):
        load_beir(tmp_path)


def test_bm25_scifact_matches_published_figure() -> None:
    """covekit's BM25 (Lucene English analysis, k1=0.9, b=0.4) on SciFact's test split."""
    ds = load_beir(beir_dir("scifact"))
    assert len(ds.corpus) == 5183 and len(ds.queries) == 300
    docs = list(ds.corpus.values())
    index = BM25Index(k1=0.9, b=0.4, analyzer=Analyzer(stem="porter", stopwords="english"))
    index.add(np.arange(len(docs), dtype=np.uint64), [d.full_text for d in docs])
    qids = list(ds.queries)
    ids, _ = index.search([ds.queries[q] for q in qids], k=100)
    run = {
        q: [docs[i].id for i in row if i != MISSING_ID] for q, row in zip(qids, ids, strict=True)
    }
    ndcg = ndcg_at_k(run, ds.qrels, 10)
    recall = recall_at_k(run, ds.qrels, 100)
    print(f"SciFact BM25 nDCG@10 = {ndcg:.4f}, recall@100 = {recall:.4f}")
    assert abs(ndcg - PYSERINI_FLAT) <= 0.01
    assert ndcg >= BEIR_PAPER - 0.01
    assert recall >= 0.90  # Pyserini flat: 0.925
