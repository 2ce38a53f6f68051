"""covekit.Schema: error messages and paths per keyword, bad schemas, bad JSON, deep and
huge input, big numbers, unicode, threads, and the two entry points agreeing."""

from __future__ import annotations

import json
import threading
from typing import Any

import covekit
import pytest
from covekit.errors import CovekitError, InvalidInput, InvalidJSON, SchemaError
from hypothesis import given, settings
from hypothesis import strategies as st


def first_error(schema: Any, instance: Any) -> covekit.SchemaViolation:
    s = covekit.Schema(schema)
    by_text = s.validate_json(json.dumps(instance))
    by_obj = s.validate(instance)
    assert not by_text.valid and not by_obj.valid
    assert by_text.errors == by_obj.errors
    return by_text.errors[0]


# (schema, instance, instance_path, keyword_location, keyword, message)
KEYWORD_CASES = [
    ({"type": "integer"}, "abc", "", "/type", "type", '"abc" is not of type "integer"'),
    (
        {"type": ["string", "null"]},
        1,
        "",
        "/type",
        "type",
        '1 is not of type any of ["string", "null"]',
    ),
    ({"const": "a"}, "b", "", "/const", "const", '"a" was expected, not "b"'),
    ({"enum": [1, 2]}, 3, "", "/enum", "enum", "3 is not one of [1, 2]"),
    ({"minimum": 0}, -3, "", "/minimum", "minimum", "-3 is less than the minimum of 0"),
    ({"maximum": 10}, 11.5, "", "/maximum", "maximum", "11.5 is greater than the maximum of 10"),
    (
        {"exclusiveMinimum": 0},
        0,
        "",
        "/exclusiveMinimum",
        "exclusiveMinimum",
        "0 is less than or equal to the exclusive minimum of 0",
    ),
    (
        {"exclusiveMaximum": 1},
        1,
        "",
        "/exclusiveMaximum",
        "exclusiveMaximum",
        "1 is greater than or equal to the exclusive maximum of 1",
    ),
    ({"multipleOf": 0.5}, 1.2, "", "/multipleOf", "multipleOf", "1.2 is not a multiple of 0.5"),
    ({"minLength": 3}, "ab", "", "/minLength", "minLength", '"ab" is shorter than 3 characters'),
    ({"maxLength": 2}, "abc", "", "/maxLength", "maxLength", '"abc" is longer than 2 characters'),
    ({"pattern": "^a+$"}, "b", "", "/pattern", "pattern", '"b" does not match "^a+$"'),
    ({"minItems": 2}, [1], "", "/minItems", "minItems", "[1] has fewer than 2 items"),
    ({"maxItems": 1}, [1, 2], "", "/maxItems", "maxItems", "[1, 2] has more than 1 item"),
    (
        {"uniqueItems": True},
        [1, 2, 1],
        "",
        "/uniqueItems",
        "uniqueItems",
        "[1, 2, 1] has non-unique items (at 0 and 2)",
    ),
    (
        {"items": {"type": "string"}},
        ["a", 2],
        "/1",
        "/items/type",
        "type",
        '2 is not of type "string"',
    ),
    (
        {"prefixItems": [{"type": "string"}], "items": False},
        ["a", 2],
        "",
        "/items",
        "items",
        '["a", 2] has 2 items, but the schema allows only 1',
    ),
    (
        {"contains": {"type": "string"}},
        [1],
        "",
        "/contains",
        "contains",
        "[1] does not contain an item that matches the schema",
    ),
    (
        {"contains": {"type": "string"}, "minContains": 2},
        ["a", 1],
        "",
        "/minContains",
        "minContains",
        '["a", 1] contains fewer than 2 items that match the schema',
    ),
    (
        {"contains": {"type": "string"}, "maxContains": 1},
        ["a", "b"],
        "",
        "/maxContains",
        "maxContains",
        '["a", "b"] contains more than 1 items that match the schema',
    ),
    ({"required": ["name"]}, {}, "", "/required", "required", '"name" is a required property'),
    (
        {"minProperties": 1},
        {},
        "",
        "/minProperties",
        "minProperties",
        "{} has fewer than 1 property",
    ),
    (
        {"maxProperties": 0},
        {"a": 1},
        "",
        "/maxProperties",
        "maxProperties",
        '{"a": 1} has more than 0 properties',
    ),
    (
        {"dependentRequired": {"a": ["b"]}},
        {"a": 1},
        "",
        "/dependentRequired",
        "dependentRequired",
        '"b" is required when "a" is present',
    ),
    (
        {"properties": {"age": {"minimum": 0}}},
        {"age": -1},
        "/age",
        "/properties/age/minimum",
        "minimum",
        "-1 is less than the minimum of 0",
    ),
    (
        {"patternProperties": {"^x-": {"type": "string"}}},
        {"x-a": 1},
        "/x-a",
        "/patternProperties/^x-/type",
        "type",
        '1 is not of type "string"',
    ),
    (
        {"additionalProperties": False},
        {"a": 1},
        "",
        "/additionalProperties",
        "additionalProperties",
        'additional property "a" is not allowed',
    ),
    (
        {"additionalProperties": {"type": "string"}},
        {"a": 1},
        "/a",
        "/additionalProperties/type",
        "type",
        '1 is not of type "string"',
    ),
    (
        {"propertyNames": {"maxLength": 2}},
        {"abc": 1},
        "",
        "/propertyNames",
        "propertyNames",
        'property name "abc" does not match the propertyNames schema',
    ),
    (
        {"dependentSchemas": {"a": {"required": ["b"]}}},
        {"a": 1},
        "",
        "/dependentSchemas/a/required",
        "required",
        '"b" is a required property',
    ),
    ({"allOf": [{"type": "string"}]}, 1, "", "/allOf/0/type", "type", '1 is not of type "string"'),
    (
        {"anyOf": [{"type": "string"}, {"type": "null"}]},
        1,
        "",
        "/anyOf",
        "anyOf",
        "1 is not valid under any of the given schemas",
    ),
    (
        {"oneOf": [{"type": "integer"}, {"minimum": 0}]},
        1,
        "",
        "/oneOf",
        "oneOf",
        "1 is valid under more than one of the given schemas (0 and 1)",
    ),
    (
        {"not": {"type": "integer"}},
        1,
        "",
        "/not",
        "not",
        "1 must not be valid under the given schema",
    ),
    (
        {"if": {"type": "integer"}, "then": {"minimum": 0}},
        -1,
        "",
        "/then/minimum",
        "minimum",
        "-1 is less than the minimum of 0",
    ),
    (
        {"if": {"type": "integer"}, "else": {"type": "string"}},
        1.5,
        "",
        "/else/type",
        "type",
        '1.5 is not of type "string"',
    ),
    (
        {"$defs": {"pos": {"minimum": 0}}, "properties": {"n": {"$ref": "#/$defs/pos"}}},
        {"n": -1},
        "/n",
        "/properties/n/$ref/minimum",
        "minimum",
        "-1 is less than the minimum of 0",
    ),
    (
        {"properties": {"a": True}, "unevaluatedProperties": False},
        {"a": 1, "b": 2},
        "",
        "/unevaluatedProperties",
        "unevaluatedProperties",
        'unevaluated property "b" is not allowed',
    ),
    (
        {"prefixItems": [True], "unevaluatedItems": False},
        [1, 2],
        "",
        "/unevaluatedItems",
        "unevaluatedItems",
        "unevaluated item at index 1 is not allowed",
    ),
    (False, 1, "", "/false", "false", "false schema does not allow 1"),
]


