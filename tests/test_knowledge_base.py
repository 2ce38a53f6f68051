"""KnowledgeBase and HybridRetriever: consistency of both indexes, versions, persistence,
crash safety of saves, caching, threads, bad input."""

from __future__ import annotations

import copy
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import MappingProxyType

import covekit
import numpy as np
import pytest
from covekit import (
    BM25Index,
    Chunker,
    Document,
    Filter,
    HashingEmbedder,
    HybridRetriever,
    KnowledgeBase,
    QueryCache,
    SearchHit,
    VectorIndex,
)
from covekit.data.knowledge_base import DocumentInfo
from covekit.errors import IndexFileCorrupt, InvalidInput, SourceNotFound

EMB = HashingEmbedder(dim=64)
DOCS = [
    Document("Refunds take 5-10 business days after approval.", "refunds.md", acl=["role:support"]),
    Document(
        "Passwords are reset from the account page.", "password.md", acl=["role:support", "user:7"]
    ),
    Document(
        "Salaries are paid on the last day of the month.",
        "payroll.md",
        acl=["role:hr"],
        metadata={"tags": ["finance"], "lang": "en"},
    ),
    Document(
        "Die Erstattung dauert zehn Tage.",
        "refunds.de.md",
        acl=["role:support"],
        metadata={"lang": "de"},
    ),
]


def make_kb(**kw: object) -> KnowledgeBase:
    return KnowledgeBase(Chunker("cl100k_base", max_tokens=24), EMB, **kw)  # type: ignore[arg-type]


def consistent(kb: KnowledgeBase) -> None:
    assert len(kb.bm25) == len(kb.vector_index) == kb.num_chunks
    for doc_id in kb.doc_ids():
        for cid in kb._docs[doc_id].chunk_ids:
            assert cid in kb.bm25 and cid in kb.vector_index
            c = kb.chunk(cid)
            assert c.doc_id == doc_id


def test_add_search_and_offsets() -> None:
    kb = make_kb()
    s = kb.add(DOCS)
    assert (s.added, s.replaced, s.unchanged) == (4, 0, 0) and s.chunks == kb.num_chunks
    consistent(kb)
    hits = kb.search("how long do refunds take", principals=["role:support"], k=3, explain=True)
    assert hits[0].doc_id == "refunds.md" and hits[0].rank == 1
    doc = {d.id: d for d in DOCS}[hits[0].doc_id]
    assert doc.text[hits[0].start : hits[0].end] == hits[0].text
    assert hits[0].signals is not None and set(hits[0].signals) == {"bm25", "vector"}
    assert hits[0].index_version == kb.version
    # filters narrow inside the principal's scope
    de = kb.search("Erstattung", principals=["role:support"], filter=Filter.eq("lang", "de"))
    assert [h.doc_id for h in de] == ["refunds.de.md"]
    tagged = kb.search("paid", principals=["role:hr"], filter=Filter.tags_any(["finance"]))
    assert [h.doc_id for h in tagged] == ["payroll.md"]


def test_reingest_replaces_unchanged_skips_remove_drops() -> None:
    kb = make_kb()
    kb.add(DOCS)
    v1 = kb.version
    assert kb.add(DOCS).unchanged == 4 and kb.version == v1
    changed = Document("Refunds now take 3 days.", "refunds.md", acl=["role:support"])
    s = kb.add([changed])
    assert (s.added, s.replaced) == (0, 1) and kb.version != v1
    consistent(kb)
    assert all(
        "5-10" not in h.text for h in kb.search("refunds", principals=["role:support"], k=10)
    )
    # an ACL change alone is a change
    moved = Document(changed.text, "refunds.md", acl=["role:hr"])
    assert kb.add([moved]).replaced == 1
    assert "refunds.md" not in {
        h.doc_id for h in kb.search("refunds", principals=["role:support"], k=10)
    }
    assert kb.remove(["refunds.md", "nope"]) == 1
    consistent(kb)
    assert "refunds.md" not in kb
    # back to the first content: the same version as before
    kb2 = make_kb()
    kb2.add(DOCS)
    kb3 = make_kb()
    kb3.add(list(reversed(DOCS)))
    assert kb2.version == kb3.version == v1


