"""Chat prompt token counts (covekit.count_chat_tokens, ChatFormat, chat_format_for_model,
count_tool_tokens) against OpenAI's published counts and against the cookbook formula
computed with tiktoken (the oracle; covekit never uses tiktoken at runtime)."""

from __future__ import annotations

import doctest
import json
from typing import Any

import covekit
import pytest
from covekit import ChatFormat, chat_format_for_model, count_chat_tokens, count_tool_tokens
from covekit.decision import chat_format as chat_format_module
from covekit.errors import InvalidInput, UnknownModel
from hypothesis import given
from hypothesis import strategies as st

# The example of the openai-cookbook notebook "How to count tokens with tiktoken"
# (openai/openai-cookbook examples/How_to_count_tokens_with_tiktoken.ipynb, section 6).
COOKBOOK_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on "
        "opportunities for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]

# Section 7 of the same notebook: a tool definition and two messages.
COOKBOOK_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {
                        "type": "string",
                        "description": "The unit of temperature to return",
                        "enum": ["celsius", "fahrenheit"],
                    },
                },
                "required": ["location"],
            },
        },
    }
]
COOKBOOK_TOOL_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful assistant that can answer to questions about the weather.",
    },
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


@pytest.mark.parametrize(
    ("model", "api_prompt_tokens"),
    [
        # "N prompt tokens counted by the OpenAI API." as printed in the cookbook notebook:
        # commit c81359cd (gpt-3.5-turbo = 0125, gpt-4-0613, gpt-4, gpt-4o, gpt-4o-mini) and,
        # for gpt-3.5-turbo-0301, the earlier version of the notebook (commit 06d9feb5).
        ("gpt-3.5-turbo", 129),
        ("gpt-3.5-turbo-0301", 127),
        ("gpt-4-0613", 129),
        ("gpt-4", 129),
        ("gpt-4o", 124),
        ("gpt-4o-mini", 124),
        ("openai:gpt-4o-mini", 124),
    ],
)
def test_matches_the_prompt_tokens_the_openai_api_reported(
    model: str, api_prompt_tokens: int
) -> None:
    assert count_chat_tokens(COOKBOOK_MESSAGES, model=model) == api_prompt_tokens


@pytest.mark.parametrize(
    ("model", "api_prompt_tokens"),
    # The cookbook's num_tokens_for_tools against the API, section 7 (commit c81359cd).
    [("gpt-3.5-turbo", 105), ("gpt-4", 105), ("gpt-4o", 101), ("gpt-4o-mini", 101)],
)
def test_tool_estimate_matches_the_cookbook_example(model: str, api_prompt_tokens: int) -> None:
    total = count_chat_tokens(COOKBOOK_TOOL_MESSAGES, model=model)
    assert total + count_tool_tokens(COOKBOOK_TOOLS, model=model) == api_prompt_tokens


def _cookbook(messages: list[dict[str, Any]], enc: Any, fmt: ChatFormat) -> int:
    """The cookbook's num_tokens_from_messages, with tiktoken (special text as text)."""
    n = 0
    for message in messages:
        n += fmt.tokens_per_message
        for key, value in message.items():
            n += len(enc.encode(value, disallowed_special=()))
            if key == "name":
                n += fmt.tokens_per_name
    return n + fmt.reply_tokens


_ROLES = st.sampled_from(["system", "user", "assistant", "developer", "tool"])
_MESSAGES = st.lists(
    st.fixed_dictionaries(
        {"role": _ROLES, "content": st.text(max_size=200)},
        optional={"name": st.text(min_size=1, max_size=20), "tool_call_id": st.text(max_size=10)},
    ),
    max_size=8,
)


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4", "gpt-3.5-turbo-0301", "gpt-5-mini"])
@given(messages=_MESSAGES)
def test_equals_the_cookbook_formula_with_tiktoken(
    make_pair: Any, model: str, messages: list[dict[str, Any]]
) -> None:
    fmt = chat_format_for_model(model)
    tok = covekit.tokenizer_for_model(model)
    _, enc = make_pair(tok.name)
    assert count_chat_tokens(messages, model=model) == _cookbook(messages, enc, fmt)


