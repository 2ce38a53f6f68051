"""covekit.parse_freshness, covekit.Freshness and Document.freshness (issue 15).

Every accepted form of a time and of ids, every rejection with its message, the
date-only rules (start of day for ``updated_at``, end of day for ``valid_until``),
Python's own ``datetime.fromisoformat`` as a differential oracle, hypothesis round trips
(aware datetimes and POSIX times through ISO text, ``to_dict`` back through the parser),
"never accepts what it cannot represent" over arbitrary input, Unicode ids, and the
checks a :class:`~covekit.Document` makes when it is built.
"""

from __future__ import annotations

import dataclasses
import doctest
import math
import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import covekit
import pytest
from covekit import Document, Freshness, parse_freshness
from covekit.data import freshness as freshness_module
from covekit.data.freshness import MAX_TIME, MIN_TIME
from covekit.errors import InvalidInput
from hypothesis import given
from hypothesis import strategies as st

MAR5 = 1709596800.0  # 2024-03-05T00:00:00Z
DAY = 86400.0


def updated(value: Any) -> float | None:
    return parse_freshness({"updated_at": value}).updated_at


def until(value: Any) -> float | None:
    return parse_freshness({"valid_until": value}).valid_until


# ------------------------------------------------------------------------ accepted forms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05", MAR5),
        ("  2024-03-05\n", MAR5),  # surrounding whitespace is ignored
        ("2024-03-05T10:00:00Z", MAR5 + 36000),
        ("2024-03-05t10:00:00z", MAR5 + 36000),
        ("2024-03-05 10:00:00Z", MAR5 + 36000),
        ("2024-03-05T10:00Z", MAR5 + 36000),
        ("2024-03-05T10:00:00+02:00", MAR5 + 36000 - 7200),
        ("2024-03-05T10:00:00+0200", MAR5 + 36000 - 7200),
        ("2024-03-05T10:00:00+02", MAR5 + 36000 - 7200),
        ("2024-03-05T10:00:00-05:30", MAR5 + 36000 + 5.5 * 3600),
        ("2024-03-05T10:00:00-00:00", MAR5 + 36000),
        ("2024-03-05T10:00:00.5Z", MAR5 + 36000.5),
        ("2024-03-05T10:00:00,25Z", MAR5 + 36000.25),
        ("2024-03-05T10:00:00.123456Z", MAR5 + 36000 + 0.123456),
        ("2024-03-05T10:00:00.123456789Z", (int(MAR5 + 36000) * 10**9 + 123456789) / 10**9),
        ("2024-02-29", MAR5 - 5 * DAY),  # a leap day
        ("1969-12-31T23:59:59Z", -1.0),
        ("0001-01-01", float(MIN_TIME)),
        ("9999-12-31T23:59:59Z", MAX_TIME - 1.0),
    ],
)
def test_iso_text(text: str, expected: float) -> None:
    assert updated(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1709596800, MAR5),
        (1709596800.25, MAR5 + 0.25),
        (0, 0.0),
        (-1.5, -1.5),
        (MIN_TIME, float(MIN_TIME)),
        (MAX_TIME, float(MAX_TIME)),
        (None, None),
    ],
)
def test_posix_numbers_and_none(value: Any, expected: float | None) -> None:
    got = updated(value)
    assert got == expected and (got is None or type(got) is float)


def test_missing_fields_are_not_given() -> None:
    f = parse_freshness({"lang": "en", "path": "a.md"})
    assert f == Freshness() and f.is_empty
    assert (f.updated_at, f.valid_until, f.superseded_by, f.supersedes) == (None, None, (), ())
    assert not f.expired(at=MAX_TIME) and f.age(at=0) is None


def test_a_date_alone_is_the_start_of_the_day_or_its_end() -> None:
    f = parse_freshness({"updated_at": "2024-03-05", "valid_until": "2024-03-05"})
    assert f.updated_at == MAR5
    assert f.valid_until == MAR5 + DAY  # the next midnight, exclusive
    assert not f.expired(at=MAR5 + DAY - 1e-3)
    assert f.expired(at=MAR5 + DAY)
    # a date and time as valid_until is that very instant
    assert until("2024-03-05T12:00:00Z") == MAR5 + 43200
    assert until(MAR5) == MAR5  # numbers are instants too
    # "never expires": 9999-12-31 is accepted and is the end of the range
    assert until("9999-12-31") == MAX_TIME


