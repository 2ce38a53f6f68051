"""covekit.VectorIndex: recall against brute force (unfiltered and at 50%, 10%, 1% and
0.1% of ids allowed), the ACL property (no result outside a principal's permissions,
ever), delete/update/reuse, growth, persistence and corruption, bad input, and threads
searching while one thread writes."""

from __future__ import annotations

import doctest
import os
import pickle
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from covekit import MISSING_ID, Filter, VectorIndex
from covekit.data import vector_index as vector_index_module
from covekit.errors import IndexFileCorrupt, InvalidInput
from hypothesis import given, settings
from hypothesis import strategies as st

EXAMPLES = max(20, int(os.environ.get("COVEKIT_MAX_EXAMPLES", "200")) // 4)

N, DIM, NQ, K = 20_000, 32, 100, 10


def brute_force(
    data: npt.NDArray[np.float32],
    queries: npt.NDArray[np.float32],
    k: int,
    allowed: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.int64]:
    """Row indices of the exact cosine top-k (restricted to `allowed`)."""
    d = data / np.linalg.norm(data, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    sims = q.astype(np.float64) @ d.T.astype(np.float64)
    if allowed is not None:
        sims[:, ~allowed] = -np.inf
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


class Corpus:
    def __init__(self) -> None:
        rng = np.random.default_rng(1)
        self.data = rng.standard_normal((N, DIM), dtype=np.float32)
        self.queries = rng.standard_normal((NQ, DIM), dtype=np.float32)
        # Distinct ids spread over 64 bits (multiplying by an odd constant is a bijection).
        self.ids = (
            np.arange(1, N + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        ) | np.uint64(1)
        self.bucket = np.arange(N) % 1000
        self.index = VectorIndex(DIM, ef_construction=100, seed=7)
        self.index.add(
            self.ids,
            self.data,
            [{"fields": {"bucket": int(b)}} for b in self.bucket],
            num_threads=2,
        )
        self.pos = {int(i): p for p, i in enumerate(self.ids)}


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus()


def recall(corpus: Corpus, found: npt.NDArray[np.uint64], truth: npt.NDArray[np.int64]) -> float:
    hits = 0
    for row, want in zip(found, truth, strict=True):
        wanted = {int(corpus.ids[p]) for p in want}
        hits += len(wanted & {int(x) for x in row})
    return hits / truth.size


def test_recall_against_brute_force(corpus: Corpus) -> None:
    ids, scores = corpus.index.search(corpus.queries, K, num_threads=2)
    assert ids.shape == (NQ, K) and ids.dtype == np.uint64
    assert scores.shape == (NQ, K) and scores.dtype == np.float32
    assert recall(corpus, ids, brute_force(corpus.data, corpus.queries, K)) >= 0.95
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first
    # Scores are cosine similarities.
    p = corpus.pos[int(ids[0, 0])]
    v, q = corpus.data[p], corpus.queries[0]
    assert scores[0, 0] == pytest.approx(
        float(v @ q / np.linalg.norm(v) / np.linalg.norm(q)), abs=1e-5
    )


@pytest.mark.parametrize("percent", [50, 10, 1, 0.1])
@pytest.mark.parametrize("plan", ["chosen", "graph"])
def test_filtered_recall_at_every_selectivity(corpus: Corpus, percent: float, plan: str) -> None:
    below = int(percent * 10)
    allowed = corpus.bucket < below
    f = Filter.range("bucket", lt=below)
    index = corpus.index
    index._impl.exact_scale = 0.0 if plan == "graph" else 1.3
    try:
        ids, _, info = index._search(corpus.queries, K, ef=None, filter=f, num_threads=2)
    finally:
        index._impl.exact_scale = 1.3
    assert info["allowed"] == int(allowed.sum())
    if plan == "graph":
        assert info["exact"] == 0
    assert all(int(x) == MISSING_ID or allowed[corpus.pos[int(x)]] for x in ids.ravel())
    assert (ids != np.uint64(MISSING_ID)).all()
    assert recall(corpus, ids, brute_force(corpus.data, corpus.queries, K, allowed)) >= 0.95


# ---- the ACL property ---------------------------------------------------------------

PRINCIPALS = ["user:1", "user:2", "user:3", "role:support", "role:ops", "role:admin"]


@settings(max_examples=EXAMPLES)
@given(
    n=st.integers(1, 300),
    seed=st.integers(0, 2**32 - 1),
    who=st.lists(st.sampled_from(PRINCIPALS), max_size=3),
    k=st.integers(1, 40),
    force_graph=st.booleans(),
    deleted=st.integers(0, 50),
)
def test_no_result_outside_the_principals_permissions(
    n: int, seed: int, who: list[str], k: int, force_graph: bool, deleted: int
) -> None:
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((n, 8), dtype=np.float32)
    acls = [list(rng.choice(PRINCIPALS, size=rng.integers(0, 3), replace=False)) for _ in range(n)]
    index = VectorIndex(8, M=8, ef_construction=32, seed=seed % 1000)
    ids = np.arange(1, n + 1, dtype=np.uint64)
    index.add(ids, data, [{"acl": a} for a in acls], num_threads=1)
    gone = set(rng.choice(n, size=min(deleted, n), replace=False).tolist())
    index.delete(ids[sorted(gone)])
    if force_graph:
        index._impl.exact_scale = 0.0
    got, scores = index.search(
        rng.standard_normal((3, 8), dtype=np.float32), k, filter=Filter.acl_any(who)
    )
    allowed = {i + 1 for i in range(n) if i not in gone and any(p in acls[i] for p in who)}
    for row, srow in zip(got, scores, strict=True):
        returned = [int(x) for x in row if int(x) != MISSING_ID]
        assert set(returned) <= allowed  # never a forbidden or deleted id
        assert len(returned) == len(set(returned))
        assert len(returned) == min(k, len(allowed))  # and nothing allowed is lost
        assert np.isneginf(srow[len(returned) :]).all()


# ---- writes -------------------------------------------------------------------------


def test_delete_update_reuse_and_growth() -> None:
    rng = np.random.default_rng(3)
    data = rng.standard_normal((3000, 8), dtype=np.float32)
    index = VectorIndex(8, metric="l2", M=8, ef_construction=64)
    index.add(np.arange(3000), data)  # int64 ids are accepted (non-negative)
    assert len(index) == 3000 and index.capacity >= 3000  # grew past the first 1024 slots
    ids, scores = index.search(data[:200], 1)
    assert (ids[:, 0] == np.arange(200)).mean() > 0.98
    assert np.allclose(scores[ids[:, 0] == np.arange(200), 0], 0.0)

    assert index.delete(range(100)) == 100
    assert 5 not in index and 150 in index and len(index) == 2900
    ids, _ = index.search(data[:100], 5)
    assert (ids >= 100).all()
    with pytest.raises(InvalidInput, match="missing_ok"):
        index.delete([5])
    assert index.delete([5, 6], missing_ok=True) == 0

    capacity = index.capacity
    fresh = rng.standard_normal((100, 8), dtype=np.float32)
    index.add(np.arange(10_000, 10_100), fresh)
    assert index.capacity == capacity  # the deleted slots were reused
    ids, _ = index.search(fresh, 1)
    assert (ids[:, 0] == np.arange(10_000, 10_100)).mean() > 0.95

    target = np.full((1, 8), 9.0, dtype=np.float32)
    index.update([2999], target, [{"tags": ["moved"]}])
    ids, scores = index.search(target, 1, filter=Filter.tags_any(["moved"]))
    assert ids.tolist() == [[2999]] and scores.tolist() == [[0.0]]
    assert index.vector(2999).tolist() == [9.0] * 8
    with pytest.raises(InvalidInput, match="already in the index"):
        index.add([2999], target)
    with pytest.raises(InvalidInput, match="not in the index"):
        index.update([5], target)
    with pytest.raises(InvalidInput, match="twice"):
        index.add([1, 1], np.zeros((2, 8), dtype=np.float32))


def test_set_attributes_changes_who_sees_what() -> None:
    index = VectorIndex(2)
    index.add([1, 2], np.eye(2, dtype=np.float32), [{"acl": ["user:1"]}, {"acl": ["user:1"]}])
    q = np.array([[1, 1]], dtype=np.float32)
    assert sorted(index.search(q, 2, filter=Filter.acl_any(["user:1"]))[0][0].tolist()) == [1, 2]
    index.set_attributes([2], [{"acl": ["user:2"]}])
    assert index.search(q, 2, filter=Filter.acl_any(["user:1"]))[0].tolist() == [[1, MISSING_ID]]
    index.set_attributes([1], [{}])  # an empty acl: visible to no principal
    assert index.search(q, 2, filter=Filter.acl_any(["user:1"]))[0].tolist() == [
        [MISSING_ID, MISSING_ID]
    ]
    assert index.attributes(1) == {"acl": [], "tags": [], "fields": {}}


def test_empty_index_and_k_larger_than_size() -> None:
    index = VectorIndex(4, metric="ip")
    ids, scores = index.search(np.ones((2, 4), dtype=np.float32), 3)
    assert ids.tolist() == [[MISSING_ID] * 3] * 2 and np.isneginf(scores).all()
    index.add([7], np.array([[1, 2, 3, 4]], dtype=np.float32))
    ids, scores = index.search(np.array([1, 0, 0, 0], dtype=np.float32), 5)
    assert ids.tolist() == [[7] + [MISSING_ID] * 4]
    assert scores[0, 0] == pytest.approx(1.0)
    ids, _ = index.search(np.zeros((0, 4), dtype=np.float32), 5)
    assert ids.shape == (0, 5)
    index.add([], np.zeros((0, 4), dtype=np.float32))
    assert len(index) == 1


def test_metrics() -> None:
    v = np.array([[1, 0], [10, 10]], dtype=np.float32)
    q = np.array([[2, 0]], dtype=np.float32)
    for metric, best, score in [("cosine", 1, 1.0), ("ip", 2, 20.0), ("l2", 1, -1.0)]:
        index = VectorIndex(2, metric=metric)  # type: ignore[arg-type]
        index.add([1, 2], v)
        ids, scores = index.search(q, 1)
        assert (int(ids[0, 0]), float(scores[0, 0])) == (best, pytest.approx(score)), metric


# ---- bad input ----------------------------------------------------------------------


def test_bad_input() -> None:
    index = VectorIndex(4)
    good = np.ones((2, 4), dtype=np.float32)
    with pytest.raises(InvalidInput, match="C-contiguous"):
        index.add([1, 2], np.ones((4, 2), dtype=np.float32).T)
    with pytest.raises(InvalidInput, match="columns"):
        index.add([1, 2], np.ones((2, 5), dtype=np.float32))
    with pytest.raises(InvalidInput, match="floats"):
        index.add([1, 2], np.ones((2, 4), dtype=np.int32))
    with pytest.raises(InvalidInput, match="2-D"):
        index.add([1, 2], np.ones((2, 2, 4), dtype=np.float32))
    with pytest.raises(InvalidInput, match="one id per row"):
        index.add([1], good)
    with pytest.raises(InvalidInput, match="non-negative"):
        index.add([-1, 2], good)
    with pytest.raises(InvalidInput, match="NaN"):
        index.add([1, 2], np.array([[1, 2, 3, np.nan], [1, 1, 1, 1]], dtype=np.float32))
    with pytest.raises(InvalidInput, match="all zeros"):
        index.add([1, 2], np.zeros((2, 4), dtype=np.float32))
    with pytest.raises(InvalidInput, match="reserved"):
        index.add([MISSING_ID, 2], good)
    with pytest.raises(InvalidInput, match="one dict per id"):
        index.add([1, 2], good, [{"acl": ["a"]}])
    with pytest.raises(InvalidInput, match="one dict per id"):
        index.add([1, 2], good, {"acl": ["a"]})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="unknown key"):
        index.add([1, 2], good, [{"acl": ["a"]}, {"groups": ["b"]}])
    assert len(index) == 0  # nothing was added by a failed call
    index.add([1, 2], good.astype(np.float64))  # other float dtypes are cast (one copy)
    with pytest.raises(InvalidInput, match="k must be"):
        index.search(good, 0)
    with pytest.raises(InvalidInput, match="numpy array"):
        index.search("query", 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"covekit\.Filter"):
        index.search(good, 1, filter={"all": True})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="metric"):
        VectorIndex(4, metric="dot")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="dim"):
        VectorIndex(0)
    with pytest.raises(InvalidInput, match="M must"):
        VectorIndex(4, M=1)


