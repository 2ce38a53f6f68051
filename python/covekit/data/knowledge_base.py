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

Each document's metadata (as JSON gives it back) and parsed
:class:`~covekit.Freshness` are kept with its version and ACL, and every
:class:`SearchHit` carries them, with the chunk's token count, so a context builder
needs no second lookup. Which documents supersede which is worked out at write time
(:meth:`KnowledgeBase.superseded_by`); :meth:`KnowledgeBase.vectors` returns the stored
embeddings of chunks (for MMR and near-duplicate checks).

``save(path)`` writes a directory of generations: a new ``gen-N/`` with both indexes,
the chunk store (chunks, and documents with their metadata and freshness), the
embedder's state when it has one, and ``manifest.json`` (format, settings, counts,
index version, size and XXH3-64 of every file); then ``CURRENT`` is replaced
atomically to point at it. A crash at any moment leaves ``CURRENT`` naming a complete
generation, old or new. ``load(path)`` checks the manifest and every file. Format 2
added the documents' metadata; a format-1 knowledge base still loads, with every
document's metadata empty and freshness ``None`` (unknown) until it is added again.

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
each index before or after it, and never a chunk outside the caller's principals. Each
chunk's record points at the record of the document version it was cut from, so a hit's
text, ``doc_version``, ``metadata`` and ``freshness`` always belong together.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from covekit import hash as ckhash
from covekit._fileio import atomic_write, fsync_dir
from covekit.data.bm25 import BM25Index
from covekit.data.cache import QueryCache
from covekit.data.chunk import Chunk, Chunker
from covekit.data.documents import Document, _frozen_metadata
from covekit.data.embed import Embedder, HashingEmbedder
from covekit.data.filters import Filter
from covekit.data.freshness import Freshness, parse_freshness
from covekit.data.hybrid import HybridRetriever, SignalScore
from covekit.data.vector_index import VectorIndex
from covekit.errors import IndexFileCorrupt, InvalidInput, SourceNotFound

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["AddSummary", "DocumentInfo", "KnowledgeBase", "SearchHit"]

FORMAT = "covekit.knowledge_base"
#: The on-disk layout written by :meth:`KnowledgeBase.save`. 2 added each document's
#: metadata and freshness to ``chunks.json``.
FORMAT_VERSION = 2
#: The layouts :meth:`KnowledgeBase.load` reads.
READ_FORMAT_VERSIONS = (1, 2)
# Part of the index version. Kept apart from FORMAT_VERSION so that a new on-disk layout
# does not change the version of unchanged content (caches and traces key on it).
_VERSION_SCHEME = 1
_GEN = re.compile(r"^gen-(\d{6})$")
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty_metadata() -> Mapping[str, Any]:
    return _EMPTY


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A chunk found by :meth:`KnowledgeBase.search`.

    ``text == document.text[start:end]``; ``score`` is the fused score; ``signals``
    (with ``explain=True``) gives the rank and score in each index; ``index_version``
    names the index that served it.

    What a context builder needs comes with the hit: ``doc_version`` (the document's
    content version this chunk was cut from), ``metadata`` (the document's metadata,
    read-only, as JSON gives it back), ``freshness`` (its parsed
    :class:`~covekit.Freshness`, with ``superseded_by`` also naming the documents of
    the knowledge base whose ``supersedes`` lists it; ``None`` when unknown: a
    knowledge base saved in format 1) and ``token_count`` (the chunk's tokens, from the
    chunker). They default to empty values, so a hit can be built positionally as
    before.

    >>> hit = SearchHit(1, "doc", "text", 0, 4, 0.5, 1, (), "v")
    >>> hit.doc_id, hit.doc_version, dict(hit.metadata), hit.freshness, hit.token_count
    ('doc', '', {}, None, 0)
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
    doc_version: str = ""
    metadata: Mapping[str, Any] = field(default_factory=_empty_metadata, hash=False)
    freshness: Freshness | None = None
    token_count: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.metadata, MappingProxyType):
            object.__setattr__(self, "metadata", _frozen_metadata(self.metadata))

    def __reduce__(self) -> tuple[Any, ...]:
        # A mappingproxy does not pickle; rebuild from a plain dict.
        return (
            SearchHit,
            (
                self.chunk_id,
                self.doc_id,
                self.text,
                self.start,
                self.end,
                self.score,
                self.rank,
                self.heading_path,
                self.index_version,
                self.signals,
                self.doc_version,
                dict(self.metadata),
                self.freshness,
                self.token_count,
            ),
        )


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """What :meth:`KnowledgeBase.document` returns: a document as the knowledge base holds it.

    ``metadata`` is read-only (as JSON gives it back); ``freshness`` is the parsed
    :class:`~covekit.Freshness` with ``superseded_by`` from both directions, or ``None``
    when unknown (a knowledge base saved in format 1); ``chunk_ids`` are in document
    order.

    >>> info = DocumentInfo("a.md", "v1", ("role:x",), {"lang": "en"}, None, (7, 9))
    >>> info.metadata["lang"], info.chunk_ids
    ('en', (7, 9))
    """

    id: str
    version: str
    acl: tuple[str, ...]
    metadata: Mapping[str, Any]
    freshness: Freshness | None
    chunk_ids: tuple[int, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.metadata, MappingProxyType):
            object.__setattr__(self, "metadata", _frozen_metadata(self.metadata))

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            DocumentInfo,
            (
                self.id,
                self.version,
                self.acl,
                dict(self.metadata),
                self.freshness,
                self.chunk_ids,
            ),
        )


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
class _DocRow:
    version: str
    acl: tuple[str, ...]
    metadata_hash: str
    chunk_ids: tuple[int, ...]
    # None for both when unknown (loaded from format 1)
    metadata: Mapping[str, Any] | None = None
    freshness: Freshness | None = None


