"""Calibrated confidence: from the signals of one answer (retrieval, agreement, freshness,
grounding) to a probability that the answer is right, with the reasons in words.

:class:`ConfidenceSignals` holds what a :class:`covekit.Pipeline` measures about an
answer; :meth:`ConfidenceSignals.features` turns it into a fixed feature vector
(:data:`FEATURES`) and :meth:`ConfidenceSignals.reasons` into words ("one source only",
"sources disagree", "the best source is stale", "answer not grounded in the context",
"retrieval scores low"). A :class:`Calibrator` maps features (or a single score) to a
probability, fitted on labelled examples:

- ``"isotonic"``: pool-adjacent-violators on one score (for feature vectors, the score
  is a logistic fit's linear predictor, so that the direction is learned and the shape
  is free), with at least ``min_block`` examples behind every level;
- ``"logistic"``: logistic regression by Newton's method (IRLS) with an L2 penalty on
  standardized features (the intercept is not penalized); the penalty is chosen by
  k-fold cross-validation on the examples given to ``fit`` (``l2="auto"``, the
  default: the held-out log-loss decides among :data:`L2_GRID`), or fixed.

An unfitted calibrator gives a fixed, documented prior (:meth:`Calibrator.prior`), so
that a pipeline has a confidence before anyone labels anything. The metrics
(:func:`expected_calibration_error`, :func:`brier_score`, :func:`reliability_table`,
:func:`brier_decomposition`, :func:`roc_auc`) measure how well it is calibrated and how
much it tells answers apart.

>>> import numpy as np
>>> from covekit.execution.calibrate import Calibrator, expected_calibration_error
>>> scores = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
>>> labels = np.array([0, 0, 1, 0, 1, 0, 1, 1])
>>> cal = Calibrator("isotonic").fit(scores, labels)
>>> cal.predict([0.1, 0.35, 0.95]).round(3).tolist()
[0.0, 0.5, 1.0]
>>> round(expected_calibration_error(cal.predict(scores), labels), 3)
0.0

Thread safety: a fitted Calibrator is read-only; ``predict`` may run from many threads.
``fit`` replaces its state and must not run concurrently with ``predict``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from covekit.errors import InvalidInput

__all__ = [
    "FEATURES",
    "L2_GRID",
    "REASONS",
    "Calibrator",
    "ConfidenceSignals",
    "brier_decomposition",
    "brier_score",
    "expected_calibration_error",
    "features_matrix",
    "reliability_table",
    "roc_auc",
]

_F64 = npt.NDArray[np.float64]
Method = Literal["isotonic", "logistic"]

#: The feature vector of :meth:`ConfidenceSignals.features`, in order.
FEATURES: tuple[str, ...] = (
    "best_score",
    "margin",
    "cited_score",
    "cited_rank",
    "sources",
    "conflicts",
    "stale",
    "grounding",
    "unsupported",
    "dangling",
    "coverage",
    "lexical_score",
    "semantic_score",
    "lexical_z",
    "semantic_z",
    "agreement_rank",
    "document_rank",
    "document_chunks",
)

_V1_FEATURES = 13  # FEATURES of calibrator data version 1: the first 13 of today's

#: The L2 penalties ``Calibrator(l2="auto")`` chooses among.
L2_GRID: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)

#: The reasons :meth:`ConfidenceSignals.reasons` can give, and when.
REASONS: dict[str, str] = {
    "one source only": "the answer cites one document (or none)",
    "sources disagree": "the kept sources disagree on a value (covekit.find_conflicts)",
    "the best source is stale": "the top-ranked kept source is flagged stale or superseded",
    "answer not grounded in the context": "a sentence is unsupported, a marker dangles, or "
    "the grounding score is under 0.5",
    "retrieval scores low": "the best retrieval score is under the calibrator's low-score "
    "threshold (the 25th percentile of the scores it was fitted on)",
}


@dataclass(frozen=True, slots=True)
class ConfidenceSignals:
    """What is known about one answer when its confidence is computed.

    ``best_score`` and ``second_score``: the two best retrieval scores of the request;
    ``cited_score`` and ``cited_rank``: the best score and rank (1-based) among the
    chunks the answer cites (0 and 0 when it cites none); ``sources``: distinct documents
    cited; ``conflicts``: values the kept sources disagree on; ``stale``: the best kept
    source is stale or superseded; ``grounding``: the grounding score in [0, 1];
    ``unsupported``: the share of the answer's sentences without support;
    ``dangling``: citation markers that point at nothing; ``coverage``: how much of the
    question the cited sources cover (the question's support by them, from
    :func:`covekit.ground`: the share of its terms and term pairs found), in [0, 1];
    ``lexical_score`` and ``semantic_score``: the best keyword (BM25) and vector scores
    among the cited chunks (0 when unknown).

    How far the cited evidence stands out from the rest of the retrieved candidates:
    ``lexical_z`` and ``semantic_z``: the best cited chunk's keyword and vector score in
    standard deviations from the mean over all the candidates (a candidate that one
    search did not return counts 0 in it; 0 when there is no spread);
    ``agreement_rank``: over the cited chunks, the best of the worse of a chunk's keyword
    and vector ranks, so that both searches rank that chunk within it (0 when no cited
    chunk was found by both); ``document_rank``: the best rank of any candidate from a
    cited document (0 when none); ``document_chunks``: the most candidates that one
    cited document has among the retrieved ones.

    >>> s = ConfidenceSignals(best_score=0.9, second_score=0.3, cited_score=0.9, cited_rank=1,
    ...                       sources=1, grounding=1.0, agreement_rank=4)
    >>> s.reasons()
    ['one source only']
    >>> s.features()[:2].round(3).tolist(), float(s.features()[FEATURES.index("agreement_rank")])
    ([0.9, 0.667], 0.25)
    """

    best_score: float = 0.0
    second_score: float = 0.0
    cited_score: float = 0.0
    cited_rank: int = 0
    sources: int = 0
    conflicts: int = 0
    stale: bool = False
    grounding: float = 0.0
    unsupported: float = 0.0
    dangling: int = 0
    coverage: float = 0.0
    lexical_score: float = 0.0
    semantic_score: float = 0.0
    lexical_z: float = 0.0
    semantic_z: float = 0.0
    agreement_rank: int = 0
    document_rank: int = 0
    document_chunks: int = 0

    @property
    def margin(self) -> float:
        """``(best - second) / |best|``: how far the best hit stands out (0 if no hit)."""
        if self.best_score == 0:
            return 0.0
        return float((self.best_score - self.second_score) / abs(self.best_score))

    def features(self) -> _F64:
        """The feature vector (:data:`FEATURES` order), as float64: ranks as their
        inverse (0 for none), counts capped (sources, conflicts and dangling markers at
        5, document chunks at 10), the rest as they are."""
        return np.array(
            [
                self.best_score,
                self.margin,
                self.cited_score,
                1.0 / self.cited_rank if self.cited_rank > 0 else 0.0,
                float(min(self.sources, 5)),
                float(min(self.conflicts, 5)),
                float(self.stale),
                self.grounding,
                self.unsupported,
                float(min(self.dangling, 5)),
                self.coverage,
                self.lexical_score,
                self.semantic_score,
                self.lexical_z,
                self.semantic_z,
                1.0 / self.agreement_rank if self.agreement_rank > 0 else 0.0,
                1.0 / self.document_rank if self.document_rank > 0 else 0.0,
                float(min(self.document_chunks, 10)),
            ],
            dtype=np.float64,
        )

    def reasons(self, *, low_score: float | None = None) -> list[str]:
        """The reasons for doubt, in words (:data:`REASONS`); ``low_score`` is the
        threshold under which retrieval scores are low (None: not judged)."""
        out = []
        if self.sources <= 1:
            out.append("one source only")
        if self.conflicts > 0:
            out.append("sources disagree")
        if self.stale:
            out.append("the best source is stale")
        if self.unsupported > 0 or self.dangling > 0 or self.grounding < 0.5:
            out.append("answer not grounded in the context")
        if low_score is not None and self.best_score < low_score:
            out.append("retrieval scores low")
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["margin"] = self.margin
        return d


# ----------------------------------------------------------------------------- metrics
def _probs_labels(probs: Any, labels: Any) -> tuple[_F64, _F64]:
    p = np.asarray(probs, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    if p.shape != y.shape:
        raise InvalidInput(f"probs and labels differ in length ({p.size} != {y.size})")
    if p.size == 0:
        raise InvalidInput("probs and labels are empty")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise InvalidInput("probs must be finite numbers in [0, 1]")
    if not np.all((y == 0) | (y == 1)):
        raise InvalidInput("labels must be 0 or 1 (or booleans)")
    return p, y


def _check_bins(bins: int) -> int:
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise InvalidInput(f"bins must be an int >= 1, got {bins!r}")
    return bins


def _bin_index(p: _F64, bins: int) -> npt.NDArray[np.int64]:
    return np.minimum((p * bins).astype(np.int64), bins - 1)


def reliability_table(probs: Any, labels: Any, bins: int = 10) -> list[dict[str, float | int]]:
    """Per equal-width bin of [0, 1] (the last one closed): its bounds, the number of
    predictions in it, their mean confidence and the share that were right (empty bins
    are listed with ``count`` 0 and NaN means).

    >>> rows = reliability_table([0.05, 0.95, 0.9], [0, 1, 0], bins=2)
    >>> [(r["lo"], r["count"], round(r["confidence"], 3), round(r["accuracy"], 3)) for r in rows]
    [(0.0, 1, 0.05, 0.0), (0.5, 2, 0.925, 0.5)]
    """
    p, y = _probs_labels(probs, labels)
    bins = _check_bins(bins)
    idx = _bin_index(p, bins)
    rows: list[dict[str, float | int]] = []
    for b in range(bins):
        m = idx == b
        n = int(m.sum())
        rows.append(
            {
                "lo": b / bins,
                "hi": (b + 1) / bins,
                "count": n,
                "confidence": float(p[m].mean()) if n else math.nan,
                "accuracy": float(y[m].mean()) if n else math.nan,
            }
        )
    return rows


def expected_calibration_error(probs: Any, labels: Any, bins: int = 10) -> float:
    """ECE over ``bins`` equal-width bins: the count-weighted mean of
    ``|mean confidence - accuracy|`` per bin.

    >>> expected_calibration_error([0.8, 0.8, 0.8, 0.8, 0.8], [1, 1, 1, 1, 0])
    0.0
    >>> round(expected_calibration_error([0.9, 0.9], [0, 0]), 3)
    0.9
    """
    p, y = _probs_labels(probs, labels)
    bins = _check_bins(bins)
    idx = _bin_index(p, bins)
    total = 0.0
    for b in np.unique(idx):
        m = idx == b
        total += float(m.sum()) * abs(float(p[m].mean()) - float(y[m].mean()))
    return float(total / p.size)


def brier_score(probs: Any, labels: Any) -> float:
    """The mean squared difference between confidence and outcome (0 is perfect).

    >>> brier_score([1.0, 0.0, 0.5], [1, 0, 1])
    0.08333333333333333
    """
    p, y = _probs_labels(probs, labels)
    return float(np.mean((p - y) ** 2))


def brier_decomposition(probs: Any, labels: Any, bins: int = 10) -> dict[str, float]:
    """The Brier score in parts over ``bins`` equal-width bins (Murphy's reliability,
    resolution and uncertainty, with the two within-bin terms of Stephenson, Coelho and
    Jolliffe, 2008, so that the parts add up exactly)::

        brier = reliability - resolution + uncertainty + within_variance - within_covariance

    ``reliability``: the count-weighted mean of ``(mean confidence - accuracy)**2`` per
    bin (0 is perfect); ``resolution``: the count-weighted mean of ``(accuracy -
    base rate)**2`` per bin, how far the bins' outcomes are from the overall rate (0: the
    confidence tells nothing, as for a constant); ``uncertainty``: ``base_rate * (1 -
    base_rate)``; ``within_variance``: the confidences' variance inside their bins;
    ``within_covariance``: twice their covariance with the outcomes inside the bins.

    >>> d = brier_decomposition([0.2, 0.2, 0.8, 0.8], [0, 0, 1, 1], bins=10)
    >>> [round(d[k], 3) for k in ("brier", "reliability", "resolution", "uncertainty")]
    [0.04, 0.04, 0.25, 0.25]
    >>> brier_decomposition([0.6] * 4, [0, 1, 1, 0])["resolution"]  # a constant resolves nothing
    0.0
    """
    p, y = _probs_labels(probs, labels)
    bins = _check_bins(bins)
    idx = _bin_index(p, bins)
    n = float(p.size)
    base = float(y.mean())
    rel = res = wbv = wbc = 0.0
    for b in np.unique(idx):
        m = idx == b
        pb, yb = p[m], y[m]
        pm, ym = float(pb.mean()), float(yb.mean())
        rel += pb.size * (pm - ym) ** 2
        res += pb.size * (ym - base) ** 2
        wbv += float(np.sum((pb - pm) ** 2))
        wbc += 2.0 * float(np.sum((pb - pm) * (yb - ym)))
    return {
        "brier": float(np.mean((p - y) ** 2)),
        "reliability": rel / n,
        "resolution": res / n,
        "uncertainty": base * (1.0 - base),
        "within_variance": wbv / n,
        "within_covariance": wbc / n,
        "base_rate": base,
    }


def roc_auc(scores: Any, labels: Any) -> float:
    """The area under the ROC curve: the chance that a right answer gets a higher score
    than a wrong one (ties count half; the Mann-Whitney U over the product of the two
    class sizes). 0.5 is a score that tells nothing; ``scores`` are any finite numbers.

    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    >>> roc_auc([0.5, 0.5], [0, 1])
    0.5

    Raises:
        InvalidInput: lengths that differ, empty or non-finite input, labels other than
            0 and 1, or only one class among the labels.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    if s.shape != y.shape:
        raise InvalidInput(f"scores and labels differ in length ({s.size} != {y.size})")
    if s.size == 0 or not np.all(np.isfinite(s)):
        raise InvalidInput("scores must be a non-empty array of finite numbers")
    if not np.all((y == 0) | (y == 1)):
        raise InvalidInput("labels must be 0 or 1 (or booleans)")
    pos = int(y.sum())
    neg = int(y.size) - pos
    if pos == 0 or neg == 0:
        raise InvalidInput("the AUC needs both right (1) and wrong (0) examples")
    # mid-ranks (ties share the mean of their ranks)
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size, dtype=np.float64)
    sorted_s = s[order]
    start = 0
    while start < s.size:
        end = start
        while end + 1 < s.size and sorted_s[end + 1] == sorted_s[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    u = float(ranks[y == 1].sum()) - pos * (pos + 1) / 2.0
    return u / (pos * neg)


# ----------------------------------------------------------------------------- fitting
def _pav(x: _F64, y: _F64, w: _F64, min_block: int = 1) -> tuple[_F64, _F64]:
    """Isotonic (non-decreasing) least-squares fit of ``y`` on ``x``: the distinct ``x``
    values (sorted) and their fitted values, by pool-adjacent-violators. With
    ``min_block`` > 1, a block of less weight is then pooled with the neighbour whose
    value is closer (the left one on a tie), until every block has at least that weight
    or one block is left; pooling neighbours keeps the fit non-decreasing."""
    order = np.argsort(x, kind="mergesort")
    xs, ys, ws = x[order], y[order], w[order]
    ux, start = np.unique(xs, return_index=True)
    wsum = np.add.reduceat(ws, start)
    ysum = np.add.reduceat(ys * ws, start)
    # blocks: value, weight, number of distinct x values pooled
    vals: list[float] = []
    wts: list[float] = []
    cnt: list[int] = []
    for yv, wv in zip((ysum / wsum).tolist(), wsum.tolist(), strict=True):
        vals.append(yv)
        wts.append(wv)
        cnt.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            v2, w2, c2 = vals.pop(), wts.pop(), cnt.pop()
            wsum_ = wts[-1] + w2
            vals[-1] = (vals[-1] * wts[-1] + v2 * w2) / wsum_
            wts[-1] = wsum_
            cnt[-1] += c2
    while min_block > 1 and len(vals) > 1:
        small = [i for i, wv in enumerate(wts) if wv < min_block]
        if not small:
            break
        i = min(small, key=lambda k: (wts[k], k))  # the lightest block first
        if i == 0:
            j = 1
        elif i == len(vals) - 1:
            j = i - 1
        else:
            j = i - 1 if vals[i] - vals[i - 1] <= vals[i + 1] - vals[i] else i + 1
        a, b = min(i, j), max(i, j)
        wsum_ = wts[a] + wts[b]
        vals[a] = (vals[a] * wts[a] + vals[b] * wts[b]) / wsum_
        wts[a] = wsum_
        cnt[a] += cnt[b]
        del vals[b], wts[b], cnt[b]
    fitted = np.repeat(np.array(vals, dtype=np.float64), cnt)
    return ux.astype(np.float64), fitted


def _sigmoid(z: _F64) -> _F64:
    out: _F64 = 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))
    return out