def test_save_load_round_trip_and_generations(tmp_path: Path) -> None:
    kb = make_kb()
    kb.add(DOCS)
    gen1 = kb.save(tmp_path / "kb")
    loaded = KnowledgeBase.load(tmp_path / "kb")
    assert loaded.version == kb.version
    q = "when are salaries paid"
    assert [h.chunk_id for h in loaded.search(q, principals=["role:hr"])] == [
        h.chunk_id for h in kb.search(q, principals=["role:hr"])
    ]
    manifest = json.loads((gen1 / "manifest.json").read_text())
    assert manifest["index_version"] == kb.version and manifest["chunks"] == kb.num_chunks
    kb.add([Document("New policy text.", "new.md", acl=["role:support"])])
    gen2 = kb.save(tmp_path / "kb")
    kb.remove(["new.md"])
    gen3 = kb.save(tmp_path / "kb")
    assert (tmp_path / "kb" / "CURRENT").read_text().strip() == gen3.name
    assert not gen1.exists() and gen2.exists()  # the previous generation is kept
    assert KnowledgeBase.load(tmp_path / "kb").version == kb.version


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound, match="CURRENT"):
        KnowledgeBase.load(tmp_path / "missing")
    kb = make_kb()
    kb.add(DOCS)
    gen = kb.save(tmp_path / "kb")
    data = bytearray((gen / "vectors.idx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (gen / "vectors.idx").write_bytes(bytes(data))
    with pytest.raises(IndexFileCorrupt, match="checksum"):
        KnowledgeBase.load(tmp_path / "kb")
    gen = kb.save(tmp_path / "kb")
    m = json.loads((gen / "manifest.json").read_text())
    m["format_version"] = 99
    (gen / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexFileCorrupt, match="version"):
        KnowledgeBase.load(tmp_path / "kb")
    (tmp_path / "kb" / "CURRENT").write_text("../../etc\n")
    with pytest.raises(IndexFileCorrupt, match="generation"):
        KnowledgeBase.load(tmp_path / "kb")
    other = KnowledgeBase(Chunker("cl100k_base", max_tokens=24), HashingEmbedder(dim=32))
    other.add(DOCS[:1])
    other.save(tmp_path / "kb2")
    with pytest.raises(InvalidInput, match="embedder"):
        KnowledgeBase.load(tmp_path / "kb2", embedder=EMB)


_SAVER = textwrap.dedent(
    """
    import sys, covekit
    from covekit import Chunker, Document, HashingEmbedder, KnowledgeBase
    root, which = sys.argv[1], sys.argv[2]
    emb = HashingEmbedder(dim=64)
    n = 0
    kb = KnowledgeBase(Chunker("cl100k_base", max_tokens=24), emb)
    bm25, vec = covekit.BM25Index(), covekit.VectorIndex(64)
    while True:
        n += 1
        text = " ".join(f"word{i % 97} doc{n}" for i in range(400))
        if which == "kb":
            kb.add([Document(text, f"d{n % 5}", acl=["u:1"])])
            kb.save(root)
        else:
            import numpy as np
            bm25.add([n], [text])
            vec.add([n], emb.embed([text]))
            bm25.save(root + "/index.bm25")
            vec.save(root + "/index.vec")
        print(n, flush=True)
    """
)


@pytest.mark.parametrize("which", ["kb", "indexes"])
def test_save_killed_at_random_points_leaves_a_loadable_index(tmp_path: Path, which: str) -> None:
    rng = random.Random(1234)
    root = tmp_path / "store"
    root.mkdir()
    env = dict(os.environ)
    loads = 0
    for _ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(root), which], stdout=subprocess.PIPE, env=env
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # at least one complete save
        assert first.strip(), "the saver died before its first save"
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        if which == "kb":
            kb = KnowledgeBase.load(root)
            assert len(kb.bm25) == len(kb.vector_index) == kb.num_chunks > 0
        else:
            assert len(BM25Index.load(root / "index.bm25")) > 0
            assert len(VectorIndex.load(root / "index.vec")) > 0
        loads += 1
    assert loads == 6


def test_cache_in_front_of_search_and_version_changes() -> None:
    cache = QueryCache(capacity=100)
    kb = make_kb(cache=cache)
    kb.add(DOCS)
    first = kb.search("refunds", principals=["role:support"])
    again = kb.search("  REFUNDS ", principals=["role:support"])
    assert again == first and cache.stats.exact_hits == 1
    assert kb.search("refunds", principals=["role:hr"]) != first or cache.stats.misses == 2
    kb.add([Document("Refunds are instant now.", "refunds.md", acl=["role:support"])])
    after = kb.search("refunds", principals=["role:support"])
    assert after[0].index_version == kb.version != first[0].index_version
    assert cache.stats.exact_hits == 1  # the new version missed


def test_threads_search_while_adding() -> None:
    kb = make_kb()
    kb.add(DOCS)
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                for h in kb.search("refunds policy", principals=["role:support"]):
                    assert "role:support" in kb._docs.get(h.doc_id, kb._docs["refunds.md"]).acl
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(30):
        kb.add([Document(f"Refunds policy number {i}.", f"p{i % 4}.md", acl=["role:support"])])
        if i % 7 == 0:
            kb.remove([f"p{(i + 1) % 4}.md"])
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    consistent(kb)


def test_hybrid_retriever_fusions_and_errors() -> None:
    texts = ["refunds take ten days", "reset your password", "refund policy for orders", "salary"]
    ids = np.arange(1, 5, dtype=np.uint64)
    bm25, vectors = BM25Index(), VectorIndex(EMB.dim)
    bm25.add(ids, texts)
    vectors.add(ids, EMB.embed(texts))
    for fusion in ("rrf", "weighted"):
        r = HybridRetriever(bm25, vectors, EMB, fusion=fusion, candidates=4)  # type: ignore[arg-type]
        hits = r.search("refund days", k=3, explain=True)
        assert hits[0].id == 1 and [h.rank for h in hits] == [1, 2, 3]
        assert all(h.signals is not None and set(h.signals) == {"bm25", "vector"} for h in hits)
        batch = r.search(["refund days", "password"], k=2)
        assert [b[0].id for b in batch] == [1, 2]
    only_bm25 = HybridRetriever(bm25, None)
    assert [h.id for h in only_bm25.search("salary")] == [4]
    with pytest.raises(InvalidInput, match="both"):
        HybridRetriever(None, None)
    with pytest.raises(InvalidInput, match="embedder"):
        HybridRetriever(bm25, vectors)
    with pytest.raises(InvalidInput, match="dim"):
        HybridRetriever(bm25, vectors, HashingEmbedder(dim=32))
    with pytest.raises(InvalidInput, match="fusion"):
        HybridRetriever(bm25, None, fusion="max")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="k must"):
        only_bm25.search("x", k=0)


