"""A knowledge base: documents, their chunks, and both indexes, kept consistent.

:class:`KnowledgeBase` chunks documents, embeds the chunks, and adds them to a
:class:`~covekit.BM25Index` and a :class:`~covekit.VectorIndex` with the document's
access-control principals, tags and scalar metadata as attributes. A re-ingested
document replaces its old chunks in both indexes (an unchanged one is skipped); a
removed one leaves both. Every search filters by the caller's principals *inside* both
index searches, so a chunk the caller may not see is never a candidate.

The **index version** is an XXH3-128 of the settings and of every document's id,
content version, ACL and metadata: equal content and settings give an equal version,
any change gives a new one. Each hit carries it, so an answer can say which index
served it, and caches key on it.

``save(path)`` writes a directory of generations: a new ``gen-N/`` with both indexes,
the chunk store, the embedder's state when it has one, and ``manifest.json`` (format,
settings, counts, index version, size and XXH3-64 of every file); then ``CURRENT`` is
replaced atomically to point at it. A crash at any moment leaves ``CURRENT`` naming a
complete generation, old or new. ``load(path)`` checks the manifest and every file.

>>> import covekit
>>> kb = covekit.KnowledgeBase(covekit.Chunker("cl100k_base", max_tokens=64))
>>> summary = kb.add([
...     covekit.Document("Refunds take 5-10 business days.", "refunds", acl=["role:support"]),
...     covekit.Document("Salaries are paid monthly.", "payroll", acl=["role:hr"]),
... ])
>>> summary.added, summary.chunks
(2, 2)
>>> [h.doc_id for h in kb.search("refunds", principals=["role:support"])]
['refunds']
>>> [h.doc_id for h in kb.search("salaries", principals=["role:hr"])]
['payroll']
>>> "payroll" in [h.doc_id for h in kb.search("salaries", principals=["role:support"])]
False

Thread safety: searches run from many threads at once and do not wait for each other;
``add``, ``remove`` and ``save`` take a writer lock. A search that overlaps a write sees
each index before or after it, and never a chunk outside the caller's principals.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from covekit import hash as ckhash
from covekit._fileio import atomic_write, fsync_dir
from covekit.data.bm25 import BM25Index
from covekit.data.cache import QueryCache
from covekit.data.chunk import Chunk, Chunker
from covekit.data.documents import Document
from covekit.data.embed import Embedder, HashingEmbedder
from covekit.data.filters import Filter
from covekit.data.hybrid import HybridRetriever, SignalScore
from covekit.data.vector_index import VectorIndex
from covekit.errors import IndexFileCorrupt, InvalidInput, SourceNotFound

__all__ = ["AddSummary", "KnowledgeBase", "SearchHit"]

FORMAT = "covekit.knowledge_base"
FORMAT_VERSION = 1
_GEN = re.compile(r"^gen-(\d{6})$")


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A chunk found by :meth:`KnowledgeBase.search`.

    ``text == document.text[start:end]``; ``score`` is the fused score; ``signals``
    (with ``explain=True``) gives the rank and score in each index; ``index_version``
    names the index that served it.

    >>> SearchHit(1, "doc", "text", 0, 4, 0.5, 1, (), "v").doc_id
    'doc'
    """

    chunk_id: int
    doc_id: str
    text: str
    start: int
    end: int
    score: float
    rank: int
    heading_path: tuple[str, ...]
    index_version: str
    signals: dict[str, SignalScore] | None = None


@dataclass(frozen=True, slots=True)
class AddSummary:
    """What :meth:`KnowledgeBase.add` did: documents added (new), replaced (changed),
    unchanged (skipped), and the chunks written.

    >>> AddSummary(added=1, replaced=0, unchanged=2, chunks=3).unchanged
    2
    """

    added: int
    replaced: int
    unchanged: int
    chunks: int


