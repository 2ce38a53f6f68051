"""covekit.observe.export: covekit spans mapped onto OpenTelemetry spans (ids kept,
OpenInference kinds and attributes added), the background queue, retries and dropped
spans, odd attribute values, shutdown. No server here: the SDK's in-memory exporter and
a scripted exporter stand in for the endpoint, plus one endpoint that is down (a loopback
port nothing listens on). The end-to-end test against Phoenix is tests/test_phoenix.py."""

from __future__ import annotations

import base64
import http.server
import json
import logging
import socket
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from covekit.errors import InvalidInput
from covekit.observe.sink import SpanSink
from covekit.observe.trace import Span, SpanEvent, Tracer

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
from covekit.observe.export import (
    OTLPExporter,
    openinference_attributes,
    span_kind,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

TID = "0af7651916cd43dd8448eb211c80319c"


class Scripted(SpanExporter):
    """Fails the first ``failures`` calls; blocks while ``gate`` is clear; counts calls."""

    def __init__(self, failures: int = 0, *, block: bool = False, raises: bool = False) -> None:
        self.failures = failures
        self.raises = raises
        self.calls = 0
        self.spans: list[ReadableSpan] = []
        self.gate = threading.Event()
        self.entered = threading.Event()
        if not block:
            self.gate.set()
        self.shut = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        self.gate.wait()
        self.calls += 1
        if self.calls <= self.failures:
            if self.raises:
                raise ConnectionError("scripted failure")
            return SpanExportResult.FAILURE
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.shut += 1
        self.gate.set()


def _trace() -> list[Span]:
    tracer = Tracer(TID)
    with tracer.span("covekit.pipeline", {"gen_ai.operation.name": "invoke_agent"}) as root:
        root.event("deadline", {"step": "retrieval"})
        with tracer.span("build_context", {"gen_ai.operation.name": "retrieval"}):
            pass
        with tracer.span("chat m", {"gen_ai.operation.name": "chat",
                                    "gen_ai.request.model": "m"}) as chat:  # fmt: skip
            chat.set("gen_ai.usage.input_tokens", 90)
            chat.set("gen_ai.usage.output_tokens", 9)
            chat.set("gen_ai.usage.cache_read.input_tokens", 40)
            chat.set("gen_ai.response.model", "m-2024")
            chat.set("gen_ai.provider.name", "openai")
            chat.set("gen_ai.response.finish_reasons", ["stop"])
    return list(tracer.trace().spans)


def _down_endpoint() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/traces"  # closed: connections are refused


# ----------------------------------------------------------------------------- normal
def test_is_a_span_sink() -> None:
    ex = OTLPExporter(span_exporter=InMemorySpanExporter())
    assert isinstance(ex, SpanSink)
    ex.shutdown()


def test_spans_keep_their_ids_tree_times_and_status() -> None:
    memory = InMemorySpanExporter()
    ex = OTLPExporter(span_exporter=memory, project="proj", service_name="svc")
    spans = _trace()
    ex.export(spans)
    ex.shutdown()
    assert (ex.exported, ex.dropped) == (3, 0)
    got = {s.name: s for s in memory.get_finished_spans()}
    for s in spans:
        o = got[s.name]
        assert o.context is not None
        assert format(o.context.trace_id, "032x") == s.trace_id == TID
        assert format(o.context.span_id, "016x") == s.span_id
        if s.parent_id is None:
            assert o.parent is None
        else:
            assert o.parent is not None and format(o.parent.span_id, "016x") == s.parent_id
        assert (o.start_time, o.end_time) == (s.start_ns, s.end_ns)
        assert o.status.status_code == StatusCode.OK
        assert o.resource.attributes["openinference.project.name"] == "proj"
        assert o.resource.attributes["service.name"] == "svc"
        assert o.instrumentation_scope is not None
        assert o.instrumentation_scope.name == "covekit"
    root = got["covekit.pipeline"]
    assert [(e.name, dict(e.attributes or {})) for e in root.events] == [
        ("deadline", {"step": "retrieval"})
    ]
    assert root.events[0].timestamp == spans[0].events[0].time_ns
    chat = got["chat m"]
    assert chat.kind == SpanKind.CLIENT and root.kind == SpanKind.INTERNAL
    a = dict(chat.attributes or {})
    assert a["openinference.span.kind"] == "LLM"
    assert a["llm.model_name"] == "m-2024"  # the model that answered
    assert (a["llm.token_count.prompt"], a["llm.token_count.completion"]) == (90, 9)
    assert a["llm.token_count.total"] == 99
    assert a["llm.token_count.prompt_details.cache_read"] == 40
    assert a["llm.provider"] == a["llm.system"] == "openai"
    assert a["gen_ai.usage.input_tokens"] == 90  # the GenAI names stay
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert got["build_context"].attributes["openinference.span.kind"] == "RETRIEVER"
    assert root.attributes["openinference.span.kind"] == "AGENT"
    assert "input.value" not in a and "output.value" not in a  # no content, none made up


def test_error_status_carries_the_message() -> None:
    memory = InMemorySpanExporter()
    ex = OTLPExporter(span_exporter=memory)
    tracer = Tracer()
    with pytest.raises(ValueError), tracer.span("tool lookup"):
        raise ValueError("bad argument")
    ex.export(tracer.trace().spans)
    ex.shutdown()
    (o,) = memory.get_finished_spans()
    assert o.status.status_code == StatusCode.ERROR
    assert o.status.description == "bad argument"
    assert o.attributes is not None and o.attributes["error.type"] == "ValueError"
    assert o.attributes["openinference.span.kind"] == "TOOL"


@pytest.mark.parametrize(
    ("name", "attributes", "kind"),
    [
        ("covekit.pipeline", {"gen_ai.operation.name": "invoke_agent"}, "AGENT"),
        ("chat gpt", {"gen_ai.operation.name": "chat"}, "LLM"),
        ("anything", {"gen_ai.operation.name": "text_completion"}, "LLM"),
        ("build_context", {"gen_ai.operation.name": "retrieval"}, "RETRIEVER"),
        ("retrieve", {}, "RETRIEVER"),
        ("embed", {"gen_ai.operation.name": "embeddings"}, "EMBEDDING"),
        ("rerank", {}, "RERANKER"),
        ("execute_tool lookup", {"gen_ai.operation.name": "execute_tool"}, "TOOL"),
        ("redact", {}, "GUARDRAIL"),
        ("policy.input", {}, "GUARDRAIL"),
        ("validate", {}, "GUARDRAIL"),
        ("ground", {}, "EVALUATOR"),
        ("confidence", {}, "EVALUATOR"),
        ("score", {"gen_ai.evaluation.score": 0.5}, "EVALUATOR"),
        ("route", {}, "CHAIN"),
        ("pack", {}, "CHAIN"),
        ("", {}, "CHAIN"),
        ("chat", {"openinference.span.kind": "tool"}, "TOOL"),  # explicit wins
        ("route", {"openinference.span.kind": "NOT_A_KIND"}, "CHAIN"),
        ("x", {"gen_ai.operation.name": 42}, "CHAIN"),
    ],
)
def test_span_kind(name: str, attributes: dict[str, Any], kind: str) -> None:
    assert span_kind(Span(TID, "1" * 16, None, name, 0, 1, attributes)) == kind


def test_openinference_attributes_content_only_when_present_and_never_replaced() -> None:
    s = Span(TID, "1" * 16, None, "chat m", 0, 1, {
        "gen_ai.operation.name": "chat",
        "gen_ai.input.messages": [{"role": "user", "content": "hi <EMAIL_1>"}],
        "gen_ai.completion": "hello",
        "llm.model_name": "mine",
        "gen_ai.request.model": "m",
        "gen_ai.usage.input_tokens": True,  # not a count
    })  # fmt: skip
    out = openinference_attributes(s)
    assert "llm.model_name" not in out  # the span's own value stays
    assert "llm.token_count.prompt" not in out
    assert json.loads(out["input.value"]) == [{"role": "user", "content": "hi <EMAIL_1>"}]
    assert out["input.mime_type"] == "application/json"
    assert (out["output.value"], out["output.mime_type"]) == ("hello", "text/plain")
    bare = openinference_attributes(Span(TID, "1" * 16, None, "route", 0, 1))
    assert bare == {"openinference.span.kind": "CHAIN"}


def test_many_threads_export_at_once() -> None:
    memory = InMemorySpanExporter()
    ex = OTLPExporter(span_exporter=memory, batch_size=7)

    def work() -> None:
        for _ in range(50):
            ex.export(_trace())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ex.flush()
    ex.shutdown()
    assert (ex.exported, ex.dropped) == (8 * 50 * 3, 0)
    assert len(memory.get_finished_spans()) == 8 * 50 * 3


def test_flush_sends_before_the_schedule_delay() -> None:
    memory = InMemorySpanExporter()
    ex = OTLPExporter(span_exporter=memory, schedule_delay_s=3600.0)
    ex.export(_trace())
    assert ex.flush(timeout_s=30.0)
    assert len(memory.get_finished_spans()) == 3
    ex.shutdown()


def test_langfuse_basic_auth_and_endpoint() -> None:
    """The headers reach the endpoint: a loopback HTTP server records them."""
    seen: list[tuple[str, str | None, str | None, int]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(n)
            seen.append((self.path, self.headers.get("Authorization"),
                         self.headers.get("x-langfuse-ingestion-version"), n))  # fmt: skip
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host = f"http://127.0.0.1:{server.server_address[1]}/"
        ex = OTLPExporter.langfuse("pk-lf-1", "sk-lf-2", host=host, headers={"X-A": "1"})
        assert ex.endpoint == host + "api/public/otel/v1/traces"
        basic = "Basic " + base64.b64encode(b"pk-lf-1:sk-lf-2").decode()
        assert ex.headers == {
            "Authorization": basic,
            "x-langfuse-ingestion-version": "4",
            "X-A": "1",
        }
        ex.export(_trace())
        ex.shutdown()
        assert (ex.exported, ex.dropped) == (3, 0)
        assert [s[:3] for s in seen] == [("/api/public/otel/v1/traces", basic, "4")]
        assert seen[0][3] > 0
    finally:
        server.shutdown()
        server.server_close()


def test_empty_export_is_a_no_op() -> None:
    memory = InMemorySpanExporter()
    ex = OTLPExporter(span_exporter=memory)
    ex.export([])
    ex.shutdown()
    assert ex.stats() == {"exported": 0, "dropped": 0, "converted": 0,
                          "dropped_attributes": 0, "failed_batches": 0, "queued": 0}  # fmt: skip


# ----------------------------------------------------------------------------- retries
def test_a_failed_batch_is_retried_then_sent() -> None:
    fake = Scripted(failures=2)
    ex = OTLPExporter(span_exporter=fake, retries=3, backoff_s=0.001)
    ex.export(_trace())
    ex.shutdown()
    assert fake.calls == 3 and len(fake.spans) == 3
    assert (ex.exported, ex.dropped, ex.stats()["failed_batches"]) == (3, 0, 0)


def test_an_exporter_that_raises_is_a_failed_attempt(caplog: pytest.LogCaptureFixture) -> None:
    fake = Scripted(failures=10, raises=True)
    ex = OTLPExporter(span_exporter=fake, retries=2, backoff_s=0.001)
    with caplog.at_level(logging.WARNING, logger="covekit.observe.export"):
        ex.export(_trace())
        ex.shutdown()
    assert fake.calls == 3
    assert (ex.exported, ex.dropped, ex.stats()["failed_batches"]) == (0, 3, 1)
    assert "ConnectionError" in caplog.text and "dropped after 3 attempt(s)" in caplog.text


# ----------------------------------------------------------------------------- bad input
def test_endpoint_down_never_blocks_and_drops_are_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ex = OTLPExporter(_down_endpoint(), retries=2, backoff_s=0.01, timeout_s=0.5)
    tracer = Tracer()
    with tracer.span("covekit.pipeline"):
        pass
    with caplog.at_level(logging.WARNING, logger="covekit.observe.export"):
        ex.export(tracer.trace().spans)  # returns at once: the thread does the sending
        ex.export(_trace())
        assert ex.flush(timeout_s=60.0)
        ex.shutdown()
    assert (ex.exported, ex.dropped) == (0, 4)
    assert ex.stats()["failed_batches"] >= 1 and ex.stats()["queued"] == 0
    assert "dropped after 3 attempt(s)" in caplog.text


def test_export_does_not_wait_for_a_stuck_endpoint() -> None:
    fake = Scripted(block=True)
    ex = OTLPExporter(span_exporter=fake, schedule_delay_s=0.0)
    ex.export(_trace())
    assert fake.entered.wait(30.0)  # the thread is inside the endpoint's call...
    ex.export(_trace())  # ...and export still returns
    assert ex.stats()["queued"] == 6 and ex.exported == 0
    fake.gate.set()
    ex.shutdown()
    assert (ex.exported, ex.dropped) == (6, 0)


def test_full_queue_drops_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    fake = Scripted(block=True)
    ex = OTLPExporter(span_exporter=fake, max_queue=4, batch_size=2, schedule_delay_s=0.0)
    with caplog.at_level(logging.WARNING, logger="covekit.observe.export"):
        ex.export(_trace())  # 3 queued
        ex.export(_trace())  # 1 more fits
    assert ex.dropped == 2 and "queue full" in caplog.text
    fake.gate.set()
    ex.shutdown()
    assert (ex.exported, ex.dropped) == (4, 2)


def test_shutdown_with_a_stuck_endpoint_returns_and_counts() -> None:
    fake = Scripted(block=True)
    ex = OTLPExporter(span_exporter=fake, batch_size=2, schedule_delay_s=0.0)
    ex.export(_trace())
    assert fake.entered.wait(30.0)
    ex.shutdown(timeout_s=0.2)  # gives up on the flush, releases the endpoint's call
    assert fake.shut == 1
    ex._thread.join(30.0)  # the call in flight when shutdown gave up ends after it
    assert ex.exported + ex.dropped == 3 and ex.dropped >= 1


def test_non_serializable_attribute_values() -> None:
    class NoStr:
        def __str__(self) -> str:
            raise RuntimeError("no text")

        __repr__ = __str__

    memory = InMemorySpanExporter()
    ex = OTLPExporter(span_exporter=memory)
    s = Span(TID, "2" * 16, None, "route", 0, 1, {
        "none": None,
        "int": 7,
        "big": 2**70,
        "float": 0.5,
        "bool": True,
        "ints": [1, 2],
        "empty": [],
        "mixed": [1, 2.5],
        "bools_and_ints": [True, 2],
        "dict": {"b": [1, None], "a": "x"},
        "object": object(),
        "bytes": b"\x00",
        "set": {1},
        "in_dict": {"when": object()},
        "no_str": NoStr(),
    }, [SpanEvent("e", 1, {"o": object(), "n": None})])  # fmt: skip
    ex.export([s])
    ex.shutdown()
    (o,) = memory.get_finished_spans()
    a = dict(o.attributes or {})
    assert "none" not in a and "no_str" not in a
    assert (a["int"], a["float"], a["bool"]) == (7, 0.5, True)
    assert a["big"] == str(2**70)
    assert a["ints"] == (1, 2) and a["empty"] == ()
    assert json.loads(a["mixed"]) == [1, 2.5]
    assert json.loads(a["bools_and_ints"]) == [True, 2]
    assert json.loads(a["dict"]) == {"b": [1, None], "a": "x"}
    assert a["object"].startswith("<object object at")
    assert a["bytes"] == "b'\\x00'" and a["set"] == "{1}"
    assert json.loads(a["in_dict"])["when"].startswith("<object object at")
    assert dict(o.events[0].attributes or {})["o"].startswith("<object object at")
    # big, object, bytes, set, in_dict, the event's object: sent as text; no_str: dropped
    assert (ex.converted, ex.dropped_attributes) == (6, 1)
    assert (ex.exported, ex.dropped) == (1, 0)


def test_shutdown_twice_and_export_after_shutdown(caplog: pytest.LogCaptureFixture) -> None:
    memory = InMemorySpanExporter()
    ex = OTLPExporter(span_exporter=memory)
    ex.export(_trace())
    ex.shutdown()
    ex.shutdown()  # idempotent: nothing raised, nothing sent twice
    assert ex.exported == 3 and len(memory.get_finished_spans()) == 3
    with caplog.at_level(logging.WARNING, logger="covekit.observe.export"):
        ex.export(_trace())
        ex.export(_trace())
    assert ex.dropped == 6 and caplog.text.count("shut down") == 1
    assert ex.flush(timeout_s=1.0)


def test_open_span_is_sent_with_zero_length() -> None:
    memory = InMemorySpanExporter()
    ex = OTLPExporter(span_exporter=memory)
    ex.export([Span(TID, "3" * 16, None, "route", 5, None)])
    ex.shutdown()
    (o,) = memory.get_finished_spans()
    assert (o.start_time, o.end_time) == (5, 5)
    assert o.status.status_code == StatusCode.UNSET


@pytest.mark.parametrize(
    "kw",
    [
        {"endpoint": "localhost:4318"},
        {"endpoint": 5},
        {"timeout_s": 0},
        {"timeout_s": float("nan")},
        {"backoff_s": -1},
        {"schedule_delay_s": "1"},
        {"retries": -1},
        {"retries": 1.5},
        {"batch_size": 0},
        {"max_queue": True},
    ],
)
def test_bad_arguments(kw: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        OTLPExporter(**kw)


def test_a_span_that_cannot_be_converted_is_dropped_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    memory = InMemorySpanExporter()
    ex = OTLPExporter(span_exporter=memory)
    with caplog.at_level(logging.ERROR, logger="covekit.observe.export"):
        ex.export([Span("not hex", "1" * 16, None, "route", 0, 1)])
        assert ex.flush()
    ex.export(_trace())  # the thread is still there
    ex.shutdown()
    assert (ex.exported, ex.dropped) == (3, 1)
    assert "1 span(s) dropped" in caplog.text