def test_bad_input() -> None:
    kb = make_kb()
    with pytest.raises(TypeError, match="Document"):
        kb.add(["text"])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="twice"):
        kb.add([DOCS[0], DOCS[0]])
    with pytest.raises(InvalidInput, match="str"):
        kb.search(b"q", principals=["u"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        kb.search("q")  # type: ignore[call-arg]
    assert kb.search("anything", principals=["role:support"]) == []  # empty base
    full = BM25Index()
    full.add([1], ["x"])
    with pytest.raises(InvalidInput, match="empty"):
        KnowledgeBase(Chunker("cl100k_base", max_tokens=24), EMB, bm25=full)


# ------------------------------------------------------------------------ issue 15: what a
# context builder needs from the knowledge base

FIXTURE_V1 = Path(__file__).parent / "data" / "kb_format_v1"

FRESH_DOCS = [
    Document(
        "Refunds took 10 business days in 2023.",
        "refunds-2023.md",
        acl=["role:support"],
        metadata={"updated_at": "2023-01-01", "valid_until": "2023-12-31", "lang": "en"},
    ),
    Document(
        "Refunds take 5 business days from 2024 on.",
        "refunds-2024.md",
        acl=["role:support"],
        metadata={"updated_at": "2024-01-01T09:00:00Z", "supersedes": ["refunds-2023.md"]},
    ),
    Document(
        "Refunds for payroll corrections are handled by HR.",
        "refunds-hr.md",
        acl=["role:hr"],
        metadata={"supersedes": "refunds-2023.md", "tags": ["hr"]},
    ),
    Document(
        "Die Erstattung dauert fünf Tage.",
        "erstattung.md",
        acl=["role:support"],
        metadata={"superseded_by": ["refunds-2024.md", "nicht-da.md"], "nested": {"a": [1, 2]}},
    ),
]


def test_hits_carry_version_metadata_freshness_and_tokens() -> None:
    kb = make_kb()
    kb.add(FRESH_DOCS + DOCS)
    enc = kb.chunker.tokenizer
    by_id = {d.id: d for d in FRESH_DOCS + DOCS}
    hits = kb.search("refunds business days", principals=["role:support", "role:hr"], k=20)
    assert {h.doc_id for h in hits} >= {"refunds-2023.md", "refunds-2024.md", "refunds-hr.md"}
    for h in hits:
        doc = by_id[h.doc_id]
        assert h.doc_version == doc.version
        assert h.metadata == json.loads(json.dumps(dict(doc.metadata)))
        assert h.token_count == enc.count(h.text) == kb.chunk(h.chunk_id).token_count > 0
        assert h.freshness is not None
        with pytest.raises(TypeError):
            h.metadata["lang"] = "xx"  # type: ignore[index]
    old = next(h for h in hits if h.doc_id == "refunds-2023.md")
    assert old.freshness == covekit.Freshness(
        1672531200.0, 1704067200.0, ("refunds-2024.md", "refunds-hr.md"), ()
    )  # superseded_by comes from the other documents' `supersedes`
    new = next(h for h in hits if h.doc_id == "refunds-2024.md")
    assert new.freshness == by_id["refunds-2024.md"].freshness
    plain = kb.search("passwords", principals=["role:support"])[0]
    assert plain.doc_id == "password.md" and plain.freshness is not None
    assert plain.freshness.is_empty and dict(plain.metadata) == {}


def test_search_hit_stays_compatible() -> None:
    hit = SearchHit(1, "doc", "text", 0, 4, 0.5, 1, (), "v")
    assert (hit.doc_version, dict(hit.metadata)) == ("", {})
    assert (hit.freshness, hit.token_count) == (None, 0)
    assert hash(hit) == hash(SearchHit(1, "doc", "text", 0, 4, 0.5, 1, (), "v"))
    full = SearchHit(
        1, "doc", "text", 0, 4, 0.5, 1, ("H",), "v", None, "dv", {"k": [1]},
        covekit.Freshness(updated_at=5), 3,
    )  # fmt: skip
    assert isinstance(full.metadata, MappingProxyType) and full.metadata == {"k": [1]}
    again = pickle.loads(pickle.dumps(full))
    assert again == full and again.freshness == covekit.Freshness(updated_at=5)
    assert copy.deepcopy(full) == full
    with pytest.raises(InvalidInput, match="JSON-serialisable"):
        SearchHit(1, "d", "t", 0, 1, 0.0, 1, (), "v", metadata={"x": object()})


def test_cached_hits_carry_the_new_fields() -> None:
    cache = QueryCache(capacity=10)
    kb = make_kb(cache=cache)
    kb.add(FRESH_DOCS)
    first = kb.search("refunds", principals=["role:support"])
    again = kb.search("REFUNDS", principals=["role:support"])
    assert cache.stats.exact_hits == 1
    assert again == first
    for a, b in zip(first, again, strict=True):
        assert (a.doc_version, a.metadata, a.freshness, a.token_count) == (
            b.doc_version, b.metadata, b.freshness, b.token_count,
        )  # fmt: skip
        assert b.doc_version and b.token_count > 0 and b.freshness is not None


def test_superseded_by_from_both_directions() -> None:
    kb = make_kb()
    kb.add(FRESH_DOCS)
    assert kb.superseded_by("refunds-2023.md") == ("refunds-2024.md", "refunds-hr.md")
    # the document's own list first (held here or not), then the others, sorted
    assert kb.superseded_by("erstattung.md") == ("refunds-2024.md", "nicht-da.md")
    assert kb.superseded_by("refunds-2024.md") == ()
    # with principals: only documents held here that they may see
    assert kb.superseded_by("refunds-2023.md", principals=["role:support"]) == ("refunds-2024.md",)
    assert kb.superseded_by("erstattung.md", principals=["role:support"]) == ("refunds-2024.md",)
    assert kb.superseded_by("refunds-2023.md", principals=[]) == ()
    with pytest.raises(InvalidInput, match="single str"):
        kb.superseded_by("refunds-2023.md", principals="role:support")
    with pytest.raises(KeyError, match=r"no document 'nope\.md'"):
        kb.superseded_by("nope.md")
    # the links follow every write: replace, remove, add back
    hr = FRESH_DOCS[2]
    kb.add([Document(hr.text, hr.id, acl=hr.acl, metadata={"tags": ["hr"]})])
    assert kb.superseded_by("refunds-2023.md") == ("refunds-2024.md",)
    kb.remove(["refunds-2024.md"])
    assert kb.superseded_by("refunds-2023.md") == ()
    assert kb.document("refunds-2023.md").freshness == FRESH_DOCS[0].freshness
    kb.add([FRESH_DOCS[1]])
    assert kb.superseded_by("refunds-2023.md") == ("refunds-2024.md",)
    # a link to a document added later
    kb.add([Document("Newest.", "refunds-2025.md", acl=["u:1"], metadata={"supersedes": [
        "refunds-2024.md", "refunds-2023.md"]})])  # fmt: skip
    assert kb.superseded_by("refunds-2024.md") == ("refunds-2025.md",)
    assert kb.superseded_by("refunds-2023.md") == ("refunds-2024.md", "refunds-2025.md")


def test_supersedes_cycles_do_not_break_searches() -> None:
    kb = make_kb()
    kb.add([
        Document("Alpha policy text.", "a.md", acl=["u"], metadata={"supersedes": "b.md"}),
        Document("Beta policy text.", "b.md", acl=["u"], metadata={"supersedes": "a.md"}),
    ])  # fmt: skip
    assert kb.superseded_by("a.md") == ("b.md",) and kb.superseded_by("b.md") == ("a.md",)
    hits = {h.doc_id: h for h in kb.search("policy text", principals=["u"])}
    both = covekit.Freshness(superseded_by=("b.md",), supersedes=("b.md",))
    assert hits["a.md"].freshness == both


def test_vectors_are_the_stored_embeddings() -> None:
    kb = make_kb()
    kb.add(FRESH_DOCS + DOCS)
    ids = sorted(kb._chunks)[::-1]  # any order: the result follows it
    texts = [kb.chunk(i).text for i in ids]
    want = EMB.embed(texts)
    want = want / np.linalg.norm(want, axis=1, keepdims=True)  # cosine keeps unit vectors
    got = kb.vectors(ids)
    assert got.dtype == np.float32 and got.shape == (len(ids), EMB.dim)
    assert got.flags.c_contiguous and got.flags.writeable
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(kb.vectors(np.array(ids, dtype=np.uint64)), got)
    np.testing.assert_array_equal(kb.vectors(ids[:1] * 3), np.repeat(got[:1], 3, axis=0))
    assert kb.vectors([]).shape == (0, EMB.dim)
    got[0] = 0  # a copy: the index does not change
    assert np.linalg.norm(kb.vectors(ids[:1])) == pytest.approx(1.0)
    with pytest.raises(KeyError, match="chunk 12345 is not in this knowledge base"):
        kb.vectors([ids[0], 12345, ids[1]])
    with pytest.raises(InvalidInput, match="ints"):
        kb.vectors([1.5])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="ints"):
        kb.vectors([True])
    with pytest.raises(InvalidInput, match="non-negative"):
        kb.vectors([-1])
    with pytest.raises(InvalidInput, match="not a str"):
        kb.vectors("123")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="1-D integer array"):
        kb.vectors(np.array([[1]]))
    removed = kb.document("refunds-2023.md").chunk_ids[0]
    kb.remove(["refunds-2023.md"])
    with pytest.raises(KeyError, match=str(removed)):
        kb.vectors([removed])


