"""covekit.BM25Index and covekit.Analyzer: analysis, scoring against a pure-Python
reference, deletes, persistence, bad input and threads."""

from __future__ import annotations

import doctest
import pickle
import threading
from pathlib import Path

import covekit
import numpy as np
import pytest
from bm25_reference import ReferenceBM25
from covekit import Analyzer, BM25Index
from covekit.data.bm25 import MISSING_ID
from covekit.errors import CovekitError, IndexFileCorrupt, InvalidInput, InvalidUtf8
from hypothesis import given
from hypothesis import strategies as st
from shared_data import tokenizer_dir

# ---- analyzer -----------------------------------------------------------------------


def test_analyzer_english_matches_lucene_english_analyzer() -> None:
    a = Analyzer()
    assert a.analyze("The cats' owners were running, e.g. in John's house!") == [
        "cat", "owner", "were", "run", "e.g", "john", "hous",
    ]  # fmt: skip
    # Numbers keep their separators; apostrophes inside words stay (StandardTokenizer).
    assert a.analyze("3.14 and 1,000 U.S.A. don't") == ["3.14", "1,000", "u.s.a", "don't"]
    # Lucene's 33 English stopwords are dropped, others kept.
    assert a.analyze("this is not such a thing") == ["thing"]


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("caresses", "caress"), ("ponies", "poni"), ("cats", "cat"), ("agreed", "agre"),
        ("motoring", "motor"), ("hopping", "hop"), ("filing", "file"), ("happy", "happi"),
        ("relational", "relat"), ("generalization", "gener"), ("oscillators", "oscil"),
        ("hopefulness", "hope"), ("electrical", "electr"), ("adjustment", "adjust"),
        ("adoption", "adopt"), ("controlling", "control"), ("possibly", "possibl"),
        ("archaeology", "archaeolog"), ("is", "is"), ("proteins", "protein"),
        ("mutations", "mutat"), ("cells", "cell"),
    ],
)  # fmt: skip
def test_porter_stemmer(word: str, stem: str) -> None:
    assert Analyzer(stopwords=None).analyze(word) == [stem]


def test_analyzer_unicode_and_cjk() -> None:
    a = Analyzer()
    assert a.analyze("ÉCOLE Straße ΣΟΦΙΑ İstanbul") == ["école", "straße", "σοφια", "istanbul"]
    assert a.analyze("東京都に住む") == ["東京", "京都", "都に", "に住", "住む"]
    assert a.analyze("한국어 text") == ["한국", "국어", "text"]
    assert Analyzer(cjk_bigrams=False).analyze("東京") == ["東", "京"]
    assert a.analyze("") == []
    assert a.analyze("  ,;!? \n\t ") == []
    assert a.analyze("emoji 😀 here") == ["emoji", "here"]
    assert a.analyze("lone \ud800 surrogate") == ["lone", "surrog"]  # replaced by U+FFFD


def test_analyzer_options_and_repr() -> None:
    plain = Analyzer(stem=None, stopwords=None, lowercase=False)
    assert plain.analyze("The Running") == ["The", "Running"]
    custom = Analyzer(stem=None, stopwords=["foo"])
    assert custom.analyze("Foo bar") == ["bar"]
    assert custom.stopwords == ("foo",)
    assert repr(Analyzer()) == (
        "Analyzer(stem='porter', stopwords='english', cjk_bigrams=True, lowercase=True)"
    )
    assert Analyzer(stem=None).stem is None


def test_analyzer_bad_input() -> None:
    with pytest.raises(InvalidInput, match="stem must be"):
        Analyzer(stem="snowball")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="stopwords must be"):
        Analyzer(stopwords="french")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="non-empty"):
        Analyzer(stopwords=[""])
    with pytest.raises(InvalidUtf8):
        Analyzer().analyze(b"ok\xff")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Analyzer().analyze(5)  # type: ignore[arg-type]


