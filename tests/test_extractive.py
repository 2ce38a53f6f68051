"""covekit.ExtractiveModel: verbatim cited sentences from the evidence, refusal below
min_support, JSON Schema filling, determinism."""

from __future__ import annotations

import json
import re
from typing import Any

import covekit
import pytest
from covekit import ExtractiveModel, ModelBase, ground
from covekit.errors import DeadlineExceeded, InvalidInput
from covekit.execution.grounding import _evidence
from hypothesis import given
from hypothesis import strategies as st

EVIDENCE = (
    "Sources:\n\n[1] refunds.md\nRefunds take 5 days. Gift cards are final.\n\n"
    "[2] office.md — Contact\nOur office is in Berlin. It opens at 9 on weekdays."
)


def msgs(question: str, evidence: str = EVIDENCE) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "Answer from the sources."},
        {"role": "user", "content": evidence},
        {"role": "user", "content": question},
    ]


def schema_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


def test_answers_with_cited_verbatim_sentences() -> None:
    model = ExtractiveModel()
    assert isinstance(model, ModelBase)
    reply = model.complete(msgs("How long do refunds take?"))
    assert reply.text == "Refunds take 5 days [1]."
    assert reply.finish_reason == "stop" and reply.model == "extractive"
    assert reply.prompt_tokens is None  # no tokenizer given
    reply = model(msgs("When does it open on weekdays?"))  # the Model protocol
    assert reply.text.startswith("It opens at 9 on weekdays [2].")


def test_refuses_without_support() -> None:
    model = ExtractiveModel(refusal="not enough evidence")
    for messages in (msgs("Who won the cup final?"), msgs("refunds?", evidence="no blocks here")):
        reply = model.complete(messages)
        assert (reply.text, reply.finish_reason) == ("not enough evidence", "refusal")
    strict = ExtractiveModel(min_support=1.0)
    assert strict.complete(msgs("How long do refunds take?")).finish_reason == "refusal"


def test_max_sentences_and_order() -> None:
    model = ExtractiveModel(max_sentences=2, min_support=0.1, relative_cutoff=0.0)
    text = model.complete(msgs("refunds office Berlin")).text
    sents = [s.text for s in ground(text, dict(_evidence(msgs("x")))).sentences]
    assert len(sents) == 2
    assert sents[0] == "Our office is in Berlin [2]."  # covers two terms of three


def test_question_and_evidence_in_one_message() -> None:
    reply = ExtractiveModel().complete(
        [{"role": "user", "content": "How long do refunds take?\n\n[1] Refunds take 5 days."}]
    )
    assert reply.text == "Refunds take 5 days [1]."


def test_skips_marker_like_and_unbalanced_sentences() -> None:
    evidence = '[1] a\nRefunds take 5 days [12]. Refunds "take time.\n\n[2] b\nRefunds take 7 days.'
    assert ExtractiveModel().complete(msgs("refunds take days", evidence)).text == (
        "Refunds take 7 days [2]."
    )


def test_headings_are_not_answers() -> None:
    """A Markdown heading that matches the question is a title, not a claim: the answer
    is the sentence under it (verbatim, still a substring of the evidence)."""
    evidence = (
        "Sources:\n\n[1] refunds.md — Refunds\n## How to request a refund\n\n"
        "Write to billing from the owner's address to request a refund.\n\n"
        "### Refund\nApproved refunds arrive within 5-10 business days."
    )
    reply = ExtractiveModel(max_sentences=2).complete(msgs("How do I request a refund?", evidence))
    assert "#" not in reply.text
    assert reply.text.startswith(
        "Write to billing from the owner's address to request a refund [1]."
    )
    only = "Sources:\n\n[1] refunds.md\n## Refund policy\n\n## Refund request"
    assert ExtractiveModel().complete(msgs("refund policy", only)).finish_reason == "refusal"


def test_json_schema_filling() -> None:
    model = ExtractiveModel()
    schema = {
        "type": "object",
        "properties": {
            "answer": {"type": "string"},
            "sources": {"type": "array", "items": {"type": "string"}},
            "refused": {"type": "boolean"},
            "confidence": {"type": "number"},
            "tone": {"enum": ["neutral", "warm"]},
            "note": {"type": ["string", "null"]},
        },
        "required": ["answer", "sources", "refused", "confidence", "tone", "note"],
        "additionalProperties": False,
    }
    fmt = schema_format(schema)
    value = json.loads(model.complete(msgs("How long do refunds take?"), response_format=fmt).text)
    assert value == {
        "answer": "Refunds take 5 days [1].",
        "sources": ["1"],
        "refused": False,
        "confidence": pytest.approx(0.4),
        "tone": "neutral",
        "note": None,
    }
    assert covekit.Schema(schema).validate(value).valid
    value = json.loads(model.complete(msgs("Who won the cup?"), response_format=fmt).text)
    assert value["refused"] is True and value["sources"] == []


def test_json_schema_citation_objects_and_refs() -> None:
    schema = {
        "$defs": {
            "Cite": {
                "type": "object",
                "properties": {"marker": {"type": "integer"}, "quote": {"type": "string"}},
                "required": ["marker", "quote"],
            }
        },
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "citations": {"type": "array", "items": {"$ref": "#/$defs/Cite"}},
        },
        "required": ["text", "citations"],
    }
    reply = ExtractiveModel().complete(
        msgs("How long do refunds take?"), response_format=schema_format(schema)
    )
    assert json.loads(reply.text) == {
        "text": "Refunds take 5 days [1].",
        "citations": [{"marker": 1, "quote": "Refunds take 5 days."}],
    }
    plain = ExtractiveModel().complete(
        msgs("How long do refunds take?"), response_format={"type": "json_object"}
    )
    assert json.loads(plain.text) == {"answer": "Refunds take 5 days [1].", "citations": [1]}