def test_vectors_under_the_ip_metric_are_as_embedded() -> None:
    kb = make_kb(vectors=VectorIndex(EMB.dim, metric="ip"))
    kb.add(DOCS)
    ids = list(kb._chunks)
    want = EMB.embed([kb.chunk(i).text for i in ids])
    np.testing.assert_array_equal(kb.vectors(ids), want)


def test_document_record() -> None:
    kb = make_kb()
    kb.add(FRESH_DOCS)
    info = kb.document("refunds-2023.md")
    assert isinstance(info, DocumentInfo)
    assert (info.id, info.version, info.acl) == (
        "refunds-2023.md", FRESH_DOCS[0].version, ("role:support",),
    )  # fmt: skip
    assert info.metadata == dict(FRESH_DOCS[0].metadata)
    assert info.freshness is not None and info.freshness.superseded_by == (
        "refunds-2024.md", "refunds-hr.md",
    )  # fmt: skip
    assert info.chunk_ids == kb._docs["refunds-2023.md"].chunk_ids
    assert pickle.loads(pickle.dumps(info)) == info
    with pytest.raises(TypeError):
        info.metadata["x"] = 1  # type: ignore[index]
    with pytest.raises(KeyError, match="no document 'missing'"):
        kb.document("missing")


def test_save_load_keeps_metadata_and_freshness(tmp_path: Path) -> None:
    kb = make_kb()
    kb.add(FRESH_DOCS + DOCS)
    gen = kb.save(tmp_path / "kb")
    manifest = json.loads((gen / "manifest.json").read_text())
    assert manifest["format_version"] == 2
    stored = json.loads((gen / "chunks.json").read_text())["documents"]
    assert {d["id"]: d["freshness"] for d in stored}["refunds-2023.md"] == {
        "updated_at": 1672531200.0, "valid_until": 1704067200.0,
        "superseded_by": [], "supersedes": [],
    }  # its own: the links from other documents are rebuilt on load  # fmt: skip
    loaded = KnowledgeBase.load(tmp_path / "kb")
    assert loaded.version == kb.version
    for doc_id in kb.doc_ids():
        assert loaded.document(doc_id) == kb.document(doc_id)
        assert loaded.superseded_by(doc_id) == kb.superseded_by(doc_id)
    q = "refunds business days"
    p = ["role:support", "role:hr"]
    assert loaded.search(q, principals=p) == kb.search(q, principals=p)
    ids = sorted(kb._chunks)
    np.testing.assert_array_equal(loaded.vectors(ids), kb.vectors(ids))


