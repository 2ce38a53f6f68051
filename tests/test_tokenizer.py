"""covekit's tokenizer against tiktoken 0.14, the oracle: the ids must be identical.

Covers :mod:`covekit.data.tokenize`: parity on every file of the shared corpus for every
encoding, Hypothesis properties (parity, round trip, counts, offsets, truncation, the
pre-tokenizer against the ``regex`` module on ASCII), named edge cases, special-token
rules, bad input, corrupt vocabulary files, a 100 MB input, threads, pickling and the
small API surface. Every test that needs the tokenizer files reaches them through
``shared_data`` (via the ``enc_pair`` / ``make_pair`` fixtures of ``conftest.py``) and
skips when they are absent.
"""

from __future__ import annotations

import base64
import itertools
import pickle
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import regex
import shared_data
import tiktoken
from covekit import Tokenizer, _core, get_tokenizer, list_encodings, tokenizer_for_model
from covekit.data import tokenize as tokenize_module
from covekit.errors import (
    CovekitError,
    DisallowedSpecialToken,
    InvalidInput,
    InvalidTokenId,
    InvalidUtf8,
    TokenizerDataMissing,
    TokenizerFileCorrupt,
    TokenNotFound,
    UnknownEncoding,
    UnknownModel,
)
from hypothesis import given
from hypothesis import strategies as st
from shared_data import ENCODING_NAMES

Pair = tuple[Tokenizer, Any]  # (covekit tokenizer, tiktoken Encoding)

PATTERNS = ["r50k", "cl100k", "o200k"]
#: An encoding that uses each pre-tokenizer pattern (to read tiktoken's pat_str from).
PATTERN_ENCODING = {"r50k": "r50k_base", "cl100k": "cl100k_base", "o200k": "o200k_base"}
#: The encodings that have their own ``.tiktoken`` file in the shared data.
FILE_ENCODINGS = ["r50k_base", "p50k_base", "cl100k_base", "o200k_base"]


# ----------------------------------------------------------------------------- helpers


def first_diff(a: Sequence[int], b: Sequence[int]) -> str:
    """Where two id sequences first differ, for assertion messages."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"first difference at token {i}: {list(a[i : i + 5])} != {list(b[i : i + 5])}"
    return f"lengths differ: {len(a)} != {len(b)}"


def assert_same(pair: Pair, text: str) -> list[int]:
    """covekit encodes ``text`` (specials as ordinary text) exactly as tiktoken does."""
    tok, ref = pair
    expected: list[int] = ref.encode_ordinary(text)
    got = tok.encode_ordinary(text)
    assert got == expected, f"{text[:60]!r}: {first_diff(got, expected)}"
    assert tok.encode(text, disallowed_special=()) == expected
    assert tok.count(text, disallowed_special=()) == len(expected)
    assert tok.decode(expected) == ref.decode(expected)
    assert tok.decode_bytes(expected) == ref.decode_bytes(expected)
    return expected


def has_special_text(pair: Pair, text: str) -> bool:
    """Whether ``text`` holds the text of any special token of the encoding."""
    return "<|" in text and any(s in text for s in pair[1].special_tokens_set)


def token_starts_ok(tok: Tokenizer, text: str, ids: Sequence[int], starts: Sequence[int]) -> None:
    """Offsets are sorted, inside the text, and each token's bytes are found there."""
    assert len(starts) == len(ids)
    assert all(0 <= s <= len(text) for s in starts)
    assert all(a <= b for a, b in itertools.pairwise(starts))
    for token, start in zip(ids, starts, strict=True):
        raw = tok.decode_single_token_bytes(token)
        if raw and not 0x80 <= raw[0] < 0xC0:  # the token starts on a character boundary
            assert text[start:].encode("utf-8", "surrogatepass").startswith(raw)


# -------------------------------------------------------------------------- strategies

WHITESPACE = [" ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000", "  ", "\n\n", " \n", "\t "]
DIGITS = [
    "0",
    "7",
    "12",
    "123",
    "1234",
    "9876543210",
    "\u0661\u0662\u0663",  # Arabic-Indic
    "\u0967\u0968",  # Devanagari
    "\uff11\uff12\uff13",  # fullwidth
    "\U0001d7d9\U0001d7da",  # mathematical double-struck (astral)
    "\u2167",  # Roman numeral (Nl)
    "\u00bd\u00b2",  # No
]
CONTRACTIONS = [
    "'s",
    "'S",
    "'t",
    "'T",
    "'re",
    "'RE",
    "'Re",
    "'rE",
    "'ve",
    "'VE",
    "'Ve",
    "'m",
    "'M",
    "'ll",
    "'LL",
    "'Ll",
    "'d",
    "'D",
    "'\u017f",  # 's' with a long s: matches under case folding
    "'\u212a",  # Kelvin sign
    "'",
    "''",
    "\u2019s",
]
LETTERS = [
    "a",
    "A",
    "hello",
    "Hello",
    "HELLO",
    "heLLo",
    "don",
    "\u01c5",  # titlecase (Lt)
    "\u02b0",  # modifier letter (Lm)
    "\u00aa",  # Lo
    "\u0130",
    "\u00df",
    "caf\u00e9",
    "e\u0301",  # combining acute
    "\u0301",
    "\u0308\u0308",
    "\u1100\u1161\u11a8",  # conjoining jamo
]
SCRIPTS = [
    "\u4e2d\u6587",
    "\u65e5\u672c\u8a9e",
    "\ud55c\uad6d\uc5b4",
    "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
    "\u05e2\u05d1\u05e8\u05d9\u05ea",
    "\u0939\u093f\u0928\u094d\u0926\u0940",
    "\u200f\u200e",  # RTL/LTR marks
]
EMOJI = [
    "\U0001f600",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
    "\U0001f3f3\ufe0f\u200d\U0001f308",
    "\U0001f1fa\U0001f1f8",
    "\U0001f1ef\U0001f1f5",
    "\U0001f44d\U0001f3fd",
    "\u2764\ufe0f",
]
SPECIAL_BITS = [
    "<|endoftext|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|endofprompt|>",
    "<|start|>",
    "<|message|>",
    "<|reserved_200018|>",
    "<|",
    "|>",
    "<|endoftext",
    "endoftext|>",
    "<",
    "|",
]
OTHER = [
    "/",
    "//",
    "\\",
    "...",
    "!!!",
    "$",
    "\u20ac",
    "-",
    "_",
    "\x00",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x85",
    "\u2028",
    "\u2029",
    "\u200b",
    "\ufeff",
    "\u180e",
    "\U000e0001",
    "\U0010ffff",
]
PIECES = WHITESPACE + DIGITS + CONTRACTIONS + LETTERS + SCRIPTS + EMOJI + SPECIAL_BITS + OTHER

#: Any text without lone surrogates (full Unicode range, astral included).
any_text = st.text(max_size=200)
#: Text assembled from pieces that exercise the pre-tokenizers' corner cases.
interesting_text = st.lists(
    st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), max_size=40
).map("".join)
texts = st.one_of(any_text, interesting_text)
#: Text with lone surrogates and surrogate pairs (as two code units) among other pieces.
surrogate_text = st.lists(
    st.one_of(
        st.characters(),
        st.characters(categories=["Cs"]),
        st.sampled_from(["\ud83d\ude00", "\ud800\udc00", "\udbff\udfff", "\udc80\udcff"]),
        st.sampled_from(PIECES),
    ),
    max_size=30,
).map("".join)

ASCII_PIECES = [p for p in PIECES if p.isascii()] + ["\x1f", "\x7f", "a'", "x'll"]
ascii_text = st.one_of(
    st.text(st.characters(max_codepoint=127), max_size=200),
    st.lists(
        st.one_of(
            st.sampled_from(ASCII_PIECES), st.text(st.characters(max_codepoint=127), max_size=3)
        ),
        max_size=40,
    ).map("".join),
)


# ---------------------------------------------------------------------- corpus parity


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, str]]:
    """``(file name, text)`` of every corpus file (skips without the shared data)."""
    return [(p.name, p.read_text(encoding="utf-8")) for p in shared_data.corpus_files()]


