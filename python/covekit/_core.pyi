"""Type stubs of covekit's native module (hand-maintained; checked by mypy.stubtest).

The module is private: use the wrappers in :mod:`covekit`.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

class CovekitError(Exception):
    """Base class of every error covekit raises."""

class InvalidInput(CovekitError, ValueError):
    """A bad argument; the message says what to pass instead."""

class InvalidUtf8(InvalidInput):
    """Bytes that are not valid UTF-8 where text is required."""

class TokenizerError(CovekitError):
    """Base class of tokenizer errors."""

class TokenizerFileCorrupt(TokenizerError, ValueError):
    """A vocabulary file that is malformed, truncated or fails its checksum."""

class DisallowedSpecialToken(TokenizerError, ValueError):
    """The text holds a special token's text that the call did not allow."""

class IndexFileCorrupt(CovekitError, ValueError):
    """An index file that is not one, is cut short, fails its checksum or has an unknown version."""

class RepairError(CovekitError, ValueError):
    """Malformed JSON that cannot be repaired without guessing data (or, in strict mode, only with
    a repair that is not lossless); .problems lists (kind, start, end, message)."""

    problems: Sequence[tuple[str, int, int, str]]

class InvalidTokenId(TokenizerError, KeyError, ValueError):
    """A token id that is not in the vocabulary (a KeyError too, as in tiktoken)."""

class EmbeddingError(CovekitError):
    """Base class of embedding errors."""

class EmbedderStateCorrupt(EmbeddingError, ValueError):
    """A saved embedder state that is truncated, altered or of another format."""

class InvalidJSON(InvalidInput):
    """JSON text that does not parse; offset, line and column say where (None when unknown)."""

    offset: int | None
    line: int | None
    column: int | None

class SchemaError(CovekitError, ValueError):
    """A JSON Schema that does not compile; pointer is the JSON Pointer of the fault in it."""

    pointer: str

def xxh3_64(data: Any, seed: int = 0) -> int:
    """XXH3-64 of bytes (a str is hashed as its UTF-8)."""

def xxh3_128(data: Any, seed: int = 0) -> int:
    """XXH3-128 of bytes (a str is hashed as its UTF-8), as a 128-bit int."""

def xxh3_64_batch(items: Iterable[Any], seed: int = 0) -> npt.NDArray[np.uint64]:
    """XXH3-64 of each item, as a numpy uint64 array."""

def parse_tiktoken_bpe(data: bytes) -> dict[bytes, int]:
    """Parses the contents of a .tiktoken file into {token bytes: rank}."""

def pretokenize(text: str | bytes, pattern: str) -> list[str]:
    """Splits text into the pieces that BPE encodes, as tiktoken's regex for `pattern` does."""

class SpecialPolicy:
    """What encode does with special-token text (see Tokenizer.policy)."""

    @property
    def any_allowed(self) -> bool: ...
    @property
    def any_disallowed(self) -> bool: ...

class Scratch:
    """Memos of one thread's batches for one tokenizer (Tokenizer.make_scratch).

    Used by one thread at a time: a call from a second thread while one is running
    raises InvalidInput, as does passing it to another tokenizer.
    """

