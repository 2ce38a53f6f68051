"""Streaming validation (Schema.stream, Contract.stream, PartialJSON): soundness of the
early verdicts on generated documents split at random points, the partial value, syntax
errors and their offsets."""

from __future__ import annotations

import doctest
import json
from typing import Any

import pytest
from covekit import Contract, Rule, Schema
from covekit.execution import stream as stream_module
from covekit.execution.stream import PartialJSON
from hypothesis import given, settings
from hypothesis import strategies as st

SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "kind": {"enum": ["a", "b"]},
            "n": {"type": "integer", "maximum": 5},
            "tags": {
                "type": "array",
                "items": {"type": "string"},
                "maxItems": 2,
                "uniqueItems": True,
            },
        },
        "required": ["kind"],
        "additionalProperties": False,
    },
    {  # branching decided by a sibling that may come later
        "type": "object",
        "if": {"properties": {"kind": {"const": "a"}}},
        "then": {"properties": {"n": {"type": "integer"}}},
        "else": {"properties": {"n": {"type": "string"}}},
    },
    {"anyOf": [{"type": "array", "maxItems": 1}, {"type": "array", "items": {"type": "integer"}}]},
    {
        "type": "object",
        "dependentSchemas": {"kind": {"required": ["n"]}},
        "properties": {"tags": {"contains": {"const": "x"}}},
        "maxProperties": 3,
    },
    {
        "type": "array",
        "items": {"type": "object", "properties": {"n": {"minimum": 0}}},
        "maxItems": 3,
    },
    {"const": {"kind": "a", "n": 1}},
    {"not": {"type": "object", "required": ["kind"]}},
    {"oneOf": [{"type": "object", "required": ["kind"]}, {"type": "object", "required": ["n"]}]},
    {
        "type": "object",
        "propertyNames": {"maxLength": 3},
        "additionalProperties": {"type": "integer"},
    },
]

KEYS = st.sampled_from(["kind", "n", "tags", "x", "long_name"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 9)
    | st.floats(-10, 10, allow_nan=False).map(lambda f: round(f, 2))
    | st.sampled_from(["a", "b", "x", 'é"\\\n', "\U0001f600"])
)
VALUES = st.recursive(
    SCALARS,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(KEYS, kids, max_size=4),
    max_leaves=12,
)


def render(value: Any, style: int) -> str:
    if style == 0:
        return json.dumps(value)
    if style == 1:
        return json.dumps(value, indent=2, ensure_ascii=False)
    return "```json\n" + json.dumps(value, separators=(",", ":")) + "\n```"


