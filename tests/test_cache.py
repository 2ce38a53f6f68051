"""QueryCache: exact and semantic hits, partitions that never leak, TTL, LRU, statistics."""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt
import pytest
from covekit import QueryCache, calibrate_threshold
from covekit.data.cache import normalize_query, scope_key
from covekit.errors import InvalidInput
from hypothesis import given, settings
from hypothesis import strategies as st


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class BagEmbedder:
    """A bag-of-letters embedder: enough to make near-duplicate queries similar."""

    dim = 27

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for c in t.lower():
                out[i, ord(c) - 97 if "a" <= c <= "z" else 26] += 1.0
        return out


def test_exact_hit_after_normalization() -> None:
    cache = QueryCache()
    cache.put("How do refunds work?", ["c1"], scope=["role:support"], version="v1")
    hit = cache.get("how  do\tREFUNDS work?", scope=["role:support"], version="v1")
    assert hit is not None and hit.kind == "exact" and hit.value == ["c1"] and hit.similarity == 1.0
    assert hit.cached_query == "how do refunds work?"
    assert cache.stats.exact_hits == 1 and cache.stats.misses == 0
    assert normalize_query("\uff26\uff55\uff4c\uff4c\u00a0width") == "full width"


def test_partitions_do_not_leak() -> None:
    cache = QueryCache(embedder=BagEmbedder(), threshold=0.5)
    cache.put(
        "refund policy",
        "secret",
        scope=["role:finance"],
        version="v1",
        filter={"lang": "en"},
        params={"k": 5},
    )
    for scope, version, flt, params in [
        (["role:support"], "v1", {"lang": "en"}, {"k": 5}),
        (["role:finance"], "v2", {"lang": "en"}, {"k": 5}),
        (["role:finance"], "v1", {"lang": "de"}, {"k": 5}),
        (["role:finance"], "v1", None, {"k": 5}),
        (["role:finance"], "v1", {"lang": "en"}, {"k": 10}),
        (["role:finance", "user:1"], "v1", {"lang": "en"}, {"k": 5}),
    ]:
        assert (
            cache.get("refund policy", scope=scope, version=version, filter=flt, params=params)
            is None
        )
    # the same partition, whatever the order of principals or dict keys
    hit = cache.get(
        "refund policy",
        scope=["role:finance", "role:finance"],
        version="v1",
        filter={"lang": "en"},
        params={"k": 5},
    )
    assert hit is not None and hit.value == "secret"


def test_semantic_hit_within_threshold() -> None:
    emb = BagEmbedder()
    cache = QueryCache(embedder=emb, threshold=0.95)
    cache.put("refund policy for orders", 1, scope="u", version="v")
    hit = cache.get("refund policy for order", scope="u", version="v")
    assert hit is not None and hit.kind == "semantic" and 0.95 <= hit.similarity < 1.0
    assert cache.get("zzz", scope="u", version="v") is None
    assert cache.stats.semantic_hits == 1 and cache.stats.misses == 1


def test_semantic_lookup_skips_embedding_when_partition_empty() -> None:
    emb = BagEmbedder()
    cache = QueryCache(embedder=emb, threshold=0.9)
    assert cache.get("anything", scope="u", version="v") is None
    assert emb.calls == 0


def test_ttl_and_lru() -> None:
    clock = Clock()
    cache = QueryCache(capacity=3, ttl=10, clock=clock)
    for q in "abc":
        cache.put(q, q, scope="s", version="v")
    assert cache.get("a", scope="s", version="v") is not None  # a is now the most recent
    cache.put("d", "d", scope="s", version="v")  # evicts b
    assert cache.get("b", scope="s", version="v") is None
    assert cache.stats.evictions == 1
    clock.now = 10.5
    assert cache.get("a", scope="s", version="v") is None
    assert cache.stats.expirations == 1
    cache.put("e", "e", scope="s", version="v", ttl=100)
    clock.now = 50
    assert cache.get("e", scope="s", version="v") is not None
    assert len(cache) <= 3


def test_semantic_rows_stay_consistent_through_evictions() -> None:
    clock = Clock()
    emb = BagEmbedder()
    cache = QueryCache(capacity=5, ttl=5, embedder=emb, threshold=0.999, clock=clock)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    for i, w in enumerate(words):
        clock.now = float(i)
        cache.put(w, w.upper(), scope="s", version="v")
    clock.now = 8.0
    for w in words:
        hit = cache.get(w + " ", scope="s", version="v")
        if hit is not None:
            assert hit.value == w.upper()
    # bag-of-letters twins hit semantically and return the right value
    clock.now = 8.0
    hit = cache.get("lfgo", scope="s", version="v")
    assert hit is not None and hit.value == "GOLF" and hit.kind == "semantic"


