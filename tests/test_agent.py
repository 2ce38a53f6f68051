"""covekit.Agent: outcomes of the loop with scripted models and real tool functions —
answers, tool errors that stop the run, limits on steps, tokens, money and time, the
contract on the final answer, approvals and resume."""

from __future__ import annotations

import json
from typing import Annotated, Any

import covekit
import pytest
from covekit import (
    Agent,
    AgentRun,
    Budget,
    Contract,
    Deadline,
    ModelReply,
    Policy,
    ScriptedModel,
    Toolbox,
    ToolCall,
    tool,
)
from covekit.errors import DeadlineExceeded, InvalidInput
from hypothesis import given
from hypothesis import strategies as st

STOPS = {
    "done",
    "max_steps",
    "budget",
    "deadline",
    "tool_error",
    "contract",
    "pending_approval",
    "model_error",
}


def calls(*items: tuple[str, Any], text: str = "", **usage: Any) -> ModelReply:
    """A reply that asks for tools: (name, arguments) pairs."""
    tcs = tuple(
        ToolCall(f"call_{i}", name, args if isinstance(args, str) else json.dumps(args))
        for i, (name, args) in enumerate(items)
    )
    return ModelReply(text, tool_calls=tcs, finish_reason="tool_calls", **usage)


class Inventory:
    """Real tool functions with side effects to count."""

    def __init__(self) -> None:
        self.stock = {"apple": 3, "pear": 0}
        self.orders: list[tuple[str, int]] = []

        @tool
        def check_stock(item: str) -> int:
            """How many of an item are in stock."""
            return self.stock[item]

        @tool
        def place_order(item: str, quantity: Annotated[int, {"minimum": 1}]) -> dict[str, Any]:
            """Orders an item (the schema asks for at least one)."""
            if quantity > self.stock[item]:
                raise ValueError(f"only {self.stock[item]} {item} left")
            self.orders.append((item, quantity))
            return {"item": item, "quantity": quantity, "status": "placed"}

        self.tools = [check_stock, place_order]


def test_plan_act_answer() -> None:
    inv = Inventory()
    model = ScriptedModel(
        [
            calls(("check_stock", {"item": "apple"})),
            calls(("place_order", {"item": "apple", "quantity": 2})),
            "Ordered 2 apples.",
        ]
    )
    run = Agent(model, inv.tools, system="You run a shop.").run("Order 2 apples if in stock.")
    assert (run.stopped, run.ok, run.output, run.value) == (
        "done",
        True,
        "Ordered 2 apples.",
        "Ordered 2 apples.",
    )
    assert inv.orders == [("apple", 2)]
    assert [len(s.tool_results) for s in run.steps] == [1, 1, 0]
    assert run.tool_results[0].value == 3
    assert [m["role"] for m in run.messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "assistant",
    ]
    assert run.messages[3] == {"role": "tool", "tool_call_id": "call_0", "content": "3"}
    assert run.messages[2]["tool_calls"][0]["function"]["name"] == "check_stock"
    # the model saw the tools' definitions and, at step 2, the first tool result
    sent = model.calls
    assert [d["function"]["name"] for d in sent[0].params["tools"]] == [
        "check_stock",
        "place_order",
    ]
    assert sent[1].messages[-1]["role"] == "tool"
    data = run.to_dict()
    assert json.loads(json.dumps(data))["stopped"] == "done"
    assert data["steps"][0]["reply"]["tool_calls"][0]["name"] == "check_stock"


def test_several_calls_in_one_step() -> None:
    inv = Inventory()
    model = ScriptedModel(
        [calls(("check_stock", {"item": "apple"}), ("check_stock", {"item": "pear"})), "ok"]
    )
    run = Agent(model, inv.tools).run("stock?")
    assert run.ok and [r.value for r in run.steps[0].tool_results] == [3, 0]