def _rewrite(gen: Path, name: str, data: bytes, *, format_version: int | None = None) -> None:
    """Replaces a file of a saved generation and fixes the manifest's digests."""
    (gen / name).write_bytes(data)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["files"][name] = {"bytes": len(data), "xxh3_64": covekit.hash.xxh3_64(data)}
    if format_version is not None:
        manifest["format_version"] = format_version
    (gen / "manifest.json").write_text(json.dumps(manifest))


def test_tampered_metadata_is_corrupt(tmp_path: Path) -> None:
    kb = make_kb()
    kb.add(FRESH_DOCS)
    gen = kb.save(tmp_path / "kb")
    store = json.loads((gen / "chunks.json").read_text())
    store["documents"][0]["metadata"]["lang"] = "tampered"
    _rewrite(gen, "chunks.json", json.dumps(store).encode())
    with pytest.raises(IndexFileCorrupt, match="does not match its hash"):
        KnowledgeBase.load(tmp_path / "kb")
    del store["documents"][0]["version"]
    _rewrite(gen, "chunks.json", json.dumps(store).encode())
    with pytest.raises(IndexFileCorrupt, match="does not hold what format 2 does"):
        KnowledgeBase.load(tmp_path / "kb")


def _check_format_1(kb: KnowledgeBase, version: str) -> None:
    assert kb.version == version and len(kb) == 2
    hits = kb.search("refunds", principals=["role:support"])
    assert [h.doc_id for h in hits] == ["refunds.md"]
    (hit,) = hits
    assert dict(hit.metadata) == {} and hit.freshness is None  # unknown, not "fresh"
    assert hit.doc_version == kb.document("refunds.md").version and hit.token_count == 12
    assert kb.document("refunds.md").freshness is None
    assert kb.superseded_by("refunds.md") == ()
    assert kb.vectors(kb.document("refunds.md").chunk_ids).shape == (1, 16)


