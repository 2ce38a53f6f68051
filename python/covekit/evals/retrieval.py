"""Retrieval metrics (trec_eval definitions) and a BEIR dataset loader.

A *run* maps each query id to its ranked document ids (best first); *qrels* map each
query id to ``{doc_id: relevance}``. A document is relevant when its relevance is > 0.
Each metric is the mean over the queries of ``qrels`` that have at least one relevant
document; a query missing from the run scores 0.

>>> qrels = {"q1": {"d1": 2, "d2": 1}, "q2": {"d9": 1}}
>>> run = {"q1": ["d2", "d1", "d3"], "q2": ["d3", "d9"]}
>>> round(ndcg_at_k(run, qrels, 10), 4), recall_at_k(run, qrels, 1), mrr_at_k(run, qrels, 10)
(0.7453, 0.25, 0.75)

Definitions (as trec_eval's ``ndcg_cut``, ``recall`` and ``recip_rank`` measures, which
BEIR and Pyserini report): nDCG@k uses graded gains ``rel`` and the discount
``log2(rank + 1)``; the ideal DCG sorts the query's judged relevances (from the
qrels, not the run) in decreasing order. recall@k is the share of the relevant
documents found in the first ``k``. MRR@k is ``1 / rank`` of the first relevant
document within ``k`` (0 when none).

Thread safety: pure functions.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from covekit.errors import InvalidInput

__all__ = ["BeirDataset", "BeirDocument", "load_beir", "mrr_at_k", "ndcg_at_k", "recall_at_k"]

Run = Mapping[str, Sequence[str]]
Qrels = Mapping[str, Mapping[str, int]]


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInput(f"k must be an int >= 1, got {k!r}")


def _judged(qrels: Qrels) -> list[str]:
    return [q for q, rels in qrels.items() if any(r > 0 for r in rels.values())]


def ndcg_at_k(run: Run, qrels: Qrels, k: int) -> float:
    """Mean nDCG@k with graded relevance (trec_eval ``ndcg_cut.k``).

    >>> ndcg_at_k({"q": ["a", "b"]}, {"q": {"b": 1}}, 10) == 1 / math.log2(3)
    True
    """
    _check_k(k)
    queries = _judged(qrels)
    if not queries:
        return 0.0
    total = 0.0
    for q in queries:
        rels = qrels[q]
        ranked = list(run.get(q, ()))[:k]
        dcg = sum(
            rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked) if rels.get(d, 0) > 0
        )
        ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
        idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
        total += dcg / idcg
    return total / len(queries)


def recall_at_k(run: Run, qrels: Qrels, k: int) -> float:
    """Mean recall@k: relevant documents in the first ``k`` over all relevant ones.

    >>> recall_at_k({"q": ["a", "b"]}, {"q": {"b": 1, "c": 1}}, 2)
    0.5
    """
    _check_k(k)
    queries = _judged(qrels)
    if not queries:
        return 0.0
    total = 0.0
    for q in queries:
        relevant = {d for d, r in qrels[q].items() if r > 0}
        found = len(relevant.intersection(list(run.get(q, ()))[:k]))
        total += found / len(relevant)
    return total / len(queries)


def mrr_at_k(run: Run, qrels: Qrels, k: int) -> float:
    """Mean reciprocal rank of the first relevant document within ``k``.

    >>> mrr_at_k({"q": ["a", "b"]}, {"q": {"b": 1}}, 10)
    0.5
    """
    _check_k(k)
    queries = _judged(qrels)
    if not queries:
        return 0.0
    total = 0.0
    for q in queries:
        rels = qrels[q]
        for i, d in enumerate(list(run.get(q, ()))[:k]):
            if rels.get(d, 0) > 0:
                total += 1.0 / (i + 1)
                break
    return total / len(queries)


@dataclass(frozen=True, slots=True)
class BeirDocument:
    """One corpus document of a BEIR dataset."""

    id: str
    title: str
    text: str

    @property
    def full_text(self) -> str:
        """``title + " " + text``, what BEIR's lexical baselines index."""
        return f"{self.title} {self.text}" if self.title else self.text


@dataclass(frozen=True, slots=True)
class BeirDataset:
    """A BEIR dataset split: corpus, the queries judged in the split, and their qrels."""

    corpus: dict[str, BeirDocument]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{n}: not a JSON line ({exc.msg})") from None
            if not isinstance(row, dict) or "_id" not in row:
                raise InvalidInput(f"{path}:{n}: each line must be an object with an '_id'")
            rows.append(row)
    return rows


def load_beir(folder: str | os.PathLike[str], *, split: str = "test") -> BeirDataset:
    """Reads a BEIR dataset folder: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``.

    Only the queries that the split judges are kept (as BEIR's own loader does).

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d); (p / "qrels").mkdir()
    ...     _ = (p / "corpus.jsonl").write_text('{"_id": "d1", "title": "T", "text": "body"}\\n')
    ...     _ = (p / "queries.jsonl").write_text('{"_id": "q1", "text": "body?"}\\n')
    ...     qrels = "query-id\\tcorpus-id\\tscore\\nq1\\td1\\t1\\n"
    ...     _ = (p / "qrels" / "test.tsv").write_text(qrels)
    ...     ds = load_beir(p)
    >>> ds.corpus["d1"].full_text, ds.queries, ds.qrels
    ('T body', {'q1': 'body?'}, {'q1': {'d1': 1}})
    """
    root = Path(folder)
    for name in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (root / name).is_file():
            raise FileNotFoundError(f"BEIR dataset file {root / name} is missing")
    qrels: dict[str, dict[str, int]] = {}
    with (root / "qrels" / f"{split}.tsv").open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if n == 1 and parts[0] == "query-id":
                continue
            if not line.strip():
                continue
            if len(parts) != 3:
                raise InvalidInput(f"{root}/qrels/{split}.tsv:{n}: expected 3 tab-separated fields")
            try:
                score = int(parts[2])
            except ValueError:
                raise InvalidInput(
                    f"{root}/qrels/{split}.tsv:{n}: score {parts[2]!r} is not an int"
                ) from None
            qrels.setdefault(parts[0], {})[parts[1]] = score
    corpus = {
        str(r["_id"]): BeirDocument(
            str(r["_id"]), str(r.get("title") or ""), str(r.get("text") or "")
        )
        for r in _read_jsonl(root / "corpus.jsonl")
    }
    queries = {
        str(r["_id"]): str(r.get("text") or "")
        for r in _read_jsonl(root / "queries.jsonl")
        if str(r["_id"]) in qrels
    }
    return BeirDataset(corpus=corpus, queries=queries, qrels=qrels)
