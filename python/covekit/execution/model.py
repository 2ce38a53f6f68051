"""Models behind one protocol: a model is a callable ``messages -> reply``.

:class:`covekit.Model` (the protocol :meth:`Contract.enforce` calls) is the least a model
must be: ``model(messages, max_tokens=...)`` returning a ``str`` or a
:class:`~covekit.ModelReply`. Every model covekit ships (the OpenAI-compatible client,
:class:`~covekit.Fallback`, the request cache, the extractive answerer, the scripted test
model) derives from :class:`ModelBase`, which adds the full surface:

- ``complete(messages, *, tools=..., response_format=..., max_tokens=..., deadline=...)``
  returning a :class:`~covekit.ModelReply` (text, tool calls, usage, finish reason);
- ``acomplete`` (async), ``stream`` and ``astream`` (:class:`StreamEvent` deltas, the
  last event carrying the whole reply with its usage);
- ``identity()``: what names the model in a cache key (class, model name, server).

A subclass implements ``complete``; the async and streaming forms default to it (a
thread for ``acomplete``, one delta for ``stream``), and a client that speaks a
streaming or async protocol natively overrides them.

>>> import covekit
>>> class Echo(covekit.ModelBase):
...     name = "echo"
...     def complete(self, messages, **params):
...         return covekit.ModelReply(messages[-1]["content"].upper(), model=self.name)
>>> Echo()([{"role": "user", "content": "hi"}]).text
'HI'
>>> [e.delta for e in Echo().stream([{"role": "user", "content": "hi"}])]
['HI']

Thread safety: ``ModelBase`` holds no state; subclasses document their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from covekit.execution.verdict import Message, ModelReply

if TYPE_CHECKING:
    from covekit.decision.deadline import Deadline

__all__ = ["ModelBase", "StreamEvent"]


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One step of a streamed reply: ``delta`` is the text added since the last event;
    the last event of a stream has ``reply`` set (the whole reply, with tool calls, usage
    and finish reason), every earlier one has ``reply=None``.

    >>> StreamEvent("Hel").reply is None
    True
    """

    delta: str
    reply: ModelReply | None = None


class ModelBase:
    """The base of covekit's models (see the module docs). Subclasses set ``name`` and
    implement :meth:`complete`.

    The keyword parameters of every method mean the same thing everywhere:

    - ``tools``: OpenAI-style tool definitions (``{"type": "function", "function":
      {...}}``, what :func:`covekit.tool` produces); ``tool_choice`` as in OpenAI's API;
    - ``response_format``: OpenAI's ``response_format`` (``Contract.for_provider``);
    - ``max_tokens``, ``temperature``, ``seed``, ``stop``: the usual sampling limits;
    - ``deadline``: a :class:`covekit.Deadline`; a client takes its timeouts from it and
      never starts a call past it (:class:`~covekit.errors.DeadlineExceeded`);
    - ``sample``: the repeat index, so that K samples of one request are K cache entries.

    >>> import covekit
    >>> class Fixed(covekit.ModelBase):
    ...     name = "fixed"
    ...     def complete(self, messages, **params):
    ...         return covekit.ModelReply('{"ok": true}', finish_reason="stop")
    >>> covekit.Contract().enforce(Fixed(), [{"role": "user", "content": "?"}]).value
    {'ok': True}
    """

    name: str = "model"

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
        """One reply to ``messages`` (see the class docs for the parameters)."""
        raise NotImplementedError(f"{type(self).__name__} must implement complete()")

    async def acomplete(self, messages: Sequence[Message], **params: Any) -> ModelReply:
        """:meth:`complete`, awaitable (by default on a worker thread)."""
        return await asyncio.to_thread(self.complete, messages, **params)

    def stream(self, messages: Sequence[Message], **params: Any) -> Iterator[StreamEvent]:
        """The reply as :class:`StreamEvent` deltas (by default one delta, the whole
        text, then nothing: the event carries the reply)."""
        reply = self.complete(messages, **params)
        yield StreamEvent(reply.text, reply)

    async def astream(
        self, messages: Sequence[Message], **params: Any
    ) -> AsyncIterator[StreamEvent]:
        """:meth:`stream`, asynchronous (by default the whole reply from :meth:`acomplete`)."""
        reply = await self.acomplete(messages, **params)
        yield StreamEvent(reply.text, reply)

    def identity(self) -> dict[str, Any]:
        """What identifies this model in a request-cache key (the class and ``name``;
        a client adds its server's address)."""
        return {"class": type(self).__name__, "name": self.name}

    def __call__(
        self, messages: Sequence[Message], /, *, max_tokens: int | None = None, **params: Any
    ) -> ModelReply:
        """The :class:`covekit.Model` protocol: ``complete(messages, max_tokens=...)``."""
        return self.complete(messages, max_tokens=max_tokens, **params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
