"""covekit.hash against the reference xxHash library (the ``xxhash`` package).

XXH3 takes different code paths by input length (0, 1-3, 4-8, 9-16, 17-128, 129-240,
and longer, with stripes and blocks), so every length up to 300 is checked, plus 1 MB,
random bytes and seeds across the full 64-bit range.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import xxhash
from covekit import hash as ckhash
from covekit.errors import InvalidInput
from hypothesis import given
from hypothesis import strategies as st

SEEDS = [0, 1, 42, 2**31 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1]


def reference(data: bytes, seed: int = 0) -> tuple[int, int, str, str]:
    return (
        xxhash.xxh3_64_intdigest(data, seed=seed),
        xxhash.xxh3_128_intdigest(data, seed=seed),
        xxhash.xxh3_64_hexdigest(data, seed=seed),
        xxhash.xxh3_128_hexdigest(data, seed=seed),
    )


def ours(data: bytes | bytearray | memoryview | str, seed: int = 0) -> tuple[int, int, str, str]:
    return (
        ckhash.xxh3_64(data, seed=seed),
        ckhash.xxh3_128(data, seed=seed),
        ckhash.xxh3_64_hexdigest(data, seed=seed),
        ckhash.xxh3_128_hexdigest(data, seed=seed),
    )


def test_empty() -> None:
    assert ours(b"") == reference(b"")
    assert ours("") == reference(b"")
    assert ckhash.xxh3_64(b"") == 3244421341483603138


@pytest.mark.parametrize("seed", SEEDS)
def test_every_length_to_300(seed: int) -> None:
    rng = random.Random(seed)
    data = rng.randbytes(300)
    for n in range(301):
        assert ours(data[:n], seed) == reference(data[:n], seed), n
    batch = ckhash.xxh3_64_batch([data[:n] for n in range(301)], seed=seed)
    assert batch.tolist() == [xxhash.xxh3_64_intdigest(data[:n], seed=seed) for n in range(301)]


@pytest.mark.parametrize("seed", [0, 2**64 - 1])
def test_one_megabyte(seed: int) -> None:
    data = random.Random(7).randbytes(1 << 20)
    assert ours(data, seed) == reference(data, seed)
    for n in (1024, 1025, 1 << 16, (1 << 16) + 7, (1 << 20) - 1):  # block and stripe edges
        assert ours(data[:n], seed) == reference(data[:n], seed), n


@given(data=st.binary(max_size=2000), seed=st.integers(min_value=0, max_value=2**64 - 1))
def test_random_bytes(data: bytes, seed: int) -> None:
    assert ours(data, seed) == reference(data, seed)
    assert ckhash.xxh3_64_batch([data, data], seed=seed).tolist() == [ours(data, seed)[0]] * 2


@given(text=st.text(max_size=300))
def test_str_is_hashed_as_utf8(text: str) -> None:
    assert ours(text) == reference(text.encode("utf-8"))
    assert ckhash.xxh3_64_batch([text]).tolist() == [xxhash.xxh3_64_intdigest(text.encode())]


def test_hexdigest_format() -> None:
    for data in (b"", b"a", b"covekit" * 40):
        assert len(ckhash.xxh3_64_hexdigest(data)) == 16
        assert len(ckhash.xxh3_128_hexdigest(data)) == 32
        assert int(ckhash.xxh3_64_hexdigest(data), 16) == ckhash.xxh3_64(data)
        assert int(ckhash.xxh3_128_hexdigest(data), 16) == ckhash.xxh3_128(data)


def test_bytes_like() -> None:
    data = b"some bytes \x00\xff"
    expected = reference(data)
    assert ours(bytearray(data)) == expected
    assert ours(memoryview(data)) == expected
    assert ours(memoryview(b"xx" + data)[2:]) == expected
    assert ours(np.frombuffer(data, dtype=np.uint8)) == expected  # type: ignore[arg-type]
    batch = ckhash.xxh3_64_batch([data, bytearray(data), memoryview(data), data.decode("latin-1")])
    assert batch.tolist()[:3] == [expected[0]] * 3
    assert batch.tolist()[3] == xxhash.xxh3_64_intdigest(data.decode("latin-1").encode("utf-8"))


def test_batch() -> None:
    items = [b"", b"a", "b", "\u6587\U0001f600", b"x" * 1000, bytearray(b"y" * 17)]
    for seed in (0, 2**64 - 1):
        out = ckhash.xxh3_64_batch(items, seed=seed)
        assert isinstance(out, np.ndarray)
        assert out.dtype == np.uint64
        assert out.shape == (len(items),)
        expected = [
            xxhash.xxh3_64_intdigest(x.encode() if isinstance(x, str) else bytes(x), seed=seed)
            for x in items
        ]
        assert out.tolist() == expected
    assert ckhash.xxh3_64_batch(iter(items)).tolist() == ckhash.xxh3_64_batch(items).tolist()


def test_batch_empty() -> None:
    out = ckhash.xxh3_64_batch([])
    assert out.shape == (0,)
    assert out.dtype == np.uint64


@pytest.mark.parametrize("bad", [1, None, 1.5, ["a"]], ids=repr)
def test_wrong_type(bad: object) -> None:
    for fn in (
        ckhash.xxh3_64,
        ckhash.xxh3_128,
        ckhash.xxh3_64_hexdigest,
        ckhash.xxh3_128_hexdigest,
    ):
        with pytest.raises(TypeError):
            fn(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ckhash.xxh3_64_batch([b"ok", bad])  # type: ignore[list-item]


def test_batch_not_iterable() -> None:
    with pytest.raises(TypeError):
        ckhash.xxh3_64_batch(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ckhash.xxh3_64_batch(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [-1, 2**64, 2**70, 1.5, None, "1", True], ids=repr)
def test_bad_seed(seed: object) -> None:
    for fn in (
        ckhash.xxh3_64,
        ckhash.xxh3_128,
        ckhash.xxh3_64_hexdigest,
        ckhash.xxh3_128_hexdigest,
        ckhash.xxh3_64_batch,
    ):
        data: object = [b"x"] if fn is ckhash.xxh3_64_batch else b"x"
        with pytest.raises(InvalidInput) as info:
            fn(data, seed=seed)  # type: ignore[operator]
        assert isinstance(info.value, ValueError)
        assert "seed" in str(info.value)


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\ud83d\ude00"], ids=repr)
def test_lone_surrogate(text: str) -> None:
    for fn in (
        ckhash.xxh3_64,
        ckhash.xxh3_128,
        ckhash.xxh3_64_hexdigest,
        ckhash.xxh3_128_hexdigest,
    ):
        with pytest.raises(InvalidInput) as info:
            fn(text)
        assert isinstance(info.value, ValueError)
        assert "surrogate" in str(info.value)
    with pytest.raises(InvalidInput):
        ckhash.xxh3_64_batch(["fine", text])
