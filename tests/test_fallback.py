"""Fallback: models in order on errors and timeouts, with the reasons recorded."""

from __future__ import annotations

import asyncio

import covekit
import pytest
from covekit.errors import (
    AllModelsFailed,
    DeadlineExceeded,
    InvalidInput,
    InvalidModelResponse,
    ModelServerError,
    ModelServerTimeout,
    ScriptExhausted,
)

ASK = [{"role": "user", "content": "hi"}]


def S(name: str, *replies: object) -> covekit.ScriptedModel:
    return covekit.ScriptedModel(list(replies), name=name)  # type: ignore[arg-type]


def test_first_success_wins_and_reasons_are_recorded() -> None:
    a = S("a", ModelServerError("HTTP 503 from x", status_code=503))
    b = S("b", ModelServerTimeout("no answer"))
    c = S("c", InvalidModelResponse("not JSON"))
    d = S("d", "fine")
    reply = covekit.Fallback([a, b, c, d]).complete(ASK, max_tokens=5)
    assert reply.text == "fine"
    assert reply.fallbacks == (
        "a: ModelServerError: HTTP 503 from x",
        "b: ModelServerTimeout: no answer",
        "c: InvalidModelResponse: not JSON",
    )
    assert d.calls[0].params["max_tokens"] == 5 and len(a.calls) == 1


def test_no_fallback_when_the_first_answers() -> None:
    b = S("b", "unused")
    reply = covekit.Fallback([S("a", "first"), b])(ASK)
    assert reply.text == "first" and reply.fallbacks == () and b.calls == []


def test_all_failing_lists_every_reason() -> None:
    fb = covekit.Fallback([S("a", TimeoutError("slow")), S("b", ModelServerError("HTTP 500"))])
    with pytest.raises(
        AllModelsFailed, match="all 2 models failed: a: TimeoutError: slow; b: "
    ) as info:
        fb(ASK)
    assert info.value.reasons == ("a: TimeoutError: slow", "b: ModelServerError: HTTP 500")
    assert isinstance(info.value.__cause__, ModelServerError)


def test_other_errors_and_deadlines_are_not_fallen_back_on() -> None:
    b = S("b", "unused")
    with pytest.raises(ScriptExhausted):
        covekit.Fallback([S("a"), b])(ASK)
    with pytest.raises(DeadlineExceeded):
        covekit.Fallback([S("a", DeadlineExceeded("late")), b])(ASK)
    assert b.calls == []
    fb = covekit.Fallback([S("a", ValueError("v")), S("b", "ok")], on=(ValueError,))
    assert fb(ASK).fallbacks == ("a: ValueError: v",)


def test_nested_fallbacks_keep_all_reasons() -> None:
    inner = covekit.Fallback([S("a", ModelServerError("x")), S("b", "ok")], name="inner")
    outer = covekit.Fallback([S("z", ModelServerError("y")), inner])
    assert outer(ASK).fallbacks == ("z: ModelServerError: y", "a: ModelServerError: x")


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInput):
        covekit.Fallback([])
    with pytest.raises(InvalidInput):
        covekit.Fallback([lambda m: "x"])  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        covekit.Fallback([S("a")], on=ValueError)  # type: ignore[arg-type]


def test_async_and_stream() -> None:
    fb = covekit.Fallback(
        [S("a", ModelServerError("down"), ModelServerError("down")), S("b", "x y", "z")]
    )
    events = list(fb.stream(ASK))
    assert "".join(e.delta for e in events) == "x y"
    assert events[-1].reply is not None and events[-1].reply.fallbacks == (
        "a: ModelServerError: down",
    )
    reply = asyncio.run(fb.acomplete(ASK))
    assert reply.text == "z" and reply.fallbacks == ("a: ModelServerError: down",)


def test_async_stream_all_failing() -> None:
    fb = covekit.Fallback([S("a", ModelServerError("1")), S("b", ModelServerError("2"))])

    async def run() -> None:
        async for _ in fb.astream(ASK):
            pass

    with pytest.raises(AllModelsFailed):
        asyncio.run(run())


def test_with_a_contract_and_its_own_fallbacks() -> None:
    # a failing server falls back (Fallback); a failing answer falls back (Contract's fallbacks=)
    model = covekit.Fallback([S("big", ModelServerError("503")), S("small", "no json")])
    contract = covekit.Contract(
        {"type": "object"}, on_fail=["fallback"], fallbacks=[S("rescue", '{"a": 1}')]
    )
    result = contract.enforce(model, ASK)
    assert result.ok and result.value == {"a": 1}
    assert [a.step for a in result.attempts] == ["first", "fallback"]


def test_identity_names_every_model() -> None:
    ident = covekit.Fallback([S("a"), S("b")]).identity()
    assert [m["name"] for m in ident["models"]] == ["a", "b"] and ident["name"] == "fallback(a,b)"
