"""covekit.repair_json: the hand-written corpus, invariants (hypothesis) and edge cases.

The corpus (tests/data/json_repair_corpus.jsonl) holds malformed model outputs, each
with the value the repair must give or the refusal it must raise; every case must pass.
The properties: valid JSON comes back unchanged with no repairs; every repair's span
lies inside the input; lossless repairs never change a value that was present.
"""

from __future__ import annotations

import json
import math
import re
import threading
from pathlib import Path
from typing import Any

import covekit
import pytest
from covekit.errors import CovekitError, InvalidInput, InvalidUtf8, RepairError
from covekit.execution.repair import LOSSLESS_KINDS
from hypothesis import given
from hypothesis import strategies as st

CORPUS = Path(__file__).resolve().parent / "data" / "json_repair_corpus.jsonl"
CASES = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]

#: Every repair kind and refusal kind, as documented in docs/json-repair.md.
REPAIR_KINDS = {
    *LOSSLESS_KINDS,
    "unescaped_quote",
    "invalid_escape",
    "truncated_string",
    "truncated_container",
    "truncated_literal",
    "extra_values_dropped",
}
REFUSAL_KINDS = {
    "missing_value",
    "non_finite_number",
    "duplicate_key",
    "truncated_key",
    "truncated_member",
    "truncated_number",
    "invalid_number",
    "unquoted_value",
    "undefined_value",
    "mismatched_bracket",
    "unexpected_character",
    "no_json",
    "nesting_too_deep",
}


def same(a: Any, b: Any) -> bool:
    """Equality that tells 1 from 1.0 from True, and compares key order too."""
    return json.dumps(a) == json.dumps(b)


def options(case: dict[str, Any]) -> dict[str, Any]:
    return {k: case[k] for k in ("strict", "multiple") if k in case}


def check_spans(text: str, spans: list[tuple[int, int]]) -> None:
    for start, end in spans:
        assert 0 <= start <= end <= len(text)


# --- the corpus --------------------------------------------------------------------------


def test_corpus_is_large_and_covers_every_kind() -> None:
    assert len(CASES) >= 200
    assert len({c["id"] for c in CASES}) == len(CASES)
    seen_repairs: set[str] = set()
    for c in CASES:
        if not c.get("refuse"):
            seen_repairs.update(
                r.kind for r in covekit.repair_json(c["input"], **options(c)).repairs
            )
    seen_repairs.update(c["reason"] for c in CASES if c.get("refuse") and c.get("strict"))
    assert seen_repairs == REPAIR_KINDS
    assert {c["reason"] for c in CASES if c.get("refuse") and not c.get("strict")} == REFUSAL_KINDS


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_corpus_case(case: dict[str, Any]) -> None:
    text = case["input"]
    if case.get("refuse"):
        with pytest.raises(RepairError) as info:
            covekit.repair_json(text, **options(case))
        problems = info.value.problems
        assert problems and problems[0][0] == case["reason"]
        check_spans(text, [(p[1], p[2]) for p in problems])
        assert case["reason"] in str(info.value)
        return
    r = covekit.repair_json(text, **options(case))
    assert same(r.value, case["expect"]), (r.value, case["expect"])
    assert same(json.loads(r.text), r.value)
    if case.get("multiple") != "all":  # several values in "all" mode need no repair
        assert r.repairs, "every corpus input is malformed, so something was repaired"
    check_spans(text, [(x.start, x.end) for x in r.repairs])
    assert [x.start for x in r.repairs] == sorted(x.start for x in r.repairs)
    for x in r.repairs:
        assert x.kind in REPAIR_KINDS
        assert x.lossless == (x.kind in LOSSLESS_KINDS)
        assert x.message
    assert r.lossless == all(x.lossless for x in r.repairs)
    # strict mode agrees when everything was lossless, and refuses otherwise
    if r.lossless:
        assert same(covekit.repair_json(text, **{**options(case), "strict": True}).value, r.value)
    else:
        with pytest.raises(RepairError, match="strict mode"):
            covekit.repair_json(text, **{**options(case), "strict": True})
    # the repaired text is valid JSON: repairing it again changes nothing
    again = covekit.repair_json(r.text)
    assert again.text == r.text and again.repairs == []


# --- the silent data changes json_repair is known for --------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('{"a": }', "missing_value"),
        ('{"a": -Infinity}', "non_finite_number"),
        ('{"a": NaN}', "non_finite_number"),
        ('{"a": 1, "a": 2}', "duplicate_key"),
        ('{"a": 1, "b', "truncated_key"),
    ],
)
def test_never_guesses_data(text: str, kind: str) -> None:
    with pytest.raises(RepairError) as info:
        covekit.repair_json(text)
    assert info.value.problems[0][0] == kind