def test_big_batch_is_checked_before_its_first_chunk() -> None:
    index = VectorIndex(4, M=4, ef_construction=8)
    n = 16_384 + 100  # more than one chunk
    data = np.random.default_rng(2).standard_normal((n, 4), dtype=np.float32)
    ids = np.arange(n, dtype=np.uint64)
    ids[-1] = 0  # repeated in the last chunk
    with pytest.raises(InvalidInput, match="twice"):
        index.add(ids, data)
    assert len(index) == 0
    ids[-1] = n
    index.add(ids, data, [{"tags": ["t"]}] * n)
    assert len(index) == n and index.attributes(n) == {"acl": [], "tags": ["t"], "fields": {}}


# ---- persistence --------------------------------------------------------------------


def _small_index() -> tuple[VectorIndex, npt.NDArray[np.float32]]:
    rng = np.random.default_rng(5)
    data = rng.standard_normal((500, 16), dtype=np.float32)
    index = VectorIndex(16, M=8, ef_construction=64, seed=3)
    attrs: list[dict[str, Any]] = [
        {
            "acl": [f"user:{i % 5}"],
            "tags": ["even" if i % 2 == 0 else "odd"],
            "fields": {"n": i, "x": i / 3, "ok": i % 3 == 0, "lang": "日本語" if i % 4 else "en"},
        }
        for i in range(500)
    ]
    index.add(np.arange(1, 501), data, attrs, num_threads=1)
    index.delete([1, 2, 3])
    return index, data


