"""covekit's spans, exported over OTLP/HTTP, read back from a real Arize Phoenix server.

A covekit.Pipeline run (ScriptedModel on a tiny KnowledgeBase) whose question carries an
email address and a card number (redacted by covekit.Redactor before it becomes a span
attribute) is exported with covekit's OTLPExporter to Phoenix (``tests/phoenix_server.py``
starts it on a free loopback port with a temporary working directory and stops it
afterwards); then Phoenix's REST API (``GET /v1/projects/{project}/spans``) must give
back the same tree (ids and parents), the OpenInference kinds, the token counts, and
no raw PII, neither through the API nor in Phoenix's database files. Skips only when
``arize-phoenix`` is not installed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import covekit
import phoenix_server
import pytest
from covekit.observe.trace import Span, Trace, Tracer
from covekit.pipeline import Pipeline

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
pytest.importorskip(
    "opentelemetry.exporter.otlp.proto.http", reason="the otel extra is not installed"
)
from covekit.observe.export import OTLPExporter

EMAIL, CARD = "ann.lee@example.org", "4111 1111 1111 1111"
QUESTION = f"I am {EMAIL}, card {CARD}. How long do refunds take?"


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[phoenix_server.PhoenixServer]:
    with phoenix_server.serve(tmp_path_factory.mktemp("phoenix")) as running:
        print(f"\nPhoenix started in {running.start_seconds:.1f} s")
        yield running


def _pipeline_trace() -> Trace:
    """A pipeline run whose root span carries the redacted question and the answer."""
    kb = covekit.KnowledgeBase(covekit.Chunker("o200k_base", max_tokens=64))
    kb.add([covekit.Document("Refunds take 5 business days.", "refunds.md", acl=["support"])])
    reply = covekit.ModelReply(
        "Refunds take 5 business days [1].",
        prompt_tokens=90,
        completion_tokens=9,
        model="scripted-1",
        finish_reason="stop",
    )
    redactor = covekit.Redactor()
    p = Pipeline(kb, covekit.ScriptedModel([reply]), redactor=redactor)
    answer = p.answer(QUESTION, principals=["support"])
    assert answer.outcome == "answered"
    redacted = redactor.redact(QUESTION).value
    assert EMAIL not in redacted and CARD not in redacted
    spans = []
    for s in answer.trace.spans:
        s = dataclasses.replace(s, attributes=dict(s.attributes))
        if s.parent_id is None:
            s.attributes["input.value"] = redacted
            s.attributes["output.value"] = answer.text
        spans.append(s)
    return Trace(answer.trace.trace_id, tuple(spans))


def _export(phoenix: phoenix_server.PhoenixServer, project: str, spans: list[Span]) -> None:
    exporter = OTLPExporter(phoenix.traces_endpoint, project=project, retries=2)
    exporter.export(spans)
    exporter.shutdown(timeout_s=60.0)
    assert exporter.stats()["exported"] == len(spans), exporter.stats()
    assert exporter.dropped == 0


def test_pipeline_trace_read_back_from_phoenix(phoenix: phoenix_server.PhoenixServer) -> None:
    trace = _pipeline_trace()
    _export(phoenix, "covekit-pipeline", list(trace.spans))
    got = phoenix.wait_for_spans("covekit-pipeline", len(trace.spans), trace_id=trace.trace_id)
    by_id = {s["context"]["span_id"]: s for s in got}

    # the tree: covekit's own ids and parents, every span there once
    assert len(got) == len(trace.spans)
    assert {(s.span_id, s.parent_id) for s in trace.spans} == {
        (s["context"]["span_id"], s["parent_id"]) for s in got
    }
    assert {s["context"]["trace_id"] for s in got} == {trace.trace_id}
    assert {s.span_id: s.name for s in trace.spans} == {k: v["name"] for k, v in by_id.items()}

    # the OpenInference kinds, as Phoenix itself classifies them
    kind = {v["name"]: v["span_kind"] for v in by_id.values()}
    assert kind["covekit.pipeline"] == "AGENT"
    assert kind["chat scripted"] == "LLM"
    assert kind["build_context"] == "RETRIEVER"
    assert kind["redact"] == "GUARDRAIL"
    assert kind["ground"] == "EVALUATOR"
    assert set(kind.values()) <= {
        "LLM", "RETRIEVER", "RERANKER", "TOOL", "CHAIN", "AGENT", "GUARDRAIL", "EVALUATOR",
        "EMBEDDING",
    }  # fmt: skip

    # the token counts, under both names
    chat = next(v for v in by_id.values() if v["name"] == "chat scripted")
    a = chat["attributes"]
    assert a["llm.token_count.prompt"] == a["gen_ai.usage.input_tokens"] == 90
    assert a["llm.token_count.completion"] == a["gen_ai.usage.output_tokens"] == 9
    assert a["llm.token_count.total"] == 99
    assert a["llm.model_name"] == "scripted-1"
    assert all(v["status_code"] == "OK" for v in by_id.values())

    # the redacted question is there, the raw values nowhere
    root = next(v for v in by_id.values() if v["parent_id"] is None)
    assert "<EMAIL_1>" in root["attributes"]["input.value"]
    assert "<CREDIT_CARD_1>" in root["attributes"]["input.value"]
    text = json.dumps(got, ensure_ascii=False)
    assert EMAIL not in text and CARD not in text and CARD.replace(" ", "") not in text
    for f in phoenix.workdir.rglob("*"):
        if f.is_file():
            raw = f.read_bytes()
            assert EMAIL.encode() not in raw and CARD.encode() not in raw, f


def test_error_status_events_and_odd_values(phoenix: phoenix_server.PhoenixServer) -> None:
    tracer = Tracer()
    with pytest.raises(RuntimeError), tracer.span("covekit.pipeline") as root:
        root.set("covekit.verdicts", {"schema": "ok", "grounding": 0.5})
        root.set("covekit.mixed", [1, "two", None])
        root.set("covekit.object", object())
        root.event("reask", {"attempt": 2})
        with tracer.span("tool lookup", {"gen_ai.tool.name": "lookup"}):
            raise RuntimeError("the tool broke")
    spans = list(tracer.trace().spans)
    exporter = OTLPExporter(phoenix.traces_endpoint, project="covekit-odd")
    exporter.export(spans)
    exporter.shutdown(timeout_s=60.0)
    assert (exporter.exported, exporter.dropped, exporter.converted) == (2, 0, 1)
    got = {s["name"]: s for s in phoenix.wait_for_spans("covekit-odd", 2)}
    tool = got["tool lookup"]
    assert tool["span_kind"] == "TOOL" and tool["status_code"] == "ERROR"
    assert tool["status_message"] == "the tool broke"
    assert tool["attributes"]["tool.name"] == "lookup"
    assert tool["attributes"]["error.type"] == "RuntimeError"
    r: dict[str, Any] = got["covekit.pipeline"]
    assert json.loads(r["attributes"]["covekit.verdicts"]) == {"schema": "ok", "grounding": 0.5}
    assert json.loads(r["attributes"]["covekit.mixed"]) == [1, "two", None]
    assert r["attributes"]["covekit.object"].startswith("<object object at")
    assert [e["name"] for e in r["events"]] == ["reask"]


def test_phoenix_server_log_is_there(phoenix: phoenix_server.PhoenixServer) -> None:
    assert phoenix.start_seconds > 0
    assert Path(phoenix.log_path).exists() and "Uvicorn running" in phoenix.log()
