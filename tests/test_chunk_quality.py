"""The quality measure of the chunking benchmark (tests/benchmarks/chunk_quality.py).

Every chunker in bench_chunking.py is judged by this one function, so its definitions
are pinned here on small hand-made cases. No peer library and no tokenizer file is
needed: token counts come from a whitespace split.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))

from chunk_quality import (
    Quality,
    Span,
    is_block_boundary,
    is_mid_sentence,
    is_mid_word,
    is_sentence_end,
    measure,
)


def words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def spans_at(doc: str, *cuts: int) -> list[Span]:
    """Chunks of ``doc`` cut at ``cuts``, with correct offsets."""
    bounds = [0, *cuts, len(doc)]
    return [Span(doc[a:b], a, b) for a, b in itertools.pairwise(bounds) if a < b]


DOC = "The cat sat. The dog ran away! Did it? Yes.\n\nA new paragraph starts here."


def test_cut_mid_word_is_counted() -> None:
    cut = DOC.index("dog") + 1  # "d|og"
    q = measure(DOC, spans_at(DOC, cut), words, 100)
    assert (q.chunks, q.cuts, q.mid_word, q.mid_sentence) == (2, 1, 1, 1)


def test_cut_after_sentence_is_clean() -> None:
    cut = DOC.index("The dog")  # after "sat. "
    q = measure(DOC, spans_at(DOC, cut), words, 100)
    assert (q.cuts, q.mid_word, q.mid_sentence) == (1, 0, 0)


def test_cut_between_words_mid_sentence() -> None:
    cut = DOC.index(" ran")  # "dog| ran"
    q = measure(DOC, spans_at(DOC, cut), words, 100)
    assert (q.mid_word, q.mid_sentence) == (0, 1)


def test_end_of_document_is_not_a_cut() -> None:
    q = measure(DOC, [Span(DOC, 0, len(DOC))], words, 100)
    assert (q.chunks, q.cuts, q.mid_sentence, q.mid_word) == (1, 0, 0, 0)
    q = measure(DOC + "\n\n  ", [Span(DOC, 0, len(DOC))], words, 100)
    assert q.cuts == 0


@pytest.mark.parametrize(
    ("text", "cut_after", "mid"),
    [
        ("He said “Stop.” Then left.", "“Stop.”", False),  # closing quote skipped
        ("(See above.) Next.", "(See above.)", False),  # closing bracket skipped
        ("Pi is 3.14 or so.", "3.", True),  # a decimal point is no sentence end
        ("Use e.g.this form.", "e.g.", True),  # a period glued to a word is no end
        ("これは文です。次の文。", "これは文です。", False),  # CJK: no space needed
        ("Это вопрос? Да.", "Это вопрос?", False),
        ("क्या यह है। हाँ।", "क्या यह है।", False),  # Devanagari danda
        ("Wait... what", "Wait...", False),
        ("Hard wrapped line\nof prose goes on.", "Hard wrapped line", True),  # one \n
        ("First paragraph\n\nSecond one.", "First paragraph", False),  # blank line
        ("Intro text\n# Heading\nBody.", "Intro text", False),  # next line: heading
        ("Items follow\n- one\n- two", "Items follow", False),  # next line: list item
        ("Steps\n1. first\n2. second", "Steps", False),
        ("- top\n    * nested one\n    * nested two", "nested one", False),  # nested item
        ("Text\n    - not wrapped prose\n", "Text", False),  # an indented item too
        ("| a | b |\n| 1 | 2 |", "| a | b |", False),  # between table rows
        ("Title\n=====\ntext goes on", "=====", False),  # after a setext underline
        ("It ends.\\\nNext line", "It ends.\\", False),  # markdown hard line break
        ("No end\\\nNext line", "No end\\", True),
    ],
)
def test_sentence_ends(text: str, cut_after: str, mid: bool) -> None:
    cut = text.index(cut_after) + len(cut_after)
    assert is_mid_sentence(text, cut) is mid


def test_cjk_and_marks_count_as_words() -> None:
    assert is_mid_word("日本語", 1)
    assert is_mid_word("नमस्ते", 2)  # between a consonant and a combining mark
    assert not is_mid_word("a b", 1)
    assert not is_mid_word("ab", 0) and not is_mid_word("ab", 2)


def test_helpers_directly() -> None:
    assert is_sentence_end("Done.  ", 7)
    assert not is_sentence_end("Done", 4)
    assert is_block_boundary("a\n\nb", 1)
    assert not is_block_boundary("a b", 1)


def test_over_limit_and_fill() -> None:
    doc = "one two three four five six"
    q = measure(doc, spans_at(doc, doc.index("four")), words, 2)
    assert q.over_limit == 2 and q.max_tokens_seen == 3
    assert q.mean_fill == pytest.approx((3 / 2 + 3 / 2) / 2)


def test_offset_errors_are_counted_and_cuts_still_found() -> None:
    doc = "alpha beta. gamma delta. alpha beta. end"
    good = spans_at(doc, doc.index("gamma"))
    bad = [Span(good[0].text, good[0].start, good[0].end), Span(good[1].text, 0, 5)]
    q = measure(doc, bad, words, 100)
    assert q.offset_errors == 1 and q.not_in_source == 0
    assert q.cuts == 1 and q.mid_sentence == 0


def test_no_offsets_is_not_applicable_and_repeats_resolve_in_order() -> None:
    doc = "same text. same text. same text."
    q = measure(doc, [Span("same text."), Span("same text."), Span("same text.")], words, 100)
    assert q.offset_errors is None  # n/a, neither a penalty nor a credit
    assert (q.cuts, q.mid_sentence, q.mid_word, q.not_in_source) == (2, 0, 0, 0)


def test_mangled_text_is_not_in_source_and_replacement_chars_are_stripped() -> None:
    doc = "naïve café text"
    q = measure(doc, [Span("na\ufffd"), Span("\ufffdve caf"), Span("zzz")], words, 100)
    assert q.not_in_source == 1  # "zzz"
    # "na|ïve" and "ve caf|é": found after stripping U+FFFD, both cut mid-word
    assert (q.cuts, q.mid_word) == (2, 2)


def test_quality_adds_up() -> None:
    a = measure(DOC, spans_at(DOC, 5), words, 100)
    total = Quality()
    total += a
    total += measure(DOC, [Span(DOC)], words, 100)
    assert total.chunks == 3 and total.offset_errors is None
    assert total.mid_word == a.mid_word
