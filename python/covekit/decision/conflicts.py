"""The conflict signal: quantities that disagree across the chunks of one context.

When two kept chunks from *different* documents give different values for the same
thing ("Refunds are processed within 5-10 business days" against "Refund processing
takes 14 business days"), the context's manifest says so, and the answer can say
"conflicting sources" instead of choosing one silently.

:func:`extract_mentions` finds the quantities of one chunk (:class:`Mention`), each with
its normalized value, canonical unit and the key terms it is near; :func:`find_conflicts`
compares the mentions of several chunks and groups those that disagree
(:class:`Conflict`). Extraction is English-only and rule-based; the rules and their
limits are in ``docs/conflicts.md``.

>>> conflicts = find_conflicts([
...     (1, "refunds-v1", "Refunds are processed within 5-10 business days."),
...     (2, "refunds-v2", "Refund processing takes 14 business days."),
... ])
>>> [(c.kind, c.unit, c.terms) for c in conflicts]
[('duration', 'business day', ('process', 'refund'))]
>>> [m.text for m in conflicts[0].mentions]
['within 5-10 business days', '14 business days']

Thread safety: the functions are pure and may run in many threads at once; they share
compiled patterns and bounded caches (word stems, and the analysis of each chunk text up
to 8,192 characters, so that chunks seen again cost little).
"""

from __future__ import annotations

import calendar
import datetime as _dt
import functools
import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol, TypeAlias

from covekit.data.bm25 import Analyzer
from covekit.errors import InvalidInput

#: The kinds of quantity, as ``Mention.kind`` names them.
KINDS: tuple[str, ...] = ("date", "duration", "money", "number", "percent")

_INF = math.inf
_EPOCH = _dt.date(1970, 1, 1).toordinal()

# ----------------------------------------------------------------------------- vocabulary

_UNITS = "zero one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = {
    w: 20 + 10 * i
    for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())
}
_WORD_VALUES: dict[str, int] = {w: i for i, w in enumerate(_UNITS + _TEENS)} | _TENS
_WORD_VALUES.update({"a": 1, "an": 1})

_MONTH_LIST = (
    "January February March April May June July August September October November December "
    "Jan Feb Mar Apr Jun Jul Aug Sept Sep Oct Nov Dec"
).split()
_MONTHS = {m.lower(): i + 1 for i, m in enumerate(_MONTH_LIST[:12])}
_MONTHS |= {m.lower()[:3]: i + 1 for i, m in enumerate(_MONTH_LIST[:12])} | {"sept": 9}

# Canonical units: calendar time in days, months and years in months, business days apart.
_DURATIONS: dict[str, tuple[str, float]] = {
    "second": ("day", 1 / 86400),
    "sec": ("day", 1 / 86400),
    "minute": ("day", 1 / 1440),
    "min": ("day", 1 / 1440),
    "hour": ("day", 1 / 24),
    "hr": ("day", 1 / 24),
    "h": ("day", 1 / 24),
    "day": ("day", 1.0),
    "calendar day": ("day", 1.0),
    "week": ("day", 7.0),
    "wk": ("day", 7.0),
    "calendar week": ("day", 7.0),
    "fortnight": ("day", 14.0),
    "business day": ("business day", 1.0),
    "working day": ("business day", 1.0),
    "business week": ("business day", 5.0),
    "working week": ("business day", 5.0),
    "month": ("month", 1.0),
    "mo": ("month", 1.0),
    "calendar month": ("month", 1.0),
    "year": ("month", 12.0),
    "yr": ("month", 12.0),
    "decade": ("month", 120.0),
}

_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
# Before "$": "US$5", "CA$5", "A$5".
_DOLLAR_PREFIXES = {"US": "USD", "CA": "CAD", "C": "CAD", "AU": "AUD", "A": "AUD",
                    "NZ": "NZD", "HK": "HKD", "S": "SGD"}  # fmt: skip
_CODES = tuple("USD EUR GBP JPY CHF CAD AUD NZD HKD SGD CNY INR SEK NOK DKK".split())
_CURRENCY_WORDS = {"dollar": ("USD", 1.0), "dollars": ("USD", 1.0), "euro": ("EUR", 1.0),
                   "euros": ("EUR", 1.0), "cent": ("USD", 0.01), "cents": ("USD", 0.01),
                   "yen": ("JPY", 1.0)}  # fmt: skip

# Bounds before a number ("up to 5"), as lowercase phrases.
_UPPER = ("up to", "at most", "no more than", "not more than", "no longer than",
          "not longer than", "no greater than", "not exceeding", "less than", "fewer than",
          "under", "below", "within", "a maximum of", "maximum of", "maximum", "max.", "max",
          "<=", "=<", "≤", "<")  # fmt: skip
_LOWER = ("at least", "no less than", "not less than", "no fewer than", "more than",
          "greater than", "over", "above", "a minimum of", "minimum of", "minimum", "min.",
          "starting at", "starting from", "from", ">=", "≥", ">")  # fmt: skip
_APPROX = ("approximately", "approx.", "approx", "about", "around", "roughly", "nearly",
           "almost", "circa", "ca.", "some", "~", "≈", "\u223c")  # fmt: skip
_DATE_UPPER = ("no later than", "not later than", "on or before", "before", "until", "till", "by")
_DATE_LOWER = ("no earlier than", "not earlier than", "on or after", "after", "since",
               "starting", "from")  # fmt: skip

# A word right before a number that makes it a label, not a quantity ("type 2 diabetes").
_LABELS = frozenset(
    """
    version ver release rel chapter ch section sec figure fig table tab page pp p step no
    nos number num item article art clause paragraph para grade level phase stage type class
    tier group model series generation gen room floor unit line lot batch id order ticket case
    issue ref reference rule appendix exhibit schedule part volume vol edition ed top route
    highway flight gate platform channel port suite building block day week month year
    quarter q session lesson module exercise question problem note footnote episode season
    round game match test trial arm cohort visit dose patient subject sample study experiment
    cycle wave region zone sector category option plan
""".split()
)
# Before a four-digit number, these make it a year ("in 2019 patients were ...").
_YEAR_WORDS = frozenset(
    """
    in since during by until till before after of from between circa early late mid year
    years fiscal fy spring summer autumn fall winter
""".split()
)
# Between a number and its counted noun ("5 additional users").
_ADJECTIVES = (
    "additional",
    "extra",
    "more",
    "new",
    "free",
    "separate",
    "different",
    "concurrent",
    "simultaneous",
    "active",
    "individual",
    "unique",
    "distinct",
    "consecutive",
    "registered",
    "named",
    "paid",
    "total",
)

# Function words and words that say nothing about *what* is measured; they are neither
# key terms nor counted nouns. Lowercase surface forms.
_STOPWORDS = frozenset(
    """
    a an the and or but nor so yet if then than that this these those there here such
    of in on at by for from to into onto upon with without within via per as about above
    below under over after before between through during until till since among amongst
    against around across along behind beyond near off out up down again further once twice
    thrice is are was were be been being am do does did done doing have has had having
    will would shall should can could may might must ought need needs needed it its it's
    itself they them their theirs themselves we us our ours you your yours he him his she
    her hers i me my mine who whom whose which what when where why how all any both each
    every either neither few fewer less least more most much many several some other others
    another same own only just very too also even still already always never ever often
    usually typically generally normally approximately approx roughly nearly almost around
    about circa exactly precisely up least max maximum min minimum total overall respectively
    not no yes etc eg ie vs versus via plus minus times fold folds percent percentage pct
    point points take takes taken took taking get gets got make makes made give gives given
    go goes went use used uses using include includes included including based like
    following follow follows new latest last first second third next previous
    late later earlier early now today currently current
    updated update updates published posted modified revised created date dated copyright
    rev valid
    one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy
    eighty ninety hundred thousand million billion trillion dozen half quarter
    second seconds sec secs minute minutes min mins hour hours hr hrs day days week
    weeks wk wks fortnight month months mo mos year years
    yr yrs decade decades business working calendar old aged age
    dollar dollars euro euros cent cents yen usd eur gbp jpy chf cad aud nzd hkd sgd cny
    inr sek nok dkk am pm
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    study studies result results finding findings data analysis analyses patient
    patients subject subjects participant participants observed showed shown show shows
    found find reported report reports compared comparison associated association
    significant significantly increased increase decreased decrease reduced reduction
    higher lower greater smaller larger group groups mean median average ratio rate rates
    value values level levels number numbers amount among whereas while however although
    though whilst because therefore thus hence respectively either
    confidence interval intervals ci odds hazard similar similarly conducted performed
    evaluated examined assessed measured estimated randomized randomised randomly enrolled
    underwent
""".split()
)
# Nouns after a number that are not counted things.
_NOT_NOUNS = frozenset(
    """
    times fold folds percent per cent pct mg kg ml mmol kcal cal mph kph rpm bpm gbps mbps
    kbps ghz mhz khz kwh mwh psi nm mm cm km
""".split()
)