def test_corpus_matches_tiktoken(enc_pair: Pair, corpus: list[tuple[str, str]]) -> None:
    """Every corpus file: tiktoken's ids from encode, encode_ordinary, batches and numpy."""
    tok, ref = enc_pair
    names = [name for name, _ in corpus]
    texts_ = [text for _, text in corpus]
    expected = [ref.encode_ordinary(text) for text in texts_]  # the one tiktoken pass
    special = [has_special_text(enc_pair, text) for text in texts_]

    for name, text, ids, has_special in zip(names, texts_, expected, special, strict=True):
        got = tok.encode_ordinary(text)
        assert got == ids, f"{name}: encode_ordinary: {first_diff(got, ids)}"
        got = tok.encode(text, disallowed_special=())
        assert got == ids, f"{name}: encode(disallowed_special=()): {first_diff(got, ids)}"
        if not has_special:
            assert tok.count(text) == len(ids), name
        assert tok.decode(ids) == text, name

    assert tok.encode_batch(texts_, disallowed_special=(), num_threads=2) == expected
    assert tok.count_batch(texts_, disallowed_special=(), num_threads=2) == [
        len(x) for x in expected
    ]
    arrays = tok.encode_ordinary_batch(texts_, as_numpy=True, num_threads=2)
    for name, arr, ids in zip(names, arrays, expected, strict=True):
        assert isinstance(arr, np.ndarray), name
        assert arr.dtype == np.uint32, name
        assert arr.shape == (len(ids),), name
        assert arr.tolist() == ids, name
    one = tok.encode(texts_[0], disallowed_special=(), as_numpy=True)
    assert one.dtype == np.uint32
    assert one.tolist() == expected[0]


def test_corpus_offsets_match_tiktoken(enc_pair: Pair, corpus: list[tuple[str, str]]) -> None:
    """encode_with_offsets on the start of every corpus file equals decode_with_offsets."""
    tok, ref = enc_pair
    for name, text in corpus:
        head = text[:20_000]
        ids, starts = tok.encode_with_offsets(head, disallowed_special=())
        expected = ref.encode_ordinary(head)
        assert ids == expected, f"{name}: {first_diff(ids, expected)}"
        assert starts == ref.decode_with_offsets(expected)[1], name


