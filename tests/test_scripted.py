"""ScriptedModel: replies in order or by matching, recorded calls, clear errors."""

from __future__ import annotations

import asyncio
import re
import threading

import covekit
import pytest
from covekit.errors import InvalidInput, ModelServerError, ScriptExhausted
from hypothesis import given, settings
from hypothesis import strategies as st


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]


def test_in_order_replies_and_kinds() -> None:
    call = covekit.ToolCall("c1", "lookup", '{"id": 1}')
    full = covekit.ModelReply("full", prompt_tokens=3, finish_reason="length")
    m = covekit.ScriptedModel(["plain", full, call, ValueError("bad"), KeyError], name="s")
    r = m(ask("a"))
    assert (r.text, r.finish_reason, r.model) == ("plain", "stop", "s")
    assert m(ask("b")) is full
    r = m(ask("c"))
    assert r.tool_calls == (call,) and r.finish_reason == "tool_calls" and r.text == ""
    with pytest.raises(ValueError, match="bad"):
        m(ask("d"))
    with pytest.raises(KeyError):
        m(ask("e"))
    assert m.remaining == 0
    with pytest.raises(ScriptExhausted, match=r"no reply left for call 6 \(it was given 5\).*'f'"):
        m(ask("f"))
    assert [c.last_user for c in m.calls] == ["a", "b", "c", "d", "e", "f"]


def test_records_parameters() -> None:
    m = covekit.ScriptedModel(["x"])
    tools = [{"type": "function", "function": {"name": "f"}}]
    m.complete(ask("q"), tools=tools, max_tokens=7, temperature=0.5, seed=1, stop=["."], sample=2)
    params = m.calls[0].params
    assert params["tools"] == tools and params["max_tokens"] == 7 and params["sample"] == 2
    assert params["stop"] == ["."] and params["response_format"] is None
    assert m.calls[0].messages == tuple(ask("q"))


def test_matching_rules() -> None:
    m = covekit.ScriptedModel(
        [
            ("refund", "refund reply"),
            (re.compile(r"^\d+$"), "a number"),
            (lambda t: t.isupper(), "shouting"),
        ]
    )
    assert m(ask("I want a refund")).text == "refund reply"
    assert m(ask("42")).text == "a number"
    assert m(ask("HELLO")).text == "shouting"
    assert m(ask("refund again")).text == "refund reply"  # pairs are not used up
    with pytest.raises(ScriptExhausted, match="no pair matches call 5; last user message: 'quiet'"):
        m(ask("quiet"))
    assert m.remaining is None


def test_match_on_last_message_of_any_role() -> None:
    m = covekit.ScriptedModel(
        [("RESULT", "done"), ("go", covekit.ToolCall("c", "t", "{}"))], match="last"
    )
    assert m(ask("go")).tool_calls[0].name == "t"
    tool_turn = [*ask("go"), {"role": "tool", "tool_call_id": "c", "content": "RESULT 1"}]
    assert m(tool_turn).text == "done"


def test_content_parts_and_no_user_message() -> None:
    m = covekit.ScriptedModel([("part", "ok"), (lambda t: t == "", "empty")])
    parts = [{"role": "user", "content": [{"type": "text", "text": "a part"}]}]
    assert m(parts).text == "ok"
    assert m([{"role": "system", "content": "x"}]).text == "empty"


@pytest.mark.parametrize(
    "replies",
    ["just a string", [1], [("a", "b"), "c"], [("a", "b", "c")], [(5, "b")], [("a", 3.0)]],
)
def test_bad_scripts(replies: object) -> None:
    with pytest.raises(InvalidInput):
        covekit.ScriptedModel(replies)  # type: ignore[arg-type]


def test_bad_match() -> None:
    with pytest.raises(InvalidInput):
        covekit.ScriptedModel([], match="first")  # type: ignore[arg-type]


def test_async_and_stream() -> None:
    m = covekit.ScriptedModel(["héllo wörld  ", "x", ModelServerError("down")])
    events = list(m.stream(ask("s")))
    assert "".join(e.delta for e in events) == "héllo wörld  " and events[-1].reply is not None
    assert asyncio.run(m.acomplete(ask("a"))).text == "x"
    with pytest.raises(ModelServerError):
        asyncio.run(m.acomplete(ask("b")))


def test_with_a_contract() -> None:
    m = covekit.ScriptedModel(["not json", '{"n": 2}'])
    result = covekit.Contract({"type": "object"}, on_fail=["reask"]).enforce(m, ask("?"))
    assert result.ok and result.value == {"n": 2} and len(m.calls) == 2


def test_threads_each_reply_once() -> None:
    m = covekit.ScriptedModel([str(i) for i in range(200)])
    got: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(25):
            text = m(ask("t")).text
            with lock:
                got.append(text)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got, key=int) == [str(i) for i in range(200)] and len(m.calls) == 200


@settings(deadline=None, max_examples=60)
@given(st.lists(st.text(max_size=30), max_size=10))
def test_replies_come_back_in_order(texts: list[str]) -> None:
    m = covekit.ScriptedModel(texts)
    assert [m(ask(str(i))).text for i in range(len(texts))] == texts
    for t in texts:
        m2 = covekit.ScriptedModel([t])
        assert "".join(e.delta for e in m2.stream(ask("s"))) == t
