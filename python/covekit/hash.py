"""XXH3 hashes: the basis of every stable id in covekit (chunk ids, cache keys,
index versions).

Values equal the reference xxHash library's (``xxhash.xxh3_64_intdigest`` etc.). A
``str`` is hashed as its UTF-8 bytes.

>>> from covekit import hash
>>> hash.xxh3_64(b"covekit") < 2**64
True
>>> hash.xxh3_64("covekit") == hash.xxh3_64(b"covekit")
True
>>> hash.xxh3_64_batch(["a", "b"]).dtype
dtype('uint64')

Thread safety: pure functions; the batch form releases the GIL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from covekit import _core
from covekit.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["xxh3_64", "xxh3_64_batch", "xxh3_64_hexdigest", "xxh3_128", "xxh3_128_hexdigest"]

Data = bytes | bytearray | memoryview | str


def _seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidInput(f"seed must be an int in [0, 2**64), not {type(seed).__name__}")
    if not 0 <= seed < 2**64:
        raise InvalidInput(f"seed must be in [0, 2**64), got {seed}")
    return seed


def xxh3_64(data: Data, *, seed: int = 0) -> int:
    """XXH3-64 of ``data`` as an unsigned int.

    >>> xxh3_64(b"")
    3244421341483603138
    """
    return _core.xxh3_64(data, _seed(seed))


def xxh3_128(data: Data, *, seed: int = 0) -> int:
    """XXH3-128 of ``data`` as an unsigned 128-bit int.

    >>> xxh3_128(b"") < 2**128
    True
    """
    return _core.xxh3_128(data, _seed(seed))


def xxh3_64_hexdigest(data: Data, *, seed: int = 0) -> str:
    """XXH3-64 as 16 lowercase hex digits (big-endian, as xxhash's ``hexdigest``).

    >>> xxh3_64_hexdigest(b"")
    '2d06800538d394c2'
    """
    return f"{_core.xxh3_64(data, _seed(seed)):016x}"


def xxh3_128_hexdigest(data: Data, *, seed: int = 0) -> str:
    """XXH3-128 as 32 lowercase hex digits (big-endian, as xxhash's ``hexdigest``).

    >>> len(xxh3_128_hexdigest("id"))
    32
    """
    return f"{_core.xxh3_128(data, _seed(seed)):032x}"


def xxh3_64_batch(items: Iterable[Data], *, seed: int = 0) -> npt.NDArray[np.uint64]:
    """XXH3-64 of each item as a numpy ``uint64`` array (GIL released while hashing).

    >>> xxh3_64_batch([b"", b""]).tolist() == [xxh3_64(b"")] * 2
    True
    """
    if isinstance(items, (str, bytes, bytearray, memoryview)) or not isinstance(items, Iterable):
        raise TypeError(
            f"items must be an iterable of bytes or str (e.g. a list), not {type(items).__name__}"
        )
    return _core.xxh3_64_batch(items, _seed(seed))
