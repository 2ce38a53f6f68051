"""The calibrator and the calibration metrics, against pure-Python references.

Isotonic regression is checked against a brute-force pool-adjacent-violators written
here in plain Python (and against the definition: the least-squares non-decreasing fit,
whose value on every block is the block's mean), with and without a minimum block
size; logistic regression against the optimality condition of the penalized
likelihood, a plain gradient-descent fit, scipy's minimizer of the same penalized
objective and statsmodels' ``Logit`` (unpenalized; each skips when the package is
missing); the L2 penalty chosen by cross-validation against the same selection done
here with scipy fits. ECE, Brier, the Brier decomposition and the reliability table
against direct loops; the AUC against scipy's Mann-Whitney U and a count over pairs.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from covekit.errors import InvalidInput
from covekit.execution.calibrate import (
    FEATURES,
    L2_GRID,
    Calibrator,
    ConfidenceSignals,
    brier_decomposition,
    brier_score,
    expected_calibration_error,
    features_matrix,
    reliability_table,
    roc_auc,
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


# ----------------------------------------------------------------------------- more references
def ref_pav_min_block(x: list[float], y: list[float], min_block: int) -> dict[float, float]:
    """Plain-Python PAV (_pav_blocks, like ref_pav), then the lightest block under
    ``min_block`` examples (the leftmost of equals) pooled with its closer neighbour (the
    left one on a tie), until none is left or one block remains."""
    blocks = _pav_blocks(x, y)
    while len(blocks) > 1:
        small = [i for i, b in enumerate(blocks) if b[1] < min_block]
        if not small:
            break
        i = min(small, key=lambda k: (blocks[k][1], k))
        if i == 0:
            j = 1
        elif i == len(blocks) - 1:
            j = i - 1
        else:
            left = blocks[i][0] - blocks[i - 1][0]
            right = blocks[i + 1][0] - blocks[i][0]
            j = i - 1 if left <= right else i + 1
        a, b = sorted((i, j))
        w = blocks[a][1] + blocks[b][1]
        merged = [(blocks[a][0] * blocks[a][1] + blocks[b][0] * blocks[b][1]) / w, w,
                  blocks[a][2] + blocks[b][2]]  # fmt: skip
        blocks[a : b + 1] = [merged]
    return {xv: blk[0] for blk in blocks for xv in blk[2]}


def _pav_blocks(x: list[float], y: list[float]) -> list[list[Any]]:
    """PAV in plain Python keeping its blocks: [value, weight, xs]."""
    pairs = sorted(zip(x, y, strict=True))
    groups: list[list[Any]] = []
    for xv, yv in pairs:
        if groups and groups[-1][2][-1] == xv:
            groups[-1][0] += yv
            groups[-1][1] += 1
        else:
            groups.append([yv, 1, [xv]])
    blocks = [[g[0] / g[1], g[1], g[2]] for g in groups]
    changed = True
    while changed:
        changed = False
        for i in range(len(blocks) - 1):
            a, b = blocks[i], blocks[i + 1]
            if a[0] > b[0]:
                w = a[1] + b[1]
                blocks[i : i + 2] = [[(a[0] * a[1] + b[0] * b[1]) / w, w, a[2] + b[2]]]
                changed = True
                break
    return blocks


def ref_penalized_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """scipy's BFGS on -loglik + l2/2 * |beta[1:]|^2 over standardized features."""
    optimize = pytest.importorskip("scipy.optimize")
    mu, sd = x.mean(axis=0), x.std(axis=0)
    z = np.hstack([np.ones((len(x), 1)), (x - mu) / np.where(sd > 0, sd, 1.0)])

    def objective(b: np.ndarray) -> tuple[float, np.ndarray]:
        eta = z @ b
        loss = float(np.sum(np.logaddexp(0, eta) - y * eta)) + l2 / 2 * float(b[1:] @ b[1:])
        grad = z.T @ (1 / (1 + np.exp(-eta)) - y)
        grad[1:] += l2 * b[1:]
        return loss, grad

    got = optimize.minimize(objective, np.zeros(z.shape[1]), jac=True, method="BFGS",
                            options={"gtol": 1e-10, "maxiter": 10000})  # fmt: skip
    return np.asarray(got.x)


