"""covekit.Chunker: the invariants of every strategy on generated text and markdown,
named edge cases, the overlap rule, heading paths, ids, batches and bad input.

The invariants (docs/chunking.md): each chunk's text encoded alone has at most
``max_tokens`` tokens and exactly ``token_count``; ``text[start:end] == chunk.text``;
no chunk is empty or whitespace only; without overlap the chunks tile the document with
only whitespace between them; with ``overlap_tokens=k`` each chunk starts at the k-th
last document token that starts inside its predecessor (moved back to a character
boundary); chunking is deterministic.
"""

# ruff: noqa: RUF001  (fullwidth CJK punctuation is the point of these strings)
from __future__ import annotations

import bisect
import dataclasses
import itertools
import os
from typing import Any, ClassVar

import numpy as np
import pytest
import shared_data
from covekit import Chunk, Chunker, Tokenizer, get_tokenizer
from covekit import hash as ckhash
from covekit.data.chunk import _as_doc
from covekit.errors import InvalidInput
from hypothesis import given, settings
from hypothesis import strategies as st

EXAMPLES = max(10, int(os.environ.get("COVEKIT_MAX_EXAMPLES", "200")) // 5)
STRATEGIES = ["recursive", "token", "sentence", "semantic"]


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    shared_data.tokenizer_dir()
    return get_tokenizer("cl100k_base")


@pytest.fixture(scope="module")
def o200k() -> Tokenizer:
    shared_data.tokenizer_dir()
    return get_tokenizer("o200k_base")


def letter_embedder(texts: list[str]) -> np.ndarray:
    """A deterministic embedder: letter frequencies (a real, if crude, embedding)."""
    out = np.zeros((len(texts), 27))
    for i, t in enumerate(texts):
        for ch in t.lower():
            k = ord(ch) - 97
            out[i, k if 0 <= k < 26 else 26] += 1
    return out


def make(tok: Tokenizer, strategy: str, max_tokens: int, n_overlap: int = 0, **kw: Any) -> Chunker:
    if strategy == "sentence":
        return Chunker(tok, max_tokens, strategy="sentence", overlap_sentences=n_overlap, **kw)
    if strategy == "semantic":
        kw.setdefault("embedder", letter_embedder)
    return Chunker(tok, max_tokens, n_overlap, strategy, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ invariants


def byte_token_starts(tok: Tokenizer, text: str) -> tuple[bytes, list[int]]:
    data = text.encode("utf-8")
    starts, pos = [], 0
    for piece in tok.decode_tokens_bytes(tok.encode_ordinary(text)):
        starts.append(pos)
        pos += len(piece)
    assert pos == len(data)
    return data, starts


def check(
    tok: Tokenizer, text: str, chunks: list[Chunk], chunker: Chunker, doc_id: str = ""
) -> None:
    """Every invariant of docs/chunking.md for one document's chunks."""
    max_tokens = chunker.max_tokens
    counts = tok.count_batch([c.text for c in chunks], num_threads=1, disallowed_special=())
    for i, c in enumerate(chunks):
        assert c.index == i
        assert text[c.start : c.end] == c.text, (i, c.start, c.end)
        assert c.text and not c.text.isspace(), f"chunk {i} is empty or whitespace"
        assert counts[i] == c.token_count, (i, counts[i], c.token_count)
        assert c.token_count <= max_tokens, f"chunk {i} has {c.token_count} > {max_tokens} tokens"
        assert c.doc_id == doc_id
        key = (
            doc_id.encode()
            + b"\x00"
            + c.start.to_bytes(8, "little")
            + c.end.to_bytes(8, "little")
            + c.text.encode("utf-8")
        )
        assert c.id == ckhash.xxh3_64(key)
    if not chunks:
        assert text.strip() == "" or text.isspace() or (chunker.strategy == "token" and not text)
        return
    overlap = chunker.overlap_tokens or chunker.overlap_sentences
    if not overlap:
        gaps = [text[: chunks[0].start], text[chunks[-1].end :]]
        gaps += [text[a.end : b.start] for a, b in itertools.pairwise(chunks)]
        for g in gaps:
            assert g == "" or g.isspace(), f"non-whitespace {g[:40]!r} between chunks"
        for a, b in itertools.pairwise(chunks):
            assert a.end <= b.start
        return
    for a, b in itertools.pairwise(chunks):
        assert a.start <= b.start and b.end > a.end
        assert b.start <= a.end or text[a.end : b.start].isspace()
    if chunker.overlap_tokens:
        check_token_overlap(tok, text, chunks, chunker)


def check_token_overlap(tok: Tokenizer, text: str, chunks: list[Chunk], chunker: Chunker) -> None:
    """Each chunk starts at the k-th last document token that starts inside its
    predecessor, moved back to a character boundary (or where the predecessor starts,
    when it has k tokens or fewer). The overlap is shortened only when it leaves no
    room for new text: rare when k <= max_tokens / 2 and max_tokens >= 8 (a character
    of many tokens can still take the start back past the k tokens), and then checked."""
    k = chunker.overlap_tokens
    data, starts = byte_token_starts(tok, text)

    def b(i: int) -> int:
        return len(text[:i].encode("utf-8"))

    exact = k <= chunker.max_tokens // 2 and chunker.max_tokens >= 8
    for a, c in itertools.pairwise(chunks):
        if c.start >= a.end:  # a dropped whitespace window (token strategy) lies between
            assert text[a.end : c.start].isspace() or c.start == a.end
            continue
        a_start, a_end = b(a.start), b(a.end)
        j = bisect.bisect_left(starts, a_end)
        first = bisect.bisect_left(starts, a_start)
        expected = a_start
        if j > first + k:
            t = j - k
            while t > first and (data[starts[t]] & 0xC0) == 0x80:
                t -= 1
            expected = max(a_start, starts[t])
        got = b(c.start)
        if chunker.overlap == "boundary":
            # at most k tokens: at or after the exact start, before the predecessor's end
            assert expected <= got < a_end or (got == a_end), (got, expected, a_end)
            continue
        if exact and got != expected:
            # Shortened: only allowed when a window from `expected` would hold no new
            # text (e.g. the k-th last token is inside a character of many tokens, and
            # moving back to the character's start takes in more than k tokens).
            i = bisect.bisect_left(starts, expected) + chunker.max_tokens
            end = starts[i] if i < len(starts) else len(data)
            while 0 < end < len(data) and (data[end] & 0xC0) == 0x80:
                end -= 1
            why = (a.text[-40:], c.text[:40], got, expected)
            assert expected < got <= a_end and end <= a_end, why
        else:
            assert got >= expected


# ------------------------------------------------------------------------ generators

WORDS = st.sampled_from(
    [
        "the",
        "Refund",
        "naïve",
        "Mr.",
        "e.g.",
        "3.14",
        "U.S.",
        "über",
        "x",
        "API",
        "don't",
        "日本語",
        "中文字",
        "สวัสดีครับ",
        "مرحبا",
        "שלום",
        "👩‍👩‍👧",
        "🇫🇷",
        "é",
        "<|endoftext|>",
    ]
)
PUNCT = st.sampled_from(
    [". ", "! ", "? ", "... ", "。", "！", '? "', ", ", " ", "\n", "\n\n", "\r\n", "\t", "  "]
)
UNICODE_TEXT = st.one_of(
    st.lists(st.one_of(WORDS, PUNCT), max_size=120).map("".join),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300),
)


@st.composite
def markdown_docs(draw: st.DrawFn) -> str:
    blocks = []
    sentence = st.lists(WORDS, min_size=1, max_size=12).map(lambda w: " ".join(w) + ".")
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from(["h", "setext", "p", "list", "code", "table", "quote"]))
        if kind == "h":
            blocks.append("#" * draw(st.integers(1, 6)) + " " + draw(sentence))
        elif kind == "setext":
            blocks.append(draw(sentence) + "\n" + draw(st.sampled_from(["===", "---"])))
        elif kind == "p":
            blocks.append(" ".join(draw(st.lists(sentence, min_size=1, max_size=6))))
        elif kind == "list":
            items = draw(st.lists(st.tuples(st.integers(0, 2), sentence), min_size=1, max_size=6))
            blocks.append("\n".join("  " * d + "- " + s for d, s in items))
        elif kind == "code":
            body = draw(st.lists(sentence, max_size=6))
            blocks.append("```python\n" + "\n".join(body) + "\n```")
        elif kind == "table":
            rows = draw(st.lists(st.tuples(sentence, sentence), min_size=1, max_size=5))
            blocks.append("| a | b |\n|---|---|\n" + "\n".join(f"| {x} | {y} |" for x, y in rows))
        else:
            blocks.append("> " + draw(sentence))
    return draw(st.sampled_from(["\n\n", "\n", "\r\n\r\n"])).join(blocks)


