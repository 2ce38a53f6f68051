"""covekit.observe.privacy.ContentPolicy: content off by default, per-field actions, and
the property that no value the redactor finds reaches a sink (scanned as bytes)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import covekit
import pytest
from covekit.errors import InvalidInput
from covekit.observe import ContentPolicy, Span, SpanEvent, Tracer
from covekit.observe.privacy import CONTENT_ATTRIBUTES, is_content
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

MSG = [{"role": "user", "content": "mail bob.smith@corp-mail.com or call +1 415 555 2671"}]
EMAIL = "bob.smith@corp-mail.com"


class Collect:
    def __init__(self) -> None:
        self.spans: list[Span] = []

    def export(self, spans: Sequence[Span]) -> None:
        self.spans.extend(spans)

    def shutdown(self) -> None:
        pass

    def dumps(self) -> bytes:
        return json.dumps([s.to_dict() for s in self.spans], ensure_ascii=False).encode()


def span(attrs: dict[str, Any], **kw: Any) -> Span:
    return Span("0" * 32, "1" * 16, None, "chat", 0, 1, attrs, **kw)


# ----------------------------------------------------------------------------- defaults
def test_content_is_off_by_default() -> None:
    s = span(
        {
            "gen_ai.input.messages": MSG,
            "gen_ai.output.messages": [{"role": "assistant", "content": "ok"}],
            "covekit.content.anything": "x",
            "covekit.question": "q",
            "gen_ai.usage.input_tokens": 7,
            "covekit.route.tier": "small",
        },
        events=[SpanEvent("exception", 5, {"exception.message": EMAIL, "exception.type": "E"})],
        status="ERROR",
        status_message=f"failed for {EMAIL}",
    )
    (out,) = ContentPolicy().apply([s])
    assert out.attributes == {"gen_ai.usage.input_tokens": 7, "covekit.route.tier": "small"}
    assert out.events[0].attributes == {"exception.type": "E"}
    assert out.status == "ERROR" and out.status_message == ""
    # the span given is not changed
    assert s.attributes["gen_ai.input.messages"] == MSG and EMAIL in s.status_message


def test_fields_are_ignored_while_capture_is_off() -> None:
    p = ContentPolicy(fields={"covekit.question": "store"})
    assert p.action("covekit.question") == "drop"
    assert ContentPolicy().apply([span({"covekit.question": "q"})])[0].attributes == {}


def test_the_documented_content_attributes() -> None:
    assert {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result", "covekit.retrieved.text"} <= CONTENT_ATTRIBUTES  # fmt: skip
    assert is_content("covekit.content.prompt") and not is_content("covekit.cost_usd")
    assert ContentPolicy(capture=True).action("gen_ai.usage.input_tokens") is None


# ----------------------------------------------------------------------------- actions
def test_store_redact_hash_drop() -> None:
    p = ContentPolicy(
        capture=True,
        fields={
            "gen_ai.input.messages": "redact",
            "covekit.question": "hash",
            "covekit.answer": "drop",
            "gen_ai.output.messages": "store",
        },
        salt=b"pepper",
    )
    s = span(
        {
            "gen_ai.input.messages": MSG,
            "covekit.question": EMAIL,
            "covekit.answer": "gone",
            "gen_ai.output.messages": "kept",
        }
    )
    (out,) = p.apply([s])
    a = out.attributes
    assert EMAIL not in json.dumps(a["gen_ai.input.messages"])
    assert a["gen_ai.input.messages"][0]["role"] == "user"
    assert a["gen_ai.input.messages"][0]["content"].startswith("mail <EMAIL_1>")
    assert a["covekit.question"].startswith("xxh3:") and len(a["covekit.question"]) == 5 + 32
    assert "covekit.answer" not in a
    assert a["gen_ai.output.messages"] == "kept"


def test_hash_is_stable_within_a_policy_and_salted() -> None:
    p, q = ContentPolicy(capture=True, default="hash"), ContentPolicy(capture=True, default="hash")
    assert p.value("covekit.question", EMAIL) == p.value("covekit.question", EMAIL)
    assert p.value("covekit.question", EMAIL) != q.value("covekit.question", EMAIL)
    assert p.value("covekit.question", EMAIL) != p.value("covekit.question", EMAIL + " ")
    same = ContentPolicy(capture=True, default="hash", salt="s")
    again = ContentPolicy(capture=True, default="hash", salt=b"s")
    assert same.value("covekit.answer", [1, "a"]) == again.value("covekit.answer", [1, "a"])


def test_json_text_is_redacted_as_the_data_it_holds() -> None:
    secret = "52ecb67f314ebb4d156ac2870490416d39293161123b95f9cc61c931f7ec1203"
    doc = f'the config line is "DB_PASSWORD": "{secret}".'
    assert covekit.Redactor().redact(doc).changed  # found in the text itself
    output = json.dumps({"answer": doc})  # the same text as a model's JSON output
    p = ContentPolicy(capture=True)
    for value in (output, [{"role": "assistant", "content": output}], {"out": [output]}):
        assert secret not in json.dumps(p.value("gen_ai.output.messages", value))
    assert json.loads(p.value("covekit.answer", output))["answer"].startswith("the config")
    assert p.value("covekit.answer", "[not json") == "[not json"
    assert p.value("covekit.answer", "[1, 2]") == "[1, 2]"


def test_status_message_is_a_field() -> None:
    p = ContentPolicy(capture=True, fields={"status_message": "redact"})
    (out,) = p.apply([span({}, status="ERROR", status_message=f"no user {EMAIL}")])
    assert out.status_message == "no user <EMAIL_1>"
    keep = ContentPolicy(capture=True, fields={"status_message": "store"})
    assert keep.apply([span({}, status_message="boom")])[0].status_message == "boom"


def test_a_custom_redactor() -> None:
    p = ContentPolicy(
        capture=True, redactor=covekit.Redactor(entities=["EMAIL"], default_action="mask")
    )
    got = p.value("covekit.question", "write to bob.smith@corp-mail.com, +1 415 555 2671")
    assert EMAIL not in got and "415 555 2671" in got


# ----------------------------------------------------------------------------- edges
def test_empty_and_non_text_values() -> None:
    p = ContentPolicy(capture=True)
    assert p.value("covekit.question", "") == ""
    assert p.value("covekit.question", None) is None
    assert p.value("covekit.question", 42) == 42
    assert p.value("covekit.question", ("a", EMAIL)) == ["a", "<EMAIL_1>"]
    assert ContentPolicy().apply([]) == []
    assert (
        ContentPolicy(capture=True, default="hash")
        .value("covekit.answer", None)
        .startswith("xxh3:")
    )


def test_unicode_values() -> None:
    p = ContentPolicy(capture=True)
    text = "Grüße 👋 Jürgen, schreib an jürgen.müller@beispiel-firma.de — 東京"
    got = p.value("covekit.question", text)
    assert "jürgen.müller@beispiel-firma.de" not in got and got.startswith("Grüße 👋")
    h = ContentPolicy(capture=True, default="hash", salt=b"x")
    assert h.value("covekit.question", text) != h.value("covekit.question", text[:-1])
    assert h.value("covekit.question", "\ud800").startswith("xxh3:")  # a lone surrogate


def test_a_huge_value() -> None:
    text = ("filler words " * 40_000) + EMAIL + (" more" * 40_000)
    p = ContentPolicy(capture=True)
    got = p.value("gen_ai.input.messages", [{"role": "user", "content": text}])
    assert EMAIL not in got[0]["content"] and "<EMAIL_1>" in got[0]["content"]
    assert ContentPolicy(capture=True, default="hash").value("covekit.answer", text)[:5] == "xxh3:"


def test_a_value_the_redactor_keeps_finding_is_withheld() -> None:
    class Endless:
        def __call__(self, text: str) -> list[Any]:
            from covekit.decision.redact import Finding

            return [Finding("SECRET", 0, len(text), text, 1.0, "always")] if text else []

        entities = ("SECRET",)

    red = covekit.Redactor(entities=["SECRET"], recognizers=[Endless()], default_action="mask")
    got = ContentPolicy(capture=True, redactor=red).value("covekit.question", "abc")
    assert got == "[withheld: the redactor kept finding values]"


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kw",
    [
        {"default": "keep"},
        {"default": None},
        {"fields": {"covekit.question": "encrypt"}},
        {"fields": {"": "drop"}},
        {"fields": {3: "drop"}},
        {"fields": ["covekit.question"]},
        {"redactor": "yes"},
        {"salt": 123},
        {"capture": "yes"},
    ],
)
def test_bad_policies(kw: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        ContentPolicy(**kw)


def test_the_error_names_the_actions() -> None:
    with pytest.raises(InvalidInput, match=r"the field covekit.answer: the action must be one of"):
        ContentPolicy(capture=True, fields={"covekit.answer": "keep"})


def test_a_policy_that_fails_drops_the_trace_and_counts_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(ContentPolicy):
        def apply(self, spans: Any) -> list[Span]:
            raise RuntimeError("policy bug")

    sink = Collect()
    tr = Tracer(sinks=[sink], content=Broken())
    with tr.span("answer"):
        pass
    assert sink.spans == [] and tr.dropped == 1 and tr.sink_errors == 1
    assert "content policy failed" in caplog.text


# ----------------------------------------------------------------------------- the property
pc = None
try:  # the labelled PII corpus needs Faker and phonenumbers (dev extra)
    import pii_corpus as pc  # type: ignore[no-redef]

    pytest.importorskip("faker")
    pytest.importorskip("phonenumbers")
except ImportError:  # pragma: no cover - the dev extra is installed in make test
    pc = None

ITEMS: list[Any] = []


def _items() -> list[Any]:
    if not ITEMS:
        assert pc is not None
        ITEMS.extend(it for it in pc.generate(n=300, seed=18) if it.spans)
    return ITEMS


def _forms(value: str) -> list[bytes]:
    """The byte forms a value can take in a file: UTF-8, and inside JSON strings."""
    forms = {value.encode(), json.dumps(value)[1:-1].encode(),
             json.dumps(value, ensure_ascii=False)[1:-1].encode()}  # fmt: skip
    return sorted(forms)


def _open_store(path: Path) -> Any:
    try:
        from covekit.observe.store import SQLiteTraceStore
    except ImportError:  # pragma: no cover - helper A's store lands with this issue
        return None
    return SQLiteTraceStore(path)


class JsonLines:
    """A sink that writes each span as a JSON line (the fallback of the file scan)."""

    def __init__(self, path: Path) -> None:
        self.f = path.open("a", encoding="utf-8")

    def export(self, spans: Sequence[Span]) -> None:
        for s in spans:
            self.f.write(json.dumps(s.to_dict(), ensure_ascii=False) + "\n")

    def shutdown(self) -> None:
        self.f.close()


@pytest.mark.skipif(pc is None, reason="the PII corpus needs Faker and phonenumbers (dev extra)")
def test_no_value_the_redactor_finds_reaches_a_sink(tmp_path: Path) -> None:
    """Random requests carrying PII and secrets (the question, the documents, the model's
    echo of both) through a traced pipeline with every kind of content policy: none of
    the values the redactor finds in them is in the spans a sink receives (as JSON
    bytes), in the trace store's SQLite file and its WAL, or in ``answer.trace``."""
    items = _items()
    store = _open_store(tmp_path / "traces.db")
    file_sink = store if store is not None else JsonLines(tmp_path / "traces.jsonl")
    finder = covekit.Redactor()
    seen: set[str] = set()

    slow = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]

    @settings(max_examples=40, deadline=None, suppress_health_check=slow)
    # found by this test: a secret in the JSON text of a model's structured output
    @example(q=0, d=16, action="redact", pipeline_redacts=False, contract=True)
    @given(
        q=st.sampled_from(range(len(items))),
        d=st.sampled_from(range(len(items))),
        action=st.sampled_from(["off", "redact", "hash", "drop", "mixed"]),
        pipeline_redacts=st.booleans(),
        contract=st.booleans(),
    )
    def run(q: int, d: int, action: str, pipeline_redacts: bool, contract: bool) -> None:
        question, doc = items[q].text, items[d].text
        values = {f.text for t in (question, doc) for f in finder.redact(t).findings}
        values = {v for v in values if len(v) >= 6}
        seen.update(values)
        if action == "off":
            policy = ContentPolicy()
        elif action == "mixed":
            policy = ContentPolicy(capture=True, fields={
                "covekit.question": "hash", "gen_ai.input.messages": "redact",
                "gen_ai.output.messages": "drop", "covekit.retrieved.text": "redact",
                "status_message": "redact"})  # fmt: skip
        else:
            policy = ContentPolicy(capture=True, default=action)  # type: ignore[arg-type]
        kb = covekit.KnowledgeBase(covekit.Chunker("o200k_base", max_tokens=400))
        kb.add([covekit.Document(doc, "d.md", acl=["role:x"])])

        def echo(messages: list[dict[str, Any]]) -> covekit.ModelReply:
            said = " ".join(str(m["content"]) for m in messages if m["role"] != "system")
            text = json.dumps({"answer": said + " [1]"}) if contract else said + " [1]"
            return covekit.ModelReply(text, prompt_tokens=10, completion_tokens=5)

        sink = Collect()
        pipe = covekit.Pipeline(
            kb,
            echo,
            contract=covekit.Contract({"type": "object"}) if contract else None,
            redactor=covekit.Redactor() if pipeline_redacts else None,
            sinks=[sink, file_sink],
            content=policy,
        )
        a = pipe.answer(question + " (BM25 words: refund order)", principals=["role:x"])
        got = sink.dumps() + json.dumps(a.trace.to_dict(), ensure_ascii=False).encode()
        assert sink.spans, "the sink received nothing"
        for v in values:
            for form in _forms(v):
                assert form not in got, f"{v!r} reached a sink ({action=})"

    run()
    assert seen, "the corpus gave no value the redactor finds"
    if store is not None:
        store.close()
        files = [tmp_path / "traces.db", tmp_path / "traces.db-wal"]
    else:
        file_sink.shutdown()
        files = [tmp_path / "traces.jsonl"]
    raw = b"".join(p.read_bytes() for p in files if p.exists())
    assert len(raw) > 0
    leaked = [v for v in seen for form in _forms(v) if form in raw]
    assert not leaked, f"{len(leaked)} values reached the file, e.g. {leaked[:3]}"


def test_the_scan_would_see_a_leak(tmp_path: Path) -> None:
    """The byte scan is not vacuous: with content stored, the values are there."""
    sink = Collect()
    tr = Tracer(sinks=[sink], content=ContentPolicy(capture=True, default="store"))
    with tr.span("answer", {"covekit.question": MSG[0]["content"]}):
        pass
    assert EMAIL.encode() in sink.dumps()
    store = _open_store(tmp_path / "t.db")
    if store is None:
        pytest.skip("no SQLiteTraceStore")
    store.export(sink.spans)
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("t.db"))
    assert any(form in raw for form in _forms(EMAIL))
    assert os.path.getsize(tmp_path / "t.db") > 0
