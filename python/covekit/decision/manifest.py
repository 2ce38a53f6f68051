"""What a :class:`~covekit.ContextBuilder` decided, as plain data: every candidate with
its signals and why it is in or out, the tokens of each section, the steps and their
timings, and the citations of the rendered evidence.

A :class:`ContextManifest` holds no prompt text (only ids, offsets, numbers and
reasons), so traces and eval reports can carry it without carrying content.
``to_dict()`` gives JSON-ready data and ``from_dict`` reads it back.

>>> from covekit.decision.manifest import CandidateRecord
>>> r = CandidateRecord(chunk_id=7, doc_id="refunds.md", doc_version="v1", rank=1, score=0.9,
...                     tokens=120, kept=False, reason="near_duplicate_of", near_duplicate_of=3)
>>> r.to_dict()["reason"], r.near_duplicate_of
('near_duplicate_of', 3)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

__all__ = [
    "REASONS",
    "CandidateRecord",
    "Citation",
    "ContextManifest",
    "SectionRecord",
    "StepRecord",
]

Reason = Literal[
    "over_budget",
    "near_duplicate_of",
    "stale",
    "superseded_by",
    "below_threshold",
    "per_document_cap",
    "flagged",
    "section_full",
    "skipped",
]

#: Why a candidate can be left out, and what each reason means.
REASONS: dict[str, str] = {
    "over_budget": "it did not fit the token budget beside better candidates",
    "near_duplicate_of": "it nearly duplicates a better-ranked kept chunk (near_duplicate_of)",
    "stale": "its document is past valid_until, or older than its source's TTL",
    "superseded_by": "a newer document supersedes its document (superseded_by)",
    "below_threshold": "its score is under min_score, or the reranker left it out",
    "per_document_cap": "its document already has per_document_cap chunks in the context",
    "flagged": "the policy hook flagged it, or a Policy quarantined it (detail, findings: why)",
    "section_full": "the evidence section reached its max_tokens",
    "skipped": "the step that would have considered it was skipped (deadline)",
}


@dataclass(frozen=True, slots=True)
class Citation:
    """What a citation marker ``[n]`` in the evidence points at: the chunk, its
    document and version, and the ``str`` offsets of the text shown (``truncated``: a
    prefix of the chunk was shown, and ``end`` says where it stops).

    >>> Citation(1, 42, "refunds.md", "v1", 0, 120).marker
    1
    """

    marker: int
    chunk_id: int
    doc_id: str
    doc_version: str
    start: int
    end: int
    heading_path: tuple[str, ...] = ()
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["heading_path"] = list(self.heading_path)
        return d


@dataclass(frozen=True, slots=True)
class CandidateRecord:
    """One retrieved candidate: its retrieval signals, the reranker's score, the
    utility and tokens the packer saw, and whether it was kept (with its citation
    ``marker``) or dropped, with the ``reason`` (one of :data:`REASONS`) and its
    ``detail``. ``flags`` lists what is true of a kept chunk that a policy let through
    (``"stale"``, ``"superseded"``, ``"flagged"``). ``findings`` holds what a
    :class:`covekit.Policy` found in the chunk (each a ``PolicyFinding.to_dict()``:
    rule, family, span into the chunk's text, score, action), for a dropped
    (``reason="flagged"``) or a flagged kept chunk."""

    chunk_id: int
    doc_id: str
    doc_version: str
    rank: int
    score: float
    tokens: int
    kept: bool
    reason: str | None = None
    detail: str | None = None
    signals: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    rerank_score: float | None = None
    utility: float | None = None
    kept_tokens: int = 0
    marker: int | None = None
    near_duplicate_of: int | None = None
    superseded_by: str | None = None
    flags: tuple[str, ...] = ()
    start: int = 0
    end: int = 0
    findings: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["flags"] = list(self.flags)
        d["findings"] = [dict(f) for f in self.findings]
        return d


@dataclass(frozen=True, slots=True)
class SectionRecord:
    """A section of the context: its limits and what it got, counted exactly (message
    framing included)."""

    name: str
    priority: int
    tokens: int
    items: int
    min_tokens: int = 0
    max_tokens: int | None = None
    required: bool = False
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step of the build: how long it took, or why it was skipped."""

    name: str
    seconds: float
    skipped: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ContextManifest:
    """Everything a :class:`~covekit.ContextBuilder` decided for one request.

    ``total_tokens`` is the prompt exactly as the model is billed for it (every
    message's framing and the reply priming included); it is never above
    ``budget_tokens``. ``conflicts`` lists the values the kept sources disagree on
    (see :func:`covekit.find_conflicts`).

    >>> import covekit
    >>> kb = covekit.KnowledgeBase(covekit.Chunker("o200k_base", max_tokens=32))
    >>> _ = kb.add(covekit.Document("Refunds take 5 days.", "refunds.md", acl=["u:1"]))
    >>> m = covekit.ContextBuilder(kb, model="gpt-4o").build(
    ...     "refunds?", principals=["u:1"], budget=100).manifest
    >>> m.summary()["kept"], m.section("query").tokens, ContextManifest.from_dict(m.to_dict()) == m
    (1, 7, True)
    """

    candidates: tuple[CandidateRecord, ...]
    sections: tuple[SectionRecord, ...]
    total_tokens: int
    budget_tokens: int
    model: str | None
    encoding: str
    index_version: str | None
    steps: tuple[StepRecord, ...] = ()
    conflicts: tuple[dict[str, Any], ...] = ()
    citations: tuple[Citation, ...] = ()
    packer: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] | None = None

    @property
    def kept(self) -> tuple[CandidateRecord, ...]:
        """The kept candidates, in citation order."""
        return tuple(sorted((c for c in self.candidates if c.kept), key=lambda c: c.marker or 0))

    @property
    def dropped(self) -> tuple[CandidateRecord, ...]:
        return tuple(c for c in self.candidates if not c.kept)

    def reasons(self) -> dict[str, int]:
        """How many candidates were dropped for each reason."""
        out: dict[str, int] = {}
        for c in self.candidates:
            if not c.kept and c.reason:
                out[c.reason] = out.get(c.reason, 0) + 1
        return out

    def section(self, name: str) -> SectionRecord:
        for s in self.sections:
            if s.name == name:
                return s
        raise KeyError(name)

    def summary(self) -> dict[str, Any]:
        """A small digest for a trace attribute: counts, tokens, reasons."""
        return {
            "candidates": len(self.candidates),
            "kept": sum(1 for c in self.candidates if c.kept),
            "dropped": self.reasons(),
            "total_tokens": self.total_tokens,
            "budget_tokens": self.budget_tokens,
            "sections": {s.name: s.tokens for s in self.sections},
            "conflicts": len(self.conflicts),
            "index_version": self.index_version,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidates": [c.to_dict() for c in self.candidates],
            "sections": [s.to_dict() for s in self.sections],
            "total_tokens": self.total_tokens,
            "budget_tokens": self.budget_tokens,
            "model": self.model,
            "encoding": self.encoding,
            "index_version": self.index_version,
            "steps": [s.to_dict() for s in self.steps],
            "conflicts": list(self.conflicts),
            "citations": [c.to_dict() for c in self.citations],
            "packer": dict(self.packer),
            "plan": self.plan,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ContextManifest:
        """Reads back what :meth:`to_dict` wrote."""

        def build(kind: Any, row: dict[str, Any]) -> Any:
            names = {f.name for f in fields(kind)}
            args = {k: v for k, v in row.items() if k in names}
            for key in ("flags", "heading_path", "findings"):
                if key in args and isinstance(args[key], list):
                    args[key] = tuple(args[key])
            return kind(**args)

        return cls(
            candidates=tuple(build(CandidateRecord, c) for c in d["candidates"]),
            sections=tuple(build(SectionRecord, s) for s in d["sections"]),
            total_tokens=int(d["total_tokens"]),
            budget_tokens=int(d["budget_tokens"]),
            model=d.get("model"),
            encoding=str(d["encoding"]),
            index_version=d.get("index_version"),
            steps=tuple(build(StepRecord, s) for s in d.get("steps", ())),
            conflicts=tuple(d.get("conflicts", ())),
            citations=tuple(build(Citation, c) for c in d.get("citations", ())),
            packer=dict(d.get("packer", {})),
            plan=d.get("plan"),
        )
