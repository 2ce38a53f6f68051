"""A straightforward pure-Python BM25 (Lucene's variant): the oracle of test_bm25.py.

It scores every document with the same formula and the same floating-point operations
as the C++ index, so results must match exactly: ids, order (ties by insertion order)
and scores. Terms come from covekit's analyzer (analysis is tested on its own).
"""

from __future__ import annotations

import math
from collections import Counter


class ReferenceBM25:
    def __init__(self, k1: float = 0.9, b: float = 0.4) -> None:
        self.k1 = k1
        self.b = b
        self.docs: dict[int, Counter[str]] = {}  # insertion order = tie-break order
        self.lens: dict[int, int] = {}

    def add(self, doc_id: int, terms: list[str]) -> None:
        self.delete(doc_id)
        self.docs[doc_id] = Counter(terms)
        self.lens[doc_id] = len(terms)

    def delete(self, doc_id: int) -> bool:
        self.lens.pop(doc_id, None)
        return self.docs.pop(doc_id, None) is not None

    def search(self, query_terms: list[str], k: int) -> list[tuple[int, float]]:
        n = sum(1 for dl in self.lens.values() if dl > 0)
        if n == 0 or k == 0:
            return []
        avgdl = sum(self.lens.values()) / n
        df: Counter[str] = Counter()
        for tf in self.docs.values():
            df.update(tf.keys())
        qtf: dict[str, int] = {}
        for t in query_terms:
            if df[t] > 0:
                qtf[t] = qtf.get(t, 0) + 1
        k1, b = self.k1, self.b
        idf = {
            t: math.log(1.0 + (float(n) - float(df[t]) + 0.5) / (float(df[t]) + 0.5)) for t in qtf
        }
        scored = []
        for order, (doc_id, tfs) in enumerate(self.docs.items()):
            dl = float(self.lens[doc_id])
            s = 0.0
            matched = False
            for t, q in qtf.items():
                tf = float(tfs.get(t, 0))
                if tf > 0:
                    matched = True
                    s += float(q) * idf[t] * (tf / (tf + k1 * (1.0 - b + b * dl / avgdl)))
            if matched:
                scored.append((-s, order, doc_id, s))
        scored.sort()
        return [(doc_id, s) for _, _, doc_id, s in scored[:k]]
