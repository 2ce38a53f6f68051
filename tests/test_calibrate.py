"""The calibrator and the calibration metrics, against pure-Python references.

Isotonic regression is checked against a brute-force pool-adjacent-violators written
here in plain Python (and against the definition: the least-squares non-decreasing fit,
whose value on every block is the block's mean); logistic regression against the
optimality condition of the penalized likelihood and a plain gradient-descent fit
(statsmodels and scipy are not installed in the dev environment; if statsmodels is,
the unpenalized fit is also compared with its ``Logit``). ECE, Brier and the
reliability table against direct loops.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from covekit.errors import InvalidInput
from covekit.execution.calibrate import (
    FEATURES,
    Calibrator,
    ConfidenceSignals,
    brier_score,
    expected_calibration_error,
    features_matrix,
    reliability_table,
)
from hypothesis import given
from hypothesis import strategies as st


# ----------------------------------------------------------------------------- references
def ref_pav(x: list[float], y: list[float]) -> dict[float, float]:
    """Plain-Python PAV: sort by x, pool equal x, merge adjacent violators until none."""
    pairs = sorted(zip(x, y, strict=True))
    groups: list[list[float]] = []  # [x, sum, count]
    for xv, yv in pairs:
        if groups and groups[-1][0] == xv:
            groups[-1][1] += yv
            groups[-1][2] += 1
        else:
            groups.append([xv, yv, 1])
    blocks = [[g[1], g[2], [g[0]]] for g in groups]  # sum, count, xs
    changed = True
    while changed:
        changed = False
        for i in range(len(blocks) - 1):
            a, b = blocks[i], blocks[i + 1]
            if a[0] / a[1] > b[0] / b[1]:
                blocks[i : i + 2] = [[a[0] + b[0], a[1] + b[1], a[2] + b[2]]]
                changed = True
                break
    return {xv: blk[0] / blk[1] for blk in blocks for xv in blk[2]}


def ref_ece(p: list[float], y: list[int], bins: int) -> float:
    sums: dict[int, list[float]] = {}
    for pi, yi in zip(p, y, strict=True):
        b = min(int(pi * bins), bins - 1)
        s = sums.setdefault(b, [0.0, 0.0, 0.0])
        s[0] += pi
        s[1] += yi
        s[2] += 1
    return sum(abs(s[0] / s[2] - s[1] / s[2]) * s[2] for s in sums.values()) / len(p)


def ref_logistic_gd(x: np.ndarray, y: np.ndarray, l2: float, steps: int = 20000) -> np.ndarray:
    """Gradient descent on the same penalized objective (standardized features)."""
    mu, sd = x.mean(axis=0), x.std(axis=0)
    z = np.hstack([np.ones((len(x), 1)), (x - mu) / sd])
    beta = np.zeros(z.shape[1])
    pen = np.full(z.shape[1], l2)
    pen[0] = 0
    lr = 1.0 / len(x)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ beta)))
        beta -= lr * (z.T @ (p - y) + pen * beta)
    return beta


# ----------------------------------------------------------------------------- isotonic
@given(
    st.lists(
        st.tuples(st.integers(0, 20).map(lambda v: v / 20), st.integers(0, 1)),
        min_size=1,
        max_size=60,
    )
)
def test_isotonic_matches_brute_force_pav(data: list[tuple[float, int]]) -> None:
    x = [d[0] for d in data]
    y = [float(d[1]) for d in data]
    cal = Calibrator("isotonic").fit(np.array(x), np.array(y))
    ref = ref_pav(x, y)
    got = cal.predict(np.array(sorted(ref)))
    assert got.tolist() == pytest.approx([ref[k] for k in sorted(ref)], abs=1e-12)


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=50),
    st.data(),
)
def test_isotonic_output_is_monotone_and_in_unit_interval(
    xs: list[float], data: st.DataObject
) -> None:
    ys = data.draw(st.lists(st.integers(0, 1), min_size=len(xs), max_size=len(xs)))
    cal = Calibrator("isotonic").fit(xs, ys)
    grid = np.linspace(min(xs) - 1, max(xs) + 1, 101)
    p = cal.predict(grid)
    assert np.all(np.diff(p) >= -1e-12)
    assert np.all((p >= 0) & (p <= 1))


def test_isotonic_on_features_is_monotone_in_the_learned_score() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 3))
    y = (rng.random(300) < 1 / (1 + np.exp(-(2 * x[:, 0] - x[:, 1])))).astype(int)
    cal = Calibrator("isotonic").fit(x, y)
    p = cal.predict(x)
    z = cal._design(x) @ cal.coef
    order = np.argsort(z)
    assert np.all(np.diff(p[order]) >= -1e-12)
    assert expected_calibration_error(p, y) < 0.05  # in-sample PAV is nearly exact


# ----------------------------------------------------------------------------- logistic
def test_logistic_satisfies_the_penalized_optimality_condition() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4))
    y = (rng.random(500) < 1 / (1 + np.exp(-(x @ [1.5, -1.0, 0.0, 0.5] + 0.3)))).astype(float)
    for l2 in (0.0, 1.0, 10.0):
        cal = Calibrator("logistic", l2=l2).fit(x, y)
        z = cal._design(x)
        p = 1 / (1 + np.exp(-(z @ cal.coef)))
        pen = np.full(z.shape[1], l2)
        pen[0] = 0
        grad = z.T @ (p - y) + pen * cal.coef
        assert np.max(np.abs(grad)) < 1e-6
        assert cal.coef == pytest.approx(ref_logistic_gd(x, y, l2), abs=1e-3)


def test_logistic_matches_statsmodels_when_installed() -> None:
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 2))
    y = (rng.random(400) < 1 / (1 + np.exp(-(x @ [1.0, -2.0])))).astype(float)
    cal = Calibrator("logistic", l2=0.0).fit(x, y)
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    ref = sm.Logit(y, sm.add_constant(z)).fit(disp=0).params
    assert cal.coef == pytest.approx(ref, abs=1e-6)


def test_logistic_on_scores_and_separable_data_stays_finite() -> None:
    cal = Calibrator("logistic", l2=0.1).fit([0.0, 0.1, 0.9, 1.0], [0, 0, 1, 1])
    p = cal.predict([0.0, 0.5, 1.0])
    assert np.all(np.isfinite(p)) and p[0] < 0.5 < p[2]


# ----------------------------------------------------------------------------- metrics
@given(
    st.lists(
        st.tuples(st.floats(0, 1, allow_nan=False), st.integers(0, 1)), min_size=1, max_size=80
    ),
    st.integers(1, 20),
)
def test_metrics_match_direct_loops(data: list[tuple[float, int]], bins: int) -> None:
    p = [d[0] for d in data]
    y = [d[1] for d in data]
    assert expected_calibration_error(p, y, bins) == pytest.approx(ref_ece(p, y, bins), abs=1e-12)
    brier = sum((a - b) ** 2 for a, b in zip(p, y, strict=True)) / len(p)
    assert brier_score(p, y) == pytest.approx(brier)
    rows = reliability_table(p, y, bins)
    assert len(rows) == bins and sum(int(r["count"]) for r in rows) == len(p)
    ece = sum(
        int(r["count"]) * abs(float(r["confidence"]) - float(r["accuracy"]))
        for r in rows
        if r["count"]
    ) / len(p)
    assert ece == pytest.approx(expected_calibration_error(p, y, bins), abs=1e-12)


@given(st.lists(st.tuples(st.integers(0, 9), st.integers(1, 10)), min_size=1, max_size=10))
def test_ece_of_perfectly_calibrated_bins_is_zero(spec: list[tuple[int, int]]) -> None:
    """Bins whose confidence equals their accuracy: k right out of 10 at k/10 (+0.05)."""
    p: list[float] = []
    y: list[int] = []
    for k, reps in spec:
        for _ in range(reps):
            conf = (k + 0.5) / 10
            right = round(conf * 20)  # 20 predictions, conf*20 of them right
            p += [conf] * 20
            y += [1] * right + [0] * (20 - right)
    assert expected_calibration_error(p, y) == pytest.approx(0.0, abs=1e-12)


def test_reliability_table_lists_empty_bins() -> None:
    rows = reliability_table([0.95], [1], bins=4)
    assert [r["count"] for r in rows] == [0, 0, 0, 1]
    assert math.isnan(float(rows[0]["confidence"])) and rows[3]["accuracy"] == 1.0


def test_edges_one_example_and_constant_scores() -> None:
    assert Calibrator("isotonic").fit([0.3], [1]).predict([0.0, 0.3, 1.0]).tolist() == [1, 1, 1]
    cal = Calibrator("logistic").fit(np.zeros((5, 2)), [0, 1, 1, 0, 1])
    assert cal.predict(np.zeros((1, 2)))[0] == pytest.approx(0.6, abs=1e-6)
    assert expected_calibration_error([1.0], [1]) == 0.0  # p = 1.0 falls in the last bin


@pytest.mark.parametrize(
    ("probs", "labels"),
    [([], []), ([0.5], [2]), ([1.5], [1]), ([math.nan], [0]), ([0.1, 0.2], [1])],
)
def test_metrics_bad_input(probs: list[float], labels: list[int]) -> None:
    with pytest.raises(InvalidInput):
        expected_calibration_error(probs, labels)
    with pytest.raises(InvalidInput):
        brier_score(probs, labels)


def test_bad_input() -> None:
    with pytest.raises(InvalidInput):
        Calibrator("platt")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Calibrator(l2=-1)
    with pytest.raises(InvalidInput):
        Calibrator().fit([], [])
    with pytest.raises(InvalidInput):
        Calibrator().fit([0.1, 0.2], [1])
    with pytest.raises(InvalidInput):
        Calibrator().fit([0.1, math.inf], [1, 0])
    with pytest.raises(InvalidInput):
        Calibrator().fit([[[0.1]]], [1])
    with pytest.raises(InvalidInput):
        Calibrator().fit([0.1, 0.2], [1, 3])
    with pytest.raises(InvalidInput):
        Calibrator("logistic").fit(np.ones((3, 2)), [0, 1, 1]).predict(np.ones((1, 3)))
    with pytest.raises(InvalidInput):
        reliability_table([0.1], [1], bins=0)
    with pytest.raises(InvalidInput):
        Calibrator.from_dict({"format": "something else"})
    with pytest.raises(InvalidInput):
        Calibrator.from_dict({"format": "covekit.calibrator", "method": "isotonic", "dims": 0})


@pytest.mark.parametrize("method", ["isotonic", "logistic"])
@pytest.mark.parametrize("dims", [0, 3])
def test_round_trip_through_json(method: str, dims: int) -> None:
    rng = np.random.default_rng(5)
    x = rng.random(50) if dims == 0 else rng.random((50, dims))
    y = (rng.random(50) < 0.5).astype(int)
    cal = Calibrator(method, l2=0.5).fit(x, y)  # type: ignore[arg-type]
    again = Calibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert again.predict(x).tolist() == cal.predict(x).tolist()
    assert again.low_score == cal.low_score and again.fitted


def test_unfitted_calibrator_gives_the_prior() -> None:
    cal = Calibrator()
    assert not cal.fitted and "unfitted" in repr(cal)
    good = ConfidenceSignals(best_score=1, second_score=0.5, cited_score=1, cited_rank=1,
                             sources=3, grounding=1.0, coverage=1.0)  # fmt: skip
    bad = ConfidenceSignals(sources=1, grounding=1.0, dangling=1)
    p = cal.predict(features_matrix([good, bad]))
    assert p.tolist() == [1.0, 0.0]


def test_signals_reasons_in_words() -> None:
    s = ConfidenceSignals(best_score=0.1, sources=1, conflicts=2, stale=True,
                          grounding=0.9, unsupported=0.5)  # fmt: skip
    assert s.reasons(low_score=0.2) == [
        "one source only",
        "sources disagree",
        "the best source is stale",
        "answer not grounded in the context",
        "retrieval scores low",
    ]
    assert ConfidenceSignals(sources=2, grounding=0.8).reasons() == []
    assert len(s.features()) == len(FEATURES)
    assert json.loads(json.dumps(s.to_dict()))["margin"] == pytest.approx(1.0)
    assert features_matrix([]).shape == (0, len(FEATURES))
