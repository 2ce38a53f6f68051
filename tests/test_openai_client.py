"""OpenAIChatModel and RetryPolicy against a real loopback HTTP server (tests/loopback_openai.py),
whose replies the official ``openai`` package parses too."""

from __future__ import annotations

import asyncio
import copy
import email.utils
import gc
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import covekit
import pytest
from covekit.errors import (
    DeadlineExceeded,
    InvalidInput,
    InvalidModelResponse,
    ModelServerError,
    ModelServerTimeout,
)
from covekit.execution.openai_client import SSEDecoder, assemble_stream
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback_openai import Drop, LoopbackOpenAI, Raw, Reply, Slow, Status, running, stream_events

openai = pytest.importorskip("openai")

ASK = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def _server() -> Iterator[LoopbackOpenAI]:
    yield from running()


_OPEN: list[object] = []


@pytest.fixture
def server(_server: LoopbackOpenAI) -> Iterator[LoopbackOpenAI]:
    _server.reset()
    _server.default = Reply()
    yield _server
    while _OPEN:
        _OPEN.pop().close()  # type: ignore[attr-defined]


def arun(m: covekit.OpenAIChatModel, coro: Any) -> Any:
    """Runs ``coro`` on a new event loop and closes the model's pool of that loop."""

    async def main() -> Any:
        try:
            return await coro
        finally:
            await m.aclose()

    return asyncio.run(main())


def make(server: LoopbackOpenAI, **kw: object) -> tuple[covekit.OpenAIChatModel, list[float]]:
    retry = kw.pop("retry", covekit.RetryPolicy(max_attempts=4, backoff=0.5, max_backoff=4.0))
    m = covekit.OpenAIChatModel(server.base_url, "m", retry=retry, **kw)  # type: ignore[arg-type]
    _OPEN.append(m)
    sleeps: list[float] = []
    m._sleep = sleeps.append
    m._rand = lambda: 0.5

    async def asleep(s: float) -> None:
        sleeps.append(s)

    m._asleep = asleep
    return m, sleeps


def official(server: LoopbackOpenAI) -> object:
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    _OPEN.append(client)
    return client


# ---------------------------------------------------------------- normal replies
def test_plain_reply_and_request_body(server: LoopbackOpenAI) -> None:
    server.push(Reply("Grüße 👋", prompt_tokens=11, completion_tokens=4, cached_tokens=6))
    m, _ = make(server, api_key="sk-test", headers={"X-Trace": "1"})
    schema = covekit.Contract(
        {"type": "object", "properties": {"a": {"type": "integer"}}}
    ).for_provider("openai-strict")
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    reply = m.complete(
        ASK,
        tools=tools,
        tool_choice="auto",
        response_format=schema,
        max_tokens=9,
        temperature=0.0,
        seed=3,
        stop=["\n"],
    )
    assert (reply.text, reply.finish_reason, reply.model) == ("Grüße 👋", "stop", "loopback-model")
    assert (reply.prompt_tokens, reply.completion_tokens, reply.cached_prompt_tokens) == (11, 4, 6)
    rec = server.requests[-1]
    assert rec.path == "/v1/chat/completions"
    assert rec.headers["authorization"] == "Bearer sk-test" and rec.headers["x-trace"] == "1"
    body = rec.body
    assert body["messages"] == ASK and body["model"] == "m" and body["tools"] == tools
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema, "strict": True},
    }
    assert (
        body["max_tokens"],
        body["temperature"],
        body["seed"],
        body["stop"],
        body["tool_choice"],
    ) == (9, 0.0, 3, ["\n"], "auto")
    assert "stream" not in body


def test_unset_parameters_are_not_sent(server: LoopbackOpenAI) -> None:
    m, _ = make(server)
    m.complete(ASK, sample=5)
    assert set(server.requests[-1].body) == {"model", "messages"}


def test_tool_calls(server: LoopbackOpenAI) -> None:
    server.push(
        Reply("", tool_calls=[("call_1", "lookup", '{"id": "A-1"}'), ("call_2", "ping", "{}")])
    )
    reply = make(server)[0].complete(ASK)
    assert reply.tool_calls == (
        covekit.ToolCall("call_1", "lookup", '{"id": "A-1"}'),
        covekit.ToolCall("call_2", "ping", "{}"),
    )
    assert reply.finish_reason == "tool_calls" and reply.text == ""