class Tokenizer:
    """Byte-level BPE tokenizer (native core of covekit.Tokenizer)."""

    @staticmethod
    def from_tiktoken_data(
        data: bytes, special_tokens: Mapping[str, int] | None, pattern: str, name: str
    ) -> Tokenizer: ...
    @staticmethod
    def from_ranks(
        mergeable_ranks: dict[bytes, int],
        special_tokens: Mapping[str, int] | None,
        pattern: str,
        name: str,
    ) -> Tokenizer: ...
    @property
    def name(self) -> str: ...
    @property
    def pattern(self) -> str: ...
    @property
    def max_token_value(self) -> int: ...
    @property
    def mergeable_count(self) -> int: ...
    @property
    def memory_bytes(self) -> int: ...
    @property
    def special_tokens(self) -> dict[str, int]: ...
    def policy(self, allowed_special: object, disallowed_special: object) -> SpecialPolicy: ...
    def encode(
        self, text: str | bytes, policy: SpecialPolicy | None = None, as_numpy: bool = False
    ) -> Any: ...
    def count(self, text: str | bytes, policy: SpecialPolicy | None = None) -> int: ...
    def make_scratch(self, size_hint: int = 0) -> Scratch:
        """Memos for one thread's batches (for encode_many/count_many), tied to this tokenizer."""
    def encode_many(
        self,
        texts: Iterable[str | bytes],
        policy: SpecialPolicy | None = None,
        as_numpy: bool = False,
        scratch: Scratch | None = None,
        num_threads: int = 1,
    ) -> list[Any]: ...
    def count_many(
        self,
        texts: Iterable[str | bytes],
        policy: SpecialPolicy | None = None,
        scratch: Scratch | None = None,
        num_threads: int = 1,
    ) -> npt.NDArray[np.int64]: ...
    def encode_with_offsets(
        self, text: str | bytes, policy: SpecialPolicy, as_numpy: bool = False
    ) -> tuple[Any, Any]: ...
    def truncate(self, text: str | bytes, max_tokens: int, policy: SpecialPolicy) -> int:
        """Number of characters of the longest prefix that fits in max_tokens."""
    def decode_bytes(self, tokens: Any) -> bytes: ...
    def decode(self, tokens: Any, errors: str = "replace") -> str: ...
    def decode_batch_bytes(self, batch: Iterable[Any]) -> list[bytes]: ...
    def token_bytes(self, token: int) -> bytes: ...
    def tokens_bytes(self, tokens: Any) -> list[bytes]:
        """The bytes of each token."""
    def lookup(self, data: bytes) -> int | None:
        """Rank of exactly these bytes as one mergeable token, or None."""
    def encode_piece(self, piece: bytes) -> list[int]:
        """BPE of one pre-tokenized piece (bytes), without splitting."""
    def is_token(self, token: int) -> bool: ...
    def is_special(self, token: int) -> bool: ...
    def mergeable_ranks(self) -> dict[bytes, int]: ...

class Chunker:
    """Token-exact chunker (native core of covekit.Chunker)."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        max_tokens: int,
        overlap_tokens: int,
        strategy: str,
        overlap_sentences: int,
        markdown: bool,
        overlap: str = "exact",
        chunk_type: type | None = None,
    ) -> None: ...
    @property
    def max_tokens(self) -> int: ...
    @property
    def overlap_tokens(self) -> int: ...
    @property
    def overlap_sentences(self) -> int: ...
    @property
    def strategy(self) -> str: ...
    @property
    def markdown(self) -> bool: ...
    @property
    def overlap(self) -> str: ...
    def chunk(
        self, text: str | bytes, doc_id: str = "", breaks: Any = None
    ) -> tuple[
        npt.NDArray[np.int64],
        npt.NDArray[np.int64],
        npt.NDArray[np.int64],
        npt.NDArray[np.uint64],
        npt.NDArray[np.int64],
        list[tuple[str, ...]],
    ]:
        """Chunks one text: (start, end, token_count, id, heading_path_index, heading_paths)."""
    def chunk_objects(
        self, text: str, doc_id: str, metadata: Any, acl: tuple[str, ...]
    ) -> list[Any] | None:
        """chunk() as a list of chunk_type instances; None for text with lone surrogates."""
    def chunk_many_objects(
        self,
        texts: list[str],
        doc_ids: list[str],
        metadatas: list[Any],
        acls: list[tuple[str, ...]],
    ) -> list[list[Any]] | None:
        """chunk_objects() of many texts, GIL-free; None when one has lone surrogates."""
    def chunk_many(
        self, texts: Iterable[str | bytes], doc_ids: Iterable[str]
    ) -> list[
        tuple[
            npt.NDArray[np.int64],
            npt.NDArray[np.int64],
            npt.NDArray[np.int64],
            npt.NDArray[np.uint64],
            npt.NDArray[np.int64],
            list[tuple[str, ...]],
        ]
    ]:
        """chunk() of many texts in one GIL-free call."""
    def sentence_spans(
        self, text: str | bytes
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Character spans of the sentence units of a text: (starts, ends)."""