_ANALYZER = Analyzer(stopwords=None)
_CACHE_SIZE = 1024  # chunk texts whose analysis is kept (see _analysis)
_CACHE_MAX_CHARS = 8192  # longer texts are analysed afresh each time

# ----------------------------------------------------------------------------- patterns


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation of literal phrases, longest first, spaces matching any blank."""
    parts = sorted(set(words), key=lambda w: (-len(w), w))
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in parts)


_SP = r"[ \t\u00a0\u202f]"  # blanks within a line
_NUM = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?"
_WORDNUM = (
    r"(?:(?:" + "|".join(_TENS) + r")(?:[- ](?:" + "|".join(_UNITS[1:]) + r"))?"
    r"|" + "|".join(sorted(_UNITS + _TEENS, key=len, reverse=True)) + r"|an?)(?![\w'\u2019])"
)


def _reversed_alternation(words: Iterable[str]) -> str:
    """An alternation of the phrases spelled backwards (for :data:`_BEFORE`)."""
    return _alternation(w[::-1] for w in words)


def _before_pattern(*, lowercase: bool) -> re.Pattern[str]:
    """:data:`_BEFORE`, or with ``lowercase`` the same for lowercased text (faster: no
    case folding), whose codes and month names are checked against the text after."""

    def cased(words: Iterable[str]) -> str:
        if lowercase:
            return _reversed_alternation(w.lower() for w in words)
        return f"(?-i:{_reversed_alternation(words)})"

    bounds = _reversed_alternation(
        _UPPER + _LOWER + _APPROX + _DATE_UPPER + _DATE_LOWER + ("between",)
    )
    source = rf"""
        (?:(?P<dpre>{cased(_DOLLAR_PREFIXES)})(?![^\W\d_])
         |{_SP}?(?P<code>{cased(_CODES)})(?![^\W\d_]))?
        (?:{_SP}+\.?(?P<month>{cased(_MONTH_LIST)})(?![^\W\d_]))?
        (?:\s*(?P<bound>{bounds})(?![^\W\d_]))?
        (?:{_SP}+\.?(?P<prev>[^\W\d_]+)(?![\w'\u2019]))?
    """
    return re.compile(source, re.VERBOSE if lowercase else re.VERBOSE | re.IGNORECASE)


#: What may stand right before a number, read *backwards* from it (so that one anchored
#: match does it): a dollar prefix or a currency code, a month name, a bound, the word
#: before (labels, years). :class:`_Before` maps the groups back to the text.
_BEFORE = _before_pattern(lowercase=False)
_BEFORE_LOW = _before_pattern(lowercase=True)
_CASED = (
    ("dpre", frozenset(_DOLLAR_PREFIXES)),
    ("code", frozenset(_CODES)),
    ("month", frozenset(_MONTH_LIST)),
)
_LOOKBACK = 64  # characters read before a number


class _Before:
    """The groups of :data:`_BEFORE`, spelled forwards, with their offsets in the text."""

    __slots__ = ("_groups", "_m", "_p")

    def __init__(self, text: str, p: int) -> None:
        rev = text[max(0, p - _LOOKBACK) : p][::-1]
        low = rev.lower()
        m = None
        if len(low) == len(rev):
            m = _BEFORE_LOW.match(low)
            assert m is not None  # every part is optional
            for name, allowed in _CASED:
                if m.group(name) is not None:
                    s, e = m.span(name)
                    if rev[s:e][::-1] not in allowed:
                        m = None  # "may 5", "usd 5": read it again, minding case
                        break
        if m is None:
            m = _BEFORE.match(rev)
            assert m is not None
        self._m = m
        self._p = p
        regs = m.regs
        self._groups = {
            name: rev[regs[i][0] : regs[i][1]][::-1]
            for name, i in _BEFORE.groupindex.items()
            if regs[i][0] >= 0
        }

    def group(self, name: str) -> str | None:
        return self._groups.get(name)

    def start(self, name: str) -> int:
        return self._p - self._m.end(name)


#: Dates written with digits only: ISO (year first) and day/month or month/day.
_NUMERIC_DATE = re.compile(
    r"(?P<y>\d{4})(?P<s>[-/.])(?P<m>\d{1,2})(?P=s)(?P<d>\d{1,2})"
    r"(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w]|[-/.:]\d)"
    r"|(?P<p>\d{1,2})(?P<s2>[-/.])(?P<q>\d{1,2})(?P=s2)(?P<y2>\d{4})(?![\w]|[-/.:]\d)"
)
#: After a month name: "5, 2024", "5-7, 2024", "2024", or a bare day (skipped).
_AFTER_MONTH = re.compile(
    rf"(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?(?:{_SP}*[-\u2013]{_SP}*(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?)?"
    rf"(?:,{_SP}*|{_SP}+)(?P<y>\d{{4}})(?![\w]|[.,:/-]\d)"
    r"|(?P<ym>\d{4})(?![\w]|[.,:/-]\d)"
    r"|(?P<dn>\d{1,2})(?:st|nd|rd|th)?(?!\w)"
)
#: Where a number may start: a digit run or a currency symbol (the scan is a fast set search).
_ANCHOR = re.compile(r"[\d$€£¥₹][\d.,]*")
_BAD_BEFORE = frozenset(".,/#@:+-\u2013\u2014\u2212±^[_\\'\u2019=")
#: Where a sentence ends: . ! ? before a blank and a non-lowercase character; ; ; a blank
#: line, or a line break before a list item, heading, quote or table row.
_BOUNDARY = re.compile(
    r"[.!?;\n](?:(?<=[.!?])[\"'\u201d\u2019)\]]*(?=\s+(?![a-z]))|(?<=;)"
    r"|(?<=\n)(?=[ \t]*(?:\n|[-*•+#>|]|\d+[.)]\s)))"
)
#: Clause breaks between two quantities of one sentence.
_CLAUSE = re.compile(
    r"[,;(\u2014\u2013]|\s-\s|\b(?:and|but|or|while|whereas|however|although|though|whilst|versus|vs)\b",
    re.IGNORECASE,
)
_PUNCT = "\"'\u201c\u201d\u2018\u2019()[]{}<>«»,.;:!?*_/\\|`~@#%^&+=…-\u2013\u2014"


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Mention:
    """One quantity found in one chunk.

    ``text == chunk_text[start:end]`` (``str`` offsets; the span includes a bound such as
    "within" or "up to"). ``value`` is ``(low, high)`` in ``unit``: equal for a single
    value, ``-inf`` below an upper bound ("up to 5"), ``inf`` above a lower bound ("at
    least 5"). Units: ``"day"`` (calendar time, also hours, minutes and weeks, in days),
    ``"business day"``, ``"month"`` (months and years, in months), ``"age"`` (years),
    an ISO 4217 code for money (in that currency's units), ``"%"`` (``"% change"`` for "by
    30%", ``"percentage point"``), ``"date"`` (days since 1970-01-01), or the counted noun
    in the singular for a ``"number"``. ``terms`` are the key terms it is near, stemmed
    and sorted.

    >>> m = extract_mentions(7, "faq", "Orders ship within 2 business days.")[0]
    >>> m.kind, m.text, m.value, m.unit, m.terms, m.bound
    ('duration', 'within 2 business days', (-inf, 2.0), 'business day', ('order', 'ship'), 'upper')
    """

    chunk_id: int
    doc_id: str
    kind: str
    text: str
    start: int
    end: int
    value: tuple[float, float]
    unit: str
    terms: tuple[str, ...]

    @property
    def bound(self) -> Literal["exact", "range", "upper", "lower"]:
        """``"exact"``, ``"range"``, ``"upper"`` (no lower end) or ``"lower"`` (no upper end).

        >>> extract_mentions(1, "d", "at least 3 devices")[0].bound
        'lower'
        """
        low, high = self.value
        if low == -_INF:
            return "upper"
        if high == _INF:
            return "lower"
        return "exact" if low == high else "range"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data; open ends of ``value`` are ``None``.

        >>> extract_mentions(1, "d", "up to $20")[0].to_dict()["value"]
        [None, 20.0]
        """
        low, high = self.value
        return {
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "kind": self.kind,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "value": [None if low == -_INF else low, None if high == _INF else high],
            "unit": self.unit,
            "terms": list(self.terms),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mention:
        """The mention that :meth:`to_dict` gave.

        >>> m = extract_mentions(1, "d", "about 30 days")[0]
        >>> Mention.from_dict(m.to_dict()) == m
        True
        """
        try:
            low, high = data["value"]
            return cls(
                int(data["chunk_id"]),
                str(data["doc_id"]),
                str(data["kind"]),
                str(data["text"]),
                int(data["start"]),
                int(data["end"]),
                (-_INF if low is None else float(low), _INF if high is None else float(high)),
                str(data["unit"]),
                tuple(str(t) for t in data["terms"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(
                f"not a Mention dict ({exc!r}); pass what Mention.to_dict() returned"
            ) from None


@dataclass(frozen=True, slots=True)
class Conflict:
    """Mentions of one kind and unit, near the same key terms, from at least two
    documents, whose values disagree.

    ``terms`` are the key terms the disagreeing mentions share; ``mentions`` lists every
    mention that disagrees with a mention of another document, in input order (chunk,
    then offset). Two values disagree when their ranges are disjoint, or when both are
    upper bounds (or both lower bounds) with different limits.

    >>> c = find_conflicts([(1, "a", "The free plan allows up to 3 devices."),
    ...                     (2, "b", "On the free plan you get up to 5 devices.")])[0]
    >>> c.kind, c.unit, c.doc_ids, [m.value for m in c.mentions]
    ('number', 'device', ('a', 'b'), [(-inf, 3.0), (-inf, 5.0)])
    """

    kind: str
    terms: tuple[str, ...]
    mentions: tuple[Mention, ...]

    @property
    def unit(self) -> str:
        """The unit all its mentions share.

        >>> find_conflicts([(1, "a", "Refunds take 14 days."),
        ...                 (2, "b", "Refunds take 30 days.")])[0].unit
        'day'
        """
        return self.mentions[0].unit if self.mentions else ""

    @property
    def doc_ids(self) -> tuple[str, ...]:
        """The documents involved, in order of first mention.

        >>> find_conflicts([(1, "a", "Refunds take 14 days."),
        ...                 (2, "b", "Refunds take 30 days.")])[0].doc_ids
        ('a', 'b')
        """
        return tuple(dict.fromkeys(m.doc_id for m in self.mentions))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data for traces and eval reports (``unit`` and ``doc_ids`` included).

        >>> import json
        >>> c = find_conflicts([(1, "a", "Refunds take 14 days."),
        ...                     (2, "b", "Refunds take 30 days.")])[0]
        >>> d = json.loads(json.dumps(c.to_dict()))
        >>> d["kind"], d["unit"], d["doc_ids"], Conflict.from_dict(d) == c
        ('duration', 'day', ['a', 'b'], True)
        """
        return {
            "kind": self.kind,
            "unit": self.unit,
            "terms": list(self.terms),
            "doc_ids": list(self.doc_ids),
            "mentions": [m.to_dict() for m in self.mentions],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conflict:
        """The conflict that :meth:`to_dict` gave (``unit`` and ``doc_ids`` are derived).

        >>> Conflict.from_dict({"kind": "money", "terms": [], "mentions": []}).mentions
        ()
        """
        try:
            return cls(
                str(data["kind"]),
                tuple(str(t) for t in data["terms"]),
                tuple(Mention.from_dict(m) for m in data["mentions"]),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidInput(
                f"not a Conflict dict ({exc!r}); pass what Conflict.to_dict() returned"
            ) from None


class ChunkLike(Protocol):
    """Anything with ``chunk_id``, ``doc_id`` and ``text``, such as a ``SearchHit``."""

    @property
    def chunk_id(self) -> int: ...
    @property
    def doc_id(self) -> str: ...
    @property
    def text(self) -> str: ...


# ----------------------------------------------------------------------------- extraction

# A raw mention: (start, end, kind, unit, low, high).
_Raw: TypeAlias = tuple[int, int, str, str, float, float]


@functools.lru_cache(maxsize=4096)
def _number(token: str) -> float:
    word = token.lower()
    if word[0].isdigit():
        return float(word.replace(",", ""))
    if word in _WORD_VALUES:
        return float(_WORD_VALUES[word])
    tens, _, unit = word.replace(" ", "-").partition("-")
    return float(_WORD_VALUES[tens] + _WORD_VALUES[unit])


def _day_number(year: int, month: int, day: int) -> float | None:
    try:
        return float(_dt.date(year, month, day).toordinal() - _EPOCH)
    except ValueError:
        return None


def _month_span(year: int, month: int) -> tuple[float, float] | None:
    """The first and the last day of a month, as day numbers."""
    first = _day_number(year, month, 1)
    if first is None:
        return None
    return first, first + calendar.monthrange(year, month)[1] - 1


def _is_year(token: str) -> bool:
    return len(token) == 4 and token.isdigit() and 1800 <= int(token) <= 2100


def _sentence_initial(text: str, pos: int) -> bool:
    """Whether the word starting at ``pos`` starts a sentence (or a line, a clause)."""
    j = pos
    while j > 0 and text[j - 1] in " \t\u00a0":
        j -= 1
    return j == 0 or text[j - 1] in ".!?\n:;(\"\u201c'\u2018*-•|>"


def _apply_bound(
    kind: str, bound: str | None, low: float, high: float, direction: str | None
) -> tuple[float, float]:
    """``(low, high)`` after a bound word before the number (``bound``: "up to", "since")
    and a bound phrase after it (``direction``: ``"upper"`` for "or less", ``"lower"`` for
    "or more").

    Upper and lower bounds apply to a single value; a range keeps its ends ("within 5-10
    days" is 5 to 10 days), except that a date bound applies to a month ("before March
    2024"). An approximation widens the value by 10% each way.
    """
    b = " ".join(bound.lower().split()) if bound else ""
    single = low == high
    if kind == "date":  # "before March 2024": before its end; "after March 2024": its start
        if b in _DATE_UPPER:
            return -_INF, high
        if b in _DATE_LOWER:
            return low, _INF
        return low, high
    if (b in _UPPER or direction == "upper") and single:
        return -_INF, high
    if (b in _LOWER or direction == "lower") and single:
        return low, _INF
    if b in _APPROX:
        return round(low * 0.9, 9), round(high * 1.1, 9)
    return low, high


def _scan(text: str) -> list[_Raw]:
    """Every quantity of ``text``, in order, without key terms."""
    anchors = [m.start() for m in _ANCHOR.finditer(text)]
    words = _word_anchors(text)
    if words:
        anchors = sorted(anchors + words)
    out: list[_Raw] = []
    done = 0  # text before this offset is taken
    for p in anchors:
        if p < done:
            continue
        got = _at(text, p)
        if got is None:
            continue
        raw, consumed = got
        done = max(done, consumed)
        if raw is None:
            continue
        if out and raw[0] < out[-1][1]:
            continue  # overlaps the previous mention (a bound reaching back)
        if out and text[p] in "aA" and not text[out[-1][1] : raw[0]].strip():
            continue  # "$20 a month", "3 devices an hour": a rate
        out.append(raw)
    return out


def _word_anchors(text: str) -> list[int]:
    """Offsets of number words, and of "a"/"an" before a duration unit ("within a week").

    A cheap test first: the words of the text (as bytes, split at ASCII punctuation) are
    checked against the number words, so that only the words present are searched for.
    """
    low = text.encode("utf-8", "surrogatepass").lower()
    words = _WATCHED_B.intersection(low.translate(_SPLIT_BYTES).split())
    if not words:
        return []
    present = [w.decode() for w in _NUMBER_WORDS_B & words]
    if b"a" in words or b"an" in words:
        for unit in _DURATION_WORDS_B & words:
            present.extend(_ARTICLE_PHRASES[unit])
    if not present:
        return []
    found: list[int] = []
    n = len(text)
    ascii_text = len(low) == n  # then byte offsets are str offsets
    for word in present:
        if ascii_text:
            forms: Iterable[tuple[str | bytes, str | bytes]] = ((word.encode(), low),)
        else:
            forms = ((f, text) for f in {word, word.capitalize(), word.upper()})
        for form, hay in forms:
            i = hay.find(form)  # type: ignore[arg-type]
            while i >= 0:
                k = i + len(form)
                if (i == 0 or not text[i - 1].isalnum()) and (k == n or not text[k].isalnum()):
                    found.append(i)
                i = hay.find(form, k)  # type: ignore[arg-type]
    found.sort()
    return found


_SPLIT_CHARS = b"()[]{}<>\"'-/,.;:!?*~"
_SPLIT_BYTES = bytes.maketrans(_SPLIT_CHARS, b" " * len(_SPLIT_CHARS))
_NUMBER_WORDS_B = frozenset(w.encode() for w in _UNITS + _TEENS + list(_TENS))
_DURATION_WORDS_B = frozenset(
    w.encode() for w in ("day", "week", "month", "year", "hour", "minute", "fortnight")
)
_WATCHED_B = _NUMBER_WORDS_B | _DURATION_WORDS_B | {b"a", b"an"}
_ARTICLE_PHRASES: dict[bytes, tuple[str, ...]] = {
    b"day": ("a day", "a business day", "a working day"),
    b"week": ("a week",),
    b"month": ("a month",),
    b"year": ("a year",),
    b"hour": ("an hour",),
    b"minute": ("a minute",),
    b"fortnight": ("a fortnight",),
}


def _at(text: str, p: int) -> tuple[_Raw | None, int] | None:
    """The quantity whose number starts at ``p``: ``(mention or None, end of the text it
    takes)``, or None when nothing starts there."""
    if p > 0 and (text[p - 1].isalnum() or text[p - 1] in _BAD_BEFORE):
        if not (text[p] == "$" and _Before(text, p).group("dpre")):  # "US$5"
            return None
    digit = text[p].isdigit()
    if digit:
        head = text[p + 1 : p + 5]
        if "-" in head or "/" in head or "." in head:
            nd = _NUMERIC_DATE.match(text, p)
            if nd is not None:
                return _numeric_date(text, p, nd, _Before(text, p)), nd.end()
    m = _NUMBER.match(text, p)
    if m is None:
        return None
    if m.group("b") is not None:
        sym, sym2, sep = m.group("sym", "sym2", "sep")
        two = sym2 is not None and (sym or "").strip() != sym2.strip()  # "$20 or €18"
        if two or (sep.lower() == "and" and not _BETWEEN.search(text, max(0, p - 12), p)):
            m = _NUMBER_ONE.match(text, p)
            assert m is not None
    num_end = m.end()
    t = _TAIL.match(text, num_end)
    assert t is not None  # every part is optional
    plain = m.group("sym") is None and m.group("pa") is None
    after_word = (  # a month name or a currency code may stand before it
        digit
        and p > 1
        and text[p - 1] in " \t\u00a0"
        and (text[p - 2].isalpha() or text[p - 2] == ".")
    )
    if plain and not after_word:
        # Most numbers have no unit ("p = 0.02", "(n = 17)", "0.016 versus"): done early.
        if t.end() == num_end:
            return None, num_end
        w1 = t.group("w1")
        if t.group("glue", "plus") == (None, None) and w1 and w1.lower() in _DEAD_WORDS:
            return None, num_end
    before = _Before(text, p)
    if digit and before.group("month") is not None:
        return _after_month(text, p, before)
    if plain and t.end() == num_end and before.group("code") is None:
        return None, num_end  # a bare number after a word: "in 17", "Figure 3"
    return _classify(text, p, m, t, before), num_end


def _span_start(before: _Before, p: int, *groups: str) -> int:
    starts = [before.start(g) for g in groups if before.group(g) is not None]
    return min(starts) if starts else p


def _date_bound(before: _Before, start: int) -> tuple[str | None, int]:
    """The date bound before a date ("before", "since", ...) and where the span starts."""
    bound = before.group("bound")
    if bound is not None and " ".join(bound.lower().split()) in _DATE_UPPER + _DATE_LOWER:
        return bound, before.start("bound")
    return None, start


def _after_month(text: str, p: int, before: _Before) -> tuple[_Raw | None, int] | None:
    am = _AFTER_MONTH.match(text, p)
    if am is None:
        return None
    if am.group("dn") is not None:
        return None, am.end()  # a day without a year: skipped, and not a count either
    month = _MONTHS[(before.group("month") or "").lower().rstrip(".")]
    if am.group("ym") is not None:
        span = _month_span(int(am.group("ym")), month)
        if span is None:
            return None, am.end()
        low, high = span
    else:
        year = int(am.group("y"))
        first = _day_number(year, month, int(am.group("d1")))
        last = first if am.group("d2") is None else _day_number(year, month, int(am.group("d2")))
        if first is None or last is None or last < first:
            return None, am.end()
        low, high = first, last
    bound, start = _date_bound(before, before.start("month"))
    low, high = _apply_bound("date", bound, low, high, None)
    return (start, am.end(), "date", "date", low, high), am.end()


def _numeric_date(text: str, p: int, nd: re.Match[str], before: _Before) -> _Raw | None:
    if nd.group("y") is not None:
        year, month, day = int(nd.group("y")), int(nd.group("m")), int(nd.group("d"))
    else:
        a, b, year = int(nd.group("p")), int(nd.group("q")), int(nd.group("y2"))
        if a > 12 >= b:
            day, month = a, b
        elif b > 12 >= a or a == b:
            month, day = a, b
        else:
            return None  # 05/03/2024: 5 March or May 3? ambiguous, skipped
    value = _day_number(year, month, day)
    if value is None:
        return None
    bound, start = _date_bound(before, p)
    low, high = _apply_bound("date", bound, value, value, None)
    return (start, nd.end(), "date", "date", low, high)


#: The number part of a quantity: a currency symbol, a number or number word, a range.
_NUMBER = re.compile(
    rf"""
    (?P<sym>[$€£¥₹]{_SP}?)?
    (?P<a>{_NUM}|(?i:{_WORDNUM}))
    (?P<pa>{_SP}?%)?
    (?:
      {_SP}*(?P<sep>-|\u2013|\u2014|(?i:to|through|thru|and|or)(?!\w)){_SP}*
      (?P<sym2>[$€£¥₹]{_SP}?)?
      (?P<b>{_NUM}|(?i:{_WORDNUM}))
    )?
    """,
    re.VERBOSE,
)
#: The same without the range, for "$20 or €18" and "5 and 10 days" (two values).
_NUMBER_ONE = re.compile(
    rf"(?P<sym>[$€£¥₹]{_SP}?)?(?P<a>{_NUM}|(?i:{_WORDNUM}))(?P<pa>{_SP}?%)?"
    r"(?:(?!)(?P<sep>)(?P<sym2>)(?P<b>))?"  # the groups of _NUMBER, never matched
)
#: What follows the number: a sign or word glued to it ("%", "-day", "24h", "5k", "15€"),
#: then up to four words, matched generically and looked up in the tables above.
_TAIL = re.compile(
    rf"""
    (?P<plus>\+)?
    (?P<glue>%|-(?:[^\W\d_]+-)*[^\W\d_]+(?![\w-])|[^\W\d_]+(?!\w)|[$€£¥₹](?!\w))?
    (?:{_SP}+(?P<w1>[^\W_]+|%)
      (?:{_SP}+(?P<w2>[^\W_]+)
        (?:{_SP}+(?P<w3>[^\W_]+)
          (?:{_SP}+(?P<w4>[^\W_]+))?)?)?)?
    """,
    re.VERBOSE,
)
_WORD_MAGNITUDES = {
    "thousand": 1e3,
    "million": 1e6,
    "mn": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "trillion": 1e12,
}
_GLUED_MAGNITUDES = {"k": 1e3, "m": 1e6, "mn": 1e6, "b": 1e9, "bn": 1e9}
_ORDINALS = frozenset(("st", "nd", "rd", "th"))
_GLUED_DURATIONS = frozenset(
    ("h", "hr", "hrs", "min", "mins", "day", "days", "wk", "wks", "yr", "yrs", "d")
)
_OR_BOUNDS = {
    "more": "lower",
    "greater": "lower",
    "longer": "lower",
    "above": "lower",
    "over": "lower",
    "later": "lower",
    "after": "lower",
    "fewer": "upper",
    "less": "upper",
    "shorter": "upper",
    "under": "upper",
    "below": "upper",
    "earlier": "upper",
    "before": "upper",
}
_WORD_BOUNDS = {"max": "upper", "maximum": "upper", "min": "lower", "minimum": "lower"}
_MONTH_CASED = frozenset(_MONTH_LIST)
_NOUN = re.compile(r"[^\W\d_]{3,}\Z")
_NOUN_AFTER = re.compile(r"['\u2019]\w|[/-]\w")
_BETWEEN = re.compile(r"(?<![^\W\d_])between\s+(?:[$€£¥₹]\s?)?\Z", re.IGNORECASE)
_BAD_AFTER = re.compile(r"[.,:/\-\u2013]\d|\]|['\u2019]\w")


def _suffix_bound(words: Sequence[tuple[str, int, int]], k: int) -> tuple[str | None, int]:
    """A bound phrase at ``words[k:]`` ("or more", "at most", "max"): its direction and
    the number of words it takes."""
    if k < len(words):
        w = words[k][0].lower()
        if w in _WORD_BOUNDS:
            return _WORD_BOUNDS[w], 1
        if k + 1 < len(words):
            nxt = words[k + 1][0].lower()
            if w == "or" and nxt in _OR_BOUNDS:
                return _OR_BOUNDS[nxt], 2
            if w == "at" and nxt in ("most", "least"):
                return ("upper" if nxt == "most" else "lower"), 2
    return None, 0


def _classify(
    text: str, p: int, m: re.Match[str], t: re.Match[str], before: _Before
) -> _Raw | None:
    """Kind, unit and value of a number and what follows it, or None when it is not a
    quantity (or not one this module can tell)."""
    a_tok, b_tok = m.group("a", "b")
    bound = before.group("bound")
    bound_l = " ".join(bound.lower().split()) if bound else ""
    num_end = m.end()
    plus, glue = t.group("plus", "glue")
    if glue is None and plus is None and _BAD_AFTER.match(text, num_end):
        return None  # "2.3.1", "10:30", "555-123-4567", "[1]"
    regs = t.regs
    words = [(text[regs[i][0] : regs[i][1]], *regs[i]) for i in _TAIL_WORDS if regs[i][0] >= 0]
    article = a_tok.lower() in ("a", "an")
    # Currency before the number.
    currency = None
    if m.group("sym"):
        currency = _SYMBOLS[m.group("sym").strip()]
        dpre = before.group("dpre")
        if dpre and currency == "USD":
            currency = _DOLLAR_PREFIXES[dpre]
    elif before.group("code"):
        currency = before.group("code")
    scale = 1.0
    direction = "lower" if plus else None  # "5+ users"
    kind = unit = ""
    factor = 1.0
    end = t.end("plus") if plus else num_end
    k = 0  # words taken
    ordinal = False
    # A sign or word glued to the number.
    if glue is not None:
        lg = glue.lower()
        if glue == "%":
            kind, unit, end = "percent", "%", t.end("glue")
        elif glue[0] == "-":
            parts = lg[1:].split("-")
            if parts[-1] == "old" and len(parts) == 2 and parts[0] in ("year", "years"):
                kind, unit, end = "duration", "age", t.end("glue")
            else:
                found = _duration_unit(" ".join(parts))
                if found is None:
                    return None  # "5-fold", "one-time"
                kind, (unit, factor), end = "duration", found, t.end("glue")
        elif glue in _SYMBOLS:
            after = _SYMBOLS[glue]
            if currency and after != currency:
                return None
            currency, end = after, t.end("glue")
        elif lg in _GLUED_MAGNITUDES and currency is not None:
            scale, end = _GLUED_MAGNITUDES[lg], t.end("glue")
        elif lg in _ORDINALS and b_tok is None:
            ordinal = True
        elif lg in _GLUED_DURATIONS and a_tok[0].isdigit():
            found = _duration_unit(lg)
            if found is None:
                return None
            kind, (unit, factor), end = "duration", found, t.end("glue")
        else:
            return None  # "3D", "5mg", "x86": an identifier or a measurement
    # The words after it.
    lw = [w[0].lower() for w in words]
    if not kind:
        if k < len(lw) and lw[k] == "or" and k + 1 < len(lw) and lw[k + 1] in _OR_BOUNDS:
            direction, end, k = _OR_BOUNDS[lw[k + 1]], words[k + 1][2], k + 2  # "5 or more days"
        if k < len(lw) and lw[k] in _WORD_MAGNITUDES and scale == 1.0:
            scale, end, k = _WORD_MAGNITUDES[lw[k]], words[k][2], k + 1
    if not kind and k < len(words):
        w, ws = lw[k], words[k][0]
        nxt = lw[k + 1] if k + 1 < len(lw) else ""
        if ordinal or (ws == "of" and nxt.capitalize() in _MONTH_CASED) or ws in _MONTH_CASED:
            j = k + 1 if ws == "of" else k
            if j + 1 < len(words) and words[j][0] in _MONTH_CASED and _is_year(words[j + 1][0]):
                month = _MONTHS[words[j][0].lower()]
                year = int(words[j + 1][0])
                low, high = _number(a_tok), _number(b_tok) if b_tok else _number(a_tok)
                first = _day_number(year, month, int(low)) if low.is_integer() else None
                last = _day_number(year, month, int(high)) if high.is_integer() else None
                if first is None or last is None or currency or m.group("pa") or plus:
                    return None
                date_bound, start = _date_bound(before, p)
                low, high = _apply_bound("date", date_bound, first, last, None)
                return (start, words[j + 1][2], "date", "date", low, high)
            return None  # "5 March" without a year, "5th": not a quantity
        elif ws == "%":
            kind, unit, end, k = "percent", "%", words[k][2], k + 1
        elif w in ("percent", "pct"):
            kind, unit, end, k = "percent", "%", words[k][2], k + 1
        elif w == "per" and nxt == "cent":
            kind, unit, end, k = "percent", "%", words[k + 1][2], k + 2
        elif w == "percentage" and nxt in ("point", "points"):
            kind, unit, end, k = "percent", "percentage point", words[k + 1][2], k + 2
        elif ws in _CODES or w in _CURRENCY_WORDS:
            after, cscale = (ws, 1.0) if ws in _CODES else _CURRENCY_WORDS[w]
            if currency and after != currency:
                return None
            currency, scale, end, k = after, scale * cscale, words[k][2], k + 1
        elif w in ("business", "working", "calendar") and nxt and _duration_unit(f"{w} {nxt}"):
            kind, (unit, factor) = "duration", _duration_unit(f"{w} {nxt}")  # type: ignore[misc]
            end, k = words[k + 1][2], k + 2
        elif not article or w in _ARTICLE_UNITS:
            found = _duration_unit(w) if w != "h" or a_tok[0].isdigit() else None
            if found is not None:
                kind, (unit, factor), end, k = "duration", found, words[k][2], k + 1
    if kind == "duration" and unit != "age":
        age = lw[k : k + 2]
        if age[:1] == ["old"] or age == ["of", "age"] or _prev_word(before) in ("aged", "age"):
            if factor != 12.0:
                return None  # "5 months old": an age, but not in years
            unit, factor = "age", 1.0
            if age[:1] == ["old"]:
                end, k = words[k][2], k + 1
            elif age == ["of", "age"]:
                end, k = words[k + 1][2], k + 2
    if currency is not None:
        if kind or m.group("pa"):
            return None  # "$5%", "$5 days"
        kind, unit = "money", currency
    if not kind and not article and k < len(words) and m.group("pa") is None:
        got = _count(text, words, k, _number(a_tok), b_tok)
        if got is None:
            return None
        kind, unit, factor, end, k = got
    if not kind and m.group("pa") is not None:
        if b_tok is not None:
            return None  # "5%-10" without the second sign
        kind, unit, end = "percent", "%", max(end, m.end("pa"))
    if not kind or (article and kind != "duration"):
        return None
    if article and _prev_word(before) in ("once", "twice", "thrice", "times", "per"):
        return None  # "twice a week": a rate
    # A bound phrase after the unit: "5 days or more", "10 users max".
    if direction is None:
        direction, taken = _suffix_bound(words, k)
        if taken:
            end = words[k + taken - 1][2]
    if kind == "percent":
        if bound_l == "by" and unit == "%":
            unit = "% change"  # "reduced by 30%": a change, not a level
        if _INTERVAL.match(text, end):
            return None  # "95% CI": the level of an interval, not a measured share
        if p > 0 and text[p - 1] == "(" and _RESTATED.search(text, max(0, p - 24), p - 1):
            return None  # "2216 (0.7%)": a count restated as a share
    low = _number(a_tok) * scale * factor
    high = _number(b_tok) * scale * factor if b_tok is not None else low
    if high < low:
        return None  # "3-1": a score, not a range
    # A number that is a label ("type 2", "Windows 10") or a year ("in 2019").
    prev = before.group("prev")
    prev_l = _prev_word(before)
    if kind != "money" and not bound:
        if prev_l in _LABELS or prev_l == "per":  # "type 2", "per 100 women"
            return None
        if prev and prev[0].isupper() and not _sentence_initial(text, before.start("prev")):
            return None
    if kind != "money" and (_is_year(a_tok) or (b_tok and _is_year(b_tok))):
        if prev_l in _YEAR_WORDS or bound_l in _YEAR_WORDS:
            return None
    if bound_l == "between" and b_tok is None:
        bound = None
    low, high = _apply_bound(kind, bound, low, high, direction)
    start = _span_start(before, p, "bound", "code", "dpre") if bound else p
    if not bound and (before.group("code") or (before.group("dpre") and m.group("sym"))):
        start = _span_start(before, p, "code", "dpre")
    if 0 < start < p and (text[start - 1].isalnum() or text[start - 1] in _BAD_BEFORE):
        return None
    return (start, end, kind, unit, low, high)


_TAIL_WORDS = tuple(_TAIL.groupindex[n] for n in ("w1", "w2", "w3", "w4"))
# Stopwords that cannot start a unit: a number followed by one of them is no quantity.
_DEAD_WORDS = _STOPWORDS - frozenset(
    [
        *_DURATIONS,
        *(f"{d}s" for d in _DURATIONS),
        "hrs",
        "mins",
        "secs",
        "wks",
        "yrs",
        "mos",
        "or",
        "per",
        "percent",
        "pct",
        "percentage",
        "of",
        *_WORD_MAGNITUDES,
        *_CURRENCY_WORDS,
        "business",
        "working",
        "calendar",
        "old",
        *(m.lower() for m in _MONTH_LIST),
        *(c.lower() for c in _CODES),
    ]
)
_ARTICLE_UNITS = frozenset(("day", "week", "month", "year", "hour", "minute", "fortnight"))


def _prev_word(before: _Before) -> str:
    prev = before.group("prev")
    return prev.lower().rstrip(".") if prev else ""


def _count(
    text: str, words: Sequence[tuple[str, int, int]], k: int, value: float, b_tok: str | None
) -> tuple[str, str, float, int, int] | None:
    """``(kind, unit, factor, end, words taken)`` of a count ("3 devices", "10 user seats",
    "12 healthy volunteers") or a duration with a modifier ("20 vacation days")."""
    w, _, e = words[k]
    low = w.lower()
    if low in _ADJECTIVE_SET and k + 1 < len(words):  # "5 additional users"
        k += 1
        w, _, e = words[k]
        low = w.lower()
    if not _NOUN.match(low) or _NOUN_AFTER.match(text, e):
        return None
    if low in _STOPWORDS or low in _NOT_NOUNS or low in _ADJECTIVE_SET or low in _MONTHS:
        return None
    unit = _singular(low)
    if (value == 1.0 and b_tok is None) or unit != low or low in _PLURALS:
        return "number", unit, 1.0, e, k + 1
    # Not a plural: an adjective or the first word of a compound; the counted noun may
    # come next ("10 user seats", "12 healthy volunteers", "20 vacation days").
    if k + 1 >= len(words):
        return None
    w2, _, e2 = words[k + 1]
    low2 = w2.lower()
    found = _duration_unit(low2)
    if found is not None and low2 not in ("h", "min"):
        return "duration", found[0], found[1], e2, k + 2
    if not _NOUN.match(low2) or _NOUN_AFTER.match(text, e2) or low2 in _STOPWORDS:
        return None
    head = _singular(low2)
    if head == low2 and low2 not in _PLURALS:
        return None  # "three open reading frames"
    return "number", head, 1.0, e2, k + 2


# Plurals without an -s, for counts ("491 women"), and their singulars.
_IRREGULAR = {
    "men": "man",
    "women": "woman",
    "children": "child",
    "people": "person",
    "teeth": "tooth",
    "feet": "foot",
    "mice": "mouse",
    "geese": "goose",
    "criteria": "criterion",
    "data": "datum",
    "media": "medium",
}
_PLURALS = frozenset([*_IRREGULAR, "staff", "personnel", "sheep", "fish", "deer", "aircraft"])
_RESTATED = re.compile(r"\d\s*\Z")
_INTERVAL = re.compile(
    r"[\s(\[]*(?:CI|CrI|UI|PI|HDI|(?:confidence|credible|credibility|uncertainty|prediction)"
    r"(?:\s+intervals?|\s+limits?|\s+bounds?|\s+level)?)\b",
    re.IGNORECASE,
)
_ADJECTIVE_SET = frozenset(_ADJECTIVES)


@functools.lru_cache(maxsize=4096)
def _duration_unit(word: str) -> tuple[str, float] | None:
    """The canonical unit and factor of a duration word ("weeks" -> ("day", 7.0))."""
    w = " ".join(word.lower().replace("-", " ").split())
    if w not in _DURATIONS and w.endswith("s"):
        w = w[:-1]
    return _DURATIONS.get(w)


@functools.lru_cache(maxsize=4096)
def _singular(noun: str) -> str:
    """The singular of a counted noun, by English plural endings ("devices" -> "device")."""
    if noun in _IRREGULAR:
        return _IRREGULAR[noun]
    if len(noun) > 4 and noun.endswith("ies"):
        return noun[:-3] + "y"
    if noun.endswith(("sses", "xes", "ches", "shes", "zzes")):
        return noun[:-2]
    if len(noun) > 3 and noun.endswith("s") and not noun.endswith(("ss", "us", "is")):
        return noun[:-1]
    return noun


# ----------------------------------------------------------------------------- key terms


@functools.lru_cache(maxsize=1 << 16)
def _terms_of(token: str) -> tuple[str, ...]:
    """The key terms of one whitespace-separated token (often none)."""
    word = token.strip(_PUNCT).lower()
    if len(word) < 3 or word in _STOPWORDS or not any(c.isalpha() for c in word):
        return ()
    out = []
    for term in _ANALYZER.analyze(word):
        if len(term) >= 3 and term not in _STOP_STEMS and not any(c.isdigit() for c in term):
            out.append(term)
    return tuple(out)


_STOP_STEMS = frozenset(t for w in _STOPWORDS for t in _ANALYZER.analyze(w))


class _Analysis:
    """The quantities of one text, its sentence ends, and the contexts computed so far.

    Kept in a small cache keyed by the text, since a context builder sees the same chunks
    request after request. Filling ``contexts`` from two threads at once is harmless:
    both compute the same value.
    """

    __slots__ = ("_bounds", "contexts", "raws", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.raws: tuple[_Raw, ...] = tuple(_scan(text))
        self._bounds: list[int] | None = None
        self.contexts: dict[tuple[int, int], _Context] = {}

    def context(self, i: int, window: int) -> _Context:
        got = self.contexts.get((i, window))
        if got is None:
            if self._bounds is None:
                self._bounds = _sentence_bounds(self.text)
            got = _terms_for(self.text, self.raws, self._bounds, i, window)
            self.contexts[i, window] = got
        return got


_cached_analysis = functools.lru_cache(maxsize=_CACHE_SIZE)(_Analysis)


def _analysis(text: str) -> _Analysis:
    """The analysis of ``text``, from the cache when the text is chunk-sized."""
    return _cached_analysis(text) if len(text) <= _CACHE_MAX_CHARS else _Analysis(text)


def _sentence_bounds(text: str) -> list[int]:
    """The offsets where sentences end (exclusive), in order."""
    return [m.end() for m in _BOUNDARY.finditer(text)]


class _Context(NamedTuple):
    """What surrounds one mention: its key terms, whether its sentence is a terse line,
    and the pairs of terms that stand next to each other ("free plan": (free, plan))."""

    terms: tuple[str, ...]
    terse: bool
    pairs: tuple[tuple[str, str], ...]


_BREAK = " \x00 "  # joins the pieces around a left-out quantity; adjacency stops there


def _window_terms(tokens: Sequence[str], window: int, *, nearest_last: bool) -> list[list[str]]:
    """The terms of the ``window`` tokens nearest the quantity that have any, in text
    order; a token without terms between two with terms is kept as ``[]`` (a break)."""
    picked: list[list[str]] = []
    seen = 0
    for token in reversed(tokens) if nearest_last else tokens:
        got = _terms_of(token)
        picked.append(list(got))
        if got:
            seen += 1
            if seen >= window:
                break
    if nearest_last:
        picked.reverse()
    return picked


def _terms_for(text: str, raws: Sequence[_Raw], bounds: list[int], i: int, window: int) -> _Context:
    """The context of ``raws[i]``: up to ``window`` content words on each side, in its
    sentence; a clause break (a comma, "and", ...) between two quantities closes the
    window, and other quantities in it are left out."""
    start, end = raws[i][0], raws[i][1]
    k = bisect_right(bounds, start)
    s_start = bounds[k - 1] if k > 0 else 0
    s_end = bounds[k] if k < len(bounds) else len(text)
    line_start = s_start == 0 or text[s_start - 1] == "\n"
    terse = (
        line_start
        and s_end - s_start <= 16 * _TERSE_WORDS
        and len(text[s_start:s_end].split()) <= _TERSE_WORDS
    )
    reach = window * 24 + 48  # characters; enough for the words, bounded for huge inputs
    left = max(s_start, start - reach)
    right = min(s_end, end + reach)
    if i > 0 and raws[i - 1][1] > left:
        cuts = list(_CLAUSE.finditer(text, raws[i - 1][1], start))
        if cuts:
            left = cuts[-1].end()
    if i + 1 < len(raws) and raws[i + 1][0] < right:
        first = _CLAUSE.search(text, end, raws[i + 1][0])
        if first is not None:
            right = first.start()
    before: list[str] = []
    pos = start
    j = i - 1
    while j >= 0 and raws[j][1] > left:
        before.append(text[max(left, raws[j][1]) : pos])
        pos = raws[j][0]
        j -= 1
    if pos > left:
        before.append(text[left:pos])
    tokens = _BREAK.join(reversed(before)).split()
    if left == start - reach and left > 0 and tokens:
        tokens = tokens[1:]  # a word cut by the reach limit
    picked = _window_terms(tokens, window, nearest_last=True)
    after: list[str] = []
    pos = end
    j = i + 1
    while j < len(raws) and raws[j][0] < right:
        after.append(text[pos : raws[j][0]])
        pos = max(pos, raws[j][1])
        j += 1
    if pos < right:
        after.append(text[pos:right])
    tokens = _BREAK.join(after).split()
    if right == end + reach and right < len(text) and tokens:
        tokens = tokens[:-1]
    picked.append([])  # the quantity itself breaks adjacency
    picked.extend(_window_terms(tokens, window, nearest_last=False))
    terms = sorted({t for got in picked for t in got})
    pairs: set[tuple[str, str]] = set()
    prev: list[str] = []
    for got in picked:
        if got and prev and got[0] != prev[-1]:
            pairs.add((prev[-1], got[0]))
        prev = got
    return _Context(tuple(terms), terse, tuple(sorted(pairs)))


_TERSE_WORDS = 10


# ----------------------------------------------------------------------------- public API


def _check_window(window: int) -> int:
    if isinstance(window, bool) or not isinstance(window, int):
        raise TypeError(f"window must be an int, not {type(window).__name__}")
    if window < 1:
        raise InvalidInput(f"window must be >= 1 (content words on each side), got {window}")
    return window


def _check_chunk(chunk_id: object, doc_id: object, text: object, where: str) -> None:
    if isinstance(chunk_id, bool) or not isinstance(chunk_id, int):
        raise TypeError(f"{where}chunk_id must be an int, not {type(chunk_id).__name__}")
    if not isinstance(doc_id, str):
        raise TypeError(f"{where}doc_id must be a str, not {type(doc_id).__name__}")
    if not isinstance(text, str):
        raise TypeError(f"{where}text must be a str, not {type(text).__name__}; decode bytes first")


def extract_mentions(chunk_id: int, doc_id: str, text: str, *, window: int = 3) -> list[Mention]:
    """The quantities of one chunk's text, in order: durations, money, percentages, dates
    and counts with a unit noun, each with its key terms.

    ``window`` is how many content words on each side of a quantity, within its
    sentence, become its key terms. Extraction is English-only; text in other languages
    gives few or no mentions and never fails.

    >>> for m in extract_mentions(1, "policy", "Premium costs $20 (up to 5 users) and "
    ...                           "refunds take 5-10 business days."):
    ...     print(m.kind, repr(m.text), m.value, m.unit)
    money '$20' (20.0, 20.0) USD
    number 'up to 5 users' (-inf, 5.0) user
    duration '5-10 business days' (5.0, 10.0) business day

    Errors: ``TypeError`` when ``chunk_id`` is not an int or ``doc_id``/``text`` not a
    str; :class:`~covekit.errors.InvalidInput` for ``window < 1``.
    """
    _check_chunk(chunk_id, doc_id, text, "")
    _check_window(window)
    found = _analysis(text)
    return [
        Mention(
            chunk_id,
            doc_id,
            r[2],
            text[r[0] : r[1]],
            r[0],
            r[1],
            (r[4], r[5]),
            r[3],
            found.context(i, window).terms,
        )
        for i, r in enumerate(found.raws)
    ]


def _disagree(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two values cannot both be true of the same thing."""
    (alo, ahi), (blo, bhi) = a, b

    def differ(x: float, y: float) -> bool:
        return abs(x - y) > 1e-9 * max(1.0, abs(x), abs(y))

    if alo == -_INF and blo == -_INF:
        return ahi != bhi and differ(ahi, bhi)
    if ahi == _INF and bhi == _INF:
        return alo != blo and differ(alo, blo)
    return (ahi < blo and differ(ahi, blo)) or (bhi < alo and differ(bhi, alo))


def _needed(a: _Context, b: _Context, min_shared_terms: int) -> int:
    """How many key terms two mentions must share: ``min_shared_terms``, or fewer when a
    terse line ("Shipping: 7 business days.") has fewer terms; never less than one."""
    need = min_shared_terms
    if a.terse:
        need = min(need, len(a.terms))
    if b.terse:
        need = min(need, len(b.terms))
    return max(need, 1)


def _contrast(a: _Context, b: _Context) -> bool:
    """Whether a shared term has a different term right before it on each side, one the
    other side lacks ("free plan" against "pro plan", "daily limit" against "monthly
    limit"): then they are about different things. (The term after is not compared: it
    is often a verb, "plan costs" against "plan pricing".)"""
    if not a.pairs or not b.pairs:
        return False
    terms_a, terms_b = set(a.terms), set(b.terms)
    left_b: dict[str, set[str]] = {}
    for x, y in b.pairs:
        left_b.setdefault(y, set()).add(x)
    for x, y in a.pairs:
        if y in left_b and x not in terms_b:
            if any(x2 not in terms_a for x2 in left_b[y]):
                return True
    return False


_Rep: TypeAlias = tuple[str, float, float, _Context]  # (doc_id, low, high, context)


def _conflicting_pairs(
    reps: Sequence[_Rep], min_shared_terms: int
) -> list[tuple[int, int, set[str]]]:
    """The pairs ``(x, y, shared terms)`` of ``reps`` (one kind and unit) that conflict:
    other documents, the same thing (enough shared terms, no contrast), values that
    disagree, and neither document also stating a value that agrees with the other's."""
    by_term: dict[str, list[int]] = {}
    by_doc: dict[str, list[int]] = {}
    for n, rep in enumerate(reps):
        by_doc.setdefault(rep[0], []).append(n)
        for t in rep[3].terms:
            by_term.setdefault(t, []).append(n)

    def same_thing(x: int, y: int) -> bool:
        cx, cy = reps[x][3], reps[y][3]
        shared = len(set(cx.terms) & set(cy.terms))
        return shared >= _needed(cx, cy, min_shared_terms) and not _contrast(cx, cy)

    said: dict[tuple[str, int], bool] = {}

    def also_says(doc: str, x: int) -> bool:
        # ``doc`` lists several values ("0.17% and 0.86%"), one of them agreeing.
        got = said.get((doc, x))
        if got is None:
            value = (reps[x][1], reps[x][2])
            got = said[doc, x] = any(
                not _disagree(value, (reps[y][1], reps[y][2])) and same_thing(x, y)
                for y in by_doc[doc]
            )
        return got

    found = []
    for n, (doc_a, alo, ahi, ca) in enumerate(reps):
        counts: dict[int, int] = {}
        for t in ca.terms:
            for other in by_term[t]:
                if other > n:
                    counts[other] = counts.get(other, 0) + 1
        for other, shared in counts.items():
            doc_b, blo, bhi, cb = reps[other]
            if doc_b == doc_a or shared < _needed(ca, cb, min_shared_terms):
                continue
            if not _disagree((alo, ahi), (blo, bhi)) or _contrast(ca, cb):
                continue
            if also_says(doc_b, n) or also_says(doc_a, other):
                continue
            found.append((n, other, set(ca.terms) & set(cb.terms)))
    return found


def _as_chunk(item: object, n: int) -> tuple[int, str, str]:
    if isinstance(item, tuple | list):
        if len(item) != 3:
            raise InvalidInput(
                f"chunks[{n}] has {len(item)} items; pass (chunk_id, doc_id, text) tuples"
            )
        chunk_id, doc_id, text = item
    elif hasattr(item, "chunk_id") and hasattr(item, "doc_id") and hasattr(item, "text"):
        chunk_id, doc_id, text = item.chunk_id, item.doc_id, item.text
    else:
        raise TypeError(
            f"chunks[{n}] is a {type(item).__name__}; pass (chunk_id, doc_id, text) tuples "
            "or objects with chunk_id, doc_id and text (such as SearchHit)"
        )
    _check_chunk(chunk_id, doc_id, text, f"chunks[{n}]: ")
    return chunk_id, doc_id, text


def find_conflicts(
    chunks: Iterable[tuple[int, str, str] | ChunkLike],
    *,
    min_shared_terms: int = 2,
    window: int = 3,
    kinds: Iterable[str] | None = None,
) -> list[Conflict]:
    """The quantities of ``chunks`` that disagree across documents, grouped.

    ``chunks`` are ``(chunk_id, doc_id, text)`` tuples (or objects with those attributes,
    such as :class:`~covekit.SearchHit`). Two mentions are about the same thing when they
    have the same kind and unit, share at least ``min_shared_terms`` key terms (a terse
    line such as "Shipping: 7 business days." needs only the terms it has) and no shared
    term is modified differently on each side ("free plan" against "pro plan"). They
    conflict when they come from different documents, their values disagree (disjoint
    ranges, or bounds of the same direction with different limits: "up to 3" against "up
    to 5"), and neither document also states a value, about the same thing, that agrees
    with the other's (it then lists values rather than contradicting one). Conflicting
    pairs that share a mention are one :class:`Conflict`. Disagreements within one
    document are not conflicts (a document may state a value and its exception).
    Conflicts come in the order of their first mention (chunk order, then offset).

    ``window`` is the number of content words on each side that become key terms;
    ``kinds`` keeps only these kinds (``"date"``, ``"duration"``, ``"money"``,
    ``"number"``, ``"percent"``).

    >>> chunks = [(1, "terms-2023", "Standard shipping takes 5-7 business days."),
    ...           (2, "terms-2024", "Standard shipping takes 6 business days."),
    ...           (3, "faq", "Standard shipping takes 10 business days.")]
    >>> [[m.doc_id for m in c.mentions] for c in find_conflicts(chunks)]
    [['terms-2023', 'terms-2024', 'faq']]
    >>> find_conflicts(chunks[:2])
    []

    Errors: ``TypeError`` for a chunk that is not a 3-tuple of (int, str, str) or such an
    object; :class:`~covekit.errors.InvalidInput` for a tuple of another length,
    ``min_shared_terms < 1``, ``window < 1`` or an unknown kind.
    """
    if isinstance(chunks, str | bytes):
        raise TypeError("chunks must be a sequence of (chunk_id, doc_id, text) tuples, not a str")
    if isinstance(min_shared_terms, bool) or not isinstance(min_shared_terms, int):
        raise TypeError(f"min_shared_terms must be an int, not {type(min_shared_terms).__name__}")
    if min_shared_terms < 1:
        raise InvalidInput(f"min_shared_terms must be >= 1, got {min_shared_terms}")
    _check_window(window)
    wanted: frozenset[str] | None = None
    if kinds is not None:
        if isinstance(kinds, str):
            kinds = (kinds,)
        wanted = frozenset(kinds)
        unknown = sorted(wanted - set(KINDS))
        if unknown:
            raise InvalidInput(f"unknown kinds {unknown}; pass some of {list(KINDS)}")
    rows = [_as_chunk(item, n) for n, item in enumerate(chunks)]

    # 1. Every quantity of every chunk, bucketed by (kind, unit).
    analyses = [_analysis(text) for _, _, text in rows]
    scanned = [found.raws for found in analyses]
    buckets: dict[tuple[str, str], list[_Node]] = {}
    docs_of: dict[tuple[str, str], set[str]] = {}
    for c, found in enumerate(analyses):
        doc_id = rows[c][1]
        for i, r in enumerate(found.raws):
            if wanted is not None and r[2] not in wanted:
                continue
            key = (r[2], r[3])
            buckets.setdefault(key, []).append((c, i))
            docs_of.setdefault(key, set()).add(doc_id)

    # 2. Key terms, only for the mentions that another document could contradict.
    context: dict[_Node, _Context] = {}
    for key, members in buckets.items():
        if len(docs_of[key]) >= 2:
            for c, i in members:
                context[c, i] = analyses[c].context(i, window)

    # 3. Pairs that are about the same thing and disagree; union-find groups them.
    parent: dict[_Node, _Node] = {}

    def find(x: _Node) -> _Node:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(x: _Node, y: _Node) -> None:
        rx, ry = find(parent.setdefault(x, x)), find(parent.setdefault(y, y))
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)

    shared_of: dict[_Node, set[str]] = {}  # a mention of a pair -> the terms the pair shares
    for key, members in buckets.items():
        if len(docs_of[key]) < 2:
            continue
        # Identical mentions (same document, value and context) are compared once.
        same: dict[tuple[str, float, float, _Context], list[_Node]] = {}
        for c, i in members:
            r = scanned[c][i]
            same.setdefault((rows[c][1], r[4], r[5], context[c, i]), []).append((c, i))
        reps = list(same)
        for x, y, common in _conflicting_pairs(reps, min_shared_terms):
            group_a, group_b = same[reps[x]], same[reps[y]]
            for node in (*group_a, *group_b):
                union(group_a[0], node)
            shared_of.setdefault(group_a[0], set()).update(common)

    # 4. One Conflict per group, in input order.
    groups: dict[_Node, list[_Node]] = {}
    for node in sorted(parent):
        groups.setdefault(find(node), []).append(node)
    group_terms: dict[_Node, set[str]] = {}
    for node, common in shared_of.items():
        group_terms.setdefault(find(node), set()).update(common)
    conflicts = []
    for root, nodes in sorted(groups.items(), key=lambda kv: kv[1][0]):
        mentions = []
        for c, i in nodes:
            chunk_id, doc_id, text = rows[c]
            s0, e0, kind, unit, low, high = scanned[c][i]
            mentions.append(
                Mention(
                    chunk_id,
                    doc_id,
                    kind,
                    text[s0:e0],
                    s0,
                    e0,
                    (low, high),
                    unit,
                    context[c, i].terms,
                )
            )
        conflicts.append(
            Conflict(mentions[0].kind, tuple(sorted(group_terms[root])), tuple(mentions))
        )
    return conflicts


_Node: TypeAlias = tuple[int, int]  # (chunk index, mention index)


__all__ = [
    "KINDS",
    "ChunkLike",
    "Conflict",
    "Mention",
    "extract_mentions",
    "find_conflicts",
]
