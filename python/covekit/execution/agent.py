"""An agent loop with limits: :class:`Agent` plans, acts, checks and stops.

Each step calls the model with the conversation and the tools' definitions. A reply
with tool calls is acted on: every call runs through the :class:`~covekit.Toolbox`
(arguments validated before the call, timeouts, idempotency, the policy's allowlist,
approval), and every result is checked (its status, then the tool's ``result_schema``
and ``check``) before it goes back to the model. A reply without tool calls is the
answer: it is checked with the :class:`~covekit.Contract`, if one is given. The run
stops at the first of:

- ``"done"``: an answer that passes the contract;
- ``"contract"``: an answer that fails it (the violations are the reason);
- ``"tool_error"``: a tool call that did not give a usable result (unknown tool, bad
  arguments, not allowed, raised, timed out, rejected, a result failing its check);
- ``"pending_approval"``: a call waiting for a person (:meth:`Agent.resume` goes on
  once it is decided);
- ``"max_steps"``, ``"budget"`` (tokens or money, from :class:`covekit.Budget`),
  ``"deadline"`` (:class:`covekit.Deadline`);
- ``"model_error"``: the model raised or returned something that is not a reply.

A failing step stops the run: it is never fed back for the model to "fix", so one bad
step cannot be amplified by the next ones.

>>> import covekit
>>> @covekit.tool
... def get_weather(city: str) -> dict:
...     '''The weather in a city.'''
...     return {"city": city, "sky": "clear", "celsius": 21}
>>> model = covekit.ScriptedModel([
...     covekit.ModelReply("", tool_calls=(covekit.ToolCall("c1", "get_weather",
...                                                         '{"city": "Lyon"}'),)),
...     "It is clear and 21 °C in Lyon.",
... ])
>>> run = covekit.Agent(model, [get_weather]).run("Weather in Lyon?")
>>> run.stopped, run.output, [r.value["sky"] for r in run.steps[0].tool_results]
('done', 'It is clear and 21 °C in Lyon.', ['clear'])

Thread safety: an Agent holds no per-run state; :meth:`Agent.run` may be called from
many threads at once when its model and tools allow it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from covekit.decision.budget import Budget
from covekit.decision.deadline import Deadline
from covekit.errors import DeadlineExceeded, InvalidInput
from covekit.execution.tools import Tool, Toolbox, ToolResult
from covekit.execution.verdict import Message, ModelReply, ToolCall, Verdict
from covekit.observe.trace import child_span

if TYPE_CHECKING:
    from covekit.decision.policy import Policy
    from covekit.execution.contract import Contract

__all__ = ["Agent", "AgentRun", "AgentStep"]

Stopped = Literal[
    "done",
    "max_steps",
    "budget",
    "deadline",
    "tool_error",
    "contract",
    "pending_approval",
    "model_error",
]


@dataclass(frozen=True, slots=True)
class AgentStep:
    """One step of a run: the model's ``reply``, the ``tool_results`` of the calls it
    asked for, its tokens (reported by the model, else counted: ``counted``), its cost
    (None: unknown) and how long the model and the tools took.

    >>> import covekit
    >>> step = covekit.AgentStep(0, covekit.ModelReply("hi"), (), 12, 1, None, 0.01, 0.0)
    >>> step.to_dict()["reply"]["text"], step.tokens
    ('hi', 13)
    """

    index: int
    reply: ModelReply
    tool_results: tuple[ToolResult, ...]
    prompt_tokens: int | None
    completion_tokens: int | None
    cost: float | None
    model_s: float
    tools_s: float
    counted: bool = False

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens (0 for what is unknown)."""
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)

    def to_dict(self) -> dict[str, Any]:
        """The step as JSON-serializable data."""
        return {
            "index": self.index,
            "reply": dataclasses.asdict(self.reply),
            "tool_results": [r.to_dict() for r in self.tool_results],
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": self.cost,
            "model_s": self.model_s,
            "tools_s": self.tools_s,
            "counted": self.counted,
        }