def test_corpus_truncate(enc_pair: Pair, corpus: list[tuple[str, str]]) -> None:
    """truncate on real text: a prefix that fits, and the whole text when it fits."""
    tok, ref = enc_pair
    for name, text in corpus:
        head = text[:5_000]
        n = len(ref.encode_ordinary(head))
        for k in (0, 1, 7, n // 2, n - 1, n, n + 1):
            cut = tok.truncate(head, k, disallowed_special=())
            assert head.startswith(cut), (name, k)
            assert len(ref.encode_ordinary(cut)) <= k, (name, k)
            if n <= k:
                assert cut == head, (name, k)
            elif k >= 7:
                assert cut, (name, k)
        check_truncate_is_longest(enc_pair, head, n // 2)


# -------------------------------------------------------------------------- properties


def check_text(pair: Pair, s: str) -> None:
    """Every per-text invariant: parity, round trip, count, offsets."""
    tok, ref = pair
    expected = assert_same(pair, s)
    assert tok.decode(tok.encode_ordinary(s)) == s
    assert tok.count(s, disallowed_special=()) == len(tok.encode(s, disallowed_special=()))
    ids, starts = tok.encode_with_offsets(s, disallowed_special=())
    assert ids == expected
    assert starts == ref.decode_with_offsets(expected)[1]
    token_starts_ok(tok, s, ids, starts)


@given(s=any_text)
def test_property_any_text(enc_pair: Pair, s: str) -> None:
    check_text(enc_pair, s)


@given(s=interesting_text)
def test_property_interesting_text(enc_pair: Pair, s: str) -> None:
    check_text(enc_pair, s)


@given(s=interesting_text)
def test_property_special_policies(enc_pair: Pair, s: str) -> None:
    """Default, "all" and disallowed_special=() behave as tiktoken's, raising where it does."""
    tok, ref = enc_pair
    try:
        expected = ref.encode(s)
    except ValueError:
        with pytest.raises(DisallowedSpecialToken):
            tok.encode(s)
        with pytest.raises(DisallowedSpecialToken):
            tok.count(s)
    else:
        assert tok.encode(s) == expected
        assert tok.count(s) == len(expected)
    expected = ref.encode(s, allowed_special="all")
    assert tok.encode(s, allowed_special="all") == expected
    assert tok.count(s, allowed_special="all") == len(expected)
    ids, starts = tok.encode_with_offsets(s, allowed_special="all")
    assert ids == expected
    text, ref_starts = ref.decode_with_offsets(expected)
    if text == s:  # tiktoken's offsets index its decoded text, here the source itself
        assert starts == ref_starts
    assert all(0 <= x <= len(s) for x in starts)
    assert all(a <= b for a, b in itertools.pairwise(starts))
    assert tok.decode(expected) == ref.decode(expected)
    cut = tok.truncate(s, len(expected) // 2, allowed_special="all")
    assert s.startswith(cut)
    assert len(ref.encode(cut, allowed_special="all")) <= len(expected) // 2


@given(s=texts, k=st.integers(min_value=0, max_value=60))
def test_property_truncate(enc_pair: Pair, s: str, k: int) -> None:
    tok, ref = enc_pair
    cut = tok.truncate(s, k, disallowed_special=())
    assert s.startswith(cut)
    assert len(ref.encode_ordinary(cut)) <= k
    assert tok.count(cut, disallowed_special=()) <= k
    if len(ref.encode_ordinary(s)) <= k:
        assert cut == s


def longest_fitting_prefix(ref: Any, s: str, k: int) -> str:
    """The oracle of truncate's contract: the longest prefix of ``s``, cut between
    characters, that tiktoken encodes on its own to at most ``k`` tokens, among the cuts
    up to the end of the first ``k + 2`` tokens of ``s``."""
    ids = ref.encode_ordinary(s)
    if len(ids) <= k:
        return s
    window = len(ref.decode_bytes(ids[: k + 2]).decode("utf-8", "ignore"))
    for end in range(min(window + 1, len(s)), 0, -1):
        if len(ref.encode_ordinary(s[:end])) <= k:
            return s[:end]
    return ""


def check_truncate_is_longest(pair: Pair, s: str, k: int) -> None:
    tok, ref = pair
    cut = tok.truncate(s, k, disallowed_special=())
    best = longest_fitting_prefix(ref, s, k)
    assert s.startswith(cut)
    assert len(cut) >= len(best), (k, cut, best)


@given(s=interesting_text, k=st.integers(min_value=0, max_value=40))
def test_property_truncate_is_longest(enc_pair: Pair, s: str, k: int) -> None:
    """No cut that fits in k tokens, within two tokens past the first k, is longer."""
    check_truncate_is_longest(enc_pair, s, k)


LONG_RUN_CASES = {
    "spaces": "x" + " " * 300 + "y z",
    "newlines": "a" + "\n" * 200 + "b",
    "mixed_ws": "a" + " \t\n" * 80 + "b",
    "letters": "a" * 2000,
    "digits": "1" * 500 + " 2",
    "punct": "x" + "=" * 400 + "y",
    "cjk": "\u6587" * 300,
    "emoji": "\U0001f600" * 100,
}


@pytest.mark.parametrize("text", list(LONG_RUN_CASES.values()), ids=list(LONG_RUN_CASES))
def test_truncate_is_longest_on_long_runs(enc_pair: Pair, text: str) -> None:
    """Long tokens and long pieces put many character cuts between token ends."""
    n = len(enc_pair[1].encode_ordinary(text))
    for k in sorted(k for k in {0, 1, 2, 3, n // 3, n // 2, n - 2, n - 1} if k >= 0):
        check_truncate_is_longest(enc_pair, text, k)


@given(data=st.data())
def test_property_decode_ids(enc_pair: Pair, data: st.DataObject) -> None:
    """Any valid ids (split characters included) decode as tiktoken decodes them."""
    tok, ref = enc_pair
    n_mergeable = len(ref._mergeable_ranks)
    specials = sorted(ref._special_tokens.values())[:50]
    ids = data.draw(
        st.lists(st.one_of(st.integers(0, n_mergeable - 1), st.sampled_from(specials)), max_size=30)
    )
    assert tok.decode_bytes(ids) == ref.decode_bytes(ids)
    assert tok.decode(ids) == ref.decode(ids)
    assert tok.decode(np.asarray(ids, dtype=np.uint32)) == ref.decode(ids)
    assert tok.decode_tokens_bytes(ids) == ref.decode_tokens_bytes(ids)


@given(s=surrogate_text)
def test_property_surrogates(enc_pair: Pair, s: str) -> None:
    """Text with surrogates (lone or paired) is encoded as tiktoken encodes it."""
    tok, ref = enc_pair
    expected = ref.encode_ordinary(s)
    assert tok.encode_ordinary(s) == expected
    assert tok.encode(s, disallowed_special=()) == expected
    assert tok.count(s, disallowed_special=()) == len(expected)


@pytest.fixture(scope="module")
def pat_strs() -> dict[str, str]:
    """tiktoken's ``pat_str`` of each pattern family (skips without the shared data)."""
    shared_data.tokenizer_dir()
    return {p: tiktoken.get_encoding(name)._pat_str for p, name in PATTERN_ENCODING.items()}


@pytest.mark.parametrize("pattern", PATTERNS)
@given(s=texts)
def test_property_pretokenize_concatenates(pattern: str, s: str) -> None:
    pieces = _core.pretokenize(s, pattern)
    assert "".join(pieces) == s
    assert all(pieces)


@pytest.mark.parametrize("pattern", PATTERNS)
@given(s=ascii_text)
def test_property_pretokenize_matches_regex_on_ascii(
    pat_strs: dict[str, str], pattern: str, s: str
) -> None:
    """On ASCII text the pieces are exactly the matches of tiktoken's regex."""
    assert _core.pretokenize(s, pattern) == regex.findall(pat_strs[pattern], s)


# ------------------------------------------------------------------------ named edges


def test_empty_string(enc_pair: Pair) -> None:
    tok, ref = enc_pair
    assert tok.encode("") == ref.encode("") == []
    assert tok.encode_ordinary("") == []
    assert tok.count("") == 0
    assert tok.decode([]) == ref.decode([]) == ""
    assert tok.decode_bytes([]) == b""
    assert tok.truncate("", 0) == tok.truncate("", 5) == ""
    assert tok.encode_with_offsets("") == ([], [])
    arr = tok.encode("", as_numpy=True)
    assert arr.shape == (0,)
    assert arr.dtype == np.uint32
    assert tok.encode_batch([]) == []
    assert tok.count_batch([]) == []
    assert tok.encode_batch(["", ""]) == [[], []]
    assert tok.decode_batch([[], []]) == ["", ""]
    assert _core.pretokenize("", tok.pattern) == []


WHITESPACE_CASES = {
    "one_space": " ",
    "spaces": "     ",
    "tabs": "\t\t\t",
    "crlf": "\r\n",
    "crlf_runs": "a\r\n\r\nb\r\n \r\n",
    "cr_only": "a\r\rb",
    "mixed": " \t\n \r\n\t  \n",
    "trailing": "hello world   ",
    "trailing_newlines": "hello\n\n\n",
    "trailing_mixed": "end. \t \n ",
    "before_letter": "a     b",
    "before_letter_tab": "x\t\t\ty",
    "before_newline_letter": "x   \ny",
    "before_digit": "x    42",
    "before_punct": "x    !!",
    "leading": "     hello",
    "nbsp": "a\u00a0\u00a0b\u00a0",
    "ideographic": "\u3000\u3000\u6587\u3000",
    "vt_ff": "a\x0b\x0cb",
    "nel_ls_ps": "a\x85b\u2028c\u2029d",
    "code_indent": "def f():\n    return 1\n\n\n    \n",
}


@pytest.mark.parametrize("text", list(WHITESPACE_CASES.values()), ids=list(WHITESPACE_CASES))
def test_whitespace_runs(enc_pair: Pair, text: str) -> None:
    assert_same(enc_pair, text)


DIGIT_CASES = {
    "one": "7",
    "three": "123",
    "four": "1234",
    "seven": "1234567",
    "long": "31415926535897932384626433832795028841971693993751",
    "spaced": "1 22 333 4444 55555",
    "mixed": "abc123def4567",
    "decimal": "3.14159 2,718,281",
    "arabic_indic": "\u0661\u0662\u0663\u0664\u0665\u0666\u0667",
    "fullwidth": "\uff11\uff12\uff13\uff14",
    "astral_digits": "\U0001d7d8\U0001d7d9\U0001d7da\U0001d7db",
    "roman": "\u2160\u2161\u2162\u2163",
    "fractions": "\u00bd\u00bc\u00be",
}


@pytest.mark.parametrize("text", list(DIGIT_CASES.values()), ids=list(DIGIT_CASES))
def test_digit_runs(enc_pair: Pair, text: str) -> None:
    assert_same(enc_pair, text)


@pytest.mark.parametrize(
    "text",
    ["a" * 100_000, "1" * 100_000, " " * 100_000, "\n" * 100_000],
    ids=["letters", "digits", "spaces", "newlines"],
)
def test_long_repeats(enc_pair: Pair, text: str) -> None:
    tok, ref = enc_pair
    ids = assert_same(enc_pair, text)
    assert tok.decode(ids) == text
    half = len(ids) // 2
    cut = tok.truncate(text, half)
    assert cut
    assert text.startswith(cut)
    assert len(ref.encode_ordinary(cut)) <= half


SCRIPT_CASES = {
    "emoji": "I \u2764\ufe0f \U0001f600\U0001f600 and \U0001f44d\U0001f3fd!",
    "emoji_zwj": "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family "
    "\U0001f3f3\ufe0f\u200d\U0001f308 \U0001f9d1\U0001f3fb\u200d\U0001f4bb",
    "flags": "\U0001f1fa\U0001f1f8\U0001f1ef\U0001f1f5\U0001f1e9\U0001f1ea \U0001f1eb\U0001f1f7",
    "combining": "e\u0301 a\u0308\u0308 Z\u0351\u0352\u0353 \u0301\u0302 cafe\u0301s",
    "cjk": "\u6211\u7231\u5317\u4eac\u5929\u5b89\u95e8\u3002\u65e5\u672c\u8a9e\u306e"
    "\u30c6\u30ad\u30b9\u30c8\u3001\ud55c\uad6d\uc5b4 \u6587\u5b57",
    "hindi": "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e, "
    "\u0939\u093f\u0928\u094d\u0926\u0940 \u0967\u0968\u0969",
    "thai": "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a "
    "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\u0e07\u0e48\u0e32\u0e22",
    "arabic": "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 "
    "\u0661\u0662\u0663",
    "hebrew": "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd \u200f(abc)\u200e",
    "mixed_rtl": "abc \u05d0\u05d1\u05d2 123 \u0627\u0628\u062a def",
    "korean_jamo": "\u1100\u1161\u11a8 \u1112\u1161\u11ab",
    "astral_letters": "\U00010400\U00010428 \U0002a700\U0002a701",
}


@pytest.mark.parametrize("text", list(SCRIPT_CASES.values()), ids=list(SCRIPT_CASES))
def test_scripts(enc_pair: Pair, text: str) -> None:
    tok, _ = enc_pair
    ids = assert_same(enc_pair, text)
    assert tok.decode(ids) == text


def _contractions() -> list[str]:
    out = []
    for suffix in ("s", "t", "re", "ve", "m", "ll", "d"):
        for cased in itertools.product(*[(c.lower(), c.upper()) for c in suffix]):
            out.append("'" + "".join(cased))
    return [*out, "'\u017f", "'\u017fx", "'\u212a", "'x", "''s"]


@pytest.mark.parametrize("suffix", _contractions())
def test_contractions(enc_pair: Pair, suffix: str) -> None:
    for text in (
        suffix,
        "it" + suffix,
        "IT" + suffix,
        "it" + suffix + " go",
        "it " + suffix,
        "it" + suffix + suffix,
        "1" + suffix,
        "\u6587" + suffix,
        "it" + suffix + "self",
    ):
        assert_same(enc_pair, text)


def test_special_disallowed_by_default(enc_pair: Pair) -> None:
    tok, ref = enc_pair
    for special in sorted(ref.special_tokens_set)[:40]:
        text = f"before {special} after"
        with pytest.raises(ValueError):
            ref.encode(text)
        for call in (
            lambda t: tok.encode(t),
            lambda t: tok.count(t),
            lambda t: tok.encode_with_offsets(t),
            lambda t: tok.truncate(t, 3),
            lambda t: tok.encode_batch(["fine", t]),
        ):
            with pytest.raises(DisallowedSpecialToken) as info:
                call(text)
            assert isinstance(info.value, ValueError)
            assert isinstance(info.value, CovekitError)
            assert special in str(info.value)


def _special_texts(specials: Sequence[str]) -> list[str]:
    eot = "<|endoftext|>"
    other = next((s for s in specials if s != eot), eot)
    return [
        eot,
        eot + eot,
        f"{eot}hello",
        f"hello{eot}",
        f"hello {eot} world",
        f"hello   {eot}",
        f"hello   {eot}   ",
        f"   {eot}",
        f"a\n\n{eot}\n\nb",
        f"x \t{eot}\t y",
        f"1234{eot}5678",
        f"'s{eot}'ll",
        f"\u6587{eot}\u6587",
        f"{eot} {other} {eot}",
        f"<|{eot}|>",
        f"<{eot[1:]}",
        f"{eot[:-1]}{eot}",
        f"{other}{eot}{other}",
        f"   {other}   \n",
    ]


def test_special_allowed_all(enc_pair: Pair) -> None:
    tok, ref = enc_pair
    for text in _special_texts(sorted(ref.special_tokens_set)):
        expected = ref.encode(text, allowed_special="all")
        assert tok.encode(text, allowed_special="all") == expected, text
        assert tok.count(text, allowed_special="all") == len(expected), text
        ids, starts = tok.encode_with_offsets(text, allowed_special="all")
        assert ids == expected
        assert starts == ref.decode_with_offsets(expected)[1], text
        assert tok.decode(expected) == text


def test_special_allowed_set(enc_pair: Pair) -> None:
    tok, ref = enc_pair
    eot = "<|endoftext|>"
    allowed = {eot}
    for text in _special_texts(sorted(ref.special_tokens_set)):
        try:
            expected = ref.encode(text, allowed_special=allowed)
        except ValueError:
            with pytest.raises(DisallowedSpecialToken):
                tok.encode(text, allowed_special=allowed)
        else:
            assert tok.encode(text, allowed_special=allowed) == expected, text
            assert tok.count(text, allowed_special=allowed) == len(expected), text
        # the other specials as ordinary text
        expected = ref.encode(text, allowed_special=allowed, disallowed_special=())
        assert tok.encode(text, allowed_special=allowed, disallowed_special=()) == expected
        assert tok.encode(text, allowed_special=frozenset(allowed), disallowed_special=()) == (
            expected
        )
        assert tok.encode(text, allowed_special=[eot], disallowed_special=[]) == expected


def test_special_disallowed_empty(enc_pair: Pair) -> None:
    tok, ref = enc_pair
    for text in _special_texts(sorted(ref.special_tokens_set)):
        expected = ref.encode(text, disallowed_special=())
        assert tok.encode(text, disallowed_special=()) == expected
        assert tok.encode_ordinary(text) == ref.encode_ordinary(text) == expected
        assert tok.count(text, disallowed_special=()) == len(expected)
        assert tok.decode(expected) == text


def test_special_disallowed_subset(enc_pair: Pair) -> None:
    """Only the listed specials are refused; others are ordinary text."""
    tok, ref = enc_pair
    specials = sorted(ref.special_tokens_set)
    if len(specials) < 2:
        pytest.skip(f"{tok.name} has a single special token")
    first, second = specials[0], specials[1]
    text = f"a {second} b"
    assert tok.encode(text, disallowed_special={first}) == ref.encode(
        text, disallowed_special={first}
    )
    with pytest.raises(DisallowedSpecialToken, match=re.escape(second)):
        tok.encode(text, disallowed_special={second})


def test_special_tokens_table(enc_pair: Pair) -> None:
    tok, ref = enc_pair
    for text, token in ref._special_tokens.items():
        assert (
            tok.encode(text, allowed_special="all")
            == [token]
            == ref.encode(text, allowed_special="all")
        )
        assert tok.encode_single_token(text) == ref.encode_single_token(text) == token
        assert tok.is_special_token(token)
        # ids with two names (o200k_harmony's 200018) decode to either name
        names = {t for t, i in ref._special_tokens.items() if i == token}
        assert tok.decode_single_token_bytes(token).decode() in names
        if len(names) == 1:
            assert tok.decode_single_token_bytes(token) == ref.decode_single_token_bytes(token)


@pytest.mark.parametrize("alias", ["<|reserved_200018|>", "<|endofprompt|>"])
def test_offsets_after_aliased_special_token(make_pair: Any, alias: str) -> None:
    """o200k_harmony gives id 200018 to two texts; decoding it gives ``<|endofprompt|>``.
    Offsets must still index the text passed in, whichever of the two it spells."""
    tok, ref = make_pair("o200k_harmony")
    digits = "\u0661\u0662\u0663"  # two UTF-8 bytes each
    text = f"{alias}{digits} hello"
    ids, starts = tok.encode_with_offsets(text, allowed_special="all")
    assert ids == ref.encode(text, allowed_special="all")
    assert ids[0] == 200018
    n = len(alias)
    pieces = [tok.decode_single_token_bytes(t).decode("utf-8", "replace") for t in ids[1:]]
    expected = [0, n]
    for piece in pieces[:-1]:
        expected.append(expected[-1] + len(piece))
    assert starts == expected
    assert all(
        text[start:].startswith(piece) for start, piece in zip(starts[1:], pieces, strict=True)
    )
    for k in range(len(ids) + 1):
        cut = tok.truncate(text, k, allowed_special="all")
        assert text.startswith(cut)
        assert len(ref.encode(cut, allowed_special="all")) <= k


def test_unknown_special_name(enc_pair: Pair) -> None:
    tok, _ = enc_pair
    with pytest.raises(InvalidInput, match="not a special token"):
        tok.encode("hi", allowed_special={"<|nope|>"})
    with pytest.raises(InvalidInput, match="not a special token"):
        tok.encode("hi", disallowed_special={"<|nope|>"})
    with pytest.raises(InvalidInput):
        tok.encode("hi", allowed_special="everything")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        tok.count("hi", allowed_special={"<|nope|>"})


# --------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def cl100k(make_pair: Any) -> Pair:
    pair: Pair = make_pair("cl100k_base")
    return pair


@pytest.mark.parametrize(
    ("data", "offset"),
    [
        (b"ab\xffcd", 2),
        (b"\x80", 0),
        (b"hello \xe4\xb8", 6),  # truncated sequence at the end
        (b"\xc0\xaf", 0),  # overlong
        (b"x\xed\xa0\x80", 1),  # a surrogate in UTF-8 (CESU)
        (b"\xf4\x90\x80\x80", 0),  # above U+10FFFF
        (b"ok \xe2\x82", 3),
    ],
    ids=["ff", "lone_continuation", "truncated", "overlong", "surrogate", "too_big", "cut"],
)
def test_invalid_utf8_bytes(cl100k: Pair, data: bytes, offset: int) -> None:
    tok, _ = cl100k
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    for call in (tok.encode, tok.encode_ordinary, tok.count):
        with pytest.raises(InvalidUtf8) as info:
            call(data)  # type: ignore[arg-type]
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value, InvalidInput)
        assert f"offset {offset}" in str(info.value)
    with pytest.raises(InvalidUtf8):
        tok.encode_batch(["fine", data])  # type: ignore[list-item]


def test_valid_utf8_bytes(cl100k: Pair) -> None:
    tok, ref = cl100k
    text = "h\u00e9llo w\u00f6rld \U0001f600 \u6587"
    data = text.encode("utf-8")
    assert tok.encode(data) == ref.encode(text)  # type: ignore[arg-type]
    assert tok.encode_ordinary(data) == ref.encode_ordinary(text)
    assert tok.count(data) == len(ref.encode(text))  # type: ignore[arg-type]
    assert tok.encode(b"") == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "\ud800",
        "a\udfffb",
        "\udc80\udcff",
        "x\ud800 y",
        "\ud83d\ude00",
        "\ude00\ud83d",
        "\ud800" * 5,
    ],
    ids=["high", "low_inside", "surrogateescape", "high_space", "pair", "reversed", "run"],
)
def test_lone_surrogates(enc_pair: Pair, text: str) -> None:
    tok, ref = enc_pair
    expected = ref.encode(text)
    assert tok.encode(text) == expected
    assert tok.encode_ordinary(text) == ref.encode_ordinary(text) == expected
    assert tok.count(text) == len(expected)
    assert tok.encode_batch([text]) == [expected]


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "x\ud800 y\udc80z"])
def test_lone_surrogates_truncate_and_offsets(cl100k: Pair, text: str) -> None:
    """A lone surrogate is one character (U+FFFD): slices and offsets stay on ``text``."""
    tok, ref = cl100k
    ids, starts = tok.encode_with_offsets(text)
    assert starts == ref.decode_with_offsets(ids)[1]
    assert all(0 <= s <= len(text) for s in starts)
    for k in range(len(ids) + 1):
        cut = tok.truncate(text, k)
        assert text.startswith(cut)
        assert len(ref.encode(cut)) <= k
    assert tok.truncate(text, len(ids)) == text


