"""The pipeline end to end with scripted models: answers, refusals and escalations as
recorded outcomes, citations that point into the documents, grounding, redaction, the
trace, save/load, and the property that whatever the model says, an answer never cites
a chunk the caller may not see and never shows a redacted value the user did not give."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import covekit
import pytest
from covekit.errors import BudgetExceeded, InvalidInput
from covekit.execution.calibrate import Calibrator
from covekit.pipeline import Pipeline
from hypothesis import given
from hypothesis import strategies as st

DOCS = {
    "refunds.md": ("Refunds take 5 business days. Annual plans are refunded pro rata.",
                   ["role:support"]),
    "billing.md": ("Invoices are due within 30 days. Late invoices incur a 2% fee.",
                   ["role:support", "role:finance"]),
    "contacts.md": ("For refunds write to helpdesk@corp.io or call +1 415-555-2671.",
                    ["role:support"]),
    "payroll.md": ("Salaries are paid monthly to card 4111 1111 1111 1111.", ["role:hr"]),
}  # fmt: skip
DOC_PII = ["helpdesk@corp.io", "415-555-2671", "4111 1111 1111 1111"]
USER_EMAIL = "ann.lee@example.org"


@pytest.fixture(scope="module")
def kb() -> covekit.KnowledgeBase:
    base = covekit.KnowledgeBase(covekit.Chunker("o200k_base", max_tokens=64))
    base.add([covekit.Document(t, d, acl=acl) for d, (t, acl) in DOCS.items()])
    return base


def _grounder() -> Any:
    """covekit.ground when the grounding module is there, else None (the tests that
    need grounding then skip)."""
    try:
        from covekit.execution.grounding import ground
    except ImportError:
        return None
    return ground


GROUND = _grounder()
needs_ground = pytest.mark.skipif(GROUND is None, reason="covekit.ground is not merged yet")


def pipe(kb: covekit.KnowledgeBase, replies: list[Any], **kw: Any) -> Pipeline:
    return Pipeline(kb, covekit.ScriptedModel(replies), **kw)


def marker_of(p: Pipeline, question: str, doc_id: str, who: list[str]) -> int:
    ctx = p.builder.build(question, principals=who, budget=3000, system=p.system)
    return next(n for n, c in ctx.citations.items() if c.doc_id == doc_id)


# ----------------------------------------------------------------------------- normal
@needs_ground
def test_answer_cites_and_quotes_the_document(kb: covekit.KnowledgeBase) -> None:
    q = "How long do refunds take?"
    p0 = pipe(kb, [])
    n = marker_of(p0, q, "refunds.md", ["role:support"])
    p = pipe(kb, [covekit.ModelReply(f"Refunds take 5 business days [{n}].", prompt_tokens=90,
                                     completion_tokens=9, cost=1e-5, model="scripted-1",
                                     finish_reason="stop")])  # fmt: skip
    a = p.answer(q, principals=["role:support"])
    assert a.outcome == "answered" and a.text == f"Refunds take 5 business days [{n}]."
    (c,) = a.citations
    assert (c.marker, c.doc_id) == (n, "refunds.md")
    assert DOCS["refunds.md"][0][c.start : c.end] == c.quote == "Refunds take 5 business days."
    assert c.version == kb.document("refunds.md").version
    assert a.grounding is not None and not a.grounding.unsupported
    assert 0.0 <= a.confidence <= 1.0 and "one source only" in a.reasons
    chat = next(s for s in a.trace.spans if s.name.startswith("chat "))
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.usage.input_tokens"] == 90
    assert chat.attributes["gen_ai.usage.output_tokens"] == 9
    assert chat.attributes["gen_ai.response.model"] == "scripted-1"
    assert chat.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert a.trace.names()[0] == "covekit.pipeline" and a.trace.root.status == "OK"
    assert a.manifest.summary()["kept"] >= 1
    d = json.loads(json.dumps(a.to_dict()))
    assert d["citations"][0]["quote"] == c.quote


@needs_ground
def test_dangling_marker_and_unsupported_sentence(kb: covekit.KnowledgeBase) -> None:
    q = "How long do refunds take?"
    p = pipe(kb, ["Refunds take 5 business days [1]. The moon is made of cheese [42]."])
    a = p.answer(q, principals=["role:support"])
    assert all(c.marker != 42 for c in a.citations)
    assert any("[42]" in r for r in a.reasons)
    assert "answer not grounded in the context" in a.reasons
    assert a.signals.dangling == 1 and a.grounding.unsupported


@needs_ground
def test_citing_a_chunk_the_caller_may_not_see(kb: covekit.KnowledgeBase) -> None:
    # role:finance sees billing.md only: one marker, [1]; [2] and [3] point at nothing
    p = pipe(kb, ["Salaries are paid monthly [2]. Invoices are due within 30 days [1][3]."])
    a = p.answer("When are invoices due?", principals=["role:finance"])
    assert {c.doc_id for c in a.citations} <= {"billing.md"}
    assert a.signals.dangling == 2


@needs_ground
def test_contract_value_and_response_format(kb: covekit.KnowledgeBase) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"},
              "citations": {"type": "array", "items": {"type": "integer"}}},
              "required": ["answer", "citations"]}  # fmt: skip
    model = covekit.ScriptedModel(
        ['{"answer": "Invoices are due within 30 days.", "citations": [1]}']
    )
    p = Pipeline(kb, model, contract=covekit.Contract(schema))
    a = p.answer("When are invoices due?", principals=["role:finance"])
    assert a.value == {"answer": "Invoices are due within 30 days.", "citations": [1]}
    assert a.text == "Invoices are due within 30 days." and a.citations[0].doc_id == "billing.md"
    rf = model.calls[0].params["response_format"]
    assert (
        rf["type"] == "json_schema" and rf["json_schema"]["schema"]["additionalProperties"] is False
    )


def test_contract_escalation_is_an_outcome(kb: covekit.KnowledgeBase) -> None:
    got: list[Any] = []
    c = covekit.Contract({"type": "object"}, on_fail=["escalate"], escalate=got.append)
    a = pipe(kb, ["not json"], contract=c).answer("refunds?", principals=["role:support"])
    assert a.outcome == "escalated" and "contract" in a.reason and len(got) == 1
    c = covekit.Contract({"type": "object"}, on_fail=["raise"])
    a = pipe(kb, ["not json"], contract=c).answer("refunds?", principals=["role:support"])
    assert a.outcome == "escalated" and "ran out" in a.reason
    chat = next(s for s in a.trace.spans if s.name.startswith("chat "))
    assert chat.attributes["covekit.verdicts"][0]["ok"] is False


# ----------------------------------------------------------------------------- refusals
def test_no_evidence_refuses_without_calling_the_model(kb: covekit.KnowledgeBase) -> None:
    model = covekit.ScriptedModel(["anything [1]"])
    a = Pipeline(kb, model).answer("refunds?", principals=["role:nobody"])
    assert a.refused and a.reason == "no evidence the caller may see" and model.calls == []
    assert a.confidence == 0.0 and a.citations == ()


def test_deadline_already_past(kb: covekit.KnowledgeBase) -> None:
    model = covekit.ScriptedModel(["x"])
    a = Pipeline(kb, model).answer("refunds?", principals=["role:support"],
                                   deadline=covekit.Deadline(0.0))  # fmt: skip
    assert a.refused and "deadline" in a.reason and model.calls == []


def test_policy_blocks_question_and_answer(kb: covekit.KnowledgeBase) -> None:
    policy = covekit.Policy(banned_terms=["Project Falcon"])
    a = pipe(kb, ["x"], policy=policy).answer("Tell me about Project Falcon refunds",
                                               principals=["role:support"])  # fmt: skip
    assert a.refused and "policy blocked the question" in a.reason
    p = pipe(kb, ["Refunds are part of Project Falcon [1]."], policy=policy,
             grounder=GROUND or (lambda t, c, **k: None))  # fmt: skip
    a = p.answer("How long do refunds take?", principals=["role:support"])
    assert a.refused and "policy blocked the answer" in a.reason and a.text == ""


def test_model_failures_are_outcomes(kb: covekit.KnowledgeBase) -> None:
    a = pipe(kb, [RuntimeError("the server fell over")]).answer(
        "refunds?", principals=["role:support"]
    )
    assert a.escalated and "RuntimeError" in a.reason
    a = pipe(kb, [TimeoutError("slow")]).answer("refunds?", principals=["role:support"])
    assert a.escalated and "TimeoutError" in a.reason
    a = pipe(kb, ["Not enough evidence to answer."]).answer("refunds?", principals=["role:support"])
    assert a.refused and a.reason == "not enough evidence"


# ----------------------------------------------------------------------------- redaction
@needs_ground
def test_redaction_restores_only_what_the_user_gave(kb: covekit.KnowledgeBase) -> None:
    model = covekit.ScriptedModel(["We will write to <EMAIL_1>; or mail helpdesk@corp.io, "
                                   "call +1 415-555-2671 [1]."])  # fmt: skip
    p = Pipeline(kb, model, redactor=covekit.Redactor())
    a = p.answer(f"How do I get a refund? I am {USER_EMAIL}", principals=["role:support"])
    sent = json.dumps([c.messages for c in model.calls])
    assert USER_EMAIL not in sent  # the model never saw the user's address
    assert USER_EMAIL in a.text  # ...which comes back to the user
    dumped = a.to_json()
    for secret in DOC_PII:
        assert secret not in dumped
    trace = json.dumps(a.trace.to_dict()) + json.dumps(a.manifest.to_dict())
    assert USER_EMAIL not in trace


# ----------------------------------------------------------------------------- router, tiers
def test_router_picks_the_model_tier(kb: covekit.KnowledgeBase) -> None:
    router = covekit.Router(
        workflows=[covekit.Workflow("billing", tier="small"), covekit.Workflow("general")],
        rules=[covekit.RouteRule("billing", keywords=["invoice"], name="invoices")],
    )
    small = covekit.ScriptedModel(["Not enough evidence."])
    large = covekit.ScriptedModel(["Not enough evidence."])
    p = Pipeline(kb, {"small": small, "default": large}, router=router)
    a = p.answer("When is my invoice due?", principals=["role:finance"])
    assert a.route.workflow == "billing" and len(small.calls) == 1 and large.calls == []
    assert a.trace.span("route").attributes["covekit.route.tier"] == "small"


# ----------------------------------------------------------------------------- save / load
def test_save_load_round_trip(kb: covekit.KnowledgeBase, tmp_path: Path) -> None:
    cal = Calibrator("logistic").fit([[0.1] * 10, [0.9] * 10, [0.2] * 10], [0, 1, 0])
    p = pipe(kb, ["x"], budget=1500, calibrator=cal, context={"candidates": 10, "order": "rank"},
             system="Be brief.")  # fmt: skip
    f = p.save(tmp_path / "p.json")
    q = Pipeline.load(f, kb, covekit.ScriptedModel(["x"]))
    assert q.budget == 1500 and q.system == "Be brief." and q.builder.candidates == 10
    assert q.builder.order == "rank"
    assert q.calibrator.predict([[0.5] * 10]).tolist() == cal.predict([[0.5] * 10]).tolist()
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InvalidInput):
        Pipeline.load(tmp_path / "bad.json", kb, covekit.ScriptedModel([]))
    (tmp_path / "other.json").write_text('{"format": "x"}', encoding="utf-8")
    with pytest.raises(InvalidInput):
        Pipeline.load(tmp_path / "other.json", kb, covekit.ScriptedModel([]))


@needs_ground
def test_fit_calibrator_from_answers(kb: covekit.KnowledgeBase) -> None:
    p = pipe(kb, ["Refunds take 5 business days [1].", "Invoices are due within 30 days [1].",
                  "Not enough evidence."])  # fmt: skip
    asked = ["How long do refunds take?", "When are invoices due?", "What is the moon?"]
    answers = [p.answer(q, principals=["role:support"]) for q in asked]
    cal = p.fit_calibrator(answers, [1, 0, 0])
    assert cal.fitted and cal.n_examples == 2
    with pytest.raises(InvalidInput):
        p.fit_calibrator(answers, [1])


# ----------------------------------------------------------------------------- bad input
def test_bad_input(kb: covekit.KnowledgeBase) -> None:
    p = pipe(kb, ["x"])
    for q in ("", "   ", None, b"refunds"):
        with pytest.raises(InvalidInput):
            p.answer(q, principals=["role:support"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        p.answer("refunds?", principals=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        p.answer("refunds?", principals="role:support")
    with pytest.raises(InvalidInput):
        p.answer("refunds?", principals=["role:support"], history=[{"role": "user"}])
    with pytest.raises(InvalidInput):
        p.answer("refunds?", principals=["role:support"], deadline="soon")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Pipeline(object(), covekit.ScriptedModel([]))
    with pytest.raises(InvalidInput):
        Pipeline(kb, "gpt-4o")
    with pytest.raises(InvalidInput):
        Pipeline(kb, {})
    with pytest.raises(InvalidInput):
        Pipeline(kb, covekit.ScriptedModel([]), budget=0)
    with pytest.raises(InvalidInput):
        Pipeline(kb, covekit.ScriptedModel([]), context={"no_such_option": 1})
    with pytest.raises(InvalidInput):
        Pipeline(kb, covekit.ScriptedModel([]), contract={"type": "object"})  # type: ignore[arg-type]


def test_edges_unicode_and_huge_question(kb: covekit.KnowledgeBase) -> None:
    a = pipe(kb, ["Not enough evidence."]).answer("¿Cuánto tarda un reembolso? 退款 👍",
                                                   principals=["role:support"])  # fmt: skip
    assert a.outcome == "refused"
    with pytest.raises(BudgetExceeded):  # the question alone does not fit the prompt budget
        pipe(kb, ["x"]).answer("refund " * 20_000, principals=["role:support"])


# ----------------------------------------------------------------------------- property
_FRAGMENTS = st.sampled_from(
    ["Refunds take 5 business days", "Salaries are paid monthly", "<EMAIL_1>", "<EMAIL_2>",
     "<CREDIT_CARD_1>", USER_EMAIL, *DOC_PII, "[1]", "[2]", "[3]", "[7]", "[0]", "[1, 2]",
     ".", " ", "\n", "👍", '{"answer": "x"}']
)  # fmt: skip


@needs_ground
@given(st.lists(_FRAGMENTS, max_size=12), st.sampled_from([["role:finance"], ["role:support"]]))
def test_property_never_cites_forbidden_or_shows_redacted(
    kb: covekit.KnowledgeBase, parts: list[str], who: list[str]
) -> None:
    reply = " ".join(parts) or "."
    p = Pipeline(kb, covekit.ScriptedModel([reply]), redactor=covekit.Redactor())
    a = p.answer(f"How long do refunds take? Write to {USER_EMAIL}", principals=who)
    allowed = {cid for d, (_, acl) in DOCS.items() if set(acl) & set(who)
               for cid in kb.document(d).chunk_ids}  # fmt: skip
    assert all(c.chunk_id in allowed for c in a.citations)
    dumped = a.to_json()
    for secret in DOC_PII:
        assert secret not in dumped
    assert not re.search(r"\b4111\b", dumped)
    exported = json.dumps(a.trace.to_dict()) + json.dumps(
        a.manifest.to_dict() if a.manifest else {}
    )
    assert USER_EMAIL not in exported


def test_plain_callable_model_budget_object_and_history(
    kb: covekit.KnowledgeBase, tmp_path: Path
) -> None:
    seen: list[Any] = []

    def model(messages: list[dict[str, Any]], max_tokens: int | None = None) -> str:
        seen.append(messages)
        return "Not enough evidence."

    budget = covekit.Budget(max_prompt_tokens=800, max_completion_tokens=100, model="gpt-4o-mini")
    p = Pipeline(kb, model, budget=budget, redactor=covekit.Redactor())
    history = [
        {"role": "user", "content": f"I am {USER_EMAIL}"},
        {"role": "assistant", "content": "Noted, helpdesk@corp.io will answer."},
    ]
    a = p.answer("How long do refunds take?", principals=["role:support"], history=history)
    assert a.refused and a.reason == "not enough evidence"
    sent = json.dumps(seen)
    assert USER_EMAIL not in sent and "helpdesk@corp.io" not in sent
    assert a.trace.span("redact").attributes["covekit.redaction.counts"] == {"EMAIL": 2}
    f = p.save(tmp_path / "p.json")
    q = Pipeline.load(f, kb, model)
    assert isinstance(q.budget, covekit.Budget) and q.budget.max_prompt_tokens == 800
    assert json.loads(f.read_text(encoding="utf-8"))["config"]["redactor"] is True


def test_filter_is_applied(kb: covekit.KnowledgeBase) -> None:
    model = covekit.ScriptedModel(["x"])
    a = Pipeline(kb, model).answer(
        "refunds?",
        principals=["role:support"],
        filter=covekit.Filter.tags_any(["nothing-has-this-tag"]),
    )
    assert a.refused and a.reason == "no evidence the caller may see" and model.calls == []


@needs_ground
def test_huge_and_unicode_replies(kb: covekit.KnowledgeBase) -> None:
    huge = "Refunds take 5 business days [1]. " * 5_000 + "退款需要五天 👍 [1]."
    a = pipe(kb, [huge]).answer("How long do refunds take?", principals=["role:support"])
    assert a.outcome == "answered" and len(a.citations) == 1
    assert len(a.grounding.sentences) > 1000
    for empty in ("", "  \n"):
        a = pipe(kb, [empty]).answer("How long do refunds take?", principals=["role:support"])
        assert a.escalated and a.reason == "the model returned an empty answer"
    a = pipe(kb, ["Refunds are slow."]).answer("refunds?", principals=["role:support"])
    assert a.outcome == "answered" and a.citations == ()
    assert "answer not grounded in the context" in a.reasons


@needs_ground
def test_answers_from_many_threads(kb: covekit.KnowledgeBase) -> None:
    from concurrent.futures import ThreadPoolExecutor

    model = covekit.ScriptedModel(
        [
            ("refunds", "Refunds take 5 business days [1]."),
            ("invoices", "Invoices are due within 30 days [1]."),
        ]
    )
    p = Pipeline(kb, model)
    asked = ["How long do refunds take?", "When are invoices due?"] * 12
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda q: p.answer(q, principals=["role:support"]), asked))
    for q, a in zip(asked, got, strict=True):
        want = "refunds.md" if "refunds" in q else "billing.md"
        assert a.outcome == "answered" and a.doc_ids == [want], (q, a.text, a.doc_ids)


def test_adjacent_values_are_all_redacted(kb: covekit.KnowledgeBase) -> None:
    """The scanner finds one of several adjacent values per pass: the pipeline redacts
    until nothing changes (regression: a run of cards after a phone number)."""
    reply = "Call 415-555-2671 " + " ".join(["4111 1111 1111 1111"] * 6) + " [1]."
    p = pipe(kb, [reply], redactor=covekit.Redactor(), grounder=lambda t, c, **k: None)
    a = p.answer("refunds?", principals=["role:finance"])
    assert "4111" not in a.to_json() and "415-555" not in a.to_json()
    assert a.text.count("<CREDIT_CARD_1>") == 6


# ----------------------------------------------------------------------------- confidence signals
def _reference_signals(a: covekit.Answer) -> dict[str, float | int]:
    """The standout and agreement signals recomputed from the answer's manifest with
    plain loops (statistics.pstdev for the spread)."""
    import statistics

    cands = a.manifest.candidates
    cited_markers = {c.marker for c in a.citations}
    cited = [c for c in cands if c.kept and c.marker in cited_markers]
    docs = {c.doc_id for c in a.citations}

    def score(c: Any, name: str) -> float:
        got = c.signals.get(name) or {}
        return float(got["score"]) if got.get("score") is not None else 0.0

    def rank(c: Any, name: str) -> int:
        got = c.signals.get(name) or {}
        return int(got["rank"]) if got.get("rank") is not None else 0

    out: dict[str, float | int] = {}
    for name, field in (("bm25", "lexical_z"), ("vector", "semantic_z")):
        pool = [score(c, name) for c in cands]
        best = max(score(c, name) for c in cited)
        sd = statistics.pstdev(pool) if len(pool) > 1 else 0.0
        out[field] = (best - statistics.fmean(pool)) / sd if sd > 0 else 0.0
    both = [max(rank(c, "bm25"), rank(c, "vector")) for c in cited
            if rank(c, "bm25") and rank(c, "vector")]  # fmt: skip
    out["agreement_rank"] = min(both) if both else 0
    out["document_rank"] = min(c.rank for c in cands if c.doc_id in docs)
    out["document_chunks"] = max(sum(1 for c in cands if c.doc_id == d) for d in docs)
    return out


@needs_ground
def test_standout_and_agreement_signals_match_the_manifest() -> None:
    emb = covekit.HashingEmbedder()
    texts = {
        "refunds.md": "Refunds take 5 business days. Refunds of annual plans are pro rata. "
        "Refunds go back to the card that paid.",
        "billing.md": "Invoices are due within 30 days. Late invoices incur a 2% fee.",
        "office.md": "Our office is in Berlin. The office opens at 9.",
        "cards.md": "Gift cards are final and are never refunded.",
    }
    emb.fit(list(texts.values()))
    base = covekit.KnowledgeBase(covekit.Chunker("o200k_base", max_tokens=12), emb)
    base.add([covekit.Document(t, d, acl=["u"]) for d, t in texts.items()], num_threads=1)
    q = "How long do refunds take?"
    p = pipe(base, [])
    n = marker_of(p, q, "refunds.md", ["u"])
    a = pipe(base, [f"Refunds take 5 business days [{n}]."]).answer(q, principals=["u"])
    s = a.signals
    ref = _reference_signals(a)
    assert s.lexical_z == pytest.approx(ref["lexical_z"], abs=1e-9)
    assert s.semantic_z == pytest.approx(ref["semantic_z"], abs=1e-9)
    assert (s.agreement_rank, s.document_rank, s.document_chunks) == (
        ref["agreement_rank"], ref["document_rank"], ref["document_chunks"])  # fmt: skip
    assert s.lexical_z > 0 and s.document_chunks >= 2  # refunds.md has several chunks
    assert s.to_dict()["document_chunks"] == s.document_chunks


@needs_ground
def test_a_calibrator_fitted_on_the_v1_features_still_predicts(kb: covekit.KnowledgeBase) -> None:
    """A saved calibrator of the 13 version-1 features sees their prefix (the new
    features were appended)."""
    from covekit.execution.calibrate import FEATURES

    cal = Calibrator(l2=1.0).fit([[0.1] * 13, [0.9] * 13, [0.2] * 13], [0, 1, 0])
    p = pipe(kb, ["Refunds take 5 business days [1]."], calibrator=cal)
    a = p.answer("How long do refunds take?", principals=["role:support"])
    assert a.outcome == "answered" and len(a.signals.features()) == len(FEATURES) > 13
    assert a.confidence == pytest.approx(float(cal.predict(a.signals.features()[:13])[0]))
    wrong = Calibrator(l2=1.0).fit([[0.1] * 20, [0.9] * 20], [0, 1])
    with pytest.raises(InvalidInput):  # wider than FEATURES: a calibrator of something else
        pipe(kb, ["Refunds take 5 business days [1]."], calibrator=wrong).answer(
            "How long do refunds take?", principals=["role:support"]
        )