@dataclass(frozen=True, slots=True)
class AgentRun:
    """The outcome of :meth:`Agent.run`: why it ``stopped`` (see the module docs) and
    the ``reason`` in words, the final ``output`` text (None unless the model
    answered), its ``value`` (the contract's parsed value, else the text) and
    ``verdict``, every step, the whole conversation (``messages``), the calls waiting
    for approval (``pending``), and the totals.

    >>> import covekit
    >>> run = covekit.Agent(covekit.ScriptedModel(["4"]), []).run("2 + 2?")
    >>> run.ok, run.stopped, run.output, len(run.steps), run.to_dict()["stopped"]
    (True, 'done', '4', 1, 'done')
    """

    stopped: Stopped
    reason: str
    output: str | None
    value: Any
    verdict: Verdict | None
    steps: tuple[AgentStep, ...]
    messages: tuple[Message, ...]
    pending: tuple[ToolCall, ...] = ()
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the run ended with an accepted answer (``stopped == "done"``)."""
        return self.stopped == "done"

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens over all steps."""
        return sum(s.prompt_tokens or 0 for s in self.steps)

    @property
    def completion_tokens(self) -> int:
        """Completion tokens over all steps."""
        return sum(s.completion_tokens or 0 for s in self.steps)

    @property
    def tokens(self) -> int:
        """All tokens over all steps."""
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost(self) -> float:
        """USD over all steps (those whose cost is known)."""
        return sum(s.cost or 0.0 for s in self.steps)

    @property
    def tool_results(self) -> tuple[ToolResult, ...]:
        """Every tool result, in the order the calls ran."""
        return tuple(r for s in self.steps for r in s.tool_results)

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON-serializable data (the verdict as its ok flag and violations)."""
        return {
            "stopped": self.stopped,
            "reason": self.reason,
            "output": self.output,
            "value": self.value,
            "verdict": None
            if self.verdict is None
            else {
                "ok": self.verdict.ok,
                "violations": [dataclasses.asdict(v) for v in self.verdict.violations],
            },
            "steps": [s.to_dict() for s in self.steps],
            "messages": [dict(m) for m in self.messages],
            "pending": [dataclasses.asdict(c) for c in self.pending],
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": self.cost,
            "duration_s": self.duration_s,
        }


def _call_message(reply: ModelReply) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": reply.text or None,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ],
    }


class Agent:
    """A model and its tools in a loop with limits (see the module docs).

    Args:
        model: a :class:`covekit.ModelBase` (called with ``complete(messages,
            tools=..., max_tokens=..., deadline=...)``) or any :class:`covekit.Model`
            callable (given ``tools=`` and ``max_tokens=`` when it accepts them).
        tools: a :class:`~covekit.Toolbox`, or tools (and plain functions) to make one.
        contract: checks the final answer (``contract.check(text)``).
        policy: the :class:`covekit.Policy` whose tool allowlist the toolbox enforces
            (when ``tools`` is a list; a given Toolbox keeps its own policy).
        budget: token and money limits over the whole run (``max_tokens``,
            ``max_cost``, ``max_completion_tokens`` per call) and its ``deadline``.
        max_steps: the most model calls of a run.
        deadline: seconds for each run, or a :class:`covekit.Deadline`.
        system: a system message put first when :meth:`run` is given a task.
        tokenizer: counts tokens a model does not report (default: the budget's model's
            encoding, else ``o200k_base``); counting is done only when the budget has
            a token or money limit.

    Errors: :class:`~covekit.errors.InvalidInput` for a model that is not callable,
    ``max_steps < 1``, a bad deadline, or a Toolbox together with a different policy.

    >>> import covekit
    >>> model = covekit.ScriptedModel([
    ...     covekit.ModelReply("", tool_calls=(covekit.ToolCall("c1", "rm_rf", "{}"),))])
    >>> run = covekit.Agent(model, []).run("clean up")
    >>> run.stopped, run.reason
    ('tool_error', "rm_rf (call c1): unknown_tool: no tool named 'rm_rf' (tools: none)")
    """

    def __init__(
        self,
        model: Any,
        tools: Toolbox | Iterable[Tool | Callable[..., Any]] = (),
        *,
        contract: Contract | None = None,
        policy: Policy | None = None,
        budget: Budget | None = None,
        max_steps: int = 8,
        deadline: Deadline | float | None = None,
        system: str | None = None,
        tokenizer: Any = None,
    ) -> None:
        from covekit.execution.contract import Contract as _Contract

        if not callable(model) and not hasattr(model, "complete"):
            raise InvalidInput(f"model must be a covekit.ModelBase or a callable, not {model!r}")
        self.model = model
        if isinstance(tools, Toolbox):
            if policy is not None and tools.policy is not policy:
                raise InvalidInput(
                    "the Toolbox has its own policy: pass policy= to the Toolbox, or give the "
                    "Agent a list of tools"
                )
            self.toolbox = tools
        else:
            self.toolbox = Toolbox(tools, policy=policy)
        if contract is not None and not isinstance(contract, _Contract):
            raise InvalidInput(
                f"contract must be a covekit.Contract, not {type(contract).__name__}"
            )
        self.contract = contract
        if budget is not None and not isinstance(budget, Budget):
            raise InvalidInput(f"budget must be a covekit.Budget, not {type(budget).__name__}")
        self.budget = budget
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise InvalidInput(f"max_steps must be an int >= 1, got {max_steps!r}")
        self.max_steps = max_steps
        if deadline is not None and not isinstance(deadline, Deadline):
            if (
                isinstance(deadline, bool)
                or not isinstance(deadline, int | float)
                or (math.isnan(deadline) or deadline < 0)
            ):
                raise InvalidInput(
                    f"deadline must be a covekit.Deadline or seconds >= 0, got {deadline!r}"
                )
        self.deadline = deadline
        if system is not None and not isinstance(system, str):
            raise InvalidInput(f"system must be a str, not {type(system).__name__}")
        self.system = system
        self._tokenizer_arg = tokenizer
        self._counter: Any = None

    def __repr__(self) -> str:
        return f"<covekit.Agent tools={list(self.toolbox.names)!r} max_steps={self.max_steps}>"

    # ------------------------------------------------------------------ counting
    def _limits(self) -> bool:
        b = self.budget
        return b is not None and (
            b.max_tokens is not None
            or b.max_cost is not None
            or b.max_completion_tokens is not None
        )

    def _counting(self) -> Any:
        if self._counter is None:
            from covekit.execution.contract import Contract

            # the contract's counting: the tokenizer given, else the budget's model's
            self._counter = Contract(budget=self.budget, tokenizer=self._tokenizer_arg)
        return self._counter

    def _count_prompt(self, messages: Sequence[Message], tools: Sequence[Any]) -> int:
        counter = self._counting()
        n = int(counter._prompt_tokens(list(messages)))
        if tools:  # an estimate: the definitions' compact JSON
            n += int(counter._count(json.dumps(list(tools), separators=(",", ":"))))
        return n

    def _count_completion(self, reply: ModelReply) -> int:
        counter = self._counting()
        n = int(counter._count(reply.text))
        if reply.tool_calls:
            n += int(counter._count(json.dumps(_call_message(reply)["tool_calls"])))
        return n

    def _cap(self, prompt: int, steps: Sequence[AgentStep]) -> int | None:
        """The most completion tokens the next call may use (None: no limit)."""
        b = self.budget
        if b is None:
            return None
        caps: list[int] = []
        if b.max_completion_tokens is not None:
            caps.append(b.max_completion_tokens)
        if b.max_tokens is not None:
            caps.append(int(b.max_tokens - sum(s.tokens for s in steps) - prompt))
        if b.max_cost is not None:
            p_rate, _, c_rate = b.rates(prompt)
            room = b.max_cost - sum(s.cost or 0.0 for s in steps) - prompt * p_rate
            caps.append(int(room / c_rate) if c_rate > 0 else (1 << 30 if room >= 0 else -1))
        return min(caps) if caps else None

    # ------------------------------------------------------------------ model
    def _ask(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]],
        cap: int | None,
        deadline: Deadline | None,
    ) -> ModelReply:
        from covekit.execution.contract import _accepts_max_tokens, _as_reply

        m = self.model
        params: dict[str, Any] = {}
        if cap is not None:
            params["max_tokens"] = cap
        if hasattr(m, "complete"):
            raw = m.complete(list(messages), tools=tools or None, deadline=deadline, **params)
        else:
            import inspect

            try:
                names = inspect.signature(m).parameters
                takes_all = any(p.kind is p.VAR_KEYWORD for p in names.values())
            except (TypeError, ValueError):
                names, takes_all = {}, False  # type: ignore[assignment]
            if tools and ("tools" in names or takes_all):
                params["tools"] = tools
            if cap is not None and not _accepts_max_tokens(m):
                params.pop("max_tokens")
            raw = m(list(messages), **params)
        return _as_reply(raw)

    # ------------------------------------------------------------------ running
    def _deadline(self, given: Deadline | None) -> Deadline | None:
        candidates: list[Deadline] = []
        if given is not None:
            if not isinstance(given, Deadline):
                raise InvalidInput(f"deadline must be a covekit.Deadline, not {given!r}")
            candidates.append(given)
        if isinstance(self.deadline, Deadline):
            candidates.append(self.deadline)
        elif self.deadline is not None:
            candidates.append(Deadline(float(self.deadline)))
        if self.budget is not None and self.budget.deadline is not None:
            candidates.append(self.budget.deadline)
        return min(candidates, key=lambda d: d.remaining()) if candidates else None

    def run(self, task: str | Sequence[Message], *, deadline: Deadline | None = None) -> AgentRun:
        """Runs the loop on a task (a user message; the system message first when the
        Agent has one) or on a whole conversation (a list of chat messages).

        >>> import covekit
        >>> agent = covekit.Agent(covekit.ScriptedModel(["a", "b"]), [], max_steps=1)
        >>> agent.run([{"role": "user", "content": "hi"}]).output
        'a'
        """
        if isinstance(task, str):
            messages: list[Message] = []
            if self.system is not None:
                messages.append({"role": "system", "content": self.system})
            messages.append({"role": "user", "content": task})
        elif isinstance(task, Sequence) and all(isinstance(m, Mapping) for m in task):
            if not task:
                raise InvalidInput("the conversation is empty: give a task or some messages")
            messages = [dict(m) for m in task if isinstance(m, Mapping)]
        else:
            raise InvalidInput(
                f"task must be a str or a list of chat messages, not {type(task).__name__}"
            )
        return self._loop(messages, [], (), self._deadline(deadline), time.perf_counter())

    def resume(self, run: AgentRun, *, deadline: Deadline | None = None) -> AgentRun:
        """Goes on with a run that stopped at ``"pending_approval"``, once its calls are
        decided: the calls run again (an approved one executes, once; a rejected one
        stops the run with ``"tool_error"``; one still pending stops it again).

        >>> import covekit
        >>> @covekit.tool(requires_approval=True)
        ... def wire(usd: int) -> str:
        ...     return f"sent {usd}"
        >>> model = covekit.ScriptedModel([covekit.ModelReply("", tool_calls=(
        ...     covekit.ToolCall("c1", "wire", '{"usd": 5}'),)), "done: sent"])
        >>> agent = covekit.Agent(model, [wire])
        >>> first = agent.run("pay 5")
        >>> first.stopped
        'pending_approval'
        >>> _ = agent.toolbox.approvals.approve(agent.toolbox.approvals.pending()[0].id, by="ada")
        >>> second = agent.resume(first)
        >>> second.stopped, second.output, second.tool_results[-1].value
        ('done', 'done: sent', 'sent 5')
        """
        if not isinstance(run, AgentRun):
            raise InvalidInput(f"run must be an AgentRun, not {type(run).__name__}")
        if run.stopped != "pending_approval":
            raise InvalidInput(
                f"only a run stopped at 'pending_approval' can be resumed; this one stopped at "
                f"{run.stopped!r}"
            )
        return self._loop(
            [dict(m) for m in run.messages],
            list(run.steps),
            run.pending,
            self._deadline(deadline),
            time.perf_counter() - run.duration_s,
        )

    def _stop(
        self,
        stopped: Stopped,
        reason: str,
        messages: list[Message],
        steps: list[AgentStep],
        started: float,
        *,
        output: str | None = None,
        value: Any = None,
        verdict: Verdict | None = None,
        pending: tuple[ToolCall, ...] = (),
    ) -> AgentRun:
        return AgentRun(
            stopped,
            reason,
            output,
            value,
            verdict,
            tuple(steps),
            tuple(messages),
            pending,
            time.perf_counter() - started,
        )

    def _act(
        self, calls: Sequence[ToolCall], messages: list[Message], deadline: Deadline | None
    ) -> tuple[list[ToolResult], tuple[Stopped, str, tuple[ToolCall, ...]] | None]:
        """Runs the calls in order; stops at the first that gives no usable result."""
        results: list[ToolResult] = []
        for i, call in enumerate(calls):
            if deadline is not None and deadline.expired:
                return results, ("deadline", f"the deadline passed before tool call {call.id}", ())
            result = self.toolbox.run(call, deadline=deadline)
            results.append(result)
            where = f"{call.name} (call {call.id})"
            if result.status == "pending_approval":
                return results, ("pending_approval", f"{where}: {result.error}", tuple(calls[i:]))
            if not result.ok:
                if result.status == "timeout" and deadline is not None and deadline.expired:
                    return results, ("deadline", f"{where}: {result.error}", ())
                return results, ("tool_error", f"{where}: {result.status}: {result.error}", ())
            tool = self.toolbox[call.name]
            try:
                problem = tool.check_result(result.value)
            except Exception as exc:
                problem = f"the check of {tool.name}'s result raised {type(exc).__name__}: {exc}"
            if problem:
                return results, ("tool_error", f"{where}: {problem}", ())
            messages.append(result.to_message())
        return results, None

    def _loop(
        self,
        messages: list[Message],
        steps: list[AgentStep],
        pending: tuple[ToolCall, ...],
        deadline: Deadline | None,
        started: float,
    ) -> AgentRun:
        """The loop, in an ``invoke_agent`` span when a tracer is active (the model's
        and the tools' spans nest under it)."""
        with child_span("invoke_agent", {"gen_ai.operation.name": "invoke_agent"}) as span:
            run = self._steps(messages, steps, pending, deadline, started)
            if span is not None:
                span.set("covekit.agent.stopped", run.stopped)
                span.set("covekit.agent.steps", len(run.steps))
                span.set("gen_ai.usage.input_tokens", run.prompt_tokens)
                span.set("gen_ai.usage.output_tokens", run.completion_tokens)
                span.set("covekit.cost_usd", run.cost)
            return run

    def _steps(
        self,
        messages: list[Message],
        steps: list[AgentStep],
        pending: tuple[ToolCall, ...],
        deadline: Deadline | None,
        started: float,
    ) -> AgentRun:
        if pending:  # a resumed run: finish the calls of its last step first
            t0 = time.perf_counter()
            results, stop = self._act(pending, messages, deadline)
            last = steps[-1]
            steps[-1] = dataclasses.replace(
                last,
                tool_results=(*last.tool_results[:-1], *results)
                if last.tool_results and last.tool_results[-1].status == "pending_approval"
                else (*last.tool_results, *results),
                tools_s=last.tools_s + time.perf_counter() - t0,
            )
            if stop is not None:
                return self._stop(stop[0], stop[1], messages, steps, started, pending=stop[2])
        tools = self.toolbox.definitions()
        counting = self._limits()
        b = self.budget
        while True:
            if len(steps) >= self.max_steps:
                return self._stop(
                    "max_steps",
                    f"{self.max_steps} model calls without an answer",
                    messages,
                    steps,
                    started,
                )
            if deadline is not None and deadline.expired:
                return self._stop(
                    "deadline",
                    deadline.should_skip(f"step {len(steps)}") or "",
                    messages,
                    steps,
                    started,
                )
            cap = None
            prompt_est = None
            if counting and b is not None:
                prompt_est = self._count_prompt(messages, tools)
                cap = self._cap(prompt_est, steps)
                if cap is not None and cap <= 0:
                    used = sum(s.tokens for s in steps)
                    return self._stop(
                        "budget",
                        f"no room left for step {len(steps)}: {used} tokens and "
                        f"${sum(s.cost or 0.0 for s in steps):.6f} used, the next prompt has "
                        f"{prompt_est} tokens",
                        messages,
                        steps,
                        started,
                    )
            t0 = time.perf_counter()
            try:
                reply = self._ask(messages, tools, cap, deadline)
            except DeadlineExceeded as exc:
                return self._stop(
                    "deadline", f"the model call hit the deadline: {exc}", messages, steps, started
                )
            except Exception as exc:
                return self._stop(
                    "model_error",
                    f"the model raised {type(exc).__name__}: {exc}",
                    messages,
                    steps,
                    started,
                )
            model_s = time.perf_counter() - t0
            prompt, completion, cost = reply.prompt_tokens, reply.completion_tokens, reply.cost
            counted = False
            if counting and b is not None:
                if prompt is None:
                    prompt, counted = prompt_est, True
                if completion is None:
                    completion, counted = self._count_completion(reply), True
                if cost is None and b.can_price():
                    cost = b.cost(
                        prompt or 0, completion, min(reply.cached_prompt_tokens or 0, prompt or 0)
                    )
            step = AgentStep(len(steps), reply, (), prompt, completion, cost, model_s, 0.0, counted)
            steps.append(step)
            if b is not None:
                used = sum(s.tokens for s in steps)
                spent = sum(s.cost or 0.0 for s in steps)
                if b.max_tokens is not None and used > b.max_tokens:
                    return self._stop(
                        "budget",
                        f"{used} tokens used, above the budget's max_tokens ({b.max_tokens})",
                        messages,
                        steps,
                        started,
                    )
                if b.max_cost is not None and spent > b.max_cost:
                    return self._stop(
                        "budget",
                        f"${spent:.6f} spent, above the budget's max_cost (${b.max_cost})",
                        messages,
                        steps,
                        started,
                    )
            if deadline is not None and deadline.expired:
                return self._stop(
                    "deadline",
                    "the deadline passed during the model call",
                    messages,
                    steps,
                    started,
                )
            if not reply.tool_calls:
                messages.append({"role": "assistant", "content": reply.text})
                if self.contract is None:
                    return self._stop(
                        "done",
                        "the model answered",
                        messages,
                        steps,
                        started,
                        output=reply.text,
                        value=reply.text,
                    )
                verdict = self.contract.check(reply.text)
                if verdict.ok:
                    return self._stop(
                        "done",
                        "the answer passes the contract",
                        messages,
                        steps,
                        started,
                        output=reply.text,
                        value=verdict.value,
                        verdict=verdict,
                    )
                why = "; ".join(str(v) for v in verdict.errors[:10])
                return self._stop(
                    "contract",
                    f"the answer fails the contract: {why}",
                    messages,
                    steps,
                    started,
                    output=reply.text,
                    value=verdict.value,
                    verdict=verdict,
                )
            messages.append(_call_message(reply))
            t1 = time.perf_counter()
            results, stop = self._act(reply.tool_calls, messages, deadline)
            steps[-1] = dataclasses.replace(
                step, tool_results=tuple(results), tools_s=time.perf_counter() - t1
            )
            if stop is not None:
                return self._stop(stop[0], stop[1], messages, steps, started, pending=stop[2])
