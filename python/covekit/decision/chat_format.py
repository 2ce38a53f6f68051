"""Chat prompt token counts as OpenAI bills them: the framing of every message and the
reply priming, not only the text.

OpenAI's published rule (the openai-cookbook notebook "How to count tokens with
tiktoken", ``num_tokens_from_messages``): every message costs ``tokens_per_message``
plus the tokens of each of its string values (role, content, name...); a ``name`` adds
``tokens_per_name``; the reply is primed with 3 more tokens. For gpt-3.5-turbo, gpt-4,
gpt-4o and later chat models that is 3 per message and 1 per name; gpt-3.5-turbo-0301
used 4 and -1. Text is counted with covekit's own tokenizer for the model (the same
ids as tiktoken), and special-token text in a message counts as ordinary text.

>>> import covekit
>>> messages = [{"role": "system", "content": "You are terse."},
...             {"role": "user", "content": "Capital of France?"}]
>>> covekit.count_chat_tokens(messages, model="gpt-4o-mini")
19

Thread safety: :class:`ChatFormat` is immutable and the counting functions keep no
state; all may be called from many threads at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from covekit.data.encodings import encoding_name_for_model
from covekit.data.tokenize import Tokenizer, get_tokenizer
from covekit.decision.prices import split_model
from covekit.errors import InvalidInput, UnknownModel

__all__ = ["ChatFormat", "chat_format_for_model", "count_chat_tokens", "count_tool_tokens"]

#: Providers whose model names are OpenAI's own (a prefix that is dropped).
_OPENAI_PROVIDERS = frozenset({"openai", "azure"})
#: Name prefixes of OpenAI chat models (encodings cl100k_base and o200k_base).
_CHAT_PREFIXES = (
    "gpt-3.5-turbo",
    "gpt-35-turbo",
    "gpt-4",
    "chatgpt-4o",
    "gpt-5",
    "o1",
    "o3",
    "o4-mini",
    "ft:gpt-",
)
_TEXT_PARTS = {"text": "text", "input_text": "text", "output_text": "text", "refusal": "refusal"}
_NOT_COUNTED = {
    "image_url": "images",
    "input_image": "images",
    "image": "images",
    "input_audio": "audio",
    "audio": "audio",
    "file": "files",
    "input_file": "files",
}


def _openai_name(model: str) -> str:
    provider, name = split_model(model)
    if provider is not None and provider not in _OPENAI_PROVIDERS:
        raise UnknownModel(
            f"no chat format is known for {model!r}: OpenAI's counting rule covers OpenAI "
            "models only; count with count_chat_tokens(messages, tokenizer=..., "
            "chat_format=covekit.ChatFormat(...)) and treat the result as an estimate, since "
            "that model's tokenizer is not OpenAI's"
        )
    return name


@dataclass(frozen=True, slots=True)
class ChatFormat:
    """The tokens a chat model adds around messages: ``tokens_per_message`` for each
    message, ``tokens_per_name`` more for a message with a ``name``, and
    ``reply_tokens`` priming the reply (``<|start|>assistant<|message|>``).

    >>> import covekit
    >>> fmt = ChatFormat()
    >>> fmt.count([{"role": "user", "content": "hello world"}], "o200k_base")
    9

    What is counted: every string value of a message (``role``, ``content``, ``name``,
    ``tool_call_id``...); ``None`` values are skipped. ``content`` may be a list of
    parts: each text part is counted as its own string (OpenAI publishes no rule for
    several parts, so several parts are an estimate); an image, audio or file part
    raises, because its tokens depend on things this does not see. ``tool_calls`` (an
    assistant's calls) are counted as the tokens of their compact JSON, an estimate:
    OpenAI publishes no exact rule for them, and the JSON holds more than the model is
    shown (ids, types), so it tends to count high.

    Errors: :class:`~covekit.errors.InvalidInput` for a message that is not a mapping, a
    value of another type, an image, audio or file part, or fields that are not ints.
    """

    tokens_per_message: int = 3
    tokens_per_name: int = 1
    reply_tokens: int = 3

    def __post_init__(self) -> None:
        for name in ("tokens_per_message", "tokens_per_name", "reply_tokens"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise InvalidInput(f"ChatFormat.{name} must be an int, got {v!r}")
        if self.tokens_per_message < 0 or self.reply_tokens < 0:
            raise InvalidInput("ChatFormat.tokens_per_message and reply_tokens must be >= 0")
        if self.tokens_per_message + self.tokens_per_name < 0:
            raise InvalidInput("ChatFormat.tokens_per_name cannot take more than a message adds")

    def count(self, messages: Sequence[Mapping[str, Any]], tokenizer: Tokenizer | str) -> int:
        """The prompt tokens of ``messages`` with ``tokenizer`` (a
        :class:`covekit.Tokenizer` or an encoding name).

        >>> ChatFormat(4, -1, 3).count([{"role": "user", "name": "ada", "content": "hi"}],
        ...                            "cl100k_base")
        9
        """
        tok = _tokenizer(tokenizer)
        if isinstance(messages, str | bytes | Mapping) or not isinstance(messages, Iterable):
            raise InvalidInput(
                "messages must be a list of chat messages ({'role': ..., 'content': ...}), "
                f"not {type(messages).__name__}"
            )
        total = self.reply_tokens
        for i, message in enumerate(messages):
            if not isinstance(message, Mapping):
                raise InvalidInput(
                    f"message {i} must be a mapping such as {{'role': 'user', 'content': "
                    f"'...'}}, not {type(message).__name__}"
                )
            total += self.tokens_per_message
            for key, value in message.items():
                if value is None:
                    continue
                if key == "content" and not isinstance(value, str):
                    total += _content_tokens(value, tok, i)
                elif key in ("tool_calls", "function_call") and not isinstance(value, str):
                    total += _count(tok, _compact_json(value, f"message {i} {key}"))
                elif isinstance(value, str):
                    total += _count(tok, value)
                else:
                    raise InvalidInput(
                        f"message {i}: {key!r} is {type(value).__name__}; only str values (and "
                        "content parts, tool_calls) are counted"
                    )
                if key == "name":
                    total += self.tokens_per_name
        return total


def _tokenizer(tokenizer: Tokenizer | str) -> Tokenizer:
    if isinstance(tokenizer, Tokenizer):
        return tokenizer
    if isinstance(tokenizer, str):
        return get_tokenizer(tokenizer)
    raise InvalidInput(
        f"tokenizer must be a covekit.Tokenizer or an encoding name such as 'o200k_base', "
        f"not {type(tokenizer).__name__}"
    )


def _count(tok: Tokenizer, text: str) -> int:
    return tok.count(text, disallowed_special=()) if text else 0


def _compact_json(value: Any, where: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{where} is not JSON data: {exc}") from None


def _content_tokens(content: Any, tok: Tokenizer, i: int) -> int:
    if isinstance(content, Mapping) or not isinstance(content, Iterable):
        raise InvalidInput(
            f"message {i}: content must be a str or a list of parts, not {type(content).__name__}"
        )
    total = 0
    for j, part in enumerate(content):
        if not isinstance(part, Mapping):
            raise InvalidInput(
                f"message {i} part {j} must be a mapping such as {{'type': 'text', 'text': "
                f"'...'}}, not {type(part).__name__}"
            )
        kind = part.get("type")
        if kind in _NOT_COUNTED:
            what = _NOT_COUNTED[kind]
            raise InvalidInput(
                f"message {i} part {j} is {kind!r}: {what} are not counted (their tokens depend "
                "on size, detail and the provider); count the text parts alone and add the "
                f"{what}' tokens yourself"
            )
        field_name = _TEXT_PARTS.get(kind) if isinstance(kind, str) else None
        if field_name is None:
            raise InvalidInput(
                f"message {i} part {j} has type {kind!r}; counted parts are 'text' (also "
                "'input_text', 'output_text') and 'refusal'"
            )
        text = part.get(field_name)
        if not isinstance(text, str):
            raise InvalidInput(f"message {i} part {j} needs a str {field_name!r}")
        total += _count(tok, text)
    return total


def chat_format_for_model(model: str) -> ChatFormat:
    """The chat format of an OpenAI chat model (``"gpt-4o"`` or ``"openai:gpt-4o"``).

    ``gpt-3.5-turbo-0301`` has ``ChatFormat(4, -1, 3)``; every other chat model of the
    cl100k_base and o200k_base encodings the format the cookbook verified for
    gpt-3.5-turbo, gpt-4 and gpt-4o against the API, ``ChatFormat(3, 1, 3)`` (for the
    models that came later, gpt-4.1, gpt-5 and the o-series, OpenAI publishes no count;
    covekit assumes they keep it).

    >>> chat_format_for_model("openai:gpt-4o-mini")
    ChatFormat(tokens_per_message=3, tokens_per_name=1, reply_tokens=3)
    >>> chat_format_for_model("gpt-3.5-turbo-0301")
    ChatFormat(tokens_per_message=4, tokens_per_name=-1, reply_tokens=3)

    Raises:
        UnknownModel: not an OpenAI chat model (another provider's, an embedding or
            completion model, gpt-oss with its harmony format, or an unknown name).
    """
    name = _openai_name(model)
    if name in ("gpt-3.5-turbo-0301", "gpt-35-turbo-0301"):
        return ChatFormat(4, -1, 3)
    try:
        encoding = encoding_name_for_model(name)
    except UnknownModel:
        encoding = None
    if encoding not in ("cl100k_base", "o200k_base") or not name.startswith(_CHAT_PREFIXES):
        raise UnknownModel(
            f"no chat format is known for {model!r}: it is not an OpenAI chat model covekit "
            "knows; pass chat_format=covekit.ChatFormat(...) (and tokenizer=) to count anyway"
        )
    return ChatFormat()


def count_chat_tokens(
    messages: Sequence[Mapping[str, Any]],
    *,
    model: str | None = None,
    tokenizer: Tokenizer | str | None = None,
    chat_format: ChatFormat | None = None,
) -> int:
    """The prompt tokens a chat model is billed for ``messages``: the text of every
    message, each message's framing and the reply priming (see :class:`ChatFormat` for
    what is counted and what is an estimate).

    ``model`` picks the tokenizer and the chat format; ``tokenizer`` (a
    :class:`covekit.Tokenizer` or encoding name) and ``chat_format`` override them.
    Tools sent with the request cost more: see :func:`count_tool_tokens`.

    >>> import covekit
    >>> covekit.count_chat_tokens([], model="gpt-4o")
    3
    >>> covekit.count_chat_tokens([{"role": "user", "content": "hi"}], tokenizer="cl100k_base")
    8

    Raises:
        InvalidInput: neither ``model`` nor ``tokenizer`` is given, or a message cannot
            be counted (see :class:`ChatFormat`).
        UnknownModel: ``model`` is not a model whose tokenizer (or, without
            ``chat_format``, whose chat format) covekit knows.
    """
    if model is None and tokenizer is None:
        raise InvalidInput(
            "pass model= (e.g. 'gpt-4o-mini') or tokenizer= (a covekit.Tokenizer or an "
            "encoding name) to count chat tokens"
        )
    if chat_format is not None and not isinstance(chat_format, ChatFormat):
        raise InvalidInput(
            f"chat_format must be a covekit.ChatFormat, not {type(chat_format).__name__}"
        )
    fmt = chat_format or (chat_format_for_model(model) if model is not None else ChatFormat())
    if tokenizer is None:
        assert model is not None
        tok = get_tokenizer(encoding_name_for_model(_openai_name(model)))
    else:
        tok = _tokenizer(tokenizer)
    return fmt.count(messages, tok)


def count_tool_tokens(tools: Sequence[Mapping[str, Any]], *, model: str) -> int:
    """OpenAI's published ESTIMATE of the prompt tokens that function (tool) definitions
    add to a chat request, not an exact count: the openai-cookbook's
    ``num_tokens_for_tools``, which matched the API on its example.

    For each function: 7 tokens (gpt-4o and the other o200k_base models) or 10 (gpt-4,
    gpt-3.5-turbo) plus the tokens of ``"name:description"``; with parameters, 3 plus, for
    each property, 3 and the tokens of ``"key:type:description"`` (and, for an enum, 3
    per item plus its tokens, less 3); 12 at the end. A trailing period of a description
    is dropped. Nested objects count by their top-level line only. ``tools`` are
    ``{"type": "function", "function": {...}}`` items or bare function definitions. For
    the o200k_base models after gpt-4o (gpt-4.1, gpt-5, the o-series) the gpt-4o
    constants are an extrapolation.

    >>> import covekit
    >>> tools = [{"type": "function", "function": {"name": "get_time", "description": "Now.",
    ...           "parameters": {"type": "object", "properties": {}}}}]
    >>> covekit.count_tool_tokens(tools, model="gpt-4o")
    23
    >>> covekit.count_tool_tokens([], model="gpt-4o")
    0

    Raises:
        InvalidInput: a tool without a ``name``, or not a mapping.
        UnknownModel: not an OpenAI chat model.
    """
    chat_format_for_model(model)  # raises for models the rule does not cover
    name = _openai_name(model)
    encoding = encoding_name_for_model(name)
    func_init = 7 if encoding == "o200k_base" else 10
    prop_init, prop_key, enum_init, enum_item, func_end = 3, 3, -3, 3, 12
    tok = get_tokenizer(encoding)
    if isinstance(tools, str | bytes | Mapping) or not isinstance(tools, Iterable):
        raise InvalidInput("tools must be a list of tool definitions")
    tools = list(tools)
    if not tools:
        return 0
    total = 0
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise InvalidInput(f"tool {i} must be a mapping, not {type(tool).__name__}")
        f = tool.get("function", tool)
        if not isinstance(f, Mapping) or not isinstance(f.get("name"), str):
            raise InvalidInput(
                f"tool {i} needs a function name: {{'type': 'function', 'function': "
                "{'name': ..., 'description': ..., 'parameters': {...}}}"
            )
        total += func_init
        desc = _text(f.get("description"))
        total += _count(tok, f["name"] + ":" + desc.removesuffix("."))
        params = f.get("parameters")
        props = params.get("properties") if isinstance(params, Mapping) else None
        if isinstance(props, Mapping) and props:
            total += prop_init
            for key, prop in props.items():
                total += prop_key
                prop = prop if isinstance(prop, Mapping) else {}
                p_type = prop.get("type", "")
                if isinstance(p_type, list):
                    p_type = "|".join(str(t) for t in p_type)
                enum = prop.get("enum")
                if isinstance(enum, list):
                    total += enum_init
                    for item in enum:
                        total += enum_item + _count(tok, item if isinstance(item, str) else
                                                    json.dumps(item))  # fmt: skip
                p_desc = _text(prop.get("description")).removesuffix(".")
                total += _count(tok, f"{key}:{p_type}:{p_desc}")
    return total + func_end


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
