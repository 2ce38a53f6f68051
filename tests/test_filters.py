"""covekit.Filter: constructors, operators, the dict form, bad input, and a hypothesis
property against a pure-Python reference evaluator of the documented semantics."""

from __future__ import annotations

import doctest
import math
import os
import pickle
from typing import Any

import pytest
from covekit import Filter
from covekit.data import filters as filters_module
from covekit.errors import InvalidInput
from hypothesis import given, settings
from hypothesis import strategies as st

EXAMPLES = max(20, int(os.environ.get("COVEKIT_MAX_EXAMPLES", "200")) // 2)


# ---- a reference evaluator (docs/retrieval.md, "Filters") -----------------------------


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _equal(a: Any, b: Any) -> bool:
    if _num(a) and _num(b):
        return bool(a == b)  # Python compares int and float exactly
    if _num(a) or _num(b):
        return False
    return type(a) is type(b) and bool(a == b)


def reference(spec: dict[str, Any], doc: dict[str, Any]) -> bool:
    ((op, arg),) = spec.items()
    fields = doc.get("fields", {})
    if op == "all":
        return True
    if op == "acl_any":
        return any(p in doc.get("acl", []) for p in arg)
    if op == "tags_any":
        return any(t in doc.get("tags", []) for t in arg)
    if op == "tags_all":
        return all(t in doc.get("tags", []) for t in arg)
    if op in ("eq", "in"):
        values = [arg["value"]] if op == "eq" else arg["values"]
        return arg["field"] in fields and any(_equal(fields[arg["field"]], v) for v in values)
    if op == "range":
        if arg["field"] not in fields:
            return False
        x = fields[arg["field"]]
        if not _num(x) or (isinstance(x, float) and math.isnan(x)):
            return False
        return (
            ("gt" not in arg or x > arg["gt"])
            and ("gte" not in arg or x >= arg["gte"])
            and ("lt" not in arg or x < arg["lt"])
            and ("lte" not in arg or x <= arg["lte"])
        )
    if op == "exists":
        return arg in fields
    if op == "and":
        return all(reference(c, doc) for c in arg)
    if op == "or":
        return any(reference(c, doc) for c in arg)
    if op == "not":
        return not reference(arg, doc)
    raise AssertionError(op)


# ---- strategies ---------------------------------------------------------------------

principals = st.sampled_from(["user:1", "user:2", "role:support", "role:ops", "grüße", "用户"])
tags = st.sampled_from(["faq", "draft", "howto", "ünïcode"])
field_names = st.sampled_from(["lang", "year", "score", "ok", "absent"])
values = st.one_of(
    st.sampled_from(["en", "fr", "", "日本語"]),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.5, 1.0, -2.0]),
    st.booleans(),
)
numbers = st.one_of(
    st.integers(-5, 5), st.sampled_from([0.5, -1.5, 2.0]), st.integers(-(2**63), 2**63 - 1)
)

docs = st.fixed_dictionaries(
    {},
    optional={
        "acl": st.lists(principals, max_size=3),
        "tags": st.lists(tags, max_size=3),
        "fields": st.dictionaries(field_names.filter(lambda f: f != "absent"), values, max_size=4),
    },
)


def _non_nan(v: Any) -> bool:
    return not (isinstance(v, float) and math.isnan(v))


leaves = st.one_of(
    st.builds(lambda p: {"acl_any": p}, st.lists(principals, max_size=3)),
    st.builds(lambda t: {"tags_any": t}, st.lists(tags, max_size=3)),
    st.builds(lambda t: {"tags_all": t}, st.lists(tags, max_size=3)),
    st.builds(lambda f, v: {"eq": {"field": f, "value": v}}, field_names, values.filter(_non_nan)),
    st.builds(
        lambda f, vs: {"in": {"field": f, "values": vs}},
        field_names,
        st.lists(values.filter(_non_nan), max_size=3),
    ),
    st.builds(
        lambda f, lo, hi, lk, hk: {"range": {"field": f, lk: lo, hk: hi}},
        field_names,
        numbers,
        numbers,
        st.sampled_from(["gt", "gte"]),
        st.sampled_from(["lt", "lte"]),
    ),
    st.builds(lambda f: {"exists": f}, field_names),
    st.just({"all": True}),
)
specs = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(lambda cs: {"and": cs}, st.lists(inner, max_size=3)),
        st.builds(lambda cs: {"or": cs}, st.lists(inner, max_size=3)),
        st.builds(lambda c: {"not": c}, inner),
    ),
    max_leaves=8,
)


@settings(max_examples=EXAMPLES)
@given(spec=specs, batch=st.lists(docs, max_size=12))
def test_matches_the_reference_semantics(spec: dict[str, Any], batch: list[dict[str, Any]]) -> None:
    f = Filter.from_dict(spec)
    assert f.matches_many(batch) == [reference(spec, d) for d in batch]
    assert Filter.from_dict(f.to_dict()) == f


