"""Text normalization that remembers where every character came from.

:func:`normalize_text` cleans raw text for chunking (byte-order mark, line endings,
control characters, Unicode normalization form, optional whitespace folding) and returns
a :class:`Normalization`: the clean ``text`` plus a compact map from offsets in ``text``
back to offsets in the raw input, so that a chunk's span can be shown in the source.

>>> from covekit import normalize_text
>>> raw = "Cafe\\u0301\\r\\nMenu"
>>> norm = normalize_text(raw)
>>> norm.text
'Café\\nMenu'
>>> norm.to_raw_span(5, 9), raw[7:11]
((7, 11), 'Menu')

The map stores only the regions that changed (in both coordinates) and finds an offset
with a binary search, so it stays small for text that is mostly clean.

Thread safety: :func:`normalize_text` is a pure function and a :class:`Normalization` is
immutable; both are safe to use from many threads.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from covekit.errors import InvalidInput

__all__ = ["Normalization", "normalize_text"]

Form = Literal["NFC", "NFKC", "NFD", "NFKD"]
_FORMS = ("NFC", "NFKC", "NFD", "NFKD")

# Every C0/C1 control character except tab and line feed (and carriage return, which
# the line-ending step owns).
_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"


@dataclass(frozen=True, slots=True)
class _Regions:
    """Changed regions of a transformation ``src -> dst``; everything between is copied.

    Region ``k`` replaced ``src[src_start[k]:src_end[k]]`` by ``dst[dst_start[k]:dst_end[k]]``.
    Regions are sorted and never touch: at least one copied character separates two.
    """

    src_start: array[int] = field(default_factory=lambda: array("q"))
    src_end: array[int] = field(default_factory=lambda: array("q"))
    dst_start: array[int] = field(default_factory=lambda: array("q"))
    dst_end: array[int] = field(default_factory=lambda: array("q"))

    def add(self, s0: int, s1: int, d0: int, d1: int) -> None:
        """Appends a region, merging it with the previous one when they touch."""
        if self.src_end and (s0 <= self.src_end[-1] or d0 <= self.dst_end[-1]):
            self.src_end[-1] = s1
            self.dst_end[-1] = d1
            return
        self.src_start.append(s0)
        self.src_end.append(s1)
        self.dst_start.append(d0)
        self.dst_end.append(d1)

    def __len__(self) -> int:
        return len(self.src_start)

    def inverse(self) -> _Regions:
        return _Regions(self.dst_start, self.dst_end, self.src_start, self.src_end)

    def back(self, pos: int, *, end: bool) -> int:
        """Maps a ``dst`` offset to ``src``.

        ``end=False`` gives the largest matching ``src`` offset (text *from* ``pos`` on);
        ``end=True`` the smallest (text *up to* ``pos``). Inside a changed region the
        start (resp. end) of the region's source is returned.
        """
        ds, de, ss, se = self.dst_start, self.dst_end, self.src_start, self.src_end
        if not end:
            k = bisect_right(ds, pos) - 1
            if k < 0:
                return pos
            if pos < de[k]:
                return ss[k]
            return se[k] + (pos - de[k])
        k = bisect_left(de, pos)
        if k == len(de):
            return pos if k == 0 else se[k - 1] + (pos - de[k - 1])
        if pos <= ds[k]:
            return ss[k] - (ds[k] - pos)
        return se[k]


def _compose(first: _Regions, second: _Regions) -> _Regions:
    """The regions of ``raw -> final`` from those of ``raw -> mid`` and ``mid -> final``."""
    if not len(second):
        return first
    if not len(first):
        return second
    # Changed intervals in mid coordinates, from both maps, merged where they touch.
    spans = sorted(
        [
            *zip(first.dst_start, first.dst_end, strict=True),
            *zip(second.src_start, second.src_end, strict=True),
        ]
    )
    forward = second.inverse()
    out = _Regions()
    cur_s, cur_e = spans[0]
    for s, e in [*spans[1:], (None, None)]:
        if s is not None and e is not None and s <= cur_e:
            cur_e = max(cur_e, e)
            continue
        out.add(
            first.back(cur_s, end=True),
            first.back(cur_e, end=False),
            forward.back(cur_s, end=True),
            forward.back(cur_e, end=False),
        )
        if s is not None and e is not None:
            cur_s, cur_e = s, e
    return out


def _substitute(text: str, matches: Iterator[re.Match[str]]) -> tuple[str, _Regions]:
    """Replaces each whitespace run by its folded form, recording the regions that change."""
    parts: list[str] = []
    regions = _Regions()
    pos = 0
    out = 0
    for m in matches:
        s, e = m.span()
        new = _fold(m, len(text))
        if new == m.group():
            continue
        parts.append(text[pos:s])
        out += s - pos
        parts.append(new)
        regions.add(s, e, out, out + len(new))
        out += len(new)
        pos = e
    if not len(regions):
        return text, regions
    parts.append(text[pos:])
    return "".join(parts), regions


def _fold(m: re.Match[str], length: int) -> str:
    """Whitespace folding: a run at either end of the text goes; otherwise a run with
    two or more line breaks becomes one blank line, with one a line break, else a space."""
    s, e = m.span()
    if s == 0 or e == length:
        return ""
    breaks = m.group().count("\n")
    return "\n\n" if breaks >= 2 else "\n" if breaks == 1 else " "


@functools.cache
def _unstable_class(form: Form) -> re.Pattern[str]:
    """Characters before which ``form`` may not cut the text into independent pieces.

    A cut before a character is safe when the character is a starter (combining class
    0) that normalization leaves alone, whose decomposition starts with a starter, and
    that never composes with a preceding character (Unicode's NFC_QC=Maybe set, plus
    the Hangul vowel and trailing jamo). Everything else is in this class. The set is
    conservative: a character wrongly left in only makes a changed region larger.
    """
    composes_back: set[int] = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    for cp in range(0x30000):
        dec = unicodedata.decomposition(chr(cp))
        if dec and not dec.startswith("<"):
            parts = dec.split()
            if len(parts) == 2 and unicodedata.normalize("NFC", chr(cp)) == chr(cp):
                composes_back.add(int(parts[1], 16))
    unstable: list[int] = []
    # Nothing above U+2FFFF combines or decomposes (and the caller checks the result).
    for cp in range(0x30000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        if cp in composes_back or unicodedata.combining(c):
            unstable.append(cp)
            continue
        if unicodedata.normalize(form, c) != c:
            unstable.append(cp)
            continue
        first = unicodedata.normalize("NFD", c)[0]
        if unicodedata.combining(first) or ord(first) in composes_back:
            unstable.append(cp)
    ranges: list[str] = []
    i = 0
    while i < len(unstable):
        j = i
        while j + 1 < len(unstable) and unstable[j + 1] == unstable[j] + 1:
            j += 1
        lo, hi = unstable[i], unstable[j]
        ranges.append(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}")
        i = j + 1
    return re.compile("[" + "".join(ranges) + "]+")


def _normalize_form(text: str, form: Form) -> tuple[str, _Regions]:
    """``unicodedata.normalize(form, text)`` with the regions that changed.

    The whole text is normalized; the pieces are then aligned by cutting the input
    only where normalization cannot reach across (see :func:`_unstable_class`). Each
    changed region is one such piece, e.g. ``e`` + U+0301 -> ``é``. Should the pieces
    ever disagree with the whole (a Unicode corner the tables miss), the map falls back
    to one region covering the text, which is still exact at its ends.
    """
    if unicodedata.is_normalized(form, text):
        return text, _Regions()
    whole = unicodedata.normalize(form, text)
    parts: list[str] = []
    regions = _Regions()
    pos = 0
    out = 0
    for m in _unstable_class(form).finditer(text):
        s, e = m.span()
        if s > 0:
            s -= 1  # the starter before the run belongs to its cluster
        if s < pos:
            s = pos
        piece = unicodedata.normalize(form, text[s:e])
        if piece == text[s:e]:
            continue
        parts.append(text[pos:s])
        out += s - pos
        parts.append(piece)
        regions.add(s, e, out, out + len(piece))
        out += len(piece)
        pos = e
    parts.append(text[pos:])
    if "".join(parts) != whole:
        one = _Regions()
        one.add(0, len(text), 0, len(whole))
        return whole, one
    return whole, regions


@dataclass(frozen=True, slots=True, eq=False)
class Normalization:
    """The result of :func:`normalize_text`: the clean text and the way back to the raw text.

    ``text`` is what the chunker sees; :meth:`to_raw` and :meth:`to_raw_span` map offsets
    in it (Python ``str`` indices) to offsets in the raw input; :meth:`regions` lists what
    changed. ``steps`` names the steps that ran, in order; ``changed`` says whether any of
    them changed the text.

    >>> norm = normalize_text("a\\x00b\\r\\n")
    >>> norm.text, norm.steps
    ('ab\\n', ('strip_bom', 'line_endings', 'control_chars', 'NFC'))
    >>> list(norm.regions())
    [(1, 1, 1, 2), (2, 3, 3, 5)]
    """

    text: str
    raw_length: int
    steps: tuple[str, ...]
    _map: _Regions = field(repr=False)

    @property
    def changed(self) -> bool:
        """Whether the text differs from the raw input.

        >>> normalize_text("clean").changed
        False
        """
        return len(self._map) > 0

    def __repr__(self) -> str:
        return (
            f"<covekit.Normalization len={len(self.text)} raw_length={self.raw_length} "
            f"steps={'+'.join(self.steps) or 'none'} regions={len(self._map)}>"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Normalization):
            return NotImplemented
        return (
            self.text == other.text
            and self.raw_length == other.raw_length
            and self.steps == other.steps
            and list(self.regions()) == list(other.regions())
        )

    def __hash__(self) -> int:
        return hash((self.text, self.raw_length, self.steps))

    def _check(self, offset: int, name: str) -> int:
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise TypeError(f"{name} must be an int, not {type(offset).__name__}")
        if not 0 <= offset <= len(self.text):
            raise InvalidInput(
                f"{name} {offset} is outside the normalized text (length {len(self.text)}); "
                f"pass an offset in [0, {len(self.text)}]"
            )
        return offset

    def to_raw(self, offset: int, *, side: Literal["start", "end"] = "start") -> int:
        """The raw offset of ``offset`` in :attr:`text`.

        Offsets between unchanged characters map exactly. Where characters were removed,
        ``side="start"`` (for the start of a span) maps past them and ``side="end"`` (for
        the end of a span) maps before them. An offset inside a changed cluster (e.g.
        within a character composed from several) maps to the cluster's raw start, or
        with ``side="end"`` to its raw end.

        >>> norm = normalize_text("a\\x00b")
        >>> norm.to_raw(1), norm.to_raw(1, side="end")
        (2, 1)
        """
        self._check(offset, "offset")
        if side not in ("start", "end"):
            raise InvalidInput(f"side must be 'start' or 'end', got {side!r}")
        return self._map.back(offset, end=side == "end")

    def to_raw_span(self, start: int, end: int) -> tuple[int, int]:
        """The raw span ``(raw_start, raw_end)`` of ``text[start:end]``.

        The span covers whole raw clusters and leaves out characters removed at its
        edges, so ``raw[raw_start:raw_end]`` normalizes to ``text[start:end]`` wherever
        the span's ends fall between clusters.

        >>> raw = "x\\r\\ny"
        >>> norm = normalize_text(raw)
        >>> a, b = norm.to_raw_span(2, 3)
        >>> raw[a:b]
        'y'
        """
        self._check(start, "start")
        self._check(end, "end")
        if start > end:
            raise InvalidInput(f"start ({start}) must not be greater than end ({end})")
        raw_start = self._map.back(start, end=False)
        raw_end = self._map.back(end, end=True)
        if start == end:
            return raw_start, raw_start
        return raw_start, max(raw_start, raw_end)

    def regions(self) -> Iterator[tuple[int, int, int, int]]:
        """The changed regions as ``(start, end, raw_start, raw_end)``, in order.

        Between two regions (and before the first, after the last) the text is a copy
        of the raw text. A region with ``start == end`` is raw text that was removed.

        >>> list(normalize_text("\\ufeffhi").regions())
        [(0, 0, 0, 1)]
        """
        m = self._map
        return zip(m.dst_start, m.dst_end, m.src_start, m.src_end, strict=True)


def normalize_text(
    raw: str,
    *,
    form: Form | None = "NFC",
    line_endings: bool = True,
    control_chars: bool = True,
    fold_whitespace: bool = False,
    strip_bom: bool = True,
) -> Normalization:
    """Cleans ``raw`` for chunking and records how, so offsets can be mapped back.

    The steps, in this order, each one optional:

    - ``strip_bom``: drop a byte-order mark (U+FEFF) at the very start;
    - ``line_endings``: ``\\r\\n`` and lone ``\\r`` become ``\\n``;
    - ``control_chars``: drop C0 and C1 control characters except tab and line feed
      (NUL, backspace, escape, ...);
    - ``form``: Unicode normalization (``"NFC"`` by default; ``"NFKC"``, ``"NFD"``,
      ``"NFKD"``, or ``None`` to skip);
    - ``fold_whitespace`` (off by default): whitespace at the ends of the text goes;
      elsewhere a run of whitespace becomes one space, one line break, or, if it holds
      two or more line breaks, one blank line. This also flattens indentation, so use
      it for prose, not for Markdown with code or nested lists.

    >>> normalize_text("  two\\t\\tspaces \\n\\n\\n end ", fold_whitespace=True).text
    'two spaces\\n\\nend'

    Errors: :class:`~covekit.errors.InvalidInput` for an unknown ``form``; ``TypeError``
    when ``raw`` is not a ``str``.
    """
    if not isinstance(raw, str):
        raise TypeError(
            f"raw must be a str, not {type(raw).__name__}; decode bytes first "
            "(covekit.load_documents does that for files)"
        )
    if form is not None and form not in _FORMS:
        raise InvalidInput(f"form must be one of {', '.join(_FORMS)} or None, got {form!r}")
    steps: list[str] = []
    text = raw
    regions = _Regions()

    def apply(new: str, new_regions: _Regions) -> None:
        nonlocal text, regions
        text = new
        regions = _compose(regions, new_regions)

    if strip_bom:
        steps.append("strip_bom")
        if text.startswith("\ufeff"):
            bom = _Regions()
            bom.add(0, 1, 0, 0)
            apply(text[1:], bom)
    # Line endings and control characters in one pass over the text.
    cleanup = []
    if line_endings:
        steps.append("line_endings")
        cleanup.append(r"(?P<eol>\r\n?)")
    if control_chars:
        steps.append("control_chars")
        cleanup.append(f"[{_CONTROLS}]+")
    if cleanup:
        pattern = re.compile("|".join(cleanup))
        if pattern.search(text) is not None:
            apply(*_cleanup(text, pattern))
    if form is not None:
        steps.append(form)
        apply(*_normalize_form(text, form))
    if fold_whitespace:
        steps.append("fold_whitespace")
        ws = re.compile(r"\A\s+|\s+\Z|\s{2,}|[^\S \n]")
        apply(*_substitute(text, ws.finditer(text)))
    return Normalization(text, len(raw), tuple(steps), regions)


def _cleanup(text: str, pattern: re.Pattern[str]) -> tuple[str, _Regions]:
    parts: list[str] = []
    regions = _Regions()
    pos = 0
    out = 0
    for m in pattern.finditer(text):
        s, e = m.span()
        new = "\n" if m.lastgroup == "eol" else ""
        parts.append(text[pos:s])
        out += s - pos
        if new:
            parts.append(new)
        regions.add(s, e, out, out + len(new))
        out += len(new)
        pos = e
    parts.append(text[pos:])
    return "".join(parts), regions