def test_get_or_compute_verifies_semantic_hits_and_counts_false_hits() -> None:
    cache = QueryCache(embedder=BagEmbedder(), threshold=0.9, verify_rate=1.0)
    truth = {"listen": "A", "silent": "B"}  # anagrams: identical bags, different answers
    v, hit = cache.get_or_compute("listen", lambda: truth["listen"], scope="s", version="v")
    assert (v, hit) == ("A", None)
    v, hit = cache.get_or_compute("silent", lambda: truth["silent"], scope="s", version="v")
    assert v == "B" and hit is None
    assert cache.stats.false_hits == 1 and cache.stats.verified == 1
    assert cache.stats.false_hit_rate == 1.0
    # the fresh value was stored under its own query
    assert cache.get("silent", scope="s", version="v").value == "B"  # type: ignore[union-attr]


def test_get_or_compute_compares_numpy_values() -> None:
    cache = QueryCache(embedder=BagEmbedder(), threshold=0.9, verify_rate=1.0)
    ids = np.array([[1, 2, 3]], np.uint64)
    cache.get_or_compute("listen", lambda: (ids, ids * 2), scope="s", version="v")
    _, hit = cache.get_or_compute("silent", lambda: (ids.copy(), ids * 2), scope="s", version="v")
    assert hit is not None and hit.kind == "semantic"
    assert cache.stats.false_hits == 0 and cache.stats.verified == 1


def test_report_false_hit_and_invalidate() -> None:
    cache = QueryCache(embedder=BagEmbedder(), threshold=0.9)
    cache.put("listen", 1, scope="s", version="v1")
    cache.put("other", 2, scope="s", version="v2")
    hit = cache.get("silent", scope="s", version="v1")
    assert hit is not None
    cache.report_false_hit(hit)
    assert cache.stats.false_hits == 1 and cache.get("listen", scope="s", version="v1") is None
    assert cache.invalidate(version="v2") == 1 and len(cache) == 0
    cache.clear()
    assert cache.stats.hits == 0


@settings(deadline=None, max_examples=60)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a b", "a c", "b c", "hello", "hella", "x"]),
            st.frozensets(st.sampled_from(["r:1", "r:2", "u:3"]), max_size=2),
            st.sampled_from(["v1", "v2"]),
        ),
        min_size=1,
        max_size=30,
    ),
    st.frozensets(st.sampled_from(["r:1", "r:2", "u:3"]), max_size=2),
    st.sampled_from(["v1", "v2"]),
    st.sampled_from(["a b", "a c", "hello", "hellx", "y"]),
)
def test_property_no_hit_crosses_scope_or_version(
    puts: list[tuple[str, frozenset[str], str]], scope: frozenset[str], version: str, query: str
) -> None:
    cache = QueryCache(capacity=16, embedder=BagEmbedder(), threshold=0.5)
    for q, s, v in puts:
        cache.put(q, (scope_key(s), v), scope=s, version=v)
    hit = cache.get(query, scope=scope, version=version)
    if hit is not None:
        assert hit.value == (scope_key(scope), version)


def test_threads_share_a_cache() -> None:
    cache = QueryCache(capacity=50, embedder=BagEmbedder(), threshold=0.99)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(300):
                q = f"query {i % 70} from {t % 2}"
                hit = cache.get(q, scope=f"s{t % 2}", version="v")
                if hit is not None:
                    assert hit.value[1] == t % 2
                else:
                    cache.put(q, (i, t % 2), scope=f"s{t % 2}", version="v")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert len(cache) <= 50


def test_bad_input() -> None:
    with pytest.raises(InvalidInput, match="threshold"):
        QueryCache(embedder=BagEmbedder())
    with pytest.raises(InvalidInput, match="embedder"):
        QueryCache(threshold=0.9)
    with pytest.raises(InvalidInput, match="capacity"):
        QueryCache(capacity=0)
    with pytest.raises(InvalidInput, match="ttl"):
        QueryCache(ttl=-1)
    with pytest.raises(InvalidInput, match="threshold"):
        QueryCache(embedder=BagEmbedder(), threshold=1.5)
    cache = QueryCache()
    with pytest.raises(InvalidInput, match="version"):
        cache.put("q", 1, scope="s", version="")
    with pytest.raises(InvalidInput, match="str"):
        cache.get(b"q", scope="s", version="v")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="principals"):
        cache.get("q", scope=[1], version="v")  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="cannot key"):
        cache.get("q", scope="s", version="v", filter=object())


def test_calibrate_threshold() -> None:
    sims = [0.99, 0.97, 0.95, 0.9, 0.85, 0.8]
    same = [True, True, True, False, True, False]
    assert calibrate_threshold(sims, same, max_false_hit_rate=0.0) == 0.95
    assert calibrate_threshold(sims, same, max_false_hit_rate=0.2) == 0.85
    # no threshold reaches the rate: just above the highest false pair
    t = calibrate_threshold([0.9, 0.8], [False, True], max_false_hit_rate=0.0)
    assert 0.9 < t < 0.9000001
    with pytest.raises(InvalidInput):
        calibrate_threshold([], [])
    with pytest.raises(InvalidInput):
        calibrate_threshold([0.5], [True, False])