# ---- named cases --------------------------------------------------------------------


def test_operators_build_the_dict_form() -> None:
    f = (
        Filter.acl_any(["role:support", "user:42"])
        & Filter.eq("lang", "en")
        & Filter.range("valid_until", gte=100)
    )
    assert f.to_dict() == {
        "and": [
            {"acl_any": ["role:support", "user:42"]},
            {"eq": {"field": "lang", "value": "en"}},
            {"range": {"field": "valid_until", "gte": 100}},
        ]
    }
    assert (~~Filter.tags_any(["x"])) == Filter.tags_any(["x"])
    assert (Filter.exists("a") | Filter.exists("b") | Filter.exists("c")).to_dict() == {
        "or": [{"exists": "a"}, {"exists": "b"}, {"exists": "c"}]
    }
    assert Filter.in_("lang", ["en"]).to_dict() == {"in": {"field": "lang", "values": ["en"]}}


def test_empty_acl_is_visible_to_no_principal() -> None:
    f = Filter.acl_any(["user:1", "role:admin"])
    assert f.matches_many([{}, {"acl": []}, {"acl": ["user:1"]}]) == [False, False, True]
    assert not Filter.acl_any([]).matches({"acl": ["user:1"]})
    assert Filter.tags_all([]).matches({})
    assert not Filter.tags_any([]).matches({"tags": ["x"]})


def test_numbers_compare_exactly() -> None:
    big = 2**53 + 1
    assert Filter.eq("n", big).matches({"fields": {"n": big}})
    assert not Filter.eq("n", float(big)).matches({"fields": {"n": big}})
    assert Filter.range("n", gt=float(2**53)).matches({"fields": {"n": big}})
    assert not Filter.eq("n", True).matches({"fields": {"n": 1}})
    assert not Filter.range("n", gte=0).matches({"fields": {"n": float("nan")}})
    assert Filter.eq("n", 1).matches({"fields": {"n": 1.0}})


def test_unicode_and_empty_strings() -> None:
    f = Filter.eq("lang", "日本語") & Filter.acl_any(["grüße"])
    assert f.matches({"acl": ["grüße"], "fields": {"lang": "日本語"}})
    assert Filter.eq("s", "").matches({"fields": {"s": ""}})


def test_pickle_and_hash() -> None:
    f = Filter.acl_any(["u"]) & ~Filter.tags_any(["draft"])
    g = pickle.loads(pickle.dumps(f))
    assert g == f and hash(g) == hash(f)
    assert {f: 1}[g] == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "one key"),
        ({"and": [], "or": []}, "one key"),
        ({"xor": []}, "unknown filter operator"),
        ({"acl_any": "user:1"}, "not one string"),
        ({"eq": {"field": "a"}}, "needs 'field' and 'value'"),
        ({"eq": {"field": "a", "value": None}}, "not NoneType"),
        ({"eq": {"field": "a", "value": float("nan")}}, "NaN"),
        ({"eq": {"field": "", "value": 1}}, "non-empty"),
        ({"eq": {"field": "a", "value": 2**64}}, "64 bits"),
        ({"eq": {"field": "a", "value": [1]}}, "str, int, float or bool"),
        ({"eq": {"field": "a", "value": 1, "extra": 2}}, "unknown key"),
        ({"range": {"field": "a"}}, "at least one bound"),
        ({"range": {"field": "a", "gt": 1, "gte": 2}}, "not both"),
        ({"range": {"field": "a", "gt": "x"}}, "number"),
        ({"not": [{"all": True}]}, "one key"),
        ({"and": {"all": True}}, "list of filters"),
        ({"all": False}, "all"),
    ],
)
def test_bad_filters_raise_invalid_input(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Filter.from_dict(spec)


def test_bad_attributes_and_operands() -> None:
    f = Filter.all()
    with pytest.raises(InvalidInput, match="unknown key"):
        f.matches({"acls": ["x"]})
    with pytest.raises(InvalidInput, match="not one string"):
        f.matches({"acl": "user:1"})
    with pytest.raises(InvalidInput, match="leave the field out"):
        f.matches({"fields": {"a": None}})
    with pytest.raises(InvalidInput, match="not one string"):
        Filter.acl_any("user:1")
    with pytest.raises(TypeError):
        Filter.all() & {"all": True}  # type: ignore[operator]
    with pytest.raises(InvalidInput):
        Filter.from_dict([{"all": True}])  # type: ignore[arg-type]


def test_doctests() -> None:
    result = doctest.testmod(filters_module)
    assert result.attempted > 0
    assert result.failed == 0