def test_save_load_round_trip(tmp_path: Path) -> None:
    index, data = _small_index()
    path = tmp_path / "vectors.cvk"
    index.save(path)
    index.save(path)  # replaced atomically; no temp file left behind
    assert [p.name for p in tmp_path.iterdir()] == ["vectors.cvk"]
    loaded = VectorIndex.load(path, dim=16, metric="cosine")
    assert len(loaded) == 497 and repr(loaded) == repr(index)
    assert loaded.to_bytes() == index.to_bytes()
    f = Filter.acl_any(["user:2"]) & Filter.range("x", gte=10) & ~Filter.tags_any(["odd"])
    for a, b in zip(
        index.search(data[:50], 5, filter=f), loaded.search(data[:50], 5, filter=f), strict=True
    ):
        assert np.array_equal(a, b)
    assert loaded.attributes(10) == index.attributes(10)
    # The loaded index keeps working: adds reuse the deleted slots.
    loaded.add([9999], data[:1])
    assert 9999 in loaded and len(loaded) == 498
    again = pickle.loads(pickle.dumps(index))
    assert again.to_bytes() == index.to_bytes()


def test_corrupt_truncated_and_mismatched_files(tmp_path: Path) -> None:
    index, _ = _small_index()
    blob = index.to_bytes()
    path = tmp_path / "v.cvk"
    for cut in [0, 10, 87, 88, len(blob) // 2, len(blob) - 1]:
        path.write_bytes(blob[:cut])
        with pytest.raises(IndexFileCorrupt):
            VectorIndex.load(path)
    rng = np.random.default_rng(0)
    for pos in rng.choice(len(blob), size=40, replace=False):
        bad = bytearray(blob)
        bad[pos] ^= 0x10
        with pytest.raises(IndexFileCorrupt):
            VectorIndex.from_bytes(bytes(bad))
    with pytest.raises(IndexFileCorrupt, match="magic"):
        VectorIndex.from_bytes(b"X" * 200)
    newer = bytearray(blob)
    newer[8] = 9  # format version 9
    with pytest.raises(IndexFileCorrupt, match="format version 9"):
        VectorIndex.from_bytes(bytes(newer))
    with pytest.raises(IndexFileCorrupt, match="dim=16, expected dim=384"):
        VectorIndex.from_bytes(blob, dim=384)
    with pytest.raises(IndexFileCorrupt, match="expected 'l2'"):
        VectorIndex.from_bytes(blob, metric="l2")
    with pytest.raises(FileNotFoundError):
        VectorIndex.load(tmp_path / "missing.cvk")
    with pytest.raises(InvalidInput, match="directory"):
        VectorIndex.load(tmp_path)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc (VmHWM)")
def test_save_streams_the_image_and_load_maps_it_without_a_second_copy(tmp_path: Path) -> None:
    # save() streams the image to the file (it must equal to_bytes()); load() reads the
    # file through a memory map and drops each part once used, so the peak memory of a
    # load is about the index itself, not the index plus a copy of the file.
    n, dim = 40_000, 256
    rng = np.random.default_rng(5)
    index = VectorIndex(dim, metric="ip", M=4, ef_construction=8, seed=1)
    index.add(np.arange(n, dtype=np.uint64), rng.standard_normal((n, dim), dtype=np.float32))
    index.delete([3, 4])
    path = tmp_path / "big.cvk"
    index.save(path)
    assert path.read_bytes() == index.to_bytes()
    size = path.stat().st_size
    assert size > 40_000_000
    probe = textwrap.dedent(
        f"""
        from covekit import VectorIndex

        def peak_kb():
            with open("/proc/self/status") as f:
                return next(int(x.split()[1]) for x in f if x.startswith("VmHWM:"))

        before = peak_kb()
        index = VectorIndex.load({str(path)!r})
        after = peak_kb()
        assert len(index) == {n - 2}, len(index)
        print((after - before) * 1024)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300
    )
    growth = int(out.stdout.split()[-1])
    # The index itself is about the file's size (so the peak must grow by at least half
    # of it, or the measurement is broken); a load through a full in-memory copy of the
    # file peaked at twice the size.
    assert 0.5 * size < growth < 1.4 * size, (growth, size)
    loaded = VectorIndex.load(path)
    q = rng.standard_normal((5, dim), dtype=np.float32)
    assert np.array_equal(loaded.search(q, k=5)[0], index.search(q, k=5)[0])


# ---- threads ------------------------------------------------------------------------


def test_threads_search_while_one_writes() -> None:
    rng = np.random.default_rng(11)
    data = rng.standard_normal((6000, 16), dtype=np.float32)
    acl = [{"acl": ["even" if i % 2 == 0 else "odd"]} for i in range(6000)]
    index = VectorIndex(16, M=8, ef_construction=50, seed=1)
    index.add(np.arange(2000), data[:2000], acl[:2000])
    stop = threading.Event()
    errors: list[BaseException] = []
    counts = [0, 0, 0, 0]

    def reader(t: int) -> None:
        f = Filter.acl_any(["even"])
        i = t
        try:
            while not stop.is_set():
                ids, scores = index.search(
                    data[i % 6000 : i % 6000 + 4], 10, filter=f if t % 2 else None
                )
                live = ids[ids != np.uint64(MISSING_ID)]
                if t % 2:
                    assert (live % 2 == 0).all()  # never a result outside the filter
                assert not np.isnan(scores).any()
                counts[t] += 1
                i += 13
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    try:
        for start in range(2000, 6000, 500):
            index.add(
                np.arange(start, start + 500), data[start : start + 500], acl[start : start + 500]
            )
            index.delete(np.arange(start - 2000, start - 1900))
            index.update([start], data[:1])
    finally:
        stop.set()
        for th in threads:
            th.join()
    assert errors == []
    assert all(c > 0 for c in counts)
    assert len(index) == 6000 - 800


def test_doctests() -> None:
    result = doctest.testmod(vector_index_module)
    assert result.attempted > 0
    assert result.failed == 0