def test_loads_a_knowledge_base_saved_in_format_1(tmp_path: Path) -> None:
    """tests/data/kb_format_v1 was saved by the code before issue 15 (see its README)."""
    manifest = json.loads((FIXTURE_V1 / "gen-000001" / "manifest.json").read_text())
    assert manifest["format_version"] == 1
    cache = QueryCache(capacity=10)
    kb = KnowledgeBase.load(FIXTURE_V1, cache=cache)
    _check_format_1(kb, manifest["index_version"])
    kb.search("refunds", principals=["role:support"])  # cached without metadata
    # adding the same documents again fills the metadata in: nothing is re-embedded
    docs = [
        Document("Refunds take 5-10 business days after approval.", "refunds.md",
                 acl=["role:support"], metadata={"lang": "en", "updated_at": "2024-03-05"}),
        Document("Salaries are paid on the last day of the month.", "payroll.md",
                 acl=["role:hr"], metadata={"tags": ["finance"]}),
    ]  # fmt: skip
    before = kb.vectors(sorted(kb._chunks))
    summary = kb.add(docs)
    assert (summary.added, summary.replaced, summary.unchanged, summary.chunks) == (0, 0, 2, 0)
    assert kb.version == manifest["index_version"]
    np.testing.assert_array_equal(kb.vectors(sorted(kb._chunks)), before)
    (hit,) = kb.search("refunds", principals=["role:support"])
    assert hit.metadata == {"lang": "en", "updated_at": "2024-03-05"}  # not the stale cache
    assert hit.freshness == covekit.Freshness(updated_at=1709596800.0)
    # saving writes format 2, which loads with the metadata
    kb.save(tmp_path / "kb")
    again = KnowledgeBase.load(tmp_path / "kb")
    assert again.version == manifest["index_version"]
    assert again.document("refunds.md") == kb.document("refunds.md")


