"""A model for tests: :class:`ScriptedModel` answers from a script, not from a network.

Two kinds of script:

- **in order**: a list of replies, each a ``str``, a :class:`~covekit.ModelReply`, a
  :class:`~covekit.ToolCall` (a reply that asks for that one tool) or an exception
  (an instance or a class) to raise; the n-th call gets the n-th reply;
- **by matching**: a list of ``(matcher, reply)`` pairs; a call gets the reply of the
  first pair whose matcher accepts the text of the last user message (``match="last"``:
  the last message, whatever its role). A matcher is a ``str`` (a substring), a compiled
  regular expression (``re.search``) or a callable ``text -> bool``. Pairs are not used
  up: a pair answers every call it matches.

Running out of replies, or a call no pair matches, raises
:class:`~covekit.errors.ScriptExhausted` (with the call in its message). Every call is
recorded in :attr:`ScriptedModel.calls` (the messages and the parameters it was given).

>>> import covekit
>>> m = covekit.ScriptedModel(['{"answer": 42}', TimeoutError("slow")])
>>> m([{"role": "user", "content": "?"}]).text
'{"answer": 42}'
>>> try:
...     m([{"role": "user", "content": "again"}])
... except TimeoutError as exc:
...     print(exc)
slow
>>> len(m.calls), m.calls[1].messages[-1]["content"]
(2, 'again')

Thread safety: a ScriptedModel may be called from many threads; each reply goes to
exactly one call and ``calls`` records them in the order they were served.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from covekit.errors import InvalidInput, ScriptExhausted
from covekit.execution.model import ModelBase, StreamEvent
from covekit.execution.verdict import Message, ModelReply, ToolCall

if TYPE_CHECKING:
    from covekit.decision.deadline import Deadline

__all__ = ["ScriptedCall", "ScriptedModel"]

ScriptedReply: TypeAlias = "str | ModelReply | ToolCall | BaseException | type[BaseException]"
Matcher: TypeAlias = "str | re.Pattern[str] | Callable[[str], bool]"


@dataclass(frozen=True, slots=True)
class ScriptedCall:
    """One call a :class:`ScriptedModel` received: the ``messages`` (copied) and the
    keyword ``params`` (``tools``, ``response_format``, ``max_tokens``, ...).

    >>> import covekit
    >>> m = covekit.ScriptedModel(["ok"])
    >>> _ = m.complete([{"role": "user", "content": "hi"}], max_tokens=5)
    >>> m.calls[0].params["max_tokens"], m.calls[0].last_user
    (5, 'hi')
    """

    messages: tuple[dict[str, Any], ...]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def last_user(self) -> str:
        """The text of the last user message ("" when there is none)."""
        return _last_text(self.messages, "last_user")


def _text_of(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # OpenAI content parts: [{"type": "text", "text": ...}]
        parts = []
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "".join(parts)
    return str(content)


def _last_text(messages: Sequence[Mapping[str, Any]], match: str) -> str:
    for message in reversed(messages):
        if match == "last" or message.get("role") == "user":
            return _text_of(message)
    return ""


def _check_reply(reply: object, where: str) -> None:
    ok = isinstance(reply, str | ModelReply | ToolCall | BaseException) or (
        isinstance(reply, type) and issubclass(reply, BaseException)
    )
    if not ok:
        raise InvalidInput(
            f"ScriptedModel: {where} is a {type(reply).__name__}; a reply is a str, a "
            "ModelReply, a ToolCall or an exception (instance or class)"
        )


def _check_matcher(matcher: object, where: str) -> None:
    if not (isinstance(matcher, str | re.Pattern) or callable(matcher)):
        raise InvalidInput(
            f"ScriptedModel: the matcher of {where} is a {type(matcher).__name__}; a matcher "
            "is a str (substring), a compiled regex or a callable text -> bool"
        )


class ScriptedModel(ModelBase):
    """A :class:`~covekit.ModelBase` that answers from a script (see the module docs).

    Args:
        replies: the replies in order, or ``(matcher, reply)`` pairs (not both kinds).
        name: the model's name (in :class:`~covekit.ModelReply` ``model`` and in
            :class:`~covekit.Attempt` records).
        match: what a matcher sees: ``"last_user"`` (the last user message, the default)
            or ``"last"`` (the last message of any role, e.g. a tool result).

    A ``str`` reply becomes ``ModelReply(text, finish_reason="stop", model=name)``; a
    :class:`~covekit.ToolCall` becomes a reply with that call and ``finish_reason=
    "tool_calls"``; a :class:`~covekit.ModelReply` is returned as it is.

    >>> import re, covekit
    >>> m = covekit.ScriptedModel([
    ...     ("refund", covekit.ToolCall("c1", "refund", '{"order": "A-1"}')),
    ...     (re.compile(r"^hi\\b"), "hello"),
    ...     (lambda text: True, "I don't know"),
    ... ])
    >>> m([{"role": "user", "content": "hi there"}]).text
    'hello'
    >>> m([{"role": "user", "content": "a refund please"}]).tool_calls[0].name
    'refund'
    >>> m.remaining is None  # matching scripts do not run out
    True
    """

    name: str

    def __init__(
        self,
        replies: Sequence[ScriptedReply] | Sequence[tuple[Matcher, ScriptedReply]],
        *,
        name: str = "scripted",
        match: Literal["last_user", "last"] = "last_user",
    ) -> None:
        if isinstance(replies, str | bytes) or not isinstance(replies, Sequence):
            raise InvalidInput(
                "ScriptedModel: replies must be a list of replies or of (matcher, reply) pairs"
            )
        if match not in ("last_user", "last"):
            raise InvalidInput(f"ScriptedModel: match must be 'last_user' or 'last', got {match!r}")
        items = list(replies)
        pairs = [isinstance(item, tuple) for item in items]
        if any(pairs) and not all(pairs):
            raise InvalidInput(
                "ScriptedModel: replies mix (matcher, reply) pairs and plain replies; use one kind"
            )
        self.name = name
        self._match = match
        self._lock = threading.Lock()
        self._ordered: list[ScriptedReply] | None = None
        self._rules: list[tuple[Matcher, ScriptedReply]] | None = None
        if items and all(pairs):
            rules: list[tuple[Matcher, ScriptedReply]] = []
            for i, item in enumerate(items):
                if len(item) != 2:  # type: ignore[arg-type]
                    raise InvalidInput(
                        f"ScriptedModel: pair {i} has {len(item)} items, "  # type: ignore[arg-type]
                        "not (matcher, reply)"
                    )
                matcher, reply = item  # type: ignore[misc, str-unpack]
                _check_matcher(matcher, f"pair {i}")
                _check_reply(reply, f"the reply of pair {i}")
                rules.append((matcher, reply))
            self._rules = rules
        else:
            for i, item in enumerate(items):
                _check_reply(item, f"reply {i}")
            self._ordered = items  # type: ignore[assignment]
        self._next = 0
        self._calls: list[ScriptedCall] = []

    @property
    def calls(self) -> list[ScriptedCall]:
        """The calls received so far, in order (a copy)."""
        with self._lock:
            return list(self._calls)

    @property
    def remaining(self) -> int | None:
        """How many in-order replies are left (None for a matching script)."""
        with self._lock:
            if self._ordered is None:
                return None
            return len(self._ordered) - self._next

    def identity(self) -> dict[str, Any]:
        """The class and ``name`` (see :meth:`ModelBase.identity`).

        >>> import covekit
        >>> covekit.ScriptedModel([], name="t").identity()
        {'class': 'ScriptedModel', 'name': 't'}
        """
        return super().identity()

    def _pick(self, messages: Sequence[Message], params: dict[str, Any]) -> ScriptedReply:
        copied = tuple(dict(m) for m in messages)
        with self._lock:
            self._calls.append(ScriptedCall(copied, params))
            number = len(self._calls)
            if self._ordered is not None:
                if self._next >= len(self._ordered):
                    raise ScriptExhausted(
                        f"ScriptedModel {self.name!r} has no reply left for call {number} "
                        f"(it was given {len(self._ordered)}); last user message: "
                        f"{_last_text(messages, 'last_user')[:200]!r}"
                    )
                reply = self._ordered[self._next]
                self._next += 1
                return reply
            text = _last_text(messages, self._match)
            assert self._rules is not None
            for matcher, reply in self._rules:
                if isinstance(matcher, str):
                    hit = matcher in text
                elif isinstance(matcher, re.Pattern):
                    hit = matcher.search(text) is not None
                else:
                    hit = bool(matcher(text))
                if hit:
                    return reply
            what = "last user message" if self._match == "last_user" else "last message"
            raise ScriptExhausted(
                f"ScriptedModel {self.name!r}: no pair matches call {number}; "
                f"{what}: {text[:200]!r}"
            )

    def _reply(self, chosen: ScriptedReply) -> ModelReply:
        if isinstance(chosen, BaseException):
            raise chosen
        if isinstance(chosen, type):
            raise chosen()
        if isinstance(chosen, ModelReply):
            return chosen
        if isinstance(chosen, ToolCall):
            return ModelReply("", tool_calls=(chosen,), finish_reason="tool_calls", model=self.name)
        return ModelReply(chosen, finish_reason="stop", model=self.name)

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
        """The next scripted reply (or the matching one); raises a scripted exception.

        >>> import covekit
        >>> covekit.ScriptedModel(["a"]).complete([{"role": "user", "content": "x"}]).text
        'a'
        """
        params: dict[str, Any] = {
            "tools": tools,
            "tool_choice": tool_choice,
            "response_format": response_format,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "seed": seed,
            "stop": stop,
            "deadline": deadline,
            "sample": sample,
        }
        return self._reply(self._pick(messages, params))

    def stream(self, messages: Sequence[Message], **params: Any) -> Iterator[StreamEvent]:
        """The reply in word-sized deltas (whitespace kept), the last event carrying it.

        >>> import covekit
        >>> m = covekit.ScriptedModel(["one two"])
        >>> [e.delta for e in m.stream([{"role": "user", "content": "?"}])]
        ['one', ' two', '']
        """
        reply = self.complete(messages, **params)
        for piece in re.findall(r"\s*\S+", reply.text):
            yield StreamEvent(piece)
        tail = reply.text[len(reply.text.rstrip()) :] if reply.text.strip() else reply.text
        yield StreamEvent(tail, reply)
