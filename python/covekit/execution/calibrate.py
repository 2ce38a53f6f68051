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
  is free);
- ``"logistic"``: logistic regression by Newton's method (IRLS) with a small L2 penalty
  on standardized features (the intercept is not penalized).

An unfitted calibrator gives a fixed, documented prior (:meth:`Calibrator.prior`), so
that a pipeline has a confidence before anyone labels anything. The metrics
(:func:`expected_calibration_error`, :func:`brier_score`, :func:`reliability_table`)
measure how well it is calibrated.

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
    "REASONS",
    "Calibrator",
    "ConfidenceSignals",
    "brier_score",
    "expected_calibration_error",
    "features_matrix",
    "reliability_table",
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
)

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

    >>> s = ConfidenceSignals(best_score=0.9, second_score=0.3, cited_score=0.9, cited_rank=1,
    ...                       sources=1, grounding=1.0)
    >>> s.reasons()
    ['one source only']
    >>> s.features()[:2].round(3).tolist()
    [0.9, 0.667]
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

    @property
    def margin(self) -> float:
        """``(best - second) / |best|``: how far the best hit stands out (0 if no hit)."""
        if self.best_score == 0:
            return 0.0
        return float((self.best_score - self.second_score) / abs(self.best_score))

    def features(self) -> _F64:
        """The feature vector (:data:`FEATURES` order), as float64."""
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


# ----------------------------------------------------------------------------- fitting
def _pav(x: _F64, y: _F64, w: _F64) -> tuple[_F64, _F64]:
    """Isotonic (non-decreasing) least-squares fit of ``y`` on ``x``: the distinct ``x``
    values (sorted) and their fitted values, by pool-adjacent-violators."""
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


class Calibrator:
    """Maps an answer's features (or one score) to a calibrated probability (module docs).

    Args:
        method: ``"logistic"`` (the default: on SciFact's few hundred labelled answers
            it is the better calibrated of the two, see docs/benchmarks.md) or
            ``"isotonic"`` (more flexible, wants more examples).
        l2: the L2 penalty of the logistic fit (on standardized features, in units of
            the log-likelihood summed over the examples).

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
    >>> Calibrator.from_dict(cal.to_dict()).predict(x[:3]).tolist() == cal.predict(x[:3]).tolist()
    True
    """

    def __init__(self, method: Method = "logistic", *, l2: float = 1.0) -> None:
        if method not in ("isotonic", "logistic"):
            raise InvalidInput(f"method must be 'isotonic' or 'logistic', got {method!r}")
        if isinstance(l2, bool) or not isinstance(l2, int | float) or not l2 >= 0:
            raise InvalidInput(f"l2 must be a number >= 0, got {l2!r}")
        self.method: Method = method
        self.l2 = float(l2)
        self.dims: int | None = None  # None: unfitted; 0: fitted on 1-D scores
        self.mean: _F64 | None = None
        self.scale: _F64 | None = None
        self.coef: _F64 | None = None
        self.iso_x: _F64 | None = None
        self.iso_y: _F64 | None = None
        self.low_score: float | None = None
        self.n_examples = 0

    def __repr__(self) -> str:
        state = "unfitted" if self.dims is None else f"fitted on {self.n_examples} examples"
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
        z = (x - self.mean) / self.scale
        return np.hstack([np.ones((z.shape[0], 1)), z])

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
        if arr.ndim == 1:
            self.dims = 0
            self.mean = self.scale = self.coef = None
            self.low_score = float(np.percentile(arr, 25))
            if self.method == "isotonic":
                self.iso_x, self.iso_y = _pav(arr, y, np.ones_like(y))
            else:
                self.mean = np.array([float(arr.mean())])
                sd = float(arr.std())
                self.scale = np.array([sd if sd > 0 else 1.0])
                self.coef = _logistic(self._design(arr[:, None]), y, self.l2)
            return self
        self.dims = int(arr.shape[1])
        self.low_score = float(np.percentile(arr[:, 0], 25))
        self.mean = arr.mean(axis=0)
        sd = arr.std(axis=0)
        self.scale = np.where(sd > 0, sd, 1.0)
        self.coef = _logistic(self._design(arr), y, self.l2)
        if self.method == "isotonic":
            z = self._design(arr) @ self.coef
            self.iso_x, self.iso_y = _pav(z, y, np.ones_like(y))
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

        >>> row = [0.5, 0.2, 0.5, 1.0, 2, 0, 0, 1.0, 0.0, 0, 1.0, 0, 0]
        >>> Calibrator.prior([row]).round(2).tolist()
        [0.8]
        """
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 1 and arr.size != len(FEATURES):
            return np.clip(arr, 0.0, 1.0)
        rows = arr if arr.ndim == 2 else arr[None, :]
        if rows.shape[1] != len(FEATURES):
            return np.clip(rows[:, 0], 0.0, 1.0)
        f = {name: rows[:, i] for i, name in enumerate(FEATURES)}
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
            "version": 1,
            "method": self.method,
            "l2": self.l2,
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

        Raises:
            InvalidInput: data that is not a calibrator's, or is inconsistent.
        """
        if not isinstance(d, Mapping) or d.get("format") != "covekit.calibrator":
            raise InvalidInput("not a covekit calibrator's data (format != 'covekit.calibrator')")
        try:
            cal = cls(d["method"], l2=d.get("l2", 1.0))

            def arr(key: str) -> _F64 | None:
                v = d.get(key)
                return None if v is None else np.asarray(v, dtype=np.float64)

            cal.dims = None if d.get("dims") is None else int(d["dims"])
            cal.mean, cal.scale, cal.coef = arr("mean"), arr("scale"), arr("coef")
            cal.iso_x, cal.iso_y = arr("iso_x"), arr("iso_y")
            cal.low_score = None if d.get("low_score") is None else float(d["low_score"])
            cal.n_examples = int(d.get("n_examples", 0))
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
    (1, 13)
    """
    if not signals:
        return np.zeros((0, len(FEATURES)), dtype=np.float64)
    return np.vstack([s.features() for s in signals])