def test_usage_with_a_tokenizer_and_max_tokens_and_stop() -> None:
    model = ExtractiveModel(tokenizer="o200k_base", max_sentences=3, min_support=0.1)
    messages = msgs("refunds office Berlin opens")
    full = model.complete(messages)
    tok = covekit.get_tokenizer("o200k_base")
    assert full.completion_tokens == tok.count(full.text)
    assert full.prompt_tokens == covekit.count_chat_tokens(messages, tokenizer=tok)
    short = model.complete(messages, max_tokens=8)
    assert short.completion_tokens is not None and short.completion_tokens <= 8
    assert model.complete(messages, stop=["[2]"]).text.endswith("Berlin ")


def test_identity_names_the_options() -> None:
    a, b = ExtractiveModel(), ExtractiveModel(min_support=0.5)
    assert a.identity() != b.identity()
    assert a.identity() == ExtractiveModel().identity()
    assert a.identity()["class"] == "ExtractiveModel"


def test_edges_unicode_and_huge() -> None:
    model = ExtractiveModel()
    cjk = "[1] 東京.md\n東京は日本の首都です。大阪は大きい。"
    assert model.complete(msgs("日本の首都は", cjk)).text == "東京は日本の首都です [1]。"
    big = "[1] big.md\n" + " ".join(f"Fact {i} is about item{i}." for i in range(20000))
    assert (
        model.complete(msgs("what about item19999?", big)).text
        == "Fact 19999 is about item19999 [1]."
    )
    assert model.complete(msgs("", EVIDENCE)).finish_reason == "refusal"


def test_bad_input() -> None:
    model = ExtractiveModel()
    with pytest.raises(InvalidInput, match="no user message"):
        model.complete([{"role": "system", "content": "hi"}])
    with pytest.raises(InvalidInput, match="list of"):
        model.complete({"role": "user", "content": "hi"})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="messages\\[0\\]"):
        model.complete(["hi"])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="response_format"):
        model.complete(msgs("q"), response_format={"type": "xml"})
    with pytest.raises(InvalidInput, match="schema"):
        model.complete(msgs("q"), response_format={"type": "json_schema"})
    with pytest.raises(DeadlineExceeded):
        model.complete(msgs("q"), deadline=covekit.Deadline.at(1.0, clock=lambda: 2.0))
    for kwargs in ({"max_sentences": 0}, {"min_support": 2}, {"refusal": ""}, {"tokenizer": 3}):
        with pytest.raises(InvalidInput):
            ExtractiveModel(**kwargs)  # type: ignore[arg-type]


words = st.sampled_from(
    ["Refunds", "take", "5", "days", "Berlin", "office", "東京", "café", "[3]", '"', "not", "."]
)
sentences = st.lists(words, min_size=1, max_size=8).map(lambda w: " ".join(w) + ".")
passages = st.lists(sentences, min_size=1, max_size=4).map(" ".join)


@given(
    st.dictionaries(st.integers(1, 6), passages, min_size=0, max_size=4),
    st.lists(words, max_size=6),
)
def test_answers_are_verbatim_cited_and_grounded(evidence: dict[int, str], q: list[str]) -> None:
    blocks = "Sources:\n\n" + "\n\n".join(
        f"[{m}] doc{m}.md\n{t}" for m, t in sorted(evidence.items())
    )
    messages = msgs(" ".join(q), blocks)
    model = ExtractiveModel(min_support=0.2)
    reply = model.complete(messages)
    assert model.complete(messages) == reply  # deterministic
    if reply.finish_reason == "refusal":
        assert reply.text == model.refusal
        return
    found = _evidence(messages, skip=2)
    g = ground(reply.text, found)
    assert g.dangling_markers == ()
    assert set(g.cited) <= set(found)
    for s in g.sentences:
        plain = re.sub(r" \[\d+\]", "", s.text)
        assert s.markers and all(plain in found[m] for m in s.markers)
        assert s.support == 1.0
    assert g.ok and all(q.verbatim for q in g.quotes)


def test_with_a_context_builder_the_answer_is_grounded_in_the_context() -> None:
    kb = covekit.KnowledgeBase(covekit.Chunker("o200k_base", max_tokens=48))
    kb.add(
        [
            covekit.Document(
                "Refunds take 5 days. Gift cards cannot be refunded.", "r.md", acl=["u"]
            ),
            covekit.Document(
                "Our office is in Berlin. It opens at 9 on weekdays.", "o.md", acl=["u"]
            ),
            covekit.Document("Refunds of gift cards are never possible.", "g.md", acl=["u"]),
        ]
    )
    ctx = covekit.ContextBuilder(kb, model="gpt-4o").build(
        "Can gift cards be refunded?", principals=["u"], budget=400
    )
    reply = ExtractiveModel().complete(ctx.messages)
    g = ground(reply.text, ctx)
    assert reply.finish_reason == "stop" and g.ok and g.score == 1.0
    assert {ctx.citations[m].doc_id for m in g.cited} <= {"r.md", "g.md"}