def test_analyzer_long_words_are_cut_at_255() -> None:
    terms = Analyzer(stem=None).analyze("x" * 600)
    assert [len(t) for t in terms] == [255, 255, 90]


# ---- index basics -------------------------------------------------------------------


def test_search_shapes_and_missing_slots() -> None:
    index = BM25Index()
    index.add([5, 6], ["red apples", "green apples and red pears"])
    ids, scores = index.search(["red", "pears", "nothing here", ""], k=3)
    assert ids.dtype == np.uint64 and scores.dtype == np.float32
    assert ids.shape == scores.shape == (4, 3)
    assert ids[0, :2].tolist() == [5, 6] and ids[0, 2] == MISSING_ID
    assert ids[1].tolist() == [6, MISSING_ID, MISSING_ID]
    assert (ids[2:] == MISSING_ID).all() and np.isneginf(scores[2:]).all()
    assert scores[0, 0] > scores[0, 1] > 0
    assert index.search([], k=5)[0].shape == (0, 5)
    assert index.search(["red"], k=0)[0].shape == (1, 0)


def test_empty_index() -> None:
    index = BM25Index()
    ids, scores = index.search(["anything"], k=2)
    assert ids.tolist() == [[MISSING_ID, MISSING_ID]] and np.isneginf(scores).all()
    assert len(index) == 0 and repr(index) == "<covekit.BM25Index size=0 terms=0 k1=0.9 b=0.4>"


def test_unicode_cjk_search() -> None:
    index = BM25Index()
    index.add([1, 2, 3], ["東京都の天気", "京都の観光", "Zürich Wetter"])
    assert index.search(["東京"], k=3)[0][0].tolist() == [1, MISSING_ID, MISSING_ID]
    assert index.search(["京都"], k=3)[0][0].tolist()[:2] == [2, 1]  # shorter doc first
    assert index.search(["ZÜRICH"], k=1)[0].tolist() == [[3]]


def test_add_replace_delete_compact() -> None:
    index = BM25Index()
    index.add(np.array([1, 2, 3], dtype=np.uint64), ["alpha beta", "beta gamma", "gamma delta"])
    index.add([2], ["omega"])  # replaces
    assert len(index) == 3 and 2 in index and 99 not in index and -1 not in index
    assert index.search(["beta"], k=3)[0][0].tolist() == [1, MISSING_ID, MISSING_ID]
    assert index.delete([1, 42]) == 1 and len(index) == 2
    assert index.search(["beta"], k=1)[0].tolist() == [[MISSING_ID]]
    before = index.search(["gamma omega delta"], k=3)
    index.compact()
    after = index.search(["gamma omega delta"], k=3)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    assert index.delete(np.array([], dtype=np.uint64)) == 0


def test_full_uint64_ids() -> None:
    index = BM25Index()
    big = 2**64 - 2
    index.add([0, big], ["zero doc", "big doc"])
    assert sorted(index.search(["doc"], k=2)[0][0].tolist()) == [0, big]


def test_huge_document() -> None:
    index = BM25Index()
    text = "lorem ipsum dolor sit amet " * 40_000  # ~1 MB
    index.add([1, 2], [text, "dolor"])
    ids, _ = index.search(["ipsum"], k=2)
    assert ids[0].tolist() == [1, MISSING_ID]


def test_batch_threads_equal_single() -> None:
    index = BM25Index()
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(50)]
    docs = [" ".join(rng.choice(words, size=20)) for _ in range(300)]
    index.add(range(300), docs)
    queries = [" ".join(rng.choice(words, size=4)) for _ in range(40)]
    one = index.search(queries, k=10)
    many = index.search(queries, k=10, num_threads=3)
    np.testing.assert_array_equal(one[0], many[0])
    np.testing.assert_array_equal(one[1], many[1])


# ---- persistence --------------------------------------------------------------------


def _sample_index() -> BM25Index:
    index = BM25Index(k1=1.2, b=0.75, analyzer=Analyzer(stopwords=["zeta"], cjk_bigrams=False))
    index.add([1, 2, 3], ["alpha beta zeta", "beta gamma 東京", "gamma delta"])
    index.delete([3])
    return index