def test_a_tool_that_raises_stops_the_run() -> None:
    inv = Inventory()
    model = ScriptedModel(
        [calls(("place_order", {"item": "pear", "quantity": 1})), "never reached"]
    )
    run = Agent(model, inv.tools).run("Order a pear.")
    assert run.stopped == "tool_error" and not run.ok
    assert run.reason == "place_order (call call_0): error: ValueError: only 0 pear left"
    assert model.remaining == 1  # the model was not asked to go on
    assert run.output is None and inv.orders == []


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (calls(("delete_everything", {})), "unknown_tool"),
        (calls(("check_stock", '{"item": ')), "invalid_arguments"),
        (calls(("check_stock", {"item": 7})), "invalid_arguments"),
        (calls(("place_order", {"item": "apple"})), "invalid_arguments"),
    ],
)
def test_bad_tool_calls_stop_the_run(reply: ModelReply, status: str) -> None:
    inv = Inventory()
    run = Agent(ScriptedModel([reply, "x"]), inv.tools).run("go")
    assert run.stopped == "tool_error"
    assert f": {status}: " in run.reason
    assert run.steps[0].tool_results[0].status == status
    assert inv.orders == []


def test_later_calls_of_a_failing_step_do_not_run() -> None:
    inv = Inventory()
    reply = calls(
        ("check_stock", {"item": "kiwi"}),  # KeyError
        ("place_order", {"item": "apple", "quantity": 1}),
    )
    run = Agent(ScriptedModel([reply]), inv.tools).run("go")
    assert run.stopped == "tool_error" and "KeyError" in run.reason
    assert len(run.steps[0].tool_results) == 1 and inv.orders == []


def test_tool_result_is_checked_before_use() -> None:
    @tool(result_schema={"type": "integer", "minimum": 0})
    def balance(account: str) -> int:
        return -40

    @tool(check=lambda v: "empty quote" if not v else None)
    def quote(symbol: str) -> str:
        return ""

    run = Agent(ScriptedModel([calls(("balance", {"account": "a"})), "x"]), [balance]).run("?")
    assert run.stopped == "tool_error" and "fails its schema" in run.reason
    assert all(m["role"] != "tool" for m in run.messages)  # the bad result was not used
    run = Agent(ScriptedModel([calls(("quote", {"symbol": "X"})), "x"]), [quote]).run("?")
    assert run.stopped == "tool_error" and "empty quote" in run.reason

    @tool(check=lambda v: 1 / 0)
    def broken_check() -> int:
        return 1

    run = Agent(ScriptedModel([calls(("broken_check", {}))]), [broken_check]).run("?")
    assert run.stopped == "tool_error" and "ZeroDivisionError" in run.reason


def test_hanging_tool_stops_the_run_on_time() -> None:
    import threading

    release = threading.Event()

    @tool(timeout=0.05)
    def hang() -> str:
        release.wait(30)
        return "late"

    try:
        run = Agent(ScriptedModel([calls(("hang", {})), "x"]), [hang]).run("?")
    finally:
        release.set()
    assert run.stopped == "tool_error" and ": timeout: " in run.reason


def test_policy_allowlist() -> None:
    inv = Inventory()
    agent = Agent(
        ScriptedModel([calls(("place_order", {"item": "apple", "quantity": 1})), "x"]),
        inv.tools,
        policy=Policy(tools=["check_stock"]),
    )
    run = agent.run("order")
    assert run.stopped == "tool_error" and ": not_allowed: " in run.reason
    assert inv.orders == []
    with pytest.raises(InvalidInput, match="own policy"):
        Agent(ScriptedModel([]), Toolbox(inv.tools), policy=Policy(tools=[]))


# ----------------------------------------------------------------------------- limits


def test_max_steps() -> None:
    inv = Inventory()
    model = ScriptedModel([(lambda text: True, calls(("check_stock", {"item": "apple"})))])
    run = Agent(model, inv.tools, max_steps=3).run("loop forever")
    assert run.stopped == "max_steps" and len(run.steps) == 3 and len(model.calls) == 3


def test_token_budget_from_reported_usage() -> None:
    inv = Inventory()
    step = calls(("check_stock", {"item": "apple"}), prompt_tokens=400, completion_tokens=100)
    model = ScriptedModel([step, step, step, "done"])
    run = Agent(model, inv.tools, budget=Budget(max_tokens=1_250)).run("?")
    assert run.stopped == "budget"
    assert run.tokens == 1_500 and len(run.steps) == 3
    assert "above the budget's max_tokens (1250)" in run.reason