def test_format_1_layout_written_by_hand(tmp_path: Path) -> None:
    """The same check without the fixture: today's save, rewritten to the format-1 layout."""
    kb = KnowledgeBase(Chunker("cl100k_base", max_tokens=24), HashingEmbedder(dim=16))
    kb.add([
        Document("Refunds take 5-10 business days after approval.", "refunds.md",
                 acl=["role:support"], metadata={"updated_at": "2024-03-05"}),
        Document("Salaries are paid on the last day of the month.", "payroll.md",
                 acl=["role:hr"]),
    ])  # fmt: skip
    gen = kb.save(tmp_path / "kb")
    store = json.loads((gen / "chunks.json").read_text())
    for d in store["documents"]:
        del d["metadata"], d["freshness"]
    _rewrite(gen, "chunks.json", json.dumps(store).encode(), format_version=1)
    _check_format_1(KnowledgeBase.load(tmp_path / "kb"), kb.version)
    # and a format-2 save of documents whose metadata is unknown keeps them unknown
    loaded = KnowledgeBase.load(tmp_path / "kb")
    loaded.save(tmp_path / "kb2")
    _check_format_1(KnowledgeBase.load(tmp_path / "kb2"), kb.version)


def test_search_during_add_never_mixes_versions() -> None:
    """A hit's text, doc_version, metadata and freshness always belong to one version."""
    kb = make_kb()
    kb.add(DOCS)
    errors: list[BaseException] = []
    seen: set[int] = set()
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                for h in kb.search("refunds policy revision", principals=["role:support"]):
                    if h.doc_id != "live.md":
                        continue
                    rev = int(h.text.rsplit(" ", 1)[1].rstrip("."))
                    seen.add(rev)
                    assert h.doc_version == covekit.hash.xxh3_128_hexdigest(h.text)
                    assert h.metadata["rev"] == rev
                    assert h.freshness is not None and h.freshness.updated_at == float(rev)
                    assert h.freshness.superseded_by == (f"next-{rev}.md",)
                    assert h.metadata["tags"] == ["live", f"r{rev}"]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for rev in range(1, 120):
            kb.add([Document(
                f"Refunds policy revision {rev}.", "live.md", acl=["role:support"],
                metadata={"rev": rev, "updated_at": rev, "superseded_by": f"next-{rev}.md",
                          "tags": ["live", f"r{rev}"]},
            )])  # fmt: skip
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    assert len(seen) > 1  # the readers did overlap the writes
    consistent(kb)