def ref_auc_pairs(s: list[float], y: list[int]) -> float:
    pos = [a for a, b in zip(s, y, strict=True) if b == 1]
    neg = [a for a, b in zip(s, y, strict=True) if b == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def _data(n: int, seed: int, d: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    logit = x @ np.linspace(1.5, -0.5, d) + 0.2
    return x, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)


# ----------------------------------------------------------------------------- isotonic, min_block
@given(
    st.lists(
        st.tuples(st.integers(0, 15).map(lambda v: v / 15), st.integers(0, 1)),
        min_size=1,
        max_size=60,
    ),
    st.integers(1, 12),
)
def test_isotonic_min_block_matches_the_reference(data: list[tuple[float, int]], mb: int) -> None:
    x = [d[0] for d in data]
    y = [float(d[1]) for d in data]
    cal = Calibrator("isotonic", min_block=mb).fit(np.array(x), np.array(y))
    ref = ref_pav_min_block(x, y, mb)
    keys = sorted(ref)
    got = cal.predict(np.array(keys))
    assert got.tolist() == pytest.approx([ref[k] for k in keys], abs=1e-12)
    assert np.all(np.diff(got) >= -1e-12)
    # every level holds at least min_block examples (unless one level is all there is)
    levels: dict[float, int] = {}
    for xv in x:
        v = round(float(cal.predict([xv])[0]), 12)
        levels[v] = levels.get(v, 0) + 1
    assert len(levels) == 1 or min(levels.values()) >= mb


def test_isotonic_min_block_one_is_plain_pav() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.random(80), (rng.random(80) < 0.5).astype(float)
    a = Calibrator("isotonic").fit(x, y).predict(x)
    b = Calibrator("isotonic", min_block=1).fit(x, y).predict(x)
    assert a.tolist() == b.tolist()
    c = Calibrator("isotonic", min_block=20).fit(x, y).predict(x)
    assert len(np.unique(c)) <= 80 // 20


# ----------------------------------------------------------------------------- logistic, references
def test_logistic_matches_scipys_minimizer_of_the_same_objective() -> None:
    x, y = _data(300, 11, d=4)
    for l2 in (0.0, 0.5, 3.0, 30.0):
        cal = Calibrator(l2=l2).fit(x, y)
        assert cal.penalty == l2 and cal.cv_losses is None
        assert cal.coef == pytest.approx(ref_penalized_logistic(x, y, l2), abs=1e-5)


def test_auto_l2_is_the_cross_validated_choice() -> None:
    """The penalty with the least held-out log-loss, folds dealt as documented (a seeded
    permutation, round-robin), every fold fitted by scipy on its own standardization."""
    x, y = _data(120, 2, d=5)
    cal = Calibrator().fit(x, y)
    order = np.random.default_rng(0).permutation(len(y))
    fold = np.empty(len(y), dtype=int)
    fold[order] = np.arange(len(y)) % 5
    losses = {}
    for l2 in L2_GRID:
        p = np.empty(len(y))
        for f in range(5):
            tr, te = fold != f, fold == f
            beta = ref_penalized_logistic(x[tr], y[tr], l2)
            mu, sd = x[tr].mean(axis=0), x[tr].std(axis=0)
            eta = beta[0] + ((x[te] - mu) / sd) @ beta[1:]
            p[te] = 1 / (1 + np.exp(-eta))
        q = np.clip(p, 1e-15, 1 - 1e-15)
        losses[l2] = float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
    assert cal.cv_losses is not None and sorted(cal.cv_losses) == sorted(L2_GRID)
    for l2 in L2_GRID:
        assert cal.cv_losses[l2] == pytest.approx(losses[l2], abs=1e-6)
    assert cal.penalty == min(losses, key=lambda k: (losses[k], -k))
    assert cal.coef == pytest.approx(ref_penalized_logistic(x, y, cal.penalty), abs=1e-5)
    assert f"l2={cal.penalty:g}" in repr(cal)
    # another seed deals other folds and may choose otherwise, but stays on the grid
    assert Calibrator(seed=7, folds=3).fit(x, y).penalty in L2_GRID


def test_auto_l2_with_few_examples_falls_back_to_one() -> None:
    x, y = _data(9, 3)
    cal = Calibrator().fit(x, y)  # 9 < 2 * 5 folds
    assert cal.penalty == 1.0 and cal.cv_losses is None
    assert Calibrator(folds=2).fit(x, y).cv_losses is not None
    assert Calibrator("isotonic").fit(x[:, 0], y).penalty is None  # no logistic fit


def test_auto_l2_penalizes_noise_features_more_than_a_fixed_small_one() -> None:
    """Many pure-noise features on few examples: the chosen penalty is large and the
    held-out log-loss is no worse than with l2=0.1's."""
    rng = np.random.default_rng(9)
    x = rng.normal(size=(80, 15))
    y = (rng.random(80) < 1 / (1 + np.exp(-x[:, 0]))).astype(float)
    cal = Calibrator().fit(x, y)
    assert cal.cv_losses is not None
    assert cal.penalty is not None and cal.penalty >= 3.0
    assert cal.cv_losses[cal.penalty] <= cal.cv_losses[0.1]


# ----------------------------------------------------------------------------- more metrics
@given(
    st.lists(
        st.tuples(st.floats(0, 1, allow_nan=False), st.integers(0, 1)), min_size=1, max_size=80
    ),
    st.integers(1, 20),
)
def test_brier_decomposition_matches_loops_and_adds_up(
    data: list[tuple[float, int]], bins: int
) -> None:
    p = [d[0] for d in data]
    y = [d[1] for d in data]
    n = len(p)
    groups: dict[int, list[tuple[float, int]]] = {}
    for pi, yi in data:
        groups.setdefault(min(int(pi * bins), bins - 1), []).append((pi, yi))
    base = sum(y) / n
    rel = res = wbv = wbc = 0.0
    for g in groups.values():
        pm = sum(a for a, _ in g) / len(g)
        ym = sum(b for _, b in g) / len(g)
        rel += len(g) * (pm - ym) ** 2
        res += len(g) * (ym - base) ** 2
        wbv += sum((a - pm) ** 2 for a, _ in g)
        wbc += 2 * sum((a - pm) * (b - ym) for a, b in g)
    d = brier_decomposition(p, y, bins)
    assert d["reliability"] == pytest.approx(rel / n, abs=1e-12)
    assert d["resolution"] == pytest.approx(res / n, abs=1e-12)
    assert d["uncertainty"] == pytest.approx(base * (1 - base), abs=1e-12)
    assert d["within_variance"] == pytest.approx(wbv / n, abs=1e-12)
    assert d["within_covariance"] == pytest.approx(wbc / n, abs=1e-12)
    total = (d["reliability"] - d["resolution"] + d["uncertainty"] + d["within_variance"]
             - d["within_covariance"])  # fmt: skip
    assert total == pytest.approx(brier_score(p, y), abs=1e-12) == d["brier"]


def test_brier_decomposition_of_a_constant_has_no_resolution() -> None:
    d = brier_decomposition([0.3] * 10, [1] * 3 + [0] * 7)
    assert d["resolution"] == 0.0 and d["reliability"] == pytest.approx(0.0, abs=1e-15)
    assert d["brier"] == pytest.approx(d["uncertainty"])


@given(st.lists(st.tuples(st.integers(0, 8).map(lambda v: v / 8), st.integers(0, 1)),
                min_size=2, max_size=60))  # fmt: skip
def test_auc_matches_pairs_and_mann_whitney(data: list[tuple[float, int]]) -> None:
    s = [d[0] for d in data]
    y = [d[1] for d in data]
    if len(set(y)) < 2:
        with pytest.raises(InvalidInput):
            roc_auc(s, y)
        return
    assert roc_auc(s, y) == pytest.approx(ref_auc_pairs(s, y), abs=1e-12)
    stats = pytest.importorskip("scipy.stats")
    pos = [a for a, b in data if b == 1]
    neg = [a for a, b in data if b == 0]
    u = stats.mannwhitneyu(pos, neg, alternative="two-sided").statistic
    assert roc_auc(s, y) == pytest.approx(u / (len(pos) * len(neg)), abs=1e-12)


def test_auc_bad_input() -> None:
    for scores, labels in (([], []), ([0.1], [1, 0]), ([math.nan, 0.2], [0, 1]),
                           ([0.1, 0.2], [0, 2]), ([0.1, 0.2], [1, 1])):  # fmt: skip
        with pytest.raises(InvalidInput):
            roc_auc(scores, labels)
    assert roc_auc([-3.0, 7.5], [0, 1]) == 1.0  # any finite scores


# ----------------------------------------------------------------------------- persistence, signals
def test_version_1_data_loads_and_unknown_versions_do_not() -> None:
    x, y = _data(60, 5)
    cal = Calibrator(l2=0.7).fit(x, y)
    old = {k: v for k, v in cal.to_dict().items()
           if k not in ("min_block", "folds", "seed", "penalty", "cv_losses")}  # fmt: skip
    old["version"] = 1
    again = Calibrator.from_dict(old)
    assert again.penalty == 0.7 and again.predict(x).tolist() == cal.predict(x).tolist()
    auto = Calibrator("isotonic", min_block=4, folds=3, seed=2).fit(x, y)
    back = Calibrator.from_dict(json.loads(json.dumps(auto.to_dict())))
    assert (back.l2, back.min_block, back.folds, back.seed) == ("auto", 4, 3, 2)
    assert back.penalty == auto.penalty and back.cv_losses == auto.cv_losses
    with pytest.raises(InvalidInput):
        Calibrator.from_dict({**auto.to_dict(), "version": 3})
    with pytest.raises(InvalidInput):
        Calibrator.from_dict({**auto.to_dict(), "cv_losses": [[1.0]]})


def test_new_options_bad_input() -> None:
    for kw in ({"l2": "big"}, {"l2": True}, {"min_block": 0}, {"min_block": 2.0},
               {"folds": 1}, {"folds": True}, {"seed": -1}, {"seed": 1.5}):  # fmt: skip
        with pytest.raises(InvalidInput):
            Calibrator(**kw)  # type: ignore[arg-type]


def test_standout_and_agreement_features() -> None:
    s = ConfidenceSignals(lexical_z=2.5, semantic_z=-0.5, agreement_rank=4, document_rank=2,
                          document_chunks=14)  # fmt: skip
    f = dict(zip(FEATURES, s.features().tolist(), strict=True))
    assert (f["lexical_z"], f["semantic_z"]) == (2.5, -0.5)
    assert (f["agreement_rank"], f["document_rank"], f["document_chunks"]) == (0.25, 0.5, 10.0)
    none = dict(zip(FEATURES, ConfidenceSignals().features().tolist(), strict=True))
    assert none["agreement_rank"] == none["document_rank"] == none["document_chunks"] == 0.0


def test_prior_reads_the_version_1_rows_the_same() -> None:
    s = ConfidenceSignals(best_score=0.7, sources=2, grounding=0.9, coverage=0.5,
                          lexical_z=3.0, document_chunks=4)  # fmt: skip
    row = s.features()
    assert Calibrator.prior([row[:13]]).tolist() == Calibrator.prior([row]).tolist()
    assert Calibrator.prior(row[:13]).tolist() == Calibrator.prior(row).tolist()