def test_save_load_round_trip(tmp_path: Path) -> None:
    index = _sample_index()
    path = tmp_path / "kb.bm25"
    index.save(path)
    index.save(path)  # over an existing file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kb.bm25"]  # no temp file left
    loaded = BM25Index.load(str(path))
    assert (loaded.k1, loaded.b, len(loaded)) == (1.2, 0.75, 2)
    assert repr(loaded.analyzer) == repr(index.analyzer)
    queries = ["beta", "gamma zeta", "東"]
    for a, b in zip(loaded.search(queries, k=3), index.search(queries, k=3), strict=True):
        np.testing.assert_array_equal(a, b)


def test_pickle_round_trip() -> None:
    index = _sample_index()
    copy = pickle.loads(pickle.dumps(index))
    assert repr(copy) == repr(index)
    np.testing.assert_array_equal(copy.search(["beta"], k=2)[0], index.search(["beta"], k=2)[0])


@pytest.mark.parametrize(
    "damage",
    ["flip", "truncate", "empty", "garbage", "version"],
)
def test_corrupt_file(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "kb.bm25"
    _sample_index().save(path)
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
    elif damage == "truncate":
        data = data[:-5]
    elif damage == "empty":
        data = bytearray()
    elif damage == "garbage":
        data = bytearray(b"this is not an index" * 3)
    else:
        data[8] = 99  # format version
    path.write_bytes(bytes(data))
    with pytest.raises(IndexFileCorrupt, match="corrupt") as info:
        BM25Index.load(path)
    assert isinstance(info.value, ValueError)


def test_load_and_save_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        BM25Index.load(tmp_path / "missing.bm25")
    with pytest.raises(CovekitError, match="cannot create"):
        _sample_index().save(tmp_path / "no" / "such" / "dir" / "kb.bm25")


# ---- bad input ----------------------------------------------------------------------


def test_bad_arguments() -> None:
    index = BM25Index()
    with pytest.raises(InvalidInput, match="same length"):
        index.add([1, 2], ["one"])
    with pytest.raises(InvalidInput, match="appears twice"):
        index.add([1, 1], ["a", "b"])
    with pytest.raises(InvalidInput, match=r"\[0, 2\*\*64\)"):
        index.add([-1], ["a"])
    with pytest.raises(InvalidInput, match=r"\[0, 2\*\*64\)"):
        index.add([2**64], ["a"])
    with pytest.raises(InvalidInput):
        index.add(np.array([-1], dtype=np.int64), ["a"])
    with pytest.raises(InvalidInput, match="integers"):
        index.add(np.array([1.5]), ["a"])
    with pytest.raises(InvalidInput, match="1-D"):
        index.add(np.zeros((1, 1), dtype=np.uint64), ["a"])
    with pytest.raises(TypeError, match="single str"):
        index.add([1], "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        index.add([1], [3])  # type: ignore[list-item]
    with pytest.raises(InvalidUtf8):
        index.add([1], [b"\xff"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="single str"):
        index.search("query")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="k must be"):
        index.search(["q"], k=-1)
    with pytest.raises(InvalidInput, match="k must be"):
        index.search(["q"], k=2**40)
    with pytest.raises(InvalidInput, match="strategy must be"):
        index.search(["q"], strategy="wand")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="num_threads"):
        index.search(["q"], num_threads=-2)
    with pytest.raises(InvalidInput, match="k1"):
        BM25Index(k1=-0.1)
    with pytest.raises(InvalidInput, match="b must be"):
        BM25Index(b=1.5)
    with pytest.raises(InvalidInput, match="b must be"):
        BM25Index(b=float("nan"))
    with pytest.raises(TypeError, match="Analyzer"):
        BM25Index(analyzer="english")  # type: ignore[arg-type]
    assert len(index) == 0  # nothing was added by the failed calls


# ---- differential: the pure-Python reference ----------------------------------------

_STRATEGIES = ("auto", "maxscore", "exhaustive")
_WORDS = ["apple", "banana", "cherry", "date", "elder", "fig", "grape", "kiwi", "lemon", "mango"]
_text = st.lists(st.sampled_from(_WORDS), max_size=12).map(" ".join)
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.lists(st.tuples(st.integers(0, 30), _text), max_size=8)),
        st.tuples(st.just("delete"), st.lists(st.integers(0, 30), max_size=4)),
        st.tuples(st.just("compact"), st.just(None)),
    ),
    max_size=8,
)


