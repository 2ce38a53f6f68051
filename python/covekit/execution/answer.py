"""What :meth:`covekit.Pipeline.answer` returns: the answer, what it is based on, and how
sure it is.

An :class:`Answer` carries the ``text`` (and the parsed ``value`` when the contract has
a schema), its :class:`AnswerCitation` list (document, chunk, version, offsets and the
quoted span of each source it cites), whether it was ``refused`` or ``escalated`` and
why, the ``grounding`` of each sentence against the cited chunks, a calibrated
``confidence`` in [0, 1] with its ``reasons`` in words, the ``trace`` of the request's
steps (OpenTelemetry GenAI attribute names) and the context ``manifest``. ``to_dict()``
is JSON-ready; in a notebook the answer renders itself (``_repr_html_``) with its
citations and the confidence as a bar from red through amber to green.

>>> a = Answer("Refunds take 5 days [1].", citations=(AnswerCitation(
...     1, "refunds.md", 7, "v1", 0, 20, "Refunds take 5 days."),), confidence=0.82,
...     reasons=("one source only",))
>>> a.outcome, a.citations[0].doc_id, a.to_dict()["confidence"]
('answered', 'refunds.md', 0.82)
>>> "Refunds take 5 days" in a._repr_html_()
True

Thread safety: immutable data.
"""

from __future__ import annotations

import dataclasses
import html
import itertools
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Answer", "AnswerCitation"]