@pytest.mark.parametrize(
    ("schema", "instance", "ipath", "kloc", "keyword", "message"), KEYWORD_CASES
)
def test_keyword_error(
    schema: Any, instance: Any, ipath: str, kloc: str, keyword: str, message: str
) -> None:
    err = first_error(schema, instance)
    assert (err.instance_path, err.keyword_location, err.keyword, err.message) == (
        ipath,
        kloc,
        keyword,
        message,
    )


def test_format_error_only_when_asserting() -> None:
    schema = {"format": "date"}
    assert covekit.Schema(schema).is_valid("2024-02-30")
    err = covekit.Schema(schema, format_assertion=True).validate("2024-02-30").errors[0]
    assert (err.keyword, err.message) == ("format", '"2024-02-30" is not a valid "date"')


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("date-time", "2024-01-31T10:00:00Z", "2024-01-31 10:00"),
        ("date", "2024-02-29", "2023-02-29"),
        ("time", "23:59:60Z", "24:00:00Z"),
        ("email", "a.b@example.com", "a..b@example.com"),
        ("hostname", "example.com", "-bad.example"),
        ("ipv4", "192.168.0.1", "192.168.0.01"),
        ("ipv6", "::1", "12345::"),
        ("uri", "https://example.com/a?b#c", "no scheme"),
        ("uri-reference", "../a#b", "a b"),
        ("uuid", "2eb8aa08-aa98-11ea-b4aa-73b441d16380", "2eb8aa08aa9811eab4aa73b441d16380"),
        ("duration", "P1DT2H", "P1H"),
        ("regex", "^[a-z]+$", "(unclosed"),
        ("json-pointer", "/a/~0b", "a/b"),
    ],
)
def test_formats(fmt: str, good: str, bad: str) -> None:
    s = covekit.Schema({"format": fmt}, format_assertion=True)
    assert s.is_valid(good)
    assert not s.is_valid(bad)


