"""covekit.ground: per-sentence support, dangling markers, verbatim quotes, with a
Context or a plain mapping of passages."""

from __future__ import annotations

import covekit
import grounding_reference
import pytest
from covekit import Grounding, QuotedSpan, SentenceSupport, ground
from covekit._core import Grounder
from covekit.errors import InvalidInput, InvalidUtf8
from hypothesis import given
from hypothesis import strategies as st

PASSAGES = {
    1: "Refunds take 5 days. Shipping is free for orders over 50 euros.",
    2: "Our office is in Berlin. Refunds are not available for gift cards.",
}


def test_supported_and_unsupported_sentences() -> None:
    g = ground("Refunds take 5 days [1]. The office is in Paris [2].", PASSAGES)
    assert isinstance(g, Grounding)
    first, second = g.sentences
    assert isinstance(first, SentenceSupport)
    assert (first.text, first.markers, first.support, first.supported) == (
        "Refunds take 5 days [1].",
        (1,),
        1.0,
        True,
    )
    assert first.source == 1 and first.source_span == (0, 20)
    # {offic, pari}: office found, Paris not, no bigram: (1/2 + 0) / 2.
    assert second.support == pytest.approx(0.25)
    assert g.unsupported == (second,)
    assert g.cited == (1, 2) and not g.ok
    assert g.score == pytest.approx((1.0 * 4 + 0.25 * 2) / 6)


def test_negation_counts() -> None:
    g = ground("Refunds are available for gift cards [2].", PASSAGES)
    assert 0 < g.sentences[0].support < 1  # "not" is a content term here


def test_dangling_markers_are_errors() -> None:
    g = ground("Refunds take 5 days [1][9]. Berlin [4, 2].", PASSAGES)
    assert g.dangling_markers == (9, 4)
    assert g.errors[:2] == (
        "citation [9] points at nothing in the context",
        "citation [4] points at nothing in the context",
    )
    assert g.sentences[0].support == 1.0  # [1] still supports it
    assert g.cited == (1, 2)


def test_quotes_must_be_verbatim() -> None:
    g = ground(
        'They say "orders over 50   euros" [1]. And \u201cRefunds take 6 days\u201d [1].', PASSAGES
    )
    q1, q2 = g.quotes
    assert isinstance(q1, QuotedSpan)
    assert (q1.text, q1.verbatim, q1.source, q1.sentence) == ("orders over 50   euros", True, 1, 0)
    assert (q2.text, q2.verbatim, q2.source, q2.sentence) == ("Refunds take 6 days", False, None, 1)
    # The sentence with a non-verbatim quote is unsupported whatever its support.
    assert [s.supported for s in g.sentences] == [True, False]
    assert any("not verbatim" in e for e in g.errors)


def test_uncited_sentence_checked_against_the_cited_passages() -> None:
    g = ground("Our office is in Berlin. Refunds take 5 days [1].", PASSAGES)
    assert g.sentences[0].markers == () and g.sentences[0].support < 0.5  # checked against [1]
    g = ground("Our office is in Berlin.", PASSAGES)  # nothing cited: every passage
    assert g.sentences[0].support == 1.0 and g.sentences[0].source == 2


def test_marker_only_sentence_joins_the_one_before() -> None:
    g = ground("Refunds take 5 days. [1]", PASSAGES)
    assert [s.text for s in g.sentences] == ["Refunds take 5 days. [1]"]
    assert g.sentences[0].markers == (1,)


def test_with_a_context() -> None:
    kb = covekit.KnowledgeBase(covekit.Chunker("o200k_base", max_tokens=64))
    kb.add(
        [
            covekit.Document("Refunds take 5-10 business days.", "refunds.md", acl=["u:1"]),
            covekit.Document(
                "Our office is in Berlin.\n\nIt opens at 9.", "office.md", acl=["u:1"]
            ),
        ]
    )
    ctx = covekit.ContextBuilder(kb, model="gpt-4o").build(
        "How long do refunds take? Where is the office?", principals=["u:1"], budget=400
    )
    by_doc = {c.doc_id: m for m, c in ctx.citations.items()}
    r, o = by_doc["refunds.md"], by_doc["office.md"]
    g = ground(f"Refunds take 5-10 business days [{r}]. It opens at 9 [{o}]. See [{o + 5}].", ctx)
    assert [s.support for s in g.sentences[:2]] == [1.0, 1.0]
    assert g.dangling_markers == (o + 5,)
    # source_span is an offset into the chunk's shown text.
    assert g.sentences[1].source_span is not None


def test_empty_answer_and_empty_passages() -> None:
    g = ground("", PASSAGES)
    assert g.sentences == () and g.score == 0.0 and not g.ok
    g = ground("Refunds take 5 days [1].", {})
    assert g.dangling_markers == (1,) and g.sentences[0].support == 0.0
    assert ground("\u2014 !", PASSAGES).sentences[0].support == 1.0  # nothing to check


