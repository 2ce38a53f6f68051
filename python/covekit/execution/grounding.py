"""Grounding checks: is each sentence of an answer supported by the passages it cites?

:func:`ground` splits an answer into sentences (the chunker's sentence units; a
sentence that is only citation markers, like the ``[2]`` of ``"... days. [2]"``, joins
the one before it) and, in C++ (``covekit._core.Grounder``), computes for each:

- its **markers** (``[n]`` and ``[n, m]``), and the markers that point at nothing in the
  context (:attr:`Grounding.dangling_markers`: errors);
- its **support** in [0, 1] by the best passage it cites: with *A* the sentence's
  distinct content terms (the keyword analyzer's terms: lowercased, Porter-stemmed,
  Lucene's English stopwords left out except "no" and "not") and *B* its distinct
  bigrams of consecutive terms, ``unigram = |A found in the passage| / |A|``,
  ``bigram = |B found| / |B|`` and ``support = (unigram + bigram) / 2`` (``unigram``
  when *B* is empty; 1.0 when *A* is empty: nothing to check). A sentence without
  markers is checked against every passage the answer cites (every passage, when the
  answer cites none);
- its **quotes** (``"..."`` and ``“...”``): verbatim when the quoted text (markers
  removed, whitespace runs collapsed) occurs exactly in a passage the sentence cites,
  whitespace collapsed the same way. Nothing else is normalized: not case, not
  punctuation.

A sentence is *supported* when its support reaches ``threshold`` and its quotes are
verbatim; :attr:`Grounding.score` is the mean support weighted by content terms.

>>> import covekit
>>> passages = {1: "Refunds take 5 days. Shipping is free.", 2: "Our office is in Berlin."}
>>> g = covekit.ground('Refunds take 5 days [1]. Shipping costs 9 euros [2]. "free" [7]', passages)
>>> for s in g.sentences:
...     print(repr(s.text), s.markers, round(s.support, 2), s.supported)
'Refunds take 5 days [1].' (1,) 1.0 True
'Shipping costs 9 euros [2].' (2,) 0.0 False
'"free" [7]' (7,) 0.0 False
>>> g.dangling_markers, [(q.text, q.verbatim) for q in g.quotes]
((7,), [('free', False)])

Thread safety: :func:`ground` keeps no state; call it from many threads at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from covekit._core import Grounder as _Grounder
from covekit.errors import InvalidInput

if TYPE_CHECKING:
    from covekit.decision.context import Context

__all__ = ["Grounding", "QuotedSpan", "SentenceSupport", "ground"]

_DEFAULT = _Grounder()


@dataclass(frozen=True, slots=True)
class SentenceSupport:
    """One sentence of an answer and how well its cited passages support it.

    ``text == answer[start:end]`` (markers included); ``markers`` are the citation
    markers in it, in order; ``support`` is in [0, 1] (see :mod:`covekit.execution.grounding`);
    ``source`` is the marker of the passage that supports it best (None when there is
    none), ``source_span`` where the sentence (its markers taken out) occurs verbatim in
    that passage (None when it does not); ``supported``: support reaches the threshold
    and every quote in the sentence is verbatim.

    >>> import covekit
    >>> s = covekit.ground("Refunds take 5 days [1].", {1: "Refunds take 5 days."}).sentences[0]
    >>> s.markers, s.support, s.supported, s.source, s.source_span
    ((1,), 1.0, True, 1, (0, 20))
    """

    text: str
    start: int
    end: int
    markers: tuple[int, ...]
    support: float
    supported: bool
    source: int | None = None
    source_span: tuple[int, int] | None = None
    unigram: float = 0.0
    bigram: float = 0.0
    terms: int = 0


@dataclass(frozen=True, slots=True)
class QuotedSpan:
    """A quoted span of an answer (the text between the quote marks, ``answer[start:end]``)
    and whether it occurs verbatim in a passage its sentence cites (``source``: that
    passage's marker).

    >>> import covekit
    >>> q = covekit.ground('It says "5 days" [1].', {1: "Refunds take 5 days."}).quotes[0]
    >>> q.text, q.verbatim, q.source
    ('5 days', True, 1)
    """

    text: str
    start: int
    end: int
    sentence: int
    verbatim: bool
    source: int | None = None


@dataclass(frozen=True, slots=True)
class Grounding:
    """What :func:`ground` found: every sentence with its support, the ``unsupported``
    ones, the ``dangling_markers`` (cited markers that point at nothing), the ``quotes``
    and the overall ``score`` (the mean support weighted by each sentence's content
    terms; 0.0 when the answer has none).

    >>> import covekit
    >>> g = covekit.ground("Refunds take 5 days [1].", {1: "Refunds take 5 days."})
    >>> g.ok, g.score, g.cited, g.errors
    (True, 1.0, (1,), ())
    """

    sentences: tuple[SentenceSupport, ...]
    unsupported: tuple[SentenceSupport, ...]
    dangling_markers: tuple[int, ...]
    quotes: tuple[QuotedSpan, ...]
    score: float
    threshold: float

    @property
    def cited(self) -> tuple[int, ...]:
        """The markers the answer cites that exist in the context, in order."""
        seen: list[int] = []
        bad = set(self.dangling_markers)
        for s in self.sentences:
            for m in s.markers:
                if m not in bad and m not in seen:
                    seen.append(m)
        return tuple(seen)

    @property
    def errors(self) -> tuple[str, ...]:
        """The grounding errors in words: dangling markers and quotes not found verbatim."""
        out = [f"citation [{m}] points at nothing in the context" for m in self.dangling_markers]
        out += [
            f"quote {q.text!r} is not verbatim in its cited sources"
            for q in self.quotes
            if not q.verbatim
        ]
        return tuple(out)

    @property
    def ok(self) -> bool:
        """Every sentence supported, no dangling marker and at least one checked sentence."""
        return not self.unsupported and not self.errors and any(s.terms for s in self.sentences)


# ------------------------------------------------------------------- evidence parsing
_HEADER = re.compile(r"^\[(\d{1,9})\](?:[ \t]+|$)", re.MULTILINE)
_CONFLICT_NOTE = "\n\nNote: these sources disagree on "


def _content(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, str | bytes):
        parts = [
            p["text"]
            for p in content
            if isinstance(p, Mapping) and p.get("type") == "text" and isinstance(p.get("text"), str)
        ]
        return "\n".join(parts)
    return ""


def _blocks(text: str) -> list[tuple[int, int, int, int]]:
    """The evidence blocks of one message: ``(marker, header_start, body_start, body_end)``.

    A block is a line ``[n] title`` followed by its body (the lines up to the next
    block), as :class:`covekit.ContextBuilder` renders evidence; a block of one line
    ``[n] text`` is its own body. Headers at the start of the text or after a blank line
    are used when there are any, else headers at any line start; markers must increase.
    Consecutive one-line blocks (``"[1] a\\n[2] b"``) are blocks each.
    """
    every = list(_HEADER.finditer(text))
    found = [m for m in every if m.start() == 0 or text.endswith("\n\n", 0, m.start())] or every
    headers: list[re.Match[str]] = []
    for m in found:
        if not headers or int(m.group(1)) > int(headers[-1].group(1)):
            headers.append(m)
    # A list of one-line blocks ("[1] a\n[2] b"): a block whose second line is a header
    # with a larger marker is split at each such line.
    split: list[re.Match[str]] = []
    for i, m in enumerate(headers):
        split.append(m)
        stop = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        line_end = text.find("\n", m.end(), stop)
        inner = [x for x in every if m.start() < x.start() < stop]
        if inner and line_end >= 0 and inner[0].start() == line_end + 1:
            for x in inner:
                if int(x.group(1)) > int(split[-1].group(1)) and text[x.start() - 1] == "\n":
                    split.append(x)
    headers = split
    out = []
    for i, m in enumerate(headers):
        stop = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        if i + 1 == len(headers):
            note = text.find(_CONFLICT_NOTE, m.end(), stop)
            if note >= 0:
                stop = note
        line_end = text.find("\n", m.end(), stop)
        if line_end < 0 or not text[line_end:stop].strip():
            start = m.end()  # one line: the text after the marker is the passage
        else:
            start = line_end + 1
        end = stop
        while end > start and text[end - 1].isspace():
            end -= 1
        out.append((int(m.group(1)), m.start(), start, end))
    return out


def _evidence(messages: Sequence[Mapping[str, Any]], skip: int | None = None) -> dict[int, str]:
    """marker -> passage text of the evidence blocks in ``messages`` (not in assistant
    messages, nor in message ``skip``); a later block of a marker wins."""
    out: dict[int, str] = {}
    for i, message in enumerate(messages):
        if i == skip or message.get("role") == "assistant":
            continue
        text = _content(message)
        for marker, _, start, end in _blocks(text):
            out[marker] = text[start:end]
    return out


def _passages(context_or_passages: Any) -> dict[int, str]:
    from covekit.decision.context import Context

    if isinstance(context_or_passages, Context):
        ctx: Context = context_or_passages
        found = _evidence(ctx.messages)
        return {m: found.get(m, "") for m in sorted(ctx.citations)}
    if isinstance(context_or_passages, Mapping):
        out: dict[int, str] = {}
        for k, v in context_or_passages.items():
            if isinstance(k, bool) or not isinstance(k, int):
                raise InvalidInput(f"passage markers must be int, got {k!r}")
            if not isinstance(v, str):
                raise InvalidInput(f"passage [{k}] must be a str, not {type(v).__name__}")
            out[k] = v
        return out
    raise InvalidInput(
        "ground() takes a covekit.Context or a mapping marker -> passage text, not "
        f"{type(context_or_passages).__name__}"
    )


def ground(
    text: str, context_or_passages: Context | Mapping[int, str], *, threshold: float = 0.5
) -> Grounding:
    """Checks each sentence of ``text`` against the passages it cites (see the module
    docs for the scores). ``context_or_passages`` is a :class:`covekit.Context` (its
    evidence blocks, by marker) or a mapping marker -> passage text.

    >>> import covekit
    >>> g = covekit.ground("Refunds take 7 days [1].", {1: "Refunds take 5 days."})
    >>> round(g.score, 3), g.ok
    (0.542, True)
    >>> [s.text for s in covekit.ground("Refunds take 7 days [1].", {1: "Refunds take 5 days."},
    ...                                 threshold=0.6).unsupported]
    ['Refunds take 7 days [1].']

    The check is lexical: one wrong number in a sentence of four terms still leaves a
    support of 0.54 (3 of 4 terms, 1 of 3 bigrams); raise ``threshold`` to be stricter.

    Raises:
        InvalidInput: ``text`` is not a str, the passages are neither a Context nor a
            mapping of int to str, or ``threshold`` is not in [0, 1].
    """
    if not isinstance(text, str):
        raise InvalidInput(f"text must be a str, not {type(text).__name__}")
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 <= threshold <= 1
    ):
        raise InvalidInput(f"threshold must be a number in [0, 1], got {threshold!r}")
    passages = _passages(context_or_passages)
    return _ground(text, passages, float(threshold))


def _strip_markers(text: str) -> str:
    return _MARKER_SPACE.sub("", text)


_MARKER_SPACE = re.compile(r"[ \t]*\[\d{1,9}(?:, *\d{1,9})*\]")


def _ground(text: str, passages: Mapping[int, str], threshold: float) -> Grounding:
    markers = list(passages)
    bodies = [passages[m] for m in markers]
    raw_sents, raw_quotes, dangling = _DEFAULT.support(text, bodies, markers)
    quotes = tuple(
        QuotedSpan(text[s:e], s, e, sent, verbatim, None if src < 0 else src)
        for s, e, sent, verbatim, src in raw_quotes
    )
    bad_quote = {q.sentence for q in quotes if not q.verbatim}
    sentences = []
    total = weight = 0.0
    for i, (s, e, marks, support, uni, bi, src, terms) in enumerate(raw_sents):
        sentence = text[s:e]
        span = None
        if src >= 0:
            plain = _strip_markers(sentence)
            at = passages[src].find(plain) if plain else -1
            span = (at, at + len(plain)) if at >= 0 else None
        sentences.append(
            SentenceSupport(
                sentence,
                s,
                e,
                tuple(marks),
                float(support),
                support >= threshold and i not in bad_quote,
                None if src < 0 else int(src),
                span,
                float(uni),
                float(bi),
                int(terms),
            )
        )
        total += support * terms
        weight += terms
    sents = tuple(sentences)
    return Grounding(
        sents,
        tuple(s for s in sents if not s.supported),
        tuple(dangling),
        quotes,
        total / weight if weight else 0.0,
        threshold,
    )
