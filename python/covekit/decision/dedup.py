"""Near-duplicate removal: MinHash over token shingles, hashed with XXH3, in C++.

Each text's shingles are its windows of ``shingle`` consecutive tokens: words by
default (runs of letters and digits, ASCII lowercased; each CJK ideograph, kana or
hangul syllable a word of its own; punctuation and spacing separate them, so they do
not matter), or a tokenizer's ids when one is given. A sketch
keeps the ``k`` smallest XXH3-64 hashes of them (bottom-k MinHash). Two texts are near
duplicates when the Jaccard similarity of their shingle sets, estimated from the
sketches, is at least ``threshold`` (exact when the union has at most ``k`` shingles;
otherwise the standard error is about ``sqrt(J (1 - J) / k)``, 0.035 at J = 0.8 and
k = 128). :meth:`NearDuplicates.find` walks the texts in the order given (best first)
and marks each one that nearly duplicates an earlier *kept* one with that one's index.

Sketches of chunks are cached by chunk id (chunk ids are content hashes, so a cached
sketch never goes stale).

>>> import covekit
>>> nd = covekit.NearDuplicates(threshold=0.6)
>>> nd.find(["Refunds are processed within 5 to 10 business days of the request.",
...          "Refunds are processed within 5 to 10 business days of a request.",
...          "Cards are charged on the first day of each month."])
[-1, 0, -1]
>>> round(nd.similarity("a b c d e f", "A b, c d e... g"), 3)
0.6
>>> bpe = covekit.NearDuplicates(tokenizer=covekit.get_tokenizer("cl100k_base"))
>>> round(bpe.similarity("a b c d e f", "a b c d e g"), 3)
0.6

Thread safety: ``find`` and ``similarity`` may run from many threads at once (the
cache takes a lock); the native sketching releases the GIL.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from covekit import _core
from covekit.data.tokenize import Tokenizer
from covekit.errors import InvalidInput

__all__ = ["NearDuplicates"]


class NearDuplicates:
    """Finds near-duplicate texts (module docs).

    Args:
        tokenizer: make the shingles of this tokenizer's ids instead of words.
        threshold: the Jaccard similarity at and above which a text is a duplicate.
        shingle: tokens per shingle (3: short phrases; larger is stricter).
        k: hashes per sketch (more: a closer estimate, slower).
        cache_size: sketches kept by chunk id (0: no cache).

    >>> NearDuplicates(threshold=0.9)
    NearDuplicates(threshold=0.9, shingle=3, k=128, tokens=words)
    """

    def __init__(
        self,
        *,
        tokenizer: Tokenizer | None = None,
        threshold: float = 0.8,
        shingle: int = 3,
        k: int = 128,
        seed: int = 0,
        cache_size: int = 100_000,
    ) -> None:
        if tokenizer is not None and not isinstance(tokenizer, Tokenizer):
            raise InvalidInput(
                "tokenizer must be a covekit.Tokenizer or None (words), not "
                f"{type(tokenizer).__name__}"
            )
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not (0.0 <= threshold <= 1.0)
        ):
            raise InvalidInput(f"threshold must be a number in [0, 1], got {threshold!r}")
        if not isinstance(shingle, int) or shingle < 1:
            raise InvalidInput(f"shingle must be an int >= 1 (tokens), got {shingle!r}")
        if not isinstance(k, int) or not 1 <= k <= 4096:
            raise InvalidInput(f"k must be an int in [1, 4096], got {k!r}")
        self.tokenizer = tokenizer
        self.threshold = float(threshold)
        self.shingle = shingle
        self.k = k
        self.seed = int(seed)
        self._cache: OrderedDict[int, npt.NDArray[np.uint64]] = OrderedDict()
        self._cache_size = int(cache_size)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        tokens = "words" if self.tokenizer is None else repr(self.tokenizer.name)
        return (
            f"NearDuplicates(threshold={self.threshold:g}, shingle={self.shingle}, k={self.k}, "
            f"tokens={tokens})"
        )

    def _sketch(self, texts: Sequence[str]) -> npt.NDArray[np.uint64]:
        if self.tokenizer is None:
            return _core.minhash_words(texts, self.shingle, self.k, self.seed)
        return _core.minhash_texts(self.tokenizer._impl, texts, self.shingle, self.k, self.seed)

    def sketches(
        self, texts: Sequence[str], *, keys: Sequence[int] | None = None
    ) -> npt.NDArray[np.uint64]:
        """The (n, k) sketch matrix of ``texts``; with ``keys`` (chunk ids), cached."""
        if isinstance(texts, str):
            raise InvalidInput("texts must be a list of str, not a single str")
        if keys is None:
            return self._sketch(texts)
        if len(keys) != len(texts):
            raise InvalidInput(f"keys must have one entry per text ({len(texts)}), got {len(keys)}")
        out = np.empty((len(texts), self.k), dtype=np.uint64)
        missing: list[int] = []
        with self._lock:
            for i, key in enumerate(keys):
                row = self._cache.get(key)
                if row is None:
                    missing.append(i)
                else:
                    self._cache.move_to_end(key)
                    out[i] = row
        if missing:
            fresh = self._sketch([texts[i] for i in missing])
            out[missing] = fresh
            if self._cache_size:
                with self._lock:
                    for j, i in enumerate(missing):
                        self._cache[keys[i]] = fresh[j].copy()
                    while len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        return out

    def find(self, texts: Sequence[str], *, keys: Sequence[int] | None = None) -> list[int]:
        """Per text, the index of the earlier kept text it nearly duplicates, or -1."""
        if not len(texts):
            return []
        dup = _core.near_duplicates(self.sketches(texts, keys=keys), self.threshold)
        return [int(x) for x in dup]

    def similarity(self, a: str, b: str) -> float:
        """The estimated Jaccard similarity of two texts' token shingles."""
        m = self.sketches([a, b])
        return float(_core.minhash_similarity(m[0], m[1]))