def test_module_doctests() -> None:
    import doctest

    from covekit.data import knowledge_base

    result = doctest.testmod(knowledge_base)
    assert result.attempted > 0 and result.failed == 0


def test_all_zero_embedding_is_searched_by_bm25_only(tmp_path: Path) -> None:
    # found on BEIR SciFact: a document ending in "…" gives a chunk that is only "…",
    # whose hashing embedding is all zeros (no direction under the cosine metric)
    class Sparse:
        name, dim = "sparse", 4

        def embed(self, texts: list[str]) -> np.ndarray:
            return np.array([[float("refund" in t), 1.0, 0, 0] if t.strip(". …") else [0, 0, 0, 0]
                             for t in texts], dtype=np.float32)  # fmt: skip

    kb = covekit.KnowledgeBase(covekit.Chunker("cl100k_base", max_tokens=4), Sparse())
    kb.add([covekit.Document("refund policy here. …", "a", acl=["u"])])
    assert len(kb.vector_index) == kb.num_chunks - 1
    zero = [c for c in kb.document("a").chunk_ids if kb.chunk(c).text.strip() == "…"]
    assert zero and not kb.vectors(zero).any()
    assert [h.doc_id for h in kb.search("refund", principals=["u"])] == ["a"]
    kb.save(tmp_path / "kb")
    back = covekit.KnowledgeBase.load(tmp_path / "kb", embedder=Sparse())
    assert back.version == kb.version and not back.vectors(zero).any()
