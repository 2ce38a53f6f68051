"""The one client for every OpenAI-compatible chat server: :class:`OpenAIChatModel`.

It speaks ``POST {base_url}/chat/completions`` as OpenAI, vLLM, llama.cpp's server,
Ollama (``http://localhost:11434/v1``) and LiteLLM's proxy do: messages, tools and tool
calls, ``response_format`` (a strict JSON Schema from ``Contract.for_provider``), the
sampling limits, and SSE streaming with the usage in the last chunk. Retries follow a
:class:`~covekit.RetryPolicy`; timeouts come from the request's
:class:`~covekit.Deadline`.

Servers differ in how they take a JSON Schema, so ``schema_format`` says which form is
sent: ``"json_schema"`` (OpenAI's ``{"type": "json_schema", "json_schema": {...}}``, the
default: OpenAI, vLLM, llama.cpp's own ``llama-server``, Ollama, LiteLLM) or
``"json_object"`` (``{"type": "json_object", "schema": ...}``: llama-cpp-python's
``llama_cpp.server``, which answers HTTP 500 to the OpenAI form).

>>> import covekit
>>> m = covekit.OpenAIChatModel("http://127.0.0.1:8080/v1", "tiny")
>>> m.url, m.identity()["base_url"]
('http://127.0.0.1:8080/v1/chat/completions', 'http://127.0.0.1:8080/v1')

Thread safety: one OpenAIChatModel may be used from many threads at once (its
``httpx.Client`` pools connections and is thread-safe), and from many coroutines of one
event loop (per loop, ``httpx.AsyncClient`` pools of at most 8 connections used
round-robin, closed with the loop).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import weakref
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any, Literal

from covekit.errors import (
    DeadlineExceeded,
    InvalidInput,
    InvalidModelResponse,
    ModelServerError,
    ModelServerTimeout,
)
from covekit.execution.model import ModelBase, StreamEvent
from covekit.execution.retry import RetryPolicy, parse_retry_after
from covekit.execution.verdict import Message, ModelReply, ToolCall
from covekit.observe.trace import Span, child_span

if TYPE_CHECKING:
    import httpx

    from covekit.decision.deadline import Deadline

__all__ = [
    "SCHEMA_FORMATS",
    "OpenAIChatModel",
    "SSEDecoder",
    "StreamAssembler",
    "response_format_for",
]

_FORMAT_TYPES = ("json_schema", "json_object", "text")
#: The two wire forms of a JSON Schema in ``response_format`` (``schema_format``).
SCHEMA_FORMATS = ("json_schema", "json_object")


def _schema_of(response_format: Mapping[str, Any]) -> Any:
    """The JSON Schema an OpenAI ``response_format`` carries, or None."""
    kind = response_format.get("type")
    schema: Any = None
    if kind == "json_schema":
        inner = response_format.get("json_schema")
        schema = inner.get("schema") if isinstance(inner, Mapping) else None
    elif kind == "json_object":
        schema = response_format.get("schema")
    return schema if isinstance(schema, Mapping) else None


def response_format_for(
    response_format: Mapping[str, Any], schema_format: str = "json_schema"
) -> dict[str, Any]:
    """OpenAI's ``response_format`` for a request, with its JSON Schema (if any) in the
    form ``schema_format`` names.

    A bare JSON Schema (e.g. ``Contract.for_provider("openai-strict")``) is wrapped: as a
    strict ``json_schema`` format named ``"response"``, or for ``"json_object"`` as
    ``{"type": "json_object", "schema": ...}`` (llama-cpp-python's server). A format that
    already is one (``{"type": "json_schema" | "json_object" | "text", ...}``) is passed
    through, except that a schema in the other form is moved into ``schema_format``'s
    (the name and ``strict`` of a ``json_schema`` are kept when it stays one, and
    ``strict: true`` is set when one is made); ``json_object`` without a schema and
    ``text`` are sent as they are.

    >>> response_format_for({"type": "object"})["json_schema"]["strict"]
    True
    >>> response_format_for({"type": "object"}, "json_object")
    {'type': 'json_object', 'schema': {'type': 'object'}}
    >>> response_format_for({"type": "json_object"})
    {'type': 'json_object'}
    >>> response_format_for({"type": "json_object", "schema": {"type": "object"}})["type"]
    'json_schema'
    """
    if schema_format not in SCHEMA_FORMATS:
        raise InvalidInput(f"schema_format must be one of {SCHEMA_FORMATS}, got {schema_format!r}")
    if not isinstance(response_format, Mapping):
        raise InvalidInput(
            "response_format must be a JSON Schema or an OpenAI response_format (a mapping), "
            f"not {type(response_format).__name__}"
        )
    kind = response_format.get("type")
    if kind in _FORMAT_TYPES:
        schema = _schema_of(response_format)
        if schema is None or kind == schema_format:
            return dict(response_format)
    else:
        schema = response_format
    if schema_format == "json_object":
        return {"type": "json_object", "schema": dict(schema)}
    return {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": dict(schema), "strict": True},
    }


def _usage(usage: Any, reply: dict[str, Any]) -> None:
    if not isinstance(usage, Mapping):
        return
    for key, field in (
        ("prompt_tokens", "prompt_tokens"),
        ("completion_tokens", "completion_tokens"),
    ):
        value = usage.get(key)
        if isinstance(value, int):
            reply[field] = value
    details = usage.get("prompt_tokens_details")
    if isinstance(details, Mapping) and isinstance(details.get("cached_tokens"), int):
        reply["cached_prompt_tokens"] = details["cached_tokens"]


def _arguments(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):  # some servers send the arguments as an object
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    raise InvalidModelResponse(
        f"{where}: tool call arguments are a {type(value).__name__}, not text"
    )


def parse_completion(data: Any, url: str = "") -> ModelReply:
    """A :class:`~covekit.ModelReply` from a decoded chat-completion body; raises
    :class:`~covekit.errors.InvalidModelResponse` when it breaks the protocol.

    >>> parse_completion({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
    ...                   "usage": {"prompt_tokens": 3, "completion_tokens": 1}}).text
    'hi'
    """
    if not isinstance(data, Mapping):
        raise InvalidModelResponse(
            f"{url} returned a JSON {type(data).__name__}, not an object", url=url
        )
    if isinstance(data.get("error"), Mapping | str):
        raise InvalidModelResponse(
            f"{url} returned an error object: {str(data['error'])[:300]}", url=url
        )
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise InvalidModelResponse(f"{url} returned no choices: {str(data)[:300]}", url=url)
    choice = choices[0]
    message = choice.get("message") if isinstance(choice, Mapping) else None
    if not isinstance(message, Mapping):
        raise InvalidModelResponse(f"{url} returned a choice without a message", url=url)
    content = message.get("content")
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise InvalidModelResponse(
            f"{url} returned content of type {type(content).__name__}", url=url
        )
    calls: list[ToolCall] = []
    raw_calls = message.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise InvalidModelResponse(f"{url} returned tool_calls that are not a list", url=url)
    for i, call in enumerate(raw_calls):
        function = call.get("function") if isinstance(call, Mapping) else None
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(name, str) or not name:
            raise InvalidModelResponse(
                f"{url} returned tool call {i} without a function name", url=url
            )
        call_id = call.get("id")
        calls.append(
            ToolCall(
                call_id if isinstance(call_id, str) else f"call_{i}",
                name,
                _arguments(function.get("arguments", ""), f"{url} tool call {i}"),  # type: ignore[union-attr]
            )
        )
    fields: dict[str, Any] = {}
    _usage(data.get("usage"), fields)
    finish = choice.get("finish_reason")
    model = data.get("model")
    return ModelReply(
        content,
        tool_calls=tuple(calls),
        finish_reason=finish if isinstance(finish, str) else None,
        model=model if isinstance(model, str) else None,
        **fields,
    )


class SSEDecoder:
    """Server-sent events from bytes that arrive in arbitrary pieces: :meth:`feed` returns
    the ``data`` of every event completed so far (``data:`` lines joined by ``\\n``);
    comments and other fields are skipped; CRLF, LF and CR line ends are all accepted.

    >>> d = SSEDecoder()
    >>> d.feed(b'data: {"a"'), d.feed(b': 1}\\n\\ndata: [DONE]\\n\\n')
    ([], ['{"a": 1}', '[DONE]'])
    """

    __slots__ = ("_buffer", "_data", "_pending_cr")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[str]:
        """The data of the events that ``chunk`` completes."""
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._pending_cr = chunk.endswith(b"\r")
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        events: list[str] = []
        for raw in lines:
            if not raw:
                if self._data:
                    events.append("\n".join(self._data))
                    self._data = []
                continue
            if raw.startswith(b":"):
                continue
            name, _, value = raw.partition(b":")
            if name != b"data":
                continue
            if value.startswith(b" "):
                value = value[1:]
            try:
                self._data.append(value.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise InvalidModelResponse(f"an SSE event that is not UTF-8: {exc}") from None
        return events

    def close(self) -> list[str]:
        """The last event, when the stream ended without its blank line."""
        events = self.feed(b"\n\n") if (self._buffer or self._data) else []
        return events


class StreamAssembler:
    """Builds the reply of a streamed chat completion from its SSE events' data:
    :meth:`add` takes one event and returns the text delta it adds, :meth:`finish` the
    whole :class:`~covekit.ModelReply` (tool-call deltas joined, usage from the chunk that
    has it). A stream that ends before ``[DONE]`` or without a ``finish_reason``, or an
    event that is not a JSON chunk, raises :class:`~covekit.errors.InvalidModelResponse`.

    >>> a = StreamAssembler()
    >>> a.add('{"choices": [{"delta": {"content": "Hi"}, "finish_reason": null}]}')
    'Hi'
    >>> _ = a.add('{"choices": [{"delta": {}, "finish_reason": "stop"}]}'); _ = a.add("[DONE]")
    >>> a.finish().text, a.finish().finish_reason
    ('Hi', 'stop')
    """

    def __init__(self, url: str = "") -> None:
        self.url = url
        self.done = False
        self._text: list[str] = []
        self._calls: dict[int, list[Any]] = {}
        self._finish: str | None = None
        self._model: str | None = None
        self._usage: dict[str, Any] = {}
        self._events = 0

    def _bad(self, why: str) -> InvalidModelResponse:
        return InvalidModelResponse(f"{self.url} sent a malformed stream: {why}", url=self.url)

    def add(self, data: str) -> str:
        """The text delta of one event's data ("" for none)."""
        if self.done:
            raise self._bad("an event after [DONE]")
        if data.strip() == "[DONE]":
            self.done = True
            return ""
        self._events += 1
        try:
            chunk = json.loads(data)
        except ValueError:
            raise self._bad(f"event {self._events} is not JSON: {data[:200]!r}") from None
        if not isinstance(chunk, Mapping):
            raise self._bad(f"event {self._events} is not a JSON object")
        if chunk.get("error") is not None:
            raise self._bad(f"the server sent an error: {str(chunk['error'])[:300]}")
        if isinstance(chunk.get("model"), str):
            self._model = chunk["model"]
        _usage(chunk.get("usage"), self._usage)
        choices = chunk.get("choices")
        if choices is None:
            choices = []
        if not isinstance(choices, list):
            raise self._bad(f"event {self._events} has choices that are not a list")
        delta_text = ""
        for choice in choices:
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if not isinstance(delta, Mapping):
                raise self._bad(f"event {self._events} has a delta that is not an object")
            content = delta.get("content")
            if isinstance(content, str):
                delta_text += content
            elif content is not None:
                raise self._bad(f"event {self._events} has content that is not text")
            for call in delta.get("tool_calls") or []:
                if not isinstance(call, Mapping):
                    raise self._bad(f"event {self._events} has a tool call that is not an object")
                index = call.get("index", 0)
                if not isinstance(index, int):
                    raise self._bad(f"event {self._events} has a tool call without an index")
                slot = self._calls.setdefault(index, [None, "", []])
                if isinstance(call.get("id"), str):
                    slot[0] = call["id"]
                function = call.get("function") or {}
                if isinstance(function.get("name"), str):
                    slot[1] += function["name"]
                arguments = function.get("arguments")
                if arguments is not None:
                    slot[2].append(_arguments(arguments, f"{self.url} tool call {index}"))
            if isinstance(choice.get("finish_reason"), str):
                self._finish = choice["finish_reason"]
        self._text.append(delta_text)
        return delta_text

    def finish(self) -> ModelReply:
        """The whole reply; raises when the stream was cut short."""
        if not self.done:
            raise self._bad("the stream ended before [DONE] (truncated)")
        if self._finish is None:
            raise self._bad("the stream ended without a finish_reason (truncated)")
        calls = []
        for index in sorted(self._calls):
            call_id, name, parts = self._calls[index]
            if not name:
                raise self._bad(f"tool call {index} has no function name")
            calls.append(ToolCall(call_id or f"call_{index}", name, "".join(parts)))
        return ModelReply(
            "".join(self._text),
            tool_calls=tuple(calls),
            finish_reason=self._finish,
            model=self._model,
            **self._usage,
        )


def assemble_stream(chunks: Iterable[bytes], url: str = "") -> tuple[list[str], ModelReply]:
    """The text deltas and the reply of a whole SSE body given in pieces (for tests).

    >>> body = (b'data: {"choices":[{"delta":{"content":"a"},"finish_reason":"stop"}]}\\n\\n'
    ...         b'data: [DONE]\\n\\n')
    >>> assemble_stream([body[:7], body[7:]])[1].text
    'a'
    """
    decoder, assembler = SSEDecoder(), StreamAssembler(url)
    deltas = []
    for chunk in chunks:
        for data in decoder.feed(chunk):
            deltas.append(assembler.add(data))
    for data in decoder.close():
        deltas.append(assembler.add(data))
    return deltas, assembler.finish()


def _trace_reply(span: Span, reply: ModelReply) -> None:
    """The reply's usage and model on its chat span (no content)."""
    if reply.prompt_tokens is not None:
        span.set("gen_ai.usage.input_tokens", reply.prompt_tokens)
    if reply.completion_tokens is not None:
        span.set("gen_ai.usage.output_tokens", reply.completion_tokens)
    if reply.cached_prompt_tokens is not None:
        span.set("gen_ai.usage.cache_read.input_tokens", reply.cached_prompt_tokens)
    if reply.model:
        span.set("gen_ai.response.model", reply.model)
    if reply.finish_reason:
        span.set("gen_ai.response.finish_reasons", [reply.finish_reason])
    if reply.tool_calls:
        span.set("covekit.tool_calls", len(reply.tool_calls))


class OpenAIChatModel(ModelBase):
    """A chat model behind an OpenAI-compatible server (see the module docs).

    Args:
        base_url: the API root, e.g. ``https://api.openai.com/v1``,
            ``http://localhost:8000/v1`` (vLLM), ``http://localhost:8080/v1`` (llama.cpp),
            ``http://localhost:11434/v1`` (Ollama), ``http://localhost:4000`` (LiteLLM).
        model: the model name sent in each request.
        api_key: sent as ``Authorization: Bearer ...`` when given.
        headers: extra headers for every request.
        timeout: seconds per attempt when the request has no deadline (with one, the
            time left, at most this).
        retry: the :class:`~covekit.RetryPolicy`.
        http_client: an ``httpx.Client`` to use (not closed by :meth:`close`).
        max_connections: the connection pool's size (per client).
        name: the name in replies and cache keys (default: ``model``).
        schema_format: how a JSON Schema in ``response_format`` is sent:
            ``"json_schema"`` (the default; OpenAI's form, which OpenAI, vLLM, llama.cpp's
            own ``llama-server``, Ollama and LiteLLM take) or ``"json_object"``
            (``{"type": "json_object", "schema": ...}``, which llama-cpp-python's server
            ``python -m llama_cpp.server`` takes; it answers HTTP 500 to the other form).
            See :func:`response_format_for`.

    Usage is reported as the server counts it, never clipped: llama-cpp-python's server
    can overrun ``max_tokens`` by up to 3 tokens when the last token leaves a UTF-8
    character unfinished, and ``completion_tokens`` then says so (``finish_reason`` is
    ``"length"``); that is not an error.

    Errors: :class:`~covekit.errors.ModelServerError` (an HTTP error, no connection,
    retries used up; ``status_code``, ``attempts``), :class:`~covekit.errors.ModelServerTimeout`,
    :class:`~covekit.errors.InvalidModelResponse` (not JSON, no choices, a malformed tool
    call, a truncated or malformed stream), :class:`~covekit.errors.DeadlineExceeded`
    (the deadline passed before a request; no request is sent).

    >>> import covekit
    >>> from covekit.errors import DeadlineExceeded
    >>> m = covekit.OpenAIChatModel("http://127.0.0.1:9/v1", "m")
    >>> try:
    ...     m.complete([{"role": "user", "content": "hi"}], deadline=covekit.Deadline(0))
    ... except DeadlineExceeded as exc:
    ...     print(m.requests, isinstance(exc, TimeoutError))
    0 True
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        max_connections: int = 100,
        name: str | None = None,
        schema_format: Literal["json_schema", "json_object"] = "json_schema",
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InvalidInput(f"base_url must be an http(s) URL, got {base_url!r}")
        if not isinstance(model, str) or not model:
            raise InvalidInput(f"model must be a non-empty str, got {model!r}")
        if not isinstance(timeout, int | float) or not timeout > 0:
            raise InvalidInput(f"timeout must be > 0 seconds, got {timeout!r}")
        if not isinstance(max_connections, int) or max_connections < 1:
            raise InvalidInput(f"max_connections must be an int >= 1, got {max_connections!r}")
        if schema_format not in SCHEMA_FORMATS:
            raise InvalidInput(
                f"schema_format must be one of {SCHEMA_FORMATS}, got {schema_format!r}"
            )
        self.schema_format: Literal["json_schema", "json_object"] = schema_format
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/chat/completions"
        self.model = model
        self.name = name or model
        self.timeout = float(timeout)
        self.retry = retry if retry is not None else RetryPolicy()
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        self._headers.update(headers or {})
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._max_connections = max_connections
        self._given_client = http_client
        self._client: httpx.Client | None = http_client
        self._aclients: dict[int, tuple[Any, Any, Any, Any]] = {}
        self._lock = threading.Lock()
        self._sleep: Callable[[float], None] = time.sleep  # tests replace these
        self._asleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._clock: Callable[[], float] = time.monotonic
        self._rand: Callable[[], float] | None = None
        self.requests = 0
        self.retries = 0

    # ------------------------------------------------------------------ clients
    def _limits(self) -> httpx.Limits:
        import httpx

        return httpx.Limits(
            max_connections=self._max_connections, max_keepalive_connections=self._max_connections
        )

    def _sync_client(self) -> httpx.Client:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    import httpx

                    self._client = httpx.Client(limits=self._limits(), timeout=self.timeout)
                    # a model dropped without close() still closes its pool
                    weakref.finalize(self, self._client.close)
                client = self._client
        return client

    async def _async_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        entry = self._aclients.get(id(loop))
        if entry is None or entry[0] is not loop:
            entry = await self._new_async_pool(loop)
        shards: list[httpx.AsyncClient] = entry[1]
        client: httpx.AsyncClient = shards[next(entry[2]) % len(shards)]
        return client

    async def _new_async_pool(self, loop: Any) -> tuple[Any, Any, Any, Any]:
        """The async pool of one event loop: ``max_connections`` split over shards of at
        most :data:`ASYNC_SHARD` connections, used round-robin. httpcore's pool does work
        proportional to its connections on every request (encode/httpx#3215), so 64
        requests in flight on one pool of 64 run several times slower than on 8 of 8."""
        import httpx

        count = max(1, -(-self._max_connections // ASYNC_SHARD))
        base, extra = divmod(self._max_connections, count)
        sizes = [base + (i < extra) for i in range(count)]  # adds up to max_connections
        shards = [
            httpx.AsyncClient(
                limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
                timeout=self.timeout,
            )
            for n in sizes
        ]
        # an async generator the loop closes when it shuts down (asyncio.run does), so that
        # a loop's pool is closed with it even when aclose() was not awaited
        closer = _close_with_loop(shards)
        await closer.__anext__()
        entry = (loop, shards, itertools.count(), closer)
        with self._lock:
            self._aclients = {k: v for k, v in self._aclients.items() if not v[0].is_closed()}
            self._aclients[id(loop)] = entry
        return entry

    def close(self) -> None:
        """Closes the connection pool (not an ``http_client`` that was passed in)."""
        with self._lock:
            client, self._client = self._client, self._given_client
        if client is not None and client is not self._given_client:
            client.close()

    async def aclose(self) -> None:
        """Closes the async connection pool of the running event loop, and the sync one."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._aclients.pop(id(loop), None)
        if entry is not None:
            await entry[3].aclose()
        self.close()

    def __enter__(self) -> OpenAIChatModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def identity(self) -> dict[str, Any]:
        """The class, name, model and server (see :meth:`ModelBase.identity`).

        >>> import covekit
        >>> covekit.OpenAIChatModel("http://h/v1", "m").identity()["model"]
        'm'
        """
        return {**super().identity(), "model": self.model, "base_url": self.base_url}

    def __repr__(self) -> str:
        extra = (
            f", schema_format={self.schema_format!r}" if self.schema_format != "json_schema" else ""
        )
        return f"OpenAIChatModel({self.base_url!r}, {self.model!r}{extra})"

    # ------------------------------------------------------------------ requests
    def _body(self, messages: Sequence[Message], params: Mapping[str, Any], stream: bool) -> bytes:
        unknown = set(params) - _PARAMS
        if unknown:
            raise InvalidInput(f"unknown parameters: {sorted(unknown)}")
        body: dict[str, Any] = {"model": self.model, "messages": [dict(m) for m in messages]}
        if params.get("tools"):
            body["tools"] = [dict(t) for t in params["tools"]]
        if params.get("tool_choice") is not None:
            body["tool_choice"] = params["tool_choice"]
        if params.get("response_format") is not None:
            form = response_format_for(params["response_format"], self.schema_format)
            body["response_format"] = {"type": form.get("type"), **form}  # type first
        for key in ("max_tokens", "temperature", "seed"):
            if params.get(key) is not None:
                body[key] = params[key]
        if params.get("stop") is not None:
            body["stop"] = list(params["stop"])
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        try:
            return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"the request cannot be sent as JSON: {exc}") from None

    def _timeout(self, deadline: Deadline | None) -> float:
        if deadline is None:
            return self.timeout
        deadline.check(f"{self.name} request")
        left = deadline.timeout(self.timeout)
        if left is None or left <= 0:
            raise DeadlineExceeded(
                f"{self.name} request would start past the deadline", step=f"{self.name} request"
            )
        return left

    def _count(self, retry: bool) -> None:
        with self._lock:
            self.requests += 1
            if retry:
                self.retries += 1

    def _failure(
        self,
        attempt: int,
        start: float,
        deadline: Deadline | None,
        *,
        status: int | None = None,
        retry_after: str | None = None,
        body: str = "",
        exc: Exception | None = None,
        payload: bytes = b"",
    ) -> float:
        """The delay before the next attempt; raises when there is none."""
        import httpx

        decision = self.retry.decide(
            attempt,
            elapsed=self._clock() - start,
            status=status,
            retry_after=parse_retry_after(retry_after),
            remaining=None if deadline is None else deadline.remaining(),
            **({"rand": self._rand} if self._rand is not None else {}),
        )
        if decision.retry:
            return decision.delay
        where = f"{self.url} (attempt {attempt})"
        if status is not None:
            hint = " (check api_key)" if status in (401, 403) else ""
            if status in (400, 422, 500) and _JSON_SCHEMA_SENT in payload:
                hint = (
                    " (the request's response_format was OpenAI's json_schema form; a server "
                    "that does not take it, such as llama-cpp-python's, needs "
                    "OpenAIChatModel(..., schema_format='json_object'))"
                )
            raise ModelServerError(
                f"{where} answered HTTP {status}{hint}: {body[:300]!r}; {decision.reason}",
                status_code=status,
                url=self.url,
                attempts=attempt,
            )
        if isinstance(exc, httpx.TimeoutException):
            raise ModelServerTimeout(
                f"{where} did not answer in time ({type(exc).__name__}); {decision.reason}",
                url=self.url,
                attempts=attempt,
            ) from exc
        raise ModelServerError(
            f"could not reach {where}: {exc!r}; {decision.reason}; check base_url and that "
            "the server is running",
            url=self.url,
            attempts=attempt,
        ) from exc

    def _parse(self, content: bytes) -> ModelReply:
        try:
            data = json.loads(content)
        except ValueError:
            raise InvalidModelResponse(
                f"{self.url} returned a body that is not JSON: {content[:200]!r}", url=self.url
            ) from None
        return parse_completion(data, self.url)

    def complete(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: Any = None,
        response_format: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        stop: Sequence[str] | None = None,
        deadline: Deadline | None = None,
        sample: int = 0,
    ) -> ModelReply:
        """One chat completion (see :class:`~covekit.ModelBase` for the parameters;
        ``sample`` only names the repeat for a cache and is not sent).

        Traced (when a tracer is active): a ``chat <model>`` span with the
        ``gen_ai.*`` request and usage attributes (cached input tokens in
        ``gen_ai.usage.cache_read.input_tokens``).

        >>> import covekit
        >>> covekit.OpenAIChatModel("http://h/v1", "m").complete.__name__
        'complete'
        """
        with child_span(f"chat {self.model}", self._span_attributes(max_tokens)) as span:
            reply = self._complete(
                messages,
                tools=tools,
                tool_choice=tool_choice,
                response_format=response_format,
                max_tokens=max_tokens,
                temperature=temperature,
                seed=seed,
                stop=stop,
                deadline=deadline,
            )
            if span is not None:
                _trace_reply(span, reply)
            return reply

    def _span_attributes(self, max_tokens: int | None) -> dict[str, Any]:
        provider = "openai" if "api.openai.com" in self.base_url else "openai_compatible"
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": self.model,
            "server.address": self.base_url,
        }
        if max_tokens is not None:
            attrs["gen_ai.request.max_tokens"] = max_tokens
        return attrs

    def _complete(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Mapping[str, Any]] | None,
        tool_choice: Any,
        response_format: Mapping[str, Any] | None,
        max_tokens: int | None,
        temperature: float | None,
        seed: int | None,
        stop: Sequence[str] | None,
        deadline: Deadline | None,
    ) -> ModelReply:
        import httpx

        payload = self._body(
            messages,
            {
                "tools": tools,
                "tool_choice": tool_choice,
                "response_format": response_format,
                "max_tokens": max_tokens,
                "temperature": temperature,
                "seed": seed,
                "stop": stop,
            },
            stream=False,
        )
        client = self._sync_client()
        start = self._clock()
        attempt = 0
        while True:
            timeout = self._timeout(deadline)
            attempt += 1
            self._count(attempt > 1)
            try:
                response = client.post(
                    self.url, content=payload, headers=self._headers, timeout=timeout
                )
            except httpx.TransportError as exc:  # timeouts, refused, reset, ...
                delay = self._failure(attempt, start, deadline, exc=exc)
            else:
                if response.status_code == 200:
                    return self._parse(response.content)
                delay = self._failure(
                    attempt,
                    start,
                    deadline,
                    status=response.status_code,
                    retry_after=response.headers.get("retry-after"),
                    body=response.text,
                    payload=payload,
                )
            self._sleep(delay)

    async def acomplete(self, messages: Sequence[Message], **params: Any) -> ModelReply:
        """:meth:`complete` on the event loop (an ``httpx.AsyncClient``, no thread).

        >>> import asyncio, covekit
        >>> asyncio.iscoroutinefunction(covekit.OpenAIChatModel.acomplete)
        True
        """
        with child_span(
            f"chat {self.model}", self._span_attributes(params.get("max_tokens"))
        ) as span:
            reply = await self._acomplete(messages, params)
            if span is not None:
                _trace_reply(span, reply)
            return reply

    async def _acomplete(self, messages: Sequence[Message], params: dict[str, Any]) -> ModelReply:
        import httpx

        deadline = params.pop("deadline", None)
        params.pop("sample", None)
        payload = self._body(messages, params, stream=False)
        client = await self._async_client()
        start = self._clock()
        attempt = 0
        while True:
            timeout = self._timeout(deadline)
            attempt += 1
            self._count(attempt > 1)
            try:
                response = await client.post(
                    self.url, content=payload, headers=self._headers, timeout=timeout
                )
            except httpx.TransportError as exc:
                delay = self._failure(attempt, start, deadline, exc=exc)
            else:
                if response.status_code == 200:
                    return self._parse(response.content)
                delay = self._failure(
                    attempt,
                    start,
                    deadline,
                    status=response.status_code,
                    retry_after=response.headers.get("retry-after"),
                    body=response.text,
                    payload=payload,
                )
            await self._asleep(delay)

    def stream(self, messages: Sequence[Message], **params: Any) -> Iterator[StreamEvent]:
        """The reply as SSE deltas (``stream: true`` with ``include_usage``); the last
        event carries the whole reply. Retries happen only before the first byte of the
        stream; a stream cut short raises :class:`~covekit.errors.InvalidModelResponse`.

        >>> import covekit
        >>> covekit.OpenAIChatModel("http://h/v1", "m").stream.__name__
        'stream'
        """
        import httpx

        deadline = params.pop("deadline", None)
        params.pop("sample", None)
        payload = self._body(messages, params, stream=True)
        client = self._sync_client()
        headers = {**self._headers, "Accept": "text/event-stream"}
        start = self._clock()
        attempt = 0
        while True:
            timeout = self._timeout(deadline)
            attempt += 1
            self._count(attempt > 1)
            try:
                with client.stream(
                    "POST", self.url, content=payload, headers=headers, timeout=timeout
                ) as response:
                    if response.status_code == 200:
                        decoder, assembler = SSEDecoder(), StreamAssembler(self.url)
                        try:
                            for chunk in response.iter_bytes():
                                for data in decoder.feed(chunk):
                                    delta = assembler.add(data)
                                    if delta:
                                        yield StreamEvent(delta)
                        except httpx.TransportError as exc:
                            raise self._cut(exc) from exc
                        for data in decoder.close():
                            delta = assembler.add(data)
                            if delta:
                                yield StreamEvent(delta)
                        yield StreamEvent("", assembler.finish())
                        return
                    response.read()
                    delay = self._failure(
                        attempt,
                        start,
                        deadline,
                        status=response.status_code,
                        retry_after=response.headers.get("retry-after"),
                        body=response.text,
                        payload=payload,
                    )
            except httpx.TransportError as exc:
                delay = self._failure(attempt, start, deadline, exc=exc)
            self._sleep(delay)

    def _cut(self, exc: Exception) -> ModelServerError:
        import httpx

        cls = (
            ModelServerTimeout if isinstance(exc, httpx.TimeoutException) else InvalidModelResponse
        )
        return cls(f"{self.url} stream broke off: {exc!r} (truncated)", url=self.url)

    async def astream(
        self, messages: Sequence[Message], **params: Any
    ) -> AsyncIterator[StreamEvent]:
        """:meth:`stream` on the event loop.

        >>> import inspect, covekit
        >>> inspect.isasyncgenfunction(covekit.OpenAIChatModel.astream)
        True
        """
        import httpx

        deadline = params.pop("deadline", None)
        params.pop("sample", None)
        payload = self._body(messages, params, stream=True)
        client = await self._async_client()
        headers = {**self._headers, "Accept": "text/event-stream"}
        start = self._clock()
        attempt = 0
        while True:
            timeout = self._timeout(deadline)
            attempt += 1
            self._count(attempt > 1)
            try:
                async with client.stream(
                    "POST", self.url, content=payload, headers=headers, timeout=timeout
                ) as response:
                    if response.status_code == 200:
                        decoder, assembler = SSEDecoder(), StreamAssembler(self.url)
                        try:
                            async for chunk in response.aiter_bytes():
                                for data in decoder.feed(chunk):
                                    delta = assembler.add(data)
                                    if delta:
                                        yield StreamEvent(delta)
                        except httpx.TransportError as exc:
                            raise self._cut(exc) from exc
                        for data in decoder.close():
                            delta = assembler.add(data)
                            if delta:
                                yield StreamEvent(delta)
                        yield StreamEvent("", assembler.finish())
                        return
                    await response.aread()
                    delay = self._failure(
                        attempt,
                        start,
                        deadline,
                        status=response.status_code,
                        retry_after=response.headers.get("retry-after"),
                        body=response.text,
                        payload=payload,
                    )
            except httpx.TransportError as exc:
                delay = self._failure(attempt, start, deadline, exc=exc)
            await self._asleep(delay)


async def _close_with_loop(clients: list[httpx.AsyncClient]) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        for client in clients:
            await client.aclose()


#: The most connections in one async pool shard (see ``OpenAIChatModel._new_async_pool``).
ASYNC_SHARD = 8


#: What a request body holds when its response_format is OpenAI's json_schema form
#: (``_body`` writes compact JSON with the format's ``type`` first).
_JSON_SCHEMA_SENT = b'"response_format":{"type":"json_schema"'

_PARAMS = frozenset(
    {"tools", "tool_choice", "response_format", "max_tokens", "temperature", "seed", "stop"}
)