@pytest.mark.parametrize(
    ("model", "fmt"),
    [
        ("gpt-4o", ChatFormat(3, 1, 3)),
        ("gpt-4o-2024-08-06", ChatFormat(3, 1, 3)),
        ("gpt-4.1-mini", ChatFormat(3, 1, 3)),
        ("gpt-5", ChatFormat(3, 1, 3)),
        ("o3-mini", ChatFormat(3, 1, 3)),
        ("o1", ChatFormat(3, 1, 3)),
        ("azure:gpt-35-turbo", ChatFormat(3, 1, 3)),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", ChatFormat(3, 1, 3)),
        ("gpt-3.5-turbo-0301", ChatFormat(4, -1, 3)),
    ],
)
def test_chat_format_for_model(model: str, fmt: ChatFormat) -> None:
    assert chat_format_for_model(model) == fmt


@pytest.mark.parametrize(
    "model",
    ["anthropic:claude-haiku-4-5", "claude-haiku-4-5", "text-embedding-3-small", "davinci-002",
     "gpt-oss-120b", "my-model", "gpt2"],
)  # fmt: skip
def test_no_chat_format_for_other_models(model: str) -> None:
    with pytest.raises(UnknownModel, match="chat format"):
        chat_format_for_model(model)


def test_other_models_count_with_an_explicit_tokenizer_and_format() -> None:
    messages = [{"role": "user", "content": "hello"}]
    with pytest.raises(UnknownModel):
        count_chat_tokens(messages, model="anthropic:claude-haiku-4-5")
    n = count_chat_tokens(
        messages,
        model="anthropic:claude-haiku-4-5",
        tokenizer="o200k_base",
        chat_format=ChatFormat(),
    )
    assert n == count_chat_tokens(messages, tokenizer="o200k_base")


def test_edges_empty_unicode_special_text_and_none() -> None:
    assert count_chat_tokens([], model="gpt-4o") == 3
    assert count_chat_tokens([{}], model="gpt-4o") == 6
    assert count_chat_tokens([{"role": "user", "content": ""}], model="gpt-4o") == 7
    tok = covekit.get_tokenizer("o200k_base")
    text = "お誕生日おめでとう 🎂 naïve café"
    assert count_chat_tokens([{"role": "user", "content": text}], model="gpt-4o") == (
        3 + 1 + tok.count(text) + 3
    )
    special = "<|endoftext|> is text here"
    assert count_chat_tokens([{"role": "user", "content": special}], model="gpt-4o") == (
        7 + tok.count(special, disallowed_special=())
    )
    with_none = [{"role": "assistant", "content": None, "refusal": None}]
    assert count_chat_tokens(with_none, model="gpt-4o") == 7


def test_lone_surrogates_count_as_tiktoken_does(make_pair: Any) -> None:
    _, enc = make_pair("o200k_base")
    text = "ab\ud800cd\udfff"
    got = count_chat_tokens([{"role": "user", "content": text}], model="gpt-4o")
    assert got == 7 + len(enc.encode(text))


def test_huge_message() -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 25_000  # ~1.1 MB
    tok = covekit.get_tokenizer("cl100k_base")
    got = count_chat_tokens([{"role": "user", "content": text}], model="gpt-4")
    assert got == 7 + tok.count(text)


def test_content_parts() -> None:
    tok = covekit.get_tokenizer("o200k_base")
    parts = [
        {"type": "text", "text": "Describe"},
        {"type": "input_text", "text": " this"},
        {"type": "refusal", "refusal": "no"},
    ]
    n = count_chat_tokens([{"role": "user", "content": parts}], model="gpt-4o")
    assert n == 7 + tok.count("Describe") + tok.count(" this") + tok.count("no")
    one = [{"type": "text", "text": "Describe this"}]
    assert count_chat_tokens([{"role": "user", "content": one}], model="gpt-4o") == (
        count_chat_tokens([{"role": "user", "content": "Describe this"}], model="gpt-4o")
    )


