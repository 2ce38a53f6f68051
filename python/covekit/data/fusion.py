"""Fusing ranked lists: reciprocal rank fusion and weighted fusion of normalized scores.

Both take, per signal, the ``(ids, scores)`` pair that covekit's indexes return for a
batch of queries: ``uint64`` ids of shape ``(nq, k)`` (missing slots hold
:data:`MISSING`, ``2**64 - 1``) and ``float32`` scores, higher is better. They return
the same shape of pair, ``(nq, k)``, best first; ties are broken by the smaller id so
results are deterministic.

- :func:`rrf`: ``score(d) = sum_s w_s / (k_rrf + rank_s(d))`` with ranks from 1
  (Cormack, Clarke & Büttcher 2009; ``k_rrf=60`` as in the paper, Elasticsearch and
  OpenSearch). A document absent from a signal gets nothing from it.
- :func:`weighted`: each signal's scores are normalized per query over its returned
  candidates (``"minmax"``: to [0, 1], as Weaviate's relative-score fusion;
  ``"dbsf"``: the mean +/- 3 standard deviations mapped to [0, 1] and clipped, as
  Qdrant's distribution-based fusion), then summed with the weights. A document absent
  from a signal gets 0 from it.

>>> import numpy as np
>>> from covekit.data.fusion import rrf, MISSING
>>> bm25 = (np.array([[1, 2, 3]], np.uint64), np.array([[9.0, 5.0, 1.0]], np.float32))
>>> dense = (np.array([[3, 1, MISSING]], np.uint64), np.array([[0.9, 0.8, np.nan]], np.float32))
>>> ids, scores = rrf([bm25, dense], k=3)
>>> ids.tolist()
[[1, 3, 2]]
>>> [round(float(s) * 61 * 62, 3) for s in scores[0]]
[123.0, 122.032, 61.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from covekit.errors import InvalidInput

__all__ = ["MISSING", "Ranked", "rrf", "weighted"]

#: The id in a slot that holds no result.
MISSING = np.uint64(2**64 - 1)

Ranked = tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32]]


def _check(signals: Sequence[Ranked], weights: Sequence[float] | None) -> tuple[int, list[float]]:
    if not signals:
        raise InvalidInput("pass at least one (ids, scores) pair")
    nq = -1
    for i, pair in enumerate(signals):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InvalidInput(f"signal {i} must be an (ids, scores) pair")
        ids, scores = pair
        ids = np.asarray(ids)
        scores = np.asarray(scores)
        if ids.ndim != 2 or ids.shape != scores.shape:
            raise InvalidInput(
                f"signal {i}: ids and scores must be 2-D arrays of one shape (nq, k), "
                f"got {ids.shape} and {scores.shape}"
            )
        if nq >= 0 and ids.shape[0] != nq:
            raise InvalidInput(f"signal {i} has {ids.shape[0]} queries, signal 0 has {nq}")
        nq = ids.shape[0]
    w = [1.0] * len(signals) if weights is None else [float(x) for x in weights]
    if len(w) != len(signals):
        raise InvalidInput(f"{len(w)} weights for {len(signals)} signals")
    if any(not np.isfinite(x) or x < 0 for x in w) or not any(x > 0 for x in w):
        raise InvalidInput(f"weights must be finite, >= 0 and not all 0, got {w}")
    return nq, w


def _top(acc: dict[int, float], k: int) -> tuple[list[int], list[float]]:
    items = sorted(acc.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return [i for i, _ in items], [s for _, s in items]


def _pack(rows: list[tuple[list[int], list[float]]], k: int) -> Ranked:
    ids = np.full((len(rows), k), MISSING, dtype=np.uint64)
    scores = np.full((len(rows), k), np.nan, dtype=np.float32)
    for q, (i, s) in enumerate(rows):
        ids[q, : len(i)] = np.asarray(i, dtype=np.uint64)
        scores[q, : len(s)] = np.asarray(s, dtype=np.float32)
    return ids, scores


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInput(f"k must be an int >= 1, got {k!r}")


def rrf(
    signals: Sequence[Ranked],
    k: int = 10,
    *,
    k_rrf: float = 60.0,
    weights: Sequence[float] | None = None,
) -> Ranked:
    """Reciprocal rank fusion of ranked lists; the ``k`` best per query.

    >>> import numpy as np
    >>> a = (np.array([[7, 8]], np.uint64), np.array([[2.0, 1.0]], np.float32))
    >>> rrf([a, a], k=2, k_rrf=1)[0].tolist()
    [[7, 8]]
    """
    _check_k(k)
    nq, w = _check(signals, weights)
    if not (isinstance(k_rrf, (int, float)) and k_rrf >= 0):
        raise InvalidInput(f"k_rrf must be >= 0, got {k_rrf!r}")
    rows = []
    lists = [np.asarray(ids, dtype=np.uint64) for ids, _ in signals]
    for q in range(nq):
        acc: dict[int, float] = {}
        for ids, wt in zip(lists, w, strict=True):
            if wt == 0:
                continue
            rank = 0
            for d in ids[q].tolist():
                if d == int(MISSING):
                    continue
                rank += 1
                acc[d] = acc.get(d, 0.0) + wt / (k_rrf + rank)
        rows.append(_top(acc, k))
    return _pack(rows, k)


def _normalize(scores: npt.NDArray[np.float64], how: str) -> npt.NDArray[np.float64]:
    if scores.size == 0:
        return scores
    if how == "minmax":
        lo, hi = float(scores.min()), float(scores.max())
        return np.ones_like(scores) if hi == lo else (scores - lo) / (hi - lo)
    mu, sd = float(scores.mean()), float(scores.std())
    if sd == 0:
        return np.ones_like(scores)
    lo, hi = mu - 3 * sd, mu + 3 * sd
    return np.clip((scores - lo) / (hi - lo), 0.0, 1.0)


def weighted(
    signals: Sequence[Ranked],
    k: int = 10,
    *,
    weights: Sequence[float] | None = None,
    normalization: Literal["minmax", "dbsf"] = "minmax",
) -> Ranked:
    """Weighted sum of per-query normalized scores; the ``k`` best per query.

    >>> import numpy as np
    >>> a = (np.array([[1, 2]], np.uint64), np.array([[10.0, 0.0]], np.float32))
    >>> b = (np.array([[2, 1]], np.uint64), np.array([[0.9, 0.1]], np.float32))
    >>> weighted([a, b], k=2, weights=[0.3, 0.7])[0].tolist()
    [[2, 1]]
    """
    _check_k(k)
    nq, w = _check(signals, weights)
    if normalization not in ("minmax", "dbsf"):
        raise InvalidInput(f"normalization must be 'minmax' or 'dbsf', got {normalization!r}")
    arrays = [(np.asarray(i, dtype=np.uint64), np.asarray(s, dtype=np.float64)) for i, s in signals]
    rows = []
    for q in range(nq):
        acc: dict[int, float] = {}
        for (ids, scores), wt in zip(arrays, w, strict=True):
            keep = (ids[q] != MISSING) & np.isfinite(scores[q])
            norm = _normalize(scores[q][keep], normalization)
            for d, s in zip(ids[q][keep].tolist(), norm.tolist(), strict=True):
                acc[d] = acc.get(d, 0.0) + wt * s
        rows.append(_top(acc, k))
    return _pack(rows, k)