SURROGATE_PAIR = "\ud83d\ude00abc def"  # U+1F600 spelled as two UTF-16 code units


def test_surrogate_pair_truncate_is_prefix_of_source(cl100k: Pair) -> None:
    """tiktoken reads a surrogate pair as the character it encodes (2 cl100k tokens here),
    so truncate must never split the pair and must keep the pair when 2 tokens fit."""
    tok, ref = cl100k
    assert ref.encode(SURROGATE_PAIR) == ref.encode("\U0001f600abc def")
    for k in range(len(ref.encode(SURROGATE_PAIR)) + 1):
        cut = tok.truncate(SURROGATE_PAIR, k)
        assert SURROGATE_PAIR.startswith(cut)
        assert len(ref.encode(cut)) <= k
        assert not (cut and "\ud800" <= cut[-1] <= "\udbff"), (k, cut)  # a split pair
    assert tok.truncate(SURROGATE_PAIR, 2) == "\ud83d\ude00"
    assert tok.truncate(SURROGATE_PAIR, 3) == "\ud83d\ude00abc"


def test_surrogate_pair_offsets_index_the_source(cl100k: Pair) -> None:
    """Offsets are ``str`` indices into the text passed in (DESIGN: offsets point back
    into the source exactly), so the pair's two code units count as two."""
    tok, _ = cl100k
    ids, starts = tok.encode_with_offsets(SURROGATE_PAIR)
    assert len(ids) == 4  # two for the emoji, "abc", " def"
    assert starts == [0, 0, 2, 5]