def test_none_becomes_null_not_a_string() -> None:
    r = covekit.repair_json('{"a": None, "b": "None"}')
    assert r.value == {"a": None, "b": "None"}
    assert [x.kind for x in r.repairs] == ["python_literal"]


# --- properties ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)


@given(value=json_values, indent=st.sampled_from([None, 0, 2]), ascii_only=st.booleans())
def test_valid_json_is_unchanged(value: Any, indent: int | None, ascii_only: bool) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    r = covekit.repair_json(text)
    assert r.text is text or r.text == text
    assert r.repairs == [] and r.lossless
    assert same(r.value, json.loads(text))
    assert same(covekit.repair_json(text.encode()).value, r.value)
    assert same(covekit.repair_json(text, strict=True).value, r.value)
    assert same(covekit.repair_json(text, multiple="all").value, [r.value])


@pytest.mark.parametrize(
    "text",
    [
        '["\\ud800", "\\udc00x"]',  # lone surrogate escapes: simdjson declines them
        '{"n": 123456789012345678901234567890, "m": -98765432109876543210}',
        '[1e400, -1e400, 1e-400]',
        '[-0, -0.0, 0.1, 1E2, 2.5e-3]',
        '{"a": 18446744073709551615, "b": -9223372036854775808, "c": 9223372036854775807}',
        '{"\u00e9": "\u00fc", "k": {"k": [true, false, null]}, "": ""}',
        '{"k": 1, "k2": {"k": 2}}',
        "[" * 300 + "]" * 300,
    ],
)
def test_value_is_what_json_loads_gives(text: str) -> None:
    # The value is built natively (simdjson, or json.loads where simdjson declines); it
    # must be exactly json.loads(text), types included, whether or not a repair ran.
    r = covekit.repair_json(text)
    assert same(r.value, json.loads(text)) and same(r.value, json.loads(r.text))
    repaired = covekit.repair_json(text + " // a trailing comment")
    assert repaired.repairs and not repaired.repairs[0].kind.startswith("truncated")
    assert same(repaired.value, json.loads(text))


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def sloppy(value: Any, draw: Any) -> str:
    """Writes `value` the way a model might: Python literals, single quotes, unquoted
    keys, trailing commas, comments, missing commas; all repairs that are lossless."""
    if value is None:
        return draw(st.sampled_from(["None", "null"]))
    if isinstance(value, bool):
        return draw(st.sampled_from([str(value), json.dumps(value)]))
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        if "'" not in value and "\\" not in value and draw(st.booleans()):
            return "'" + json.dumps(value)[1:-1].replace('\\"', '"') + "'"
        return json.dumps(value)
    sep = draw(st.sampled_from([", ", ",", " ", "\n", ", // note\n", ",/* c */"]))
    trailing = draw(st.sampled_from(["", ",", ", "]))
    if isinstance(value, list):
        items = [sloppy(v, draw) for v in value]
        return "[" + sep.join(items) + (trailing if items else "") + "]"
    parts = []
    for k, v in value.items():
        key = k if _IDENT.match(k) and draw(st.booleans()) else json.dumps(k)
        parts.append(f"{key}: {sloppy(v, draw)}")
    return "{" + sep.join(parts) + (trailing if parts else "") + "}"


@given(
    value=st.one_of(
        st.lists(json_values, max_size=5),
        st.dictionaries(st.text(max_size=10), json_values, max_size=5),
    ),
    data=st.data(),
    prose=st.sampled_from(["", "Here it is: ", "```json\n", "Sure!\n```\n"]),
)
def test_lossless_repairs_keep_every_value(value: Any, data: st.DataObject, prose: str) -> None:
    text = prose + sloppy(value, data.draw) + ("\n```" if "```" in prose else "")
    r = covekit.repair_json(text)
    assert same(r.value, value), text
    assert r.lossless, [x.kind for x in r.repairs]
    check_spans(text, [(x.start, x.end) for x in r.repairs])


@given(value=json_values, cut=st.integers(min_value=0), data=st.data())
def test_truncated_documents_never_change_what_is_present(
    value: Any, cut: int, data: st.DataObject
) -> None:
    text = json.dumps({"v": value, "end": True}, indent=data.draw(st.sampled_from([None, 1])))
    prefix = text[: cut % (len(text) + 1)]
    try:
        r = covekit.repair_json(prefix)
    except RepairError as exc:
        check_spans(prefix, [(p[1], p[2]) for p in exc.problems])
        return
    check_spans(prefix, [(x.start, x.end) for x in r.repairs])
    if prefix == text:
        assert r.repairs == []
    # what was complete in the prefix is kept as written
    if isinstance(r.value, dict) and "end" in r.value:
        assert same(r.value["v"], value)