def _logistic(x: _F64, y: _F64, l2: float, iters: int = 100) -> _F64:
    """Newton/IRLS for logistic regression with an L2 penalty on all but the intercept
    (column 0 of ``x`` is the intercept's ones). Returns the coefficients."""
    d = x.shape[1]
    beta = np.zeros(d, dtype=np.float64)
    pen = np.full(d, l2, dtype=np.float64)
    pen[0] = 0.0
    for _ in range(iters):
        p = _sigmoid(x @ beta)
        grad = x.T @ (p - y) + pen * beta
        wv = np.maximum(p * (1 - p), 1e-12)
        hess = (x * wv[:, None]).T @ x + np.diag(pen) + 1e-10 * np.eye(d)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    return beta


def _standardize(x: _F64) -> tuple[_F64, _F64]:
    """Column means and standard deviations (1 where a column is constant)."""
    sd = x.std(axis=0)
    return x.mean(axis=0), np.where(sd > 0, sd, 1.0)


def _design_of(x: _F64, mean: _F64, scale: _F64) -> _F64:
    return np.hstack([np.ones((x.shape[0], 1)), (x - mean) / scale])


def _folds(n: int, k: int, seed: int) -> npt.NDArray[np.int64]:
    """The fold (0 .. k-1) of each of ``n`` examples: a seeded shuffle dealt round-robin,
    so that fold sizes differ by at most one."""
    order = np.random.default_rng(seed).permutation(n)
    fold = np.empty(n, dtype=np.int64)
    fold[order] = np.arange(n) % k
    return fold