@pytest.mark.parametrize("bad", [1, None, ["a"], 1.5, bytearray(b"a")], ids=repr)
def test_non_str_text(cl100k: Pair, bad: object) -> None:
    tok, _ = cl100k
    for call in (
        lambda: tok.encode(bad),  # type: ignore[arg-type]
        lambda: tok.encode_ordinary(bad),  # type: ignore[arg-type]
        lambda: tok.count(bad),  # type: ignore[arg-type]
        lambda: tok.encode_with_offsets(bad),  # type: ignore[arg-type]
        lambda: tok.truncate(bad, 3),  # type: ignore[arg-type]
        lambda: tok.encode_batch(["ok", bad]),  # type: ignore[list-item]
        lambda: tok.count_batch([bad]),  # type: ignore[list-item]
    ):
        with pytest.raises(TypeError):
            call()


@pytest.mark.parametrize("name", ENCODING_NAMES)
def test_decode_out_of_range(make_pair: Any, name: str) -> None:
    tok, _ = make_pair(name)
    for bad in (tok.n_vocab, tok.n_vocab + 10, -1, 2**32 - 1, 2**32, 2**40, 2**70):
        for call in (tok.decode, tok.decode_bytes, tok.decode_tokens_bytes):
            with pytest.raises(InvalidTokenId) as info:
                call([0, bad])
            assert isinstance(info.value, ValueError)
            assert isinstance(info.value, KeyError)
        with pytest.raises(InvalidTokenId):
            tok.decode_batch([[0], [bad]])
        with pytest.raises(InvalidTokenId):
            tok.decode_single_token_bytes(bad)


def test_decode_holes_in_cl100k(cl100k: Pair) -> None:
    tok, ref = cl100k
    for hole in [100256, *range(100261, 100276)]:
        with pytest.raises(KeyError):
            ref.decode_single_token_bytes(hole)
        with pytest.raises(InvalidTokenId, match=str(hole)):
            tok.decode([hole])
        with pytest.raises(InvalidTokenId):
            tok.decode_bytes([15339, hole])
        with pytest.raises(InvalidTokenId):
            tok.decode(np.array([hole], dtype=np.uint32))
        with pytest.raises(InvalidTokenId):
            tok.decode_single_token_bytes(hole)
        assert not tok.is_special_token(hole)
    assert tok.decode([100257, 100276]) == "<|endoftext|><|endofprompt|>"


@pytest.mark.parametrize("bad", [[1, "a"], [1, 2.0], [None], "abc", b"abc", None, 5], ids=repr)
def test_decode_non_int(cl100k: Pair, bad: object) -> None:
    tok, ref = cl100k
    with pytest.raises(TypeError):
        tok.decode(bad)
    with pytest.raises(TypeError):
        tok.decode_bytes(bad)
    with pytest.raises(TypeError):
        tok.decode_batch([[1], bad])
    if isinstance(bad, list):  # tiktoken refuses these item by item too
        with pytest.raises(TypeError):
            ref.decode_tokens_bytes(bad)
        with pytest.raises(TypeError):
            tok.decode_tokens_bytes(bad)


@pytest.mark.parametrize("bad", [1.5, 2.0, "1", None], ids=repr)
def test_decode_single_token_non_int(cl100k: Pair, bad: object) -> None:
    tok, ref = cl100k
    with pytest.raises(TypeError):
        ref.decode_single_token_bytes(bad)
    with pytest.raises(TypeError):
        tok.decode_single_token_bytes(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tok.decode_tokens_bytes([15339, bad])  # type: ignore[list-item]


def test_decode_numpy(cl100k: Pair) -> None:
    tok, ref = cl100k
    ids = ref.encode("hello world, numpy arrays of every integer type \u6587\U0001f600")
    text = ref.decode(ids)
    for dtype in (np.int64, np.uint32, np.int32, np.uint64, np.intp):
        assert tok.decode(np.asarray(ids, dtype=dtype)) == text, dtype
        assert tok.decode_bytes(np.asarray(ids, dtype=dtype)) == ref.decode_bytes(ids)
    small = list(range(0, 128, 3))
    assert tok.decode(np.asarray(small, dtype=np.int8)) == ref.decode(small)
    assert tok.decode(np.asarray(small, dtype=np.uint8)) == ref.decode(small)
    doubled = np.repeat(np.asarray(ids, dtype=np.uint32), 2)
    assert tok.decode(doubled[::2]) == text  # non-contiguous uint32 view
    assert tok.decode(np.repeat(np.asarray(ids, dtype=np.int64), 2)[1::2]) == text
    assert tok.decode(np.asarray(ids, dtype=np.uint32)[::-1][::-1]) == text
    assert tok.decode(tok.encode("round trip", as_numpy=True)) == "round trip"
    assert tok.decode(np.zeros(0, dtype=np.int64)) == ""
    assert tok.decode_batch([np.asarray(ids, dtype=np.int64), ids]) == [text, text]
    with pytest.raises(InvalidTokenId):
        tok.decode(np.asarray([-1], dtype=np.int8))
    with pytest.raises(InvalidTokenId):
        tok.decode(np.asarray([2**40], dtype=np.int64))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.bool_, np.complex64, object])
