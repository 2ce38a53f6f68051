"""Try models in order: :class:`Fallback` moves on when a model fails.

``Fallback([primary, secondary, ...])`` is a :class:`~covekit.ModelBase`: it calls the
first model and, when that raises one of the errors in ``on`` (by default a
:class:`~covekit.errors.ModelServerError`, which covers HTTP errors, no connection,
:class:`~covekit.errors.ModelServerTimeout` and
:class:`~covekit.errors.InvalidModelResponse`, and any other ``TimeoutError``), the next
one, and so on. The reply that succeeds lists the failures before it in
``ModelReply.fallbacks`` (``"<model>: <why>"``); when every model fails,
:class:`~covekit.errors.AllModelsFailed` lists every reason. A
:class:`~covekit.errors.DeadlineExceeded` is never a reason to fall back: the request's
time is gone for every model, so it is raised at once.

How it composes with a contract: ``Fallback`` handles a model that *fails to answer*;
``Contract(fallbacks=[...])`` handles an answer that *fails the contract* (after its
repair and re-ask steps). Give a contract a Fallback as its model, and other models (or
Fallbacks) as its ``fallbacks``, to have both.

>>> import covekit
>>> from covekit.errors import ModelServerError
>>> primary = covekit.ScriptedModel([ModelServerError("HTTP 503")], name="big")
>>> m = covekit.Fallback([primary, covekit.ScriptedModel(["ok"], name="small")])
>>> reply = m([{"role": "user", "content": "hi"}])
>>> reply.text, reply.fallbacks
('ok', ('big: ModelServerError: HTTP 503',))

Thread safety: as safe as the models it holds (it keeps no state of its own).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from covekit.errors import AllModelsFailed, DeadlineExceeded, InvalidInput, ModelServerError
from covekit.execution.model import ModelBase, StreamEvent
from covekit.execution.verdict import Message, ModelReply

__all__ = ["Fallback"]


def _reason(model: ModelBase, exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return (
        f"{model.name}: {type(exc).__name__}: {text}"
        if text
        else f"{model.name}: {type(exc).__name__}"
    )


class Fallback(ModelBase):
    """Models tried in order on errors and timeouts (see the module docs).

    Args:
        models: two or more :class:`~covekit.ModelBase` instances (one is allowed).
        on: the exception classes that move on to the next model.
        name: the name (default ``"fallback(a,b,...)"``).

    >>> import covekit
    >>> m = covekit.Fallback([covekit.ScriptedModel([TimeoutError("slow")], name="a"),
    ...                       covekit.ScriptedModel([TimeoutError("slow")], name="b")])
    >>> try:
    ...     m([{"role": "user", "content": "hi"}])
    ... except covekit.errors.AllModelsFailed as exc:
    ...     print(exc.reasons)
    ('a: TimeoutError: slow', 'b: TimeoutError: slow')
    """

    def __init__(
        self,
        models: Sequence[ModelBase],
        *,
        on: tuple[type[BaseException], ...] = (ModelServerError, TimeoutError),
        name: str | None = None,
    ) -> None:
        models = list(models)
        if not models:
            raise InvalidInput("Fallback needs at least one model")
        for i, model in enumerate(models):
            if not isinstance(model, ModelBase):
                raise InvalidInput(
                    f"Fallback: model {i} is a {type(model).__name__}, not a covekit.ModelBase"
                )
        if not isinstance(on, tuple) or not all(
            isinstance(c, type) and issubclass(c, BaseException) for c in on
        ):
            raise InvalidInput("Fallback: on= must be a tuple of exception classes")
        self.models = tuple(models)
        self.on = on
        self.name = name or "fallback(" + ",".join(m.name for m in models) + ")"

    def identity(self) -> dict[str, Any]:
        """The class, name and every model's identity.

        >>> import covekit
        >>> covekit.Fallback([covekit.ScriptedModel([])]).identity()["models"][0]["class"]
        'ScriptedModel'
        """
        return {**super().identity(), "models": [m.identity() for m in self.models]}

    def _moves_on(self, exc: BaseException) -> bool:
        return isinstance(exc, self.on) and not isinstance(exc, DeadlineExceeded)

    def _done(self, reply: ModelReply, reasons: list[str]) -> ModelReply:
        if not reasons:
            return reply
        return dataclasses.replace(reply, fallbacks=(*reasons, *reply.fallbacks))

    def _fail(self, reasons: list[str], last: BaseException | None) -> AllModelsFailed:
        lines = "; ".join(reasons)
        err = AllModelsFailed(f"all {len(reasons)} models failed: {lines}", reasons=tuple(reasons))
        err.__cause__ = last
        return err

    def complete(self, messages: Sequence[Message], **params: Any) -> ModelReply:
        """The first model's reply that does not fail.

        >>> import covekit
        >>> covekit.Fallback([covekit.ScriptedModel(["a"])])([]).text
        'a'
        """
        reasons: list[str] = []
        last: BaseException | None = None
        for model in self.models:
            try:
                reply = model.complete(messages, **params)
            except Exception as exc:
                if not self._moves_on(exc):
                    raise
                reasons.append(_reason(model, exc))
                last = exc
                continue
            return self._done(reply, reasons)
        raise self._fail(reasons, last)

    async def acomplete(self, messages: Sequence[Message], **params: Any) -> ModelReply:
        """:meth:`complete`, awaiting each model's ``acomplete``.

        >>> import asyncio, covekit
        >>> asyncio.run(covekit.Fallback([covekit.ScriptedModel(["a"])]).acomplete([])).text
        'a'
        """
        reasons: list[str] = []
        last: BaseException | None = None
        for model in self.models:
            try:
                reply = await model.acomplete(messages, **params)
            except Exception as exc:
                if not self._moves_on(exc):
                    raise
                reasons.append(_reason(model, exc))
                last = exc
                continue
            return self._done(reply, reasons)
        raise self._fail(reasons, last)

    def stream(self, messages: Sequence[Message], **params: Any) -> Iterator[StreamEvent]:
        """The first model's stream that does not fail before its first delta; a failure
        after a delta was yielded cannot be undone and is raised.

        >>> import covekit
        >>> [e.delta for e in covekit.Fallback([covekit.ScriptedModel(["a"])]).stream([])]
        ['a', '']
        """
        reasons: list[str] = []
        last: BaseException | None = None
        for model in self.models:
            started = False
            try:
                for event in model.stream(messages, **params):
                    started = True
                    if event.reply is not None:
                        event = StreamEvent(event.delta, self._done(event.reply, reasons))
                    yield event
                return
            except Exception as exc:
                if started or not self._moves_on(exc):
                    raise
                reasons.append(_reason(model, exc))
                last = exc
        raise self._fail(reasons, last)

    async def astream(
        self, messages: Sequence[Message], **params: Any
    ) -> AsyncIterator[StreamEvent]:
        """:meth:`stream`, asynchronous.

        >>> import inspect, covekit
        >>> inspect.isasyncgenfunction(covekit.Fallback.astream)
        True
        """
        reasons: list[str] = []
        last: BaseException | None = None
        for model in self.models:
            started = False
            try:
                async for event in model.astream(messages, **params):
                    started = True
                    if event.reply is not None:
                        event = StreamEvent(event.delta, self._done(event.reply, reasons))
                    yield event
                return
            except Exception as exc:
                if started or not self._moves_on(exc):
                    raise
                reasons.append(_reason(model, exc))
                last = exc
        raise self._fail(reasons, last)