@given(text=st.text(max_size=200))
def test_any_text_gives_json_or_a_clear_error(text: str) -> None:
    try:
        r = covekit.repair_json(text)
    except RepairError as exc:
        assert exc.problems
        check_spans(text, [(p[1], p[2]) for p in exc.problems])
        return
    json.loads(r.text)
    check_spans(text, [(x.start, x.end) for x in r.repairs])


# --- edge cases ----------------------------------------------------------------------------


def test_spans_are_str_indices() -> None:
    text = "😀 é {'k': '😀'} done"
    r = covekit.repair_json(text)
    spans = {x.kind: text[x.start : x.end] for x in r.repairs}
    assert (
        r.repairs[0].kind == "extracted_from_prose"
        and text[r.repairs[0].start : r.repairs[0].end] == "😀 é"
    )
    assert spans["single_quotes"] == "'😀'"
    assert r.value == {"k": "😀"}


def test_bytes_input_and_invalid_utf8() -> None:
    assert covekit.repair_json(b"{'a': 1}").value == {"a": 1}
    assert covekit.repair_json(bytearray(b"[1,]")).value == [1]
    with pytest.raises(InvalidUtf8):
        covekit.repair_json(b'{"a": "\xff"}')


def test_lone_surrogates_and_wrong_types() -> None:
    with pytest.raises(InvalidInput, match="surrogate"):
        covekit.repair_json('{"a": "\ud800"}')
    with pytest.raises(TypeError, match="str"):
        covekit.repair_json(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="multiple"):
        covekit.repair_json("{}", multiple="some")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        covekit.repair_json("{}", strict="yes")  # type: ignore[arg-type]


def test_empty_input() -> None:
    with pytest.raises(RepairError) as info:
        covekit.repair_json("")
    assert info.value.problems == [
        ("no_json", 0, 0, "no JSON object or array was found in the text")
    ]


def test_repair_error_classes() -> None:
    assert issubclass(RepairError, CovekitError) and issubclass(RepairError, ValueError)
    assert covekit.errors.RepairError is covekit.RepairError
    with pytest.raises(RepairError, match=r"^cannot repair this JSON: duplicate_key at 9"):
        covekit.repair_json('{"a": 1, "a": 2}')


def test_strict_lists_every_lossy_repair() -> None:
    with pytest.raises(RepairError) as info:
        covekit.repair_json('{"a": "x "q" y", "b": [1, "cut', strict=True)
    kinds = [p[0] for p in info.value.problems]
    assert kinds == [
        "unescaped_quote",
        "unescaped_quote",
        "truncated_string",
        "truncated_container",
        "truncated_container",
    ]


def test_deep_nesting_is_an_error() -> None:
    for text in ("[" * 100_000 + "]" * 100_000, "[" * 100_000, '{"a":' * 50_000):
        with pytest.raises(RepairError) as info:
            covekit.repair_json(text)
        assert info.value.problems[0][0] == "nesting_too_deep"
    assert covekit.repair_json("[" * 10 + "]" * 10, max_depth=10).repairs == []
    with pytest.raises(RepairError):
        covekit.repair_json("[" * 11 + "]" * 11, max_depth=10)


def test_one_megabyte_input() -> None:
    text = "Result:\n[" + ", ".join(f"{{'id': {i}, 'ok': True}}" for i in range(50_000)) + ",]"
    assert len(text) > 1_000_000
    r = covekit.repair_json(text)
    assert len(r.value) == 50_000 and r.value[-1] == {"id": 49_999, "ok": True}
    valid = json.dumps(r.value)
    assert covekit.repair_json(valid).text is valid


def test_numbers_are_kept_as_written() -> None:
    r = covekit.repair_json("[123456789012345678901234567890, 1.0, 1e400, -0.0,]")
    assert r.text == "[123456789012345678901234567890,1.0,1e400,-0.0]"
    assert r.value[0] == 123456789012345678901234567890 and math.isinf(r.value[2])


def test_threads_get_the_same_results() -> None:
    texts = [c["input"] for c in CASES if not c.get("refuse") and not c.get("strict")] * 3
    expected = [covekit.repair_json(t).text for t in texts]
    results: list[list[str]] = [[] for _ in range(4)]

    def work(i: int) -> None:
        results[i] = [covekit.repair_json(t).text for t in texts]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results)


def test_against_json_repair() -> None:
    """The corpus through json_repair too: covekit succeeds at least as often, never silently."""
    pytest.importorskip(
        "json_repair", reason="json_repair is not installed (pip install 'covekit[bench]')"
    )
    import sys

    bench_dir = str(Path(__file__).resolve().parent / "benchmarks")
    if bench_dir not in sys.path:
        sys.path.insert(0, bench_dir)
    import bench_repair

    ours = bench_repair.score(bench_repair.run_covekit)
    theirs = bench_repair.score(bench_repair.run_json_repair)
    assert ours.silent == 0, ours.silent_ids
    assert ours.success == ours.cases
    assert ours.rate >= theirs.rate
