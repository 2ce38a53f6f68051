"""covekit's client and contracts against a real model server: llama.cpp's, serving a
tiny random-weight llama (``tests/tiny_gguf.py``, started by the ``llama_server``
fixture, see ``tests/llama_server.py``).

The model's text is noise, so nothing here asserts on content. What is asserted is the
protocol (usage, finish reason, model name, streaming) and what covekit does with an
unreliable collaborator: structured output that parses but carries arbitrary values is
caught by the contract's business rules; free text that is not JSON goes through
re-ask and fallback; truncated JSON through repair; a missing context is refused
without a call. Every request is seeded and capped at a few tokens.

Two facts about llama-cpp-python's server (0.3.x) that the tests pin down:

- it accepts a JSON Schema only in the form ``{"type": "json_object", "schema": ...}``
  (and then constrains the output with a grammar); OpenAI's ``{"type": "json_schema",
  ...}`` is answered with HTTP 500 (a request validation error reported as a server
  error). ``OpenAIChatModel(..., schema_format="json_object")`` sends the accepted form,
  whichever form the caller gives (a bare schema, as ``Contract.for_provider`` returns
  it, or OpenAI's, as the Pipeline sends it); the ``tiny`` fixture is such a model.
- it can overrun ``max_tokens`` by up to 3 tokens: a byte-level token that leaves a
  UTF-8 character unfinished skips its ``max_tokens`` check (``multibyte_fix`` in
  ``llama_cpp/llama.py``). The reported usage is truthful; covekit records it as it is
  and does not treat it as an error (not the client, not a contract with a budget).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import covekit
import pytest
from covekit.errors import ModelServerError
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from llama_server import LlamaServer
from shared_data import tokenizer_dir

#: The most tokens llama-cpp-python generates past max_tokens (see the module docs).
MULTIBYTE_OVERRUN = 3

#: A refund decision. The strict form sent to the server keeps the shape (the grammar
#: enforces it) and drops the bounds; covekit checks the bounds and the business rule.
REFUND_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "refund": {"type": "integer", "minimum": 0, "maximum": 500},
        "currency": {"type": "string", "enum": ["EUR", "USD"]},
        "approved": {"type": "boolean"},
    },
    "required": ["refund", "currency", "approved"],
}
ORDER_TOTAL = 137  # what the refund must be: the rule the model cannot know


def refund_matches_order(value: dict[str, Any]) -> str | None:
    """The business rule: the refund is the order's total, in euros."""
    if value["refund"] != ORDER_TOTAL or value["currency"] != "EUR":
        return f"refund must be {ORDER_TOTAL} EUR, got {value['refund']} {value['currency']}"
    return None


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def prompt_bytes(messages: list[dict[str, str]]) -> int:
    """The prompt's tokens with the tiny model's byte-level vocabulary: BOS, then the
    chat template's text, one token per UTF-8 byte, after SentencePiece's whitespace
    handling (a leading space, every space as U+2581, which is 3 bytes)."""
    rendered = "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages)
    rendered = " " + rendered + "<|assistant|>\n"
    return 1 + len(rendered.replace(" ", "\u2581").encode("utf-8"))


def bound(model: covekit.OpenAIChatModel, **fixed: Any) -> Callable[..., covekit.ModelReply]:
    """``model`` as a contract's model callable, with fixed request parameters."""

    def call(messages: list[dict[str, Any]], max_tokens: int | None = None) -> covekit.ModelReply:
        params = dict(fixed)
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        return model.complete(messages, **params)

    call.__name__ = model.name
    return call


class Recording:
    """A contract's model callable that records the ``max_tokens`` it is given."""

    def __init__(self, model: Callable[..., covekit.ModelReply]) -> None:
        self.model = model
        self.caps: list[int | None] = []

    def __call__(
        self, messages: list[dict[str, Any]], max_tokens: int | None = None
    ) -> covekit.ModelReply:
        self.caps.append(max_tokens)
        return self.model(messages, max_tokens=max_tokens)


@pytest.fixture(scope="module")
def tiny(llama_server: LlamaServer) -> Iterator[covekit.OpenAIChatModel]:
    """The client as llama-cpp-python's server needs it: schemas as ``json_object``."""
    with covekit.OpenAIChatModel(
        llama_server.base_url, llama_server.model, timeout=30, schema_format="json_object"
    ) as m:
        yield m


