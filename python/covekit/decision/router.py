"""Routing: which workflow, and which model tier, handles a request.

A :class:`Router` tries its :class:`RouteRule` list first (keywords, regular expressions,
request metadata; the first rule that matches wins), then a nearest-centroid classifier
over embeddings, fitted from labelled examples. The classifier's confidence is a
probability calibrated by cross-validation (a softmax over cosine similarities whose
temperature minimises the cross-validated log-loss); under ``threshold`` the request goes
to the ``fallback`` workflow. Every decision is a :class:`Route` that says how it was
made and why.

>>> import covekit
>>> router = covekit.Router(
...     workflows=[covekit.Workflow("billing"), covekit.Workflow("tech", tier="large"),
...                covekit.Workflow("general", tier="small")],
...     rules=[covekit.RouteRule("billing", keywords=["invoice"], name="invoices")],
...     threshold=0.8,
... )
>>> _ = router.fit(
...     ["refund my order", "I want my money back", "refund the charge",
...      "the app crashes", "error when I log in", "the app shows an error"],
...     ["billing", "billing", "billing", "tech", "tech", "tech"],
... )
>>> r = router.route("Where is my INVOICE?")
>>> r.workflow, r.method, r.rule, r.matched
('billing', 'rule', 'invoices', 'INVOICE')
>>> r = router.route("the app crashes on start")
>>> r.workflow, r.tier, r.method
('tech', 'large', 'classifier')
>>> r = router.route("refund after the app crashes")  # a bit of both
>>> r.workflow, r.tier, r.method, r.reason
('general', 'small', 'fallback', 'confidence 0.742 < threshold 0.8: fallback')

See docs/routing.md.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from covekit import hash as ckhash
from covekit._fileio import atomic_write
from covekit.data.embed import Embedder, HashingEmbedder
from covekit.errors import EmbeddingError, IndexFileCorrupt, InvalidInput

if TYPE_CHECKING:
    from typing import Self

__all__ = ["Route", "RouteRule", "Router", "RouterReport", "Workflow"]

FORMAT = "covekit.router"
FORMAT_VERSION = 1
_MAGIC = b"CKROUTER"
_HEAD = struct.Struct("<8sIQ")  # magic, format version, header length
_TAIL = struct.Struct("<Q")  # XXH3-64 of everything before it

Method = Literal["rule", "classifier", "fallback"]
Scalar = str | int | float | bool | None
_F32 = npt.NDArray[np.float32]
_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]

# Temperature search range (softmax over cosines divided by T).
_T_MIN = 1e-4
_T_MAX = 1e3
_BISECT_STEPS = 100


# --------------------------------------------------------------------------- workflows


def _check_name(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if not value.strip():
        raise InvalidInput(f"{what} must be a non-empty str, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Workflow:
    """A workflow a router can choose, with the model tier it runs on by default.

    ``tier`` is a free name (``"small"``, ``"standard"``, ``"large"``, or a model
    selector); a :class:`RouteRule` can override it for the requests it matches.

    >>> Workflow("refunds", tier="small", description="refund requests").tier
    'small'
    """

    name: str
    tier: str = "standard"
    description: str = ""

    def __post_init__(self) -> None:
        _check_name("Workflow name", self.name)
        _check_name("Workflow tier", self.tier)
        if not isinstance(self.description, str):
            raise TypeError(
                f"Workflow description must be a str, not {type(self.description).__name__}"
            )

    def to_dict(self) -> dict[str, str]:
        """The JSON-serializable form.

        >>> Workflow("tech").to_dict()
        {'name': 'tech', 'tier': 'standard', 'description': ''}
        """
        return {"name": self.name, "tier": self.tier, "description": self.description}


def _as_workflow(value: object, what: str) -> Workflow:
    if isinstance(value, Workflow):
        return value
    if isinstance(value, str):
        return Workflow(_check_name(what, value))
    raise TypeError(f"{what} must be a covekit.Workflow or a str, not {type(value).__name__}")


# ------------------------------------------------------------------------------- rules

# Word characters for keyword boundaries: \w plus the combining marks (a keyword "cafe"
# must not match the start of "cafe\u0301").
_WORD_CLASS = r"\w\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
# Scripts written without spaces between words (and Hangul, whose particles attach to
# the word): a keyword there matches inside a run of letters.
_NO_SPACE_SCRIPTS = (
    "CJK UNIFIED IDEOGRAPH",
    "CJK COMPATIBILITY IDEOGRAPH",
    "HIRAGANA",
    "KATAKANA",
    "HALFWIDTH KATAKANA",
    "HANGUL",
    "THAI",
    "LAO",
    "KHMER",
    "MYANMAR",
    "TIBETAN",
)


def _nfc(text: str) -> str:
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def _needs_boundary(ch: str) -> bool:
    if not (ch.isalnum() or ch == "_"):
        return False
    return not unicodedata.name(ch, "").startswith(_NO_SPACE_SCRIPTS)


def _keyword_alternative(keyword: str) -> str:
    body = r"\s+".join(re.escape(part) for part in keyword.split())
    left = f"(?<![{_WORD_CLASS}])" if _needs_boundary(keyword[0]) else ""
    right = f"(?![{_WORD_CLASS}])" if _needs_boundary(keyword[-1]) else ""
    return left + body + right


def _check_scalar(key: str, value: object) -> Scalar:
    if value is None or isinstance(value, str | int | float | bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"metadata value for {key!r} must be finite, got {value!r}")
        return value
    raise InvalidInput(
        f"metadata value for {key!r} must be a str, int, float, bool or None (or a list of "
        f"them, for membership), not {type(value).__name__}"
    )


def _values_equal(a: object, b: Scalar) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    try:
        return bool(a == b)
    except Exception:  # an exotic object whose == raises is simply not equal
        return False


_COLLECTIONS = (list, tuple, set, frozenset)
_NO_MATCH = object()


@dataclass(frozen=True, slots=True, init=False)
class RouteRule:
    """A rule that sends matching requests to ``workflow`` (and, optionally, ``tier``).

    A rule has one or more matchers, and matches when all of them do:

    - ``keywords``: any of these words or phrases, whole words only (Unicode word
      boundaries; in scripts written without spaces, such as Chinese, Japanese or Thai,
      inside a run of letters too), case-insensitive unless ``ignore_case=False``, with any
      run of whitespace matching the spaces of a phrase;
    - ``pattern``: a regular expression (Python :mod:`re` syntax) found anywhere in the
      text (case-insensitive unless ``ignore_case=False``);
    - ``metadata``: ``{key: value}`` that the request's metadata must have: equality for
      a single value, membership for a list of values (``{"plan": ["pro", "enterprise"]}``);
      when the request's value is itself a list, one of its items must match.

    Text is compared in Unicode NFC. Rules are tried in the router's order; the first that
    matches decides, and the :class:`Route` records its ``name`` and what it matched.

    >>> rule = RouteRule("billing", keywords=["refund", "money back"], name="refund-words")
    >>> rule.match("Can I get my MONEY  back?")
    'MONEY  back'
    >>> rule.match("refunded") is None  # whole words only
    True
    >>> RouteRule("vip", metadata={"plan": ["enterprise", "pro"]}).match("hi", {"plan": "pro"})
    "plan='pro'"
    """

    workflow: str
    keywords: tuple[str, ...]
    pattern: str | None
    metadata: tuple[tuple[str, tuple[Scalar, ...]], ...]
    tier: str | None
    name: str | None
    ignore_case: bool
    _keyword_re: re.Pattern[str] | None = field(repr=False, compare=False)
    _pattern_re: re.Pattern[str] | None = field(repr=False, compare=False)

    def __init__(
        self,
        workflow: str,
        *,
        keywords: Iterable[str] | str = (),
        pattern: str | None = None,
        metadata: Mapping[str, Scalar | Iterable[Scalar]] | None = None,
        tier: str | None = None,
        name: str | None = None,
        ignore_case: bool = True,
    ) -> None:
        _check_name("RouteRule workflow", workflow)
        if tier is not None:
            _check_name("RouteRule tier", tier)
        if name is not None:
            _check_name("RouteRule name", name)
        if isinstance(keywords, str):
            keywords = (keywords,)
        kws: list[str] = []
        for kw in keywords:
            if not isinstance(kw, str):
                raise TypeError(f"each keyword must be a str, not {type(kw).__name__}")
            kw = " ".join(_nfc(kw).split())
            if not kw:
                raise InvalidInput("a keyword must have a non-space character; drop empty ones")
            if kw not in kws:
                kws.append(kw)
        flags = re.IGNORECASE if ignore_case else 0
        keyword_re = None
        if kws:
            alternatives = sorted(kws, key=lambda k: (-len(k), k))
            keyword_re = re.compile("|".join(map(_keyword_alternative, alternatives)), flags)
        pattern_re = None
        if pattern is not None:
            if not isinstance(pattern, str):
                raise TypeError(
                    f"pattern must be a str (a regular expression), not {type(pattern).__name__}"
                )
            try:
                pattern_re = re.compile(_nfc(pattern), flags)
            except re.error as exc:
                raise InvalidInput(
                    f"pattern {pattern!r} is not a valid regular expression: {exc}"
                ) from None
        meta: list[tuple[str, tuple[Scalar, ...]]] = []
        if metadata is not None:
            if not isinstance(metadata, Mapping):
                raise TypeError(
                    f"metadata must be a mapping of key to value(s), not {type(metadata).__name__}"
                )
            for key, value in metadata.items():
                _check_name("a metadata key", key)
                if isinstance(value, _COLLECTIONS):
                    values = tuple(_check_scalar(key, v) for v in value)
                    if isinstance(value, set | frozenset):
                        values = tuple(sorted(values, key=repr))
                    if not values:
                        raise InvalidInput(
                            f"metadata {key!r} has an empty list of values, which nothing "
                            "matches; give at least one value"
                        )
                else:
                    values = (_check_scalar(key, value),)
                meta.append((key, values))
        if not kws and pattern_re is None and not meta:
            raise InvalidInput(
                f"RouteRule for {workflow!r} has no matcher: pass keywords=[...], "
                "pattern='...' or metadata={...}"
            )
        set_ = object.__setattr__
        set_(self, "workflow", workflow)
        set_(self, "keywords", tuple(kws))
        set_(self, "pattern", pattern)
        set_(self, "metadata", tuple(meta))
        set_(self, "tier", tier)
        set_(self, "name", name)
        set_(self, "ignore_case", bool(ignore_case))
        set_(self, "_keyword_re", keyword_re)
        set_(self, "_pattern_re", pattern_re)

    def match(self, text: str, metadata: Mapping[str, Any] | None = None) -> str | None:
        """What in ``text`` (or ``metadata``) matched, or None when the rule does not apply.

        The matched text for keywords or a pattern (the first keyword found when both are
        set), else ``key=value`` of the first metadata entry.

        >>> RouteRule("orders", pattern=r"\\bORD-\\d{5}\\b").match("status of ord-12345?")
        'ord-12345'
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        got = self._match(_nfc(text), metadata or {})
        return None if got is None else got[1]

    def _match(self, text: str, metadata: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(kind, what matched)``: kind is "keyword", "pattern" or "metadata"."""
        meta_hit = None
        for key, allowed in self.metadata:
            if key not in metadata:
                return None
            value = metadata[key]
            items = value if isinstance(value, _COLLECTIONS) else (value,)
            hit = next((v for v in items for a in allowed if _values_equal(v, a)), _NO_MATCH)
            if hit is _NO_MATCH:
                return None
            if meta_hit is None:
                meta_hit = f"{key}={hit!r}"
        found = None
        if self._pattern_re is not None:
            m = self._pattern_re.search(text)
            if m is None:
                return None
            found = ("pattern", m.group(0))
        if self._keyword_re is not None:
            m = self._keyword_re.search(text)
            if m is None:
                return None
            found = ("keyword", m.group(0))
        if found is not None:
            return found
        return None if meta_hit is None else ("metadata", meta_hit)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serializable form (:meth:`from_dict` reads it back).

        >>> RouteRule("tech", keywords="crash").to_dict()["keywords"]
        ['crash']
        """
        return {
            "workflow": self.workflow,
            "keywords": list(self.keywords),
            "pattern": self.pattern,
            "metadata": {k: list(v) for k, v in self.metadata},
            "tier": self.tier,
            "name": self.name,
            "ignore_case": self.ignore_case,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RouteRule:
        """A rule from :meth:`to_dict` output.

        >>> r = RouteRule("tech", pattern="crash(es)?", tier="large")
        >>> RouteRule.from_dict(r.to_dict()) == r
        True
        """
        return cls(
            data["workflow"],
            keywords=data.get("keywords", ()),
            pattern=data.get("pattern"),
            metadata=data.get("metadata") or None,
            tier=data.get("tier"),
            name=data.get("name"),
            ignore_case=data.get("ignore_case", True),
        )


# ------------------------------------------------------------------------------ routes


@dataclass(frozen=True, slots=True)
class Route:
    """Where a request goes, and why.

    ``method`` is ``"rule"`` (a :class:`RouteRule` matched: ``rule`` names it, ``matched``
    is what it matched, ``confidence`` is 1), ``"classifier"`` (the classifier's top
    workflow, with its calibrated probability at or above the threshold) or
    ``"fallback"`` (below the threshold, or nothing to classify with). ``alternatives``
    lists the classifier's top workflows with their probabilities, best first (empty for
    rule routes). ``to_dict()`` is JSON-serializable, for traces and eval reports.

    >>> r = Route("general", "small", 0.41, "fallback",
    ...           "confidence 0.410 < threshold 0.6: fallback",
    ...           alternatives=(("billing", 0.41), ("tech", 0.35)))
    >>> r.to_dict()["alternatives"][0]
    {'workflow': 'billing', 'probability': 0.41}
    """

    workflow: str
    tier: str
    confidence: float
    method: Method
    reason: str
    rule: str | None = None
    matched: str | None = None
    alternatives: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serializable form (:meth:`from_dict` reads it back).

        >>> import json
        >>> json.dumps(Route("tech", "large", 1.0, "rule", "rule 'r' matched keyword 'crash'",
        ...                  rule="r", matched="crash").to_dict())[:35]
        '{"workflow": "tech", "tier": "large'
        """
        return {
            "workflow": self.workflow,
            "tier": self.tier,
            "confidence": self.confidence,
            "method": self.method,
            "reason": self.reason,
            "rule": self.rule,
            "matched": self.matched,
            "alternatives": [{"workflow": w, "probability": p} for w, p in self.alternatives],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Route:
        """A route from :meth:`to_dict` output.

        >>> r = Route("tech", "large", 0.9, "classifier", "confidence 0.900 >= threshold 0.5",
        ...           alternatives=(("tech", 0.9), ("billing", 0.1)))
        >>> Route.from_dict(r.to_dict()) == r
        True
        """
        return cls(
            data["workflow"],
            data["tier"],
            float(data["confidence"]),
            data["method"],
            data["reason"],
            data.get("rule"),
            data.get("matched"),
            tuple((a["workflow"], float(a["probability"])) for a in data.get("alternatives", ())),
        )


# ------------------------------------------------------------------------------ report


@dataclass(frozen=True, slots=True)
class RouterReport:
    """Cross-validated quality of a router on labelled examples (:meth:`Router.evaluate`).

    Each example is routed by a router fitted on the other folds (stratified k-fold,
    deterministic with ``seed``), with the router's rules first.

    - ``accuracy``: share routed to their label, threshold ignored (rules, then the
      classifier's top workflow); ``classifier_accuracy``: the classifier alone;
    - ``coverage``: share routed by a rule or by the classifier at or above ``threshold``
      (the rest would go to the fallback), ``covered_accuracy``: accuracy on that share
      (None when nothing is covered);
    - ``ece``: expected calibration error of the classifier's confidence over all examples
      (``bins`` equal-width bins: the mean over bins, weighted by their share, of
      ``|accuracy - mean confidence|``); ``log_loss``: its mean negative log-likelihood;
    - ``precision``, ``recall``, ``f1``, ``support`` per workflow and ``confusion`` (rows:
      true, columns: predicted), in the order of ``workflows``;
    - per example, in the order given: ``labels``, ``predicted``, ``methods``
      (``"rule"``, ``"classifier"`` or ``"fallback"``), ``classifier_predicted``,
      ``confidences`` (the classifier's top probability) and ``fold_of``.

    >>> import covekit
    >>> texts = ["refund my order", "money back please", "refund the charge",
    ...          "app crashes", "login error", "the app shows an error"]
    >>> labels = ["billing"] * 3 + ["tech"] * 3
    >>> report = covekit.Router().evaluate(texts, labels, folds=3)
    >>> report.examples, report.workflows, report.support
    (6, ('billing', 'tech'), (3, 3))
    """

    workflows: tuple[str, ...]
    examples: int
    folds: int
    seed: int
    threshold: float
    bins: int
    accuracy: float
    classifier_accuracy: float
    coverage: float
    covered_accuracy: float | None
    ece: float
    log_loss: float
    rule_routed: int
    rule_accuracy: float | None
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    f1: tuple[float, ...]
    support: tuple[int, ...]
    confusion: tuple[tuple[int, ...], ...]
    temperatures: tuple[float, ...]
    labels: tuple[str, ...]
    predicted: tuple[str, ...]
    methods: tuple[Method, ...]
    classifier_predicted: tuple[str, ...]
    confidences: tuple[float, ...]
    fold_of: tuple[int, ...]

    @property
    def macro_f1(self) -> float:
        """The mean of the per-workflow F1 scores (workflows with support only).

        >>> import covekit
        >>> r = covekit.Router(temperature=0.05).evaluate(
        ...     ["a refund", "refund it", "app crash", "crash again"],
        ...     ["billing", "billing", "tech", "tech"], folds=2)
        >>> 0.0 <= r.macro_f1 <= 1.0
        True
        """
        scores = [f for f, s in zip(self.f1, self.support, strict=True) if s > 0]
        return sum(scores) / len(scores) if scores else 0.0

    def coverage_at(self, threshold: float) -> tuple[float, float | None]:
        """``(coverage, covered_accuracy)`` had the router used ``threshold``.

        >>> import covekit
        >>> r = covekit.Router(temperature=0.05).evaluate(
        ...     ["a refund", "refund it", "app crash", "crash again"],
        ...     ["billing", "billing", "tech", "tech"], folds=2)
        >>> r.coverage_at(0.0)[0]
        1.0
        """
        threshold = _check_threshold(threshold)
        covered = [
            m == "rule" or c >= threshold
            for m, c in zip(self.methods, self.confidences, strict=True)
        ]
        n_cov = sum(covered)
        if n_cov == 0:
            return 0.0, None
        right = sum(
            1
            for cov, p, y in zip(covered, self.predicted, self.labels, strict=True)
            if cov and p == y
        )
        return n_cov / self.examples, right / n_cov

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serializable form.

        >>> import covekit, json
        >>> r = covekit.Router(temperature=0.05).evaluate(
        ...     ["a refund", "refund it", "app crash", "crash again"],
        ...     ["billing", "billing", "tech", "tech"], folds=2)
        >>> sorted(json.loads(json.dumps(r.to_dict())))[:3]
        ['accuracy', 'bins', 'classifier_accuracy']
        """
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            out[name] = value
        out["macro_f1"] = self.macro_f1
        return out

    def __str__(self) -> str:
        def f3(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.3f}"

        width = max([len("macro avg"), *(len(w) for w in self.workflows)])
        lines = [
            f"RouterReport: {self.examples} examples, {len(self.workflows)} workflows, "
            f"{self.folds}-fold cross-validation (seed {self.seed})",
            f"accuracy     {f3(self.accuracy)} (classifier alone {f3(self.classifier_accuracy)}; "
            f"{self.rule_routed} routed by rules, accuracy {f3(self.rule_accuracy)})",
            f"coverage     {f3(self.coverage)} at threshold {self.threshold:g} "
            f"(accuracy {f3(self.covered_accuracy)} on the covered part)",
            f"calibration  ECE {f3(self.ece)} ({self.bins} bins), log-loss {f3(self.log_loss)}, "
            f"temperature {min(self.temperatures):.4g}-{max(self.temperatures):.4g}",
            "",
            f"{'workflow':<{width}}  precision  recall     f1  support",
        ]
        for i, w in enumerate(self.workflows):
            lines.append(
                f"{w:<{width}}  {self.precision[i]:9.3f}  {self.recall[i]:6.3f}  "
                f"{self.f1[i]:5.3f}  {self.support[i]:7d}"
            )
        with_support = [i for i, s in enumerate(self.support) if s > 0]
        mp = sum(self.precision[i] for i in with_support) / max(1, len(with_support))
        mr = sum(self.recall[i] for i in with_support) / max(1, len(with_support))
        lines.append(
            f"{'macro avg':<{width}}  {mp:9.3f}  {mr:6.3f}  {self.macro_f1:5.3f}  "
            f"{sum(self.support):7d}"
        )
        lines += ["", "confusion (rows: true, columns: predicted, numbered as the rows)"]
        cell = max(4, *(len(str(v)) + 1 for row in self.confusion for v in row))
        head = "".join(f"{j + 1:>{cell}}" for j in range(len(self.workflows)))
        num = len(str(len(self.workflows)))
        lines.append(" " * (num + 1 + width) + head)
        for i, w in enumerate(self.workflows):
            row = "".join(f"{v:>{cell}}" for v in self.confusion[i])
            lines.append(f"{i + 1:>{num}} {w:<{width}}{row}")
        return "\n".join(lines)


# ------------------------------------------------------------------------------ router


@dataclass(frozen=True, slots=True)
class _Fitted:
    """The classifier's state: replaced whole by each fit, never changed in place."""

    classes: tuple[str, ...]
    counts: tuple[int, ...]
    centroids: _F32  # (len(classes), dim), unit rows, read-only
    centroids64: _F64  # the same in float64, for the similarities
    temperature: float
    dim: int
    embedder_name: str
    workflows: Mapping[str, Workflow]  # every workflow a route can name
    calibration_folds: int
    calibration_log_loss: float | None


def _check_threshold(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"threshold must be a number in [0, 1], not {type(value).__name__}")
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise InvalidInput(f"threshold must be in [0, 1] (a probability), got {value!r}")
    return v


def _check_int(what: str, value: object, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    v = int(value)
    if v < lo:
        raise InvalidInput(f"{what} must be >= {lo}, got {v}")
    return v


def _check_text(text: object, where: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{where} must be a str, not {type(text).__name__}")
    if not text.strip():
        raise InvalidInput(
            f"{where} is empty{' (only whitespace)' if text else ''}: pass the request's "
            "text, a str with at least one non-space character"
        )
    return text


def _check_texts(texts: object, what: str = "texts") -> list[str]:
    if isinstance(texts, str | bytes):
        raise TypeError(
            f"{what} must be a list of str, not a single {type(texts).__name__}; "
            "wrap one text in a list"
        )
    if not isinstance(texts, Iterable):
        raise TypeError(f"{what} must be a list of str, not {type(texts).__name__}")
    out = list(texts)
    for i, t in enumerate(out):
        _check_text(t, f"{what}[{i}]")
    return out


def _check_metadata(metadata: object) -> Mapping[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping (or None), not {type(metadata).__name__}")
    return metadata


def _metadata_list(metadata: object, n: int) -> list[Mapping[str, Any]]:
    if metadata is None or isinstance(metadata, Mapping):
        one = _check_metadata(metadata)
        return [one] * n
    if isinstance(metadata, str | bytes) or not isinstance(metadata, Sequence):
        raise TypeError(
            "metadata must be None, one mapping for every text, or a list of mappings "
            f"(one per text), not {type(metadata).__name__}"
        )
    if len(metadata) != n:
        raise InvalidInput(
            f"metadata has {len(metadata)} entries for {n} texts: pass one mapping (or None) "
            "per text, or a single mapping for all"
        )
    return [_check_metadata(m) for m in metadata]


def _examples(texts: object, labels: object) -> tuple[list[str], list[str]]:
    """``(texts, labels)`` from either form that fit and evaluate take."""
    if labels is None:
        if isinstance(texts, str | bytes) or not isinstance(texts, Iterable):
            raise TypeError(
                "pass fit(texts, labels) with two lists, or fit(examples) with "
                f"(text, label) pairs; got {type(texts).__name__}"
            )
        pairs = list(texts)
        out_t: list[str] = []
        out_l: list[str] = []
        for i, p in enumerate(pairs):
            if isinstance(p, str) or not isinstance(p, tuple | list) or len(p) != 2:
                raise TypeError(
                    f"examples[{i}] is {type(p).__name__}, not a (text, label) pair: pass "
                    "labels=[...] with a list of texts, or a list of (text, label) pairs"
                )
            out_t.append(p[0])
            out_l.append(p[1])
        t_list, l_list = out_t, out_l
    else:
        t_list = _check_texts(texts)
        if isinstance(labels, str | bytes) or not isinstance(labels, Iterable):
            raise TypeError(f"labels must be a list of str, not {type(labels).__name__}")
        l_list = list(labels)
    t_list = _check_texts(t_list)
    if len(t_list) != len(l_list):
        raise InvalidInput(
            f"texts has {len(t_list)} items and labels {len(l_list)}: pass one label per text"
        )
    for i, lab in enumerate(l_list):
        _check_name(f"labels[{i}]", lab)
    if not t_list:
        raise InvalidInput("no examples: pass labelled texts of at least 2 workflows")
    return t_list, l_list


def _normalize_rows(x: _F32) -> _F32:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: _F32 = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    return out


def _centroids(x: _F32, y: _I64, k: int) -> _F32:
    c = np.zeros((k, x.shape[1]), dtype=np.float64)
    for j in range(k):
        rows = x[y == j]
        if rows.shape[0]:
            c[j] = rows.sum(axis=0, dtype=np.float64)
    norms = np.linalg.norm(c, axis=1, keepdims=True)
    c = np.divide(c, norms, out=np.zeros_like(c), where=norms > 0)
    return np.ascontiguousarray(c, dtype=np.float32)


def _readonly64(c: _F32) -> _F64:
    out = np.ascontiguousarray(c, dtype=np.float64)
    out.flags.writeable = False
    return out


def _similarities(x: _F32, c: _F64) -> _F64:
    """Cosines of unit rows ``x`` with unit rows ``c``, each an exact float64 product sum
    in a fixed order: a row's values do not depend on the batch it is in (a BLAS matrix
    product would give a lone row and the same row in a batch different last bits)."""
    n, d = x.shape
    k = c.shape[0]
    step = max(1, (1 << 20) // max(1, k * d))
    if n <= step:
        one: _F64 = (x.astype(np.float64)[:, None, :] * c[None, :, :]).sum(axis=2)
        return one
    out = np.empty((n, k), dtype=np.float64)
    for start in range(0, n, step):
        xb = x[start : start + step].astype(np.float64)
        np.sum(xb[:, None, :] * c[None, :, :], axis=2, out=out[start : start + step])
    return out


def _softmax(s: _F64, temperature: float) -> _F64:
    z = s / temperature
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _log_loss(s: _F64, y: _I64, temperature: float) -> float:
    z = s / temperature
    m = z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
    return float(np.mean(lse - z[np.arange(len(y)), y]))


def _fit_temperature(s: _F64, y: _I64) -> float:
    """The temperature that minimises the mean log-loss of ``softmax(s / T)`` for ``y``.

    The log-loss is convex in ``beta = 1 / T``; its derivative, ``mean(E_p[s] - s_y)``,
    increases with beta, so bisection on log(beta) finds the minimum within the range.
    """
    rows = np.arange(len(y))
    s_y = s[rows, y]

    def slope(beta: float) -> float:
        p = _softmax(s, 1.0 / beta)
        return float(np.mean((p * s).sum(axis=1) - s_y))

    lo, hi = math.log(1.0 / _T_MAX), math.log(1.0 / _T_MIN)
    if slope(math.exp(hi)) <= 0.0:
        return _T_MIN
    if slope(math.exp(lo)) >= 0.0:
        return _T_MAX
    for _ in range(_BISECT_STEPS):
        mid = 0.5 * (lo + hi)
        if slope(math.exp(mid)) < 0.0:
            lo = mid
        else:
            hi = mid
    return 1.0 / math.exp(0.5 * (lo + hi))


def _stratified_folds(y: _I64, k: int, folds: int, seed: int) -> _I64:
    """A fold number per example: each workflow's examples spread over the folds in a
    seeded random order (fold sizes per workflow differ by at most one)."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    start = 0
    for j in range(k):
        idx = np.flatnonzero(y == j)
        perm = rng.permutation(idx.size)
        fold[idx[perm]] = (start + np.arange(idx.size)) % folds
        start = (start + idx.size) % folds
    return fold


def _fmt_conf(c: float) -> str:
    # floor, so that a value shown as "< threshold" never prints above it
    return f"{math.floor(c * 1000 + 1e-9) / 1000:.3f}"


class Router:
    """Picks a workflow and a model tier for each request: rules first, then a classifier.

    Args:
        embedder: embeds texts for the classifier (default: ``covekit.HashingEmbedder()``).
        workflows: the workflows the router knows (:class:`Workflow` or names). When
            given, labels and rules must name one of them; when None, every label, rule
            workflow and the fallback becomes a workflow of tier ``"standard"``.
        rules: :class:`RouteRule` list, tried in order before the classifier.
        threshold: the classifier routes only at or above this confidence (a
            probability); below, the request goes to ``fallback``.
        fallback: the workflow for requests the router cannot place (a name or a
            :class:`Workflow`; added to ``workflows`` when not among them).
        temperature: None (the default) fits the softmax temperature on cross-validated
            similarities, so confidences are calibrated; a number fixes it.
        calibration_folds: folds for that fit (fewer when a workflow has fewer examples).
        seed: seeds the folds of the calibration.
        top_k: how many alternatives a :class:`Route` lists.

    >>> router = Router(fallback="human", threshold=0.7)
    >>> _ = router.fit([("refund please", "billing"), ("refund the fee", "billing"),
    ...                 ("app crashed", "tech"), ("the app crashed again", "tech")])
    >>> router.classes, router.route("my app crashed").workflow
    (('billing', 'tech'), 'tech')

    Errors: ``TypeError`` for arguments of the wrong type; :class:`~covekit.errors.InvalidInput`
    (a ``ValueError``) for empty texts, labels that do not line up with texts, unknown
    labels, a single workflow, too few examples; :class:`~covekit.errors.EmbeddingError`
    when the embedder returns NaN, the wrong shape or a changed name;
    :class:`~covekit.errors.IndexFileCorrupt` for a damaged saved router.

    Thread safety: :meth:`route`, :meth:`route_batch`, :meth:`probabilities` and
    :meth:`evaluate` are safe from many threads at once, also while another thread runs
    :meth:`fit`: a fit builds the new classifier state aside and swaps it in with one
    reference assignment, so each call sees the old state or the new one, whole.
    Concurrent fits are serialized by a lock. (Thread safety of ``embed`` is the
    embedder's: :class:`~covekit.HashingEmbedder` releases the GIL and is safe.)
    """

    __slots__ = (
        "_calibration_folds",
        "_declared",
        "_embedder",
        "_fallback",
        "_lock",
        "_rule_names",
        "_rules",
        "_seed",
        "_state",
        "_temperature",
        "_threshold",
        "_top_k",
        "_workflows",
    )

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        workflows: Iterable[Workflow | str] | None = None,
        rules: Iterable[RouteRule] = (),
        threshold: float = 0.5,
        fallback: str | Workflow = "general",
        temperature: float | None = None,
        calibration_folds: int = 5,
        seed: int = 0,
        top_k: int = 3,
    ) -> None:
        if embedder is None:
            embedder = HashingEmbedder()
        elif not isinstance(embedder, Embedder):
            raise TypeError(
                f"embedder must have name, dim and embed(texts) (covekit.Embedder), "
                f"not {type(embedder).__name__}"
            )
        self._embedder: Embedder = embedder
        self._threshold = _check_threshold(threshold)
        if temperature is not None:
            if isinstance(temperature, bool) or not isinstance(temperature, int | float):
                raise TypeError(
                    f"temperature must be a number or None, not {type(temperature).__name__}"
                )
            if not (math.isfinite(temperature) and temperature > 0):
                raise InvalidInput(
                    f"temperature must be a positive number (or None to fit it), got {temperature}"
                )
            temperature = float(temperature)
        self._temperature: float | None = temperature
        self._calibration_folds = _check_int("calibration_folds", calibration_folds, 2)
        self._seed = _check_int("seed", seed, 0)
        self._top_k = _check_int("top_k", top_k, 1)

        known: dict[str, Workflow] = {}
        self._declared = workflows is not None
        if workflows is not None:
            if isinstance(workflows, str | Workflow):
                raise TypeError("workflows must be a list of Workflow or names, not one")
            for w in workflows:
                wf = _as_workflow(w, "each workflow")
                if wf.name in known:
                    raise InvalidInput(
                        f"workflow {wf.name!r} is declared twice: declare each workflow once"
                    )
                known[wf.name] = wf
            if not known:
                raise InvalidInput(
                    "workflows is empty: declare the workflows (or pass None to take them "
                    "from the labels)"
                )
        fb = _as_workflow(fallback, "fallback")
        if isinstance(fallback, Workflow) and fb.name in known and known[fb.name] != fb:
            raise InvalidInput(
                f"fallback {fb!r} differs from the declared workflow {known[fb.name]!r}: "
                "pass the fallback by name"
            )
        known.setdefault(fb.name, fb)
        self._fallback = fb.name

        rule_list = list(rules) if not isinstance(rules, RouteRule) else [rules]
        names: list[str] = []
        for i, rule in enumerate(rule_list):
            if not isinstance(rule, RouteRule):
                raise TypeError(
                    f"rules[{i}] is {type(rule).__name__}, not a covekit.RouteRule "
                    "(covekit.Rule is a business rule of output contracts)"
                )
            if rule.workflow not in known:
                if self._declared:
                    raise InvalidInput(
                        f"rules[{i}] routes to {rule.workflow!r}, which is not a declared "
                        f"workflow ({', '.join(sorted(known))}): declare it in workflows=[...]"
                    )
                known[rule.workflow] = Workflow(rule.workflow)
            name = rule.name if rule.name is not None else f"rules[{i}]"
            if name in names:
                raise InvalidInput(
                    f"two rules are named {name!r}: give each rule its own name, so a route "
                    "says which one matched"
                )
            names.append(name)
        self._rules = tuple(rule_list)
        self._rule_names = tuple(names)
        self._workflows: Mapping[str, Workflow] = known
        self._state: _Fitted | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ properties

    @property
    def embedder(self) -> Embedder:
        """The embedder of the classifier.

        >>> Router().embedder.name.startswith("covekit-hashing-384")
        True
        """
        return self._embedder

    @property
    def workflows(self) -> tuple[Workflow, ...]:
        """Every workflow a route can name (declared ones in order; then learnt ones).

        >>> [w.name for w in Router(workflows=["billing", "tech"]).workflows]
        ['billing', 'tech', 'general']
        """
        st = self._state
        return tuple((st.workflows if st is not None else self._workflows).values())

    @property
    def rules(self) -> tuple[RouteRule, ...]:
        """The rules, in the order they are tried.

        >>> Router(rules=[RouteRule("tech", keywords="crash")]).rules[0].keywords
        ('crash',)
        """
        return self._rules

    @property
    def threshold(self) -> float:
        """The lowest confidence at which the classifier routes.

        >>> Router(threshold=0.7).threshold
        0.7
        """
        return self._threshold

    @property
    def fallback(self) -> Workflow:
        """The workflow of requests the router cannot place.

        >>> Router(fallback=Workflow("human", tier="none")).fallback.tier
        'none'
        """
        return self._workflows[self._fallback]

    @property
    def fitted(self) -> bool:
        """Whether :meth:`fit` has given the router a classifier.

        >>> Router().fitted
        False
        """
        return self._state is not None

    @property
    def classes(self) -> tuple[str, ...]:
        """The classifier's workflows (those with examples), sorted; empty before fit.

        >>> Router().classes
        ()
        """
        st = self._state
        return st.classes if st is not None else ()

    @property
    def temperature(self) -> float | None:
        """The softmax temperature in use (fitted or fixed); None before fit.

        >>> Router(temperature=0.05).fit(["refund", "refund now", "crash", "a crash"],
        ...                              ["b", "b", "t", "t"]).temperature
        0.05
        """
        st = self._state
        return st.temperature if st is not None else None

    @property
    def centroids(self) -> _F32 | None:
        """The unit centroid of each class, rows in :attr:`classes` order (read-only).

        >>> Router().centroids is None
        True
        """
        st = self._state
        return st.centroids if st is not None else None

    # ------------------------------------------------------------------- embedding

    def _embed(self, texts: list[str], dim: int | None) -> _F32:
        """Unit rows of the embedder's vectors of ``texts``, checked."""
        emb = self._embedder
        if type(emb) is HashingEmbedder and len(texts) == 1:
            raw: Any = emb.embed(texts, num_threads=1)  # one text: no thread start-up
        else:
            raw = emb.embed(texts)
        try:
            arr = np.asarray(raw)
        except Exception as exc:
            raise EmbeddingError(
                f"embedder {emb.name!r} returned {type(raw).__name__}, not an array: {exc}"
            ) from exc
        if arr.ndim != 2 or arr.shape[0] != len(texts):
            raise EmbeddingError(
                f"embedder {emb.name!r} returned shape {arr.shape} for {len(texts)} texts; "
                "it must return (len(texts), dim)"
            )
        if arr.dtype.kind not in "fiu":
            raise EmbeddingError(
                f"embedder {emb.name!r} returned dtype {arr.dtype}; it must return float32"
            )
        if arr.shape[1] != emb.dim:
            raise EmbeddingError(
                f"embedder {emb.name!r} says dim={emb.dim} but returned vectors of "
                f"{arr.shape[1]} dimensions; fix the embedder's dim"
            )
        if dim is not None and arr.shape[1] != dim:
            raise EmbeddingError(
                f"the router was fitted with {dim}-dimensional vectors, the embedder returns "
                f"{arr.shape[1]}: use the embedder it was fitted with, or fit again"
            )
        x = np.ascontiguousarray(arr, dtype=np.float32)
        if type(emb) is HashingEmbedder:
            return x  # unit rows (or zero rows) from the C++ core: nothing to check
        finite = np.isfinite(x).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            first = int(bad[0])
            raise EmbeddingError(
                f"embedder {emb.name!r} returned NaN or infinite values for {bad.size} of "
                f"{len(texts)} texts (first: text {first}, {texts[first][:60]!r}); "
                "check the embedder"
            )
        return _normalize_rows(x)

    # ------------------------------------------------------------------------- fit

    def _workflow_map(self, labels: Iterable[str]) -> dict[str, Workflow]:
        known = dict(self._workflows)
        unknown = sorted({lab for lab in labels if lab not in known})
        if unknown and self._declared:
            raise InvalidInput(
                f"labels name workflows that were not declared: {', '.join(map(repr, unknown))}; "
                f"declared: {', '.join(known)}. Declare them in workflows=[...] or fix the labels"
            )
        for lab in unknown:
            known[lab] = Workflow(lab)
        return known

    def _fit_vectors(
        self, x: _F32, y: _I64, classes: tuple[str, ...], workflows: Mapping[str, Workflow]
    ) -> _Fitted:
        """The classifier state from unit rows ``x`` (in canonical order) and class ids."""
        k = len(classes)
        counts = np.bincount(y, minlength=k)
        centroids = _centroids(x, y, k)
        zero = [classes[j] for j in range(k) if not centroids[j].any()]
        if zero:
            raise InvalidInput(
                f"every example of {', '.join(map(repr, zero))} embeds to the zero vector "
                "(texts without letters or digits?): give examples with words"
            )
        cal_loss: float | None = None
        folds = 0
        if self._temperature is not None:
            temperature = self._temperature
        else:
            smallest = int(counts.min())
            if smallest < 2:
                j = int(np.argmin(counts))
                raise InvalidInput(
                    f"workflow {classes[j]!r} has {smallest} example; calibrating the "
                    "confidence needs at least 2 per workflow (cross-validation): add "
                    "examples, or pass temperature=... to Router to fix it"
                )
            folds = min(self._calibration_folds, smallest)
            fold = _stratified_folds(y, k, folds, self._seed)
            sims = np.empty((len(y), k), dtype=np.float64)
            for f in range(folds):
                test = fold == f
                c = _centroids(x[~test], y[~test], k)
                sims[test] = _similarities(x[test], c.astype(np.float64))
            temperature = _fit_temperature(sims, y)
            cal_loss = _log_loss(sims, y, temperature)
        centroids.flags.writeable = False
        return _Fitted(
            classes=classes,
            counts=tuple(int(c) for c in counts),
            centroids=centroids,
            centroids64=_readonly64(centroids),
            temperature=temperature,
            dim=x.shape[1],
            embedder_name=str(self._embedder.name),
            workflows=workflows,
            calibration_folds=folds,
            calibration_log_loss=cal_loss,
        )

    def _prepare(
        self, texts: object, labels: object
    ) -> tuple[list[str], list[str], list[int], tuple[str, ...], _I64, dict[str, Workflow]]:
        t, lab = _examples(texts, labels)
        workflows = self._workflow_map(lab)
        classes = tuple(sorted(set(lab)))
        if len(classes) < 2:
            raise InvalidInput(
                f"the examples are all of workflow {classes[0]!r}: a classifier needs examples "
                "of at least 2 workflows (or route with rules alone, without fit)"
            )
        # A canonical order makes the fit depend on the examples, not on their order.
        order = sorted(range(len(t)), key=lambda i: (lab[i], t[i]))
        index = {c: j for j, c in enumerate(classes)}
        y = np.array([index[lab[i]] for i in order], dtype=np.int64)
        return t, lab, order, classes, y, workflows

    def fit(
        self, texts: Iterable[str] | Iterable[tuple[str, str]], labels: Iterable[str] | None = None
    ) -> Self:
        """Fits the classifier on labelled examples; returns ``self``.

        ``fit(texts, labels)`` with two lists, or ``fit(examples)`` with ``(text, label)``
        pairs. Each workflow gets the L2-normalized mean of its examples' unit embeddings
        (its centroid); a request's similarities to the centroids become probabilities
        through a softmax whose temperature minimises the log-loss of cross-validated
        similarities (``calibration_folds`` stratified folds), unless ``temperature`` was
        fixed. The result depends on the examples, not on their order. The texts are
        embedded in one batch. A new fit replaces the old one whole.

        >>> router = Router().fit(["refund please", "refund my fee", "app crash", "crash on start"],
        ...                       ["billing", "billing", "tech", "tech"])
        >>> router.classes, router.fitted
        (('billing', 'tech'), True)
        """
        t, _, order, classes, y, workflows = self._prepare(texts, labels)
        with self._lock:  # one fit at a time; routes do not take the lock
            x = self._embed([t[i] for i in order], None)
            state = self._fit_vectors(x, y, classes, workflows)
            self._state = state  # the swap: one reference assignment
        return self

    # ---------------------------------------------------------------------- route

    def _match_rules(self, text: str, metadata: Mapping[str, Any]) -> Route | None:
        if not self._rules:
            return None
        norm = _nfc(text)
        for rule, name in zip(self._rules, self._rule_names, strict=True):
            got = rule._match(norm, metadata)
            if got is not None:
                kind, hit = got
                wf = self._workflows[rule.workflow]
                what = hit if kind == "metadata" else repr(hit)
                return Route(
                    workflow=rule.workflow,
                    tier=rule.tier if rule.tier is not None else wf.tier,
                    confidence=1.0,
                    method="rule",
                    reason=f"rule {name!r} matched {kind} {what}",
                    rule=name,
                    matched=hit,
                )
        return None

    def _fallback_route(
        self, reason: str, confidence: float = 0.0, alts: tuple[tuple[str, float], ...] = ()
    ) -> Route:
        wf = self._workflows[self._fallback]
        return Route(self._fallback, wf.tier, confidence, "fallback", reason, alternatives=alts)

    def _classify(self, x: _F32, st: _Fitted) -> list[Route]:
        sims = _similarities(x, st.centroids64)
        probs = _softmax(sims, st.temperature)
        k = self._top_k
        classes = st.classes
        out: list[Route] = []
        for srow, p in zip(sims.tolist(), probs.tolist(), strict=True):
            # best first; ties in class order (sorted is stable)
            top = sorted(range(len(p)), key=p.__getitem__, reverse=True)[:k]
            alts = tuple((classes[j], p[j]) for j in top)
            conf = alts[0][1]
            if not any(srow):
                out.append(
                    self._fallback_route(
                        "the text shares no feature with the examples (similarity 0 to every "
                        "workflow): fallback",
                        conf,
                        alts,
                    )
                )
            elif conf >= self._threshold:
                name = alts[0][0]
                out.append(
                    Route(
                        name,
                        st.workflows[name].tier,
                        conf,
                        "classifier",
                        f"confidence {_fmt_conf(conf)} >= threshold {self._threshold:g}",
                        alternatives=alts,
                    )
                )
            else:
                out.append(
                    self._fallback_route(
                        f"confidence {_fmt_conf(conf)} < threshold {self._threshold:g}: fallback",
                        conf,
                        alts,
                    )
                )
        return out

    @staticmethod
    def _probabilities(x: _F32, st: _Fitted) -> _F64:
        return _softmax(_similarities(x, st.centroids64), st.temperature)

    def _state_for_embedding(self) -> _Fitted | None:
        st = self._state
        if st is not None and str(self._embedder.name) != st.embedder_name:
            raise EmbeddingError(
                f"the embedder is now {self._embedder.name!r} but the router was fitted with "
                f"{st.embedder_name!r} (refitting an embedder changes its name): fit the "
                "router again"
            )
        return st

    def route(self, text: str, *, metadata: Mapping[str, Any] | None = None) -> Route:
        """The :class:`Route` of one request: the first matching rule, else the classifier.

        Before :meth:`fit`, a request that no rule matches goes to the fallback.

        >>> router = Router(rules=[RouteRule("sales", metadata={"channel": "web-pricing"})])
        >>> router.route("hello", metadata={"channel": "web-pricing"}).workflow
        'sales'
        >>> router.route("hello").reason
        'no rule matched and the router is not fitted: fallback'
        """
        text = _check_text(text)
        md = _check_metadata(metadata)
        ruled = self._match_rules(text, md)
        if ruled is not None:
            return ruled
        st = self._state_for_embedding()
        if st is None:
            return self._fallback_route("no rule matched and the router is not fitted: fallback")
        return self._classify(self._embed([text], st.dim), st)[0]

    def route_batch(
        self,
        texts: Iterable[str],
        *,
        metadata: Mapping[str, Any] | Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[Route]:
        """:meth:`route` of each text, with the texts no rule matches embedded in one batch.

        ``metadata`` is None, one mapping for every text, or a list with one per text.

        >>> router = Router().fit(["refund please", "refund my fee", "app crash", "a crash"],
        ...                       ["billing", "billing", "tech", "tech"])
        >>> [r.workflow for r in router.route_batch(["refund it", "crash"])]
        ['billing', 'tech']
        """
        t = _check_texts(texts)
        mds = _metadata_list(metadata, len(t))
        out: list[Route | None] = [self._match_rules(s, m) for s, m in zip(t, mds, strict=True)]
        rest = [i for i, r in enumerate(out) if r is None]
        if rest:
            st = self._state_for_embedding()
            if st is None:
                fb = self._fallback_route("no rule matched and the router is not fitted: fallback")
                for i in rest:
                    out[i] = fb
            else:
                routes = self._classify(self._embed([t[i] for i in rest], st.dim), st)
                for i, r in zip(rest, routes, strict=True):
                    out[i] = r
        return [r for r in out if r is not None]

    def probabilities(self, texts: Iterable[str]) -> _F64:
        """The classifier's probabilities, ``(len(texts), len(classes))``, rows summing to 1.

        Rules are not applied. A text without features gets equal probabilities.

        >>> router = Router().fit(["refund please", "refund my fee", "app crash", "a crash"],
        ...                       ["billing", "billing", "tech", "tech"])
        >>> p = router.probabilities(["refund"])
        >>> p.shape, bool(p[0, 0] > p[0, 1]), round(float(p.sum()), 6)
        ((1, 2), True, 1.0)
        """
        t = _check_texts(texts)
        st = self._state_for_embedding()
        if st is None:
            raise InvalidInput("the router is not fitted: call fit(texts, labels) first")
        if not t:
            return np.zeros((0, len(st.classes)), dtype=np.float64)
        return self._probabilities(self._embed(t, st.dim), st)

    # ------------------------------------------------------------------- evaluate

    def evaluate(
        self,
        texts: Iterable[str] | Iterable[tuple[str, str]],
        labels: Iterable[str] | None = None,
        *,
        folds: int = 5,
        seed: int = 0,
        bins: int = 10,
        metadata: Mapping[str, Any] | Sequence[Mapping[str, Any] | None] | None = None,
        use_rules: bool = True,
    ) -> RouterReport:
        """Stratified k-fold cross-validation of this router's settings on labelled examples.

        Each fold is routed by a classifier fitted (and calibrated) on the other folds,
        after the rules when ``use_rules`` (with ``metadata`` as in :meth:`route_batch`).
        The router itself is not changed. Deterministic: the same examples (in any order)
        and ``seed`` give the same report. Every workflow needs at least ``folds``
        examples, and enough left in each training part to calibrate (2).

        >>> import covekit
        >>> texts = ["refund my order", "money back please", "refund the charge",
        ...          "app crashes", "login error", "the app shows an error"]
        >>> labels = ["billing"] * 3 + ["tech"] * 3
        >>> report = covekit.Router().evaluate(texts, labels, folds=3)
        >>> round(report.accuracy, 3), report.confusion
        (0.833, ((2, 1), (0, 3)))
        """
        folds = _check_int("folds", folds, 2)
        seed = _check_int("seed", seed, 0)
        bins = _check_int("bins", bins, 1)
        t, lab, order, classes, y, _ = self._prepare(texts, labels)
        n, k = len(t), len(classes)
        counts = np.bincount(y, minlength=k)
        calibrated = self._temperature is None

        def workable(f: int) -> bool:
            return all(
                int(c) >= f and (not calibrated or int(c) - math.ceil(int(c) / f) >= 2)
                for c in counts
            )

        if not workable(folds):
            options = [f for f in range(2, int(counts.min()) + 1) if workable(f)]
            instead = (
                f"add examples, or pass folds={options[-1]}"
                if options
                else "add examples (at least 3 per workflow)"
                + (", or fix Router(temperature=...)" if calibrated else "")
            )
            for j in range(k):
                c = int(counts[j])
                if c < folds:
                    raise InvalidInput(
                        f"workflow {classes[j]!r} has {c} example{'s' if c != 1 else ''}, "
                        f"fewer than folds={folds}: {instead}"
                    )
            for j in range(k):
                c = int(counts[j])
                kept = c - math.ceil(c / folds)
                if kept < 2:
                    raise InvalidInput(
                        f"workflow {classes[j]!r} has {c} examples: with folds={folds} a "
                        f"training part keeps only {kept}, and calibrating the confidence "
                        f"needs 2; {instead}"
                    )
        mds = _metadata_list(metadata, n)
        x = self._embed([t[i] for i in order], None)
        fold = _stratified_folds(y, k, folds, seed)
        probs = np.empty((n, k), dtype=np.float64)
        temps: list[float] = []
        zero_wf: dict[str, Workflow] = {}
        for f in range(folds):
            test = fold == f
            st = self._fit_vectors(x[~test], y[~test], classes, zero_wf)
            temps.append(st.temperature)
            probs[test] = self._probabilities(x[test], st)
        # Everything is computed in the canonical order (so the report does not depend on
        # the order of the examples, to the last bit); per-example fields go back to the
        # order given at the end.
        t_c = [t[i] for i in order]
        lab_c = [lab[i] for i in order]
        md_c = [mds[i] for i in order]
        top = np.argmax(probs, axis=1)
        conf = probs[np.arange(n), top]
        clf_pred = [classes[j] for j in top]
        predicted: list[str] = []
        methods: list[Method] = []
        for i in range(n):
            ruled = self._match_rules(t_c[i], md_c[i]) if use_rules else None
            if ruled is not None:
                predicted.append(ruled.workflow)
                methods.append("rule")
            else:
                predicted.append(clf_pred[i])
                methods.append("classifier" if conf[i] >= self._threshold else "fallback")
        names = sorted(set(classes) | set(predicted))
        idx = {w: j for j, w in enumerate(names)}
        m = len(names)
        confusion = np.zeros((m, m), dtype=np.int64)
        for truth, pred in zip(lab_c, predicted, strict=True):
            confusion[idx[truth], idx[pred]] += 1
        tp = np.diag(confusion).astype(np.float64)
        col = confusion.sum(axis=0).astype(np.float64)
        row = confusion.sum(axis=1).astype(np.float64)
        precision = np.divide(tp, col, out=np.zeros(m), where=col > 0)
        recall = np.divide(tp, row, out=np.zeros(m), where=row > 0)
        denom = precision + recall
        f1 = np.divide(2 * precision * recall, denom, out=np.zeros(m), where=denom > 0)
        correct = np.array([p == w for p, w in zip(predicted, lab_c, strict=True)])
        clf_correct = top == y
        covered = np.array([mt != "fallback" for mt in methods])
        ruled_mask = np.array([mt == "rule" for mt in methods])
        n_cov = int(covered.sum())
        n_rule = int(ruled_mask.sum())
        b = np.minimum((conf * bins).astype(np.int64), bins - 1)
        ece = 0.0
        for j in range(bins):
            sel = b == j
            if sel.any():
                ece += abs(float(clf_correct[sel].sum()) - float(conf[sel].sum())) / n
        nll = -np.log(np.maximum(probs[np.arange(n), y], np.finfo(np.float64).tiny))
        inv = np.empty(n, dtype=np.int64)
        inv[np.array(order, dtype=np.int64)] = np.arange(n)
        back = inv.tolist()
        return RouterReport(
            workflows=tuple(names),
            examples=n,
            folds=folds,
            seed=seed,
            threshold=self._threshold,
            bins=bins,
            accuracy=float(correct.mean()),
            classifier_accuracy=float(clf_correct.mean()),
            coverage=n_cov / n,
            covered_accuracy=float(correct[covered].mean()) if n_cov else None,
            ece=ece,
            log_loss=float(nll.mean()),
            rule_routed=n_rule,
            rule_accuracy=float(correct[ruled_mask].mean()) if n_rule else None,
            precision=tuple(float(v) for v in precision),
            recall=tuple(float(v) for v in recall),
            f1=tuple(float(v) for v in f1),
            support=tuple(int(v) for v in row),
            confusion=tuple(tuple(int(v) for v in r) for r in confusion),
            temperatures=tuple(temps),
            labels=tuple(lab),
            predicted=tuple(predicted[j] for j in back),
            methods=tuple(methods[j] for j in back),
            classifier_predicted=tuple(clf_pred[j] for j in back),
            confidences=tuple(float(conf[j]) for j in back),
            fold_of=tuple(int(fold[j]) for j in back),
        )

    # ---------------------------------------------------------------- persistence

    def to_bytes(self) -> bytes:
        """The router (settings, rules, classifier, and a HashingEmbedder's state) as bytes.

        The layout: magic ``CKROUTER``, format version, a JSON header, the centroids
        (float32, little-endian) and the embedder state, then an XXH3-64 of all of it.
        Other embedders are recorded by name, dim and fingerprint, and must be passed to
        :meth:`from_bytes`.

        >>> data = Router(threshold=0.7).to_bytes()
        >>> data[:8], Router.from_bytes(data).threshold
        (b'CKROUTER', 0.7)
        """
        emb = self._embedder
        st = self._state
        blobs: list[bytes] = []
        offset = 0

        def blob(data: bytes) -> dict[str, int]:
            nonlocal offset
            blobs.append(data)
            entry = {"offset": offset, "bytes": len(data)}
            offset += len(data)
            return entry

        state_blob = blob(emb.to_bytes()) if isinstance(emb, HashingEmbedder) else None
        fingerprint = getattr(emb, "fingerprint", None)
        header: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "options": {
                "threshold": self._threshold,
                "fallback": self._fallback,
                "temperature": self._temperature,
                "calibration_folds": self._calibration_folds,
                "seed": self._seed,
                "top_k": self._top_k,
                "declared": self._declared,
            },
            "workflows": [w.to_dict() for w in self._workflows.values()],
            "rules": [r.to_dict() for r in self._rules],
            "embedder": {
                "name": str(emb.name),
                "dim": int(emb.dim),
                "fingerprint": int(fingerprint) if isinstance(fingerprint, int) else None,
                "type": f"{type(emb).__module__}.{type(emb).__qualname__}",
                "state": state_blob,
            },
            "fitted": None,
        }
        if st is not None:
            c = np.ascontiguousarray(st.centroids, dtype="<f4")
            header["fitted"] = {
                "classes": list(st.classes),
                "counts": list(st.counts),
                "temperature": st.temperature,
                "dim": st.dim,
                "embedder_name": st.embedder_name,
                "workflows": [w.to_dict() for w in st.workflows.values()],
                "calibration_folds": st.calibration_folds,
                "calibration_log_loss": st.calibration_log_loss,
                "centroids": blob(c.tobytes()),
            }
        head = json.dumps(header, ensure_ascii=False, sort_keys=True).encode("utf-8")
        body = _HEAD.pack(_MAGIC, FORMAT_VERSION, len(head)) + head + b"".join(blobs)
        return body + _TAIL.pack(ckhash.xxh3_64(body))

    @classmethod
    def from_bytes(
        cls, data: bytes, *, embedder: Embedder | None = None, source: str = "router bytes"
    ) -> Router:
        """A router from :meth:`to_bytes` output.

        Without ``embedder``, a saved :class:`~covekit.HashingEmbedder` is restored; any
        other embedder must be passed, with the name and dim it was saved with.
        Damaged, truncated or foreign bytes raise :class:`~covekit.errors.IndexFileCorrupt`.

        >>> try:
        ...     Router.from_bytes(b"CKROUTER but cut short")
        ... except IndexFileCorrupt as exc:
        ...     print(exc)
        router bytes: truncated (22 bytes; a router has at least 28)
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        data = bytes(data)
        minimum = _HEAD.size + _TAIL.size
        if data[:8] != _MAGIC:
            raise IndexFileCorrupt(f"{source}: not a covekit router (bad magic bytes)")
        if len(data) < minimum:
            raise IndexFileCorrupt(
                f"{source}: truncated ({len(data)} bytes; a router has at least {minimum})"
            )
        _, version, head_len = _HEAD.unpack_from(data)
        if version != FORMAT_VERSION:
            raise IndexFileCorrupt(
                f"{source}: router format version {version}; this covekit reads version "
                f"{FORMAT_VERSION}"
            )
        body, (digest,) = data[: -_TAIL.size], _TAIL.unpack(data[-_TAIL.size :])
        if ckhash.xxh3_64(body) != digest:
            raise IndexFileCorrupt(
                f"{source}: checksum mismatch (the file is corrupt or truncated); save the "
                "router again"
            )
        try:
            head_end = _HEAD.size + head_len
            header = json.loads(body[_HEAD.size : head_end].decode("utf-8"))
            if header["format"] != FORMAT or header["format_version"] != FORMAT_VERSION:
                raise ValueError(f"format {header['format']!r} {header['format_version']!r}")
            blobs = body[head_end:]

            def blob(entry: Mapping[str, int]) -> bytes:
                start, size = int(entry["offset"]), int(entry["bytes"])
                if start < 0 or start + size > len(blobs):
                    raise ValueError("a section lies outside the file")
                return blobs[start : start + size]

            saved = header["embedder"]
            opts = header["options"]
            rules = [RouteRule.from_dict(r) for r in header["rules"]]
            workflows = [Workflow(**w) for w in header["workflows"]]
            fitted = header["fitted"]
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise IndexFileCorrupt(f"{source}: not a valid router: {exc}") from None
        if embedder is None:
            if saved["state"] is None:
                raise InvalidInput(
                    f"{source} was saved with embedder {saved['name']!r} (dim {saved['dim']}), "
                    "which covekit cannot restore: pass embedder=... to load it"
                )
            embedder = HashingEmbedder.from_bytes(blob(saved["state"]))
        elif not isinstance(embedder, Embedder):
            raise TypeError(f"embedder must be a covekit.Embedder, not {type(embedder).__name__}")
        fp = getattr(embedder, "fingerprint", None)
        if (
            str(embedder.name) != saved["name"]
            or int(embedder.dim) != saved["dim"]
            or (
                saved["fingerprint"] is not None
                and isinstance(fp, int)
                and fp != saved["fingerprint"]
            )
        ):
            raise InvalidInput(
                f"the embedder passed ({embedder.name!r}, dim {embedder.dim}) is not the one "
                f"{source} was saved with ({saved['name']!r}, dim {saved['dim']}): pass that "
                "embedder, or fit a new router"
            )
        fallback = next((w for w in workflows if w.name == opts["fallback"]), opts["fallback"])
        try:
            router = cls(
                embedder,
                workflows=workflows if opts["declared"] else None,
                rules=rules,
                threshold=opts["threshold"],
                fallback=fallback,
                temperature=opts["temperature"],
                calibration_folds=opts["calibration_folds"],
                seed=opts["seed"],
                top_k=opts["top_k"],
            )
            if fitted is not None:
                classes = tuple(fitted["classes"])
                dim = int(fitted["dim"])
                raw = blob(fitted["centroids"])
                if len(raw) != 4 * len(classes) * dim:
                    raise ValueError(
                        f"the centroids hold {len(raw)} bytes, not {len(classes)} x {dim} float32"
                    )
                centroids = np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(-1, dim)
                if not np.isfinite(centroids).all():
                    raise ValueError("the centroids hold NaN or infinite values")
                if dim != int(embedder.dim) or fitted["embedder_name"] != str(embedder.name):
                    raise ValueError("the classifier was fitted with another embedder")
                centroids.flags.writeable = False
                wfs = {w["name"]: Workflow(**w) for w in fitted["workflows"]}
                if not all(c in wfs for c in classes) or router._fallback not in wfs:
                    raise ValueError("the classifier names workflows the router does not know")
                router._state = _Fitted(
                    classes=classes,
                    counts=tuple(int(c) for c in fitted["counts"]),
                    centroids=centroids,
                    centroids64=_readonly64(centroids),
                    temperature=float(fitted["temperature"]),
                    dim=dim,
                    embedder_name=fitted["embedder_name"],
                    workflows=wfs,
                    calibration_folds=int(fitted["calibration_folds"]),
                    calibration_log_loss=fitted["calibration_log_loss"],
                )
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise IndexFileCorrupt(f"{source}: not a valid router: {exc}") from None
        return router

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes :meth:`to_bytes` to ``path`` atomically (temp file, fsync, rename).

        >>> import tempfile, os
        >>> with tempfile.TemporaryDirectory() as d:
        ...     Router(threshold=0.8).save(os.path.join(d, "router.bin"))
        ...     Router.load(os.path.join(d, "router.bin")).threshold
        0.8
        """
        atomic_write(Path(path), self.to_bytes())

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, embedder: Embedder | None = None) -> Router:
        """Reads a router written by :meth:`save` (see :meth:`from_bytes` for ``embedder``).

        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = pathlib.Path(d) / "router.bin"
        ...     Router().save(p)
        ...     _ = p.write_bytes(p.read_bytes()[:-1])  # cut the last byte
        ...     try:
        ...         Router.load(p)
        ...     except IndexFileCorrupt as exc:
        ...         print("checksum mismatch" in str(exc))
        True
        """
        p = Path(path)
        return cls.from_bytes(p.read_bytes(), embedder=embedder, source=str(p))

    def __reduce__(self) -> tuple[Any, ...]:
        emb = None if isinstance(self._embedder, HashingEmbedder) else self._embedder
        return (_restore, (self.to_bytes(), emb))

    def __repr__(self) -> str:
        st = self._state
        fit = f" classes={len(st.classes)} temperature={st.temperature:.4g}" if st else ""
        return (
            f"<covekit.Router workflows={len(self.workflows)} rules={len(self._rules)} "
            f"threshold={self._threshold:g} fallback={self._fallback!r}{fit}>"
        )


def _restore(data: bytes, embedder: Embedder | None) -> Router:
    return Router.from_bytes(data, embedder=embedder, source="pickled router")
