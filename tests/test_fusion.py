"""Rank fusion: reciprocal rank fusion and weighted fusion against plain references."""

from __future__ import annotations

import numpy as np
import pytest
from covekit.data.fusion import MISSING, rrf, weighted
from covekit.errors import InvalidInput
from hypothesis import given, settings
from hypothesis import strategies as st

M = int(MISSING)


def pair(ids: list[list[int]], scores: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    return np.array(ids, dtype=np.uint64), np.array(scores, dtype=np.float32)


def ranked_lists(nq: int) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    def build(rows: list[list[int]], k: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.full((nq, k), MISSING, dtype=np.uint64)
        scores = np.full((nq, k), np.nan, dtype=np.float32)
        for q, row in enumerate(rows):
            row = list(dict.fromkeys(row))[:k]
            ids[q, : len(row)] = row
            scores[q, : len(row)] = np.linspace(1.0, 0.1, num=len(row)) if row else []
        return ids, scores

    return st.builds(
        build,
        st.lists(st.lists(st.integers(0, 30), max_size=8), min_size=nq, max_size=nq),
        st.integers(1, 8),
    )


def reference_rrf(
    signals: list[tuple[np.ndarray, np.ndarray]], q: int, k_rrf: float
) -> dict[int, float]:
    acc: dict[int, float] = {}
    for ids, _ in signals:
        rank = 0
        for d in ids[q].tolist():
            if d == M:
                continue
            rank += 1
            acc[d] = acc.get(d, 0.0) + 1.0 / (k_rrf + rank)
    return acc


def test_rrf_normal_case() -> None:
    a = pair([[10, 20, 30]], [[3.0, 2.0, 1.0]])
    b = pair([[30, 40, M]], [[0.9, 0.5, np.nan]])
    ids, scores = rrf([a, b], k=4)
    assert ids.tolist() == [[30, 10, 20, 40]]
    assert scores[0, 0] == pytest.approx(1 / 63 + 1 / 61)
    assert scores.dtype == np.float32 and ids.dtype == np.uint64


def test_rrf_pads_with_missing() -> None:
    a = pair([[1, M]], [[1.0, np.nan]])
    ids, scores = rrf([a], k=3)
    assert ids.tolist() == [[1, M, M]]
    assert np.isnan(scores[0, 1:]).all()


def test_rrf_weights_and_zero_weight() -> None:
    a = pair([[1, 2]], [[2.0, 1.0]])
    b = pair([[2, 1]], [[2.0, 1.0]])
    assert rrf([a, b], k=2, weights=[1.0, 0.0])[0].tolist() == [[1, 2]]
    assert rrf([a, b], k=2, weights=[0.2, 1.0])[0].tolist() == [[2, 1]]


def test_weighted_minmax_and_dbsf() -> None:
    a = pair([[1, 2, 3]], [[10.0, 5.0, 0.0]])
    b = pair([[3, 2, 1]], [[0.9, 0.8, 0.1]])
    ids, scores = weighted([a, b], k=3)
    # minmax: 1 -> 1 + 0, 2 -> 0.5 + 0.875, 3 -> 0 + 1
    assert ids.tolist() == [[2, 1, 3]]
    assert scores[0].tolist() == pytest.approx([1.375, 1.0, 1.0])
    ids, _ = weighted([a, b], k=3, normalization="dbsf")
    assert sorted(ids[0].tolist()) == [1, 2, 3]


def test_weighted_constant_scores_and_missing() -> None:
    a = pair([[1, 2]], [[4.0, 4.0]])
    b = pair([[M, M]], [[np.nan, np.nan]])
    ids, scores = weighted([a, b], k=2)
    assert ids.tolist() == [[1, 2]] and scores[0].tolist() == [1.0, 1.0]


@settings(deadline=None, max_examples=200)
@given(
    st.integers(1, 3).flatmap(lambda nq: st.tuples(ranked_lists(nq), ranked_lists(nq))),
    st.integers(1, 10),
)
def test_rrf_matches_reference(signals: tuple, k: int) -> None:
    got_ids, got_scores = rrf(list(signals), k=k)
    nq = signals[0][0].shape[0]
    assert got_ids.shape == (nq, k)
    for q in range(nq):
        ref = reference_rrf(list(signals), q, 60.0)
        best = sorted(ref.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        row = [d for d in got_ids[q].tolist() if d != M]
        assert row == [d for d, _ in best]
        assert len(set(row)) == len(row)
        np.testing.assert_allclose(got_scores[q, : len(row)], [s for _, s in best], rtol=1e-6)


@settings(deadline=None, max_examples=100)
@given(
    st.integers(1, 3).flatmap(lambda nq: st.tuples(ranked_lists(nq), ranked_lists(nq))),
    st.integers(1, 10),
)
def test_weighted_returns_only_candidates_best_first(signals: tuple, k: int) -> None:
    ids, scores = weighted(list(signals), k=k)
    for q in range(ids.shape[0]):
        cand = {d for s in signals for d in s[0][q].tolist() if d != M}
        row = [d for d in ids[q].tolist() if d != M]
        assert set(row) <= cand and len(row) == min(k, len(cand))
        vals = scores[q, : len(row)]
        assert (np.diff(vals) <= 1e-6).all()


def test_bad_input() -> None:
    a = pair([[1]], [[1.0]])
    with pytest.raises(InvalidInput, match="at least one"):
        rrf([])
    with pytest.raises(InvalidInput, match="k must"):
        rrf([a], k=0)
    with pytest.raises(InvalidInput, match="weights"):
        rrf([a], weights=[1.0, 2.0])
    with pytest.raises(InvalidInput, match="weights"):
        weighted([a], weights=[0.0])
    with pytest.raises(InvalidInput, match="2-D"):
        rrf([(np.array([1], np.uint64), np.array([1.0], np.float32))])
    with pytest.raises(InvalidInput, match="queries"):
        rrf([a, pair([[1], [2]], [[1.0], [1.0]])])
    with pytest.raises(InvalidInput, match="normalization"):
        weighted([a], normalization="zscore")  # type: ignore[arg-type]