# ----------------------------------------------------------------------------- protocol
def test_a_chat_reply_follows_the_protocol(tiny: covekit.OpenAIChatModel) -> None:
    messages = ask("Where is my refund?")
    reply = tiny.complete(messages, max_tokens=8, seed=1, temperature=0.8)
    assert reply.model == "tiny"
    assert reply.prompt_tokens == prompt_bytes(messages)
    assert reply.completion_tokens is not None
    assert 1 <= reply.completion_tokens <= 8 + MULTIBYTE_OVERRUN
    assert reply.finish_reason in ("stop", "length")
    if reply.completion_tokens >= 8:
        assert reply.finish_reason == "length"
    assert reply.tool_calls == () and not reply.cache_hit
    # seeded: the same request gives the same reply
    again = tiny.complete(messages, max_tokens=8, seed=1, temperature=0.8)
    assert (again.text, again.completion_tokens) == (reply.text, reply.completion_tokens)


def test_unicode_and_empty_messages_reach_the_model_byte_exact(
    tiny: covekit.OpenAIChatModel,
) -> None:
    for text in ("", "café ☕ 東京 \U0001f600", "line\nbreaks\tand  spaces"):
        messages = [{"role": "system", "content": "Be brief."}, *ask(text)]
        reply = tiny.complete(messages, max_tokens=1, seed=0)
        assert reply.prompt_tokens == prompt_bytes(messages), text


@settings(max_examples=25, deadline=None)  # one request each, ~10 ms
@given(text=st.text(st.characters(exclude_categories=["Cs"]), max_size=40))
def test_prompt_usage_counts_what_the_client_sent(tiny: covekit.OpenAIChatModel, text: str) -> None:
    # the server parses special-token text in the prompt ("<s>" in a message becomes the
    # BOS token, not 3 bytes); the byte count holds for everything else
    assume(not any(s in text for s in ("<s>", "</s>", "<unk>")))
    reply = tiny.complete(ask(text), max_tokens=1, seed=0)
    assert reply.prompt_tokens == prompt_bytes(ask(text))


def test_max_tokens_caps_the_completion(tiny: covekit.OpenAIChatModel) -> None:
    # grammar-constrained to ASCII (digits, punctuation, the enum): exactly capped
    strict = covekit.Contract(REFUND_SCHEMA).for_provider("openai-strict")
    for cap in (1, 2, 5, 9):
        reply = tiny.complete(ask("Refund?"), max_tokens=cap, seed=cap, response_format=strict)
        assert reply.completion_tokens == cap
        assert reply.finish_reason == "length"
    # free text is byte noise: a cap that falls inside a UTF-8 character is overrun
    for seed in range(6):
        reply = tiny.complete(ask("Hello"), max_tokens=3, seed=seed)
        assert reply.completion_tokens is not None
        assert 1 <= reply.completion_tokens <= 3 + MULTIBYTE_OVERRUN
        assert reply.finish_reason in ("stop", "length")


def test_a_prompt_over_the_context_window_is_a_clear_error_and_not_retried(
    tiny: covekit.OpenAIChatModel,
) -> None:
    before = tiny.requests
    with pytest.raises(ModelServerError) as info:
        tiny.complete(ask("x" * 600), max_tokens=4)  # n_ctx is 512
    assert info.value.status_code == 400 and "context_length_exceeded" in str(info.value)
    assert tiny.requests == before + 1
    # a prompt that fits leaves the completion what is left of the window
    near = ask("x" * 480)
    reply = tiny.complete(near, max_tokens=64, seed=0)
    assert reply.prompt_tokens == prompt_bytes(near)
    assert reply.completion_tokens == 512 - prompt_bytes(near) and reply.finish_reason == "length"


def test_streaming_delivers_the_same_reply(tiny: covekit.OpenAIChatModel) -> None:
    messages = ask("Stream it")
    whole = tiny.complete(messages, max_tokens=12, seed=4)
    events = list(tiny.stream(messages, max_tokens=12, seed=4))
    assert events, "no events"
    assert all(e.reply is None for e in events[:-1])
    last = events[-1].reply
    assert last is not None
    assert "".join(e.delta for e in events) == last.text == whole.text
    assert last.finish_reason == whole.finish_reason
    assert last.model == "tiny"
    # llama-cpp-python 0.3 ignores stream_options.include_usage: no usage chunk. A server
    # that sends one (OpenAI, vLLM, llama.cpp's own llama-server) fills these in.
    assert (last.prompt_tokens, last.completion_tokens) in (
        (None, None),
        (whole.prompt_tokens, whole.completion_tokens),
    )