@dataclass(frozen=True, slots=True)
class _ChunkRow:
    doc_id: str
    text: str
    start: int
    end: int
    token_count: int
    heading_path: tuple[str, ...]
    # the record of the document version this chunk was cut from: a search reads the
    # metadata through it, never through KnowledgeBase._docs, which a write may change
    doc: _DocRow


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


def _meta_hash(doc: Document | Mapping[str, Any]) -> str:
    meta = doc.metadata if isinstance(doc, Document) else doc
    return ckhash.xxh3_128_hexdigest(json.dumps(dict(meta), sort_keys=True, ensure_ascii=False))


def _doc_row(doc: Document, metadata_hash: str, chunk_ids: tuple[int, ...]) -> _DocRow:
    """The knowledge base's own record of a document: its metadata as JSON gives it back
    (what a saved and loaded knowledge base holds too), read-only."""
    meta = json.loads(json.dumps(dict(doc.metadata), ensure_ascii=False))
    return _DocRow(
        doc.version, doc.acl, metadata_hash, chunk_ids, MappingProxyType(meta), doc.freshness
    )


def _chunk_id_list(chunk_ids: Any) -> list[int]:
    """Chunk ids as a list of ints, checked: non-negative and below 2**64."""
    if isinstance(chunk_ids, str | bytes):
        raise InvalidInput("chunk_ids must be a list of chunk ids (ints), not a str")
    if isinstance(chunk_ids, np.ndarray):
        if chunk_ids.ndim != 1 or chunk_ids.dtype.kind not in "iu":
            raise InvalidInput(
                f"chunk_ids must be a 1-D integer array, got {chunk_ids.dtype} "
                f"of shape {chunk_ids.shape}"
            )
        items: list[Any] = chunk_ids.tolist()
    else:
        items = list(chunk_ids)
    if all(type(c) is int for c in items) and (not items or 0 <= min(items) <= max(items) < 2**64):
        return items
    out = []
    for c in items:
        if isinstance(c, bool) or not isinstance(c, int | np.integer):
            raise InvalidInput(f"chunk ids must be ints (SearchHit.chunk_id), got {c!r}")
        if not 0 <= int(c) < 2**64:
            raise InvalidInput(f"chunk ids are non-negative 64-bit ints, got {int(c)}")
        out.append(int(c))
    return out