def test_official_client_parses_the_server(server: LoopbackOpenAI) -> None:
    client = official(server)
    server.push(Reply("hey", cached_tokens=4), Reply("", tool_calls=[("c1", "f", '{"x": 1}')]))
    r = client.chat.completions.create(model="m", messages=ASK)  # type: ignore[attr-defined]
    assert (
        r.choices[0].message.content == "hey" and r.usage.prompt_tokens_details.cached_tokens == 4
    )
    r = client.chat.completions.create(model="m", messages=ASK)  # type: ignore[attr-defined]
    call = r.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == ("c1", "f", '{"x": 1}')
    server.push(Reply("streamed text", tool_calls=[("c9", "g", '{"q": "zz"}')]))
    text, args, usage, finish = "", "", None, None
    for chunk in client.chat.completions.create(  # type: ignore[attr-defined]
        model="m", messages=ASK, stream=True, stream_options={"include_usage": True}
    ):
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for tc in choice.delta.tool_calls or []:
                args += tc.function.arguments or ""
            finish = choice.finish_reason or finish
    assert (text, args, finish, usage.completion_tokens) == (
        "streamed text",
        '{"q": "zz"}',
        "tool_calls",
        3,
    )
    # and covekit reads the same stream the same way
    server.push(Reply("streamed text", tool_calls=[("c9", "g", '{"q": "zz"}')]))
    last = list(make(server)[0].stream(ASK))[-1].reply
    assert (
        last is not None and last.text == "streamed text" and last.tool_calls[0].arguments == args
    )


# ---------------------------------------------------------------- retries
@pytest.mark.parametrize("code", [408, 409, 429, 500, 502, 503])
def test_retried_statuses(server: LoopbackOpenAI, code: int) -> None:
    server.push(Status(code), Status(code), Reply("ok"))
    m, sleeps = make(server)
    assert m.complete(ASK).text == "ok"
    assert server.count == 3 and m.requests == 3 and m.retries == 2
    assert sleeps == [0.25, 0.5]  # full jitter with rand=0.5: 0.5*0.5, 0.5*1.0


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_never_retried(server: LoopbackOpenAI, code: int) -> None:
    server.push(Status(code, '{"error": {"message": "bad"}}'))
    m, sleeps = make(server)
    with pytest.raises(ModelServerError, match=f"HTTP {code}") as info:
        m.complete(ASK)
    assert info.value.status_code == code and info.value.attempts == 1
    assert server.count == 1 and sleeps == []


def test_attempts_are_bounded(server: LoopbackOpenAI) -> None:
    server.default = Status(500)
    m, sleeps = make(server)
    with pytest.raises(ModelServerError, match="no attempts left") as info:
        m.complete(ASK)
    assert server.count == 4 and info.value.attempts == 4 and len(sleeps) == 3
    assert all(0 <= s <= 4.0 for s in sleeps)


def test_total_time_is_bounded(server: LoopbackOpenAI) -> None:
    server.default = Status(503)
    m, sleeps = make(server, retry=covekit.RetryPolicy(max_attempts=50, backoff=1.0, max_time=3.0))
    now = [0.0]
    m._clock = lambda: now[0]
    m._sleep = lambda s: (sleeps.append(s), now.__setitem__(0, now[0] + s))  # type: ignore[func-returns-value]
    with pytest.raises(ModelServerError, match="max_time"):
        m.complete(ASK)
    assert sum(sleeps) <= 3.0 and server.count < 50


def test_retry_after_seconds_and_date(server: LoopbackOpenAI) -> None:
    date = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    server.push(
        Status(429, headers={"Retry-After": "2"}),
        Status(503, headers={"Retry-After": date}),
        Reply("ok"),
    )
    m, sleeps = make(server)
    assert m.complete(ASK).text == "ok"
    assert sleeps[0] == 2.0 and 25 < sleeps[1] <= 30


def test_retry_after_too_long_gives_up(server: LoopbackOpenAI) -> None:
    server.push(Status(429, headers={"Retry-After": "3600"}))
    m, sleeps = make(server)
    with pytest.raises(ModelServerError, match="max_retry_after") as info:
        m.complete(ASK)
    assert info.value.status_code == 429 and server.count == 1 and sleeps == []


def test_connection_errors_are_retried(server: LoopbackOpenAI) -> None:
    server.push(Drop(), Reply("after drop"))
    m, sleeps = make(server)
    assert m.complete(ASK).text == "after drop" and len(sleeps) == 1


