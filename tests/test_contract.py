"""covekit.Contract: check (schema, repair, rules, actions, pydantic), enforce (re-ask,
fallback, escalation, budgets, missing context) and the provider downgrade."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from covekit import Action, Budget, Contract, ModelReply, Rule, Violation
from covekit.errors import ContractError, InvalidInput
from hypothesis import given, settings
from hypothesis import strategies as st

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "age": {"type": "integer", "minimum": 0},
        "email": {"type": "string", "pattern": "^[^@]+@[^@]+$"},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}
ASK = [{"role": "system", "content": "Extract the person."}, {"role": "user", "content": "Ada, 36"}]


class Scripted:
    """A model that replies from a script and records the messages it was sent."""

    def __init__(self, *replies: Any, name: str = "scripted") -> None:
        self.replies = list(replies)
        self.seen: list[list[dict[str, Any]]] = []
        self.caps: list[int | None] = []
        self.name = name

    def __call__(self, messages: list[dict[str, Any]], max_tokens: int | None = None) -> Any:
        self.seen.append([dict(m) for m in messages])
        self.caps.append(max_tokens)
        return self.replies.pop(0)


# ---------------------------------------------------------------------------- check
def test_check_valid_and_schema_violations_with_paths() -> None:
    c = Contract(PERSON)
    v = c.check('{"name": "Ada", "age": 36}')
    assert v.ok and bool(v) and v.value == {"name": "Ada", "age": 36} and v.violations == ()
    bad = c.check('{"name": "", "age": -1, "extra": 1}')
    assert not bad.ok
    got = {(x.kind, x.path, x.source) for x in bad.violations}
    assert ("schema", "/age", "minimum") in got
    assert ("schema", "/name", "minLength") in got
    assert any(x.source == "additionalProperties" for x in bad.violations)
    assert all(x.severity == "error" for x in bad.violations)


def test_check_repairs_losslessly_and_records_every_fix() -> None:
    c = Contract(PERSON)
    v = c.check("Here you go:\n```json\n{'name': 'Ada', 'age': 36,}\n```")
    assert v.ok and v.value == {"name": "Ada", "age": 36}
    kinds = [r.kind for r in v.repairs]
    assert "code_fence" in kinds and "trailing_comma" in kinds and "single_quotes" in kinds
    # Closing a truncated output guesses where it ended: refused unless allowed.
    cut = '{"age": 36, "name": "Ada"'
    refused = c.check(cut)
    assert not refused.ok and refused.value is None
    assert [x.kind for x in refused.violations] == ["syntax"]
    lossy = Contract(PERSON, allow_lossy_repair=True).check(cut)
    assert lossy.ok and lossy.value == {"name": "Ada", "age": 36}
    assert any(not r.lossless for r in lossy.repairs)


def test_check_without_repair_wants_json() -> None:
    c = Contract(PERSON, on_fail=["reask", "raise"])
    v = c.check("{'name': 'Ada', 'age': 36}")
    assert not v.ok and v.violations[0].kind == "syntax" and "not JSON" in v.violations[0].message
    assert c.check(b'{"name": "Ada", "age": 36}').ok


def test_check_refuses_what_repair_cannot_do_without_guessing() -> None:
    for text in ('{"name": "Ada", "age": }', '{"name": "Ada", "age": NaN}'):
        v = Contract(PERSON, allow_lossy_repair=True).check(text)
        assert not v.ok and v.value is None and v.violations[0].kind == "syntax"


def test_rules_messages_violations_severity_and_order() -> None:
    def adult(v: dict[str, Any]) -> str | None:
        return "must be an adult" if v["age"] < 18 else None

    warn = Rule("has_email", lambda v: None if "email" in v else "no email", severity="warning")
    many = Rule("many", lambda v: [Violation("rule", "a", "/name"), "b"])
    c = Contract(PERSON, rules=[adult, warn])
    v = c.check({"name": "Kid", "age": 9})
    assert not v.ok
    assert [(x.message, x.source, x.severity) for x in v.violations] == [
        ("must be an adult", "adult", "error"),
        ("no email", "has_email", "warning"),
    ]
    ok = c.check({"name": "Ada", "age": 36})
    assert ok.ok and [x.severity for x in ok.violations] == ["warning"]
    assert ok.errors == ()
    assert [str(x) for x in Contract(rules=[many]).check({}).violations] == [
        "rule /name: a",
        "rule (root): b",
    ]
    # Rules see only values that passed the schema.
    called: list[Any] = []
    Contract(PERSON, rules=[lambda v: called.append(v)]).check({"age": "x"})
    assert called == []
    with pytest.raises(InvalidInput, match="returned int"):
        Contract(rules=[Rule("bad", lambda v: [3])]).check({})


def test_actions_allowed_unknown_and_argument_schemas() -> None:
    refund = Action(
        "refund",
        {
            "type": "object",
            "properties": {"amount": {"type": "number", "maximum": 500}},
            "required": ["amount"],
        },
    )
    c = Contract(actions=[refund, "lookup_order"])
    assert c.check({"action": "refund", "arguments": {"amount": 20}}).ok
    assert c.check({"action": "lookup_order", "arguments": {"id": 1}}).ok
    v = c.check({"action": "delete_account", "arguments": {}})
    assert (
        not v.ok
        and v.violations[0].kind == "action"
        and "delete_account" in v.violations[0].message
    )
    assert "allowed: lookup_order, refund" in v.violations[0].message
    over = c.check(
        {"actions": [{"name": "lookup_order"}, {"name": "refund", "arguments": {"amount": 900}}]}
    )
    assert [(x.kind, x.path) for x in over.violations] == [
        ("action", "/actions/1/arguments/amount")
    ]
    openai = {
        "tool_calls": [
            {"type": "function", "function": {"name": "refund", "arguments": '{"amount": 1000}'}},
            {"type": "function", "function": {"name": "refund", "arguments": "{not json"}},
        ]
    }
    got = c.check(openai)
    assert [x.path for x in got.violations] == [
        "/tool_calls/0/function/arguments/amount",
        "/tool_calls/1/function/arguments",
    ]
    assert [a.name for a in got.actions] == ["refund", "refund"]
    # No actions declared: any call is a violation.
    assert not Contract().check({"action": "anything"}).ok
    with pytest.raises(InvalidInput, match="twice"):
        Contract(actions=["a", "a"])


def test_pydantic_model_class() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Person(pydantic.BaseModel):  # type: ignore[misc, name-defined]
        name: str
        age: int = pydantic.Field(ge=0)

        @pydantic.field_validator("name")
        @classmethod
        def capitalised(cls, v: str) -> str:
            if not v[:1].isupper():
                raise ValueError("name must be capitalised")
            return v

    c = Contract(Person, rules=[lambda p: "too old" if p.age > 130 else None])
    v = c.check('{"name": "Ada", "age": 36}')
    assert v.ok and isinstance(v.value, Person) and v.value.age == 36
    assert c.check(Person(name="Ada", age=36)).ok
    schema_fail = c.check('{"name": "Ada", "age": -2}')
    assert [(x.kind, x.path) for x in schema_fail.violations] == [("schema", "/age")]
    model_fail = c.check('{"name": "ada", "age": 2}')  # only pydantic's validator sees this
    assert [(x.kind, x.path) for x in model_fail.violations] == [("schema", "/name")]
    assert "capitalised" in model_fail.violations[0].message
    assert [x.message for x in c.check('{"name": "Ada", "age": 200}').violations] == ["too old"]


@settings(max_examples=60, deadline=None)
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8),
        lambda kids: (
            st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3)
        ),
        max_leaves=10,
    )
)
def test_check_agrees_with_the_schema_on_values_and_on_their_json(value: Any) -> None:
    from covekit import Schema

    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    c = Contract(schema)
    expected = Schema(schema).is_valid(value)
    assert c.check(value).ok == expected
    text = c.check(json.dumps(value))
    assert text.ok == expected and text.repairs == ()


def test_check_from_many_threads() -> None:
    c = Contract(PERSON, rules=[lambda v: None])
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(200):
                age = (i * 200 + j) % 50 - 10
                v = c.check(json.dumps({"name": "N", "age": age}))
                assert v.ok == (age >= 0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# ---------------------------------------------------------------------------- enforce
def test_enforce_first_attempt_passes() -> None:
    model = Scripted('{"name": "Ada", "age": 36}')
    r = Contract(PERSON).enforce(model, ASK)
    assert r.ok and r.value == {"name": "Ada", "age": 36}
    assert [(a.index, a.step, a.model) for a in r.attempts] == [(1, "first", "scripted")]
    assert model.seen == [ASK]


def test_reask_sends_a_compact_summary_not_the_history() -> None:
    model = Scripted(
        '{"name": "Ada", "age": -1}', '{"name": "", "age": 36}', '{"name": "Ada", "age": 36}'
    )
    r = Contract(PERSON, max_attempts=3).enforce(model, ASK)
    assert r.ok and [a.step for a in r.attempts] == ["first", "reask", "reask"]
    first_reask, second_reask = model.seen[1], model.seen[2]
    assert first_reask[:2] == ASK and len(first_reask) == 4
    assert first_reask[2] == {"role": "assistant", "content": '{"name": "Ada", "age": -1}'}
    assert "/age" in first_reask[3]["content"] and "minimum" in first_reask[3]["content"]
    # The second re-ask carries only the latest failure: the context does not grow.
    assert len(second_reask) == 4 and second_reask[2]["content"] == '{"name": "", "age": 36}'
    assert "/name" in second_reask[3]["content"] and "/age" not in second_reask[3]["content"]


def test_retries_run_out_with_an_error_naming_each_attempt() -> None:
    model = Scripted('{"name": "Ada"}', '{"age": 3}', "not json at all")
    with pytest.raises(ContractError) as info:
        Contract(PERSON, max_attempts=3).enforce(model, ASK)
    msg = str(info.value)
    assert "attempt 1 (first, scripted): schema (root)" in msg and "age" in msg
    assert "attempt 2 (reask, scripted): schema (root)" in msg and "name" in msg
    assert "attempt 3 (reask, scripted): syntax" in msg
    assert len(info.value.attempts) == 3


def test_max_attempts_caps_the_calls() -> None:
    model = Scripted(*['{"name": "Ada"}'] * 5)
    with pytest.raises(ContractError, match="in 2 attempts"):
        Contract(PERSON, max_attempts=2, on_fail=["reask"] * 5).enforce(model, ASK)
    assert len(model.seen) == 2


def test_fallback_gets_the_original_messages() -> None:
    primary = Scripted('{"name": "Ada"}', name="small")
    backup = Scripted('{"name": "Ada", "age": 36}', name="large")
    r = Contract(PERSON, on_fail=["fallback", "raise"], fallbacks=[backup]).enforce(primary, ASK)
    assert r.ok and [(a.step, a.model) for a in r.attempts] == [
        ("first", "small"),
        ("fallback", "large"),
    ]
    assert backup.seen == [ASK]


def test_escalation_hook_and_per_kind_policy() -> None:
    seen: list[Any] = []
    c = Contract(
        PERSON,
        rules=[lambda v: "needs review" if v["age"] > 100 else None],
        on_fail={"syntax": ["repair", "reask"], "schema": ["reask"], "rule": ["escalate"]},
        escalate=lambda e: seen.append(e) or "ticket-7",
    )
    r = c.enforce(Scripted("nope", '{"name": "Old", "age": 120}'), ASK)
    assert not r.ok and r.escalated and r.escalation == "ticket-7" and r.reason == "rule"
    assert [a.step for a in r.attempts] == ["first", "reask"]
    (e,) = seen
    assert e.reason == "violations" and [v.message for v in e.violations] == ["needs review"]
    assert len(e.attempts) == 2 and list(e.messages) == ASK
    # Kinds left out of a dict policy raise.
    with pytest.raises(ContractError, match="action"):
        Contract(on_fail={"schema": ["reask"]}).enforce(Scripted('{"action": "x"}'), ASK)


def test_missing_context_refuses_or_escalates_without_calling_the_model() -> None:
    model = Scripted()
    r = Contract(PERSON).enforce(model, ASK, context=[])
    assert r.refused and not r.ok and r.attempts == () and r.reason == "missing_context"
    hook: list[Any] = []
    r2 = Contract(PERSON, on_missing_context="escalate", escalate=hook.append).enforce(
        model, ASK, context=()
    )
    assert r2.escalated and hook[0].reason == "missing_context"
    assert model.seen == []
    assert Contract(PERSON).enforce(Scripted('{"name": "A", "age": 1}'), ASK, context=["doc"]).ok


def test_token_budget_caps_each_completion_and_is_never_exceeded(tok_dir: None) -> None:
    model = Scripted(*['{"name": "Ada"}'] * 10)
    c = Contract(PERSON, budget=Budget(max_tokens=200), max_attempts=10, on_fail=["reask"] * 10)
    with pytest.raises(ContractError) as info:
        c.enforce(model, ASK)
    attempts = info.value.attempts
    assert 1 < len(attempts) < 10
    used = sum(a.prompt_tokens + a.completion_tokens for a in attempts)  # type: ignore[attr-defined]
    assert used <= 200
    assert all(cap is not None and cap > 0 for cap in model.caps)
    assert model.caps == sorted(model.caps, reverse=True)  # the room shrinks
    assert "budget" in str(info.value)


def test_reported_usage_and_cost_budget(tok_dir: None) -> None:
    replies = [
        {"text": '{"name": "Ada"}', "usage": {"prompt_tokens": 30, "completion_tokens": 10}},
        ModelReply('{"name": "Ada", "age": 2}', prompt_tokens=60, completion_tokens=12, cost=0.5),
    ]
    b = Budget(max_cost=1.0, prompt_price=0.001, completion_price=0.002)
    r = Contract(PERSON, budget=b).enforce(Scripted(*replies), ASK)
    assert r.ok and r.prompt_tokens == 90 and r.completion_tokens == 22
    assert r.attempts[0].cost == pytest.approx(30 * 0.001 + 10 * 0.002)
    assert r.cost == pytest.approx(0.05 + 0.5)


def test_a_budget_needs_a_model_that_takes_max_tokens(tok_dir: None) -> None:
    def plain(messages: list[dict[str, Any]]) -> str:
        return "{}"

    with pytest.raises(InvalidInput, match="max_tokens"):
        Contract(PERSON, budget=Budget(max_tokens=100)).enforce(plain, ASK)
    with pytest.raises(InvalidInput, match="prompt_price"):
        Budget(max_cost=1.0)
    with pytest.raises(InvalidInput, match="max_tokens must be"):
        Budget(max_tokens=-1)


def test_model_reply_types() -> None:
    with pytest.raises(InvalidInput, match="returned int"):
        Contract(PERSON).enforce(lambda m: 42, ASK)
    with pytest.raises(InvalidInput, match="callable"):
        Contract(PERSON).enforce("gpt", ASK)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"on_fail": ["retry"]}, "unknown on_fail step 'retry'"),
        ({"on_fail": {"format": ["reask"]}}, "unknown violation kind 'format'"),
        ({"on_fail": ["escalate"]}, "no escalate hook"),
        ({"on_missing_context": "escalate"}, "no escalate hook"),
        ({"on_missing_context": "ignore"}, "must be 'refuse' or 'escalate'"),
        ({"on_fail": ["fallback"]}, "no fallbacks"),
        ({"max_attempts": 0}, "max_attempts must be an int >= 1"),
        ({"fallbacks": ["gpt-4"]}, "callable model"),
    ],
)
def test_bad_settings(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Contract(PERSON, **kwargs)


def test_bad_output_schema_is_a_schema_error() -> None:
    from covekit.errors import SchemaError

    with pytest.raises(SchemaError):
        Contract({"type": "object", "properties": {"a": {"type": 5}}})


# ---------------------------------------------------------------------------- providers
def test_openai_strict_downgrade() -> None:
    schema = {
        "$defs": {
            "Line": {
                "type": "object",
                "properties": {"sku": {"type": "string", "pattern": "^[A-Z]+$"}},
            }
        },
        "type": "object",
        "properties": {
            "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}, "minItems": 1},
            "total": {"type": "number", "minimum": 0},
            "note": {"oneOf": [{"type": "string", "maxLength": 10}, {"type": "null"}]},
            "when": {"type": "string", "format": "date"},
        },
        "required": ["lines", "total"],
    }
    c = Contract(schema)
    strict = c.for_provider("openai-strict")
    assert strict == {
        "$defs": {
            "Line": {
                "type": "object",
                "properties": {"sku": {"type": ["string", "null"]}},
                "required": ["sku"],
                "additionalProperties": False,
            }
        },
        "type": "object",
        "properties": {
            "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
            "total": {"type": "number"},
            "note": {
                "anyOf": [{"anyOf": [{"type": "string"}, {"type": "null"}]}, {"type": "null"}]
            },
            "when": {"type": ["string", "null"]},
        },
        "required": ["lines", "total", "note", "when"],
        "additionalProperties": False,
    }
    # The provider may return what the downgraded schema allows; the contract still
    # checks the full one locally.
    loose = {"lines": [], "total": -5, "note": None, "when": None}
    assert not c.check(loose).ok
    with pytest.raises(InvalidInput, match="unknown provider"):
        c.for_provider("anthropic")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="allOf"):
        Contract({"allOf": [{"type": "object"}, {"type": "object"}]}).for_provider("openai-strict")
    with pytest.raises(InvalidInput, match="no output schema"):
        Contract().for_provider("openai-strict")


@pytest.fixture
def tok_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """Token counting reads the o200k_base file from the shared data."""
    import shared_data

    monkeypatch.setenv("COVEKIT_TOKENIZER_DIR", str(shared_data.tokenizer_dir()))


def test_doctests() -> None:
    import doctest

    from covekit.execution import contract, providers, verdict

    for module in (contract, providers, verdict):
        result = doctest.testmod(module)
        assert result.attempted > 0, module.__name__
        assert result.failed == 0, module.__name__