def test_the_openai_json_schema_form_is_refused_and_schema_format_fixes_it(
    llama_server: LlamaServer, tiny: covekit.OpenAIChatModel
) -> None:
    strict = covekit.Contract(REFUND_SCHEMA).for_provider("openai-strict")
    openai_form = {
        "type": "json_schema",
        "json_schema": {"name": "refund", "schema": strict, "strict": True},
    }
    with covekit.OpenAIChatModel(
        llama_server.base_url, llama_server.model, retry=covekit.RetryPolicy(max_attempts=1)
    ) as default:
        assert default.schema_format == "json_schema"
        for given in (strict, openai_form):
            with pytest.raises(ModelServerError) as info:
                default.complete(ask("Refund?"), max_tokens=4, response_format=given)
            assert info.value.status_code == 500 and info.value.attempts == 1
            message = str(info.value)
            assert "literal_error" in message  # the server's validation error ...
            assert "schema_format='json_object'" in message  # ... and covekit's hint
    # the same requests with schema_format="json_object": accepted, grammar-constrained
    for given in (strict, openai_form):
        reply = tiny.complete(ask("Refund?"), max_tokens=96, seed=0, response_format=given)
        assert reply.finish_reason == "stop"
        assert set(json.loads(reply.text)) == set(REFUND_SCHEMA["properties"])


def test_a_streamed_structured_reply_parses(tiny: covekit.OpenAIChatModel) -> None:
    strict = covekit.Contract(REFUND_SCHEMA).for_provider("openai-strict")
    events = list(tiny.stream(ask("Refund?"), max_tokens=96, seed=1, response_format=strict))
    last = events[-1].reply
    assert last is not None and last.finish_reason == "stop"
    text = "".join(e.delta for e in events)
    assert text == last.text and covekit.Contract(strict).check(text).ok, text


# ----------------------------------------------------------------------------- structure
def test_schema_constrained_output_parses_but_its_values_are_arbitrary(
    tiny: covekit.OpenAIChatModel,
) -> None:
    contract = covekit.Contract(REFUND_SCHEMA, rules=[refund_matches_order])
    strict = contract.for_provider("openai-strict")
    shape = covekit.Contract(strict, on_fail=["raise"])  # no repair: the raw text
    broken = 0
    for seed in range(5):
        reply = tiny.complete(
            ask("Refund for order A-17?"),
            max_tokens=96,
            seed=seed,
            response_format=strict,
        )
        assert reply.finish_reason == "stop"  # the grammar ends the output with the object
        value = json.loads(reply.text)
        assert shape.check(reply.text).ok, reply.text
        # what the strict form dropped (the bounds) and the rule are covekit's to check
        verdict = contract.check(reply.text)
        kinds = {v.kind for v in verdict.errors}
        if not 0 <= value["refund"] <= 500:
            assert kinds == {"schema"}  # the rules wait for a value of the right shape
            assert {v.source for v in verdict.errors} <= {"minimum", "maximum"}
        else:
            assert (kinds == {"rule"}) == (refund_matches_order(value) is not None)
        broken += not verdict.ok
    assert broken >= 1  # random values do not satisfy the contract


# ----------------------------------------------------------------------------- enforce
def test_enforce_reasks_then_falls_back_when_free_text_is_not_json(
    tiny: covekit.OpenAIChatModel,
) -> None:
    good = '{"refund": 137, "currency": "EUR", "approved": true}'
    backup = covekit.ScriptedModel([good], name="backup")
    contract = covekit.Contract(
        REFUND_SCHEMA,
        rules=[refund_matches_order],
        on_fail=["repair", "reask", "fallback"],
        fallbacks=[backup],
    )
    result = contract.enforce(
        bound(tiny, max_tokens=16, seed=2), ask("Refund for order A-17? Answer in JSON.")
    )
    assert result.ok and result.value == json.loads(good)
    assert [(a.step, a.model) for a in result.attempts] == [
        ("first", "tiny"),
        ("reask", "tiny"),
        ("fallback", "backup"),
    ]
    first, reask, _ = result.attempts
    assert not first.verdict.ok and not reask.verdict.ok
    # the server's usage is recorded; the re-ask carries the failed output and the errors
    assert first.prompt_tokens is not None and reask.prompt_tokens is not None
    assert reask.prompt_tokens > first.prompt_tokens
    assert len(backup.calls) == 1