def test_unreachable_server() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    m = covekit.OpenAIChatModel(
        f"http://127.0.0.1:{port}/v1", "m", retry=covekit.RetryPolicy(max_attempts=2)
    )
    _OPEN.append(m)
    m._sleep = lambda s: None
    with pytest.raises(ModelServerError, match="could not reach") as info:
        m.complete(ASK)
    assert info.value.attempts == 2


def test_retry_policy_properties() -> None:
    p = covekit.RetryPolicy(max_attempts=5, backoff=0.5, max_backoff=3.0)
    for attempt in range(1, 12):
        assert 0.0 <= p.backoff_delay(attempt, rand=lambda: 0.99999) <= 3.0
    assert p.backoff_delay(1, rand=lambda: 0.0) == 0.0
    with pytest.raises(InvalidInput):
        covekit.RetryPolicy(max_attempts=0)
    with pytest.raises(InvalidInput):
        covekit.RetryPolicy(backoff=-1)
    assert p.parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT") == 0.0
    assert p.parse_retry_after("") is None and p.parse_retry_after("nan") is None


# ---------------------------------------------------------------- deadlines
def test_deadline_past_sends_nothing(server: LoopbackOpenAI) -> None:
    m, _ = make(server)
    with pytest.raises(DeadlineExceeded):
        m.complete(ASK, deadline=covekit.Deadline(0.0))
    with pytest.raises(DeadlineExceeded):
        list(m.stream(ASK, deadline=covekit.Deadline(0.0)))
    with pytest.raises(DeadlineExceeded):
        arun(m, m.acomplete(ASK, deadline=covekit.Deadline(0.0)))
    assert server.count == 0 and m.requests == 0


def test_slow_reply_past_the_deadline(server: LoopbackOpenAI) -> None:
    server.push(Slow(2.0))
    m, sleeps = make(server)
    with pytest.raises(ModelServerTimeout) as info:
        m.complete(ASK, deadline=covekit.Deadline(0.4))
    assert isinstance(info.value, TimeoutError) and server.count == 1 and sleeps == []


def test_timeout_is_the_deadline_capped(server: LoopbackOpenAI) -> None:
    server.push(Slow(2.0), Reply("fast"))
    m, sleeps = make(server, timeout=0.5)
    assert m.complete(ASK, deadline=covekit.Deadline(30)).text == "fast"  # retried after a timeout
    assert server.count == 2 and len(sleeps) == 1


# ---------------------------------------------------------------- bad replies
@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not an object"),
        (b"{}", "no choices"),
        (b'{"choices": []}', "no choices"),
        (b'{"choices": [{"finish_reason": "stop"}]}', "without a message"),
        (b'{"choices": [{"message": {"content": 5}}]}', "content of type int"),
        (
            b'{"choices": [{"message": {"tool_calls": [{"function": {}}]}}]}',
            "without a function name",
        ),
        (
            b'{"choices": [{"message": {"tool_calls": [{"function": {"name": "f", "arguments": 3}}]'
            b"}}]}",
            "arguments are a int",
        ),
        (b'{"error": {"message": "boom"}}', "error object"),
    ],
)
def test_malformed_replies(server: LoopbackOpenAI, body: bytes, match: str) -> None:
    server.push(Raw(body))
    m, sleeps = make(server)
    with pytest.raises(InvalidModelResponse, match=match):
        m.complete(ASK)
    assert server.count == 1 and sleeps == []


def test_bad_arguments(server: LoopbackOpenAI) -> None:
    with pytest.raises(InvalidInput):
        covekit.OpenAIChatModel("localhost:8080", "m")
    with pytest.raises(InvalidInput):
        covekit.OpenAIChatModel("http://x/v1", "")
    with pytest.raises(InvalidInput):
        covekit.OpenAIChatModel("http://x/v1", "m", timeout=0)
    with pytest.raises(InvalidInput, match="JSON"):
        make(server)[0].complete([{"role": "user", "content": object()}])
    assert server.count == 0


def test_huge_and_empty(server: LoopbackOpenAI) -> None:
    big = "x" * 300_000
    server.push(Reply(big), Reply(""))
    m, _ = make(server)
    assert m.complete([{"role": "user", "content": big}]).text == big
    assert m.complete([]).text == ""