def test_absolute_keyword_location() -> None:
    s = covekit.Schema({"$id": "https://example.com/person", "properties": {"age": {"minimum": 0}}})
    err = s.validate({"age": -1}).errors[0]
    assert err.absolute_keyword_location == "https://example.com/person#/properties/age/minimum"
    assert covekit.Schema({"minimum": 0}).validate(-1).errors[0].absolute_keyword_location is None


def test_all_errors() -> None:
    s = covekit.Schema(
        {"properties": {"a": {"type": "string"}, "b": {"minimum": 0}}, "required": ["c"]}
    )
    doc = {"a": 1, "b": -1}
    assert len(s.validate(doc).errors) == 1
    errors = s.validate_json(json.dumps(doc), all_errors=True).errors
    assert {e.keyword_location for e in errors} == {
        "/required",
        "/properties/a/type",
        "/properties/b/minimum",
    }
    assert errors == s.validate(doc, all_errors=True).errors


def test_escaped_paths() -> None:
    err = first_error({"properties": {"a/b~c": {"type": "string"}}}, {"a/b~c": 1})
    assert err.instance_path == "/a~1b~0c"
    assert err.keyword_location == "/properties/a~1b~0c/type"


def test_result_shape_and_lazy_value() -> None:
    s = covekit.Schema({"type": "object"})
    r = s.validate_json('{"a": [1, 2.5, "x", null, true]}')
    assert r and r.valid and r.errors == []
    assert r.value == {"a": [1, 2.5, "x", None, True]}
    assert not s.validate_json("[]")
    assert s.validate({"k": 1}).value == {"k": 1}
    assert s.schema == {"type": "object"}
    assert covekit.Schema('{"type": "string"}').schema == {"type": "string"}
    assert covekit.Schema(True).is_valid(None)


def test_violation_is_frozen() -> None:
    err = first_error({"type": "string"}, 1)
    with pytest.raises(AttributeError):
        err.message = "x"  # type: ignore[misc]


# --- bad schemas -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "pointer"),
    [
        ({"type": "integr"}, "/type"),
        ({"minimum": "0"}, "/minimum"),
        ({"properties": {"a": {"minLength": -1}}}, "/properties/a/minLength"),
        ({"items": {"pattern": "(unclosed"}}, "/items/pattern"),
        ({"patternProperties": {"[": {}}}, "/patternProperties/["),
        ({"$ref": "#/$defs/missing"}, "/$ref"),
        ({"allOf": [{"$ref": "https://example.com/unknown.json"}]}, "/allOf/0/$ref"),
        ({"required": "name"}, "/required"),
        ({"anyOf": []}, "/anyOf"),
        ({"multipleOf": 0}, "/multipleOf"),
        ({"properties": {"a": 3}}, "/properties/a"),
        ({"$schema": "http://json-schema.org/draft-04/schema#"}, "/$schema"),
        (3, ""),
    ],
)
def test_schema_errors(schema: Any, pointer: str) -> None:
    with pytest.raises(SchemaError) as info:
        covekit.Schema(schema if schema != 3 else "3")
    assert info.value.pointer == pointer
    assert isinstance(info.value, ValueError) and isinstance(info.value, CovekitError)


