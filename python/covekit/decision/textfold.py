# ruff: noqa: RUF001, RUF002  (look-alike and fullwidth characters are this module's subject)
"""Text folding for matching, with a map back to the original ``str`` offsets.

The policy's literal rules (banned terms, injection phrasings, role headers) match on
a *folded* copy of the text, so that trivial disguises do not hide a match:

- case folding (``str.casefold``: ``"STRASSE"`` and ``"straße"`` fold alike);
- compatibility forms (NFKC: fullwidth ``ｉｇｎｏｒｅ``, mathematical ``𝐢𝐠𝐧𝐨𝐫𝐞``,
  circled and ligature letters become plain letters);
- accents on Latin, Greek and Cyrillic letters are removed (``"précédentes"`` folds
  to ``"precedentes"``, a decomposed ``e`` + U+0301 too); other scripts keep theirs;
- invisible format characters (zero-width, bidirectional controls, Unicode tags, the
  soft hyphen) are deleted, so ``"ig\\u200bnore"`` folds to ``"ignore"``;
- inside a word that mixes ASCII letters with Cyrillic or Greek look-alikes
  (``"ignоre"`` with a Cyrillic ``о``), the look-alikes become their Latin twins.

>>> from covekit.decision.textfold import fold
>>> f = fold("Ｉｇｎｏｒｅ prévious")
>>> f.text
'ignore previous'
>>> f.span(7, 15)
(7, 15)
>>> g = fold("a\\u200bb STRAẞE")
>>> g.text, g.span(3, 9)
('ab strasse', (4, 9))

Thread safety: :func:`fold` is a pure function (its per-character cache only grows)
and a :class:`Folded` is immutable.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

__all__ = ["Folded", "fold", "fold_pattern"]

#: Format characters deleted by folding (they render as nothing).
INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f"
)
_INVISIBLE = re.compile(f"[{INVISIBLE}]")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")

# Cyrillic and Greek letters that look like Latin ones (after case folding).
_CONFUSABLE = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
    "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j",
    "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ɡ": "g", "ı": "i",
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w",
}  # fmt: skip
_CONFUSABLE_TABLE = str.maketrans(_CONFUSABLE)
_HAS_CONFUSABLE = re.compile("[" + "".join(_CONFUSABLE) + "]")
_WORD = re.compile(r"\w+")
_ASCII_LETTER = re.compile(r"[a-z]")

_CACHE: dict[str, str] = {}


def _strips_marks(base: str) -> bool:
    """Latin, Greek and Cyrillic letters lose their accents; other scripts keep marks."""
    o = ord(base)
    return o < 0x0530 or 0x1D00 <= o < 0x2000 or 0xFF00 <= o < 0xFFF0


def _fold_char(c: str) -> str:
    got = _CACHE.get(c)
    if got is not None:
        return got
    if _INVISIBLE.match(c):
        out = ""
    elif 0x0300 <= ord(c) <= 0x036F:  # a lone combining diacritic (decomposed input)
        out = ""
    else:
        nfkc = unicodedata.normalize("NFKC", c)
        parts = []
        for ch in nfkc:
            d = unicodedata.normalize("NFKD", ch)
            if len(d) > 1 and _strips_marks(d[0]):
                d = "".join(x for x in d if unicodedata.category(x) != "Mn")
                parts.append(unicodedata.normalize("NFC", d))
            else:
                parts.append(ch)
        out = unicodedata.normalize("NFKC", "".join(parts).casefold())
    _CACHE[c] = out
    return out


@dataclass(frozen=True, slots=True)
class Folded:
    """A folded text and the pieces where it differs in length from the original.

    ``text`` is what the rules match on; :meth:`span` maps a span of ``text`` back to
    the span of the original that produced it.
    """

    text: str
    #: For each original character whose folded form is not one character: its index
    #: in the original, where its folded form starts, and that form's length.
    src: tuple[int, ...] = field(default=())
    dst: tuple[int, ...] = field(default=())
    size: tuple[int, ...] = field(default=())

    def start(self, pos: int) -> int:
        """The original offset where the folded text from ``pos`` on comes from."""
        k = bisect_right(self.dst, pos) - 1
        if k < 0:
            return pos
        ds, dl, si = self.dst[k], self.size[k], self.src[k]
        if pos < ds + dl:
            return si
        return si + 1 + (pos - ds - dl)

    def end(self, pos: int) -> int:
        """The original offset where the folded text up to ``pos`` ends."""
        k = bisect_left(self.dst, pos) - 1
        if k < 0:
            return pos
        ds, dl, si = self.dst[k], self.size[k], self.src[k]
        if pos <= ds + dl:
            return si + 1
        return si + 1 + (pos - ds - dl)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the folded span ``[start, end)``."""
        s = self.start(start)
        return s, max(s, self.end(end))


def fold(text: str) -> Folded:
    """Folds ``text`` for matching (module docs); ASCII text is just lower-cased."""
    if text.isascii():
        return Folded(text.lower())
    out: list[str] = []
    src: list[int] = []
    dst: list[int] = []
    size: list[int] = []
    pos = 0
    n = 0  # length of the folded text so far
    fc = _fold_char
    for m in _NON_ASCII_RUN.finditer(text):
        s, e = m.span()
        if s > pos:
            out.append(text[pos:s].lower())
            n += s - pos
        for i in range(s, e):
            f = fc(text[i])
            if len(f) != 1:
                src.append(i)
                dst.append(n)
                size.append(len(f))
            out.append(f)
            n += len(f)
        pos = e
    if pos < len(text):
        out.append(text[pos:].lower())
    folded = "".join(out)
    if _HAS_CONFUSABLE.search(folded):
        folded = _WORD.sub(_unconfuse, folded)
    return Folded(folded, tuple(src), tuple(dst), tuple(size))


def _unconfuse(m: re.Match[str]) -> str:
    w = m.group()
    if _ASCII_LETTER.search(w) and _HAS_CONFUSABLE.search(w):
        return w.translate(_CONFUSABLE_TABLE)
    return w


def fold_pattern(pattern: str) -> str:
    """A regular expression written in natural spelling, with its non-ASCII letters
    folded as :func:`fold` folds text (ASCII, which holds the regex syntax, is kept:
    write the ASCII letters of a pattern in lower case).

    >>> fold_pattern("ignoriere alle vorherigen|précédentes")
    'ignoriere alle vorherigen|precedentes'
    """
    return _NON_ASCII_RUN.sub(lambda m: "".join(_fold_char(c) for c in m.group()), pattern)