def test_decode_numpy_wrong_dtype(cl100k: Pair, dtype: Any) -> None:
    tok, _ = cl100k
    with pytest.raises(InvalidInput, match="dtype"):
        tok.decode(np.asarray([1, 2], dtype=dtype))
    with pytest.raises(InvalidInput):
        tok.decode_bytes(np.asarray([1, 2], dtype=dtype))


def test_decode_numpy_2d(cl100k: Pair) -> None:
    tok, _ = cl100k
    with pytest.raises(InvalidInput, match="1-D"):
        tok.decode(np.zeros((2, 2), dtype=np.int64))


def test_decode_split_character(enc_pair: Pair) -> None:
    tok, ref = enc_pair
    text = "\u72ac\U0001f600\u0e44"
    ids = ref.encode(text)
    for cut in range(len(ids) + 1):
        part = ids[:cut]
        assert tok.decode(part) == ref.decode(part)
        assert tok.decode(part, errors="replace") == ref.decode(part, errors="replace")
        assert tok.decode(part, errors="ignore") == ref.decode(part, errors="ignore")
        try:
            expected = ref.decode(part, errors="strict")
        except UnicodeDecodeError:
            with pytest.raises(UnicodeDecodeError):
                tok.decode(part, errors="strict")
            assert "\ufffd" in tok.decode(part)
        else:
            assert tok.decode(part, errors="strict") == expected


def test_decode_unknown_error_handler(cl100k: Pair) -> None:
    tok, ref = cl100k
    part = ref.encode("\U0001f600")[:1]
    with pytest.raises(LookupError):
        tok.decode(part, errors="no-such-handler")


def test_truncate_negative(cl100k: Pair) -> None:
    tok, _ = cl100k
    with pytest.raises(InvalidInput):
        tok.truncate("hello", -1)
    assert tok.truncate("hello", 0) == ""


@pytest.mark.parametrize("num_threads", [0, -1])
def test_batch_num_threads(cl100k: Pair, num_threads: int) -> None:
    tok, _ = cl100k
    for call in (
        lambda: tok.encode_batch(["a", "b"], num_threads=num_threads),
        lambda: tok.encode_ordinary_batch(["a"], num_threads=num_threads),
        lambda: tok.count_batch(["a"], num_threads=num_threads),
        lambda: tok.decode_batch([[1]], num_threads=num_threads),
        lambda: tok.decode_bytes_batch([[1]], num_threads=num_threads),
    ):
        with pytest.raises(InvalidInput):
            call()


def test_encode_single_token(enc_pair: Pair) -> None:
    tok, ref = enc_pair
    for piece in ("hello", " world", "!", b"\xe7", b" the", "\n\n"):
        expected = ref.encode_single_token(piece)
        assert tok.encode_single_token(piece) == expected, piece
    for not_one in ("hello world", "", b"\xff" * 20, "<|endoftext|> "):
        with pytest.raises(KeyError):
            ref.encode_single_token(not_one)
        with pytest.raises(TokenNotFound) as info:
            tok.encode_single_token(not_one)
        assert isinstance(info.value, KeyError)
        assert isinstance(info.value, ValueError)
        assert repr(not_one) in str(info.value)


def test_decode_token_bytes(enc_pair: Pair) -> None:
    tok, ref = enc_pair
    n = len(tok.mergeable_ranks())
    sample = [*range(0, 300), *range(n - 300, n), *range(1000, n, 997)]
    assert tok.decode_tokens_bytes(sample) == ref.decode_tokens_bytes(sample)
    for token in sample:
        assert tok.decode_single_token_bytes(token) == ref.decode_single_token_bytes(token)
    assert tok.decode_tokens_bytes(np.asarray(sample, dtype=np.int64)) == (
        ref.decode_tokens_bytes(sample)
    )


def test_token_byte_values(enc_pair: Pair) -> None:
    tok, ref = enc_pair
    assert tok.token_byte_values() == ref.token_byte_values()


def test_mergeable_ranks(enc_pair: Pair) -> None:
    tok, ref = enc_pair
    assert tok.mergeable_ranks() == ref._mergeable_ranks


# ------------------------------------------------------------------- vocabulary files


@pytest.fixture(scope="module")
def r50k_lines() -> list[bytes]:
    """The lines of the shared r50k_base.tiktoken (skips without the shared data)."""
    return (shared_data.tokenizer_dir() / "r50k_base.tiktoken").read_bytes().splitlines()


def _b64(token: bytes) -> bytes:
    return base64.b64encode(token)