@given(
    ops=_ops,
    queries=st.lists(_text, min_size=1, max_size=5),
    k=st.integers(1, 12),
    k1=st.sampled_from([0.0, 0.9, 1.2, 2.0]),
    b=st.sampled_from([0.0, 0.4, 0.75, 1.0]),
)
def test_matches_reference(ops: list, queries: list[str], k: int, k1: float, b: float) -> None:
    analyzer = Analyzer(stem=None, stopwords=None)
    index = BM25Index(k1=k1, b=b, analyzer=analyzer)
    ref = ReferenceBM25(k1=k1, b=b)
    for op, arg in ops:
        if op == "add":
            batch = dict(arg)  # one text per id per call
            index.add(list(batch), list(batch.values()))
            for doc_id, text in batch.items():
                ref.add(doc_id, analyzer.analyze(text))
        elif op == "delete":
            assert index.delete(arg) == len({i for i in arg if i in ref.docs})
            for doc_id in arg:
                ref.delete(doc_id)
        else:
            index.compact()
    assert len(index) == len(ref.docs)
    results = {how: index.search(queries, k=k, strategy=how) for how in _STRATEGIES}
    ids, scores = results["auto"]
    for how in ("maxscore", "exhaustive"):
        np.testing.assert_array_equal(results[how][0], ids)
        np.testing.assert_array_equal(results[how][1], scores)
    for row, q in enumerate(queries):
        expected = ref.search(analyzer.analyze(q), k)
        got = [
            (int(i), float(s))
            for i, s in zip(ids[row], scores[row], strict=True)
            if i != MISSING_ID
        ]
        assert [i for i, _ in got] == [i for i, _ in expected]
        np.testing.assert_allclose(
            [s for _, s in got], [s for _, s in expected], rtol=1e-5, atol=1e-6
        )


def test_matches_reference_english_long_queries() -> None:
    """Long queries (where MaxScore skips the most) on English text, k=10."""
    rng = np.random.default_rng(7)
    vocab = Analyzer().analyze(covekit.data.bm25.__doc__ or "") * 3 + [f"t{i}" for i in range(200)]
    analyzer = Analyzer()
    index = BM25Index(analyzer=analyzer)
    ref = ReferenceBM25()
    docs = [" ".join(rng.choice(vocab, size=int(rng.integers(0, 60)))) for _ in range(2000)]
    index.add(range(2000), docs)
    for i, d in enumerate(docs):
        ref.add(i, analyzer.analyze(d))
    queries = [" ".join(rng.choice(vocab, size=int(rng.integers(1, 40)))) for _ in range(30)]
    ids, scores = index.search(queries, k=10, strategy="maxscore")
    exhaustive = index.search(queries, k=10, strategy="exhaustive")
    np.testing.assert_array_equal(exhaustive[0], ids)
    np.testing.assert_array_equal(exhaustive[1], scores)
    for row, q in enumerate(queries):
        expected = ref.search(analyzer.analyze(q), 10)
        assert ids[row][: len(expected)].tolist() == [i for i, _ in expected]
        np.testing.assert_allclose(
            scores[row][: len(expected)], [s for _, s in expected], rtol=1e-5
        )


# ---- threads ------------------------------------------------------------------------