class HashingEmbedder:
    """Feature-hashing text embedder (native core of covekit.HashingEmbedder)."""

    def __init__(
        self,
        dim: int,
        word_unigrams: bool,
        word_bigrams: bool,
        char_ngram_min: int,
        char_ngram_max: int,
        lowercase: bool,
        seed: int,
        word_weight: float,
        bigram_weight: float,
        char_weight: float,
    ) -> None: ...
    @property
    def dim(self) -> int: ...
    @property
    def word_unigrams(self) -> bool: ...
    @property
    def word_bigrams(self) -> bool: ...
    @property
    def char_ngram_min(self) -> int: ...
    @property
    def char_ngram_max(self) -> int: ...
    @property
    def lowercase(self) -> bool: ...
    @property
    def seed(self) -> int: ...
    @property
    def word_weight(self) -> float: ...
    @property
    def bigram_weight(self) -> float: ...
    @property
    def char_weight(self) -> float: ...
    @property
    def fitted(self) -> bool: ...
    @property
    def fitted_documents(self) -> int: ...
    @property
    def vocabulary_size(self) -> int: ...
    @property
    def fingerprint(self) -> int: ...
    def embed(self, texts: Iterable[str], num_threads: int = 0) -> npt.NDArray[np.float32]:
        """Vectors of a list of str as a float32 array (len(texts), dim), without the GIL."""
    def fit(self, texts: Iterable[str], num_threads: int = 0, min_df: int = 1) -> None:
        """Fits document frequencies on a list of str (replacing any previous fit)."""
    def clear_fit(self) -> None:
        """Forgets the fit (idf 1 for every feature)."""
    def features(self, text: str) -> list[tuple[str, int, int, float, int]]:
        """The distinct features of a text: (kind, hash, index, weight, count) tuples."""
    def to_bytes(self) -> bytes:
        """The whole state (options and fit) as bytes with a checksum."""
    @staticmethod
    def from_bytes(data: bytes) -> HashingEmbedder:
        """An embedder from to_bytes() output."""
    def __getstate__(self) -> bytes: ...
    def __setstate__(self, state: bytes) -> None: ...

class Analyzer:
    """Text analyzer for keyword search (native core of covekit.Analyzer)."""

    def __init__(
        self, lowercase: bool, stemmer: str, cjk_bigrams: bool, stopwords: list[str]
    ) -> None: ...
    def analyze(self, text: str | bytes) -> list[str]: ...
    @property
    def lowercase(self) -> bool: ...
    @property
    def stemmer(self) -> str: ...
    @property
    def cjk_bigrams(self) -> bool: ...
    @property
    def stopwords(self) -> list[str]: ...

def english_stopwords() -> list[str]:
    """Lucene's English stop set."""

class BM25Index:
    """BM25 keyword index (native core of covekit.BM25Index)."""

    def __init__(self, k1: float, b: float, analyzer: Analyzer) -> None: ...
    def add(self, ids: npt.NDArray[np.uint64], texts: Any, attributes: Any = None) -> None: ...
    def set_attributes(self, ids: npt.NDArray[np.uint64], attributes: Any) -> None: ...
    def attributes(self, id: int) -> dict[str, Any]: ...
    def remove(self, ids: npt.NDArray[np.uint64]) -> int: ...
    def compact(self) -> None: ...
    def search(
        self,
        queries: Any,
        k: int,
        num_threads: int,
        allowed: Any = None,
        strategy: str = "auto",
        filter: Filter | None = None,
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32]]: ...
    def save(self, path: str) -> None: ...
    @staticmethod
    def load(path: str) -> BM25Index: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> BM25Index: ...
    def __len__(self) -> int: ...
    def contains(self, id: int) -> bool: ...
    def internal_id(self, id: int) -> int: ...
    @property
    def internal_capacity(self) -> int: ...
    @property
    def num_terms(self) -> int: ...
    @property
    def k1(self) -> float: ...
    @property
    def b(self) -> float: ...
    @property
    def analyzer(self) -> Analyzer: ...

