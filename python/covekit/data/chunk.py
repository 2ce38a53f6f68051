"""Token-exact, structure-aware chunking with stable ids.

>>> import covekit
>>> chunker = covekit.Chunker(covekit.get_tokenizer("cl100k_base"), max_tokens=16)
>>> text = ("# Billing\\n\\nRefunds take 5 days. Mr. Lee approves them.\\n\\n"
...         "## Disputes\\n\\nCall us.")
>>> for c in chunker.chunk(text, doc_id="kb/billing.md"):
...     print(c.index, c.token_count, c.heading_path, repr(c.text))
0 16 ('Billing',) '# Billing\\n\\nRefunds take 5 days. Mr. Lee approves them.'
1 8 ('Billing', 'Disputes') '## Disputes\\n\\nCall us.'

Every chunk's text, encoded alone, has at most ``max_tokens`` tokens, and
``text[c.start:c.end] == c.text`` with Python ``str`` indices. See ``docs/chunking.md``.

Thread safety: a :class:`Chunker` is immutable; :meth:`Chunker.chunk` may be called
from many threads at once and releases the GIL while it works.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from covekit._core import Chunker as _Chunker
from covekit.data.tokenize import Tokenizer, _surrogate_index_map, get_tokenizer
from covekit.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Chunk", "Chunker", "DocumentLike", "Strategy"]

Strategy = Literal["recursive", "token", "sentence", "semantic"]
_STRATEGIES = ("recursive", "token", "sentence", "semantic")
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@runtime_checkable
class DocumentLike(Protocol):
    """Anything with the text and identity of a document (``covekit.Document`` is one).

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Doc:
    ...     text: str
    ...     id: str = "d"
    ...     metadata: dict = None
    ...     acl: tuple = ()
    >>> isinstance(Doc("hi"), DocumentLike)
    True
    """

    @property
    def text(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def metadata(self) -> Mapping[str, Any] | None: ...
    @property
    def acl(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk of a document.

    ``text == document_text[start:end]`` (Python ``str`` indices); ``token_count`` is
    the number of tokens of ``text`` encoded alone (special-token text counts as
    ordinary text); ``id`` is the XXH3-64 of ``doc_id``, a zero byte, ``start`` and
    ``end`` as 8-byte little-endian integers, then ``text`` (UTF-8), so it is stable
    across runs and machines.

    >>> import covekit
    >>> c = covekit.Chunker(covekit.get_tokenizer("cl100k_base")).chunk("Hello.", doc_id="a")[0]
    >>> c.text, c.start, c.end, c.token_count, c.index, c.doc_id
    ('Hello.', 0, 6, 2, 0, 'a')
    >>> key = b"a\\x00" + (0).to_bytes(8, "little") + (6).to_bytes(8, "little") + b"Hello."
    >>> c.id == covekit.hash.xxh3_64(key)
    True
    """

    text: str
    start: int
    end: int
    token_count: int
    index: int
    id: int
    doc_id: str = ""
    heading_path: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    acl: tuple[str, ...] = ()


# A document as the chunker sees it: (text, doc_id, metadata, acl).
_Doc = tuple[str, str, Mapping[str, Any], tuple[str, ...]]
_Raw = tuple[Any, Any, Any, Any, Any, list[tuple[str, ...]]]


def _as_doc(
    document: object, doc_id: str | None, metadata: Mapping[str, Any] | None, acl: Iterable[str]
) -> _Doc:
    if isinstance(document, str):
        text = document
        did, meta, principals = doc_id or "", metadata, tuple(acl)
    elif hasattr(document, "text"):
        text = document.text
        if not isinstance(text, str):
            raise InvalidInput(f"a document's text must be a str, not {type(text).__name__}")
        did = doc_id if doc_id is not None else str(getattr(document, "id", "") or "")
        meta = metadata if metadata is not None else getattr(document, "metadata", None)
        given = tuple(acl)
        principals = given if given else tuple(getattr(document, "acl", ()) or ())
    else:
        raise TypeError(
            "a document must be a str or have a .text attribute (covekit.Document), not "
            f"{type(document).__name__}"
        )
    if meta is None:
        meta = _EMPTY
    elif not isinstance(meta, MappingProxyType):
        meta = MappingProxyType(dict(meta))
    return text, did, meta, principals