def test_threads_search_while_writing() -> None:
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(40)]
    index = BM25Index()
    index.add(range(500), [" ".join(rng.choice(words, size=15)) for _ in range(500)])
    queries = [" ".join(rng.choice(words, size=3)) for _ in range(20)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                ids, scores = index.search(queries, k=10)
                for row_ids, row in zip(ids, scores, strict=True):
                    found = row[row_ids != MISSING_ID]
                    assert (np.diff(found) <= 0).all()  # best first, never torn
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for round_ in range(30):
        base = 10_000 + round_ * 100
        index.add(range(base, base + 20), [" ".join(rng.choice(words, size=15)) for _ in range(20)])
        index.delete(rng.integers(0, 500, size=10).tolist())
        if round_ % 10 == 9:
            index.compact()
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert len(index) >= 500 + 30 * 20 - 300


def test_doctests() -> None:
    import covekit.data.bm25
    import covekit.evals.retrieval

    for module in (covekit.data.bm25, covekit.evals.retrieval):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


def test_error_doctests() -> None:
    tokenizer_dir()  # covekit.errors' other examples load a tokenizer
    for module in (covekit.errors,):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


def test_native_allowed_bitset() -> None:
    """The C++ search's allowed set (the hook for filters): only set bits are scored."""
    index = BM25Index()
    index.add([10, 20, 30], ["shared word", "shared word", "shared word"])
    impl = index._impl
    bits = np.zeros((impl.internal_capacity + 63) // 64, dtype=np.uint64)
    for doc in (10, 30):
        i = impl.internal_id(doc)
        bits[i // 64] |= np.uint64(1) << np.uint64(i % 64)
    for how in _STRATEGIES:
        ids, _ = impl.search(["shared"], 3, 1, allowed=bits, strategy=how)
        assert ids.tolist() == [[10, 30, MISSING_ID]]
    empty = np.zeros(0, dtype=np.uint64)
    assert (impl.search(["shared"], 3, 1, allowed=empty)[0] == MISSING_ID).all()
    assert impl.internal_id(999) == -1


def test_large_batch_is_sliced_consistently() -> None:
    """Batches beyond one slice (2048 queries, Ctrl-C checked between slices)."""
    rng = np.random.default_rng(11)
    words = [f"w{i}" for i in range(30)]
    index = BM25Index()
    index.add(range(200), [" ".join(rng.choice(words, size=10)) for _ in range(200)])
    queries = [" ".join(rng.choice(words, size=2)) for _ in range(4500)]
    ids, scores = index.search(queries, k=5, num_threads=2)
    assert ids.shape == (4500, 5)
    for start in (0, 2047, 2048, 4096, 4499):
        one_ids, one_scores = index.search([queries[start]], k=5)
        np.testing.assert_array_equal(ids[start], one_ids[0])
        np.testing.assert_array_equal(scores[start], one_scores[0])


# ---- filters: attributes live beside the postings --------------------------------------

_PRINCIPALS = ["u:1", "u:2", "r:a", "r:b"]
_doc_attrs = st.fixed_dictionaries(
    {
        "acl": st.lists(st.sampled_from(_PRINCIPALS), max_size=2, unique=True),
        "fields": st.fixed_dictionaries({"lang": st.sampled_from(["en", "de"])}),
    }
)
_fops = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"), st.lists(st.tuples(st.integers(0, 30), _text, _doc_attrs), max_size=8)
        ),
        st.tuples(st.just("delete"), st.lists(st.integers(0, 30), max_size=4)),
        st.tuples(st.just("reacl"), st.tuples(st.integers(0, 30), _doc_attrs)),
        st.tuples(st.just("compact"), st.just(None)),
    ),
    max_size=10,
)