def test_schema_that_is_not_json() -> None:
    with pytest.raises(InvalidJSON):
        covekit.Schema('{"type": }')
    with pytest.raises(TypeError):
        covekit.Schema(3.5)  # type: ignore[arg-type]
    with pytest.raises(SchemaError) as info:
        covekit.Schema({"enum": [{1, 2}]})
    assert info.value.pointer == ""
    with pytest.raises(SchemaError):
        covekit.Schema({"minimum": float("nan")})


def test_registry_remote_ref() -> None:
    registry = {"https://example.com/name.json": {"type": "string", "minLength": 1}}
    s = covekit.Schema(
        {"properties": {"name": {"$ref": "https://example.com/name.json"}}}, registry=registry
    )
    assert s.is_valid({"name": "x"})
    err = s.validate({"name": ""}).errors[0]
    assert err.keyword_location == "/properties/name/$ref/minLength"
    assert err.absolute_keyword_location == "https://example.com/name.json#/minLength"


def test_metaschema_ref_offline() -> None:
    meta = covekit.Schema({"$ref": "https://json-schema.org/draft/2020-12/schema"})
    assert meta.is_valid({"type": "string"})
    assert not meta.is_valid({"type": 12})


def test_recursive_schema_cycles() -> None:
    tree = covekit.Schema(
        {
            "type": "object",
            "properties": {"value": {"type": "integer"}, "kids": {"items": {"$ref": "#"}}},
        }
    )
    assert tree.is_valid({"value": 1, "kids": [{"value": 2, "kids": []}]})
    assert not tree.is_valid({"value": 1, "kids": [{"value": "x"}]})
    loop = covekit.Schema(
        {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}
    )
    with pytest.raises(InvalidInput, match="nested deeper"):
        loop.is_valid(1)


# --- bad or extreme input ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "offset", "line", "column"),
    [('{"a": 1,}', 8, 1, 9), ("[1,\n 2,\n x]", 9, 3, 2), ("", 0, 1, 1), ('"abc', 4, 1, 5)],
)
def test_invalid_json(text: str, offset: int, line: int, column: int) -> None:
    s = covekit.Schema({})
    for call in (s.validate_json, s.is_valid_json):
        with pytest.raises(InvalidJSON) as info:
            call(text)
        assert (info.value.offset, info.value.line, info.value.column) == (offset, line, column)
        assert isinstance(info.value, InvalidInput)


def test_invalid_utf8_and_surrogates() -> None:
    s = covekit.Schema({"type": "string", "minLength": 1})
    with pytest.raises(InvalidJSON):
        s.validate_json(b'"\xff"')
    with pytest.raises(InvalidInput):
        s.validate("\ud800")
    with pytest.raises(InvalidInput):
        s.validate_json('"\ud800"')


def test_non_json_python_objects() -> None:
    s = covekit.Schema({"type": ["object", "array"], "additionalProperties": True})
    with pytest.raises(InvalidInput, match="type set"):
        s.validate({1, 2})
    with pytest.raises(InvalidInput, match="keys must be str"):
        s.validate({1: "a"})
    assert s.is_valid((1, "a", None))  # tuples are arrays
    assert covekit.Schema({}).is_valid({1, 2})  # the empty schema looks at nothing


def test_deep_nesting() -> None:
    s = covekit.Schema({"type": "array", "items": {"$ref": "#"}})
    depth = 10_000
    with pytest.raises(InvalidJSON, match="nesting deeper"):
        s.validate_json("[" * depth + "]" * depth)
    assert s.is_valid_json("[" * 500 + "]" * 500)
    nested: list[Any] = []
    cur = nested
    for _ in range(depth):
        nxt: list[Any] = []
        cur.append(nxt)
        cur = nxt
    with pytest.raises(InvalidInput, match="nested deeper"):
        s.validate(nested)
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(InvalidInput):
        s.is_valid(cyclic)