def _merge_ids(first: tuple[str, ...], more: Iterable[str]) -> tuple[str, ...]:
    extra = tuple(x for x in more if x not in first)
    return first + extra if extra else first


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
            They are the attributes :attr:`bm25` and :attr:`vector_index` (the name
            ``vectors`` is the method :meth:`vectors`, which reads stored embeddings).

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
        self.vector_index = (
            vectors if vectors is not None else VectorIndex(int(self.embedder.dim), metric="cosine")
        )
        if len(self.bm25) or len(self.vector_index):
            raise InvalidInput("pass empty indexes: a KnowledgeBase must see every chunk it serves")
        self.retriever = HybridRetriever(
            self.bm25,
            self.vector_index,
            self.embedder,
            fusion=fusion,
            k_rrf=k_rrf,
            weights=weights,
            candidates=candidates,
        )
        self.cache = cache
        self._docs: dict[str, _DocRow] = {}
        self._chunks: dict[int, _ChunkRow] = {}
        # doc id -> ids of the documents held here whose `supersedes` names it (sorted);
        # kept up to date by every write, read without a lock
        self._superseders: dict[str, tuple[str, ...]] = {}
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
                "metric": self.vector_index.metric,
                "M": self.vector_index.M,
                "ef_construction": self.vector_index.ef_construction,
                "seed": self.vector_index.seed,
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
            [_VERSION_SCHEME, self.settings(), docs], sort_keys=True, ensure_ascii=False
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
            doc = row.doc
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

        Each document's metadata and :attr:`~covekit.Document.freshness` are stored
        with it, and the ``supersedes`` links are applied (see :meth:`superseded_by`).
        A document loaded from a format-1 knowledge base, whose metadata is unknown,
        gets it filled in when it is added again unchanged (no re-chunking or
        re-embedding; it still counts as unchanged).

        >>> import covekit
        >>> kb = covekit.KnowledgeBase(covekit.Chunker("cl100k_base", max_tokens=32))
        >>> kb.add(covekit.Document("Refunds take 5 days.", "refunds.md", acl=["u:1"]))
        AddSummary(added=1, replaced=0, unchanged=0, chunks=1)
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
            hashes: dict[str, str] = {}
            unchanged = 0
            filled = False
            for d in docs:
                old = self._docs.get(d.id)
                hashes[d.id] = _meta_hash(d)
                if old is not None and (old.version, old.acl, old.metadata_hash) == (
                    d.version,
                    d.acl,
                    hashes[d.id],
                ):
                    unchanged += 1
                    if old.metadata is None:  # from a format-1 save: fill it in
                        self._set_doc(d.id, old, _doc_row(d, old.metadata_hash, old.chunk_ids))
                        filled = True
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
                # A chunk whose embedding is all zeros (a lone "…", digits an embedder
                # has no features for) has no direction under the cosine metric: it is
                # found by BM25 only, and vectors() gives it a row of zeros.
                live = vecs.any(axis=1) if self.vector_index.metric == "cosine" else None
                if live is not None and not live.all():
                    keep = np.flatnonzero(live)
                    self.vector_index.add(
                        ids[keep], vecs[keep], [attrs[i] for i in keep],
                        num_threads=num_threads or None,
                    )  # fmt: skip
                else:
                    self.vector_index.add(ids, vecs, attrs, num_threads=num_threads or None)
            for d, cs in zip(todo, per_doc, strict=True):
                row = _doc_row(d, hashes[d.id], tuple(c.id for c in cs))
                for c in cs:
                    self._chunks[c.id] = _ChunkRow(
                        d.id, c.text, c.start, c.end, c.token_count, c.heading_path, row
                    )
                self._relink(d.id, self._docs.get(d.id), row)
                self._docs[d.id] = row
            if todo:
                self._version = self._compute_version()
            elif filled and self.cache is not None:
                # same version, but its cached hits lack the metadata filled in just now
                self.cache.invalidate(version=self.version)
            return AddSummary(len(todo) - replaced, replaced, unchanged, len(flat))

    def _set_doc(self, doc_id: str, old: _DocRow, row: _DocRow) -> None:
        """Replaces a document's record, chunks unchanged (writer lock held)."""
        for cid in row.chunk_ids:
            c = self._chunks.get(cid)
            if c is not None:
                self._chunks[cid] = _ChunkRow(
                    c.doc_id, c.text, c.start, c.end, c.token_count, c.heading_path, row
                )
        self._relink(doc_id, old, row)
        self._docs[doc_id] = row

    def _relink(self, doc_id: str, old: _DocRow | None, new: _DocRow | None) -> None:
        """Updates the reverse ``supersedes`` links for a document that changes from
        ``old`` to ``new`` (None: absent); writer lock held. Each dict update is atomic,
        so a search reads a target's links before or after it."""
        before = set(old.freshness.supersedes) if old is not None and old.freshness else set()
        after = set(new.freshness.supersedes) if new is not None and new.freshness else set()
        for target in before - after:
            rest = tuple(x for x in self._superseders.get(target, ()) if x != doc_id)
            if rest:
                self._superseders[target] = rest
            else:
                self._superseders.pop(target, None)
        for target in after - before:
            self._superseders[target] = tuple(sorted({*self._superseders.get(target, ()), doc_id}))

    def _drop_chunks(self, chunk_ids: list[int]) -> None:
        arr = np.array(chunk_ids, dtype=np.uint64)
        self.bm25.delete(arr)
        self.vector_index.delete(arr, missing_ok=True)
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
                self._relink(d, self._docs.pop(d), None)
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

        Each hit carries its document's ``doc_version``, ``metadata`` and
        ``freshness`` and the chunk's ``token_count`` (see :class:`SearchHit`).

        >>> import covekit
        >>> kb = covekit.KnowledgeBase(covekit.Chunker("cl100k_base", max_tokens=32))
        >>> _ = kb.add(covekit.Document("Refunds take 5 days.", "refunds.md", acl=["u:1"],
        ...                             metadata={"updated_at": "2024-03-05"}))
        >>> hit = kb.search("refunds", principals=["u:1"])[0]
        >>> hit.doc_id, hit.token_count, hit.metadata["updated_at"], hit.freshness.updated_at
        ('refunds.md', 7, '2024-03-05', 1709596800.0)
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
        superseders = self._superseders
        allowed = None if principals is None else frozenset(principals)
        out: list[SearchHit] = []
        for h in hits:
            row = chunks.get(h.id)
            if row is None:
                continue
            doc = row.doc
            if allowed is not None and allowed.isdisjoint(doc.acl):
                continue  # its ACL changed since the index search: check the record too
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
                    doc.version,
                    _EMPTY if doc.metadata is None else doc.metadata,
                    (
                        self._freshness_of(row.doc_id, doc)
                        if row.doc_id in superseders
                        else doc.freshness
                    ),
                    row.token_count,
                )
            )
        if self.cache is not None:
            self.cache.put(
                query, tuple(out), scope=scope, version=version, filter=filter, params=params
            )
        return out

    def _freshness_of(self, doc_id: str, doc: _DocRow) -> Freshness | None:
        """The document's own freshness, with the documents that list it in their
        ``supersedes`` added to ``superseded_by``; None when unknown."""
        own = doc.freshness
        if own is None:
            return None
        others = self._superseders.get(doc_id)
        if not others:
            return own
        merged = _merge_ids(own.superseded_by, others)
        if merged is own.superseded_by:
            return own
        return Freshness(own.updated_at, own.valid_until, merged, own.supersedes)

    def document(self, doc_id: str) -> DocumentInfo:
        """The stored record of a document: version, ACL, metadata, freshness, chunk ids.

        ``freshness`` is the one hits carry (``superseded_by`` from both directions);
        ``metadata`` is empty and ``freshness`` ``None`` for a document loaded from a
        format-1 knowledge base and not added since. ``KeyError`` when absent.

        >>> import covekit
        >>> kb = covekit.KnowledgeBase(covekit.Chunker("cl100k_base", max_tokens=32))
        >>> _ = kb.add(covekit.Document("Refunds take 5 days.", "refunds.md", acl=["u:1"]))
        >>> info = kb.document("refunds.md")
        >>> info.acl, len(info.chunk_ids), info.freshness.is_empty
        (('u:1',), 1, True)
        """
        row = self._docs.get(doc_id)
        if row is None:
            raise KeyError(f"no document {doc_id!r} in this knowledge base")
        return DocumentInfo(
            doc_id,
            row.version,
            row.acl,
            _EMPTY if row.metadata is None else row.metadata,
            self._freshness_of(doc_id, row),
            row.chunk_ids,
        )

    def superseded_by(
        self, doc_id: str, *, principals: Sequence[str] | None = None
    ) -> tuple[str, ...]:
        """The ids of the documents that supersede ``doc_id``, from both directions.

        First the ids its own ``superseded_by`` names (in that order, whether or not
        this knowledge base holds them), then, sorted, the documents held here whose
        ``supersedes`` names it. The links are kept up to date by every write; this
        reads them without a lock.

        With ``principals``, only the documents held here that those principals may see
        are listed, so the answer never names a document the caller cannot see (and an
        id that is not held here is left out).

        >>> import covekit
        >>> kb = covekit.KnowledgeBase(covekit.Chunker("cl100k_base", max_tokens=32))
        >>> _ = kb.add([
        ...     covekit.Document("Refunds take 10 days.", "old.md", acl=["u:1"],
        ...                      metadata={"superseded_by": "draft.md"}),
        ...     covekit.Document("Refunds take 5 days.", "new.md", acl=["u:1"],
        ...                      metadata={"supersedes": ["old.md"]}),
        ... ])
        >>> kb.superseded_by("old.md"), kb.superseded_by("old.md", principals=["u:1"])
        (('draft.md', 'new.md'), ('new.md',))

        Errors: ``KeyError`` for a document id this knowledge base does not hold;
        :class:`~covekit.errors.InvalidInput` for ``principals`` given as one str.
        """
        row = self._docs.get(doc_id)
        if row is None:
            raise KeyError(f"no document {doc_id!r} in this knowledge base")
        own = row.freshness.superseded_by if row.freshness is not None else ()
        ids = _merge_ids(own, self._superseders.get(doc_id, ()))
        if principals is None:
            return ids
        if isinstance(principals, str):
            raise InvalidInput("principals must be a list such as ['user:42'], not a single str")
        allowed = frozenset(principals)
        docs = self._docs
        return tuple(
            i for i in ids if (r := docs.get(i)) is not None and not allowed.isdisjoint(r.acl)
        )

    def vectors(self, chunk_ids: Sequence[int]) -> npt.NDArray[np.float32]:
        """The stored embeddings of ``chunk_ids``, in the order given.

        A C-contiguous ``float32`` array of shape ``(len(chunk_ids), dim)``, read from
        the vector index (a copy: changing it changes nothing stored). Under the cosine
        metric (the default) the index keeps unit-length vectors, so these are the
        embedder's vectors divided by their norm, and a dot product is the cosine
        similarity; under ``"ip"`` or ``"l2"`` they are the embedder's vectors as given.

        >>> import covekit, numpy as np
        >>> kb = covekit.KnowledgeBase(covekit.Chunker("cl100k_base", max_tokens=32))
        >>> _ = kb.add(covekit.Document("Refunds take 5 days.", "refunds.md", acl=["u:1"]))
        >>> ids = kb.document("refunds.md").chunk_ids
        >>> v = kb.vectors(ids)
        >>> v.shape, v.dtype, round(float(np.linalg.norm(v[0])), 5)
        ((1, 384), dtype('float32'), 1.0)

        A chunk whose embedding was all zeros (no direction under the cosine metric,
        so it is searched by BM25 only) gets a row of zeros.

        Errors: ``KeyError`` naming the first id that is not in the knowledge base (or
        that a concurrent write removed); :class:`~covekit.errors.InvalidInput` for ids
        that are not non-negative integers. Safe with concurrent searches and writes.
        """
        ids = _chunk_id_list(chunk_ids)
        index = self.vector_index
        if not ids:
            return np.empty((0, index.dim), dtype=np.float32)
        try:
            return index.vectors(np.array(ids, dtype=np.uint64))  # one native call
        except InvalidInput:
            pass
        rows = []
        for c in ids:
            if c in index:
                rows.append(index.vector(c))
            elif c in self._chunks:  # an all-zero embedding, kept out of the index
                rows.append(np.zeros(index.dim, dtype=np.float32))
            else:
                raise KeyError(
                    f"chunk {c} is not in this knowledge base (removed, or never added)"
                ) from None
        return np.array(rows, dtype=np.float32)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes a new generation under ``path`` and points ``CURRENT`` at it atomically.

        Returns the generation's directory. Older generations but the previous one are
        removed afterwards. The layout is format :data:`FORMAT_VERSION` (2):
        ``chunks.json`` holds the chunks and, per document, its version, ACL, metadata
        hash, chunk ids, ``metadata`` and ``freshness`` (``null`` for both when unknown:
        a document loaded from format 1 and not added since).

        >>> import covekit, tempfile
        >>> kb = covekit.KnowledgeBase(covekit.Chunker("cl100k_base", max_tokens=32))
        >>> _ = kb.add(covekit.Document("Refunds take 5 days.", "refunds.md", acl=["u:1"]))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     print(kb.save(d).name, covekit.KnowledgeBase.load(d).version == kb.version)
        gen-000001 True
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
            self.vector_index.save(gen / "vectors.idx")
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
                    "metadata": None if r.metadata is None else dict(r.metadata),
                    "freshness": None if r.freshness is None else r.freshness.to_dict(),
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

        Reads formats 1 and 2 (:data:`READ_FORMAT_VERSIONS`). Format 1 did not store
        metadata: its documents load with empty ``metadata`` and ``freshness`` ``None``
        (unknown) in hits and :meth:`document`, and no ``supersedes`` links, until they
        are added again; the index version is the same as when it was saved.

        >>> import covekit, tempfile
        >>> kb = covekit.KnowledgeBase(covekit.Chunker("cl100k_base", max_tokens=32))
        >>> _ = kb.add(covekit.Document("Refunds.", "r.md", acl=["u:1"], metadata={"k": 1}))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = kb.save(d)
        ...     print(dict(covekit.KnowledgeBase.load(d).document("r.md").metadata))
        {'k': 1}
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
        fmt = manifest.get("format_version")
        if manifest.get("format") != FORMAT or fmt not in READ_FORMAT_VERSIONS:
            raise IndexFileCorrupt(
                f"{gen / 'manifest.json'} is format {manifest.get('format')!r} version "
                f"{fmt!r}; this covekit reads {FORMAT!r} versions "
                f"{', '.join(map(str, READ_FORMAT_VERSIONS))}"
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
        kb.vector_index = VectorIndex.load(gen / "vectors.idx")
        kb.retriever.bm25 = kb.bm25
        kb.retriever.vectors = kb.vector_index
        data = json.loads((gen / "chunks.json").read_text(encoding="utf-8"))
        try:
            kb._docs = {d["id"]: _load_doc_row(d, fmt) for d in data["documents"]}
            kb._chunks = {
                int(c["id"]): _ChunkRow(
                    c["doc"],
                    c["text"],
                    c["start"],
                    c["end"],
                    c["tokens"],
                    tuple(c["headings"]),
                    kb._docs[c["doc"]],
                )
                for c in data["chunks"]
            }
        except (KeyError, TypeError, ValueError) as exc:  # InvalidInput is a ValueError
            raise IndexFileCorrupt(
                f"{gen / 'chunks.json'} does not hold what format {fmt} does: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        for doc_id, row in kb._docs.items():
            kb._relink(doc_id, None, row)
        # every chunk is in BM25; the vector index may lack the all-zero embeddings
        if len(kb.bm25) != len(kb._chunks) or len(kb.vector_index) > len(kb._chunks):
            raise IndexFileCorrupt(
                f"{gen}: the indexes hold {len(kb.bm25)} and {len(kb.vector_index)} chunks, "
                f"the chunk store {len(kb._chunks)}"
            )
        if kb.version != manifest["index_version"]:
            raise IndexFileCorrupt(
                f"{gen}: the index version does not match the manifest's "
                "(settings or content changed)"
            )
        return kb


def _load_doc_row(d: dict[str, Any], fmt: int) -> _DocRow:
    """A document's record from chunks.json (format 1: metadata and freshness unknown)."""
    row = _DocRow(
        d["version"], tuple(d["acl"]), d["metadata_hash"], tuple(int(x) for x in d["chunks"])
    )
    if fmt < 2 or d.get("metadata") is None:
        return row
    meta = d["metadata"]
    if not isinstance(meta, dict) or _meta_hash(meta) != row.metadata_hash:
        raise ValueError(f"the metadata of {d['id']!r} does not match its hash")
    fresh = d.get("freshness")
    freshness = parse_freshness(fresh if isinstance(fresh, dict) else meta)
    return _DocRow(
        row.version, row.acl, row.metadata_hash, row.chunk_ids, MappingProxyType(meta), freshness
    )


def _remove_tree(path: Path) -> None:
    if not path.exists():
        return
    for p in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if p.is_dir():
            p.rmdir()
        else:
            p.unlink()
    path.rmdir()
