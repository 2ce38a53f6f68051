"""A cache for retrieval results and answers that never crosses a permission scope.

Two kinds of hit, both confined to one *partition*: the principal's scope (the set of
principals the caller acts as), the filter, the index version that served the value,
and any parameters the caller names (``k``, the model, the prompt version...):

- **exact**: the normalized query (NFKC, case-folded, whitespace collapsed) is the same;
- **semantic** (when an ``embedder`` is given): the query's embedding has a cosine
  similarity of at least ``threshold`` with a cached query's, in the same partition.

Entries expire after ``ttl`` seconds and the least recently used go first once
``capacity`` entries are held. A hit can never come from another partition: the
partition key is an XXH3-128 of the scope, filter, version and parameters, and the
lookup only ever looks inside it. Statistics count exact and semantic hits, misses,
evictions, expirations and *false hits*: semantic hits whose value turned out to differ
from a fresh one, found by :meth:`QueryCache.get_or_compute` re-checking a sample of
semantic hits (``verify_rate``) or reported with :meth:`QueryCache.report_false_hit`.
:func:`calibrate_threshold` picks the threshold from labelled query pairs.

>>> from covekit import QueryCache
>>> cache = QueryCache(capacity=100, ttl=60)
>>> cache.put("How do refunds work?", ["chunk-1"], scope=["role:support"], version="v1")
>>> cache.get("  how do REFUNDS work? ", scope=["role:support"], version="v1").value
['chunk-1']
>>> cache.get("How do refunds work?", scope=["role:sales"], version="v1") is None
True
>>> cache.get("How do refunds work?", scope=["role:support"], version="v2") is None
True
>>> cache.stats.exact_hits, cache.stats.misses
(1, 2)

Thread safety: every method takes one lock; the embedder is called outside it.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from covekit import hash as ckhash
from covekit.errors import InvalidInput

__all__ = [
    "CacheHit",
    "CacheStats",
    "QueryCache",
    "calibrate_threshold",
    "normalize_query",
    "scope_key",
]

_SPACES = re.compile(r"\s+")


class _Embeds(Protocol):
    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]: ...


def normalize_query(query: str) -> str:
    """The form two queries must share for an exact hit: NFKC, case-folded, whitespace
    collapsed and stripped.

    >>> normalize_query("  \\uff28ow   do REFUNDS\\twork? ")
    'how do refunds work?'
    """
    if not isinstance(query, str):
        raise InvalidInput(f"a query must be a str, not {type(query).__name__}")
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", query).casefold()).strip()


def _canonical(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return _canonical(to_dict())
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(v) for v in value), key=repr)
    raise InvalidInput(
        f"cannot key a cache on a {type(value).__name__}; pass str, numbers, lists, dicts "
        "or an object with to_dict() (such as covekit.Filter)"
    )


def scope_key(principals: str | Iterable[str]) -> str:
    """A stable key for a set of principals: order and duplicates do not matter.

    >>> scope_key(["user:42", "role:support"]) == scope_key(["role:support", "user:42", "user:42"])
    True
    >>> scope_key([]) == scope_key(["role:support"])
    False
    """
    items = [principals] if isinstance(principals, str) else list(principals)
    for p in items:
        if not isinstance(p, str):
            raise InvalidInput(f"principals must be str, not {type(p).__name__}")
    return ckhash.xxh3_128_hexdigest("\x1f".join(sorted(set(items))))


@dataclass(frozen=True)
class CacheHit:
    """A value found in the cache.

    ``kind`` is ``"exact"`` or ``"semantic"``; ``similarity`` is 1.0 for an exact hit;
    ``cached_query`` is the query the value was stored under.

    >>> cache = QueryCache()
    >>> cache.put("Refund window?", 30, scope="user:1", version="v1")
    >>> hit = cache.get("refund window?", scope="user:1", version="v1")
    >>> hit.value, hit.kind, hit.cached_query
    (30, 'exact', 'refund window?')
    """

    value: Any
    kind: Literal["exact", "semantic"]
    similarity: float
    cached_query: str
    key: str
    age: float


@dataclass
class CacheStats:
    """Counters since the cache was made (or since :meth:`QueryCache.clear`).

    >>> cache = QueryCache()
    >>> cache.get("q", scope="user:1", version="v1") is None
    True
    >>> cache.stats.misses, cache.stats.hit_rate
    (1, 0.0)
    """

    exact_hits: int = 0
    semantic_hits: int = 0
    misses: int = 0
    puts: int = 0
    evictions: int = 0
    expirations: int = 0
    verified: int = 0
    false_hits: int = 0

    @property
    def hits(self) -> int:
        return self.exact_hits + self.semantic_hits

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    @property
    def false_hit_rate(self) -> float:
        """False hits per verified semantic hit (0.0 when none was verified)."""
        return self.false_hits / self.verified if self.verified else 0.0


@dataclass
class _Entry:
    key: str
    partition: str
    version: str
    query: str
    value: Any
    created: float
    expires: float
    slot: int = -1  # row in the partition's matrix, -1 without an embedding


@dataclass
class _Partition:
    dim: int
    vectors: npt.NDArray[np.float32]
    keys: list[str] = field(default_factory=list)

    def add(self, key: str, v: npt.NDArray[np.float32]) -> int:
        n = len(self.keys)
        if n == self.vectors.shape[0]:
            grown = np.zeros((max(8, 2 * n), self.dim), dtype=np.float32)
            grown[:n] = self.vectors[:n]
            self.vectors = grown
        self.vectors[n] = v
        self.keys.append(key)
        return n

    def remove(self, slot: int) -> str | None:
        """Removes a row by moving the last row into it; returns the moved key."""
        last = len(self.keys) - 1
        moved = None
        if slot != last:
            self.vectors[slot] = self.vectors[last]
            self.keys[slot] = self.keys[last]
            moved = self.keys[slot]
        self.keys.pop()
        return moved


class QueryCache:
    """Exact and semantic cache of values per (scope, filter, index version, params).

    Parameters:
        capacity: entries held at most; the least recently used are evicted.
        ttl: seconds an entry lives (``None``: until evicted).
        embedder: anything with ``embed(list[str]) -> (n, dim) float array``; enables
            semantic hits. Vectors are L2-normalized here.
        threshold: the cosine similarity a semantic hit needs (see
            :func:`calibrate_threshold`); required with an embedder.
        verify_rate: the share of semantic hits that :meth:`get_or_compute` checks
            against a fresh value to measure false hits (0 to 1).
        seed: seeds the sampling of verified hits.
        clock: seconds, monotonic (tests pass their own).

    >>> cache = QueryCache(capacity=2)
    >>> for q in ("a", "b", "c"):
    ...     cache.put(q, q.upper(), scope="user:1", version="v1")
    >>> len(cache), cache.stats.evictions
    (2, 1)
    """

    def __init__(
        self,
        capacity: int = 10_000,
        ttl: float | None = 3600.0,
        *,
        embedder: _Embeds | None = None,
        threshold: float | None = None,
        verify_rate: float = 0.0,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise InvalidInput(f"capacity must be an int >= 1, got {capacity!r}")
        if ttl is not None and (not isinstance(ttl, (int, float)) or not ttl > 0):
            raise InvalidInput(f"ttl must be a number of seconds > 0 or None, got {ttl!r}")
        if embedder is not None and threshold is None:
            raise InvalidInput(
                "a semantic cache needs a threshold (cosine similarity in (0, 1]); "
                "pick one with covekit.calibrate_threshold on labelled query pairs"
            )
        if threshold is not None and not (
            isinstance(threshold, (int, float)) and 0 < threshold <= 1
        ):
            raise InvalidInput(f"threshold must be in (0, 1], got {threshold!r}")
        if threshold is not None and embedder is None:
            raise InvalidInput(
                "threshold is only used with an embedder; pass embedder=... or drop threshold"
            )
        if not (isinstance(verify_rate, (int, float)) and 0 <= verify_rate <= 1):
            raise InvalidInput(f"verify_rate must be in [0, 1], got {verify_rate!r}")
        self._capacity = capacity
        self._ttl = float(ttl) if ttl is not None else None
        self._embedder = embedder
        self._threshold = float(threshold) if threshold is not None else None
        self._verify_rate = float(verify_rate)
        self._rng = random.Random(seed)
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._partitions: dict[str, _Partition] = {}
        self.stats = CacheStats()

    def __repr__(self) -> str:
        kind = "exact" if self._embedder is None else f"exact+semantic(threshold={self._threshold})"
        return (
            f"QueryCache({kind}, entries={len(self)}, capacity={self._capacity}, ttl={self._ttl})"
        )

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def threshold(self) -> float | None:
        return self._threshold

    @staticmethod
    def partition_key(
        scope: str | Iterable[str],
        version: str,
        filter: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> str:
        """The key of the partition a value lives in (scope, filter, version, params)."""
        if not isinstance(version, str) or not version:
            raise InvalidInput(
                "version must be a non-empty str: the index version that served the value"
            )
        blob = json.dumps(
            [scope_key(scope), version, _canonical(filter), _canonical(dict(params or {}))],
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return ckhash.xxh3_128_hexdigest(blob)

    def _embed(self, query: str) -> npt.NDArray[np.float32] | None:
        if self._embedder is None:
            return None
        v = np.asarray(self._embedder.embed([query]), dtype=np.float32)
        if v.ndim != 2 or v.shape[0] != 1:
            raise InvalidInput(
                f"the embedder returned shape {v.shape} for one text; expected (1, dim)"
            )
        row = v[0]
        n = float(np.linalg.norm(row))
        return row / n if n > 0 and math.isfinite(n) else None

    def _drop(self, e: _Entry) -> None:
        self._entries.pop(e.key, None)
        if e.slot >= 0:
            part = self._partitions[e.partition]
            moved = part.remove(e.slot)
            if moved is not None:
                self._entries[moved].slot = e.slot
            if not part.keys:
                del self._partitions[e.partition]

    def _alive(self, e: _Entry, now: float) -> bool:
        if e.expires <= now:
            self._drop(e)
            self.stats.expirations += 1
            return False
        return True

    def get(
        self,
        query: str,
        *,
        scope: str | Iterable[str],
        version: str,
        filter: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> CacheHit | None:
        """The cached value for ``query`` in this partition, or ``None`` (a miss)."""
        norm = normalize_query(query)
        part = self.partition_key(scope, version, filter, params)
        key = ckhash.xxh3_128_hexdigest(part + "\x00" + norm)
        vec = None
        with self._lock:
            now = self._clock()
            e = self._entries.get(key)
            if e is not None and self._alive(e, now):
                self._entries.move_to_end(key)
                self.stats.exact_hits += 1
                return CacheHit(e.value, "exact", 1.0, e.query, key, now - e.created)
            semantic = self._embedder is not None and part in self._partitions
        if semantic:
            vec = self._embed(norm)
        with self._lock:
            if vec is not None and part in self._partitions:
                now = self._clock()
                p = self._partitions[part]
                n = len(p.keys)
                sims = p.vectors[:n] @ vec
                assert self._threshold is not None
                for i in np.argsort(-sims, kind="stable")[:8].tolist():
                    if float(sims[i]) < self._threshold or i >= len(p.keys):
                        break
                    e = self._entries[p.keys[i]]
                    if not self._alive(e, now):
                        break  # rows moved; a later lookup sees the rest
                    self._entries.move_to_end(e.key)
                    self.stats.semantic_hits += 1
                    return CacheHit(
                        e.value, "semantic", float(sims[i]), e.query, e.key, now - e.created
                    )
            self.stats.misses += 1
            return None

    def put(
        self,
        query: str,
        value: Any,
        *,
        scope: str | Iterable[str],
        version: str,
        filter: Any = None,
        params: Mapping[str, Any] | None = None,
        ttl: float | None = None,
    ) -> None:
        """Stores ``value`` for ``query`` in this partition (replacing an exact twin)."""
        norm = normalize_query(query)
        part = self.partition_key(scope, version, filter, params)
        key = ckhash.xxh3_128_hexdigest(part + "\x00" + norm)
        life = self._ttl if ttl is None else float(ttl)
        if life is not None and not life > 0:
            raise InvalidInput(f"ttl must be > 0, got {ttl!r}")
        vec = self._embed(norm)
        with self._lock:
            now = self._clock()
            old = self._entries.get(key)
            if old is not None:
                self._drop(old)
            e = _Entry(
                key, part, version, norm, value, now, now + life if life is not None else math.inf
            )
            if vec is not None:
                p = self._partitions.get(part)
                if p is None:
                    p = self._partitions[part] = _Partition(
                        vec.shape[0], np.zeros((8, vec.shape[0]), np.float32)
                    )
                elif p.dim != vec.shape[0]:
                    raise InvalidInput(f"the embedder returned dim {vec.shape[0]}, earlier {p.dim}")
                e.slot = p.add(key, vec)
            self._entries[key] = e
            self.stats.puts += 1
            while len(self._entries) > self._capacity:
                oldest = next(iter(self._entries.values()))
                self._drop(oldest)
                self.stats.evictions += 1

    def get_or_compute(
        self,
        query: str,
        compute: Callable[[], Any],
        *,
        scope: str | Iterable[str],
        version: str,
        filter: Any = None,
        params: Mapping[str, Any] | None = None,
        same: Callable[[Any, Any], bool] | None = None,
    ) -> tuple[Any, CacheHit | None]:
        """The cached value, or ``compute()`` stored and returned; also the hit, if any.

        A sample (``verify_rate``) of semantic hits is checked: ``compute()`` runs and
        its value is compared with the cached one (``same``, default ``==`` that also
        understands numpy arrays and tuples of them). A difference counts as a false
        hit, and the fresh value is returned and stored under this query.
        """
        hit = self.get(query, scope=scope, version=version, filter=filter, params=params)
        if hit is not None:
            if hit.kind == "exact" or self._verify_rate == 0:
                return hit.value, hit
            with self._lock:
                check = self._rng.random() < self._verify_rate
            if not check:
                return hit.value, hit
            fresh = compute()
            with self._lock:
                self.stats.verified += 1
                if (same or _same)(hit.value, fresh):
                    return hit.value, hit
                self.stats.false_hits += 1
            self.put(query, fresh, scope=scope, version=version, filter=filter, params=params)
            return fresh, None
        value = compute()
        self.put(query, value, scope=scope, version=version, filter=filter, params=params)
        return value, None

    def report_false_hit(self, hit: CacheHit, *, evict: bool = True) -> None:
        """Counts a semantic hit that gave a wrong value (and drops its entry)."""
        with self._lock:
            self.stats.verified += 1
            self.stats.false_hits += 1
            if evict and hit.key in self._entries:
                self._drop(self._entries[hit.key])

    def invalidate(self, *, version: str | None = None) -> int:
        """Drops every entry (or those served by ``version``); returns how many.

        Entries of another index version are never hit anyway; this frees the memory.
        """
        with self._lock:
            if version is None:
                n = len(self._entries)
                self._entries.clear()
                self._partitions.clear()
                return n
            doomed = [e for e in self._entries.values() if e.version == version]
            for e in doomed:
                self._drop(e)
            return len(doomed)

    def clear(self) -> None:
        """Drops every entry and resets the statistics."""
        with self._lock:
            self._entries.clear()
            self._partitions.clear()
            self.stats = CacheStats()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and bool(np.all(a == b))
        )
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(_same(x, y) for x, y in zip(a, b, strict=True))
        )
    return bool(a == b)


def calibrate_threshold(
    similarities: Sequence[float] | npt.ArrayLike,
    same_answer: Sequence[bool] | npt.ArrayLike,
    *,
    max_false_hit_rate: float = 0.01,
) -> float:
    """The lowest similarity threshold whose false-hit rate on labelled pairs is at
    most ``max_false_hit_rate``.

    ``similarities[i]`` is the cosine similarity of a pair of queries (from the
    embedder the cache will use); ``same_answer[i]`` says whether the pair should share
    a cached value. Among pairs at or above the returned threshold, the share labelled
    ``False`` is at most ``max_false_hit_rate``; a lower threshold would break that.
    When no threshold achieves it, returns just above the highest similarity labelled
    ``False`` (no labelled pair would be a false hit).

    >>> sims = [0.99, 0.95, 0.9, 0.8, 0.7]
    >>> same = [True, True, False, True, False]
    >>> calibrate_threshold(sims, same, max_false_hit_rate=0.0)
    0.95
    >>> calibrate_threshold(sims, same, max_false_hit_rate=0.34)
    0.8
    """
    sims = np.asarray(similarities, dtype=np.float64).ravel()
    same = np.asarray(same_answer, dtype=bool).ravel()
    if sims.shape != same.shape or sims.size == 0:
        raise InvalidInput("similarities and same_answer must be non-empty and of the same length")
    if not np.all(np.isfinite(sims)):
        raise InvalidInput("similarities must be finite")
    if not 0 <= max_false_hit_rate < 1:
        raise InvalidInput(f"max_false_hit_rate must be in [0, 1), got {max_false_hit_rate!r}")
    order = np.argsort(-sims, kind="stable")
    s, ok = sims[order], same[order]
    false_so_far = np.cumsum(~ok)
    counts = np.arange(1, s.size + 1)
    best: float | None = None
    for i in range(s.size):
        # a threshold at s[i] admits every pair with similarity >= s[i]
        if i + 1 < s.size and s[i + 1] == s[i]:
            continue
        if false_so_far[i] / counts[i] <= max_false_hit_rate:
            best = float(s[i])
    if best is None:
        worst_false = float(np.max(sims[~same]))
        return float(np.nextafter(worst_false, np.inf))
    return best