class Chunker:
    """Splits documents into chunks of at most ``max_tokens`` tokens each.

    Strategies: ``"recursive"`` (default: markdown sections, code blocks, lists, tables,
    paragraphs, then sentences, words, tokens), ``"token"`` (windows of ``max_tokens``
    tokens), ``"sentence"`` (whole sentences packed; overlap in ``overlap_sentences``)
    and ``"semantic"`` (sentences grouped where an ``embedder`` sees the topic stay).

    >>> import covekit
    >>> tok = covekit.get_tokenizer("cl100k_base")
    >>> chunker = covekit.Chunker(tok, max_tokens=4, strategy="token")
    >>> [c.text for c in chunker.chunk("one two three four five six")]
    ['one two three four', ' five six']

    Errors: :class:`~covekit.errors.InvalidInput` (a ``ValueError``) for impossible
    settings (``max_tokens < 1``, ``overlap_tokens >= max_tokens``, an unknown strategy,
    ``"semantic"`` without an embedder...) and for a character that needs more than
    ``max_tokens`` tokens on its own (only possible with ``max_tokens < 4``).

    Thread safety: immutable; every method may be called from many threads at once.
    """

    __slots__ = (
        "_embedder",
        "_impl",
        "_percentile",
        "_threshold",
        "_tokenizer",
        "buffer_size",
    )

    def __init__(
        self,
        tokenizer: Tokenizer | str,
        max_tokens: int = 512,
        overlap_tokens: int = 0,
        strategy: Strategy = "recursive",
        *,
        overlap_sentences: int = 0,
        embedder: Any = None,
        breakpoint_percentile: float = 95.0,
        breakpoint_threshold: float | None = None,
        buffer_size: int = 1,
        markdown: bool = True,
        overlap: Literal["exact", "boundary"] = "exact",
    ) -> None:
        if isinstance(tokenizer, str):
            tokenizer = get_tokenizer(tokenizer)
        if not isinstance(tokenizer, Tokenizer):
            raise TypeError(
                f"tokenizer must be a covekit.Tokenizer or an encoding name, not "
                f"{type(tokenizer).__name__}"
            )
        for name, value, low in (
            ("max_tokens", max_tokens, 1),
            ("overlap_tokens", overlap_tokens, 0),
            ("overlap_sentences", overlap_sentences, 0),
            ("buffer_size", buffer_size, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput(f"{name} must be an int, got {value!r}")
            if value < low:
                raise InvalidInput(f"{name} must be at least {low}, got {value}")
        if strategy not in _STRATEGIES:
            raise InvalidInput(
                f"unknown chunking strategy {strategy!r}; choose one of 'recursive' (the "
                "default), 'token', 'sentence' or 'semantic'"
            )
        if strategy == "semantic":
            if embedder is None:
                raise InvalidInput(
                    "strategy='semantic' needs an embedder: pass embedder=f where f(list of "
                    "str) returns a 2-D array of embeddings (or an object with .embed/.encode)"
                )
            if breakpoint_threshold is None and not 0.0 <= breakpoint_percentile <= 100.0:
                raise InvalidInput(
                    f"breakpoint_percentile must be in [0, 100], got {breakpoint_percentile}"
                )
            if breakpoint_threshold is not None and not -1.0 <= breakpoint_threshold <= 1.0:
                raise InvalidInput(
                    "breakpoint_threshold is a cosine similarity in [-1, 1], got "
                    f"{breakpoint_threshold}"
                )
        elif embedder is not None:
            raise InvalidInput(
                f"embedder is used by strategy='semantic' only, not {strategy!r}; "
                "pass strategy='semantic' or drop the embedder"
            )
        self._tokenizer = tokenizer
        self._impl = _Chunker(
            tokenizer._impl,
            max_tokens,
            overlap_tokens,
            strategy,
            overlap_sentences,
            markdown,
            overlap,
            Chunk,
        )
        self._embedder = embedder
        self._percentile = float(breakpoint_percentile)
        self._threshold = breakpoint_threshold
        self.buffer_size = buffer_size

    def __repr__(self) -> str:
        return (
            f"<covekit.Chunker {self.strategy!r} tokenizer={self._tokenizer.name!r} "
            f"max_tokens={self.max_tokens} overlap_tokens={self.overlap_tokens}>"
        )

    @property
    def tokenizer(self) -> Tokenizer:
        """The tokenizer that counts tokens."""
        return self._tokenizer

    @property
    def max_tokens(self) -> int:
        """The most tokens any chunk has, counted on its own text."""
        return int(self._impl.max_tokens)

    @property
    def overlap_tokens(self) -> int:
        """Document tokens each chunk repeats from its predecessor."""
        return int(self._impl.overlap_tokens)

    @property
    def overlap_sentences(self) -> int:
        """Sentences each chunk repeats from its predecessor (sentence strategy)."""
        return int(self._impl.overlap_sentences)

    @property
    def overlap(self) -> Literal["exact", "boundary"]:
        """Where an overlap starts: ``"exact"`` (exactly ``overlap_tokens`` document
        tokens back) or ``"boundary"`` (at the strongest boundary within them)."""
        return self._impl.overlap  # type: ignore[return-value]

    @property
    def strategy(self) -> Strategy:
        """``"recursive"``, ``"token"``, ``"sentence"`` or ``"semantic"``."""
        return self._impl.strategy  # type: ignore[return-value]

    # ------------------------------------------------------------------ semantic
    def _embed(self, texts: list[str]) -> npt.NDArray[np.float64]:
        import numpy as np

        e = self._embedder
        if callable(e):
            out = e(texts)
        elif hasattr(e, "embed"):
            out = e.embed(texts)
        elif hasattr(e, "encode"):
            out = e.encode(texts)
        else:
            raise InvalidInput("embedder must be callable or have an .embed or .encode method")
        arr = np.asarray(out, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] != len(texts):
            raise InvalidInput(
                f"the embedder returned an array of shape {arr.shape} for {len(texts)} texts; "
                "it must return one row per text (shape (n, dim))"
            )
        return arr

    def _breaks(self, text: str) -> list[int] | None:
        """Character offsets where the semantic strategy must break (sentence ends)."""
        if self.strategy != "semantic":
            return None
        import numpy as np

        starts, ends = self._impl.sentence_spans(text)
        n = len(starts)
        if n < 2:
            return []
        b = self.buffer_size
        groups = [text[starts[max(0, i - b)] : ends[min(n - 1, i + b)]] for i in range(n)]
        emb = self._embed(groups)
        norms = np.linalg.norm(emb, axis=1)
        norms[norms == 0] = 1.0
        unit = emb / norms[:, None]
        similarity = np.sum(unit[:-1] * unit[1:], axis=1)  # between sentence i and i + 1
        if self._threshold is not None:
            cut = similarity < self._threshold
        else:
            distance = 1.0 - similarity
            cut = distance > np.percentile(distance, self._percentile)
        return [int(ends[i]) for i in np.nonzero(cut)[0]]

    # ------------------------------------------------------------------ chunking
    def _build(self, doc: _Doc, raw: _Raw, index_map: list[int] | None) -> list[Chunk]:
        text, did, meta, acl = doc
        starts, ends, counts, ids, path_index, paths = raw
        s_list = starts.tolist()
        e_list = ends.tolist()
        if index_map is not None:
            s_list = [index_map[s] for s in s_list]
            e_list = [index_map[e] for e in e_list]
        return [
            Chunk(text[s:e], s, e, n, i, h, did, paths[p], meta, acl)
            for i, (s, e, n, h, p) in enumerate(
                zip(s_list, e_list, counts.tolist(), ids.tolist(), path_index.tolist(), strict=True)
            )
        ]

    def _run(self, doc: _Doc) -> tuple[_Raw, list[int] | None]:
        text = doc[0]
        index_map = _surrogate_index_map(text)
        breaks = self._breaks(text if index_map is None else _repaired(text))
        return self._impl.chunk(text, doc[1], breaks), index_map

    def chunk(
        self,
        document: str | DocumentLike,
        *,
        doc_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        acl: Iterable[str] = (),
    ) -> list[Chunk]:
        """The chunks of one document (a ``str`` or an object with ``.text``), in order.

        ``doc_id``, ``metadata`` and ``acl`` default to the document's own attributes and
        are copied onto every chunk.

        >>> import covekit
        >>> chunker = covekit.Chunker("cl100k_base", max_tokens=8)
        >>> [c.text for c in chunker.chunk("First sentence here. Second one follows. Third.")]
        ['First sentence here. Second one follows.', 'Third.']
        """
        doc = _as_doc(document, doc_id, metadata, acl)
        if self._embedder is None:
            # The native core builds the Chunk objects (None: text with lone surrogates).
            chunks = self._impl.chunk_objects(*doc)
            if chunks is not None:
                return chunks
        raw, index_map = self._run(doc)
        return self._build(doc, raw, index_map)

    def chunk_batch(
        self,
        documents: Iterable[str | DocumentLike],
        *,
        num_threads: int = 0,
        as_columns: bool = False,
    ) -> Any:
        """Chunks many documents on ``num_threads`` threads (0: one per CPU), in input order.

        Returns a list with the chunks of each document, or with ``as_columns=True`` one
        dict of columns over all chunks: ``doc_index``, ``index``, ``start``, ``end``,
        ``token_count`` (int64 arrays), ``id`` (uint64 array), and lists ``doc_id``,
        ``text``, ``heading_path``, ``metadata``, ``acl``.

        >>> import covekit
        >>> chunker = covekit.Chunker("cl100k_base", max_tokens=8)
        >>> [[c.text for c in cs] for cs in chunker.chunk_batch(["One. Two.", "Three."])]
        [['One. Two.'], ['Three.']]
        >>> cols = chunker.chunk_batch(["One. Two.", "Three."], as_columns=True)
        >>> cols["text"], cols["doc_index"].tolist(), cols["token_count"].tolist()
        (['One. Two.', 'Three.'], [0, 1], [4, 2])
        """
        import os

        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 0:
            raise InvalidInput(f"num_threads must be an int >= 0, got {num_threads!r}")
        docs = [_as_doc(d, None, None, ()) for d in documents]
        threads = num_threads or (os.cpu_count() or 1)
        if threads == 1 or len(docs) < 2:
            return self._work(docs, 0, as_columns)
        # Contiguous slices of about equal text length, handed out largest first. Each
        # worker also builds its slice's Python results: that part holds the GIL, but it
        # overlaps with the other workers' native (GIL-free) chunking instead of running
        # alone after them.
        slices = _slices_by_length(docs, min(threads * 8, len(docs)))
        bases = [0]
        for sl in slices[:-1]:
            bases.append(bases[-1] + len(sl))
        order = sorted(range(len(slices)), key=lambda i: -sum(len(d[0]) for d in slices[i]))
        parts: list[Any] = [None] * len(slices)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = {pool.submit(self._work, slices[i], bases[i], as_columns): i for i in order}
            try:
                for future, i in futures.items():
                    parts[i] = future.result()
            except BaseException:
                # Ctrl-C (KeyboardInterrupt) or an error: slices not started are dropped
                # instead of run to the end of the batch.
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        if as_columns:
            return _concat_columns(parts)
        return [chunks for part in parts for chunks in part]

    def _work(self, docs: list[_Doc], base: int, as_columns: bool) -> Any:
        if not as_columns and self._embedder is None:
            columns = [list(c) for c in zip(*docs, strict=True)] if docs else [[], [], [], []]
            chunks = self._impl.chunk_many_objects(*columns)
            if chunks is not None:
                return chunks
        raws = self._run_many(docs)
        if as_columns:
            return self._columns(docs, raws, base)
        return [self._build(doc, raw, imap) for doc, (raw, imap) in zip(docs, raws, strict=True)]

    def _run_many(self, docs: list[_Doc]) -> list[tuple[_Raw, list[int] | None]]:
        if self.strategy == "semantic" or any(_surrogate_index_map(d[0]) for d in docs):
            return [self._run(d) for d in docs]
        raws = self._impl.chunk_many([d[0] for d in docs], [d[1] for d in docs])
        return [(raw, None) for raw in raws]

    def _columns(
        self, docs: list[_Doc], raws: list[tuple[_Raw, list[int] | None]], base: int = 0
    ) -> dict[str, Any]:
        import numpy as np

        cols: dict[str, Any] = {
            k: [] for k in ("doc_id", "text", "heading_path", "metadata", "acl")
        }
        arrays: dict[str, list[Any]] = {
            k: [] for k in ("doc_index", "index", "start", "end", "token_count", "id")
        }
        for d, (doc, (raw, imap)) in enumerate(zip(docs, raws, strict=True)):
            text, did, meta, acl = doc
            starts, ends, counts, ids, path_index, paths = raw
            if imap is not None:
                starts = np.asarray([imap[s] for s in starts.tolist()], dtype=np.int64)
                ends = np.asarray([imap[e] for e in ends.tolist()], dtype=np.int64)
            n = len(starts)
            arrays["doc_index"].append(np.full(n, base + d, dtype=np.int64))
            arrays["index"].append(np.arange(n, dtype=np.int64))
            arrays["start"].append(starts)
            arrays["end"].append(ends)
            arrays["token_count"].append(counts)
            arrays["id"].append(ids)
            cols["doc_id"].extend([did] * n)
            cols["text"].extend(
                text[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
            )
            cols["heading_path"].extend(paths[p] for p in path_index.tolist())
            cols["metadata"].extend([meta] * n)
            cols["acl"].extend([acl] * n)
        for k, parts in arrays.items():
            dtype = np.uint64 if k == "id" else np.int64
            cols[k] = (
                np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)
            )
        return cols


def _concat_columns(parts: list[dict[str, Any]]) -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {}
    for k, v in parts[0].items():
        if isinstance(v, np.ndarray):
            out[k] = np.concatenate([p[k] for p in parts])
        else:
            out[k] = [x for p in parts for x in p[k]]
    return out


def _slices_by_length(docs: list[_Doc], parts: int) -> list[list[_Doc]]:
    target = (sum(len(d[0]) for d in docs) or 1) / parts
    slices: list[list[_Doc]] = []
    current: list[_Doc] = []
    acc = 0
    for d in docs:
        current.append(d)
        acc += len(d[0])
        if acc >= target and len(slices) < parts - 1:
            slices.append(current)
            current, acc = [], 0
    if current:
        slices.append(current)
    return slices


def _repaired(text: str) -> str:
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
