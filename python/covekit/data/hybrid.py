"""Hybrid retrieval: BM25 and vector search under one filter, fused into one ranking.

Each signal returns its ``candidates`` best ids for the query, with the same
:class:`~covekit.Filter` applied *inside* both searches (an id the filter rejects is
never a candidate, so it can never be fused into the result). The two lists are fused
by reciprocal rank fusion (``fusion="rrf"``, ``k_rrf=60``) or by a weighted sum of
per-query normalized scores (``fusion="weighted"``, see :mod:`covekit.data.fusion`).
``explain=True`` returns each hit's rank and score in each signal.

>>> import covekit
>>> emb = covekit.HashingEmbedder(dim=64)
>>> texts = ["refunds take ten days", "reset your password", "refund policy for orders"]
>>> bm25, vectors = covekit.BM25Index(), covekit.VectorIndex(64)
>>> bm25.add([1, 2, 3], texts)
>>> vectors.add([1, 2, 3], emb.embed(texts))
>>> retriever = covekit.HybridRetriever(bm25, vectors, emb)
>>> [h.id for h in retriever.search("refund days", k=2)]
[1, 3]

Thread safety: searching is safe from many threads (both indexes allow concurrent
readers, and the embedder must be thread-safe, as covekit's are).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, overload

import numpy as np

from covekit.data import fusion as _fusion
from covekit.errors import InvalidInput

if TYPE_CHECKING:
    from covekit.data.bm25 import BM25Index
    from covekit.data.embed import Embedder
    from covekit.data.filters import Filter
    from covekit.data.vector_index import VectorIndex

__all__ = ["HybridRetriever", "RetrievalHit", "SignalScore"]

_MISSING = int(_fusion.MISSING)


@dataclass(frozen=True, slots=True)
class SignalScore:
    """A hit's place in one signal: its 1-based rank and raw score (``None`` when the
    signal did not return it among its candidates).

    >>> SignalScore(rank=1, score=7.5)
    SignalScore(rank=1, score=7.5)
    """

    rank: int | None
    score: float | None


@dataclass(frozen=True, slots=True)
class RetrievalHit:
    """One fused result: the id, its fused score and rank (1-based), and with
    ``explain=True`` the per-signal :class:`SignalScore` (``{"bm25": ..., "vector": ...}``).

    >>> RetrievalHit(id=3, score=0.03, rank=1).id
    3
    """

    id: int
    score: float
    rank: int
    signals: dict[str, SignalScore] | None = None


class HybridRetriever:
    """BM25 + vector retrieval with one filter and rank fusion.

    Parameters:
        bm25: the keyword index (or ``None`` for vector search alone).
        vectors: the vector index (or ``None`` for BM25 alone).
        embedder: turns queries into vectors for ``vectors``; its ``dim`` must match.
        fusion: ``"rrf"`` (default) or ``"weighted"``.
        k_rrf: the RRF constant (60, as in Cormack et al. 2009).
        weights: per signal (bm25, vector); for RRF they scale each signal's share.
        normalization: for ``"weighted"``: ``"minmax"`` or ``"dbsf"``.
        candidates: ids taken from each signal before fusion (at least ``k``).
        ef: the vector search's ``ef`` (``None``: the index's default).

    >>> import covekit
    >>> r = covekit.HybridRetriever(covekit.BM25Index(), None, None)
    >>> r
    HybridRetriever(signals=['bm25'], fusion='rrf', candidates=100)
    """

    def __init__(
        self,
        bm25: BM25Index | None,
        vectors: VectorIndex | None,
        embedder: Embedder | None = None,
        *,
        fusion: Literal["rrf", "weighted"] = "rrf",
        k_rrf: float = 60.0,
        weights: Sequence[float] = (1.0, 1.0),
        normalization: Literal["minmax", "dbsf"] = "minmax",
        candidates: int = 100,
        ef: int | None = None,
    ) -> None:
        if bm25 is None and vectors is None:
            raise InvalidInput("pass a BM25Index, a VectorIndex, or both")
        if vectors is not None:
            if embedder is None:
                raise InvalidInput("a vector index needs an embedder to turn queries into vectors")
            if int(embedder.dim) != vectors.dim:
                raise InvalidInput(
                    f"the embedder makes vectors of dim {embedder.dim} but the index holds dim "
                    f"{vectors.dim}; use the embedder the index was built with"
                )
        if fusion not in ("rrf", "weighted"):
            raise InvalidInput(f"fusion must be 'rrf' or 'weighted', got {fusion!r}")
        if normalization not in ("minmax", "dbsf"):
            raise InvalidInput(f"normalization must be 'minmax' or 'dbsf', got {normalization!r}")
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
            raise InvalidInput(f"candidates must be an int >= 1, got {candidates!r}")
        w = [float(x) for x in weights]
        if len(w) != 2 or any(not np.isfinite(x) or x < 0 for x in w) or not any(w):
            raise InvalidInput(
                f"weights must be two finite numbers >= 0, not both 0, got {weights!r}"
            )
        if not (isinstance(k_rrf, (int, float)) and k_rrf >= 0):
            raise InvalidInput(f"k_rrf must be >= 0, got {k_rrf!r}")
        self.bm25 = bm25
        self.vectors = vectors
        self.embedder = embedder
        self.fusion = fusion
        self.k_rrf = float(k_rrf)
        self.weights = (w[0], w[1])
        self.normalization = normalization
        self.candidates = candidates
        self.ef = ef

    def __repr__(self) -> str:
        return (
            f"HybridRetriever(signals={self._signal_names()}, fusion={self.fusion!r}, "
            f"candidates={self.candidates})"
        )

    def _signal_names(self) -> list[str]:
        return [n for n, x in (("bm25", self.bm25), ("vector", self.vectors)) if x is not None]

    def signals(
        self, queries: Sequence[str], k: int, *, filter: Filter | None = None
    ) -> dict[str, _fusion.Ranked]:
        """Each signal's own ``(ids, scores)`` for the queries, filter applied."""
        out: dict[str, _fusion.Ranked] = {}
        if self.bm25 is not None:
            out["bm25"] = self.bm25.search(list(queries), k, filter=filter)
        if self.vectors is not None:
            assert self.embedder is not None
            q = np.ascontiguousarray(self.embedder.embed(list(queries)), dtype=np.float32)
            out["vector"] = self.vectors.search(q, k, ef=self.ef, filter=filter)
        return out

    def search_arrays(
        self, queries: Sequence[str], k: int = 10, *, filter: Filter | None = None
    ) -> tuple[_fusion.Ranked, dict[str, _fusion.Ranked]]:
        """Fused ``(ids, scores)`` of shape ``(nq, k)`` and each signal's candidates."""
        queries = _check_queries(queries)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InvalidInput(f"k must be an int >= 1, got {k!r}")
        per = self.signals(queries, max(k, self.candidates), filter=filter)
        names = list(per)
        ranked = [per[n] for n in names]
        w = [self.weights[0] if n == "bm25" else self.weights[1] for n in names]
        if self.fusion == "rrf":
            fused = _fusion.rrf(ranked, k, k_rrf=self.k_rrf, weights=w)
        else:
            fused = _fusion.weighted(ranked, k, weights=w, normalization=self.normalization)
        return fused, per

    @overload
    def search(  # type: ignore[overload-overlap]  # a str is also a Sequence[str]
        self, queries: str, k: int = ..., *, filter: Filter | None = ..., explain: bool = ...
    ) -> list[RetrievalHit]: ...
    @overload
    def search(
        self,
        queries: Sequence[str],
        k: int = ...,
        *,
        filter: Filter | None = ...,
        explain: bool = ...,
    ) -> list[list[RetrievalHit]]: ...

    def search(
        self,
        queries: str | Sequence[str],
        k: int = 10,
        *,
        filter: Filter | None = None,
        explain: bool = False,
    ) -> list[RetrievalHit] | list[list[RetrievalHit]]:
        """The ``k`` best hits for a query (a list) or for each of several (a list of lists).

        >>> import covekit
        >>> bm25 = covekit.BM25Index()
        >>> bm25.add([1, 2], ["apples and pears", "pears"])
        >>> hit = covekit.HybridRetriever(bm25, None).search("apples", explain=True)[0]
        >>> hit.id, hit.rank, hit.signals["bm25"].rank
        (1, 1, 1)
        """
        single = isinstance(queries, str)
        qs = [queries] if isinstance(queries, str) else list(queries)
        (ids, scores), per = self.search_arrays(qs, k, filter=filter)
        lookup: dict[str, list[dict[int, tuple[int, float]]]] = {}
        if explain:
            for name, (sids, sscores) in per.items():
                rows = []
                for q in range(len(qs)):
                    row: dict[int, tuple[int, float]] = {}
                    rank = 0
                    for d, s in zip(sids[q].tolist(), sscores[q].tolist(), strict=True):
                        if d != _MISSING:
                            rank += 1
                            row[d] = (rank, s)
                    rows.append(row)
                lookup[name] = rows
        out: list[list[RetrievalHit]] = []
        for q in range(len(qs)):
            hits = []
            for r, (d, s) in enumerate(zip(ids[q].tolist(), scores[q].tolist(), strict=True), 1):
                if d == _MISSING:
                    break
                sig = None
                if explain:
                    sig = {}
                    for name, rows in lookup.items():
                        got = rows[q].get(d)
                        sig[name] = SignalScore(*got) if got else SignalScore(None, None)
                hits.append(RetrievalHit(d, s, r, sig))
            out.append(hits)
        return out[0] if single else out


def _check_queries(queries: Sequence[str]) -> list[str]:
    if isinstance(queries, str):
        return [queries]
    qs = list(queries)
    for q in qs:
        if not isinstance(q, str):
            raise InvalidInput(f"queries must be str, got {type(q).__name__}")
    return qs
