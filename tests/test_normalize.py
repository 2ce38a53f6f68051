"""covekit.normalize_text: the text equals a plain reference pipeline, and the offset map
leads back to the raw text exactly.

Hypothesis properties on generated Unicode (combining marks, Hangul jamo, singletons,
compatibility characters, CR/LF, controls, BOMs): the text is the reference result; the
map is monotone; spans stay inside the raw text; every unchanged stretch maps to an
identical raw stretch; every changed region normalizes on its own to its text. Then
named cases, the fallback path, bad input, pickling and a 1 MB input.
"""

from __future__ import annotations

import pickle
import re
import unicodedata
from typing import Any

import pytest
from covekit import Normalization, normalize_text
from covekit.data import normalize as normalize_module
from covekit.errors import InvalidInput
from hypothesis import given
from hypothesis import strategies as st

CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]+")


def reference(
    raw: str,
    *,
    form: str | None = "NFC",
    line_endings: bool = True,
    control_chars: bool = True,
    fold_whitespace: bool = False,
    strip_bom: bool = True,
) -> str:
    """The same steps without any offset bookkeeping."""
    text = raw
    if strip_bom and text.startswith("\ufeff"):
        text = text[1:]
    if line_endings:
        text = re.sub(r"\r\n?", "\n", text)
    if control_chars:
        text = CONTROLS.sub("", text)
    if form is not None:
        text = unicodedata.normalize(form, text)  # type: ignore[arg-type]
    if fold_whitespace:
        text = text.strip()

        def fold(m: re.Match[str]) -> str:
            n = m.group().count("\n")
            return "\n\n" if n >= 2 else "\n" if n == 1 else " "

        text = re.sub(r"\s+", fold, text)
    return text


#: Characters that make normalization interesting.
SPECIAL = [
    "e", "a", "A", "o", " ", "\t", "\n", "\r", "\r\n", "\x00", "\x1b", "\x85", "\ufeff",
    "\u0301", "\u0323", "\u0307", "\u0308", "\u0344", "\u0340", "\u212b", "\u00c5",
    "\u1100", "\u1161", "\u11a8", "\uac00", "\u0f73", "\u0f71", "\u0f72", "\ufb01",
    "\u2460", "\u0958", "\u0915\u093c", "\u0b47\u0b3e", "\u00e9", "\u200d", "\U0001f469",
    "\u0e01", "\u05d0", "\u3000", "  ", "\n\n\n",
]  # fmt: skip

texts = st.lists(
    st.one_of(st.sampled_from(SPECIAL), st.characters(exclude_categories=("Cs",))),
    max_size=40,
).map("".join)

options = st.fixed_dictionaries(
    {},
    optional={
        "form": st.sampled_from(["NFC", "NFKC", "NFD", "NFKD", None]),
        "line_endings": st.booleans(),
        "control_chars": st.booleans(),
        "fold_whitespace": st.booleans(),
        "strip_bom": st.booleans(),
    },
)


def gaps(norm: Normalization) -> list[tuple[int, int]]:
    """The unchanged stretches of the normalized text, as (start, end)."""
    out = []
    pos = 0
    for start, end, _, _ in norm.regions():
        out.append((pos, start))
        pos = end
    out.append((pos, len(norm.text)))
    return out


# ------------------------------------------------------------------------ properties


@given(texts, options)
def test_text_matches_reference(raw: str, opts: dict[str, Any]) -> None:
    assert normalize_text(raw, **opts).text == reference(raw, **opts)


@given(texts, options)
def test_mapping_is_monotone_and_inside(raw: str, opts: dict[str, Any]) -> None:
    norm = normalize_text(raw, **opts)
    assert norm.raw_length == len(raw)
    for side in ("start", "end"):
        mapped = [norm.to_raw(i, side=side) for i in range(len(norm.text) + 1)]  # type: ignore[arg-type]
        assert mapped == sorted(mapped), side
        assert all(0 <= m <= len(raw) for m in mapped)
    for a in range(len(norm.text) + 1):
        for b in range(a, min(len(norm.text), a + 6) + 1):
            rs, re_ = norm.to_raw_span(a, b)
            assert 0 <= rs <= re_ <= len(raw)