LIMITS = st.sampled_from([8, 16, 33, 100, 512])


@pytest.mark.parametrize("strategy", STRATEGIES)
@settings(max_examples=EXAMPLES)
@given(text=st.one_of(UNICODE_TEXT, markdown_docs()), max_tokens=LIMITS, data=st.data())
def test_invariants(
    tok: Tokenizer, strategy: str, text: str, max_tokens: int, data: st.DataObject
) -> None:
    if strategy == "sentence":
        overlap = data.draw(st.sampled_from([0, 0, 1, 2]), label="overlap_sentences")
    else:
        overlap = data.draw(
            st.sampled_from([0, 0, 1, max_tokens // 4, max_tokens - 1]), label="overlap_tokens"
        )
    kw = {}
    if strategy in ("recursive", "semantic") and overlap:
        kw["overlap"] = data.draw(st.sampled_from(["exact", "boundary"]), label="overlap mode")
    chunker = make(tok, strategy, max_tokens, overlap, **kw)
    chunks = chunker.chunk(text, doc_id="doc-1")
    check(tok, text, chunks, chunker, "doc-1")
    assert chunker.chunk(text, doc_id="doc-1") == chunks  # deterministic


@settings(max_examples=EXAMPLES)
@given(text=markdown_docs(), max_tokens=st.integers(4, 64), overlap=st.integers(0, 3))
def test_invariants_o200k_small_limits(
    o200k: Tokenizer, text: str, max_tokens: int, overlap: int
) -> None:
    chunker = Chunker(o200k, max_tokens, min(overlap, max_tokens - 1))
    check(o200k, text, chunker.chunk(text), chunker)


@settings(max_examples=EXAMPLES)
@given(text=UNICODE_TEXT)
def test_surrogates_map_back(tok: Tokenizer, text: str) -> None:
    text = "\ud800" + text + "\udfff x"
    chunker = Chunker(tok, 8)
    for c in chunker.chunk(text):
        assert text[c.start : c.end] == c.text
        assert c.token_count <= 8


@pytest.mark.parametrize("strategy", ["recursive", "token", "sentence"])
@settings(max_examples=EXAMPLES)
@given(text=st.one_of(UNICODE_TEXT, markdown_docs()), max_tokens=LIMITS)
def test_native_chunk_objects_equal_the_python_built_ones(
    tok: Tokenizer, strategy: str, text: str, max_tokens: int
) -> None:
    # chunk() and chunk_batch() have the core build Chunk objects through the slots of
    # the dataclass; the path they skip (arrays, then Chunk(...) in Python) still serves
    # semantic chunking and text with lone surrogates. Both must give the same objects.
    chunker = make(tok, strategy, max_tokens, 0)
    meta = {"lang": "x", "n": [1, 2]}
    acl = ("role:a", "user:1")
    doc = _as_doc(text, "d-1", meta, acl)
    python_built = chunker._build(doc, *chunker._run(doc))
    native = chunker.chunk(text, doc_id="d-1", metadata=meta, acl=acl)
    assert native == python_built
    assert [type(c) for c in native] == [Chunk] * len(native)
    for c in native:
        assert c.metadata == meta and c.acl == acl and c.doc_id == "d-1"
        with pytest.raises(dataclasses.FrozenInstanceError):
            c.text = "changed"  # type: ignore[misc]
    assert chunker.chunk_batch([text, text], num_threads=1) == [chunker.chunk(text)] * 2


def test_native_chunker_rejects_a_chunk_type_without_the_slots(tok: Tokenizer) -> None:
    from covekit._core import Chunker as NativeChunker

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        text: str

    for bad in (NoSlots, int, "Chunk"):
        with pytest.raises(TypeError, match="chunk_type"):
            NativeChunker(tok._impl, 8, 0, "recursive", 0, True, "exact", bad)
    plain = NativeChunker(tok._impl, 8, 0, "recursive", 0, True)
    with pytest.raises(InvalidInput, match="chunk_type"):
        plain.chunk_objects("text", "", {}, ())


# ------------------------------------------------------------------------ normal cases


def test_markdown_sections_and_heading_paths(tok: Tokenizer) -> None:
    text = (
        "Intro line.\n\n# Billing\n\nWe bill monthly.\n\n## Refunds\n\nRefunds take 5 days.\n\n"
        "Setext title\n------------\n\nUnder setext.\n\n# Security\n\nKeys rotate."
    )
    chunks = Chunker(tok, 12).chunk(text)
    got = [(c.text.split("\n")[0], c.heading_path) for c in chunks]
    # Whole sections are packed together while they fit; the path is the one in
    # effect where the chunk starts.
    assert got == [
        ("Intro line.", ()),
        ("## Refunds", ("Billing", "Refunds")),
        ("Setext title", ("Billing", "Setext title")),
        ("# Security", ("Security",)),
    ]
    assert chunks[0].text.endswith("# Billing\n\nWe bill monthly.")
    big = Chunker(tok, 512).chunk(text)
    assert len(big) == 1 and big[0].text == text


def test_sentences_rules(tok: Tokenizer) -> None:
    chunker = Chunker(tok, 1000, strategy="sentence")
    text = (
        'Dr. Smith paid $3.50 for it. She said "Stop!" he laughed. Then... it ended. '
        "Wait... and then? The U.S. team won. 東京に行きました。とても楽しかった！本当？ "
        "Done."
    )
    starts, ends = chunker._impl.sentence_spans(text)
    sentences = [text[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    assert sentences == [
        "Dr. Smith paid $3.50 for it.",
        'She said "Stop!" he laughed.',
        "Then... it ended.",
        "Wait... and then?",
        "The U.S. team won.",
        "東京に行きました。",
        "とても楽しかった！",
        "本当？",
        "Done.",
    ]


def test_every_sentence_terminal_character_ends_a_sentence(tok: Tokenizer) -> None:
    # The segmenter's table of terminators that need no space is Unicode's
    # Sentence_Terminal property (less . ! ? and the ellipsis, which need one).
    regex = pytest.importorskip("regex")
    sterm = regex.compile(r"\p{Sentence_Terminal}")
    chunker = Chunker(tok, 1000, strategy="sentence")
    spaced = set(".!?\u2026")
    terminators = [
        chr(c)
        for c in range(0x110000)
        if not 0xD800 <= c <= 0xDFFF and sterm.match(chr(c)) and chr(c) not in spaced
    ] + ["\u037e", "\u06d4"]
    assert len(terminators) > 150
    for t in terminators:
        text = f"Alpha{t}beta gamma"
        starts, ends = chunker._impl.sentence_spans(text)
        got = [text[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
        assert got == [f"Alpha{t}", "beta gamma"], (hex(ord(t)), got)
    # A character that is not a terminator does not end one.
    starts, _ = chunker._impl.sentence_spans("Alpha\u104cbeta gamma")
    assert len(starts) == 1


def test_sentence_rules_for_scripts_without_capitals(tok: Tokenizer) -> None:
    chunker = Chunker(tok, 1000, strategy="sentence")
    # Georgian letters are Ll, but Georgian never capitalizes a sentence's first word.
    text = "ეს წიგნი უფასოა. თქვენ შეგიძლიათ მისი გაზიარება. english goes on. here"
    starts, ends = chunker._impl.sentence_spans(text)
    got = [text[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    assert got == ["ეს წიგნი უფასოა.", "თქვენ შეგიძლიათ მისი გაზიარება. english goes on. here"]
    # Burmese: the little section sign is a Sentence_Terminal too.
    text = "သူမ ပြေးသွားတယ်၊ ယုန်ကို တွေ့တယ်။ ပြီးပြီ"
    starts, ends = chunker._impl.sentence_spans(text)
    got = [text[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    assert got == ["သူမ ပြေးသွားတယ်၊", "ယုန်ကို တွေ့တယ်။", "ပြီးပြီ"]


def test_sentence_strategy_packs_whole_sentences(tok: Tokenizer) -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    chunker = Chunker(tok, 30, strategy="sentence")
    chunks = chunker.chunk(text)
    check(tok, text, chunks, chunker)
    assert all(c.text.endswith("here.") and c.text.startswith("Sentence") for c in chunks)
    with_overlap = Chunker(tok, 30, strategy="sentence", overlap_sentences=1).chunk(text)
    for a, b in itertools.pairwise(with_overlap):
        last = a.text.rsplit(". ", 1)[-1]
        assert b.text.startswith(last.rstrip(".")), (a.text, b.text)


def test_boundary_overlap_starts_at_the_strongest_boundary(tok: Tokenizer) -> None:
    text = (
        "First sentence is here. Second sentence is also here. "
        "Third one follows now. Fourth is last."
    )
    exact = Chunker(tok, 12, 6).chunk(text)
    chunker = Chunker(tok, 12, 6, overlap="boundary")
    chunks = chunker.chunk(text)
    check(tok, text, chunks, chunker)
    assert chunker.overlap == "boundary" and Chunker(tok, 12, 6).overlap == "exact"
    assert [c.text for c in chunks] == [
        "First sentence is here. Second sentence is also here.",
        "Second sentence is also here. Third one follows now.",
        "Third one follows now. Fourth is last.",
    ]
    assert exact[1].text.startswith(" Second")  # exact: 6 tokens back, a token boundary
    # no sentence starts in the window: the next word does
    words = " ".join(f"w{i}" for i in range(40))
    for a, b in itertools.pairwise(Chunker(tok, 10, 3, overlap="boundary").chunk(words)):
        assert b.start < a.end and words[b.start - 1] == " "


def test_token_strategy_windows_are_exact(tok: Tokenizer) -> None:
    text = "word " * 1000
    chunker = Chunker(tok, 50, 10, "token")
    chunks = chunker.chunk(text)
    check(tok, text, chunks, chunker)
    assert all(c.token_count == 50 for c in chunks[:-1])


def test_recursive_fills_chunks(tok: Tokenizer) -> None:
    text = "\n\n".join(f"Paragraph {i}. It has two sentences." for i in range(200))
    chunks = Chunker(tok, 100).chunk(text)
    assert np.mean([c.token_count for c in chunks[:-1]]) > 80
    assert all(c.text.endswith("sentences.") for c in chunks)


def test_semantic_breaks_on_topic_change(tok: Tokenizer) -> None:
    text = "Aaa aaa aaa. Aaa aaa. Aaa aaa aaa. Zzz zzz zzz. Zzz zzz. Zzz zzz zzz."
    chunker = Chunker(
        tok,
        100,
        strategy="semantic",
        embedder=letter_embedder,
        breakpoint_threshold=0.5,
        buffer_size=0,
    )
    chunks = chunker.chunk(text)
    assert [c.text for c in chunks] == [
        "Aaa aaa aaa. Aaa aaa. Aaa aaa aaa.",
        "Zzz zzz zzz. Zzz zzz. Zzz zzz zzz.",
    ]

    class Model:
        def encode(self, texts: list[str]) -> np.ndarray:
            return letter_embedder(texts)

    chunks2 = Chunker(
        tok, 100, strategy="semantic", embedder=Model(), buffer_size=0, breakpoint_percentile=50
    ).chunk(text)
    check(tok, text, chunks2, Chunker(tok, 100, strategy="semantic", embedder=Model()))


def test_documents_carry_metadata_and_acl(tok: Tokenizer) -> None:
    class Doc:
        text = "Hello there. General Kenobi."
        id = "kb/1"
        metadata: ClassVar[dict[str, str]] = {"lang": "en"}
        acl = ("role:support",)

    chunks = Chunker(tok, 5).chunk(Doc())
    assert chunks and all(c.doc_id == "kb/1" and c.acl == ("role:support",) for c in chunks)
    assert all(c.metadata == {"lang": "en"} for c in chunks)
    with pytest.raises(TypeError):
        chunks[0].metadata["x"] = 1  # type: ignore[index]
    check(tok, Doc.text, chunks, Chunker(tok, 5), "kb/1")


def test_batch_matches_single_and_columns(tok: Tokenizer) -> None:
    docs = [f"Doc {i}. " + "Some words here. " * (i * 7) for i in range(30)] + ["", "  "]
    chunker = Chunker(tok, 40, 5)
    single = [chunker.chunk(d) for d in docs]
    for threads in (1, 2):
        assert chunker.chunk_batch(docs, num_threads=threads) == single
    cols = chunker.chunk_batch(docs, num_threads=2, as_columns=True)
    flat = [c for cs in single for c in cs]
    assert cols["text"] == [c.text for c in flat]
    assert cols["id"].dtype == np.uint64 and cols["id"].tolist() == [c.id for c in flat]
    assert cols["start"].tolist() == [c.start for c in flat]
    assert cols["token_count"].tolist() == [c.token_count for c in flat]
    assert cols["doc_index"].tolist() == [d for d, cs in enumerate(single) for _ in cs]
    assert cols["index"].tolist() == [c.index for c in flat]
    assert len(cols["heading_path"]) == len(cols["acl"]) == len(flat)


def test_ids_stable_and_distinct(tok: Tokenizer) -> None:
    text = "Same paragraph.\n\n" * 5
    chunks = Chunker(tok, 4).chunk(text, doc_id="d")
    assert len({c.id for c in chunks}) == len(chunks) == 5
    assert chunks[0].id == 0x0 or isinstance(chunks[0].id, int)
    other = Chunker(tok, 4).chunk(text, doc_id="e")
    assert {c.id for c in chunks}.isdisjoint(c.id for c in other)


# ------------------------------------------------------------------------ edge cases


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(
    "name",
    [
        "empty",
        "spaces",
        "long_word",
        "nested_lists",
        "big_code",
        "table",
        "cjk",
        "thai",
        "rtl",
        "emoji",
        "crlf",
        "repeated",
    ],
)
def test_edge_cases(tok: Tokenizer, strategy: str, name: str) -> None:
    texts = {
        "empty": "",
        "spaces": " \n\t \u3000 ",
        "long_word": "x" + "abcdefghij" * 500 + " end.",
        "nested_lists": "- a\n  - b\n    - c " + "deep " * 50 + "\n  - d\n- e\n" * 3,
        "big_code": "Intro.\n\n```python\n"
        + "".join(f"x_{i} = {i} * 2\n" for i in range(300))
        + "```\n\nAfter.",
        "table": "| col | val |\n|---|---|\n"
        + "".join(f"| row {i} | {i * 3.5} |\n" for i in range(100)),
        "cjk": "日本語の文章です。これはテストです！中文句子在这里？" * 40,
        "thai": "ภาษาไทยไม่มีช่องว่างระหว่างคำ" * 60 + " และประโยคใหม่" * 20,
        "rtl": "שלום עולם. זה טקסט בעברית. " * 30 + "مرحبا بالعالم؟ هذا نص عربي. " * 30,
        "emoji": "👨‍👩‍👧‍👦🇫🇷👍🏽❤️‍🔥 " * 80 + "🏳️‍🌈" * 100,
        "crlf": "Line one.\r\nLine two.\r\n\r\nPara two.\r\n" * 60,
        "repeated": "The same paragraph again.\n\n" * 100,
    }
    text = texts[name]
    for max_tokens, overlap in ((16, 0), (16, 3), (64, 10)):
        chunker = make(
            tok, strategy, max_tokens, overlap if strategy != "sentence" else overlap // 3
        )
        chunks = chunker.chunk(text)
        check(tok, text, chunks, chunker)
        if text.strip():
            assert chunks
    if name == "emoji":
        # Recursive chunks never start inside an emoji sequence.
        for c in Chunker(tok, 16).chunk(text):
            assert c.text[0] not in "\u200d\ufe0f" and not 0x1F3FB <= ord(c.text[0]) <= 0x1F3FF


def test_code_block_kept_whole_when_it_fits(tok: Tokenizer) -> None:
    code = "```python\n" + "".join(f"x_{i} = {i}\n" for i in range(10)) + "```"
    text = "Before it.\n\n" + code + "\n\nAfter it."
    limit = tok.count(code) + 2
    chunks = Chunker(tok, limit).chunk(text)
    assert code in [c.text for c in chunks]


def test_one_line_of_100k_tokens(tok: Tokenizer) -> None:
    text = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(60000))  # no spaces, no stops
    assert tok.count(text) > 100_000
    for strategy in ("recursive", "token"):
        chunker = Chunker(tok, 512, 50, strategy)  # type: ignore[arg-type]
        chunks = chunker.chunk(text)
        check(tok, text, chunks, chunker)


def test_corpus_files(tok: Tokenizer) -> None:
    files = shared_data.corpus_files()
    picked = [f for f in files if f.name in {"github_flavored.md", "alice_th.txt", "alice_ja.txt"}]
    for path in picked:
        text = path.read_text(encoding="utf-8")[:60000]
        chunker = Chunker(tok, 256)
        check(tok, text, chunker.chunk(text), chunker)


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_tokens": 0}, "max_tokens must be at least 1"),
        ({"max_tokens": 10, "overlap_tokens": 10}, "must be smaller than max_tokens"),
        ({"max_tokens": 10, "overlap_tokens": -1}, "overlap_tokens must be at least 0"),
        ({"strategy": "paragraph"}, "unknown chunking strategy"),
        ({"strategy": "semantic"}, "needs an embedder"),
        ({"embedder": letter_embedder}, "strategy='semantic' only"),
        ({"strategy": "sentence", "overlap_tokens": 5}, "overlap_sentences"),
        ({"overlap_sentences": 2}, "pass overlap_tokens instead"),
        ({"overlap": "sometimes"}, "'exact' .* or 'boundary'"),
        ({"strategy": "token", "overlap": "boundary"}, "structure-aware"),
        ({"max_tokens": 2.5}, "max_tokens must be an int"),
        (
            {"strategy": "semantic", "embedder": letter_embedder, "breakpoint_percentile": 120},
            "breakpoint_percentile",
        ),
    ],
)
def test_bad_settings(tok: Tokenizer, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        Chunker(tok, **kwargs)
    assert isinstance(info.value, ValueError)


def test_bad_documents(tok: Tokenizer) -> None:
    chunker = Chunker(tok, 8)
    with pytest.raises(TypeError, match="must be a str"):
        chunker.chunk(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="num_threads"):
        chunker.chunk_batch(["a"], num_threads=-1)
    with pytest.raises(TypeError, match=r"covekit\.Tokenizer"):
        Chunker(object())  # type: ignore[arg-type]
    bad = Chunker(tok, 100, strategy="semantic", embedder=lambda texts: np.zeros(3))
    with pytest.raises(InvalidInput, match="one row per text"):
        bad.chunk("One. Two. Three.")


def test_character_larger_than_limit(tok: Tokenizer) -> None:
    rare = "\U0001f9ff"  # several byte tokens in cl100k
    assert tok.count(rare) > 1
    with pytest.raises(InvalidInput, match="raise max_tokens"):
        Chunker(tok, 1).chunk(rare)
    chunker = Chunker(tok, 4)
    check(tok, rare * 3, chunker.chunk(rare * 3), chunker)


def test_repr_and_properties(tok: Tokenizer) -> None:
    chunker = Chunker("cl100k_base", 64, 8)
    assert (
        repr(chunker)
        == "<covekit.Chunker 'recursive' tokenizer='cl100k_base' max_tokens=64 overlap_tokens=8>"
    )
    assert (chunker.max_tokens, chunker.overlap_tokens, chunker.overlap_sentences) == (64, 8, 0)
    assert chunker.tokenizer is tok and chunker.strategy == "recursive"


def test_overlap_is_shortened_when_a_character_spans_the_overlap(tok: Tokenizer) -> None:
    # U+10000 is four byte tokens in cl100k_base. The 2-token overlap of the second
    # window starts inside the first character; moving back to its start would repeat
    # the whole first window, so the overlap is shortened to the "0".
    text = "\U00010000" + "0" + "\U00010000"
    chunks = Chunker(tok, 8, 2, strategy="token").chunk(text)
    assert [(c.text, c.start, c.end, c.token_count) for c in chunks] == [
        ("\U00010000" + "0", 0, 2, 5),
        ("0" + "\U00010000", 1, 3, 5),
    ]


def test_chunk_batch_propagates_a_documents_error(tok: Tokenizer) -> None:
    # A document whose text cannot be read fails the whole batch with its own error.
    class Boom:
        text = property(lambda self: (_ for _ in ()).throw(RuntimeError("bad document")))

    docs: list[Any] = ["fine text. " * 20] * 40 + [Boom()]
    with pytest.raises(RuntimeError, match="bad document"):
        Chunker(tok, 16).chunk_batch(docs, num_threads=2)
