"""Keyword search: a BM25 index in C++ with Lucene's scoring and English analysis.

>>> import covekit
>>> index = covekit.BM25Index()
>>> index.add([1, 2, 3], ["Refunds take five days.", "Shipping is free.", "Refund policy"])
>>> ids, scores = index.search(["refund"], k=2)
>>> ids.tolist()
[[3, 1]]
>>> scores.dtype, scores.shape
(dtype('float32'), (1, 2))

Scoring is Lucene's BM25 (what Pyserini's baselines use): for each distinct query term
with ``qtf`` repeats, ``qtf * idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))`` with
``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``; ``N`` counts live documents with at least
one term. Ties rank by insertion order. See ``docs/retrieval-bm25.md``.

Thread safety: :meth:`BM25Index.search` may run from many threads at once and releases
the GIL; ``add``, ``delete`` and ``compact`` take a writer lock, so they are safe
alongside searches (a search sees the index before or after a whole call).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from covekit._core import Analyzer as _Analyzer
from covekit._core import BM25Index as _BM25Index
from covekit._core import english_stopwords as _english_stopwords
from covekit.data.filters import Filter
from covekit.errors import InvalidInput

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["MISSING_ID", "Analyzer", "BM25Index"]

#: The id of an empty result slot (fewer than ``k`` documents matched): 2**64 - 1.
MISSING_ID = np.iinfo(np.uint64).max


class Analyzer:
    """Turns text into index terms; by default as Lucene's ``EnglishAnalyzer``.

    Steps: words are runs of letters, digits and marks (``\\p{L} \\p{N} \\p{M}``), kept
    together across ``' . :`` between letters ("don't", "e.g") and ``, . ;`` between
    digits ("3.14", "1,000"); CJK runs (Han, Hiragana, Katakana, Hangul) give character
    bigrams; with ``stem="porter"`` a trailing ``'s`` is dropped; then Unicode simple
    lowercase, stopword removal and the Porter stemmer (Lucene's ``PorterStemFilter``).

    Args:
        stem: ``"porter"`` (Porter's original algorithm, as Lucene) or None.
        stopwords: ``"english"`` (Lucene's 33-word English stop set), None for none, or
            your own words (matched after lowercasing).
        cjk_bigrams: CJK runs as overlapping character bigrams (True) or single characters.
        lowercase: apply the Unicode simple lowercase mapping.

    >>> Analyzer().analyze("The runners' shoes were running, e.g. in 東京都")
    ['runner', 'shoe', 'were', 'run', 'e.g', '東京', '京都']
    >>> Analyzer(stem=None, stopwords=None).analyze("The Runners")
    ['the', 'runners']

    Thread safety: immutable; ``analyze`` may run from many threads at once.
    """

    __slots__ = ("_impl",)

    def __init__(
        self,
        *,
        stem: Literal["porter"] | None = "porter",
        stopwords: Literal["english"] | Iterable[str] | None = "english",
        cjk_bigrams: bool = True,
        lowercase: bool = True,
    ) -> None:
        if stem not in ("porter", None):
            raise InvalidInput(f"stem must be 'porter' or None, got {stem!r}")
        if stopwords is None:
            words: list[str] = []
        elif isinstance(stopwords, str):
            if stopwords != "english":
                raise InvalidInput(
                    f"stopwords must be 'english', None or an iterable of words, got {stopwords!r}"
                )
            words = list(_english_stopwords())
        else:
            words = list(stopwords)
            for w in words:
                if not isinstance(w, str) or not w:
                    raise InvalidInput(f"each stopword must be a non-empty str, got {w!r}")
        self._impl = _Analyzer(
            lowercase=bool(lowercase),
            stemmer=stem or "none",
            cjk_bigrams=bool(cjk_bigrams),
            stopwords=words,
        )

    @classmethod
    def _wrap(cls, impl: _Analyzer) -> Analyzer:
        self = cls.__new__(cls)
        self._impl = impl
        return self

    def analyze(self, text: str) -> list[str]:
        """The terms of ``text``, in order, repeats kept.

        >>> Analyzer().analyze("Cats and dogs")
        ['cat', 'dog']
        """
        return self._impl.analyze(text)

    @property
    def stem(self) -> Literal["porter"] | None:
        """``"porter"`` or None."""
        return "porter" if self._impl.stemmer == "porter" else None

    @property
    def stopwords(self) -> tuple[str, ...]:
        """The stopwords, as given."""
        return tuple(self._impl.stopwords)

    @property
    def cjk_bigrams(self) -> bool:
        """Whether CJK runs give bigrams."""
        return self._impl.cjk_bigrams

    @property
    def lowercase(self) -> bool:
        """Whether terms are lowercased."""
        return self._impl.lowercase

    def __repr__(self) -> str:
        english = sorted(self._impl.stopwords) == sorted(_english_stopwords())
        stop = "'english'" if english else f"<{len(self._impl.stopwords)} words>"
        if not self._impl.stopwords:
            stop = "None"
        return (
            f"Analyzer(stem={self.stem!r}, stopwords={stop}, "
            f"cjk_bigrams={self.cjk_bigrams}, lowercase={self.lowercase})"
        )


def _as_ids(ids: Any, what: str = "ids") -> npt.NDArray[np.uint64]:
    """uint64 ids without a copy when given a C-contiguous uint64 array; else converted."""
    if isinstance(ids, np.ndarray):
        if ids.dtype == np.uint64:
            if ids.ndim != 1:
                raise InvalidInput(f"{what} must be 1-D, got shape {ids.shape}")
            return np.ascontiguousarray(ids)
        if ids.dtype.kind not in "iu":
            raise InvalidInput(f"{what} must be integers (uint64), got dtype {ids.dtype}")
        if ids.size and ids.min() < 0:
            raise InvalidInput(f"{what} must be in [0, 2**64), got {ids.min()}")
        return np.ascontiguousarray(ids, dtype=np.uint64).reshape(-1)
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(
            f"{what} must be a sequence of ints or a numpy array, not {type(ids).__name__}"
        )
    out = []
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise InvalidInput(f"{what} must be ints in [0, 2**64), got {i!r}")
        if not 0 <= int(i) < 2**64:
            raise InvalidInput(f"{what} must be in [0, 2**64), got {int(i)}")
        out.append(int(i))
    return np.array(out, dtype=np.uint64)


class BM25Index:
    """A BM25 keyword index with 64-bit ids (e.g. ``covekit.Chunk.id``).

    Args:
        k1: term frequency saturation (Pyserini's default 0.9), >= 0.
        b: length normalization (Pyserini's default 0.4), in [0, 1].
        analyzer: how texts and queries become terms (default: Lucene's English).

    >>> index = BM25Index(k1=1.2, b=0.75)
    >>> index.add([10, 20], ["a cat sat", "dogs bark"])
    >>> len(index), index
    (2, <covekit.BM25Index size=2 terms=4 k1=1.2 b=0.75>)

    Thread safety: ``search`` is safe from many threads at once and alongside ``add``,
    ``delete`` and ``compact`` (writers take a lock; a search never sees half a call).
    """

    __slots__ = ("_impl",)

    def __init__(
        self, *, k1: float = 0.9, b: float = 0.4, analyzer: Analyzer | None = None
    ) -> None:
        if analyzer is None:
            analyzer = Analyzer()
        if not isinstance(analyzer, Analyzer):
            raise TypeError(f"analyzer must be a covekit.Analyzer, not {type(analyzer).__name__}")
        self._impl = _BM25Index(k1=float(k1), b=float(b), analyzer=analyzer._impl)

    @classmethod
    def _wrap(cls, impl: _BM25Index) -> BM25Index:
        self = cls.__new__(cls)
        self._impl = impl
        return self

    def add(
        self,
        ids: Sequence[int] | npt.NDArray[np.integer[Any]],
        texts: Sequence[str],
        attributes: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Adds (or replaces) documents. GIL released while analyzing and indexing.

        ``ids`` as a C-contiguous uint64 array is used without a copy; other integer
        arrays and lists are converted (a copy). An id already in the index replaces
        that document. On an error nothing is added. ``attributes``, one dict per id
        (``{"acl": [...], "tags": [...], "fields": {...}}``, as for
        :class:`~covekit.VectorIndex`), are what :meth:`search`'s ``filter`` sees; a
        document added without them matches no ``acl_any``.

        >>> index = BM25Index()
        >>> index.add([1], ["old text"]); index.add([1], ["new text"]); len(index)
        1
        """
        arr = _as_ids(ids)
        if isinstance(texts, str):
            raise TypeError("texts must be a list of str, not a single str; wrap it in a list")
        texts = list(texts)
        if len(arr) != len(texts):
            raise InvalidInput(
                "ids and texts must have the same length, "
                f"got {len(arr)} ids and {len(texts)} texts"
            )
        if isinstance(attributes, Mapping):
            raise InvalidInput("attributes must be a list with one dict per id, not one dict")
        self._impl.add(arr, texts, None if attributes is None else list(attributes))

    def set_attributes(
        self,
        ids: Sequence[int] | npt.NDArray[np.integer[Any]],
        attributes: Sequence[Mapping[str, Any]],
    ) -> None:
        """Replaces the attributes of documents in the index (an ACL change, say).

        >>> index = BM25Index()
        >>> index.add([1], ["text"], [{"acl": ["user:1"]}])
        >>> index.set_attributes([1], [{"acl": ["user:2"]}])
        >>> index.attributes(1)["acl"]
        ['user:2']
        """
        if isinstance(attributes, Mapping):
            raise InvalidInput("attributes must be a list with one dict per id, not one dict")
        self._impl.set_attributes(_as_ids(ids), list(attributes))

    def attributes(self, id: int) -> dict[str, Any]:
        """The attributes of a document: ``{"acl": [...], "tags": [...], "fields": {...}}``.

        >>> index = BM25Index()
        >>> index.add([3], ["text"], [{"tags": ["faq"], "fields": {"lang": "en"}}])
        >>> index.attributes(3)
        {'acl': [], 'tags': ['faq'], 'fields': {'lang': 'en'}}
        """
        return self._impl.attributes(int(id))

    def delete(self, ids: Sequence[int] | npt.NDArray[np.integer[Any]]) -> int:
        """Deletes documents; returns how many were in the index (unknown ids are ignored).

        Statistics (N, df, avgdl) change at once; the postings of deleted documents are
        skipped until :meth:`compact` drops them.

        >>> index = BM25Index()
        >>> index.add([1, 2], ["a b", "c d"])
        >>> index.delete([2, 3]), len(index)
        (1, 1)
        """
        return int(self._impl.remove(_as_ids(ids)))

    def compact(self) -> None:
        """Drops deleted documents from the postings (frees memory; results unchanged).

        >>> index = BM25Index()
        >>> index.add([1, 2], ["a b", "c d"]); _ = index.delete([1]); index.compact()
        >>> index.search(["c"], k=1)[0].tolist()
        [[2]]
        """
        self._impl.compact()

    def search(
        self,
        queries: Sequence[str],
        k: int = 10,
        *,
        num_threads: int = 1,
        strategy: Literal["auto", "maxscore", "exhaustive"] = "auto",
        filter: Filter | None = None,
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32]]:
        """Top ``k`` documents per query: ``(ids, scores)``, each of shape ``(len(queries), k)``.

        Rows are best first; a slot with no document holds id :data:`MISSING_ID`
        (2**64 - 1) and score ``-inf``. A document is a hit when it holds at least one
        query term. ``num_threads`` > 1 spreads the queries over threads (0: one per
        core); the GIL is released either way. ``filter`` (a :class:`~covekit.Filter`)
        is applied inside the search: a document it rejects is never scored.

        ``strategy`` changes the speed, never the results: ``"maxscore"`` walks the
        postings document-at-a-time and skips documents that cannot reach the top ``k``
        (for long queries over large indexes); ``"exhaustive"`` adds every posting into a
        dense accumulator (for small indexes or few postings); ``"auto"`` picks the
        second for indexes of at most 65,536 documents, or when a query reads at most
        65,536 postings and the index holds at most 8x as many documents; else the first.

        >>> index = BM25Index()
        >>> index.add([7], ["hello world"])
        >>> ids, scores = index.search(["hello", "nothing"], k=2)
        >>> ids[0, 0], ids[1, 0] == MISSING_ID, float(scores[1, 0])
        (np.uint64(7), np.True_, -inf)
        """
        if isinstance(queries, str):
            raise TypeError("queries must be a list of str, not a single str; wrap it in a list")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= 2**31:
            raise InvalidInput(f"k must be an int in [0, 2**31], got {k!r}")
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 0:
            raise InvalidInput(f"num_threads must be an int >= 0, got {num_threads!r}")
        if strategy not in ("auto", "maxscore", "exhaustive"):
            raise InvalidInput(
                f"strategy must be 'auto', 'maxscore' or 'exhaustive', got {strategy!r}"
            )
        if filter is not None and not isinstance(filter, Filter):
            raise TypeError(
                f"filter must be a covekit.Filter, not {type(filter).__name__} "
                "(build one with Filter.from_dict(...))"
            )
        native = None if filter is None else filter._native
        return self._impl.search(
            list(queries), int(k), num_threads, strategy=strategy, filter=native
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the index atomically: a temp file beside ``path``, fsync, rename.

        A crash mid-save leaves the previous file intact. The file holds a header
        (magic, format version, k1, b, analyzer settings) and ends with an XXH3-64
        checksum.

        >>> import tempfile, pathlib
        >>> index = BM25Index(); index.add([1], ["saved text"])
        >>> with tempfile.TemporaryDirectory() as d:
        ...     index.save(pathlib.Path(d) / "kb.bm25")
        ...     BM25Index.load(pathlib.Path(d) / "kb.bm25").search(["text"], k=1)[0].tolist()
        [[1]]
        """
        self._impl.save(os.fspath(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BM25Index:
        """Reads a file written by :meth:`save` (settings and analyzer included).

        Raises ``FileNotFoundError`` when there is no file, and
        :class:`covekit.errors.IndexFileCorrupt` when it is not an index, is cut short,
        fails its checksum or has an unknown format version.
        """
        p = os.fspath(path)
        if not os.path.isfile(p):
            raise FileNotFoundError(f"no BM25 index file at {p!r}")
        return cls._wrap(_BM25Index.load(p))

    def __len__(self) -> int:
        return len(self._impl)

    def __contains__(self, id: object) -> bool:
        if (
            isinstance(id, bool)
            or not isinstance(id, (int, np.integer))
            or not 0 <= int(id) < 2**64
        ):
            return False
        return bool(self._impl.contains(int(id)))

    @property
    def k1(self) -> float:
        """BM25 k1."""
        return self._impl.k1

    @property
    def b(self) -> float:
        """BM25 b."""
        return self._impl.b

    @property
    def analyzer(self) -> Analyzer:
        """The analyzer of texts and queries."""
        return Analyzer._wrap(self._impl.analyzer)

    @property
    def num_terms(self) -> int:
        """Distinct terms in live documents."""
        return self._impl.num_terms

    def __repr__(self) -> str:
        return (
            f"<covekit.BM25Index size={len(self)} terms={self.num_terms} "
            f"k1={self.k1:g} b={self.b:g}>"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_from_bytes, (self._impl.to_bytes(),))


def _from_bytes(data: bytes) -> BM25Index:
    return BM25Index._wrap(_BM25Index.from_bytes(data))