@pytest.mark.parametrize(
    ("part", "match"),
    [
        ({"type": "image_url", "image_url": {"url": "https://x/y.png"}}, "images are not counted"),
        ({"type": "input_image", "image_url": "data:..."}, "images are not counted"),
        ({"type": "input_audio", "input_audio": {"data": "..."}}, "audio are not counted"),
        ({"type": "file", "file": {"file_id": "f"}}, "files are not counted"),
        ({"type": "video"}, "counted parts are"),
        ({"text": "no type"}, "counted parts are"),
        ({"type": "text", "text": 3}, "needs a str 'text'"),
        ("plain string", "must be a mapping"),
    ],
)
def test_content_parts_that_cannot_be_counted(part: Any, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        count_chat_tokens([{"role": "user", "content": [part]}], model="gpt-4o")


def test_tool_calls_are_counted_as_their_json() -> None:
    calls = [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ]
    tok = covekit.get_tokenizer("o200k_base")
    n = count_chat_tokens(
        [{"role": "assistant", "content": None, "tool_calls": calls}], model="gpt-4o"
    )
    compact = json.dumps(calls, ensure_ascii=False, separators=(",", ":"))
    assert n == 3 + tok.count("assistant") + tok.count(compact) + 3
    tool_reply = {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}
    assert count_chat_tokens([tool_reply], model="gpt-4o") == (
        3 + tok.count("tool") + tok.count("call_1") + tok.count("18 C") + 3
    )
    with pytest.raises(InvalidInput, match="not JSON"):
        count_chat_tokens([{"role": "assistant", "tool_calls": [object()]}], model="gpt-4o")


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ("hello", "list of chat messages"),
        ({"role": "user"}, "list of chat messages"),
        (None, "list of chat messages"),
        (["hello"], "must be a mapping"),
        ([{"role": "user", "content": 3}], "content must be a str or a list"),
        ([{"role": "user", "content": {"type": "text"}}], "content must be a str or a list"),
        ([{"role": "user", "weight": 1.5}], "'weight' is float"),
    ],
)
def test_bad_messages(messages: Any, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        count_chat_tokens(messages, model="gpt-4o")


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInput, match=r"model= .* or tokenizer="):
        count_chat_tokens([])
    with pytest.raises(InvalidInput, match="tokenizer must be"):
        count_chat_tokens([], tokenizer=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="chat_format must be"):
        count_chat_tokens([], model="gpt-4o", chat_format=(3, 1, 3))  # type: ignore[arg-type]
    bad: list[dict[str, Any]] = [
        {"tokens_per_message": -1},
        {"reply_tokens": -1},
        {"tokens_per_name": 1.0},
        {"tokens_per_message": True},
        {"tokens_per_message": 0, "tokens_per_name": -1},
    ]
    for kwargs in bad:
        with pytest.raises(InvalidInput, match="ChatFormat"):
            ChatFormat(**kwargs)  # type: ignore[arg-type]
    assert ChatFormat(0, 0, 0).count([{"role": "user", "content": "hi"}], "o200k_base") == 2


def test_tool_estimate_edges() -> None:
    assert count_tool_tokens([], model="gpt-4o") == 0
    bare = [{"name": "ping", "description": "Ping."}]  # a bare function, no parameters
    tok = covekit.get_tokenizer("o200k_base")
    assert count_tool_tokens(bare, model="gpt-4o") == 7 + tok.count("ping:Ping") + 12
    assert count_tool_tokens(bare, model="gpt-4") == 10 + tok.count("ping:Ping") + 12
    odd = [{"type": "function", "function": {"name": "f", "parameters": {"properties": {
        "x": {"type": ["string", "null"], "enum": [1, "a"]}, "y": "not a schema"}}}}]  # fmt: skip
    assert count_tool_tokens(odd, model="gpt-4o") > 0
    with pytest.raises(InvalidInput, match="function name"):
        count_tool_tokens([{"type": "function", "function": {}}], model="gpt-4o")
    with pytest.raises(InvalidInput, match="must be a mapping"):
        count_tool_tokens(["f"], model="gpt-4o")  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="list of tool definitions"):
        count_tool_tokens({"name": "f"}, model="gpt-4o")  # type: ignore[arg-type]
    with pytest.raises(UnknownModel):
        count_tool_tokens(bare, model="claude-haiku-4-5")


def test_count_is_safe_from_many_threads() -> None:
    import threading

    want = count_chat_tokens(COOKBOOK_MESSAGES, model="gpt-4o")
    got: list[int] = []

    def work() -> None:
        for _ in range(50):
            got.append(count_chat_tokens(COOKBOOK_MESSAGES, model="gpt-4o"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [want] * 200


def test_doctests() -> None:
    result = doctest.testmod(chat_format_module)
    assert result.attempted > 0 and result.failed == 0
