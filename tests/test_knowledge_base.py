"""KnowledgeBase and HybridRetriever: consistency of both indexes, versions, persistence,
crash safety of saves, caching, threads, bad input."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

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
    VectorIndex,
)
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
    assert len(kb.bm25) == len(kb.vectors) == kb.num_chunks
    for doc_id in kb.doc_ids():
        for cid in kb._docs[doc_id].chunk_ids:
            assert cid in kb.bm25 and cid in kb.vectors
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
            assert len(kb.bm25) == len(kb.vectors) == kb.num_chunks > 0
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