# ---------------------------------------------------------------- streaming
def test_stream_text_and_usage(server: LoopbackOpenAI) -> None:
    server.push(Reply("a streamed ünïcode reply", cached_tokens=5))
    m, _ = make(server)
    events = list(m.stream(ASK, max_tokens=20))
    body = server.requests[-1].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    reply = events[-1].reply
    assert reply is not None and all(e.reply is None for e in events[:-1])
    assert "".join(e.delta for e in events) == reply.text == "a streamed ünïcode reply"
    assert len(events) > 3
    assert (reply.prompt_tokens, reply.completion_tokens, reply.cached_prompt_tokens) == (7, 3, 5)
    assert reply.finish_reason == "stop"


def test_stream_tool_call_deltas(server: LoopbackOpenAI) -> None:
    server.push(
        Reply("", tool_calls=[("c1", "search", '{"q": "long query text"}'), ("c2", "f", "{}")])
    )
    reply = list(make(server)[0].stream(ASK))[-1].reply
    assert reply is not None
    assert reply.tool_calls == (
        covekit.ToolCall("c1", "search", '{"q": "long query text"}'),
        covekit.ToolCall("c2", "f", "{}"),
    )


@pytest.mark.parametrize(
    ("step", "match"),
    [
        (Reply("abcdefghij", truncate_after=3), "before \\[DONE\\]"),
        (Reply("abc", no_finish=True), "without a finish_reason"),
        (Reply("abcdefghij", malformed_at=2), "not JSON"),
    ],
)
def test_stream_broken(server: LoopbackOpenAI, step: Reply, match: str) -> None:
    server.push(step)
    m, _ = make(server)
    with pytest.raises(InvalidModelResponse, match=match):
        list(m.stream(ASK))
    server.push(step)
    with pytest.raises(InvalidModelResponse, match=match):
        arun(m, _collect(m, ASK))


def test_stream_retries_before_first_byte(server: LoopbackOpenAI) -> None:
    server.push(Status(503), Reply("ok"))
    m, sleeps = make(server)
    assert list(m.stream(ASK))[-1].reply.text == "ok"  # type: ignore[union-attr]
    assert server.count == 2 and len(sleeps) == 1
    server.push(Status(400))
    with pytest.raises(ModelServerError, match="HTTP 400"):
        list(m.stream(ASK))


async def _collect(
    m: covekit.OpenAIChatModel, messages: list[dict[str, str]]
) -> list[covekit.StreamEvent]:
    return [e async for e in m.astream(messages)]


def test_async_paths(server: LoopbackOpenAI) -> None:
    m, sleeps = make(server)

    async def main() -> tuple[list[str], list[covekit.StreamEvent]]:
        server.push(Status(500))
        replies = await asyncio.gather(
            *(m.acomplete([{"role": "user", "content": str(i)}]) for i in range(20))
        )
        server.push(Reply("async stream"))
        events = await _collect(m, ASK)
        await m.aclose()
        return [r.text for r in replies], events

    texts, events = asyncio.run(main())
    assert texts == ["hello"] * 20 and server.count == 22 and len(sleeps) == 1
    assert events[-1].reply is not None and events[-1].reply.text == "async stream"
    # a second event loop gets its own connection pool
    assert arun(m, m.acomplete(ASK)).text == "hello"


def test_many_threads_share_one_client(server: LoopbackOpenAI) -> None:
    m, _ = make(server)
    results: list[str] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        for j in range(10):
            text = m.complete([{"role": "user", "content": f"{i}-{j}"}]).text
            with lock:
                results.append(text)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == ["hello"] * 80 and m.requests == 80 == server.count
    sent = sorted(r.body["messages"][0]["content"] for r in server.requests)
    assert sent == sorted(f"{i}-{j}" for i in range(8) for j in range(10))
    m.close()


def test_contract_enforce_with_the_client(server: LoopbackOpenAI) -> None:
    server.push(Reply("not json"), Reply('{"answer": 4}'))
    contract = covekit.Contract(
        {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]},
        on_fail=["reask"],
    )
    result = contract.enforce(make(server)[0], ASK)
    assert result.ok and result.value == {"answer": 4} and len(result.attempts) == 2


# ---------------------------------------------------------------- the SSE parser
VALID = "".join(
    f"data: {d}\n\n"
    for d in stream_events(
        Reply("split me anywhere ✓", tool_calls=[("c1", "f", '{"a": [1, 2]}')]), True
    )
).encode()