class Filter:
    """A compiled filter expression (native core of covekit.Filter)."""

    def __init__(self, spec: Any) -> None:
        """Compiles a filter from its dict form; raises InvalidInput when it is malformed."""
    def evaluate(self, attributes: Any) -> list[bool]:
        """Evaluates the filter on a list of attribute dicts: a bool per entry."""

class VectorIndex:
    """HNSW vector index (native core of covekit.VectorIndex)."""

    def __init__(self, dim: int, metric: str, M: int, ef_construction: int, seed: int) -> None: ...
    @property
    def dim(self) -> int: ...
    @property
    def metric(self) -> str: ...
    @property
    def M(self) -> int: ...
    @property
    def ef_construction(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def ef(self) -> int: ...
    @ef.setter
    def ef(self, value: int) -> None: ...
    @property
    def exact_scale(self) -> float: ...
    @exact_scale.setter
    def exact_scale(self, value: float) -> None: ...
    def exact_cutoff(self, k: int, ef: int) -> int: ...
    def __len__(self) -> int: ...
    def contains(self, id: int) -> bool: ...
    def add(
        self,
        ids: npt.NDArray[np.uint64],
        vectors: Any,
        attributes: Any,
        num_threads: int | None,
    ) -> None: ...
    def update(self, ids: npt.NDArray[np.uint64], vectors: Any, attributes: Any) -> None: ...
    def set_attributes(self, ids: npt.NDArray[np.uint64], attributes: Any) -> None: ...
    def delete(self, ids: npt.NDArray[np.uint64], missing_ok: bool) -> int: ...
    def search(
        self,
        queries: Any,
        k: int,
        ef: int,
        filter: Filter | None,
        num_threads: int | None,
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32], dict[str, int]]:
        """(ids (nq, k) uint64, scores (nq, k) float32, plan counts)."""
    def ids(self) -> npt.NDArray[np.uint64]: ...
    def attributes(self, id: int) -> dict[str, Any]: ...
    def vector(self, id: int) -> npt.NDArray[np.float32]: ...
    def vectors(self, ids: npt.NDArray[np.uint64]) -> npt.NDArray[np.float32]: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: Any) -> VectorIndex: ...
    def save(self, path: str) -> None: ...
    @staticmethod
    def load(path: str) -> VectorIndex: ...

class JsonSchema:
    """A compiled JSON Schema (use covekit.Schema)."""

    def __init__(
        self,
        schema_json: str | bytes,
        registry: list[tuple[str, str]] = ...,
        format_assertion: bool = False,
    ) -> None: ...
    def is_valid_json(self, text: str | bytes) -> bool: ...
    def is_valid(self, obj: Any) -> bool: ...

def violation_tuples(log: Any) -> list[tuple[str, str, str | None, str, str]]:
    """A ValidationResult's native violations as [(instance_path, keyword_location,
    absolute_keyword_location, message, keyword), ...]."""

def make_validators(
    result_type: type, unset: Any
) -> tuple[Callable[[JsonSchema, str | bytes, bool], Any], Callable[[JsonSchema, Any, bool], Any]]:
    """(validate_json, validate): builtins that run a JsonSchema and return ValidationResult
    objects (see covekit.Schema)."""

def parse_json(text: str | bytes) -> Any:
    """Parses JSON text into Python objects (simdjson; integers of any size). Raises InvalidJSON."""

def repair_log_tuples(log: Any) -> list[tuple[str, int, int, str, bool]]:
    """The repairs of a Repaired's log as [(kind, start, end, message, lossless), ...]."""

def repair_log_len(log: Any) -> int:
    """How many repairs a Repaired's log holds."""

def make_repairer(
    repaired_type: type, loads: Callable[[str], Any]
) -> Callable[[str | bytes | bytearray | memoryview, bool, str, int], Any]:
    """A fast repair(text, strict, multiple, max_depth) -> Repaired (see covekit.repair_json)."""


def make_packer(
    packing_type: type, section_type: type
) -> Callable[[Any, Any, Any, Any, Any, Any, Any, Any, Any, Any, Any, Any, Any, bool], Any]:
    """The fast pack(tokens, utility, budget, sections, section, groups, group_cap, required,
    flags, min_keep, exact_limit, node_limit, method, strict) -> Packing | None that
    covekit.pack calls (None: arguments for its general path). Raises
    covekit.errors.BudgetExceeded and InvalidInput."""