def test_token_budget_counted_when_not_reported() -> None:
    inv = Inventory()
    model = ScriptedModel([(lambda text: True, calls(("check_stock", {"item": "apple"})))])
    run = Agent(model, inv.tools, budget=Budget(max_tokens=400), max_steps=50).run("?")
    assert run.stopped == "budget"
    assert all(s.counted for s in run.steps)
    assert run.tokens <= 400 or "above" in run.reason
    # the completion cap handed to the model shrinks as the budget is used
    caps = [c.params["max_tokens"] for c in model.calls]
    assert caps == sorted(caps, reverse=True) and caps[0] < 400


def test_money_budget() -> None:
    inv = Inventory()
    step = calls(("check_stock", {"item": "apple"}), prompt_tokens=1_000, completion_tokens=0)
    budget = Budget(max_cost=0.0025, prompt_price=1e-6, completion_price=2e-6)
    run = Agent(ScriptedModel([step] * 5), inv.tools, budget=budget).run("?")
    assert run.stopped == "budget" and "$" in run.reason
    assert run.cost == pytest.approx(0.003) and len(run.steps) == 3
    # a reported cost wins over the prices
    priced = calls(("check_stock", {"item": "apple"}), cost=0.01)
    run = Agent(ScriptedModel([priced, "x"]), inv.tools, budget=budget).run("?")
    assert run.stopped == "budget" and run.cost == 0.01


def test_deadline_already_past_calls_nothing() -> None:
    model = ScriptedModel(["x"])
    past = Deadline.at(0.0)
    run = Agent(model, []).run("?", deadline=past)
    assert run.stopped == "deadline" and model.calls == [] and run.steps == ()


def test_deadline_passes_during_tools() -> None:
    now = [0.0]
    deadline = Deadline(1.0, clock=lambda: now[0])

    @tool
    def slow_step() -> str:
        now[0] += 2.0  # the fake clock: this tool takes two seconds
        return "done"

    model = ScriptedModel([calls(("slow_step", {})), "never"])
    run = Agent(model, [slow_step], deadline=deadline).run("?")
    assert run.stopped == "deadline" and len(model.calls) == 1


def test_deadline_seconds_and_budget_deadline() -> None:
    run = Agent(ScriptedModel(["ok"]), [], deadline=30.0).run("?")
    assert run.ok
    run = Agent(ScriptedModel(["ok"]), [], budget=Budget(deadline=Deadline.at(0.0))).run("?")
    assert run.stopped == "deadline"


# ----------------------------------------------------------------------------- model, contract


def test_model_error_stops_the_run() -> None:
    run = Agent(ScriptedModel([ConnectionError("server gone")]), []).run("?")
    assert run.stopped == "model_error" and "ConnectionError: server gone" in run.reason
    run = Agent(ScriptedModel([DeadlineExceeded("too late", step="model")]), []).run("?")
    assert run.stopped == "deadline"
    run = Agent(lambda messages: 42, []).run("?")  # not a reply at all
    assert run.stopped == "model_error"


def test_plain_callable_model_gets_tools_when_it_accepts_them() -> None:
    seen: dict[str, Any] = {}

    def model(messages: list[Any], tools: Any = None) -> str:
        seen["tools"] = tools
        return "fine"

    inv = Inventory()
    assert Agent(model, inv.tools).run("?").output == "fine"
    assert len(seen["tools"]) == 2
    assert Agent(lambda messages: "ok", inv.tools).run("?").ok


def test_contract_checks_the_final_answer() -> None:
    contract = Contract(
        {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    )
    run = Agent(ScriptedModel(['{"n": 3}']), [], contract=contract).run("?")
    assert run.ok and run.value == {"n": 3} and run.verdict is not None and run.verdict.ok
    run = Agent(ScriptedModel(['{"n": "three"}']), [], contract=contract).run("?")
    assert run.stopped == "contract" and "/n" in run.reason and run.output == '{"n": "three"}'
    assert run.to_dict()["verdict"]["ok"] is False


def test_conversation_input() -> None:
    model = ScriptedModel(["hi"])
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "héllo 😀"}]
    run = Agent(model, []).run(msgs)
    assert run.ok and model.calls[0].messages[-1]["content"] == "héllo 😀"
    assert len(run.messages) == 3