@given(texts, options)
def test_unchanged_stretches_map_exactly(raw: str, opts: dict[str, Any]) -> None:
    norm = normalize_text(raw, **opts)
    text = norm.text
    for lo, hi in gaps(norm):
        assert lo <= hi
        for a in range(lo, hi + 1):
            for b in (a, (a + hi) // 2, hi):
                rs, re_ = norm.to_raw_span(a, b)
                assert raw[rs:re_] == text[a:b]
                assert norm.to_raw(a) == rs


@given(texts, st.sampled_from(["NFC", "NFKC", "NFD", "NFKD", None]))
def test_changed_regions_normalize_alone(raw: str, form: str | None) -> None:
    norm = normalize_text(raw, form=form)  # type: ignore[arg-type]
    previous_end = previous_raw_end = -1
    for start, end, raw_start, raw_end in norm.regions():
        assert start > previous_end and raw_start > previous_raw_end  # never touching
        assert raw_start < raw_end or start < end
        expected = reference(raw[raw_start:raw_end], form=form, strip_bom=raw_start == 0)
        assert norm.text[start:end] == expected
        if start < end:  # a removal maps to an empty span
            assert norm.to_raw_span(start, end) == (raw_start, raw_end)
        previous_end, previous_raw_end = end, raw_end


# ------------------------------------------------------------------------ named cases


def test_crlf_and_lone_cr() -> None:
    raw = "one\r\ntwo\rthree\n"
    norm = normalize_text(raw)
    assert norm.text == "one\ntwo\nthree\n"
    start = norm.text.index("three")
    assert raw[slice(*norm.to_raw_span(start, start + 5))] == "three"
    assert list(norm.regions()) == [(3, 4, 3, 5), (7, 8, 8, 9)]


def test_bom_and_controls() -> None:
    raw = "\ufeffa\x00\x00b\x1b[0mc\t\n"
    norm = normalize_text(raw)
    assert norm.text == "ab[0mc\t\n"
    assert norm.to_raw(0) == 1  # past the BOM
    assert norm.to_raw(1) == 4  # past the NULs
    assert norm.to_raw(1, side="end") == 2  # before them
    assert norm.changed


def test_bom_only_at_start() -> None:
    assert normalize_text("a\ufeffb").text == "a\ufeffb"  # a zero-width no-break space
    assert normalize_text("\ufeffb", strip_bom=False).text == "\ufeffb"


def test_combining_sequence_maps_to_whole_cluster() -> None:
    raw = "Cafe\u0301 au lait"
    norm = normalize_text(raw)
    assert norm.text == "Café au lait"
    assert norm.to_raw_span(3, 4) == (3, 5)
    assert norm.to_raw_span(0, 4) == (0, 5)
    assert raw[slice(*norm.to_raw_span(5, 12))] == "au lait"


def test_marks_are_reordered_and_composed() -> None:
    raw = "xs\u0307\u0323y"  # dot above then dot below: NFC reorders, composes U+1E69
    norm = normalize_text(raw)
    assert norm.text == unicodedata.normalize("NFC", raw)
    assert len(norm.text) == 3
    assert norm.to_raw_span(1, 2) == (1, 4)  # the cluster, whole
    assert norm.to_raw(2) == 4


def test_hangul_jamo_compose() -> None:
    raw = "\u1100\u1161\u11a8!"  # L V T -> one syllable
    norm = normalize_text(raw)
    assert norm.text == "\uac01!"
    assert norm.to_raw_span(0, 1) == (0, 3)
    assert norm.to_raw(1) == 3


def test_nfd_grows_the_text() -> None:
    raw = "é!"
    norm = normalize_text(raw, form="NFD")
    assert norm.text == "e\u0301!"
    assert norm.to_raw(1) == 0  # inside the cluster: its start
    assert norm.to_raw(1, side="end") == 1  # ... or its end
    assert norm.to_raw(2) == 1


def test_nfkc_and_singletons() -> None:
    assert normalize_text("\ufb01le \u2460", form="NFKC").text == "file 1"
    norm = normalize_text("\u212b.")  # ANGSTROM SIGN -> A WITH RING ABOVE
    assert norm.text == "\u00c5."
    assert list(norm.regions()) == [(0, 1, 0, 1)]  # same length, still recorded


def test_changes_across_removed_characters() -> None:
    # The NUL goes first, then e + acute compose across the place it was.
    raw = "e\x00\u0301"
    norm = normalize_text(raw)
    assert norm.text == "é"
    assert norm.to_raw_span(0, 1) == (0, 3)


def test_unchanged_text_has_no_regions() -> None:
    raw = "Plain text, ünïcödé, 日本語, emoji 👩‍💻.\n"
    norm = normalize_text(raw)
    assert norm.text == raw
    assert not norm.changed
    assert list(norm.regions()) == []
    assert norm.to_raw_span(3, 9) == (3, 9)


def test_every_step_off() -> None:
    raw = "\ufeffa\r\n\x00e\u0301"
    norm = normalize_text(raw, form=None, line_endings=False, control_chars=False, strip_bom=False)
    assert norm.text == raw
    assert norm.steps == ()


def test_steps_are_recorded_in_order() -> None:
    norm = normalize_text("x", form="NFKC", fold_whitespace=True)
    assert norm.steps == ("strip_bom", "line_endings", "control_chars", "NFKC", "fold_whitespace")


def test_fold_whitespace() -> None:
    raw = "  Title\t \r\n\r\n\r\nBody  text\n  more \n"
    norm = normalize_text(raw, fold_whitespace=True)
    assert norm.text == "Title\n\nBody text\nmore"
    body = norm.text.index("Body")
    assert raw[slice(*norm.to_raw_span(body, body + 4))] == "Body"
    assert norm.to_raw_span(0, len(norm.text)) == (2, len(raw) - 2)


def test_empty_text() -> None:
    norm = normalize_text("")
    assert norm.text == ""
    assert norm.to_raw(0) == 0
    assert norm.to_raw_span(0, 0) == (0, 0)
    only_controls = normalize_text("\ufeff\x00\x01")
    assert only_controls.text == ""
    assert only_controls.to_raw_span(0, 0) == (3, 3)
    assert only_controls.to_raw(0, side="end") == 0


def test_map_is_compact() -> None:
    line = "a line of text with an é\r\n"
    raw = line * 2000
    norm = normalize_text(raw)
    # one region per line ending, not one entry per character
    assert len(list(norm.regions())) == 2000
    assert norm.text == raw.replace("\r\n", "\n")


def test_fallback_when_pieces_disagree(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend the tables know no unstable character: the pieces then miss the
    # composition, and the map must fall back to one exact region.
    normalize_module._unstable_class.cache_clear()
    monkeypatch.setattr(normalize_module, "_unstable_class", lambda form: re.compile("(?!x)x"))
    raw = "ab e\u0301 cd"
    norm = normalize_text(raw)
    assert norm.text == unicodedata.normalize("NFC", raw)
    assert list(norm.regions()) == [(0, len(norm.text), 0, len(raw))]
    assert norm.to_raw_span(0, len(norm.text)) == (0, len(raw))


def test_one_megabyte_input() -> None:
    unit = "Ligne\r\nde texte e\u0301 \x00 et 한국어 \u1100\u1161 \U0001f600.\n"
    raw = unit * (1_000_000 // len(unit))
    norm = normalize_text(raw)
    assert norm.text == reference(raw)
    lo, hi = gaps(norm)[-1]
    assert raw[slice(*norm.to_raw_span(lo, hi))] == norm.text[lo:hi]
    assert norm.to_raw_span(0, len(norm.text)) == (0, len(raw))


# ------------------------------------------------------------------------ bad input and API


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="decode bytes first"):
        normalize_text(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="form must be one of"):
        normalize_text("x", form="NFX")  # type: ignore[arg-type]
    norm = normalize_text("abc")
    with pytest.raises(InvalidInput, match=r"outside the normalized text \(length 3\)"):
        norm.to_raw(4)
    with pytest.raises(InvalidInput):
        norm.to_raw(-1)
    with pytest.raises(InvalidInput, match="must not be greater"):
        norm.to_raw_span(2, 1)
    with pytest.raises(TypeError):
        norm.to_raw(1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="side must be"):
        norm.to_raw(1, side="middle")  # type: ignore[arg-type]


def test_lone_surrogates_pass_through() -> None:
    # Not from files (they are decoded strictly), but a str may hold them.
    assert normalize_text("a\ud800b\r\n").text == "a\ud800b\n"


def test_pickle_equality_and_repr() -> None:
    norm = normalize_text("x\r\ny e\u0301")
    again = pickle.loads(pickle.dumps(norm))
    assert again == norm
    assert list(again.regions()) == list(norm.regions())
    assert again.to_raw_span(2, 3) == norm.to_raw_span(2, 3)
    assert norm != normalize_text("x\ny é")
    assert repr(norm) == (
        "<covekit.Normalization len=5 raw_length=7 "
        "steps=strip_bom+line_endings+control_chars+NFC regions=2>"
    )


def test_doctests() -> None:
    import doctest

    result = doctest.testmod(normalize_module)
    assert result.attempted > 0
    assert result.failed == 0