@given(
    ops=_fops,
    queries=st.lists(_text, min_size=1, max_size=4),
    principals=st.lists(st.sampled_from(_PRINCIPALS), min_size=1, max_size=2, unique=True),
    lang=st.sampled_from([None, "en", "de"]),
    k=st.integers(1, 12),
)
def test_filtered_search_is_the_reference_restricted_to_allowed(
    ops: list, queries: list[str], principals: list[str], lang: str | None, k: int
) -> None:
    analyzer = Analyzer(stem=None, stopwords=None)
    index = BM25Index(analyzer=analyzer)
    ref = ReferenceBM25()
    attrs: dict[int, dict] = {}
    for op, arg in ops:
        if op == "add":
            batch = {i: (t, a) for i, t, a in arg}
            index.add(list(batch), [t for t, _ in batch.values()], [a for _, a in batch.values()])
            for doc_id, (text, a) in batch.items():
                ref.add(doc_id, analyzer.analyze(text))
                attrs[doc_id] = a
        elif op == "delete":
            index.delete(arg)
            for doc_id in arg:
                ref.delete(doc_id)
                attrs.pop(doc_id, None)
        elif op == "reacl":
            doc_id, a = arg
            if doc_id in attrs:
                index.set_attributes([doc_id], [a])
                attrs[doc_id] = a
            else:
                with pytest.raises(InvalidInput, match="not in the index"):
                    index.set_attributes([doc_id], [a])
        else:
            index.compact()
    f = covekit.Filter.acl_any(principals)
    if lang is not None:
        f = f & covekit.Filter.eq("lang", lang)

    def allowed(d: int) -> bool:
        a = attrs[d]
        return bool(set(a["acl"]) & set(principals)) and (
            lang is None or a["fields"]["lang"] == lang
        )

    for how in _STRATEGIES:
        ids, scores = index.search(queries, k=k, strategy=how, filter=f)
        for row, q in enumerate(queries):
            full = ref.search(analyzer.analyze(q), len(ref.docs) + 1)
            expected = [(i, s) for i, s in full if allowed(i)][:k]
            got = [
                (int(i), float(s))
                for i, s in zip(ids[row], scores[row], strict=True)
                if i != MISSING_ID
            ]
            assert [i for i, _ in got] == [i for i, _ in expected], how
            np.testing.assert_allclose(
                [s for _, s in got], [s for _, s in expected], rtol=1e-5, atol=1e-6
            )
    for d, a in attrs.items():
        assert index.attributes(d) == {"acl": a["acl"], "tags": [], "fields": a["fields"]}


def test_attributes_survive_save_load_compact_and_pickle(tmp_path: Path) -> None:
    index = BM25Index()
    index.add([1, 2, 3], ["alpha beta", "alpha gamma", "alpha"],
              [{"acl": ["u:1"]}, {"acl": ["u:2"], "tags": ["t"]},
               {"fields": {"n": 3}}])  # fmt: skip
    index.delete([1])
    f = covekit.Filter.acl_any(["u:2"]) | covekit.Filter.range("n", gte=3)
    before = index.search(["alpha"], 5, filter=f)
    assert sorted(int(i) for i in before[0][0] if i != MISSING_ID) == [2, 3]
    index.save(tmp_path / "i.bm25")
    for other in (BM25Index.load(tmp_path / "i.bm25"), pickle.loads(pickle.dumps(index))):
        np.testing.assert_array_equal(other.search(["alpha"], 5, filter=f)[0], before[0])
        assert other.attributes(2) == {"acl": ["u:2"], "tags": ["t"], "fields": {}}
    index.compact()
    np.testing.assert_array_equal(index.search(["alpha"], 5, filter=f)[0], before[0])
    assert index.attributes(3)["fields"] == {"n": 3}
    with pytest.raises(InvalidInput, match="not in the index"):
        index.attributes(1)
    with pytest.raises(InvalidInput, match="one dict per id"):
        index.add([4], ["x"], [{}, {}])
    with pytest.raises(InvalidInput, match="one dict per id"):
        index.add([4], ["x"], {"acl": ["u:1"]})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"covekit\.Filter"):
        index.search(["alpha"], 5, filter={"acl_any": ["u:1"]})  # type: ignore[arg-type]
    # no document allowed: every slot is missing
    ids, _ = index.search(["alpha"], 3, filter=covekit.Filter.acl_any(["nobody"]))
    assert (ids == MISSING_ID).all()