def pack_timings(
    tokens: Any,
    utility: Any,
    section: Any,
    group: Any,
    flags: Any,
    min_keep: Any,
    sections: Sequence[tuple[int, int, int | None, int, str]],
    budget: int,
    group_cap: int,
    num_groups: int,
    exact_limit: int,
    node_limit: int,
    repeats: int,
) -> npt.NDArray[np.float64]:
    """Benchmark hook: nanoseconds of each of `repeats` native pack calls on the same input."""

def mmr(
    vectors: npt.NDArray[np.float32], relevance: npt.NDArray[np.float64], lambda_: float, k: int
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]:
    """Maximal marginal relevance: (order, score) of the first k picks."""

def minhash_texts(
    tokenizer: Tokenizer, texts: Iterable[str | bytes], shingle: int, k: int, seed: int = 0
) -> npt.NDArray[np.uint64]:
    """MinHash bottom-k sketches (n, k) of texts' token shingles."""

def minhash_words(
    texts: Iterable[str | bytes], shingle: int, k: int, seed: int = 0
) -> npt.NDArray[np.uint64]:
    """MinHash bottom-k sketches (n, k) of texts' word shingles."""

def minhash_tokens(tokens: Any, shingle: int, k: int, seed: int = 0) -> npt.NDArray[np.uint64]:
    """The MinHash bottom-k sketch (k,) of one token sequence."""

def minhash_similarity(a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]) -> float:
    """The estimated Jaccard similarity of two sketches."""

def near_duplicates(sketches: npt.NDArray[np.uint64], threshold: float) -> npt.NDArray[np.int32]:
    """Per row, the earlier kept row it nearly duplicates (similarity >= threshold), or -1."""

# --------------------------------------------------------------------------- pii

def pii_entities() -> list[str]:
    """The names of the entities the PII scanner knows, in its order."""

class PiiScanner:
    """A PII and secret scanner with a fixed configuration."""

    def __init__(
        self,
        entities: list[str] | None = None,
        min_scores: dict[str, float] = ...,
        context_window: int = 48,
        secret_min_length: int = 8,
        secret_min_entropy: float = 3.0,
        secret_min_entropy_hex: float = 2.5,
    ) -> None: ...
    def scan(self, text: str | bytes) -> list[tuple[str, int, int, float, str]]:
        """Findings (entity, start, end, score, rule) of one text, str offsets."""
    def scan_batch(
        self, texts: Iterable[str | bytes], num_threads: int = 1
    ) -> list[list[tuple[str, int, int, float, str]]]:
        """scan() of each text, on num_threads native threads."""

class Grounder:
    """Sentence scoring and answer support (native core of covekit.ground)."""

    def __init__(self, k1: float = 1.2, b: float = 0.75, overlap_weight: float = 0.5) -> None: ...
    @property
    def k1(self) -> float: ...
    @property
    def b(self) -> float: ...
    @property
    def overlap_weight(self) -> float: ...
    def rank(
        self, question: str | bytes, passages: Iterable[str | bytes], top_k: int = 0
    ) -> list[tuple[int, int, int, float, float, float, int]]:
        """Every sentence of the passages, best first: (passage, start, end, score, bm25,
        overlap, terms)."""
    def support(
        self, answer: str | bytes, passages: Iterable[str | bytes], markers: list[int]
    ) -> tuple[
        list[tuple[int, int, tuple[int, ...], float, float, float, int, int]],
        list[tuple[int, int, int, bool, int]],
        tuple[int, ...],
    ]:
        """(sentences, quotes, dangling): sentences as (start, end, markers, support,
        unigram, bigram, source, terms), quotes as (start, end, sentence, verbatim,
        source); source is -1 when none."""
    def sentences(self, text: str | bytes) -> list[tuple[int, int]]:
        """Character spans of the sentence units of a text."""
    def markers(self, text: str | bytes) -> list[tuple[int, int, int]]:
        """Citation markers of a text: (start, end, value), one per number."""
