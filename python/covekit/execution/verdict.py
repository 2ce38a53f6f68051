"""The results of output contracts: violations, verdicts, attempts and outcomes.

>>> from covekit import Violation
>>> v = Violation("schema", "-3 is less than the minimum of 0", "/age", "minimum")
>>> str(v)
'schema /age: -3 is less than the minimum of 0'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "ActionCall",
    "Attempt",
    "Enforced",
    "Escalation",
    "ModelReply",
    "StreamVerdict",
    "ToolCall",
    "Verdict",
    "Violation",
]

Kind = Literal["syntax", "schema", "rule", "action", "policy"]
Severity = Literal["error", "warning"]
Message = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Violation:
    """One way an output breaks its contract.

    ``kind`` is ``"syntax"`` (not JSON, or not repairable), ``"schema"``, ``"action"``,
    ``"rule"`` or ``"policy"`` (a :class:`covekit.Policy` finding: an error when the
    policy blocks the output, a warning when it only flags it); ``path`` a JSON Pointer
    into the output ("" for the whole of it); ``source`` the schema keyword, rule,
    action or policy rule name behind it. Only ``severity
    == "error"`` fails an output.

    >>> v = Violation("rule", "no refund above 500", path="/amount", source="refund_cap")
    >>> str(v), v.severity
    ('rule /amount: no refund above 500', 'error')
    """

    kind: Kind
    message: str
    path: str = ""
    source: str = ""
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.path or "(root)"
        return f"{self.kind} {where}: {self.message}"


@dataclass(frozen=True, slots=True)
class ActionCall:
    """An action the output asks for: its ``name``, ``arguments`` and where it is.

    >>> import covekit
    >>> c = covekit.Contract(actions=["search"])
    >>> c.check({"action": "search", "arguments": {"q": "x"}}).actions
    (ActionCall(name='search', arguments={'q': 'x'}, path=''),)
    """

    name: str
    arguments: Any
    path: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judgement of one output: ``ok`` (no error), the parsed ``value`` (a pydantic
    instance when the contract was given a model class; ``None`` when the text is not
    JSON), the ``violations``, the ``repairs`` made to the text, and the ``actions``
    it calls.

    >>> import covekit
    >>> v = covekit.Contract({"type": "integer"}).check("41")
    >>> v.ok, v.value, v.violations, bool(v)
    (True, 41, (), True)
    """

    ok: bool
    value: Any
    violations: tuple[Violation, ...]
    repairs: tuple[Any, ...] = ()
    actions: tuple[ActionCall, ...] = ()

    def __bool__(self) -> bool:
        return self.ok

    @property
    def errors(self) -> tuple[Violation, ...]:
        """The violations of severity ``"error"``."""
        return tuple(v for v in self.violations if v.severity == "error")


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call a model asked for: the provider's call ``id``, the tool's ``name`` and
    its ``arguments`` as the JSON text the model wrote (not yet parsed or validated: the
    tool runner does both, so that a malformed call is a recorded outcome).

    >>> ToolCall("call_1", "lookup_order", '{"order_id": "A-17"}').name
    'lookup_order'
    """

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ModelReply:
    """What a model callable may return instead of a plain ``str``: the text, with the
    usage and cost it reports (``None`` when unknown). ``cached_prompt_tokens`` is how
    many of the ``prompt_tokens`` were read from the provider's prompt cache (OpenAI's
    ``usage.prompt_tokens_details.cached_tokens``); a budget prices them at the cached
    price.

    >>> import covekit
    >>> reply = covekit.ModelReply('{"a": 1}', prompt_tokens=12, completion_tokens=5, cost=0.0001)
    >>> covekit.Contract().enforce(lambda m: reply, []).completion_tokens
    5
    """

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    cached_prompt_tokens: int | None = None
    #: The tool calls the model asked for (OpenAI's ``message.tool_calls``), in order.
    tool_calls: tuple[ToolCall, ...] = ()
    #: Why the model stopped: ``"stop"``, ``"length"``, ``"tool_calls"``, ... (None: unknown).
    finish_reason: str | None = None
    #: The model that answered, as the server names it (None: unknown).
    model: str | None = None
    #: True when the reply came from covekit's request cache, not from the model.
    cache_hit: bool = False
    #: What happened before this reply: one line per model that was tried and failed
    #: (``"<model>: <why>"``), filled by :class:`covekit.Fallback`.
    fallbacks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call of a model inside :meth:`Contract.enforce`.

    >>> import covekit
    >>> a = covekit.Contract().enforce(lambda m: "[1]", []).attempts[0]
    >>> a.index, a.step, a.text, a.verdict.ok
    (1, 'first', '[1]', True)
    """

    index: int
    step: Literal["first", "reask", "fallback"]
    model: str
    text: str
    verdict: Verdict
    prompt_tokens: int | None
    completion_tokens: int | None
    cost: float | None


@dataclass(frozen=True, slots=True)
class Escalation:
    """What the escalation hook receives: why, the remaining violations, the attempts
    so far and the original messages.

    >>> import covekit
    >>> got = []
    >>> c = covekit.Contract({"type": "integer"}, on_fail=["escalate"], escalate=got.append)
    >>> c.enforce(lambda m: '"x"', []).escalated, got[0].reason, len(got[0].attempts)
    (True, 'violations', 1)
    """

    reason: Literal["violations", "missing_context", "budget"]
    violations: tuple[Violation, ...]
    attempts: tuple[Attempt, ...]
    messages: tuple[Message, ...]


@dataclass(frozen=True, slots=True)
class Enforced:
    """The outcome of :meth:`Contract.enforce`.

    ``ok`` with ``value`` when an attempt passed; otherwise ``refused`` (missing
    context with ``on_missing_context="refuse"``) or ``escalated`` (with the hook's
    return value in ``escalation``). Every model call is in ``attempts``.

    >>> import covekit
    >>> r = covekit.Contract({"type": "integer"}).enforce(lambda m: "7", [])
    >>> r.ok, r.value, r.refused, r.escalated, len(r.attempts)
    (True, 7, False, False, 1)
    """

    ok: bool
    value: Any
    attempts: tuple[Attempt, ...]
    refused: bool = False
    escalated: bool = False
    escalation: Any = None
    reason: str = ""

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens over all attempts (those reported or counted)."""
        return sum(a.prompt_tokens or 0 for a in self.attempts)

    @property
    def completion_tokens(self) -> int:
        """Completion tokens over all attempts (those reported or counted)."""
        return sum(a.completion_tokens or 0 for a in self.attempts)

    @property
    def cost(self) -> float:
        """Cost over all attempts (those known)."""
        return sum(a.cost or 0.0 for a in self.attempts)


@dataclass(frozen=True, slots=True)
class StreamVerdict:
    """The judgement of a streaming output so far: ``status`` (``"partial"``,
    ``"invalid"`` or ``"complete"``), the certain ``violations`` and, when invalid, the
    ``offset`` (a ``str`` index into the text) where that became certain.

    >>> import covekit
    >>> v = covekit.Contract({"type": "array", "maxItems": 1}).stream().feed("[1, 2")
    >>> v.status, [str(x) for x in v.violations], v.offset
    ('invalid', ['schema (root): [1, 2] has more than 1 item'], 5)
    """

    status: Literal["partial", "invalid", "complete"]
    violations: tuple[Violation, ...] = ()
    offset: int | None = None