def test_unicode_offsets() -> None:
    passages = {1: "東京は日本の首都です。大阪は大きい。", 2: "Café crème 🍰 coûte 5 €."}
    text = "😀 Ça va. 東京は日本の首都です [1]。Café crème 🍰 coûte 5 € [2]."
    g = ground(text, passages)
    for s in g.sentences:
        assert text[s.start : s.end] == s.text
    assert [s.support for s in g.sentences[1:]] == [1.0, 1.0]
    assert g.sentences[1].source_span == (0, 11)


def test_huge_answer() -> None:
    text = "Refunds take 5 days [1]. " * 20000
    g = ground(text, PASSAGES)
    assert len(g.sentences) == 20000 and g.ok


def test_bad_input() -> None:
    with pytest.raises(InvalidInput, match="Context or a mapping"):
        ground("x", ["Refunds take 5 days."])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="markers must be int"):
        ground("x", {"1": "text"})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match=r"passage \[1\] must be a str"):
        ground("x", {1: b"text"})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="text must be a str"):
        ground(None, PASSAGES)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="threshold"):
        ground("x", PASSAGES, threshold=1.5)
    with pytest.raises(InvalidInput):
        Grounder(overlap_weight=2.0)
    with pytest.raises(InvalidUtf8):
        Grounder().rank(b"\xff", ["x"])
    with pytest.raises(TypeError, match="not a single str"):
        Grounder().rank("q", "a passage")


def test_lone_surrogates_keep_offsets() -> None:
    text = "A\ud800 claim [1]."
    g = ground(text, {1: "A claim."})
    assert g.sentences[0].end == len(text)


words = st.sampled_from(
    ["refunds", "take", "5", "days", "Berlin", "office", "東京", "café", "not", "free", "the"]
)
sentence = st.lists(words, min_size=1, max_size=8).map(lambda w: " ".join(w).capitalize() + ".")
text = st.lists(sentence, min_size=0, max_size=6).map(" ".join)


@given(text, st.dictionaries(st.integers(1, 5), text, max_size=4))
def test_offsets_reconstruct_the_sentences(answer: str, passages: dict[int, str]) -> None:
    g = ground(answer, passages)
    for s in g.sentences:
        assert answer[s.start : s.end] == s.text
        assert 0.0 <= s.support <= 1.0
        assert s.source is None or s.source in passages
    for q in g.quotes:
        assert answer[q.start : q.end] == q.text
    assert set(g.dangling_markers).isdisjoint(passages)
    assert 0.0 <= g.score <= 1.0


@given(text, st.integers(1, 9))
def test_a_verbatim_cited_sentence_is_fully_supported(passage: str, marker: int) -> None:
    spans = Grounder().sentences(passage)
    for start, end in spans[:3]:
        s = passage[start:end]
        g = ground(f"{s} [{marker}]", {marker: passage})
        assert g.sentences[0].support == 1.0


@given(text, st.lists(text, max_size=4))
def test_rank_equals_the_python_reference(question: str, passages: list[str]) -> None:
    got = Grounder().rank(question, passages)
    want = grounding_reference.rank(question, passages)
    assert [g[:3] for g in got] == [w[:3] for w in want]
    for g, w in zip(got, want, strict=True):
        assert g[3:6] == pytest.approx(w[3:6], rel=1e-12, abs=1e-12) and g[6] == w[6]


markers = st.sampled_from([" [1]", " [2]", " [3]", " [1, 2]", "", ""])


@given(st.lists(st.tuples(sentence, markers), max_size=5), st.dictionaries(st.integers(1, 2), text))
def test_support_equals_the_python_reference(
    parts: list[tuple[str, str]], passages: dict[int, str]
) -> None:
    answer = " ".join(s[:-1] + m + "." for s, m in parts)
    got = ground(answer, passages).sentences
    want = grounding_reference.support(answer, passages)
    assert [(s.start, s.end, s.markers) for s in got] == [w[:3] for w in want]
    assert [s.support for s in got] == pytest.approx([w[3] for w in want], rel=1e-12)


@pytest.mark.parametrize(
    ("content", "want"),
    [
        (
            "Sources:\n\n[1] a.md\nRefunds take 5 days.\n\n[2] b.md\nBerlin.",
            {1: "Refunds take 5 days.", 2: "Berlin."},
        ),
        ("[1] Refunds take 5 days.\n[2] Berlin.", {1: "Refunds take 5 days.", 2: "Berlin."}),
        # A line like a header inside a body (no blank line before it) stays in the body.
        (
            "[1] a.md\nSee:\n[2] Smith et al.\n\n[2] b.md\nBerlin.",
            {1: "See:\n[2] Smith et al.", 2: "Berlin."},
        ),
        # The context builder's conflict note is not part of the last passage.
        (
            "Sources:\n\n[1] a.md\n5 days.\n\n[2] b.md\n7 days.\n\n"
            "Note: these sources disagree on days: [1] 5 days | [2] 7 days.",
            {1: "5 days.", 2: "7 days."},
        ),
        ("no evidence here", {}),
        ("", {}),
    ],
)
def test_evidence_blocks_of_messages(content: str, want: dict[int, str]) -> None:
    from covekit.execution.grounding import _evidence

    messages = [
        {"role": "assistant", "content": "[1] an old answer"},
        {"role": "user", "content": content},
    ]
    assert _evidence(messages) == want
