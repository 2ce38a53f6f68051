"""Freshness metadata: when a document was updated, until when it holds, and what replaces it.

A document may carry four metadata fields, parsed (and checked) when the
:class:`~covekit.Document` is built, so a bad value is reported at ingestion instead of
being treated as fresh:

- ``updated_at``: when its content was last updated;
- ``valid_until``: the instant from which it no longer holds (exclusive: the document is
  valid while ``now < valid_until``);
- ``superseded_by``: ids of the documents that replace it;
- ``supersedes``: ids of the documents it replaces (the other direction).

Times are ISO 8601 text or POSIX seconds, and are kept as POSIX seconds (UTC, a
``float``). A date alone means the start of that day (UTC) for ``updated_at``, and
the *end* of that day for ``valid_until``: ``"2024-03-05"`` is valid through the whole
5th, so its ``valid_until`` is the next midnight, ``2024-03-06T00:00:00Z``.

>>> from covekit import parse_freshness
>>> f = parse_freshness({"updated_at": "2024-03-05T10:00:00+01:00", "valid_until": "2024-12-31",
...                      "superseded_by": "kb/refunds-2025.md"})
>>> f.updated_at, f.valid_until, f.superseded_by
(1709629200.0, 1735689600.0, ('kb/refunds-2025.md',))
>>> f.expired(at=1735689599.0), f.expired(at=1735689600.0)
(False, True)

Thread safety: :class:`Freshness` is immutable and :func:`parse_freshness` keeps no
state; both are safe to use from many threads.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from covekit.errors import InvalidInput

__all__ = ["FRESHNESS_FIELDS", "MAX_TIME", "MIN_TIME", "Freshness", "parse_freshness"]

#: The metadata keys :func:`parse_freshness` reads.
FRESHNESS_FIELDS = ("updated_at", "valid_until", "superseded_by", "supersedes")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The earliest time accepted: 0001-01-01T00:00:00Z, in POSIX seconds.
MIN_TIME = -62135596800
#: The latest time accepted: 10000-01-01T00:00:00Z, the end of 9999-12-31 (so a
#: ``valid_until`` of ``"9999-12-31"``, a common "never", is accepted).
MAX_TIME = 253402300800

_TIME_FORMS = (
    "an ISO 8601 date ('2024-03-05', read as UTC), a date and time with a UTC offset "
    "('2024-03-05T10:00:00Z', '2024-03-05T10:00:00+02:00', '2024-03-05 10:00Z'), "
    "or POSIX seconds (a finite int or float)"
)
_ID_FORMS = "a document id (a non-empty str) or a list of them, such as ['kb/refunds-2025.md']"

_ISO = re.compile(
    r"""
    (?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})
    (?:
        [Tt ]
        (?P<h>[0-9]{2}):(?P<mi>[0-9]{2})
        (?::(?P<s>[0-9]{2})(?:[.,](?P<frac>[0-9]{1,9}))?)?
        (?P<tz>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?
    )?
    """,
    re.VERBOSE | re.ASCII,
)


def _iso(ts: float) -> str:
    """POSIX seconds as ISO 8601 text in UTC (for messages)."""
    if MIN_TIME <= ts < MAX_TIME:
        text = datetime.fromtimestamp(ts, UTC).isoformat()
        return text.replace("+00:00", "Z")
    return "10000-01-01T00:00:00Z" if ts == MAX_TIME else repr(ts)


def _bad_time(field: str, value: Any, why: str = "") -> InvalidInput:
    reason = f" ({why})" if why else ""
    return InvalidInput(
        f"{field} must be {_TIME_FORMS}; got {value!r}{reason}. It is freshness metadata: "
        "fix or remove it so the document is not treated as fresh by mistake"
    )


def _posix(field: str, value: Any, shown: Any = None) -> float:
    """A finite number within [MIN_TIME, MAX_TIME] as a float (``shown``: the value as
    given, for the message, when ``value`` was computed from text)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad_time(field, value, f"a {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _bad_time(field, value, "not a finite number")
    if not MIN_TIME <= value <= MAX_TIME:
        raise _bad_time(
            field, value if shown is None else shown,
            "outside 0001-01-01T00:00:00Z .. 10000-01-01T00:00:00Z, "
            f"that is POSIX seconds {MIN_TIME} .. {MAX_TIME}"
        )  # fmt: skip
    return float(value)


def _parse_text(field: str, value: str, *, end_of_day: bool) -> float:
    text = value.strip()
    m = _ISO.fullmatch(text)
    if m is None:
        raise _bad_time(field, value, "not an ISO 8601 date or date-time")
    y, mo, d = int(m["y"]), int(m["mo"]), int(m["d"])
    if m["h"] is not None and m["tz"] is None:
        raise _bad_time(
            field,
            value,
            "a date and time without a UTC offset is ambiguous: add 'Z' for UTC or an "
            "offset such as '+02:00'",
        )
    try:
        if m["h"] is None:
            td = datetime(y, mo, d, tzinfo=UTC) - _EPOCH
            return _posix(field, td.days * 86400 + td.seconds + (86400 if end_of_day else 0), value)
        tz_text = m["tz"]
        if tz_text in ("Z", "z"):
            tz = UTC
        else:
            sign = -1 if tz_text[0] == "-" else 1
            digits = tz_text[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:] or 0)
            if hours > 23 or minutes > 59:
                raise _bad_time(field, value, f"the UTC offset {tz_text} is out of range")
            tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        moment = datetime(y, mo, d, int(m["h"]), int(m["mi"]), int(m["s"] or 0), tzinfo=tz)
    except ValueError as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise _bad_time(field, value, str(exc)) from None
    except OverflowError:
        raise _bad_time(field, value, "out of range") from None
    td = moment - _EPOCH
    seconds = td.days * 86400 + td.seconds
    frac = m["frac"] or ""
    # integer / integer is correctly rounded: the nearest float to the exact instant
    return _posix(field, (seconds * 10 ** len(frac) + int(frac or 0)) / 10 ** len(frac), value)


def _time(field: str, value: Any, *, end_of_day: bool = False) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _parse_text(field, value, end_of_day=end_of_day)
    return _posix(field, value)


def _ids(field: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise InvalidInput(f"{field} must be {_ID_FORMS}; got {value!r}")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise InvalidInput(
                f"{field} must be {_ID_FORMS}; got {value!r} (the entry {item!r} is "
                f"{'empty' if isinstance(item, str) else 'a ' + type(item).__name__})"
            )
        if item not in out:
            out.append(item)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Freshness:
    """A document's parsed freshness metadata (see :func:`parse_freshness`).

    Attributes:
        updated_at: POSIX seconds (UTC) of the last update, or None when not given.
        valid_until: POSIX seconds (UTC) from which the document no longer holds
            (exclusive), or None when it does not expire.
        superseded_by: ids of the documents that replace this one.
        supersedes: ids of the documents this one replaces.

    Building one directly takes POSIX numbers and id tuples (lists are turned into
    tuples); ISO text goes through :func:`parse_freshness`.

    >>> f = Freshness(updated_at=1709596800, superseded_by=["v2.md"])
    >>> f
    Freshness(updated_at=1709596800.0, valid_until=None, superseded_by=('v2.md',), supersedes=())
    >>> f.to_dict()
    {'updated_at': 1709596800.0, 'valid_until': None, 'superseded_by': ['v2.md'], 'supersedes': []}
    >>> Freshness().is_empty, f.is_empty
    (True, False)

    Errors: :class:`~covekit.errors.InvalidInput` for a time that is not a finite number
    in range, ids that are not non-empty strings, or ``valid_until < updated_at``. (An id
    in both ``superseded_by`` and ``supersedes`` is refused by :func:`parse_freshness`,
    not here: a knowledge base merges links from two documents that may disagree.)
    """

    updated_at: float | None = None
    valid_until: float | None = None
    superseded_by: tuple[str, ...] = ()
    supersedes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        updated = None if self.updated_at is None else _posix("updated_at", self.updated_at)
        until = None if self.valid_until is None else _posix("valid_until", self.valid_until)
        if updated is not None and until is not None and until < updated:
            raise InvalidInput(
                f"valid_until ({_iso(until)}) is earlier than updated_at ({_iso(updated)}); "
                "pass a valid_until at or after updated_at (a date alone as valid_until "
                "means the end of that day)"
            )
        by = _ids("superseded_by", self.superseded_by)
        replaces = _ids("supersedes", self.supersedes)
        object.__setattr__(self, "updated_at", updated)
        object.__setattr__(self, "valid_until", until)
        object.__setattr__(self, "superseded_by", by)
        object.__setattr__(self, "supersedes", replaces)

    @property
    def is_empty(self) -> bool:
        """True when no freshness field was given (nothing is known about it).

        >>> parse_freshness({"lang": "en"}).is_empty
        True
        """
        return (
            self.updated_at is None
            and self.valid_until is None
            and not self.superseded_by
            and not self.supersedes
        )

    def expired(self, at: float | None = None) -> bool:
        """True when ``valid_until`` is given and ``at`` (POSIX seconds; default: now)
        is at or after it.

        >>> f = parse_freshness({"valid_until": "2024-03-05"})
        >>> f.expired(at=parse_freshness({"updated_at": "2024-03-05T23:59:59Z"}).updated_at)
        False
        >>> f.expired()
        True
        """
        if self.valid_until is None:
            return False
        now = time.time() if at is None else _posix("at", at)
        return now >= self.valid_until

    def age(self, at: float | None = None) -> float | None:
        """Seconds from ``updated_at`` to ``at`` (POSIX seconds; default: now), or None
        when ``updated_at`` is not known. Negative for an update dated in the future.

        >>> parse_freshness({"updated_at": 100}).age(at=160)
        60.0
        """
        if self.updated_at is None:
            return None
        now = time.time() if at is None else _posix("at", at)
        return now - self.updated_at

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data; :func:`parse_freshness` reads it back to an equal value.

        >>> f = parse_freshness({"updated_at": "2024-03-05", "supersedes": ["v1.md"]})
        >>> parse_freshness(f.to_dict()) == f
        True
        """
        return {
            "updated_at": self.updated_at,
            "valid_until": self.valid_until,
            "superseded_by": list(self.superseded_by),
            "supersedes": list(self.supersedes),
        }


def parse_freshness(metadata: Mapping[str, Any]) -> Freshness:
    """The freshness fields of a document's metadata, parsed and checked.

    Reads ``updated_at``, ``valid_until``, ``superseded_by`` and ``supersedes``; other
    keys are ignored, and a missing key or ``None`` means "not given".

    - Times: ISO 8601 text, a date (``"2024-03-05"``, UTC) or a date and time with
      ``Z`` or an offset (``"2024-03-05T10:00:00Z"``, ``"2024-03-05T10:00+02:00"``, a
      space instead of ``T``, up to 9 fraction digits, rounded to the nearest float);
      or POSIX seconds, a finite ``int``/``float`` (not a ``bool``) from 0001-01-01 to
      10000-01-01 UTC. A date alone is 00:00 UTC for ``updated_at`` and the end of
      the day (the next midnight, exclusive) for ``valid_until``. A date and time
      without an offset is rejected, not guessed: add ``Z`` or the offset.
    - Ids: a ``str`` or a list of ``str``, none empty; repeats dropped, order kept.
    - ``valid_until`` must not be earlier than ``updated_at``, and no id may be in both
      ``superseded_by`` and ``supersedes``.

    >>> parse_freshness({"updated_at": "2024-03-05", "valid_until": "2024-03-05"})
    Freshness(updated_at=1709596800.0, valid_until=1709683200.0, superseded_by=(), supersedes=())
    >>> parse_freshness({"updated_at": 1709596800, "supersedes": ["a.md", "b.md", "a.md"]}
    ...                 ).supersedes
    ('a.md', 'b.md')
    >>> from covekit.errors import InvalidInput
    >>> try:
    ...     parse_freshness({"updated_at": "next week"})
    ... except InvalidInput as exc:
    ...     print(str(exc)[:75])
    updated_at must be an ISO 8601 date ('2024-03-05', read as UTC), a date and

    Errors: :class:`~covekit.errors.InvalidInput`, naming the field, the value and the
    accepted forms; ``TypeError`` when ``metadata`` is not a mapping.
    """
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping (e.g. a dict), not {type(metadata).__name__}")
    by = _ids("superseded_by", metadata.get("superseded_by"))
    replaces = _ids("supersedes", metadata.get("supersedes"))
    both = [i for i in by if i in replaces]
    if both:
        raise InvalidInput(
            f"{both[0]!r} is in both superseded_by and supersedes; a document cannot "
            "replace the one that replaces it: keep it in one of the two"
        )
    return Freshness(
        _time("updated_at", metadata.get("updated_at")),
        _time("valid_until", metadata.get("valid_until"), end_of_day=True),
        by,
        replaces,
    )