def _corruptions(lines: list[bytes]) -> list[tuple[str, bytes, str]]:
    def joined(ls: Iterable[bytes]) -> bytes:
        return b"\n".join(ls) + b"\n"

    token_of = [line.split(b" ")[0] for line in lines]
    line_1000 = lines[999]
    cut = line_1000[: len(token_of[999]) // 2]  # inside the base64 of line 1000
    return [
        ("bad_base64", joined([b"!!!! 0", *lines[1:]]), "line 1"),
        ("bad_base64_later", joined([*lines[:40], b"%%%% 40", *lines[41:]]), "line 41"),
        ("missing_rank", joined([token_of[0], *lines[1:]]), "line 1"),
        ("rank_not_a_number", joined([*lines[:9], token_of[9] + b" nine", *lines[10:]]), "line 10"),
        ("negative_rank", joined([*lines[:9], token_of[9] + b" -9", *lines[10:]]), "line 10"),
        ("duplicate_rank", joined([*lines[:5], token_of[5] + b" 3", *lines[6:]]), "rank 3"),
        ("duplicate_token", joined([*lines[:5], token_of[3] + b" 5", *lines[6:]]), "twice"),
        ("missing_single_byte", joined(lines[1:]), "single byte"),
        ("empty", b"", "no tokens"),
        ("blank", b"\n\n\n", "no tokens"),
        ("truncated_mid_line", b"\n".join([*lines[:999], cut]), "line 1000"),
        ("binary_garbage", bytes(range(256)) * 4, ""),
    ]


CORRUPTION_IDS = [
    "bad_base64",
    "bad_base64_later",
    "missing_rank",
    "rank_not_a_number",
    "negative_rank",
    "duplicate_rank",
    "duplicate_token",
    "missing_single_byte",
    "empty",
    "blank",
    "truncated_mid_line",
    "binary_garbage",
]


@pytest.mark.parametrize("case", CORRUPTION_IDS)
def test_corrupt_tiktoken_file(r50k_lines: list[bytes], tmp_path: Path, case: str) -> None:
    cases = {name: (data, expected) for name, data, expected in _corruptions(r50k_lines)}
    data, expected = cases[case]
    path = tmp_path / f"{case}.tiktoken"
    path.write_bytes(data)
    with pytest.raises(TokenizerFileCorrupt) as info:
        Tokenizer.from_file(path, pattern="r50k", special_tokens={"<|endoftext|>": 50256})
    assert isinstance(info.value, ValueError)
    assert expected in str(info.value)


def test_from_file_missing(tmp_path: Path) -> None:
    with pytest.raises(TokenizerDataMissing) as info:
        Tokenizer.from_file(tmp_path / "nope.tiktoken", pattern="r50k")
    assert isinstance(info.value, FileNotFoundError)
    assert "nope.tiktoken" in str(info.value)


@pytest.mark.parametrize("name", FILE_ENCODINGS)
def test_from_file_with_tiktoken_pat_str(make_pair: Any, name: str) -> None:
    tok, ref = make_pair(name)
    mine = Tokenizer.from_file(
        shared_data.tokenizer_dir() / f"{name}.tiktoken",
        pattern=ref._pat_str,
        special_tokens=ref._special_tokens,
    )
    assert mine.name == name
    assert mine.pattern == tok.pattern
    assert mine.n_vocab == tok.n_vocab
    assert mine.special_tokens == tok.special_tokens
    for text in [*SCRIPT_CASES.values(), *WHITESPACE_CASES.values(), *DIGIT_CASES.values()]:
        assert mine.encode(text) == tok.encode(text) == ref.encode(text)
    text = "x <|endoftext|> y"
    assert mine.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")


@pytest.mark.parametrize("pattern", [r"\w+|\s+", "r50k_base", "", "CL100K", "o200k "])
def test_unsupported_pattern(pattern: str, tmp_path: Path) -> None:
    ranks = {bytes([b]): b for b in range(256)}
    with pytest.raises(InvalidInput, match="pattern"):
        Tokenizer.from_ranks(ranks, pattern=pattern)
    with pytest.raises(InvalidInput):
        _core.pretokenize("abc", pattern)
    path = tmp_path / "bytes.tiktoken"
    path.write_bytes(b"".join(_b64(k) + b" %d\n" % v for k, v in ranks.items()))
    with pytest.raises(InvalidInput):
        Tokenizer.from_file(path, pattern=pattern)


def test_byte_level_tokenizer_from_ranks() -> None:
    tok = Tokenizer.from_ranks({bytes([b]): b for b in range(256)}, pattern="cl100k")
    text = "h\u00e9llo \U0001f600"
    assert tok.encode(text) == list(text.encode("utf-8"))
    assert tok.decode(tok.encode(text)) == text
    assert tok.n_vocab == 256


# ------------------------------------------------------------------------------ lookup


@pytest.mark.parametrize("name", ENCODING_NAMES)
def test_registered_encoding_loads(name: str) -> None:
    """Every registered encoding loads and has tiktoken's size and special tokens."""
    shared_data.tokenizer_dir()  # skips without the shared data
    ref = tiktoken.get_encoding(name)
    tok = get_tokenizer(name)
    assert (tok.name, tok.n_vocab, tok.special_tokens_set) == (
        ref.name,
        ref.n_vocab,
        ref.special_tokens_set,
    )


def test_get_tokenizer_with_path(make_pair: Any) -> None:
    """``path=`` loads that file afresh, uncached, with the registered encoding's rules."""
    tok, ref = make_pair("cl100k_base")
    mine = get_tokenizer("cl100k_base", path=shared_data.tokenizer_dir() / "cl100k_base.tiktoken")
    assert mine is not tok
    assert mine is not get_tokenizer(
        "cl100k_base", path=shared_data.tokenizer_dir() / "cl100k_base.tiktoken"
    )
    assert get_tokenizer("cl100k_base") is tok
    assert (mine.name, mine.n_vocab, mine.special_tokens) == (
        tok.name,
        tok.n_vocab,
        ref._special_tokens,
    )
    text = "hello <|endoftext|> \u6587\U0001f600"
    assert mine.encode(text, allowed_special="all") == ref.encode(text, allowed_special="all")
    copy = pickle.loads(pickle.dumps(mine))
    assert copy is not tok
    assert copy.encode(text, allowed_special="all") == ref.encode(text, allowed_special="all")


def test_unknown_encoding() -> None:
    with pytest.raises(UnknownEncoding) as info:
        get_tokenizer("nope")
    assert isinstance(info.value, ValueError)
    assert "nope" in str(info.value)


def test_list_encodings() -> None:
    assert list_encodings() == ENCODING_NAMES
    assert set(list_encodings()) == set(tiktoken.list_encoding_names())


MODELS = [
    "gpt-4o",
    "gpt-4o-2024-05-13",
    "gpt-4",
    "gpt-4-0314",
    "gpt-3.5-turbo",
    "gpt-35-turbo-16k",
    "o1",
    "o3-mini",
    "gpt-5",
    "text-embedding-3-small",
    "text-davinci-003",
    "text-davinci-edit-001",
    "davinci",
    "gpt2",
    "ft:gpt-4o:my-org:custom:id",
    "gpt-oss-120b",
]


@pytest.mark.parametrize("model", MODELS)
def test_tokenizer_for_model(make_pair: Any, model: str) -> None:
    make_pair("cl100k_base")  # skips without the shared data
    assert tokenizer_for_model(model).name == tiktoken.encoding_name_for_model(model)
    assert tokenizer_for_model(model) is get_tokenizer(tiktoken.encoding_name_for_model(model))


def test_tokenizer_for_gpt_4o(make_pair: Any) -> None:
    make_pair("o200k_base")
    assert tokenizer_for_model("gpt-4o").name == "o200k_base"


@pytest.mark.parametrize("model", ["gpt-9-ultra", "", "llama-3"])
def test_unknown_model(model: str) -> None:
    with pytest.raises(KeyError):
        tiktoken.encoding_name_for_model(model)
    with pytest.raises(UnknownModel) as info:
        tokenizer_for_model(model)
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, ValueError)
    assert repr(model) in str(info.value)


# -------------------------------------------------------------------------- 100 MB