@settings(deadline=None, max_examples=150)
@given(
    st.lists(st.integers(min_value=0, max_value=len(VALID)), max_size=30),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_any_split_gives_the_same_reply(cuts: list[int], newline: str) -> None:
    data = VALID.replace(b"\n", newline.encode())
    points = sorted({min(c, len(data)) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    deltas, reply = assemble_stream(pieces)
    assert "".join(deltas) == reply.text == "split me anywhere ✓"
    assert reply.tool_calls == (covekit.ToolCall("c1", "f", '{"a": [1, 2]}'),)
    assert reply.completion_tokens == 3 and reply.finish_reason == "tool_calls"


def test_sse_decoder_fields_and_comments() -> None:
    d = SSEDecoder()
    assert d.feed(b": keep-alive\n\nevent: x\nid: 1\ndata: a\ndata: b\n\n") == ["a\nb"]
    assert d.feed(b"data:no-space") == [] and d.close() == ["no-space"]
    with pytest.raises(InvalidModelResponse, match="UTF-8"):
        SSEDecoder().feed(b"data: \xff\n\n")


def test_stream_event_after_done_is_an_error() -> None:
    body = VALID + b"data: {}\n\n"
    with pytest.raises(InvalidModelResponse, match="after \\[DONE\\]"):
        assemble_stream([body])


def test_official_stream_of_raw_events_matches(server: LoopbackOpenAI) -> None:
    events = [json.loads(e) for e in stream_events(Reply("abc"), True) if e != "[DONE]"]
    assert events[-1]["choices"] == [] and events[-1]["usage"]["total_tokens"] == 10
    assert [e["choices"][0]["finish_reason"] for e in events[:-1]] == [None, None, "stop"]


def test_pools_close_without_an_explicit_close(server: LoopbackOpenAI) -> None:
    # a loop's pool closes with the loop, a dropped model's pool with the model: no
    # ResourceWarning (which this suite turns into an error) for a caller that forgets
    m = covekit.OpenAIChatModel(server.base_url, "m")
    assert asyncio.run(m.acomplete(ASK)).text == "hello"
    assert asyncio.run(m.acomplete(ASK)).text == "hello"
    assert m.complete(ASK).text == "hello"
    del m
    gc.collect()
    assert server.count == 3


def test_fallback_between_real_clients(server: LoopbackOpenAI) -> None:
    primary, _ = make(server, retry=covekit.RetryPolicy(max_attempts=1), name="primary")
    secondary, _ = make(server, name="secondary")
    server.push(Status(503), Reply("from secondary"))
    fb = covekit.Fallback([primary, secondary])
    reply = fb.complete(ASK)
    assert reply.text == "from secondary" and reply.fallbacks[0].startswith(
        "primary: ModelServerError"
    )
    assert server.count == 2
    server.push(Raw(b"{oops"))
    reply = fb.complete(ASK)  # primary gets the malformed body: InvalidModelResponse
    assert reply.fallbacks[0].startswith("primary: InvalidModelResponse") and reply.text == "hello"


def test_response_format_passes_through(server: LoopbackOpenAI) -> None:
    m, _ = make(server)
    m.complete(ASK, response_format={"type": "json_object"})
    assert server.requests[-1].body["response_format"] == {"type": "json_object"}
    with pytest.raises(InvalidInput, match="unknown parameters"):
        asyncio.run(m.acomplete(ASK, top_p=0.5))


SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
OPENAI_FORM = {
    "type": "json_schema",
    "json_schema": {"name": "answer", "schema": SCHEMA, "strict": False},
}
LLAMA_FORM = {"type": "json_object", "schema": SCHEMA}


@pytest.mark.parametrize(
    ("schema_format", "given", "sent"),
    [
        # a bare schema takes the model's form
        ("json_schema", SCHEMA, {"type": "json_schema", "json_schema": {
            "name": "response", "schema": SCHEMA, "strict": True}}),
        ("json_object", SCHEMA, LLAMA_FORM),
        # a schema in the model's form goes as it is (name and strict kept) ...
        ("json_schema", OPENAI_FORM, OPENAI_FORM),
        ("json_object", LLAMA_FORM, LLAMA_FORM),
        # ... and one in the other form is moved into it
        ("json_object", OPENAI_FORM, LLAMA_FORM),
        ("json_schema", LLAMA_FORM, {"type": "json_schema", "json_schema": {
            "name": "response", "schema": SCHEMA, "strict": True}}),
        # formats without a schema are never changed
        ("json_object", {"type": "json_object"}, {"type": "json_object"}),
        ("json_object", {"type": "text"}, {"type": "text"}),
        ("json_schema", {"type": "json_object"}, {"type": "json_object"}),
        # a json_schema without a schema object is the server's to judge
        ("json_object", {"type": "json_schema", "json_schema": {"name": "x"}},
         {"type": "json_schema", "json_schema": {"name": "x"}}),
    ],
)  # fmt: skip
def test_schema_format_decides_the_wire_form(
    server: LoopbackOpenAI, schema_format: str, given: dict[str, Any], sent: dict[str, Any]
) -> None:
    m, _ = make(server, schema_format=schema_format)
    before = copy.deepcopy(given)
    m.complete(ASK, response_format=given)
    assert server.requests[-1].body["response_format"] == sent
    # the same in every path: async, streaming
    arun(m, m.acomplete(ASK, response_format=given))
    assert server.requests[-1].body["response_format"] == sent
    list(m.stream(ASK, response_format=given))
    assert server.requests[-1].body["response_format"] == sent
    assert given == before  # the caller's format is not changed


def test_schema_format_with_a_contract(server: LoopbackOpenAI) -> None:
    contract = covekit.Contract(SCHEMA)
    server.push(Reply('{"a": 1}'))
    m, _ = make(server, schema_format="json_object")
    strict = contract.for_provider("openai-strict")
    result = contract.enforce(
        lambda msgs, max_tokens=None: m.complete(msgs, response_format=strict), ASK
    )
    assert result.ok and result.value == {"a": 1}
    assert server.requests[-1].body["response_format"] == {"type": "json_object", "schema": strict}
    assert "schema_format='json_object'" in repr(m)
    assert "schema_format" not in repr(make(server)[0])


def test_schema_format_bad_values() -> None:
    for bad in ("json", "JSON_SCHEMA", None, 1):
        with pytest.raises(InvalidInput, match="schema_format must be one of"):
            covekit.OpenAIChatModel("http://h/v1", "m", schema_format=bad)  # type: ignore[arg-type]
    m = covekit.OpenAIChatModel("http://h/v1", "m")
    for bad_format in ("json", ["type"], 3):
        with pytest.raises(InvalidInput, match="response_format must be"):
            m.complete(ASK, response_format=bad_format)  # type: ignore[arg-type]
    assert m.requests == 0


@pytest.mark.parametrize("code", [400, 422, 500])
def test_a_refused_json_schema_form_names_the_option(server: LoopbackOpenAI, code: int) -> None:
    retry = covekit.RetryPolicy(max_attempts=1)
    server.push(Status(code, '{"error": {"message": "bad response_format"}}'))
    m, _ = make(server, retry=retry)
    with pytest.raises(ModelServerError, match="schema_format='json_object'") as info:
        m.complete(ASK, response_format=SCHEMA)
    assert info.value.status_code == code and "bad response_format" in str(info.value)
    server.push(Status(code, '{"error": {"message": "bad response_format"}}'))
    with pytest.raises(ModelServerError, match="schema_format='json_object'"):
        list(m.stream(ASK, response_format=OPENAI_FORM))
    # no hint without the json_schema form, or for other statuses
    for status, fmt in (
        (code, {"type": "json_object"}),
        (code, None),
        (503, SCHEMA),
        (404, SCHEMA),
    ):
        server.push(Status(status))
        with pytest.raises(ModelServerError) as other:
            m.complete(ASK, response_format=fmt)
        assert "schema_format" not in str(other.value)
    # a user's json_schema dict with "type" last is still recognized
    server.push(Status(code))
    with pytest.raises(ModelServerError, match="schema_format='json_object'"):
        m.complete(ASK, response_format={"json_schema": {"schema": SCHEMA}, "type": "json_schema"})


def test_async_pool_is_sharded_and_bounded(server: LoopbackOpenAI) -> None:
    m, _ = make(server, max_connections=20)
    server.default = Slow(0.05)  # keep requests in flight long enough to need connections

    async def main() -> list[str]:
        replies = await asyncio.gather(*(m.acomplete(ASK) for _ in range(60)))
        return [r.text for r in replies]

    assert arun(m, main()) == ["hello"] * 60
    ports = {r.client[1] for r in server.requests}
    assert 1 < len(ports) <= 20 and server.count == 60