def test_valid_until_equal_to_updated_at_is_accepted() -> None:
    f = parse_freshness({"updated_at": MAR5, "valid_until": "2024-03-05T00:00:00Z"})
    assert f.updated_at == f.valid_until == MAR5 and f.expired(at=MAR5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("kb/new.md", ("kb/new.md",)),
        (["a.md", "b.md"], ("a.md", "b.md")),
        (("a.md",), ("a.md",)),
        (["b.md", "a.md", "b.md"], ("b.md", "a.md")),  # repeats dropped, order kept
        ([], ()),
        (None, ()),
        (["日本語/ノート.md", "🦜 notes", "Ünïcödé"], ("日本語/ノート.md", "🦜 notes", "Ünïcödé")),
    ],
)
def test_ids(value: Any, expected: tuple[str, ...]) -> None:
    assert parse_freshness({"superseded_by": value}).superseded_by == expected
    assert parse_freshness({"supersedes": value}).supersedes == expected


# ------------------------------------------------------------------------ rejections


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("next week", "not an ISO 8601 date or date-time"),
        ("", "not an ISO 8601 date or date-time"),
        ("2024-03-05T10:00:00", "without a UTC offset is ambiguous: add 'Z'"),
        ("2024-03-05 10:00", "without a UTC offset is ambiguous"),
        ("2024-13-01", "month must be in 1..12"),
        ("2024-02-30", "day is out of range for month"),
        ("2023-02-29", "day is out of range for month"),
        ("0000-01-01", "year 0 is out of range"),
        ("2024-03-05T24:00:00Z", "hour must be in 0..23"),
        ("2024-03-05T23:59:60Z", "second must be in 0..59"),
        ("2024-03-05T10:60Z", "minute must be in 0..59"),
        ("2024-03-05T10:00:00+24:00", "the UTC offset +24:00 is out of range"),
        ("2024-03-05T10:00:00+05:60", "the UTC offset +05:60 is out of range"),
        ("2024-03-05T10Z", "not an ISO 8601"),  # an hour alone
        ("2024-03-05T10:00:00.1234567890Z", "not an ISO 8601"),  # 10 fraction digits
        ("20240305", "not an ISO 8601"),  # the basic format
        ("2024-W10-2", "not an ISO 8601"),  # a week date
        ("2024-065", "not an ISO 8601"),  # an ordinal date
        ("\u0662\u0660\u0662\u0664-\u0660\u0663-\u0660\u0665", "not an ISO 8601"),  # Arabic-Indic
        ("1709596800", "not an ISO 8601"),  # a number as text
        ("9999-12-31T23:00:00-05:00", "outside 0001-01-01T00:00:00Z .. 10000-01-01"),
        ("0001-01-01T00:00:00+01:00", "outside 0001-01-01T00:00:00Z"),
        (float("nan"), "not a finite number"),
        (float("inf"), "not a finite number"),
        (-float("inf"), "not a finite number"),
        (True, "a bool"),
        (False, "a bool"),
        (MAX_TIME + 1, "outside"),
        (MIN_TIME - 1, "outside"),
        (10**400, "outside"),
        ([2024, 3, 5], "a list"),
        ({"year": 2024}, "a dict"),
        (b"2024-03-05", "a bytes"),
    ],
)
@pytest.mark.parametrize("field", ["updated_at", "valid_until"])
def test_bad_times(field: str, value: Any, why: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_freshness({field: value})
    message = str(info.value)
    assert message.startswith(f"{field} must be an ISO 8601 date ('2024-03-05', read as UTC)")
    assert (
        "'2024-03-05T10:00:00Z'" in message and "POSIX seconds (a finite int or float)" in message
    )
    assert f"got {value!r}" in message
    assert why in message
    assert isinstance(info.value, ValueError)


def test_valid_until_earlier_than_updated_at() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_freshness({"updated_at": "2024-03-05T10:00:00Z", "valid_until": "2024-03-04"})
    assert str(info.value) == (
        "valid_until (2024-03-05T00:00:00Z) is earlier than updated_at (2024-03-05T10:00:00Z); "
        "pass a valid_until at or after updated_at (a date alone as valid_until means the end "
        "of that day)"
    )
    with pytest.raises(InvalidInput, match="earlier than updated_at"):
        Freshness(updated_at=10, valid_until=9)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "(the entry '' is empty)"),
        ("   ", "(the entry '   ' is empty)"),
        (["a.md", ""], "(the entry '' is empty)"),
        (["a.md", 7], "(the entry 7 is a int)"),
        ([["a.md"]], "(the entry ['a.md'] is a list)"),
        ([None], "(the entry None is a NoneType)"),
        (7, ""),
        ({"id": "a.md"}, ""),
        (True, ""),
    ],
)
@pytest.mark.parametrize("field", ["superseded_by", "supersedes"])
def test_bad_ids(field: str, value: Any, why: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_freshness({field: value})
    message = str(info.value)
    assert message.startswith(
        f"{field} must be a document id (a non-empty str) or a list of them, "
        f"such as ['kb/refunds-2025.md']; got {value!r}"
    )
    assert why in message


def test_an_id_in_both_directions() -> None:
    with pytest.raises(InvalidInput, match=r"'b\.md' is in both superseded_by and supersedes"):
        parse_freshness({"superseded_by": ["a.md", "b.md"], "supersedes": "b.md"})


def test_metadata_must_be_a_mapping() -> None:
    with pytest.raises(TypeError, match="metadata must be a mapping"):
        parse_freshness([("updated_at", 1)])  # type: ignore[arg-type]


# ------------------------------------------------------------------------ the dataclass


def test_freshness_value_type() -> None:
    f = Freshness(1, 2.5, ["b"], ("c", "c"))  # type: ignore[arg-type]
    assert f == Freshness(1.0, 2.5, ("b",), ("c",))
    assert type(f.updated_at) is float and f.superseded_by == ("b",) and f.supersedes == ("c",)
    assert f.to_dict() == {
        "updated_at": 1.0,
        "valid_until": 2.5,
        "superseded_by": ["b"],
        "supersedes": ["c"],
    }
    assert parse_freshness(f.to_dict()) == f
    assert pickle.loads(pickle.dumps(f)) == f and hash(f) == hash(Freshness(1, 2.5, ("b",), ("c",)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.updated_at = 3  # type: ignore[misc]
    assert not hasattr(f, "__dict__")  # slotted
    with pytest.raises(InvalidInput, match="updated_at must be"):
        Freshness(updated_at="2024-03-05")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="superseded_by must be"):
        Freshness(superseded_by=[""])  # type: ignore[list-item]


def test_expired_and_age() -> None:
    f = parse_freshness({"updated_at": MAR5, "valid_until": MAR5 + 10})
    assert f.age(at=MAR5 + 4) == 4.0 and f.age(at=MAR5 - 1) == -1.0
    assert not f.expired(at=MAR5 + 9.999) and f.expired(at=MAR5 + 10)
    assert f.expired()  # now is long after 2024
    assert f.age() is not None and f.age() > 0  # type: ignore[operator]
    with pytest.raises(InvalidInput, match="at must be"):
        f.expired(at=float("nan"))
    with pytest.raises(InvalidInput, match="at must be"):
        f.age(at="now")  # type: ignore[arg-type]


# ------------------------------------------------------------------------ properties

OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
AWARE = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=OFFSETS
)


@given(AWARE)
def test_aware_datetimes_round_trip_through_iso_text(moment: datetime) -> None:
    text = moment.isoformat()
    assert updated(text) == moment.timestamp()  # exactly: both are correctly rounded
    assert updated(text.replace("T", " ")) == moment.timestamp()
    assert updated(text.replace("+00:00", "Z")) == moment.timestamp()


@given(st.floats(min_value=MIN_TIME, max_value=MAX_TIME - 1, allow_nan=False))
def test_posix_times_round_trip_through_iso_text(ts: float) -> None:
    text = datetime.fromtimestamp(ts, UTC).isoformat()  # microseconds, rounded
    back = updated(text)
    assert back is not None
    assert abs(back - ts) <= max(1e-6, 2 * math.ulp(ts))
    assert updated(ts) == ts  # a number is kept as it is


@given(
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
        r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?",
        fullmatch=True,
    )
)
def test_agrees_with_datetime_fromisoformat(text: str) -> None:
    """Differential: Python's parser (truncating fractions past microseconds) is the oracle."""
    try:
        oracle = datetime.fromisoformat(text)
    except ValueError:
        oracle = None
    try:
        ours = updated(text)
    except InvalidInput:
        ours = None
    if oracle is None:
        assert ours is None
        return
    if oracle.tzinfo is None and "T" not in text and " " not in text:
        oracle = oracle.replace(tzinfo=UTC)  # a date alone is UTC
    if oracle.tzinfo is None:
        assert ours is None  # a date and time without an offset is refused
        return
    delta = oracle - datetime(1970, 1, 1, tzinfo=UTC)
    exact = delta.days * 86400 + delta.seconds + delta.microseconds / 1e6
    if not MIN_TIME <= exact <= MAX_TIME:
        assert ours is None
        return
    assert ours is not None and abs(ours - exact) <= 1e-6 + 2 * math.ulp(exact)


ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=40),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2})?Z?)?", fullmatch=True),
    st.lists(st.one_of(st.text(max_size=8), st.integers()), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


@given(st.dictionaries(st.sampled_from(freshness_module.FRESHNESS_FIELDS), ANY_VALUE))
def test_never_accepts_what_it_cannot_represent(metadata: dict[str, Any]) -> None:
    try:
        f = parse_freshness(metadata)
    except InvalidInput as exc:
        assert any(name in str(exc) for name in freshness_module.FRESHNESS_FIELDS)
        return
    for t in (f.updated_at, f.valid_until):
        assert t is None or (type(t) is float and math.isfinite(t) and MIN_TIME <= t <= MAX_TIME)
    if f.updated_at is not None and f.valid_until is not None:
        assert f.valid_until >= f.updated_at
    for ids in (f.superseded_by, f.supersedes):
        assert isinstance(ids, tuple) and all(isinstance(i, str) and i.strip() for i in ids)
        assert len(set(ids)) == len(ids)
    assert not set(f.superseded_by) & set(f.supersedes)
    assert parse_freshness(f.to_dict()) == f  # representable: it reads back equal


@given(st.lists(st.text(min_size=1).filter(str.strip), max_size=5))
def test_unicode_ids_round_trip(ids: list[str]) -> None:
    f = parse_freshness({"superseded_by": ids})
    assert f.superseded_by == tuple(dict.fromkeys(ids))
    assert parse_freshness(f.to_dict()) == f


# ------------------------------------------------------------------------ Document


def test_document_freshness() -> None:
    doc = Document(
        "Refunds take 5 days.",
        "kb/refunds-2025.md",
        metadata={"updated_at": "2025-01-01", "valid_until": "2025-12-31", "supersedes": "kb/r.md"},
    )
    assert doc.freshness == Freshness(1735689600.0, 1767225600.0, (), ("kb/r.md",))
    assert Document("x", "plain").freshness.is_empty
    again = pickle.loads(pickle.dumps(doc))
    assert again == doc and again.freshness == doc.freshness and hash(again) == hash(doc)
    changed = dataclasses.replace(doc, metadata={"updated_at": 0})
    assert changed.freshness == Freshness(updated_at=0.0) and changed.version == doc.version
    assert "_freshness" not in repr(doc)
    assert [f.name for f in dataclasses.fields(doc) if f.init] == [
        "text", "id", "metadata", "acl", "version", "source", "normalization"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("metadata", "match"),
    [
        ({"updated_at": "yesterday"}, r"updated_at must be .* got 'yesterday'"),
        ({"valid_until": float("nan")}, "JSON-serialisable"),  # caught first by the JSON check
        ({"valid_until": True}, r"valid_until must be .*\(a bool\)"),
        ({"updated_at": "2024-03-05", "valid_until": "2024-03-01"}, "earlier than updated_at"),
        ({"superseded_by": ""}, "superseded_by must be a document id"),
        ({"superseded_by": "me.md"}, r"superseded_by names the document itself \('me.md'\)"),
        ({"supersedes": ["other.md", "me.md"]}, r"supersedes names the document itself"),
    ],
)
def test_document_rejects_bad_freshness(metadata: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        Document("text", "me.md", metadata=metadata)


def test_public_names() -> None:
    for name in ("Freshness", "parse_freshness"):
        assert name in covekit.__all__ and getattr(covekit, name) is getattr(freshness_module, name)


def test_doctests() -> None:
    result = doctest.testmod(freshness_module)
    assert result.attempted > 0 and result.failed == 0


def test_freshness_never_silently_fresh_on_naive_or_garbage() -> None:
    """A value that does not parse never yields a Freshness at all (issue 15)."""
    for bad in ("2024-03-05T10:00:00", "soon", "2024/03/05", "05.03.2024"):
        with pytest.raises(InvalidInput):
            parse_freshness({"valid_until": bad})