def splits(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    out, last = [], 0
    for p in [*points, len(text)]:
        out.append(text[last:p])
        last = p
    return out


@settings(max_examples=300, deadline=None)
@given(
    schema_index=st.integers(0, len(SCHEMAS) - 1),
    value=VALUES,
    style=st.integers(0, 2),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
)
def test_early_verdicts_are_sound_and_the_end_is_exact(
    schema_index: int, value: Any, style: int, cuts: list[int]
) -> None:
    schema = Schema(SCHEMAS[schema_index])
    valid = schema.is_valid(value)
    text = render(value, style)
    s = schema.stream()
    seen_complete = False
    for chunk in splits(text, cuts):
        state = s.feed(chunk)
        # Never "invalid" for a document the schema accepts; when it says invalid
        # early, the whole document is indeed invalid.
        assert not (state.invalid and valid), (text, state)
        if state.status == "complete":
            seen_complete = True
    final = s.end()
    assert final.status == ("complete" if valid else "invalid"), (text, final)
    assert s.value == value
    if valid and (isinstance(value, bool) or not isinstance(value, int | float)):
        assert seen_complete  # (a root number is complete only at end(): digits may follow)
    assert s.text == text


@settings(max_examples=150, deadline=None)
@given(value=VALUES, cut=st.integers(0, 10_000))
def test_partial_value_is_a_prefix_view(value: Any, cut: int) -> None:
    text = json.dumps(value, ensure_ascii=False)
    p = PartialJSON()
    p.feed(text[: cut % (len(text) + 1)])
    assert p.error is None
    p.feed(text[cut % (len(text) + 1) :])
    p.end()
    assert p.error is None and p.done and p.snapshot() == value


def test_progressive_value_shows_the_string_being_written() -> None:
    s = Schema({"type": "object"}).stream()
    s.feed('{"title": "The Gre')
    assert s.value == {"title": "The Gre"}
    s.feed('at Gatsby", "year": 19')
    assert s.value == {"title": "The Great Gatsby", "year": 19}
    s.feed('25, "tags": ["nov')
    assert s.value == {"title": "The Great Gatsby", "year": 1925, "tags": ["nov"]}
    s.feed('el"]}')
    assert s.state.status == "complete"


@pytest.mark.parametrize(
    ("text", "message", "offset"),
    [
        ('{"a": 1,}', "property name", 8),
        ("[1, 2,]", "where a JSON value should start", 6),
        ('{"a" 1}', "expected ':'", 5),
        ("[01]", "invalid number", 3),
        ('["a\\x"]', "invalid escape", 4),
        ('["a\tb"]', "control character", 3),
        ("tru e", "expected 'true'", 3),
        ('{"a": 1} extra', "unexpected text after the JSON value", 9),
        ("Sure! here", "where a JSON value should start", 0),
    ],
)
def test_syntax_errors_and_where(text: str, message: str, offset: int) -> None:
    s = Schema({}).stream()
    state = s.feed(text)
    if state.status != "invalid":
        state = s.end()
    assert state.status == "invalid" and state.syntax_error is not None
    assert message in state.syntax_error and state.offset == offset


def test_end_of_text_before_the_end_of_the_document() -> None:
    s = Schema({}).stream()
    assert s.feed('{"a": [1, 2').status == "partial"
    final = s.end()
    assert final.status == "invalid" and "ends before" in (final.syntax_error or "")
    assert Schema({}).stream().end().syntax_error == "the text holds no JSON value"
    t = Schema({"type": "integer"}).stream()
    t.feed("123")
    assert t.state.status == "partial"  # "1234" could follow
    assert t.end().status == "complete"


def test_certain_errors_are_reported_once_the_value_is_complete() -> None:
    s = Schema(SCHEMAS[0]).stream()
    assert s.feed('{"kind": "a", "n": 7').status == "partial"  # 7 may become 7.5 or 70
    state = s.feed(",")
    assert state.status == "invalid" and state.errors[0].keyword == "maximum"
    assert state.offset == len('{"kind": "a", "n": 7')
    # required waits for the end: the key may still come.
    t = Schema(SCHEMAS[0]).stream()
    assert t.feed('{"n": 1, "tags": []').status == "partial"
    assert t.feed("}").status == "invalid"
    # maxItems counts an item as soon as it begins.
    u = Schema({"type": "array", "maxItems": 1}).stream()
    assert u.feed('[{"a": 1}, "').status == "invalid"


def test_branching_waits_for_the_deciding_sibling() -> None:
    s = Schema(SCHEMAS[1]).stream()
    # "n" is a string: wrong if kind turns out "a", right otherwise: not certain yet.
    assert s.feed('{"n": "x", ').status == "partial"
    state = s.feed('"kind": "a"}')
    assert state.status == "invalid"


def test_contract_stream_actions_partial_rules_and_end() -> None:
    no_shouting = Rule(
        "no_shouting",
        lambda v: "shouting" if "!!" in str(v.get("answer", "")) else None,
        partial=True,
    )
    late = Rule("late", lambda v: "never passes")
    c = Contract(
        {"type": "object", "properties": {"answer": {"type": "string"}}},
        rules=[no_shouting, late],
        actions=["search"],
    )
    s = c.stream()
    assert s.feed('{"answer": "ok!!').status == "partial"  # the string is not complete yet
    state = s.feed('"')
    assert state.status == "invalid" and [v.source for v in state.violations] == ["no_shouting"]
    t = c.stream()
    assert t.feed('{"action": "search", "answer": "fine"').status == "partial"
    assert t.feed("}").status == "complete"  # the late rule waits for end()
    verdict = t.end()
    assert not verdict.ok and [v.source for v in verdict.violations] == ["late"]
    u = c.stream()
    state = u.feed('{"action": "wipe_disk", ')
    assert state.status == "invalid" and state.violations[0].kind == "action"
    with pytest.raises(Exception, match="str chunks"):
        Schema({}).stream().feed(b"{}")  # type: ignore[arg-type]


def test_doctests() -> None:
    result = doctest.testmod(stream_module)
    assert result.attempted > 0 and result.failed == 0