@dataclass(frozen=True, slots=True)
class AnswerCitation:
    """One source an answer cites: the context's ``marker`` (``[n]``), the document,
    chunk and document version, the ``str`` offsets into the document of the ``quote``
    (the span of the chunk that supports the answer; the chunk's shown text when no
    sentence of it stands out).

    >>> c = AnswerCitation(1, "refunds.md", 42, "v1", 10, 30, "Refunds take 5 days.")
    >>> c.to_dict()["quote"]
    'Refunds take 5 days.'
    """

    marker: int
    doc_id: str
    chunk_id: int
    version: str
    start: int
    end: int
    quote: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _plain(value: Any) -> Any:
    """A JSON-ready copy of ``value``: objects with ``to_dict`` use it, dataclasses become
    dicts, tuples lists; anything else that JSON cannot hold becomes its ``repr``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return _plain(to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _plain(value.tolist())
    model_dump = getattr(value, "model_dump", None)  # pydantic
    if callable(model_dump):
        return _plain(model_dump(mode="json"))
    return repr(value)


@dataclass(frozen=True, slots=True)
class Answer:
    """The outcome of one request (module docs).

    ``refused`` (no evidence, a policy block, a deadline, not enough support) and
    ``escalated`` (the contract escalated, or ran out of steps) are outcomes, with the
    ``reason`` in words; ``text`` is then empty or the model's declining message.
    ``grounding`` is the :func:`covekit.ground` result of the text against the cited
    chunks (None when nothing was grounded); ``signals`` the
    :class:`~covekit.ConfidenceSignals` the ``confidence`` came from; ``trace`` the
    :class:`~covekit.observe.trace.Trace`; ``manifest`` the
    :class:`~covekit.ContextManifest` (None when no context was built); ``route`` the
    router's :class:`~covekit.Route`.

    >>> Answer("", refused=True, reason="no evidence the caller may see").outcome
    'refused'
    """

    text: str
    value: Any = None
    citations: tuple[AnswerCitation, ...] = ()
    refused: bool = False
    escalated: bool = False
    reason: str = ""
    grounding: Any = None
    confidence: float = 0.0
    reasons: tuple[str, ...] = ()
    signals: Any = None
    trace: Any = None
    manifest: Any = None
    route: Any = None

    @property
    def outcome(self) -> str:
        """``"answered"``, ``"refused"`` or ``"escalated"``."""
        if self.escalated:
            return "escalated"
        return "refused" if self.refused else "answered"

    @property
    def doc_ids(self) -> list[str]:
        """The cited documents, each once, in citation order."""
        return list(dict.fromkeys(c.doc_id for c in self.citations))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (``json.dumps(answer.to_dict())`` works)."""
        return {
            "text": self.text,
            "value": _plain(self.value),
            "outcome": self.outcome,
            "citations": [c.to_dict() for c in self.citations],
            "refused": self.refused,
            "escalated": self.escalated,
            "reason": self.reason,
            "grounding": _plain(self.grounding),
            "confidence": float(self.confidence),
            "reasons": list(self.reasons),
            "signals": _plain(self.signals),
            "trace": _plain(self.trace),
            "manifest": _plain(self.manifest),
            "route": _plain(self.route),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    def __str__(self) -> str:
        return self.text if self.outcome == "answered" else f"[{self.outcome}: {self.reason}]"

    # ------------------------------------------------------------------ notebook view
    def _repr_html_(self) -> str:
        e = html.escape
        c = min(1.0, max(0.0, float(self.confidence)))
        pct = round(c * 100)
        colour = _bar_colour(c)
        head = ""
        if self.outcome != "answered":
            head = (
                f'<div style="display:inline-block;padding:2px 8px;border-radius:4px;'
                f'background:#fde2e1;color:#8a1c14;font-weight:600;margin-bottom:6px">'
                f"{e(self.outcome)}: {e(self.reason)}</div>"
            )
        body = e(self.text) if self.text else "<i>(no answer)</i>"
        if self.value is not None and not self.text:
            body = f"<pre>{e(json.dumps(_plain(self.value), indent=2, ensure_ascii=False))}</pre>"
        cites = "".join(
            f"<li><b>[{x.marker}]</b> <code>{e(x.doc_id)}</code> "
            f'<span style="color:#666">chunk {x.chunk_id}, version {e(x.version[:12])}, '
            f"chars {x.start}-{x.end}</span><br>"
            f'<span style="color:#333">&ldquo;{e(_clip(x.quote, 300))}&rdquo;</span></li>'
            for x in self.citations
        )
        cites_html = (
            f'<div style="margin-top:8px"><b>Sources</b><ol style="margin:4px 0 0 0;'
            f'padding-left:18px;list-style:none">{cites}</ol></div>'
            if cites
            else '<div style="margin-top:8px;color:#666">No sources cited.</div>'
        )
        reasons = "".join(f"<li>{e(r)}</li>" for r in self.reasons)
        reasons_html = (
            f'<ul style="margin:4px 0 0 0;padding-left:18px;color:#555">{reasons}</ul>'
            if reasons
            else ""
        )
        bar = (
            '<div style="margin-top:10px"><b>Confidence</b> '
            f'<span style="color:{colour};font-weight:600">{c:.2f}</span>'
            '<div title="confidence" style="position:relative;height:14px;width:100%;'
            "max-width:420px;border-radius:7px;margin-top:4px;background:linear-gradient("
            '90deg,#d7301f 0%,#f5a623 50%,#2ca25f 100%)">'
            f'<div style="position:absolute;left:{pct}%;right:0;top:0;bottom:0;'
            'background:rgba(240,240,240,0.78);border-radius:0 7px 7px 0"></div>'
            f'<div style="position:absolute;left:calc({pct}% - 2px);top:-3px;width:4px;'
            'height:20px;background:#222;border-radius:2px"></div></div>'
            f"{reasons_html}</div>"
        )
        return (
            '<div class="covekit-answer" style="font-family:system-ui,-apple-system,'
            "sans-serif;font-size:14px;line-height:1.45;max-width:760px;border:1px solid "
            '#ddd;border-radius:8px;padding:12px 14px">'
            f"{head}<div>{body}</div>{cites_html}{bar}</div>"
        )


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _bar_colour(c: float) -> str:
    """The colour of confidence ``c`` on the red-amber-green scale of the bar."""
    stops = [(0.0, (0xD7, 0x30, 0x1F)), (0.5, (0xF5, 0xA6, 0x23)), (1.0, (0x2C, 0xA2, 0x5F))]
    for (x0, a), (x1, b) in itertools.pairwise(stops):
        if c <= x1:
            t = (c - x0) / (x1 - x0)
            rgb = tuple(round(p + (q - p) * t) for p, q in zip(a, b, strict=True))
            return "#{:02x}{:02x}{:02x}".format(*rgb)
    return "#2ca25f"