@dataclass(frozen=True, slots=True)
class _ChunkRow:
    doc_id: str
    text: str
    start: int
    end: int
    token_count: int
    heading_path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _DocRow:
    version: str
    acl: tuple[str, ...]
    metadata_hash: str
    chunk_ids: tuple[int, ...]


def _attributes(doc: Document) -> dict[str, Any]:
    """The index attributes of a document's chunks: acl, tags and scalar fields."""
    tags_value = doc.metadata.get("tags", ())
    tags = [tags_value] if isinstance(tags_value, str) else list(tags_value or ())
    fields = {
        k: v
        for k, v in doc.metadata.items()
        if k != "tags"
        and isinstance(v, (str, int, float, bool))
        and not (isinstance(v, float) and not np.isfinite(v))
    }
    return {"acl": list(doc.acl), "tags": [str(t) for t in tags], "fields": fields}


def _meta_hash(doc: Document) -> str:
    return ckhash.xxh3_128_hexdigest(
        json.dumps(dict(doc.metadata), sort_keys=True, ensure_ascii=False)
    )


def _file_digest(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    return len(data), ckhash.xxh3_64(data)


class KnowledgeBase:
    """Documents -> chunks -> BM25 + vector indexes, consistent and persisted together.

    Parameters:
        chunker: how documents become chunks (default: cl100k_base, 256 tokens).
        embedder: embeds chunks and queries (default: :class:`~covekit.HashingEmbedder`).
        fusion, k_rrf, weights, candidates: passed to :class:`~covekit.HybridRetriever`.
            The default fusion is ``"weighted"`` (min-max normalized scores, equal
            weights): on BEIR SciFact it beat reciprocal rank fusion with both the
            hashing embedder (nDCG@10 0.678 vs 0.652) and all-MiniLM-L6-v2 (0.727 vs
            0.718); see docs/benchmarks.md.
        cache: an optional :class:`~covekit.QueryCache` for search results; it is keyed
            by the caller's principals, the filter, ``k`` and the index version.
        bm25, vectors: indexes to fill (default: new, empty ones; they must be empty).

    >>> import covekit
    >>> kb = covekit.KnowledgeBase(covekit.Chunker("cl100k_base", max_tokens=32))
    >>> twin = covekit.KnowledgeBase(covekit.Chunker("cl100k_base", max_tokens=32))
    >>> len(kb), kb.version == twin.version
    (0, True)
    """

    def __init__(
        self,
        chunker: Chunker | None = None,
        embedder: Embedder | None = None,
        *,
        fusion: Literal["rrf", "weighted"] = "weighted",
        k_rrf: float = 60.0,
        weights: Sequence[float] = (1.0, 1.0),
        candidates: int = 100,
        cache: QueryCache | None = None,
        bm25: BM25Index | None = None,
        vectors: VectorIndex | None = None,
    ) -> None:
        self.chunker = chunker if chunker is not None else Chunker("cl100k_base", max_tokens=256)
        if not isinstance(self.chunker, Chunker):
            raise TypeError(f"chunker must be a covekit.Chunker, not {type(self.chunker).__name__}")
        self.embedder: Embedder = embedder if embedder is not None else HashingEmbedder()
        self.bm25 = bm25 if bm25 is not None else BM25Index()
        self.vectors = (
            vectors if vectors is not None else VectorIndex(int(self.embedder.dim), metric="cosine")
        )
        if len(self.bm25) or len(self.vectors):
            raise InvalidInput("pass empty indexes: a KnowledgeBase must see every chunk it serves")
        self.retriever = HybridRetriever(
            self.bm25,
            self.vectors,
            self.embedder,
            fusion=fusion,
            k_rrf=k_rrf,
            weights=weights,
            candidates=candidates,
        )
        self.cache = cache
        self._docs: dict[str, _DocRow] = {}
        self._chunks: dict[int, _ChunkRow] = {}
        self._lock = threading.RLock()
        self._version: str | None = None

    # ------------------------------------------------------------------ settings
    def settings(self) -> dict[str, Any]:
        """Everything that shapes the indexes, as JSON-ready data (part of the version)."""
        c = self.chunker
        r = self.retriever
        emb: dict[str, Any] = {"name": str(self.embedder.name), "dim": int(self.embedder.dim)}
        fp = getattr(self.embedder, "fingerprint", None)
        if fp is not None:
            emb["fingerprint"] = int(fp)
        return {
            "chunker": {
                "encoding": c.tokenizer.name,
                "max_tokens": c.max_tokens,
                "overlap_tokens": c.overlap_tokens,
                "overlap_sentences": c.overlap_sentences,
                "strategy": c.strategy,
            },
            "embedder": emb,
            "bm25": {"k1": self.bm25.k1, "b": self.bm25.b, "analyzer": repr(self.bm25.analyzer)},
            "vectors": {
                "metric": self.vectors.metric,
                "M": self.vectors.M,
                "ef_construction": self.vectors.ef_construction,
                "seed": self.vectors.seed,
            },
            "retriever": {
                "fusion": r.fusion,
                "k_rrf": r.k_rrf,
                "weights": list(r.weights),
                "candidates": r.candidates,
            },
        }

    @property
    def version(self) -> str:
        """The index version: XXH3-128 (hex) of the settings and every document's state.

        Computed at the end of each write, so reading it never waits for a write.
        """
        v = self._version
        if v is None:
            with self._lock:
                v = self._version = self._compute_version()
        return v

    def _compute_version(self) -> str:
        docs = sorted((d, r.version, list(r.acl), r.metadata_hash) for d, r in self._docs.items())
        blob = json.dumps(
            [FORMAT_VERSION, self.settings(), docs], sort_keys=True, ensure_ascii=False
        )
        return ckhash.xxh3_128_hexdigest(blob)

    def __len__(self) -> int:
        """The number of documents."""
        return len(self._docs)

    @property
    def num_chunks(self) -> int:
        return len(self._chunks)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs

    def __repr__(self) -> str:
        return (
            f"<covekit.KnowledgeBase documents={len(self)} chunks={self.num_chunks} "
            f"version={self.version[:12]}>"
        )

    def doc_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._docs)

    def chunk(self, chunk_id: int) -> Chunk:
        """The stored chunk with this id (``KeyError`` when absent)."""
        with self._lock:
            row = self._chunks[int(chunk_id)]
            doc = self._docs[row.doc_id]
        return Chunk(
            row.text,
            row.start,
            row.end,
            row.token_count,
            doc.chunk_ids.index(int(chunk_id)),
            int(chunk_id),
            row.doc_id,
            row.heading_path,
            acl=doc.acl,
        )

    # ------------------------------------------------------------------ writes
    def add(self, documents: Iterable[Document] | Document, *, num_threads: int = 0) -> AddSummary:
        """Adds documents; a known id with new content, ACL or metadata replaces its chunks.

        Everything is computed (chunks, embeddings) before either index changes; then
        old chunks leave and new ones enter both indexes under the writer lock.
        ``num_threads`` chunks and builds the graph on that many threads (0: all cores).
        """
        docs = [documents] if isinstance(documents, Document) else list(documents)
        seen: set[str] = set()
        for d in docs:
            if not isinstance(d, Document):
                raise TypeError(
                    f"documents must be covekit.Document objects, not {type(d).__name__}"
                )
            if d.id in seen:
                raise InvalidInput(
                    f"document id {d.id!r} appears twice in one add(); ids must be unique"
                )
            seen.add(d.id)
        with self._lock:
            todo = []
            unchanged = 0
            for d in docs:
                old = self._docs.get(d.id)
                if old is not None and (old.version, old.acl, old.metadata_hash) == (
                    d.version,
                    d.acl,
                    _meta_hash(d),
                ):
                    unchanged += 1
                else:
                    todo.append(d)
            per_doc = self.chunker.chunk_batch(todo, num_threads=num_threads) if todo else []
            flat: list[tuple[Document, Chunk]] = [
                (d, c) for d, cs in zip(todo, per_doc, strict=True) for c in cs
            ]
            texts = [c.text for _, c in flat]
            vecs = (
                np.ascontiguousarray(self.embedder.embed(texts), dtype=np.float32)
                if texts
                else np.zeros((0, int(self.embedder.dim)), np.float32)
            )
            if vecs.shape != (len(texts), int(self.embedder.dim)):
                raise InvalidInput(
                    f"the embedder returned shape {vecs.shape} for {len(texts)} texts"
                )
            ids = np.array([c.id for _, c in flat], dtype=np.uint64)
            if len(np.unique(ids)) != len(ids):
                raise InvalidInput(
                    "two chunks share an id (identical document ids and text); deduplicate first"
                )
            attrs = [_attributes(d) for d, _ in flat]
            # apply: drop old chunks of replaced documents, then add the new ones
            replaced = 0
            old_ids: list[int] = []
            for d in todo:
                old = self._docs.get(d.id)
                if old is not None:
                    replaced += 1
                    old_ids.extend(old.chunk_ids)
            if old_ids:
                self._drop_chunks(old_ids)
            if len(ids):
                self.bm25.add(ids, texts, attrs)
                self.vectors.add(ids, vecs, attrs, num_threads=num_threads or None)
            for d, cs in zip(todo, per_doc, strict=True):
                for c in cs:
                    self._chunks[c.id] = _ChunkRow(
                        d.id, c.text, c.start, c.end, c.token_count, c.heading_path
                    )
                self._docs[d.id] = _DocRow(d.version, d.acl, _meta_hash(d), tuple(c.id for c in cs))
            self._version = self._compute_version()
            return AddSummary(len(todo) - replaced, replaced, unchanged, len(flat))

    def _drop_chunks(self, chunk_ids: list[int]) -> None:
        arr = np.array(chunk_ids, dtype=np.uint64)
        self.bm25.delete(arr)
        self.vectors.delete(arr, missing_ok=True)
        for c in chunk_ids:
            self._chunks.pop(c, None)

    def remove(self, doc_ids: Iterable[str] | str) -> int:
        """Removes documents (and their chunks from both indexes); returns how many were known."""
        ids = [doc_ids] if isinstance(doc_ids, str) else list(doc_ids)
        with self._lock:
            known = [d for d in ids if d in self._docs]
            chunk_ids = [c for d in known for c in self._docs[d].chunk_ids]
            if chunk_ids:
                self._drop_chunks(chunk_ids)
            for d in known:
                del self._docs[d]
            if known:
                self._version = self._compute_version()
            return len(known)

    # ------------------------------------------------------------------ reads
    def search(
        self,
        query: str,
        k: int = 10,
        *,
        principals: Sequence[str] | None,
        filter: Filter | None = None,
        explain: bool = False,
    ) -> list[SearchHit]:
        """The ``k`` best chunks for ``query`` that ``principals`` may see.

        ``principals`` is required: the caller's identities (``["user:42",
        "role:support"]``); a chunk is visible when its document's ACL names one of
        them. ``principals=None`` turns the ACL check off, for trusted offline use
        (evaluation, maintenance) only. ``filter`` narrows further (tags, fields).
        """
        if not isinstance(query, str):
            raise InvalidInput(f"query must be a str, not {type(query).__name__}")
        if principals is not None:
            if isinstance(principals, str):
                raise InvalidInput(
                    "principals must be a list such as ['user:42'], not a single str"
                )
            principals = list(principals)
            if not principals:
                return []
        acl = Filter.acl_any(principals) if principals is not None else None
        full = acl if filter is None else (filter if acl is None else acl & filter)
        # No lock around the search: each index has its own readers-writer lock, and the
        # filter is applied inside each, so a search that overlaps a write can see either
        # state but never a chunk its principals may not see. A hit whose chunk a
        # concurrent write has just removed is dropped.
        version = self.version
        scope = ["\x00all"] if principals is None else principals
        params = {"k": k, "explain": explain}
        if self.cache is not None:
            hit = self.cache.get(query, scope=scope, version=version, filter=filter, params=params)
            if hit is not None:
                return list(hit.value)
        hits = self.retriever.search(query, k, filter=full, explain=explain)
        chunks = self._chunks
        out: list[SearchHit] = []
        for h in hits:
            row = chunks.get(h.id)
            if row is None:
                continue
            out.append(
                SearchHit(
                    h.id,
                    row.doc_id,
                    row.text,
                    row.start,
                    row.end,
                    h.score,
                    len(out) + 1,
                    row.heading_path,
                    version,
                    h.signals,
                )
            )
        if self.cache is not None:
            self.cache.put(
                query, tuple(out), scope=scope, version=version, filter=filter, params=params
            )
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes a new generation under ``path`` and points ``CURRENT`` at it atomically.

        Returns the generation's directory. Older generations but the previous one are
        removed afterwards.
        """
        root = Path(path)
        with self._lock:
            root.mkdir(parents=True, exist_ok=True)
            gens = sorted(int(m.group(1)) for p in root.iterdir() if (m := _GEN.match(p.name)))
            current = root / "CURRENT"
            previous = current.read_text(encoding="utf-8").strip() if current.is_file() else ""
            gen = root / f"gen-{(gens[-1] + 1 if gens else 1):06d}"
            gen.mkdir()
            self.bm25.save(gen / "bm25.idx")
            self.vectors.save(gen / "vectors.idx")
            rows = [
                {
                    "id": cid,
                    "doc": r.doc_id,
                    "text": r.text,
                    "start": r.start,
                    "end": r.end,
                    "tokens": r.token_count,
                    "headings": list(r.heading_path),
                }
                for cid, r in sorted(self._chunks.items())
            ]
            docs = [
                {
                    "id": d,
                    "version": r.version,
                    "acl": list(r.acl),
                    "metadata_hash": r.metadata_hash,
                    "chunks": list(r.chunk_ids),
                }
                for d, r in sorted(self._docs.items())
            ]
            atomic_write(
                gen / "chunks.json",
                json.dumps({"chunks": rows, "documents": docs}, ensure_ascii=False).encode(),
            )
            files = ["bm25.idx", "vectors.idx", "chunks.json"]
            if isinstance(self.embedder, HashingEmbedder):
                atomic_write(gen / "embedder.bin", self.embedder.to_bytes())
                files.append("embedder.bin")
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "index_version": self.version,
                "settings": self.settings(),
                "documents": len(self._docs),
                "chunks": len(self._chunks),
                "files": {
                    n: dict(zip(("bytes", "xxh3_64"), _file_digest(gen / n), strict=True))
                    for n in files
                },
            }
            atomic_write(
                gen / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True).encode()
            )
            fsync_dir(gen)
            atomic_write(root / "CURRENT", (gen.name + "\n").encode())
            # keep the new generation and the one CURRENT named before (a fallback);
            # drop the rest, including any left half-written by a crashed save
            for g in gens:
                name = f"gen-{g:06d}"
                if name not in (gen.name, previous):
                    _remove_tree(root / name)
            return gen

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        chunker: Chunker | None = None,
        embedder: Embedder | None = None,
        cache: QueryCache | None = None,
    ) -> KnowledgeBase:
        """Loads the generation ``CURRENT`` names, checking the manifest and every file.

        The chunker is rebuilt from the saved settings unless given; a
        :class:`~covekit.HashingEmbedder` is restored from its saved state, any other
        embedder must be passed (its name and dim must match the saved ones).
        """
        root = Path(path)
        current = root / "CURRENT"
        if not current.is_file():
            raise SourceNotFound(
                f"no knowledge base at {root}: {current} is missing "
                "(save one with KnowledgeBase.save)"
            )
        name = current.read_text(encoding="utf-8").strip()
        gen = root / name
        if not _GEN.match(name) or not gen.is_dir():
            raise IndexFileCorrupt(
                f"{current} names {name!r}, which is not a generation directory in {root}"
            )
        try:
            manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexFileCorrupt(f"{gen / 'manifest.json'} cannot be read: {exc}") from None
        if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
            raise IndexFileCorrupt(
                f"{gen / 'manifest.json'} is format {manifest.get('format')!r} version "
                f"{manifest.get('format_version')!r}; this covekit reads {FORMAT!r} "
                f"version {FORMAT_VERSION}"
            )
        for fname, info in manifest["files"].items():
            f = gen / fname
            if not f.is_file():
                raise IndexFileCorrupt(f"{f} is missing")
            size, digest = _file_digest(f)
            if size != info["bytes"] or digest != info["xxh3_64"]:
                raise IndexFileCorrupt(
                    f"{f} does not match its checksum in the manifest (corrupt or truncated)"
                )
        settings = manifest["settings"]
        if chunker is None:
            c = settings["chunker"]
            if c["strategy"] == "semantic":
                raise InvalidInput(
                    "this knowledge base used the semantic chunker: pass chunker=... to load it"
                )
            chunker = Chunker(
                c["encoding"],
                c["max_tokens"],
                c["overlap_tokens"],
                c["strategy"],
                overlap_sentences=c["overlap_sentences"],
            )
        if embedder is None:
            if "embedder.bin" not in manifest["files"]:
                raise InvalidInput(
                    "this knowledge base was built with embedder "
                    f"{settings['embedder']['name']!r}: pass embedder=... to load it"
                )
            embedder = HashingEmbedder.from_bytes((gen / "embedder.bin").read_bytes())
        if (
            str(embedder.name) != settings["embedder"]["name"]
            or int(embedder.dim) != settings["embedder"]["dim"]
        ):
            raise InvalidInput(
                f"the embedder passed ({embedder.name!r}, dim {embedder.dim}) is not the one "
                "the index was built "
                f"with ({settings['embedder']['name']!r}, dim {settings['embedder']['dim']})"
            )
        r = settings["retriever"]
        kb = cls(
            chunker,
            embedder,
            fusion=r["fusion"],
            k_rrf=r["k_rrf"],
            weights=r["weights"],
            candidates=r["candidates"],
            cache=cache,
        )
        kb.bm25 = BM25Index.load(gen / "bm25.idx")
        kb.vectors = VectorIndex.load(gen / "vectors.idx")
        kb.retriever.bm25 = kb.bm25
        kb.retriever.vectors = kb.vectors
        data = json.loads((gen / "chunks.json").read_text(encoding="utf-8"))
        kb._chunks = {
            int(c["id"]): _ChunkRow(
                c["doc"], c["text"], c["start"], c["end"], c["tokens"], tuple(c["headings"])
            )
            for c in data["chunks"]
        }
        kb._docs = {
            d["id"]: _DocRow(
                d["version"],
                tuple(d["acl"]),
                d["metadata_hash"],
                tuple(int(x) for x in d["chunks"]),
            )
            for d in data["documents"]
        }
        if len(kb.bm25) != len(kb._chunks) or len(kb.vectors) != len(kb._chunks):
            raise IndexFileCorrupt(
                f"{gen}: the indexes hold {len(kb.bm25)} and {len(kb.vectors)} chunks, "
                f"the chunk store {len(kb._chunks)}"
            )
        if kb.version != manifest["index_version"]:
            raise IndexFileCorrupt(
                f"{gen}: the index version does not match the manifest's "
                "(settings or content changed)"
            )
        return kb


def _remove_tree(path: Path) -> None:
    if not path.exists():
        return
    for p in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if p.is_dir():
            p.rmdir()
        else:
            p.unlink()
    path.rmdir()