def test_huge_document() -> None:
    s = covekit.Schema(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"a": {"type": "integer"}},
                "required": ["a"],
            },
        }
    )
    item = '{"a": 1, "b": "' + "x" * 80 + '"}'
    text = "[" + ",".join([item] * 1_100_000) + "]"
    assert len(text) > 100_000_000
    assert s.is_valid_json(text)
    bad = text[:-1] + ',{"b": 1}]'
    r = s.validate_json(bad)
    assert not r.valid and r.errors[0].instance_path == "/1100000"


@pytest.mark.parametrize(
    ("text", "integer", "non_negative", "even"),
    [
        ("18446744073709551616", True, True, True),
        ("-18446744073709551617", True, False, False),
        ("123456789012345678901234567890", True, True, True),
        ("1e400", True, True, True),
        ("1.0", True, True, False),
        ("-0.0", True, True, True),
    ],
)
def test_big_numbers(text: str, integer: bool, non_negative: bool, even: bool) -> None:
    assert covekit.Schema({"type": "integer"}).validate_json(text).valid is integer
    assert covekit.Schema({"minimum": 0}).validate_json(text).valid is non_negative
    assert covekit.Schema({"multipleOf": 2}).validate_json(text).valid is even


def test_big_ints_as_objects() -> None:
    assert covekit.Schema({"type": "integer", "minimum": 2**64}).is_valid(2**70)
    assert covekit.Schema({"multipleOf": 3}).is_valid(3 * 2**80)
    assert not covekit.Schema({"multipleOf": 3}).is_valid(2**80)
    r = covekit.Schema({}).validate_json("[123456789012345678901234567890]")
    assert r.value == [123456789012345678901234567890]


def test_decimal_multiple_of() -> None:
    s = covekit.Schema({"multipleOf": 0.0001})
    assert s.is_valid_json("0.0075") and s.is_valid(0.0075)
    assert not s.is_valid_json("0.00751")
    assert covekit.Schema({"multipleOf": 1.5}).is_valid(4.5)


def test_unicode_lengths_and_patterns() -> None:
    s = covekit.Schema({"minLength": 2, "maxLength": 2})
    assert s.is_valid("é😀") and s.is_valid_json('"\\u00e9\\ud83d\\ude00"')
    assert not s.is_valid("😀")
    letters = covekit.Schema({"pattern": "^\\p{Letter}+$"})
    assert letters.is_valid("ĦéllÖ") and not letters.is_valid("abc1")
    assert not covekit.Schema({"pattern": "^\\d+$"}).is_valid("١٢")  # \d is ASCII in ECMA-262


def test_threads_share_one_schema() -> None:
    s = covekit.Schema(
        {
            "type": "object",
            "properties": {"n": {"type": "integer", "multipleOf": 2}},
            "required": ["n"],
        }
    )
    errors: list[str] = []

    def work(seed: int) -> None:
        for i in range(2000):
            n = seed * 10_000 + i
            doc = json.dumps({"n": n})
            want = n % 2 == 0
            if s.validate_json(doc).valid is not want or s.is_valid({"n": n}) is not want:
                errors.append(doc)
            if not want and s.validate_json(doc).errors[0].instance_path != "/n":
                errors.append("path " + doc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)

SCHEMA = covekit.Schema(
    {
        "anyOf": [
            {
                "type": "object",
                "properties": {"a": {"type": "string", "maxLength": 3}},
                "additionalProperties": True,
            },
            {"type": "array", "items": {"type": ["integer", "string"]}, "uniqueItems": True},
            {"type": "number", "minimum": 0, "multipleOf": 0.5},
        ]
    }
)


@settings(deadline=None, max_examples=300)
@given(json_values)
def test_text_and_objects_agree(value: Any) -> None:
    text = json.dumps(value)
    by_text = SCHEMA.validate_json(text, all_errors=True)
    by_obj = SCHEMA.validate(value, all_errors=True)
    assert by_text.valid == by_obj.valid == SCHEMA.is_valid(value) == SCHEMA.is_valid_json(text)
    assert by_text.errors == by_obj.errors
    assert by_text.value == json.loads(text)
