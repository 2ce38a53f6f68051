"""Tracer: sinks, failing sinks, context propagation (threads, asyncio), and the spans
the pipeline, Contract, ContextBuilder, models and tools emit."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import covekit
import pytest
from covekit.decision.rerank import MMRReranker
from covekit.errors import InvalidInput
from covekit.observe import (
    ContentPolicy,
    Span,
    SpanSink,
    Trace,
    Tracer,
    child_span,
    current_span,
    current_tracer,
    wrap,
)
from covekit.observe import trace as trace_mod


class Collect:
    def __init__(self) -> None:
        self.calls: list[list[Span]] = []
        self.lock = threading.Lock()

    def export(self, spans: Sequence[Span]) -> None:
        with self.lock:
            self.calls.append(list(spans))

    def shutdown(self) -> None:
        pass

    @property
    def spans(self) -> list[Span]:
        return [s for c in self.calls for s in c]

    def names(self) -> list[str]:
        return [s.name for s in self.spans]


class Broken:
    def export(self, spans: Sequence[Span]) -> None:
        raise OSError("disk full")

    def shutdown(self) -> None:
        pass


def tree_ok(spans: Sequence[Span]) -> bool:
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if s.parent_id is None]
    return len(roots) == 1 and all(s.parent_id in ids for s in spans if s.parent_id)


# ----------------------------------------------------------------------------- sinks
def test_the_spans_go_to_each_sink_when_the_root_closes() -> None:
    a, b = Collect(), Collect()
    assert isinstance(a, SpanSink)
    tr = Tracer(sinks=[a, b])
    with tr.span("answer"):
        with tr.span("retrieve"):
            pass
        assert a.calls == []  # nothing before the root closes
    assert a.names() == b.names() == ["answer", "retrieve"]
    assert len(a.calls) == 1 and all(s.end_ns is not None for s in a.spans)
    assert tr.dropped == 0 and tr.sink_errors == 0


def test_a_second_root_exports_only_its_spans() -> None:
    sink = Collect()
    tr = Tracer(sinks=[sink])
    with tr.span("one"):
        pass
    with tr.span("two"):
        with tr.span("child"):
            pass
    assert [[s.name for s in c] for c in sink.calls] == [["one"], ["two", "child"]]
    assert tr.trace().names() == ["one", "two", "child"]


def test_a_sink_that_raises_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    good = Collect()
    tr = Tracer(sinks=[Broken(), good])
    with tr.span("answer") as root:
        with tr.span("retrieve"):
            pass
    assert root.status == "OK"
    assert good.names() == ["answer", "retrieve"]  # the next sink still gets them
    assert tr.dropped == 2 and tr.sink_errors == 1
    assert "Broken raised; 2 spans dropped" in caplog.text


def test_a_failing_block_is_an_error_span_and_still_exported() -> None:
    sink = Collect()
    tr = Tracer(sinks=[sink])
    with pytest.raises(KeyError), tr.span("answer"):
        raise KeyError("bob@example.org")
    (s,) = sink.spans
    assert s.status == "ERROR" and s.attributes["error.type"] == "KeyError"
    assert s.status_message == ""  # the message is content: dropped by default
    assert tr.trace().spans[0].status_message == "'bob@example.org'"  # kept in memory
    assert tr.trace(private=True).spans[0].status_message == ""


def test_bad_sinks_and_policies() -> None:
    with pytest.raises(InvalidInput, match="export"):
        Tracer(sinks=[object()])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="ContentPolicy"):
        Tracer(content={"capture": True})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        covekit.Pipeline(covekit.KnowledgeBase(covekit.Chunker("o200k_base")), sinks=[1])  # type: ignore[list-item]


def test_many_spans_in_one_export() -> None:
    sink = Collect()
    tr = Tracer(sinks=[sink])
    with tr.span("answer"):
        for i in range(10_000):
            with tr.span("step", {"i": i}):
                pass
    assert len(sink.calls) == 1 and len(sink.spans) == 10_001 and tree_ok(sink.spans)


def test_empty_names_and_unicode_attributes() -> None:
    sink = Collect()
    tr = Tracer(sinks=[sink])
    with tr.span("", {"covekit.note": "Grüße 👋"}):
        pass
    assert sink.spans[0].name == "" and sink.spans[0].attributes["covekit.note"] == "Grüße 👋"
    assert Trace.from_dict(json.loads(json.dumps(tr.trace().to_dict()))).names() == [""]


def test_the_genai_constants() -> None:
    assert trace_mod.GEN_AI_PROVIDER_NAME == "gen_ai.provider.name"
    assert trace_mod.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS == "gen_ai.usage.cache_read.input_tokens"
    assert trace_mod.GEN_AI_TOOL_NAME == "gen_ai.tool.name"
    assert trace_mod.GEN_AI_DATA_SOURCE_ID == "gen_ai.data_source.id"
    assert trace_mod.GEN_AI_REQUEST_TOP_K == "gen_ai.request.top_k"
    assert trace_mod.GEN_AI_EVALUATION_SCORE_VALUE == "gen_ai.evaluation.score.value"
    assert all(hasattr(trace_mod, n) for n in trace_mod.__all__)


# ----------------------------------------------------------------------------- context
def test_current_span_follows_the_with_blocks() -> None:
    assert current_span() is None and current_tracer() is None
    tr = Tracer()
    with tr.span("answer") as root:
        assert current_span() is root and current_tracer() is tr
        with child_span("retrieve") as s:
            assert s is not None and current_span() is s and s.parent_id == root.span_id
        assert current_span() is root
    assert current_span() is None


def test_child_span_is_a_no_op_without_a_tracer() -> None:
    with child_span("retrieve", {"a": 1}) as s:
        assert s is None
    with pytest.raises(ValueError), child_span("x"):
        raise ValueError("passes through")


def test_two_tracers_nest_without_mixing() -> None:
    outer, inner = Collect(), Collect()
    a, b = Tracer(sinks=[outer]), Tracer(sinks=[inner])
    with a.span("outer"):
        with b.span("inner") as s:
            assert s.parent_id is None  # another tracer: its own root
        with a.span("after") as t:
            pass
    assert inner.names() == ["inner"] and outer.names() == ["outer", "after"]
    assert t.parent_id == outer.spans[0].span_id


def test_threads_through_wrap() -> None:
    sink = Collect()
    tr = Tracer(sinks=[sink])

    def work(i: int) -> str | None:
        with child_span(f"part {i}") as s:
            with child_span("leaf") as leaf:
                assert leaf is not None and s is not None
                assert leaf.parent_id == s.span_id
            return s.parent_id

    with tr.span("answer") as root, ThreadPoolExecutor(4) as pool:
        parents = list(pool.map(wrap(work), range(16)))
    assert parents == [root.span_id] * 16
    assert len(sink.spans) == 33 and tree_ok(sink.spans)


def test_a_thread_without_the_context_is_not_traced_but_a_tracer_call_attaches_to_root() -> None:
    tr = Tracer()
    got: list[Any] = []

    def plain() -> None:
        with child_span("lost") as s:
            got.append(s)
        with tr.span("direct") as d:
            got.append(d.parent_id)

    with tr.span("answer") as root:
        t = threading.Thread(target=plain)
        t.start()
        t.join()
    assert got == [None, root.span_id]


def test_wrap_keeps_the_function() -> None:
    def f(x: int, *, y: int = 1) -> int:
        """Doc."""
        return x + y

    g = wrap(f)
    assert g(1, y=2) == 3 and g.__name__ == "f" and g.__doc__ == "Doc."


def test_asyncio_tasks_inherit_the_span() -> None:
    sink = Collect()
    tr = Tracer(sinks=[sink])

    async def step(i: int) -> tuple[str | None, str]:
        with child_span(f"task {i}") as s:
            assert s is not None
            await asyncio.sleep(0.001 * (3 - i))
            with child_span("inner") as inner:
                assert inner is not None and inner.parent_id == s.span_id
                assert current_span() is inner
            return s.parent_id, s.span_id

    async def main() -> list[tuple[str | None, str]]:
        with tr.span("answer") as root:
            got = await asyncio.gather(*(step(i) for i in range(3)))
            assert current_span() is root
            return list(got)

    got = asyncio.run(main())
    root = sink.spans[0]
    assert [p for p, _ in got] == [root.span_id] * 3
    assert len(sink.spans) == 7 and tree_ok(sink.spans)


def test_concurrent_requests_on_threads_keep_their_own_traces() -> None:
    sink = Collect()

    def request(i: int) -> str:
        tr = Tracer(sinks=[sink])
        with tr.span(f"req {i}"):
            for _ in range(20):
                with child_span("step"):
                    pass
        return tr.trace_id

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(request, range(32)))
    assert len(sink.calls) == 32
    for call in sink.calls:
        assert len(call) == 21 and tree_ok(call) and len({s.trace_id for s in call}) == 1
    assert {c[0].trace_id for c in sink.calls} == set(ids)


# ----------------------------------------------------------------------------- emitters
def kb_with(text: str = "Refunds take 5 business days.") -> covekit.KnowledgeBase:
    kb = covekit.KnowledgeBase(covekit.Chunker("o200k_base", max_tokens=64))
    kb.add([covekit.Document(text, "refunds.md", acl=["role:support"])])
    return kb


def test_the_pipeline_sends_its_trace_to_sinks() -> None:
    sink = Collect()
    pipe = covekit.Pipeline(
        kb_with(), covekit.ScriptedModel(["Refunds take 5 business days [1]."]), sinks=[sink]
    )
    a = pipe.answer("How long do refunds take?", principals=["role:support"])
    assert a.outcome == "answered"
    names = sink.names()
    assert names[0] == "covekit.pipeline" and {"retrieve", "pack", "build_context"} <= set(names)
    assert [s.span_id for s in a.trace.spans] == [s.span_id for s in sink.spans]
    assert tree_ok(sink.spans)
    by = {s.name: s for s in sink.spans}
    assert by["retrieve"].parent_id == by["build_context"].span_id
    assert by["retrieve"].attributes["gen_ai.request.top_k"] > 0
    assert by["retrieve"].attributes["covekit.retrieve.hits"] == 1
    assert "gen_ai.data_source.id" in by["retrieve"].attributes
    assert by["pack"].attributes["covekit.pack.kept"] == 1
    # content is off by default: no question, prompt or answer anywhere
    dumped = json.dumps([s.to_dict() for s in sink.spans])
    assert "refunds take" not in dumped.lower()


def test_the_pipeline_records_content_only_when_the_policy_keeps_it() -> None:
    sink = Collect()
    pipe = covekit.Pipeline(
        kb_with(),
        covekit.ScriptedModel(["Refunds take 5 business days [1]."]),
        sinks=[sink],
        content=ContentPolicy(capture=True, default="store"),
    )
    a = pipe.answer("How long do refunds take?", principals=["role:support"])
    root = sink.spans[0]
    assert root.attributes["covekit.question"] == "How long do refunds take?"
    assert root.attributes["covekit.answer"] == a.text
    chat = next(s for s in sink.spans if s.name.startswith("chat "))
    assert chat.attributes["gen_ai.input.messages"][-1]["role"] == "user"
    assert chat.attributes["gen_ai.output.messages"][0]["content"] == a.text
    ctx = next(s for s in sink.spans if s.name == "build_context")
    assert ctx.attributes["covekit.retrieved.text"] == ["Refunds take 5 business days."]
    assert a.trace.root.attributes["covekit.question"] == "How long do refunds take?"


def test_contract_spans() -> None:
    c = covekit.Contract({"type": "object", "required": ["a"]}, on_fail=["repair", "reask"])
    model = covekit.ScriptedModel(['{"b": 1}', "{'a': 1}"])
    tr = Tracer()
    with tr.span("root"):
        r = c.enforce(model, [{"role": "user", "content": "?"}])
    assert r.ok
    names = tr.trace().names()
    assert names == [
        "root", "contract.enforce", "contract.first", "validate", "contract.reask", "validate",
    ]  # fmt: skip
    spans = tr.trace().spans
    first_v, second_v = spans[3], spans[5]
    assert first_v.attributes["covekit.contract.ok"] is False
    assert first_v.attributes["covekit.contract.violations"]
    assert second_v.attributes["covekit.contract.ok"] is True
    assert "single_quotes" in second_v.attributes["covekit.contract.repairs"]
    assert spans[1].attributes["covekit.contract.attempts"] == 2
    assert spans[4].attributes["covekit.contract.step"] == "reask"
    # untraced, the same call makes no spans and the same result
    assert c.enforce(covekit.ScriptedModel(['{"a": 2}']), []).value == {"a": 2}


def test_contract_errors_are_error_spans() -> None:
    c = covekit.Contract({"type": "object"}, on_fail=["raise"])
    tr = Tracer()
    with pytest.raises(covekit.errors.ContractError), tr.span("root"):
        c.enforce(covekit.ScriptedModel(["not json at all"]), [])
    enforce = tr.trace().span("contract.enforce")
    assert enforce.status == "ERROR" and enforce.attributes["error.type"] == "ContractError"


def test_context_builder_spans_with_a_reranker() -> None:
    kb = kb_with()
    kb.add([covekit.Document("Refunds are paid to the card.", "card.md", acl=["role:support"])])
    b = covekit.ContextBuilder(kb, reranker=MMRReranker(), dedup=covekit.NearDuplicates())
    tr = Tracer()
    with tr.span("root"):
        b.build("refunds", principals=["role:support"], budget=500)
    assert tr.trace().names() == ["root", "retrieve", "rerank", "dedup", "pack"]
    assert tree_ok(tr.trace().spans)
    assert tr.trace().span("rerank").attributes["covekit.rerank.candidates"] == 2


@pytest.fixture(scope="module")
def openai_server() -> Iterator[Any]:
    from loopback_openai import running

    yield from running()


def test_openai_model_chat_span(openai_server: Any) -> None:
    from loopback_openai import Reply

    openai_server.reset()
    openai_server.push(Reply("hi", prompt_tokens=30, completion_tokens=2, cached_tokens=24))
    m = covekit.OpenAIChatModel(openai_server.base_url, "gpt-x")
    try:
        tr = Tracer()
        with tr.span("root"):
            reply = m.complete([{"role": "user", "content": "hi"}], max_tokens=5)
        (chat,) = [s for s in tr.trace().spans if s.name == "chat gpt-x"]
        a = chat.attributes
        assert a["gen_ai.operation.name"] == "chat"
        assert a["gen_ai.provider.name"] == "openai_compatible"
        assert a["gen_ai.request.model"] == "gpt-x" and a["gen_ai.request.max_tokens"] == 5
        assert a["gen_ai.usage.input_tokens"] == reply.prompt_tokens
        assert a["gen_ai.usage.cache_read.input_tokens"] == 24
        assert "gen_ai.input.messages" not in a
        # asyncio: the same span, from the task's context
        openai_server.push(Reply("hi"))

        async def go() -> None:
            with tr.span("aroot"):
                await m.acomplete([{"role": "user", "content": "hi"}])
            await m.aclose()

        asyncio.run(go())
        assert tr.trace().names()[-2:] == ["aroot", "chat gpt-x"]
    finally:
        m.close()


def test_tool_spans() -> None:
    @covekit.tool
    def lookup(order: str) -> str:
        """Finds an order.

        Args:
            order: the order id.
        """
        with child_span("db.query") as s:
            assert s is not None  # the tool's thread carries the caller's span
        return f"order {order}: shipped"

    box = covekit.Toolbox([lookup])
    sink = Collect()
    tr = Tracer(sinks=[sink])
    with tr.span("agent"):
        ok = box.run(covekit.ToolCall("c1", "lookup", '{"order": "A-1"}'))
        bad = box.run(covekit.ToolCall("c2", "nope", "{}"))
    assert ok.ok and bad.status == "unknown_tool"
    by = [s for s in sink.spans if s.name.startswith("execute_tool")]
    assert [s.name for s in by] == ["execute_tool lookup", "execute_tool nope"]
    a = by[0].attributes
    assert a["gen_ai.tool.name"] == "lookup" and a["gen_ai.operation.name"] == "execute_tool"
    assert a["gen_ai.tool.call.id"] == "c1" and a["covekit.tool.status"] == "ok"
    assert "gen_ai.tool.call.arguments" not in a  # content off
    assert by[1].status == "ERROR" and by[1].attributes["error.type"] == "unknown_tool"
    db = next(s for s in sink.spans if s.name == "db.query")
    assert db.parent_id == by[0].span_id

    kept = Collect()
    tr2 = Tracer(sinks=[kept], content=ContentPolicy(capture=True, default="store"))
    with tr2.span("agent"):
        box.run(covekit.ToolCall("c3", "lookup", '{"order": "B-2"}'))
    a2 = next(s for s in kept.spans if s.name == "execute_tool lookup").attributes
    assert a2["gen_ai.tool.call.arguments"] == '{"order": "B-2"}'
    assert a2["gen_ai.tool.call.result"] == "order B-2: shipped"


def test_agent_spans() -> None:
    @covekit.tool
    def add(a: int, b: int) -> int:
        """Adds.

        Args:
            a: one number.
            b: another.
        """
        return a + b

    model = covekit.ScriptedModel(
        [covekit.ModelReply("", tool_calls=(covekit.ToolCall("c1", "add", '{"a": 2, "b": 3}'),)),
         "5"]
    )  # fmt: skip
    agent = covekit.Agent(model, [add])
    sink = Collect()
    tr = Tracer(sinks=[sink])
    with tr.span("request"):
        run = agent.run("2 + 3?")
    assert run.ok and run.output == "5"
    by = {s.name: s for s in sink.spans}
    assert by["invoke_agent"].attributes["covekit.agent.stopped"] == "done"
    assert by["invoke_agent"].attributes["covekit.agent.steps"] == 2
    assert by["execute_tool add"].parent_id == by["invoke_agent"].span_id
    assert tree_ok(sink.spans)
    again = covekit.Agent(covekit.ScriptedModel(["5"]), [add]).run("2 + 3?")
    assert again.output == "5" and current_span() is None  # untraced: the same run


def test_a_span_still_open_when_the_root_closes_is_not_exported() -> None:
    sink = Collect()
    tr = Tracer(sinks=[sink])
    started, release = threading.Event(), threading.Event()

    def late() -> None:
        with child_span("late"):
            started.set()
            release.wait(5)

    with tr.span("answer"):
        t = threading.Thread(target=wrap(late))
        t.start()
        started.wait(5)
    release.set()
    t.join()
    assert sink.names() == ["answer"]
    assert tr.trace().names() == ["answer", "late"]
    assert all(s.end_ns is not None for s in sink.spans)
