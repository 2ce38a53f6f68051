"""Output contracts: what a model's output must look like, and what happens when it does not.

A :class:`Contract` holds the output's JSON Schema (or a pydantic model class), business
rules, the actions the output may call, and the policy for failures. ``check`` judges one
output; ``enforce`` runs a model until an output passes, within an attempt, token and
cost budget, repairing, re-asking, falling back or escalating as the policy says.

>>> import covekit
>>> contract = covekit.Contract(
...     output={"type": "object", "properties": {"age": {"type": "integer", "minimum": 0}},
...             "required": ["age"]},
...     rules=[lambda v: "too old" if v["age"] > 130 else None],
... )
>>> contract.check('{"age": 31,}').value      # a lossless repair: the trailing comma
{'age': 31}
>>> [v.message for v in contract.check('{"age": 200}').violations]
['too old']
>>> replies = iter(['{"age": -1}', '{"age": 7}'])
>>> result = contract.enforce(lambda messages: next(replies), [{"role": "user", "content": "Age?"}])
>>> result.value, [a.step for a in result.attempts]
({'age': 7}, ['first', 'reask'])

Thread safety: a Contract is immutable after construction; ``check`` and ``enforce`` may
run from many threads at once (the model callables must be thread-safe themselves).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from covekit.decision.budget import Budget
from covekit.errors import ContractError, InvalidInput
from covekit.execution.providers import strict_schema
from covekit.execution.verdict import (
    ActionCall,
    Attempt,
    Enforced,
    Escalation,
    Kind,
    Message,
    ModelReply,
    Severity,
    StreamVerdict,
    Verdict,
    Violation,
)
from covekit.observe.trace import child_span

if TYPE_CHECKING:
    from covekit.decision.policy import Policy

__all__ = ["Action", "Budget", "Contract", "ContractStream", "Model", "Rule"]

Step = Literal["repair", "reask", "fallback", "escalate", "raise"]

_KINDS: tuple[Kind, ...] = (
    "syntax",
    "schema",
    "action",
    "rule",
    "policy",
)  # the order a failure is handled in
_STEPS = ("repair", "reask", "fallback", "escalate", "raise")
_MAX_LISTED = 10  # violations listed in a re-ask message
_MAX_QUOTED = 2000  # characters of the failed output quoted back in a re-ask


def _contract_error(why: str, attempts: Sequence[Attempt]) -> ContractError:
    """A ContractError whose message lists the errors left on each attempt."""
    lines = [why]
    for a in attempts:
        errs = a.verdict.errors
        shown = "; ".join(str(v) for v in errs[:_MAX_LISTED])
        more = f" (+{len(errs) - _MAX_LISTED} more)" if len(errs) > _MAX_LISTED else ""
        lines.append(f"  attempt {a.index} ({a.step}, {a.model}): {shown}{more}")
    return ContractError("\n".join(lines), tuple(attempts))


# ----------------------------------------------------------------------------- parts
@dataclass(frozen=True, slots=True)
class Rule:
    """A business rule: ``check(value)`` returns nothing (passes), a message, a
    :class:`Violation`, or an iterable of them. Messages become violations of kind
    ``"rule"`` with this rule's ``name`` and ``severity``.

    >>> cap = Rule("refund_cap", lambda v: "refund above 500" if v["amount"] > 500 else None)
    >>> [str(v) for v in cap.run({"amount": 900})]
    ['rule (root): refund above 500']
    """

    name: str
    check: Callable[[Any], Any]
    severity: Severity = "error"
    #: The rule can judge a partial value (the completed parts of a streaming output):
    #: :meth:`Contract.stream` then runs it after each chunk, and its violations are
    #: certain. Other rules wait for the end.
    partial: bool = False

    def run(self, value: Any) -> list[Violation]:
        """The violations of ``value`` (exceptions from ``check`` propagate)."""
        got = self.check(value)
        if got is None or got is True or got == []:
            return []
        if isinstance(got, str | Violation):
            got = [got]
        out = []
        for item in got:
            if isinstance(item, Violation):
                out.append(item)
            elif isinstance(item, str):
                out.append(Violation("rule", item, source=self.name, severity=self.severity))
            else:
                raise InvalidInput(
                    f"rule {self.name!r} returned {type(item).__name__}; return None, a message "
                    "(str), a Violation, or a list of them"
                )
        return out


@dataclass(frozen=True, slots=True)
class Action:
    """An action (tool) the output may call, with the JSON Schema (or pydantic model
    class) of its arguments; ``None`` accepts any arguments.

    >>> import covekit
    >>> c = covekit.Contract(actions=[covekit.Action("refund", {"required": ["amount"]})])
    >>> [v.message for v in c.check({"action": "refund", "arguments": {}}).violations]
    ['refund: "amount" is a required property']
    """

    name: str
    parameters: Any = None
    description: str = ""


class Model(Protocol):
    """A model: ``messages -> str`` (or :class:`ModelReply`), optionally accepting a
    ``max_tokens`` keyword that caps its completion. A plain function is a model; so is
    every :class:`covekit.ModelBase` (the clients, the fallback chain, the cache, the
    extractive answerer), which adds ``complete``, ``acomplete``, ``stream`` and tools.

    >>> import covekit
    >>> def shout(messages, max_tokens=None):
    ...     return messages[-1]["content"].upper()
    >>> covekit.Contract().enforce(shout, [{"role": "user", "content": '"ok"'}]).value
    'OK'
    """

    def __call__(self, messages: list[Message], /) -> str | ModelReply: ...


# ----------------------------------------------------------------------------- contract
class Contract:
    """What a model's output must satisfy, and what to do when it does not.

    Args:
        output: the output's JSON Schema (dict, bool or JSON text), a pydantic model
            class, or ``None`` (any JSON).
        rules: business rules, as :class:`Rule` or plain callables (named after the
            callable, severity ``"error"``).
        actions: the actions the output may call (:class:`Action`, or a name). An
            output that calls anything else, or with arguments outside the action's
            schema, is a violation of kind ``"action"``. Calls are found as
            ``{"action": name, "arguments": {...}}`` at the root, a list of those under
            ``"actions"``, or OpenAI's ``{"tool_calls": [{"function": {"name", "arguments"}}]}``.
        on_missing_context: ``"refuse"`` or ``"escalate"`` when :meth:`enforce` is given
            an empty ``context``: the model is not called.
        on_fail: the steps taken after a failed output, in order, one attempt each:
            ``"repair"`` (applies to every output's text: lossless fixes only unless
            ``allow_lossy_repair``), ``"reask"`` (the same model again, with a compact
            summary of the errors), ``"fallback"`` (the next model of ``fallbacks``),
            ``"escalate"`` (call ``escalate`` and stop), ``"raise"`` (raise
            :class:`ContractError`). A list applies to every kind of violation; a dict
            maps a kind (``"syntax"``, ``"schema"``, ``"action"``, ``"rule"``,
            ``"policy"``) to its own list (kinds left out use ``"raise"``). When the
            steps run out, :meth:`enforce` raises.
        max_attempts: model calls at most, over all steps.
        budget: token and cost limits over all attempts (:class:`Budget`).
        fallbacks: models for the ``"fallback"`` step, in order.
        escalate: the human-review hook for ``"escalate"`` (it receives an
            :class:`Escalation`; its return value lands in ``Enforced.escalation``).
        allow_lossy_repair: let ``"repair"`` close truncated output or drop extra values.
        registry: JSON Schemas by URI for remote ``$ref`` (no network is used).
        format_assertion: check ``format`` keywords instead of treating them as notes.
        policy: a :class:`covekit.Policy` whose ``check_output`` runs on every output
            that parses (on the parsed value: each string with its JSON Pointer): a
            finding whose action is ``"block"`` or ``"quarantine"`` is a violation of
            kind ``"policy"`` (an error, handled by ``on_fail`` like the others); a
            ``"flag"`` finding is a ``"warning"`` violation that does not fail the output.
        tokenizer: counts tokens when a budget needs them and the model reports none
            (a :class:`covekit.Tokenizer` or an encoding name; default: the tokenizer of
            the budget's ``model`` when covekit knows it, else ``o200k_base``).

    >>> import covekit
    >>> c = covekit.Contract({"type": "object", "required": ["answer"]}, max_attempts=2)
    >>> c.check('{"answer": 42}').ok, c.check("{}").errors[0].source
    (True, 'required')
    """

    def __init__(
        self,
        output: Any = None,
        *,
        rules: Iterable[Rule | Callable[[Any], Any]] = (),
        actions: Iterable[Action | str] = (),
        on_missing_context: Literal["refuse", "escalate"] = "refuse",
        on_fail: Sequence[Step] | Mapping[str, Sequence[Step]] = (
            "repair",
            "reask",
            "reask",
            "raise",
        ),
        max_attempts: int = 3,
        budget: Budget | None = None,
        fallbacks: Sequence[Model | Callable[..., Any]] = (),
        escalate: Callable[[Escalation], Any] | None = None,
        allow_lossy_repair: bool = False,
        registry: Mapping[str, Any] | None = None,
        format_assertion: bool = False,
        policy: Policy | None = None,
        tokenizer: Any = None,
    ) -> None:
        from covekit.decision.policy import Policy as _Policy
        from covekit.execution.schema import Schema

        if policy is not None and not isinstance(policy, _Policy):
            raise InvalidInput(f"policy must be a covekit.Policy, not {type(policy).__name__}")
        self.policy = policy

        self._model_class: Any = None
        schema_doc: Any = output
        if isinstance(output, type) and hasattr(output, "model_json_schema"):
            self._model_class = output
            schema_doc = output.model_json_schema()
        self.output_schema: Any = schema_doc
        self._schema = (
            None
            if schema_doc is None
            else Schema(schema_doc, registry=registry, format_assertion=format_assertion)
        )
        self.rules: tuple[Rule, ...] = tuple(
            r if isinstance(r, Rule) else Rule(getattr(r, "__name__", "rule"), r) for r in rules
        )
        for r in self.rules:
            if not callable(r.check):
                raise InvalidInput(f"rule {r.name!r} is not callable")
        acts = [a if isinstance(a, Action) else Action(str(a)) for a in actions]
        self.actions: dict[str, Action] = {}
        self._action_schemas: dict[str, Any] = {}
        for a in acts:
            if a.name in self.actions:
                raise InvalidInput(f"action {a.name!r} is declared twice")
            self.actions[a.name] = a
            params = a.parameters
            if isinstance(params, type) and hasattr(params, "model_json_schema"):
                params = params.model_json_schema()
            if params is not None:
                self._action_schemas[a.name] = Schema(params, registry=registry)
        if on_missing_context not in ("refuse", "escalate"):
            raise InvalidInput(
                f"on_missing_context must be 'refuse' or 'escalate', got {on_missing_context!r}"
            )
        self.on_missing_context = on_missing_context
        self.on_fail: dict[Kind, tuple[Step, ...]] = _policy(on_fail)
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise InvalidInput(f"max_attempts must be an int >= 1, got {max_attempts!r}")
        self.max_attempts = max_attempts
        self.budget = budget or Budget()
        self.fallbacks = tuple(fallbacks)
        for m in self.fallbacks:
            if not callable(m):
                raise InvalidInput("each fallback must be a callable model (messages -> text)")
        self.escalate = escalate
        steps = {s for seq in self.on_fail.values() for s in seq}
        if "escalate" in steps or on_missing_context == "escalate":
            if escalate is None:
                raise InvalidInput(
                    "the policy escalates but no escalate hook was given: pass "
                    "escalate=callable(Escalation)"
                )
        if "fallback" in steps and not self.fallbacks:
            raise InvalidInput(
                "the policy falls back but no fallbacks were given: pass fallbacks=[model]"
            )
        self.allow_lossy_repair = allow_lossy_repair
        self._repair = any("repair" in seq for seq in self.on_fail.values())
        self._tokenizer_arg = tokenizer
        self._tokenizer: Any = None
        self._format: Any = None

    def __repr__(self) -> str:
        out = (
            "any JSON"
            if self.output_schema is None
            else (self._model_class.__name__ if self._model_class else "a JSON Schema")
        )
        return (
            f"<covekit.Contract output={out} rules={len(self.rules)} "
            f"actions={sorted(self.actions)} max_attempts={self.max_attempts}>"
        )

    # --------------------------------------------------------------------- check
    def check(self, output: Any) -> Verdict:
        """Judges one output: model text (``str``/``bytes``, repaired when the policy
        repairs) or a value already parsed (``dict``, ``list``, ... or a pydantic
        instance).

        >>> import covekit
        >>> c = covekit.Contract({"type": "object", "required": ["answer"]})
        >>> v = c.check("The answer: {'answer': 'yes'}")
        >>> v.ok, v.value, [r.kind for r in v.repairs][:2]
        (True, {'answer': 'yes'}, ['extracted_from_prose', 'single_quotes'])
        >>> c.check('{"answer": "yes"').ok   # truncated: closing it is not lossless
        False
        """
        repairs: tuple[Any, ...] = ()
        if isinstance(output, str | bytes | bytearray):
            value, repairs, syntax = self._parse(
                bytes(output) if isinstance(output, bytearray) else output
            )
            if syntax:
                return Verdict(False, None, tuple(syntax), repairs)
        elif self._model_class is not None and isinstance(output, self._model_class):
            value = output.model_dump(mode="json")
        else:
            value = output
        violations: list[Violation] = []
        if self._schema is not None:
            result = self._schema.validate(value, all_errors=True)
            violations += [
                Violation("schema", e.message, e.instance_path, e.keyword) for e in result.errors
            ]
        calls = _find_calls(value)
        if self.actions or calls:
            violations += self._check_actions(calls)
        final: Any = value
        if self._model_class is not None and not violations:
            final, extra = self._to_model(value)
            violations += extra
        if not any(v.severity == "error" for v in violations if v.kind != "rule"):
            for rule in self.rules:
                violations += rule.run(final)
        if self.policy is not None:
            violations += _policy_violations(self.policy.check_output(value))
        ok = not any(v.severity == "error" for v in violations)
        return Verdict(
            ok,
            final if ok or final is not None else value,
            tuple(violations),
            repairs,
            tuple(calls),
        )

    def _parse(self, text: str | bytes) -> tuple[Any, tuple[Any, ...], list[Violation]]:
        if self._repair:
            from covekit.errors import RepairError
            from covekit.execution.repair import repair_json

            try:
                r = repair_json(text, strict=not self.allow_lossy_repair)
            except RepairError as exc:
                return (
                    None,
                    (),
                    [Violation("syntax", msg, source=kind) for kind, _s, _e, msg in exc.problems]
                    or [Violation("syntax", str(exc))],
                )
            return r.value, tuple(r.repairs), []
        try:
            return json.loads(text), (), []
        except (ValueError, UnicodeDecodeError) as exc:
            return None, (), [Violation("syntax", f"the output is not JSON: {exc}")]

    def _to_model(self, value: Any) -> tuple[Any, list[Violation]]:
        try:
            return self._model_class.model_validate(value), []
        except Exception as exc:  # pydantic.ValidationError, without importing pydantic
            errors = getattr(exc, "errors", None)
            if not callable(errors):
                raise
            out = []
            for e in errors():
                path = "".join(
                    "/" + str(p).replace("~", "~0").replace("/", "~1") for p in e.get("loc", ())
                )
                out.append(
                    Violation("schema", str(e.get("msg", "invalid")), path, str(e.get("type", "")))
                )
            return None, out

    def _check_actions(self, calls: list[ActionCall]) -> list[Violation]:
        out = []
        for call in calls:
            if call.name not in self.actions:
                allowed = ", ".join(sorted(self.actions)) or "none"
                out.append(
                    Violation(
                        "action",
                        f"calls {call.name!r}, which is not an allowed action (allowed: {allowed})",
                        call.path,
                        call.name,
                    )
                )
                continue
            schema = self._action_schemas.get(call.name)
            if schema is None:
                continue
            args = call.arguments
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except ValueError:
                    out.append(
                        Violation(
                            "action",
                            "its arguments are not JSON",
                            call.path + "/arguments",
                            call.name,
                        )
                    )
                    continue
            for e in schema.validate(args, all_errors=True).errors:
                out.append(
                    Violation(
                        "action",
                        f"{call.name}: {e.message}",
                        call.path + "/arguments" + e.instance_path,
                        call.name,
                    )
                )
        return out

    # --------------------------------------------------------------------- enforce
    def enforce(
        self,
        model: Model | Callable[..., Any],
        messages: Sequence[Message],
        *,
        context: Sequence[Any] | None = None,
    ) -> Enforced:
        """Calls ``model`` until an output satisfies the contract, following ``on_fail``.

        ``messages`` are chat messages (``{"role", "content"}``). With ``context`` given
        (the retrieved evidence) and empty, the model is not called: the result is a
        refusal or an escalation (``on_missing_context``). Each attempt, with its tokens
        and cost where known, is in the result; no attempt starts beyond the attempt,
        token or cost limits, and each completion is capped with ``max_tokens`` at the
        room left (so a token or cost limit needs a model that accepts ``max_tokens``;
        a server that overruns its cap, as llama-cpp-python's may by up to 3 tokens on
        multibyte text, is charged what it reports and the next cap is smaller).

        Traced (when a tracer is active): a ``contract.enforce`` span, one child per
        attempt named after its step (``contract.first``, ``contract.reask``,
        ``contract.fallback``) and, in each, a ``validate`` span with the verdict.

        Raises:
            ContractError: the policy said ``raise``, or the attempts, steps or budget
                ran out before an output passed.
        """
        with child_span("contract.enforce") as span:
            result = self._enforce(model, messages, context)
            if span is not None:
                span.set("covekit.contract.ok", result.ok)
                span.set("covekit.contract.attempts", len(result.attempts))
                if result.refused or result.escalated:
                    span.set("covekit.contract.outcome",
                             "refused" if result.refused else "escalated")  # fmt: skip
                    span.set("covekit.contract.reason", result.reason)
            return result

    def _enforce(
        self,
        model: Model | Callable[..., Any],
        messages: Sequence[Message],
        context: Sequence[Any] | None,
    ) -> Enforced:
        if not callable(model):
            raise InvalidInput("model must be callable: messages -> text")
        original = tuple(dict(m) for m in messages)
        if context is not None and len(context) == 0:
            if self.on_missing_context == "refuse":
                return Enforced(False, None, (), refused=True, reason="missing_context")
            hook = self._escalate(Escalation("missing_context", (), (), original))
            return Enforced(
                False, None, (), escalated=True, escalation=hook, reason="missing_context"
            )
        models = [model, *self.fallbacks]
        capped = self._needs_cap()
        for m in models:
            if capped and not _accepts_max_tokens(m):
                raise InvalidInput(
                    "a token or cost budget needs models that accept max_tokens=..., and "
                    f"{_name(m)} does not; add a max_tokens keyword argument to it"
                )
        attempts: list[Attempt] = []
        cursor: dict[Kind, int] = dict.fromkeys(_KINDS, 0)
        current, next_fallback = 0, 1
        convo: list[Message] = [dict(m) for m in original]
        step: Literal["first", "reask", "fallback"] = "first"
        while True:
            if len(attempts) >= self.max_attempts:
                raise _contract_error(
                    f"no output satisfied the contract in {self.max_attempts} attempts", attempts
                )
            cap = self._completion_cap(convo, attempts)
            if cap is not None and cap <= 0:
                raise _contract_error("the budget has no room for another attempt", attempts)
            attempt = self._call(models[current], convo, cap, step, len(attempts) + 1)
            attempts.append(attempt)
            if attempt.verdict.ok:
                return Enforced(True, attempt.verdict.value, tuple(attempts))
            kind = next(k for k in _KINDS if any(v.kind == k for v in attempt.verdict.errors))
            steps = [s for s in self.on_fail[kind] if s != "repair"]
            if cursor[kind] >= len(steps):
                raise _contract_error(f"the on_fail steps for {kind} violations ran out", attempts)
            action = steps[cursor[kind]]
            cursor[kind] += 1
            if action == "raise":
                raise _contract_error(
                    f"the output broke the contract ({kind}) and the policy says raise", attempts
                )
            if action == "escalate":
                hook = self._escalate(
                    Escalation("violations", attempt.verdict.errors, tuple(attempts), original)
                )
                return Enforced(
                    False, None, tuple(attempts), escalated=True, escalation=hook, reason=kind
                )
            if action == "fallback":
                if next_fallback >= len(models):
                    raise _contract_error("no fallback model is left", attempts)
                current, next_fallback = next_fallback, next_fallback + 1
                convo, step = [dict(m) for m in original], "fallback"
            else:  # reask: the original messages, the last output and a compact summary
                convo = [dict(m) for m in original] + _reask_messages(attempt)
                step = "reask"

    def _escalate(self, e: Escalation) -> Any:
        assert self.escalate is not None  # checked in __init__
        return self.escalate(e)

    def _needs_cap(self) -> bool:
        b = self.budget
        return (
            b.max_tokens is not None
            or b.max_cost is not None
            or b.max_completion_tokens is not None
        )

    def _counting(self) -> tuple[Any, Any]:
        """The tokenizer and chat format that count prompts, resolved once: the ones
        given, else the budget's model's, else o200k_base and OpenAI's framing."""
        if self._tokenizer is None:
            from covekit.data.tokenize import Tokenizer, get_tokenizer, tokenizer_for_model
            from covekit.decision.chat_format import ChatFormat, chat_format_for_model
            from covekit.errors import UnknownModel

            model = self.budget.model.split(":", 1)[-1] if self.budget.model else None
            t = self._tokenizer_arg
            if isinstance(t, Tokenizer):
                tok = t
            elif t or not model:
                tok = get_tokenizer(t or "o200k_base")
            else:
                try:
                    tok = tokenizer_for_model(model)
                except UnknownModel:
                    tok = get_tokenizer("o200k_base")
            fmt = ChatFormat()
            if model:
                try:
                    fmt = chat_format_for_model(model)
                except UnknownModel:
                    pass
            self._format = fmt
            self._tokenizer = tok  # set last: a reader that sees it sees _format too
        return self._tokenizer, self._format

    def _count(self, text: str) -> int:
        tok, _ = self._counting()
        return int(tok.count(text, disallowed_special=()))

    def _prompt_tokens(self, convo: Sequence[Message]) -> int:
        """The prompt as a chat model counts it (OpenAI's framing: every message's
        overhead, names, the reply priming), for models that report no usage."""
        tok, fmt = self._counting()
        return int(fmt.count(list(convo), tok))

    def _completion_cap(self, convo: Sequence[Message], attempts: Sequence[Attempt]) -> int | None:
        """The most completion tokens the next attempt may use; None: no limit."""
        b = self.budget
        if b.max_prompt_tokens is None and not self._needs_cap():
            return None
        prompt = self._prompt_tokens(convo)
        if b.max_prompt_tokens is not None and prompt > b.max_prompt_tokens:
            raise _contract_error(
                f"the prompt has {prompt} tokens, above the budget's max_prompt_tokens "
                f"({b.max_prompt_tokens})",
                attempts,
            )
        if not self._needs_cap():
            return None
        caps = []
        if b.max_completion_tokens is not None:
            caps.append(b.max_completion_tokens)
        if b.max_tokens is not None:
            used = sum((a.prompt_tokens or 0) + (a.completion_tokens or 0) for a in attempts)
            caps.append(int(b.max_tokens - used - prompt))
        if b.max_cost is not None:
            # the prompt priced as uncached: what is cached is known only after the call
            prompt_rate, _, completion_rate = b.rates(prompt)
            spent = sum(a.cost or 0.0 for a in attempts)
            room = b.max_cost - spent - prompt * prompt_rate
            caps.append(
                int(room / completion_rate)
                if completion_rate > 0
                else (1 << 30 if room >= 0 else -1)
            )
        return min(caps)

    def _call(
        self,
        model: Callable[..., Any],
        convo: list[Message],
        cap: int | None,
        step: Literal["first", "reask", "fallback"],
        index: int,
    ) -> Attempt:
        with child_span(f"contract.{step}") as span:
            attempt = self._attempt(model, convo, cap, step, index)
            if span is not None:
                span.set("covekit.contract.step", step)
                span.set("covekit.contract.attempt", index)
                span.set("covekit.contract.model", attempt.model)
                if attempt.prompt_tokens is not None:
                    span.set("gen_ai.usage.input_tokens", attempt.prompt_tokens)
                if attempt.completion_tokens is not None:
                    span.set("gen_ai.usage.output_tokens", attempt.completion_tokens)
                if attempt.cost is not None:
                    span.set("covekit.cost_usd", attempt.cost)
            return attempt

    def _attempt(
        self,
        model: Callable[..., Any],
        convo: list[Message],
        cap: int | None,
        step: Literal["first", "reask", "fallback"],
        index: int,
    ) -> Attempt:
        raw = model(list(convo), max_tokens=cap) if cap is not None else model(list(convo))
        reply = _as_reply(raw)
        prompt, completion, cost = reply.prompt_tokens, reply.completion_tokens, reply.cost
        if self._needs_cap():
            cached = reply.cached_prompt_tokens or 0
            if prompt is None:
                prompt = self._prompt_tokens(convo)
                cached = min(cached, prompt)  # counted here, reported cached: trust the count
            if completion is None:
                completion = self._count(reply.text)
            b = self.budget
            if cost is None and b.can_price():
                cost = b.cost(prompt, completion, cached)
        with child_span("validate") as span:
            verdict = self.check(reply.text)
            if span is not None:
                span.set("covekit.contract.ok", verdict.ok)
                errs = [f"{v.kind} {v.path or '(root)'}: {v.source}" for v in verdict.errors]
                span.set("covekit.contract.violations", errs[:10])
                span.set("covekit.contract.repairs", [str(r.kind) for r in verdict.repairs])
        return Attempt(index, step, _name(model), reply.text, verdict, prompt, completion, cost)

    # --------------------------------------------------------------------- streaming
    def stream(self) -> ContractStream:
        """Judges an output while it streams: feed it chunks; each answer says valid
        prefix, already invalid (with the violations and where) or complete. The schema
        and the allowed actions judge partial output; rules only when they say
        ``partial=True``; the rest waits for :meth:`ContractStream.end`, which returns
        the full :meth:`check` of the text.

        >>> import covekit
        >>> c = covekit.Contract({"type": "object", "properties": {"answer": {"type": "string"}},
        ...                       "additionalProperties": False}, actions=["search"])
        >>> s = c.stream()
        >>> s.feed('{"answer": "Paris is').status
        'partial'
        >>> state = s.feed(' the capital", "action": "delete_all"')
        >>> state.status, sorted({v.kind for v in state.violations})
        ('invalid', ['action', 'schema'])
        """
        return ContractStream(self)

    # --------------------------------------------------------------------- providers
    def for_provider(self, provider: Literal["openai-strict"]) -> dict[str, Any]:
        """The output schema downgraded to what a provider's strict structured-output
        mode accepts; the full contract is still checked locally by :meth:`check`.

        ``"openai-strict"``: every object gets ``additionalProperties: false`` and lists
        all its properties as required (optional ones become nullable); keywords that
        mode rejects (``pattern``, ``format``, ``minimum``, ``maxLength``, ``minItems``,
        ...) are dropped; ``oneOf`` becomes ``anyOf``; ``allOf`` of one schema is inlined.

        >>> import covekit
        >>> c = covekit.Contract({"type": "object", "properties": {
        ...     "email": {"type": "string", "pattern": "@"},
        ...     "n": {"type": "integer", "minimum": 1}}, "required": ["email"]})
        >>> strict = c.for_provider("openai-strict")
        >>> strict["properties"], strict["required"], strict["additionalProperties"]
        ({'email': {'type': 'string'}, 'n': {'type': ['integer', 'null']}}, ['email', 'n'], False)
        """
        if self.output_schema is None:
            raise InvalidInput("this contract has no output schema to downgrade")
        schema = self.output_schema
        if isinstance(schema, str | bytes):
            schema = json.loads(schema)
        return strict_schema(schema, provider)


# ----------------------------------------------------------------------------- streaming
class ContractStream:
    """A :class:`Contract` applied to an output as it streams (see :meth:`Contract.stream`).

    >>> import covekit
    >>> s = covekit.Contract({"type": "object"}, actions=["search"]).stream()
    >>> s.feed('{"action": "se').status, s.feed('arch"}').status, s.end().ok
    ('partial', 'complete', True)
    """

    def __init__(self, contract: Contract) -> None:
        from covekit.execution.stream import SchemaStream

        self._contract = contract
        self._inner = SchemaStream(contract._schema)
        self._verdict = StreamVerdict("partial")

    @property
    def value(self) -> Any:
        """The value parsed so far (for progressive display)."""
        return self._inner.value

    @property
    def text(self) -> str:
        """All the text fed so far."""
        return self._inner.text

    def feed(self, chunk: str) -> StreamVerdict:
        """Adds a chunk of the output and judges it; once invalid, it stays invalid."""
        state = self._inner.feed(chunk)
        if self._verdict.status == "invalid":
            return self._verdict
        violations: list[Violation] = []
        if state.syntax_error is not None:
            violations.append(Violation("syntax", state.syntax_error))
        violations += [
            Violation("schema", e.message, e.instance_path, e.keyword) for e in state.errors
        ]
        parser = self._inner._parser
        if parser.has_root and (parser.changed or state.status != "partial"):
            done = parser.snapshot()  # completed parts only
            calls = [c for c in _find_calls(done) if c.name not in self._contract.actions]
            violations += self._contract._check_actions(calls)
            if not any(v.kind != "rule" for v in violations):
                for rule in self._contract.rules:
                    if rule.partial:
                        violations += [v for v in rule.run(done) if v.severity == "error"]
        if any(v.severity == "error" for v in violations):
            offset = state.offset if state.offset is not None else len(self._inner.text)
            self._verdict = StreamVerdict("invalid", tuple(violations), offset)
        else:
            self._verdict = StreamVerdict(state.status if state.status != "invalid" else "partial")
        return self._verdict

    def end(self) -> Verdict:
        """The stream is over: the full :meth:`Contract.check` of the text."""
        return self._contract.check(self._inner.text)


# ----------------------------------------------------------------------------- helpers
def _policy(on_fail: Sequence[Step] | Mapping[str, Sequence[Step]]) -> dict[Kind, tuple[Step, ...]]:
    def steps(seq: Any, what: str) -> tuple[Step, ...]:
        if isinstance(seq, str):
            seq = [seq]
        out = tuple(seq)
        for s in out:
            if s not in _STEPS:
                raise InvalidInput(
                    f"unknown on_fail step {s!r} in {what}; steps: {', '.join(_STEPS)}"
                )
        return out

    if isinstance(on_fail, Mapping):
        for k in on_fail:
            if k not in _KINDS:
                raise InvalidInput(
                    f"unknown violation kind {k!r} in on_fail; kinds: {', '.join(_KINDS)}"
                )
        return {k: steps(on_fail.get(k, ("raise",)), f"on_fail[{k!r}]") for k in _KINDS}
    common = steps(on_fail, "on_fail")
    return dict.fromkeys(_KINDS, common)


def _policy_violations(verdict: Any) -> list[Violation]:
    """A policy verdict's findings as violations: blocking ones are errors, flags warnings."""
    out = []
    for f in verdict.findings:
        if f.action == "allow":
            continue
        where = f" at {f.start}-{f.end}" if f.end > f.start else ""
        out.append(
            Violation(
                "policy",
                f"{f.message} ({f.family}/{f.rule}{where}, {f.action})",
                f.path,
                f.rule,
                "error" if f.action in ("block", "quarantine") else "warning",
            )
        )
    return out


def _find_calls(value: Any) -> list[ActionCall]:
    """Action calls in an output: ``{"action", "arguments"}`` at the root, a list under
    ``"actions"``, or OpenAI's ``"tool_calls"``."""
    if not isinstance(value, dict):
        return []
    calls: list[ActionCall] = []

    def one(item: Any, path: str) -> None:
        if not isinstance(item, dict):
            return
        if isinstance(item.get("function"), dict):  # OpenAI tool call
            f = item["function"]
            if isinstance(f.get("name"), str):
                calls.append(ActionCall(f["name"], f.get("arguments"), path + "/function"))
            return
        name = item.get("action", item.get("name"))
        if isinstance(name, str):
            args = item.get("arguments", item.get("args", item.get("parameters")))
            calls.append(ActionCall(name, args, path))

    if isinstance(value.get("action"), str):
        one(value, "")
    for key in ("actions", "tool_calls"):
        seq = value.get(key)
        if isinstance(seq, list):
            for i, item in enumerate(seq):
                one(item, f"/{key}/{i}")
    return calls


def _reask_messages(attempt: Attempt) -> list[Message]:
    errs = attempt.verdict.errors
    listed = "\n".join(f"- {v}" for v in errs[:_MAX_LISTED])
    if len(errs) > _MAX_LISTED:
        listed += f"\n- ... and {len(errs) - _MAX_LISTED} more"
    quoted = (
        attempt.text if len(attempt.text) <= _MAX_QUOTED else attempt.text[:_MAX_QUOTED] + " [...]"
    )
    return [
        {"role": "assistant", "content": quoted},
        {
            "role": "user",
            "content": "That output does not satisfy the required format:\n"
            + listed
            + "\nReply again with only the corrected output.",
        },
    ]


def _as_reply(raw: Any) -> ModelReply:
    if isinstance(raw, ModelReply):
        return raw
    if isinstance(raw, str):
        return ModelReply(raw)
    if isinstance(raw, Mapping):
        text = raw.get("text", raw.get("content"))
        usage = raw.get("usage") or {}
        if isinstance(text, str):
            details = usage.get("prompt_tokens_details")
            cached = usage.get(
                "cached_prompt_tokens",
                details.get("cached_tokens") if isinstance(details, Mapping) else None,
            )
            return ModelReply(
                text,
                usage.get("prompt_tokens"),
                usage.get("completion_tokens"),
                raw.get("cost"),
                cached,
            )
    raise InvalidInput(
        f"the model returned {type(raw).__name__}; return a str, a covekit.ModelReply, or a "
        "dict with 'text' (and optionally 'usage' and 'cost')"
    )


def _name(model: Any) -> str:
    return str(
        getattr(model, "name", None) or getattr(model, "__name__", None) or type(model).__name__
    )


def _accepts_max_tokens(model: Any) -> bool:
    try:
        params = inspect.signature(model).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "max_tokens" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