def _log_loss(p: _F64, y: _F64) -> float:
    q = np.clip(p, 1e-15, 1.0 - 1e-15)
    return float(-np.mean(y * np.log(q) + (1.0 - y) * np.log(1.0 - q)))


def _choose_l2(
    x: _F64, y: _F64, grid: Sequence[float], folds: int, seed: int
) -> tuple[float, dict[float, float]]:
    """The penalty of ``grid`` with the least held-out log-loss over ``folds``-fold
    cross-validation (each fold standardized on its own training part; a tie goes to
    the larger penalty), and every penalty's loss."""
    fold = _folds(x.shape[0], folds, seed)
    losses: dict[float, float] = {}
    for l2 in grid:
        p = np.empty(x.shape[0], dtype=np.float64)
        for f in range(folds):
            train, test = fold != f, fold == f
            mean, scale = _standardize(x[train])
            coef = _logistic(_design_of(x[train], mean, scale), y[train], l2)
            p[test] = _sigmoid(_design_of(x[test], mean, scale) @ coef)
        losses[float(l2)] = _log_loss(p, y)
    best = min(losses.values())
    chosen = max(l2 for l2, loss in losses.items() if loss <= best + 1e-12)
    return chosen, losses


class Calibrator:
    """Maps an answer's features (or one score) to a calibrated probability (module docs).

    Args:
        method: ``"logistic"`` (the default: on SciFact's few hundred labelled answers
            it is the better calibrated of the two, see docs/benchmarks.md) or
            ``"isotonic"`` (more flexible, wants more examples).
        l2: the L2 penalty of the logistic fit (on standardized features, in units of
            the log-likelihood summed over the examples), or ``"auto"`` (the default):
            chosen among :data:`L2_GRID` by ``folds``-fold cross-validation on the
            examples given to :meth:`fit`, by held-out log-loss. With fewer than
            ``2 * folds`` examples ``"auto"`` uses 1.0. :attr:`penalty` is the one used.
        min_block: isotonic only: the fewest examples behind each level of the fitted
            step function (1: plain pool-adjacent-violators).
        folds: the folds of ``l2="auto"`` (>= 2).
        seed: the seed of the shuffle that deals the examples into those folds.

    ``fit(X, labels)`` takes a 1-D array of scores or a 2-D array of features (one row
    per example, :data:`FEATURES` when they come from :class:`ConfidenceSignals`), and
    labels of 0 and 1; ``predict`` takes the same shape and returns probabilities in
    [0, 1]. ``to_dict`` / ``from_dict`` save and restore it as JSON-ready data.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(400, 2))
    >>> y = (rng.random(400) < 1 / (1 + np.exp(-2 * x[:, 0]))).astype(int)
    >>> cal = Calibrator("logistic").fit(x, y)
    >>> cal.fitted, bool(cal.predict(x[:1])[0] > 0), cal.predict([[3.0, 0.0]]).round(1).tolist()
    (True, True, [1.0])
    >>> cal.penalty in L2_GRID
    True
    >>> Calibrator.from_dict(cal.to_dict()).predict(x[:3]).tolist() == cal.predict(x[:3]).tolist()
    True
    """

    def __init__(
        self,
        method: Method = "logistic",
        *,
        l2: float | Literal["auto"] = "auto",
        min_block: int = 1,
        folds: int = 5,
        seed: int = 0,
    ) -> None:
        if method not in ("isotonic", "logistic"):
            raise InvalidInput(f"method must be 'isotonic' or 'logistic', got {method!r}")
        if l2 != "auto" and (
            isinstance(l2, bool) or not isinstance(l2, int | float) or not l2 >= 0
        ):
            raise InvalidInput(f"l2 must be 'auto' or a number >= 0, got {l2!r}")
        for name, value, low in (("min_block", min_block, 1), ("folds", folds, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidInput(f"{name} must be an int >= {low}, got {value!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InvalidInput(f"seed must be an int >= 0, got {seed!r}")
        self.method: Method = method
        self.l2: float | Literal["auto"] = "auto" if l2 == "auto" else float(l2)
        self.min_block = min_block
        self.folds = folds
        self.seed = seed
        self.penalty: float | None = None  # the L2 penalty of the last fit
        self.cv_losses: dict[float, float] | None = None  # l2="auto": loss per penalty
        self.dims: int | None = None  # None: unfitted; 0: fitted on 1-D scores
        self.mean: _F64 | None = None
        self.scale: _F64 | None = None
        self.coef: _F64 | None = None
        self.iso_x: _F64 | None = None
        self.iso_y: _F64 | None = None
        self.low_score: float | None = None
        self.n_examples = 0

    def __repr__(self) -> str:
        if self.dims is None:
            state = "unfitted"
        else:
            state = f"fitted on {self.n_examples} examples"
            if self.penalty is not None:
                state += f", l2={self.penalty:g}"
        return f"<covekit.Calibrator {self.method} {state}>"

    @property
    def fitted(self) -> bool:
        """Whether :meth:`fit` has run (or a fitted state was loaded)."""
        return self.dims is not None

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def _as_x(x: Any) -> _F64:
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim not in (1, 2):
            raise InvalidInput(
                f"give a 1-D array of scores or a 2-D array of features, not {arr.ndim}-D"
            )
        if not np.all(np.isfinite(arr)):
            raise InvalidInput("scores and features must be finite numbers")
        return arr

    def _design(self, x: _F64) -> _F64:
        assert self.mean is not None and self.scale is not None
        return _design_of(x, self.mean, self.scale)

    def _fit_logistic(self, x: _F64, y: _F64) -> None:
        """The penalty (fixed, or chosen by cross-validation), then the fit on all."""
        self.cv_losses = None
        if self.l2 != "auto":
            self.penalty = float(self.l2)
        elif x.shape[0] < 2 * self.folds:
            self.penalty = 1.0
        else:
            self.penalty, self.cv_losses = _choose_l2(x, y, L2_GRID, self.folds, self.seed)
        self.mean, self.scale = _standardize(x)
        self.coef = _logistic(self._design(x), y, self.penalty)

    # ------------------------------------------------------------------ fit
    def fit(self, x: Any, labels: Any) -> Calibrator:
        """Fits on ``x`` (scores or features) and ``labels`` (0/1); returns ``self``.

        Raises:
            InvalidInput: empty input, lengths that differ, non-finite values, labels
                other than 0 and 1.
        """
        arr = self._as_x(x)
        y = np.asarray(labels, dtype=np.float64).ravel()
        if arr.shape[0] == 0:
            raise InvalidInput("nothing to fit: x is empty")
        if arr.shape[0] != y.size:
            raise InvalidInput(f"x has {arr.shape[0]} rows but labels has {y.size}")
        if not np.all((y == 0) | (y == 1)):
            raise InvalidInput("labels must be 0 or 1 (or booleans)")
        self.n_examples = int(y.size)
        self.iso_x = self.iso_y = None
        if arr.ndim == 1:
            self.dims = 0
            self.mean = self.scale = self.coef = None
            self.penalty = self.cv_losses = None
            self.low_score = float(np.percentile(arr, 25))
            if self.method == "isotonic":
                self.iso_x, self.iso_y = _pav(arr, y, np.ones_like(y), self.min_block)
            else:
                self._fit_logistic(arr[:, None], y)
            return self
        self.dims = int(arr.shape[1])
        self.low_score = float(np.percentile(arr[:, 0], 25))
        self._fit_logistic(arr, y)
        if self.method == "isotonic":
            assert self.coef is not None
            z = self._design(arr) @ self.coef
            self.iso_x, self.iso_y = _pav(z, y, np.ones_like(y), self.min_block)
        return self

    # ------------------------------------------------------------------ predict
    def predict(self, x: Any) -> _F64:
        """Probabilities in [0, 1] for scores (1-D) or feature rows (2-D, or one row
        as 1-D when fitted on features). Unfitted: :meth:`prior`."""
        arr = self._as_x(x)
        if self.dims is None:
            return self.prior(arr)
        if self.dims == 0:
            s = arr.ravel()
            if self.method == "isotonic":
                assert self.iso_x is not None and self.iso_y is not None
                out: _F64 = np.interp(s, self.iso_x, self.iso_y)
                return np.clip(out, 0.0, 1.0)
            assert self.coef is not None
            return _sigmoid(self._design(s[:, None]) @ self.coef)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.shape[1] != self.dims:
            raise InvalidInput(f"fitted on {self.dims} features, given {arr.shape[1]}")
        assert self.coef is not None
        z = self._design(arr) @ self.coef
        if self.method == "isotonic":
            assert self.iso_x is not None and self.iso_y is not None
            return np.clip(np.interp(z, self.iso_x, self.iso_y), 0.0, 1.0)
        return _sigmoid(z)

    @staticmethod
    def prior(x: Any) -> _F64:
        """The confidence before any fit: for a 1-D array, the scores clipped to [0, 1];
        for :data:`FEATURES` rows, ``grounding * (1 - unsupported) * agreement *
        (1 + coverage) / 2``, where agreement is 0.6 for one source, 0.8 for two, 1.0
        for more, times 0.7 when the sources disagree and 0.8 when the best is stale;
        0 with a dangling marker.

        Rows of the first 13 :data:`FEATURES` (the version 1 layout) work the same.

        >>> s = ConfidenceSignals(sources=2, grounding=1.0, coverage=1.0)
        >>> Calibrator.prior([s.features()]).round(2).tolist()
        [0.8]
        """
        arr = np.asarray(x, dtype=np.float64)
        widths = (len(FEATURES), _V1_FEATURES)
        if arr.ndim == 1 and arr.size not in widths:
            return np.clip(arr, 0.0, 1.0)
        rows = arr if arr.ndim == 2 else arr[None, :]
        if rows.shape[1] not in widths:
            return np.clip(rows[:, 0], 0.0, 1.0)
        f = {name: rows[:, i] for i, name in enumerate(FEATURES[: rows.shape[1]])}
        agreement = np.where(f["sources"] >= 3, 1.0, np.where(f["sources"] >= 2, 0.8, 0.6))
        agreement = agreement * np.where(f["conflicts"] > 0, 0.7, 1.0)
        agreement = agreement * np.where(f["stale"] > 0, 0.8, 1.0)
        p = f["grounding"] * (1.0 - f["unsupported"]) * agreement * (0.5 + 0.5 * f["coverage"])
        p = np.where(f["dangling"] > 0, 0.0, p)
        out: _F64 = np.clip(p, 0.0, 1.0)
        return out

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (:meth:`from_dict` reads it back)."""

        def lst(a: _F64 | None) -> list[float] | None:
            return None if a is None else [float(v) for v in a]

        return {
            "format": "covekit.calibrator",
            "version": 2,
            "method": self.method,
            "l2": self.l2,
            "min_block": self.min_block,
            "folds": self.folds,
            "seed": self.seed,
            "penalty": self.penalty,
            "cv_losses": None
            if self.cv_losses is None
            else [[k, v] for k, v in sorted(self.cv_losses.items())],
            "dims": self.dims,
            "mean": lst(self.mean),
            "scale": lst(self.scale),
            "coef": lst(self.coef),
            "iso_x": lst(self.iso_x),
            "iso_y": lst(self.iso_y),
            "low_score": self.low_score,
            "n_examples": self.n_examples,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibrator:
        """A calibrator from :meth:`to_dict`'s data.

        Reads version 1 (a fixed ``l2``, no ``min_block``) and version 2.

        Raises:
            InvalidInput: data that is not a calibrator's, or is inconsistent.
        """
        if not isinstance(d, Mapping) or d.get("format") != "covekit.calibrator":
            raise InvalidInput("not a covekit calibrator's data (format != 'covekit.calibrator')")
        if d.get("version", 1) not in (1, 2):
            raise InvalidInput(f"calibrator data has an unknown version {d.get('version')!r}")
        try:
            cal = cls(
                d["method"],
                l2=d.get("l2", 1.0),
                min_block=int(d.get("min_block", 1)),
                folds=int(d.get("folds", 5)),
                seed=int(d.get("seed", 0)),
            )

            def arr(key: str) -> _F64 | None:
                v = d.get(key)
                return None if v is None else np.asarray(v, dtype=np.float64)

            cal.dims = None if d.get("dims") is None else int(d["dims"])
            cal.mean, cal.scale, cal.coef = arr("mean"), arr("scale"), arr("coef")
            cal.iso_x, cal.iso_y = arr("iso_x"), arr("iso_y")
            cal.low_score = None if d.get("low_score") is None else float(d["low_score"])
            cal.n_examples = int(d.get("n_examples", 0))
            penalty = d.get("penalty")
            if penalty is None and cal.dims is not None and cal.coef is not None:
                penalty = cal.l2  # version 1: the fixed l2 was the penalty
            cal.penalty = None if penalty is None else float(penalty)
            losses = d.get("cv_losses")
            cal.cv_losses = None if losses is None else {float(k): float(v) for k, v in losses}
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidInput(f"calibrator data is malformed: {e}") from e
        if cal.dims is not None:
            needs_iso = cal.method == "isotonic"
            needs_coef = cal.dims > 0 or cal.method == "logistic"
            if (needs_iso and (cal.iso_x is None or cal.iso_y is None)) or (
                needs_coef and cal.coef is None
            ):
                raise InvalidInput("calibrator data is missing its fitted state")
            if needs_iso:
                assert cal.iso_x is not None and cal.iso_y is not None
                if cal.iso_x.size != cal.iso_y.size or cal.iso_x.size == 0:
                    raise InvalidInput("calibrator data has mismatched isotonic arrays")
        return cal


def features_matrix(signals: Sequence[ConfidenceSignals]) -> _F64:
    """The :data:`FEATURES` rows of several answers' signals (for :meth:`Calibrator.fit`).

    >>> features_matrix([ConfidenceSignals(sources=2)]).shape
    (1, 18)
    """
    if not signals:
        return np.zeros((0, len(FEATURES)), dtype=np.float64)
    return np.vstack([s.features() for s in signals])