@pytest.mark.slow
def test_100_mb(make_pair: Any, corpus: list[tuple[str, str]]) -> None:
    tok, ref = make_pair("cl100k_base")
    base = "\n".join(text for _, text in corpus)
    repeats = -(-100_000_000 // len(base.encode("utf-8")))
    big = "\n".join([base] * repeats)
    del base
    expected = ref.encode_to_numpy(big, disallowed_special=())
    count = tok.count(big, disallowed_special=())
    assert count == len(expected)
    arr = tok.encode(big, disallowed_special=(), as_numpy=True)
    assert arr.dtype == np.uint32
    assert arr.size == count
    assert np.array_equal(arr, expected)


# ----------------------------------------------------------------------- API surface


def test_properties_match_tiktoken(enc_pair: Pair) -> None:
    tok, ref = enc_pair
    assert tok.name == ref.name
    assert tok.n_vocab == ref.n_vocab
    assert tok.max_token_value == ref.max_token_value
    assert tok.eot_token == ref.eot_token
    assert tok.special_tokens_set == ref.special_tokens_set
    assert tok.special_tokens == ref._special_tokens
    assert not tok.is_special_token(0)
    assert not tok.is_special_token(-1)
    assert not tok.is_special_token(2**40)
    assert tok.is_special_token(ref.eot_token) == ref.is_special_token(ref.eot_token)


def test_repr(enc_pair: Pair) -> None:
    tok, ref = enc_pair
    assert repr(tok) == f"<covekit.Tokenizer {ref.name!r} n_vocab={ref.n_vocab}>"


def test_get_tokenizer_is_cached(make_pair: Any) -> None:
    tok, _ = make_pair("r50k_base")
    assert get_tokenizer("r50k_base") is tok
    assert get_tokenizer("r50k_base") is get_tokenizer("r50k_base")


@pytest.mark.thread_unsafe
def test_get_tokenizer_from_many_threads(make_pair: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    make_pair("r50k_base")  # skips without the shared data
    monkeypatch.setattr(tokenize_module, "_CACHE", {})  # a cold cache, restored afterwards
    barrier = threading.Barrier(8)
    results: list[Tokenizer] = []
    errors: list[BaseException] = []

    def load() -> None:
        try:
            barrier.wait()
            results.append(get_tokenizer("r50k_base"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 8
    assert all(r is results[0] for r in results)
    assert get_tokenizer("r50k_base") is results[0]


def test_shared_tokenizer_across_threads(cl100k: Pair, corpus: list[tuple[str, str]]) -> None:
    tok, _ = cl100k
    work = [text[:200_000] for _, text in corpus[:8]]
    sequential = [tok.encode_ordinary(text) for text in work]
    counts = [len(ids) for ids in sequential]
    barrier = threading.Barrier(4)
    results: dict[int, list[Any]] = {}
    errors: list[BaseException] = []

    def run(worker: int) -> None:
        try:
            barrier.wait()
            mine = []
            for rep in range(3):
                for i in range(worker, worker + len(work), 4):
                    text = work[(i + rep) % len(work)]
                    mine.append(((i + rep) % len(work), tok.encode_ordinary(text), tok.count(text)))
            results[worker] = mine
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [0, 1, 2, 3]
    for mine in results.values():
        for index, ids, count in mine:
            assert ids == sequential[index]
            assert count == counts[index]


def test_pickle_registered(enc_pair: Pair) -> None:
    tok, _ = enc_pair
    assert pickle.loads(pickle.dumps(tok)) is tok


def test_pickle_from_ranks(make_pair: Any) -> None:
    tok, ref = make_pair("r50k_base")
    mine = Tokenizer.from_ranks(
        tok.mergeable_ranks(), pattern="r50k", special_tokens={"<|endoftext|>": 50256}, name="mine"
    )
    copy = pickle.loads(pickle.dumps(mine))
    assert copy is not mine
    assert isinstance(copy, Tokenizer)
    assert (copy.name, copy.pattern, copy.n_vocab) == ("mine", "r50k", 50257)
    assert copy.special_tokens == {"<|endoftext|>": 50256}
    for text in [*SCRIPT_CASES.values(), *WHITESPACE_CASES.values()]:
        assert copy.encode(text) == mine.encode(text) == ref.encode(text)
    assert repr(copy) == "<covekit.Tokenizer 'mine' n_vocab=50257>"


def test_encode_batch_orders_and_types(cl100k: Pair) -> None:
    tok, ref = cl100k
    items = [f"item {i} " * (i % 17) for i in range(300)]
    expected = [ref.encode(t) for t in items]
    for threads in (1, 2, 8):
        assert tok.encode_batch(items, num_threads=threads) == expected
        assert tok.encode_batch(iter(items), num_threads=threads) == expected
        assert tok.count_batch(tuple(items), num_threads=threads) == [len(e) for e in expected]
        assert tok.decode_batch(expected, num_threads=threads) == items
    arrays = tok.encode_batch(items, as_numpy=True, num_threads=2)
    assert [a.dtype for a in arrays] == [np.dtype(np.uint32)] * len(items)
    assert [a.tolist() for a in arrays] == expected
    texts_ = ["a <|endoftext|> b", "c"]
    assert tok.encode_batch(texts_, allowed_special="all") == ref.encode_batch(
        texts_, allowed_special="all"
    )


@given(batch=st.lists(texts, max_size=40), threads=st.integers(min_value=1, max_value=9))
def test_property_threaded_batch_equals_one_call_per_text(
    enc_pair: Pair, batch: list[str], threads: int
) -> None:
    """The native fan-out (slices, per-thread memos, stealing) never changes a result."""
    tok, ref = enc_pair
    expected = [ref.encode_ordinary(t) for t in batch]
    assert tok.encode_ordinary_batch(batch, num_threads=threads) == expected
    arrays = tok.encode_ordinary_batch(batch, num_threads=threads, as_numpy=True)
    assert [a.tolist() for a in arrays] == expected
    assert tok.count_batch(batch, num_threads=threads, disallowed_special=()) == [
        len(e) for e in expected
    ]


def test_threaded_batch_edges(cl100k: Pair) -> None:
    tok, ref = cl100k
    long_text = "The quick brown fox jumps over the lazy dog. 数据平面 สวัสดีครับ 🙂 " * 2000
    cases: list[list[str]] = [
        [],  # nothing to do
        ["only one"],  # one text: no threads
        ["", "", ""],  # all empty: zero bytes to share out
        ["", long_text, ""],  # all the bytes in one text
        [long_text[: i * 37] for i in range(300)],  # many texts of growing size
        ["a"] * 5,  # fewer texts than threads
    ]
    for batch in cases:
        expected = [ref.encode(t) for t in batch]
        for threads in (2, 3, 16):
            assert tok.encode_batch(batch, num_threads=threads) == expected
            assert tok.count_batch(batch, num_threads=threads) == [len(e) for e in expected]


def test_threaded_batch_error_from_a_worker_thread(cl100k: Pair) -> None:
    """An error raised by the C++ encoder in a worker thread reaches the caller intact."""
    tok, _ = cl100k
    batch = ["plain text " * 40] * 400
    batch[333] = "a <|endoftext|> b"
    for threads in (2, 8):
        with pytest.raises(DisallowedSpecialToken):
            tok.encode_batch(batch, num_threads=threads)
        with pytest.raises(DisallowedSpecialToken):
            tok.count_batch(batch, num_threads=threads)
    # and the tokenizer is fine afterwards
    assert tok.encode_batch(batch[:300], num_threads=2) == [tok.encode(batch[0])] * 300


def test_native_batch_arguments(cl100k: Pair) -> None:
    tok, _ = cl100k
    impl = tok._impl
    with pytest.raises(InvalidInput, match="not both"):
        impl.encode_many(["a", "b"], None, False, impl.make_scratch(0), num_threads=2)
    with pytest.raises(InvalidInput, match="num_threads"):
        impl.count_many(["a", "b"], None, num_threads=0)
    with pytest.raises(InvalidInput, match="num_threads"):
        tok.encode_batch(["a"], num_threads=True)


_CTRL_C_SCRIPT = """
import _thread, threading
import covekit

tok = covekit.get_tokenizer("cl100k_base")
batch = ["Some text to encode, 12345 and more. " * 200] * 2000
started = threading.Event()

def interrupt_once():  # one interrupt, some time into the loop below
    started.wait()
    threading.Event().wait(0.05)
    _thread.interrupt_main()

before = threading.active_count()
helper = threading.Thread(target=interrupt_once)
helper.start()
try:
    started.set()
    while True:  # batches until the interrupt lands (inside one, nearly always)
        tok.encode_batch(batch, num_threads=2)
except KeyboardInterrupt:
    print("KeyboardInterrupt")
helper.join()
print("threads left behind:", threading.active_count() - before)
print("works after:", tok.encode_batch(["after"] * 3, num_threads=2) == [tok.encode("after")] * 3)
"""


def test_threaded_batch_interrupted_by_ctrl_c(cl100k: Pair) -> None:
    """Ctrl-C during threaded batches raises KeyboardInterrupt; no thread is left behind.

    Run in a fresh interpreter: after some of the property tests above have run in the
    same process, a simulated Ctrl-C is never delivered, even to a pure-Python loop.
    """
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _CTRL_C_SCRIPT],
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard, not a timing assertion
        env=os.environ.copy(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "KeyboardInterrupt",
        "threads left behind: 0",
        "works after: True",
    ]


def test_encode_numpy_is_owned(cl100k: Pair) -> None:
    tok, ref = cl100k
    arr = tok.encode("hello world", as_numpy=True)
    assert arr.flags.c_contiguous
    assert arr.flags.owndata or arr.base is not None
    assert arr.tolist() == ref.encode("hello world")
    ids, starts = tok.encode_with_offsets("hello world", as_numpy=True)
    assert ids.tolist() == ref.encode("hello world")
    assert starts.tolist() == [0, 5]


def test_native_scratch_is_tied_to_its_tokenizer_and_gives_the_same_ids() -> None:
    """Batches keep one scratch (memos) per worker thread; results never depend on it."""
    from covekit import get_tokenizer
    from covekit.errors import InvalidInput

    cl = get_tokenizer("cl100k_base")
    o2 = get_tokenizer("o200k_base")
    texts = ["hello world", "สวัสดีครับ ทุกคน", "数据平面 " * 50, ""]
    scratch = cl._impl.make_scratch(1 << 16)
    assert "cl100k_base" in repr(scratch)
    for _ in range(3):  # the memo carries over between calls: same answers every time
        assert cl._impl.encode_many(texts, None, False, scratch) == cl.encode_ordinary_batch(texts)
        assert cl._impl.count_many(texts, None, scratch).tolist() == [
            len(t) for t in cl.encode_ordinary_batch(texts)
        ]
    with pytest.raises(InvalidInput, match="another tokenizer"):
        o2._impl.encode_many(texts, None, False, scratch)


def test_batch_error_in_a_worker_slice_propagates() -> None:
    """A bad item deep in a threaded batch raises its own error from the call."""
    from covekit import get_tokenizer

    enc = get_tokenizer("cl100k_base")
    texts: list[Any] = ["some text " * 10] * 300
    texts[250] = 12345
    with pytest.raises(TypeError):
        enc.encode_batch(texts, num_threads=2)
    with pytest.raises(TypeError):
        enc.count_batch(texts, num_threads=2)
    assert enc.count_batch(texts[:250], num_threads=2) == [enc.count(texts[0])] * 250