@pytest.mark.parametrize(
    "make",
    [
        lambda: Agent(42, []),
        lambda: Agent(ScriptedModel([]), [], max_steps=0),
        lambda: Agent(ScriptedModel([]), [], deadline=-1),
        lambda: Agent(ScriptedModel([]), [], budget={"max_tokens": 3}),
        lambda: Agent(ScriptedModel([]), [], contract={"type": "object"}),
        lambda: Agent(ScriptedModel([]), []).run([]),
        lambda: Agent(ScriptedModel([]), []).run(42),
        lambda: Agent(ScriptedModel([]), []).run("?", deadline=3.0),
    ],
)
def test_bad_input(make: Any) -> None:
    with pytest.raises(InvalidInput):
        make()


# ----------------------------------------------------------------------------- approval


def test_pending_approval_then_resume_once() -> None:
    sent: list[int] = []

    @tool(requires_approval=True)
    def wire(usd: int) -> str:
        sent.append(usd)
        return f"wired {usd}"

    inv = Inventory()
    model = ScriptedModel(
        [calls(("check_stock", {"item": "apple"}), ("wire", {"usd": 50})), "Paid."]
    )
    agent = Agent(model, [*inv.tools, wire])
    first = agent.run("pay")
    assert first.stopped == "pending_approval" and sent == []
    assert [c.name for c in first.pending] == ["wire"]
    with pytest.raises(InvalidInput):
        agent.resume(AgentRun("done", "", None, None, None, (), ()))
    again = agent.resume(first)  # nobody decided yet
    assert again.stopped == "pending_approval" and sent == []
    queue = agent.toolbox.approvals
    queue.approve(queue.pending()[0].id, by="ada")
    done = agent.resume(again)
    assert done.ok and done.output == "Paid." and sent == [50]
    assert [r.status for r in done.steps[0].tool_results] == ["ok", "ok"]
    assert [m["role"] for m in done.messages].count("tool") == 2


def test_rejected_approval_stops_with_tool_error() -> None:
    @tool(requires_approval=True)
    def wire(usd: int) -> str:
        return "wired"

    agent = Agent(ScriptedModel([calls(("wire", {"usd": 5}))]), [wire])
    first = agent.run("pay")
    queue = agent.toolbox.approvals
    queue.reject(queue.pending()[0].id, by="bob", reason="no")
    run = agent.resume(first)
    assert run.stopped == "tool_error" and "rejected by bob: no" in run.reason


# ----------------------------------------------------------------------------- properties

_names = st.sampled_from(["check_stock", "place_order", "rm", ""])
_args = st.one_of(
    st.text(max_size=20),
    st.fixed_dictionaries(
        {"item": st.sampled_from(["apple", "pear", "kiwi", 3])},
        optional={"quantity": st.one_of(st.integers(-2, 5), st.text(max_size=2))},
    ).map(json.dumps),
)
_replies = st.one_of(
    st.text(max_size=30),
    st.lists(st.tuples(_names, _args), min_size=1, max_size=3).map(lambda cs: calls(*cs)),
    st.just(RuntimeError("model down")),
)


@given(st.lists(_replies, min_size=0, max_size=6), st.integers(1, 4))
def test_whatever_the_model_says_the_run_ends_with_a_reason(
    replies: list[Any], max_steps: int
) -> None:
    inv = Inventory()
    policy = Policy(tools=["check_stock", "place_order"])
    model = ScriptedModel(replies)
    run = Agent(model, inv.tools, policy=policy, max_steps=max_steps).run("shop")
    assert run.stopped in STOPS and run.reason
    failed_call = 1 if run.stopped == "model_error" else 0  # a call that raised is no step
    assert len(model.calls) <= max_steps and len(run.steps) == len(model.calls) - failed_call
    # nothing was ordered that fails the schema or the stock rule
    assert all(isinstance(q, int) and 1 <= q <= 3 for _, q in inv.orders)
    assert all(item == "apple" or q == 0 for item, q in inv.orders)
    if run.stopped == "done":
        assert run.output is not None and not run.steps[-1].reply.tool_calls
    json.dumps(run.to_dict())


def test_agent_repr_and_exports() -> None:
    agent = Agent(ScriptedModel([]), Inventory().tools)
    assert "check_stock" in repr(agent)
    assert covekit.Agent is Agent and covekit.AgentStep is not None