def test_enforce_escalates_when_structured_values_break_the_rule(
    tiny: covekit.OpenAIChatModel,
) -> None:
    escalations: list[covekit.Escalation] = []
    contract = covekit.Contract(
        REFUND_SCHEMA,
        rules=[refund_matches_order],
        on_fail={"rule": ["reask", "escalate"], "schema": ["raise"], "syntax": ["raise"]},
        escalate=lambda e: escalations.append(e) or "ticket-1",
    )
    strict = contract.for_provider("openai-strict")
    model = bound(tiny, max_tokens=96, seed=5, response_format=strict)
    result = contract.enforce(model, ask("Refund for order A-17?"))
    assert result.escalated and not result.ok
    assert result.reason == "rule" and result.escalation == "ticket-1"
    assert [a.step for a in result.attempts] == ["first", "reask"]
    for attempt in result.attempts:  # the grammar gave the shape; only the rule failed
        assert {v.kind for v in attempt.verdict.errors} == {"rule"}
    assert len(escalations) == 1 and escalations[0].reason == "violations"
    assert result.completion_tokens > 0


def test_enforce_repairs_json_cut_off_by_max_tokens(tiny: covekit.OpenAIChatModel) -> None:
    schema = {"type": "object", "properties": {"note": {"type": "string"}}}
    strict = covekit.Contract(schema).for_provider("openai-strict")
    contract = covekit.Contract(schema, on_fail=["repair", "raise"], allow_lossy_repair=True)
    model = bound(tiny, max_tokens=12, seed=3, response_format=strict)
    result = contract.enforce(model, ask("A note?"))
    assert result.ok and len(result.attempts) == 1
    attempt = result.attempts[0]
    assert not attempt.text.rstrip().endswith("}")  # cut off mid-string
    assert attempt.verdict.repairs  # ... and closed by the repair
    assert isinstance(result.value["note"], str)


def test_a_max_tokens_overrun_is_recorded_not_an_error(tiny: covekit.OpenAIChatModel) -> None:
    # the contract caps each completion at the budget's max_completion_tokens; llama.cpp
    # may write up to 3 tokens more when the cap falls inside a UTF-8 character (here in
    # the note's string): the attempt records what the server reports, and it passes
    tokenizer_dir()  # the budget counts the prompt (o200k_base): skip without the files
    cap = 12
    schema = {"type": "object", "properties": {"note": {"type": "string"}}}
    strict = covekit.Contract(schema).for_provider("openai-strict")
    contract = covekit.Contract(
        schema,
        on_fail=["repair", "raise"],
        allow_lossy_repair=True,
        budget=covekit.Budget(max_completion_tokens=cap),
    )
    overruns = 0
    for seed in range(8):
        model = Recording(bound(tiny, seed=seed, response_format=strict))
        result = contract.enforce(model, ask("A note?"))
        assert model.caps == [cap]
        assert result.ok and len(result.attempts) == 1, result
        used = result.attempts[0].completion_tokens
        assert used is not None and 1 <= used <= cap + MULTIBYTE_OVERRUN
        assert result.completion_tokens == used  # charged as reported, not clipped
        assert isinstance(result.value["note"], str)
        overruns += used > cap
    assert overruns >= 1  # the overrun happened, and nothing treated it as an error


def test_enforce_refuses_without_context_and_never_calls_the_server(
    llama_server: LlamaServer,
) -> None:
    with covekit.OpenAIChatModel(llama_server.base_url, llama_server.model) as model:
        result = covekit.Contract(REFUND_SCHEMA).enforce(model, ask("Refund?"), context=[])
        assert result.refused and result.reason == "missing_context"
        assert result.attempts == () and model.requests == 0


def test_fallback_moves_past_a_dead_server(tiny: covekit.OpenAIChatModel) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    with covekit.OpenAIChatModel(
        f"http://127.0.0.1:{dead_port}/v1",
        "big",
        retry=covekit.RetryPolicy(max_attempts=1),
    ) as dead:
        reply = covekit.Fallback([dead, tiny]).complete(ask("Hi"), max_tokens=4, seed=0)
    assert reply.model == "tiny" and reply.completion_tokens
    assert len(reply.fallbacks) == 1 and reply.fallbacks[0].startswith("big: ModelServerError")
