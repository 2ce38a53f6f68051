"""The one quality measure that bench_chunking.py applies to every chunker, covekit included.

A chunker's output is reduced to :class:`Span` objects (the chunk's text, and the
``start``/``end`` it reports as Python ``str`` indices into the document, or ``None`` when
it reports none). :func:`measure` then counts, for one document:

- **over limit**: chunks whose text, encoded alone, has more than ``max_tokens`` tokens;
- **offset errors**: chunks whose reported span does not give back their text
  (``doc[start:end] != text``, or a span outside the document). Only for chunkers that
  report offsets; for the others the count is ``None`` ("n/a (no offsets)"), neither a
  penalty nor a credit;
- **not in source**: chunks whose text does not occur in the document at all, even with
  surrounding whitespace and U+FFFD stripped (a token window decoded in the middle of a
  multi-byte character gives U+FFFD);
- **mid-sentence ends** and **mid-word ends**, judged at the chunk's *cut*: the position
  in the document just after its last character. The cut is the reported ``end`` when
  that span is correct; otherwise the chunk is located with ``str.find`` from just after
  the previous chunk's start (sequentially, so repeated passages resolve in order and
  overlapping chunks are found where they are);
- **fill**: the sum of ``tokens / max_tokens`` over the chunks (the caller divides);
- **overlap**: the tokens of the text each chunk shares with its predecessor (the text
  from its start to the predecessor's end), summed over consecutive pairs.

Definitions (:func:`is_mid_word`, :func:`is_mid_sentence`); a cut followed by nothing but
whitespace (the end of the document) is neither:

- *mid-word*: the characters on both sides of the cut are word characters (Unicode
  letters, digits or combining marks). Between two CJK ideographs this counts too, for
  everyone alike: those scripts have no spaces to cut at.
- *mid-sentence*: the cut is neither after a sentence end nor at a block boundary.
  A sentence end is the last non-space character before the cut, after skipping closing
  quotes, brackets and markdown emphasis (:data:`CLOSERS`), being a terminator:
  ``. ! ?`` or an ellipsis followed by whitespace or the end of the text (so ``3.14`` and
  ``e.g.x`` are not ends; a markdown hard line break, a backslash ending the line, is
  markup and skipped), or one that needs no space (:data:`UNSPACED_TERMINATORS`: the
  CJK full stop, full-width ``!`` and ``?``, and the Arabic, Urdu, Devanagari, Ethiopic,
  Burmese, Armenian and Greek sentence ends). A block boundary is a blank line in the
  whitespace around the cut, or a line break where the next line starts a block (heading
  ``#``, list item ``- * +`` or ``1.``/``1)``, blockquote ``>``, table row ``|``, code
  fence; list items count at any indent, so nested items do too) or the line before
  the cut is a heading, a table row, a fence or a setext underline. A single
  line break inside hard-wrapped prose is *not* a boundary.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import regex  # a dependency of tiktoken; its \p{Sentence_Terminal} follows the UCD

_STERM = regex.compile(r"\p{Sentence_Terminal}")

#: Terminators that end a sentence only when followed by whitespace or the end of text.
SPACED_TERMINATORS = frozenset(".!?\u2026")  # ... and the ellipsis character
#: Terminators that end a sentence wherever they are: every other character with the
#: Unicode property Sentence_Terminal (CJK full stops, the danda, the Khmer khan, the
#: Ethiopic, Burmese and Armenian full stops, ...), plus the Greek question mark and the
#: Urdu full stop, which Unicode leaves out of that property.
UNSPACED_TERMINATORS = frozenset(
    chr(c)
    for c in range(0x110000)
    if not 0xD800 <= c <= 0xDFFF and _STERM.match(chr(c)) and chr(c) not in SPACED_TERMINATORS
) | frozenset("\u037e\u06d4")
#: Skipped backwards before looking for a terminator: closing quotes, brackets, emphasis.
CLOSERS = frozenset(
    "\"')]}`*_"
    "\u201d\u2019\u00bb\u203a"  # right double/single quotation marks, guillemets
    "\u300d\u300f\uff09\uff3d\uff5d\u3009\u300b\u3011\u3015"  # CJK closing brackets
)

_BLOCK_START = re.compile(
    r"[ \t]{0,3}(#{1,6}(\s|$)|>|\||```|~~~)"  # heading, quote, table row, fence
    r"|[ \t]*([-*+][ \t]|\d{1,9}[.)]([ \t]|$))"  # a list item, nested ones included
)
_BLOCK_LINE = re.compile(r"[ \t]{0,3}(#{1,6}(\s|$)|```|~~~|=+[ \t]*$|-+[ \t]*$|\|.*\|[ \t]*$)")


@dataclass(frozen=True)
class Span:
    """One chunk as a chunker returned it."""

    text: str
    start: int | None = None  # None: the chunker reports no offsets
    end: int | None = None


@dataclass
class Quality:
    """Counts over one or more documents (add them with ``+=``)."""

    chunks: int = 0
    tokens: int = 0
    over_limit: int = 0
    offset_errors: int | None = 0  # None: no offsets reported
    not_in_source: int = 0
    cuts: int = 0  # chunk ends that are not the end of their document
    mid_sentence: int = 0
    mid_word: int = 0
    fill_sum: float = 0.0
    max_tokens_seen: int = 0
    pairs: int = 0  # consecutive chunk pairs, both found in the document
    overlap_tokens: int = 0  # tokens of the text two consecutive chunks share, summed

    def __iadd__(self, other: Quality) -> Quality:
        self.chunks += other.chunks
        self.tokens += other.tokens
        self.over_limit += other.over_limit
        if self.offset_errors is None or other.offset_errors is None:
            self.offset_errors = None
        else:
            self.offset_errors += other.offset_errors
        self.not_in_source += other.not_in_source
        self.cuts += other.cuts
        self.mid_sentence += other.mid_sentence
        self.mid_word += other.mid_word
        self.fill_sum += other.fill_sum
        self.max_tokens_seen = max(self.max_tokens_seen, other.max_tokens_seen)
        self.pairs += other.pairs
        self.overlap_tokens += other.overlap_tokens
        return self

    @property
    def mean_overlap(self) -> float | None:
        """Tokens shared by consecutive chunks, on average over the pairs."""
        return self.overlap_tokens / self.pairs if self.pairs else None

    @property
    def mean_fill(self) -> float | None:
        return self.fill_sum / self.chunks if self.chunks else None


def _is_word_char(c: str) -> bool:
    return unicodedata.category(c)[0] in "LNM"


def _at_end(doc: str, cut: int) -> bool:
    return doc[cut:].strip() == "" if cut < len(doc) else True


def is_mid_word(doc: str, cut: int) -> bool:
    """Word characters (letters, digits, combining marks) on both sides of ``cut``."""
    if cut <= 0 or cut >= len(doc):
        return False
    return _is_word_char(doc[cut - 1]) and _is_word_char(doc[cut])


def _line_at(doc: str, pos: int) -> str:
    """The line that contains ``doc[pos]`` (without its line break)."""
    start = doc.rfind("\n", 0, pos) + 1
    end = doc.find("\n", pos)
    return doc[start : len(doc) if end < 0 else end].rstrip("\r")


def is_sentence_end(doc: str, cut: int) -> bool:
    """The last non-space character before ``cut`` (closers skipped) ends a sentence."""
    j = cut - 1
    while j >= 0 and doc[j].isspace():
        j -= 1
    after = j + 1  # the position just after the last non-space character
    if j >= 0 and doc[j] == "\\" and j + 1 < len(doc) and doc[j + 1] in "\r\n":
        j -= 1  # a markdown hard line break (backslash, then the line's end) is markup
    if j < 0:
        return True  # nothing before: the start of the document
    while j >= 0 and doc[j] in CLOSERS:
        j -= 1
    if j < 0:
        return False
    c = doc[j]
    if c in UNSPACED_TERMINATORS:
        return True
    if c in SPACED_TERMINATORS:
        return after >= len(doc) or doc[after].isspace()
    return False


def is_block_boundary(doc: str, cut: int) -> bool:
    """A blank line around ``cut``, or a line break that starts or ends a block."""
    lo = cut
    while lo > 0 and doc[lo - 1].isspace():
        lo -= 1
    hi = cut
    while hi < len(doc) and doc[hi].isspace():
        hi += 1
    gap = doc[lo:hi].replace("\r\n", "\n").replace("\r", "\n")
    if "\n" not in gap:
        return False
    if gap.count("\n") >= 2:
        return True
    if hi < len(doc) and _BLOCK_START.match(_line_at(doc, hi)):
        return True
    return lo > 0 and bool(_BLOCK_LINE.match(_line_at(doc, lo - 1)))


def is_mid_sentence(doc: str, cut: int) -> bool:
    """Neither the end of the document, nor after a sentence end, nor at a block boundary."""
    if _at_end(doc, cut) or cut <= 0:
        return False
    return not (is_sentence_end(doc, cut) or is_block_boundary(doc, cut))


def _locate(doc: str, text: str, frm: int) -> tuple[int, int] | None:
    """Where ``text`` is in ``doc`` at or after ``frm``; whitespace and U+FFFD at its
    edges are stripped if the text as it is cannot be found."""
    i = doc.find(text, frm)
    if i >= 0:
        return i, i + len(text)
    core = text.strip().strip("\ufffd").strip()
    if core:
        i = doc.find(core, frm)
        if i >= 0:
            return i, i + len(core)
    return None


def measure(
    doc: str,
    spans: Sequence[Span],
    count_tokens: Callable[[list[str]], list[int]],
    max_tokens: int,
) -> Quality:
    """The quality of ``spans`` as the chunks of ``doc``.

    ``count_tokens`` maps chunk texts to their token counts, each text encoded alone.
    """
    q = Quality(chunks=len(spans))
    reports_offsets = all(s.start is not None and s.end is not None for s in spans)
    if not reports_offsets:
        q.offset_errors = None
    counts = count_tokens([s.text for s in spans]) if spans else []
    frm = 0
    prev: tuple[int, int] | None = None
    shared: list[str] = []
    for span, n in zip(spans, counts, strict=True):
        q.tokens += n
        q.max_tokens_seen = max(q.max_tokens_seen, n)
        q.fill_sum += n / max_tokens
        if n > max_tokens:
            q.over_limit += 1
        where: tuple[int, int] | None = None
        if reports_offsets:
            assert span.start is not None and span.end is not None
            ok = 0 <= span.start <= span.end <= len(doc) and doc[span.start : span.end] == span.text
            if ok:
                where = (span.start, span.end)
            else:
                assert q.offset_errors is not None
                q.offset_errors += 1
        if where is None:
            where = _locate(doc, span.text, frm)
            if where is None:
                where = _locate(doc, span.text, 0)  # out of order: still find its cut
        if where is None:
            q.not_in_source += 1
            prev = None
            continue
        if prev is not None:
            q.pairs += 1
            if where[0] < prev[1]:
                shared.append(doc[where[0] : prev[1]])
        prev = where
        frm = where[0] + 1
        cut = where[1]
        if _at_end(doc, cut):
            continue
        q.cuts += 1
        if is_mid_word(doc, cut):
            q.mid_word += 1
        if is_mid_sentence(doc, cut):
            q.mid_sentence += 1
    if shared:
        q.overlap_tokens = sum(count_tokens(shared))
    return q
