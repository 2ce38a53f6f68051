"""Byte-level BPE tokenization that gives exactly tiktoken's token ids, faster.

>>> import covekit
>>> enc = covekit.get_tokenizer("cl100k_base")
>>> enc.encode("hello world")
[15339, 1917]
>>> enc.decode([15339, 1917])
'hello world'
>>> enc.count("hello world")
2

Thread safety: a :class:`Tokenizer` is immutable; every method may be called from many
threads at once, and each releases the GIL while it works on text.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from covekit._core import SpecialPolicy as _SpecialPolicy
from covekit._core import Tokenizer as _Tokenizer
from covekit.data import encodings as _encodings
from covekit.errors import InvalidInput, TokenizerFileCorrupt, TokenNotFound

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Tokenizer", "get_tokenizer", "list_encodings", "tokenizer_for_model"]

PatternName = Literal["r50k", "cl100k", "o200k"]
SpecialSpec = Literal["all"] | Collection[str]
TokenIds = Sequence[int] | Any  # a sequence of ints or a 1-D numpy integer array

#: tiktoken's split regexes, so that a ``pat_str`` can name a pattern (old and new forms).
_PAT_STRS: dict[str, PatternName] = {
    r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s""": "r50k",
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""": "r50k",
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""": "cl100k",  # noqa: E501
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""": "cl100k",  # noqa: E501
    "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ): "o200k",
}

_T = TypeVar("_T")
_R = TypeVar("_R")


def _pattern_name(pattern: str) -> PatternName:
    if pattern in ("r50k", "cl100k", "o200k"):
        return pattern  # type: ignore[return-value]
    if pattern in _PAT_STRS:
        return _PAT_STRS[pattern]
    raise InvalidInput(
        f"unsupported pre-tokenizer pattern {pattern[:80]!r}: covekit splits text with "
        "hand-written scanners for tiktoken's patterns; pass pattern='r50k' (gpt2, r50k_base, "
        "p50k_base), 'cl100k' (cl100k_base) or 'o200k' (o200k_base), or one of those "
        "encodings' exact pat_str"
    )


def _surrogate_index_map(text: str) -> list[int] | None:
    """For text with surrogates: original index of each index of tiktoken's repaired text.

    The native code repairs such text as tiktoken does (``encode("utf-16",
    "surrogatepass").decode("utf-16", "replace")``): a surrogate pair becomes one
    character and a lone surrogate becomes U+FFFD. Returns None for ordinary text.
    """
    try:
        text.encode("utf-8")
        return None
    except UnicodeEncodeError:
        pass
    fixed = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    index: list[int] = []
    i = 0
    for ch in fixed:
        index.append(i)
        pair = ord(ch) > 0xFFFF and "\ud800" <= text[i] <= "\udbff"
        i += 2 if pair else 1
    index.append(i)
    return index


def _size(x: object) -> int:
    return len(x) if hasattr(x, "__len__") else 1


def _threads(num_threads: int) -> int:
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise InvalidInput(f"num_threads must be an int >= 1, got {num_threads!r}")
    return num_threads


def _batch_of(texts: Iterable[Any]) -> list[Any] | tuple[Any, ...]:
    return texts if isinstance(texts, list | tuple) else list(texts)


def _balanced_slices(items: list[_T], parts: int) -> list[list[_T]]:
    """Contiguous slices of ``items`` with about equal total length."""
    sizes = [_size(x) for x in items]
    total = sum(sizes) or 1
    target = total / parts
    slices: list[list[_T]] = []
    current: list[_T] = []
    acc = 0.0
    for item, size in zip(items, sizes, strict=True):
        current.append(item)
        acc += size
        if acc >= target and len(slices) < parts - 1:
            slices.append(current)
            current, acc = [], 0.0
    if current:
        slices.append(current)
    return slices


class Tokenizer:
    """A byte-level BPE tokenizer with exactly tiktoken's results.

    Get one by name with :func:`get_tokenizer`, by model with :func:`tokenizer_for_model`,
    or from a file with :meth:`Tokenizer.from_file`. Methods mirror tiktoken's
    ``Encoding``, plus :meth:`count`, :meth:`encode_with_offsets` and :meth:`truncate`.

    >>> enc = get_tokenizer("o200k_base")
    >>> enc.encode("<|endoftext|>", allowed_special="all")
    [199999]
    >>> enc.truncate("The quick brown fox jumps", 3)
    'The quick brown'

    Errors: :class:`~covekit.errors.DisallowedSpecialToken` when text holds a special
    token's text that was not allowed; :class:`~covekit.errors.InvalidTokenId` for ids
    outside the vocabulary; :class:`~covekit.errors.InvalidUtf8` for bytes that are not
    UTF-8; ``TypeError`` for arguments of the wrong type.

    Thread safety: immutable and safe to share between threads; every call releases
    the GIL while it works.
    """

    __slots__ = ("_default_policy", "_impl", "_policies", "_registered", "_special_tokens")

    def __init__(
        self, impl: _Tokenizer, *, explicit_n_vocab: int | None = None, registered: bool = False
    ) -> None:
        self._impl = impl
        self._registered = registered
        self._special_tokens: dict[str, int] = dict(impl.special_tokens)
        if explicit_n_vocab is not None:
            n = impl.mergeable_count + len(self._special_tokens)
            if n != explicit_n_vocab or impl.max_token_value != explicit_n_vocab - 1:
                raise TokenizerFileCorrupt(
                    f"encoding {impl.name!r} should have {explicit_n_vocab} tokens (ids 0.."
                    f"{explicit_n_vocab - 1}) but the data gives {n} (max id "
                    f"{impl.max_token_value}): the file is truncated or not the right one"
                )
        self._policies: dict[tuple[object, object], _SpecialPolicy] = {}
        self._default_policy = self._policy(frozenset(), "all")

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        pattern: str,
        special_tokens: Mapping[str, int] | None = None,
        name: str | None = None,
    ) -> Tokenizer:
        """Loads a ``.tiktoken`` file (``base64 rank`` per line).

        ``pattern`` is ``"r50k"``, ``"cl100k"`` or ``"o200k"`` (or tiktoken's exact
        ``pat_str`` for one of them).

        >>> import covekit, tempfile, pathlib
        >>> tok = covekit.get_tokenizer("r50k_base")
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> ranks = tok.mergeable_ranks()
        >>> import base64
        >>> _ = (folder / "mine.tiktoken").write_bytes(b"".join(
        ...     base64.b64encode(b) + b" %d\\n" % r for b, r in ranks.items()))
        >>> mine = covekit.Tokenizer.from_file(folder / "mine.tiktoken", pattern="r50k",
        ...                                    special_tokens={"<|endoftext|>": 50256})
        >>> mine.encode("hello world") == tok.encode("hello world")
        True
        """
        pattern_name = _pattern_name(pattern)
        p = Path(path)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            from covekit.errors import TokenizerDataMissing

            raise TokenizerDataMissing(f"no tokenizer file at {p}") from None
        impl = _Tokenizer.from_tiktoken_data(
            data, dict(special_tokens or {}), pattern_name, name or p.stem
        )
        return cls(impl)

    @classmethod
    def from_ranks(
        cls,
        mergeable_ranks: Mapping[bytes, int],
        *,
        pattern: str,
        special_tokens: Mapping[str, int] | None = None,
        name: str = "custom",
    ) -> Tokenizer:
        """Builds a tokenizer from ``{token bytes: rank}``, as tiktoken's ``Encoding`` does.

        >>> t = Tokenizer.from_ranks({bytes([b]): b for b in range(256)}, pattern="cl100k")
        >>> t.encode("hi")
        [104, 105]
        """
        impl = _Tokenizer.from_ranks(
            dict(mergeable_ranks), dict(special_tokens or {}), _pattern_name(pattern), name
        )
        return cls(impl)

    def __reduce__(self) -> tuple[Any, ...]:
        if self._registered:
            return (get_tokenizer, (self.name,))
        return (
            _rebuild,
            (self.name, self.pattern, self._impl.mergeable_ranks(), self._special_tokens),
        )

    def __repr__(self) -> str:
        return f"<covekit.Tokenizer {self.name!r} n_vocab={self.n_vocab}>"

    # ---------------------------------------------------------------- properties
    @property
    def name(self) -> str:
        """The encoding's name, e.g. ``"cl100k_base"``."""
        return self._impl.name

    @property
    def pattern(self) -> PatternName:
        """The pre-tokenizer pattern family: ``"r50k"``, ``"cl100k"`` or ``"o200k"``."""
        return self._impl.pattern  # type: ignore[return-value]

    @property
    def max_token_value(self) -> int:
        """The largest token id."""
        return self._impl.max_token_value

    @property
    def n_vocab(self) -> int:
        """``max_token_value + 1``, as in tiktoken."""
        return self._impl.max_token_value + 1

    @property
    def eot_token(self) -> int:
        """The id of ``<|endoftext|>``."""
        return self._special_tokens["<|endoftext|>"]

    @property
    def special_tokens_set(self) -> set[str]:
        """The texts of the special tokens."""
        return set(self._special_tokens)

    @property
    def special_tokens(self) -> dict[str, int]:
        """``{special token text: id}``."""
        return dict(self._special_tokens)

    def is_special_token(self, token: int) -> bool:
        """Whether ``token`` is the id of a special token.

        >>> enc = get_tokenizer("cl100k_base")
        >>> enc.is_special_token(100257), enc.is_special_token(15339)
        (True, False)
        """
        return self._impl.is_special(token) if 0 <= token < 2**32 - 1 else False

    # ---------------------------------------------------------------- policies
    def _policy(self, allowed: SpecialSpec, disallowed: SpecialSpec) -> _SpecialPolicy:
        akey: object = allowed if isinstance(allowed, str) else frozenset(allowed)
        dkey: object = disallowed if isinstance(disallowed, str) else frozenset(disallowed)
        key = (akey, dkey)
        policy = self._policies.get(key)
        if policy is None:
            policy = self._impl.policy(akey, dkey)
            if len(self._policies) < 64:
                self._policies[key] = policy
        return policy

    def _policy_for(self, allowed: SpecialSpec, disallowed: SpecialSpec) -> _SpecialPolicy:
        if not allowed and disallowed == "all":
            return self._default_policy
        return self._policy(allowed, disallowed)

    # ---------------------------------------------------------------- encoding
    @overload
    def encode(
        self,
        text: str,
        *,
        allowed_special: SpecialSpec = ...,
        disallowed_special: SpecialSpec = ...,
        as_numpy: Literal[False] = ...,
    ) -> list[int]: ...
    @overload
    def encode(
        self,
        text: str,
        *,
        allowed_special: SpecialSpec = ...,
        disallowed_special: SpecialSpec = ...,
        as_numpy: Literal[True],
    ) -> npt.NDArray[np.uint32]: ...
    def encode(
        self,
        text: str,
        *,
        allowed_special: SpecialSpec = frozenset(),
        disallowed_special: SpecialSpec = "all",
        as_numpy: bool = False,
    ) -> list[int] | npt.NDArray[np.uint32]:
        """Encodes text into token ids, with tiktoken's special-token rules.

        By default, text that spells a special token raises
        :class:`~covekit.errors.DisallowedSpecialToken`; ``allowed_special`` lists the
        ones to emit as special tokens (or ``"all"``), ``disallowed_special=()``
        encodes them as ordinary text. ``as_numpy=True`` returns a ``uint32`` array
        without copying. Lone surrogates are replaced by U+FFFD, as tiktoken does.

        >>> enc = get_tokenizer("cl100k_base")
        >>> enc.encode("hello <|endoftext|>", allowed_special={"<|endoftext|>"})
        [15339, 220, 100257]
        >>> enc.encode("<|endoftext|>", disallowed_special=())
        [27, 91, 8862, 728, 428, 91, 29]
        """
        ids: list[int] | npt.NDArray[np.uint32] = self._impl.encode(
            text, self._policy_for(allowed_special, disallowed_special), as_numpy
        )
        return ids

    def encode_ordinary(self, text: str, *, as_numpy: bool = False) -> Any:
        """Encodes text, treating special-token text as ordinary text.

        >>> get_tokenizer("cl100k_base").encode_ordinary("<|endoftext|>")
        [27, 91, 8862, 728, 428, 91, 29]
        """
        return self._impl.encode(text, None, as_numpy)

    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        """The id of text or bytes that form exactly one token (special or not).

        >>> get_tokenizer("cl100k_base").encode_single_token("hello")
        15339
        """
        if isinstance(text_or_bytes, str):
            if text_or_bytes in self._special_tokens:
                return self._special_tokens[text_or_bytes]
            data = text_or_bytes.encode("utf-8")
        else:
            data = bytes(text_or_bytes)
        rank = self._impl.lookup(data)
        if rank is None:
            raise TokenNotFound(
                f"{text_or_bytes!r} is not a single token of {self.name!r}; "
                "use encode() for text that may take several tokens"
            )
        return int(rank)

    def count(
        self,
        text: str,
        *,
        allowed_special: SpecialSpec = frozenset(),
        disallowed_special: SpecialSpec = "all",
    ) -> int:
        """Number of tokens ``encode`` would return, without building them.

        >>> get_tokenizer("o200k_base").count("hello world")
        2
        """
        return int(self._impl.count(text, self._policy_for(allowed_special, disallowed_special)))

    def encode_with_offsets(
        self,
        text: str,
        *,
        allowed_special: SpecialSpec = frozenset(),
        disallowed_special: SpecialSpec = "all",
        as_numpy: bool = False,
    ) -> tuple[Any, Any]:
        """Token ids and, for each, the ``str`` index where it starts.

        A token that starts inside a character (it holds only part of the character's
        UTF-8 bytes) gets that character's index, as tiktoken's ``decode_with_offsets``.

        >>> enc = get_tokenizer("cl100k_base")
        >>> ids, starts = enc.encode_with_offsets("hello world")
        >>> starts
        [0, 5]
        """
        ids, starts = self._impl.encode_with_offsets(
            text, self._policy_for(allowed_special, disallowed_special), as_numpy
        )
        if isinstance(text, str) and (index := _surrogate_index_map(text)) is not None:
            mapped = [index[s] for s in starts.tolist()] if as_numpy else [index[s] for s in starts]
            if as_numpy:
                import numpy as np

                return ids, np.asarray(mapped, dtype=np.int64)
            return ids, mapped
        return ids, starts

    def truncate(
        self,
        text: str,
        max_tokens: int,
        *,
        allowed_special: SpecialSpec = frozenset(),
        disallowed_special: SpecialSpec = "all",
    ) -> str:
        """The longest prefix of ``text`` that encodes, on its own, to at most
        ``max_tokens`` tokens, cut between characters (never inside one).

        Candidates are the character boundaries up to two tokens past the first
        ``max_tokens`` tokens of the text; each is checked by counting it alone, so
        ``count(result) <= max_tokens`` always holds.

        >>> get_tokenizer("cl100k_base").truncate("hello brave new world", 2)
        'hello brave'
        """
        if max_tokens < 0:
            raise InvalidInput(f"max_tokens must be >= 0, got {max_tokens}")
        end = self._impl.truncate(
            text, max_tokens, self._policy_for(allowed_special, disallowed_special)
        )
        if isinstance(text, str) and (index := _surrogate_index_map(text)) is not None:
            end = index[end]
        return text[:end]

    # ---------------------------------------------------------------- batches
    def _fan_out(self, fn: Any, items: Iterable[_T], num_threads: int) -> list[Any]:
        """``fn(part)`` over contiguous slices of ``items`` on ``num_threads`` threads."""
        batch = list(items)
        if _threads(num_threads) == 1 or len(batch) < 2:
            return list(fn(batch))
        # Contiguous slices of about equal size, each one GIL-free native call, handed
        # out largest first from a shared queue so that the threads finish together.
        slices = _balanced_slices(batch, min(num_threads * 8, len(batch)))
        todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in sorted(range(len(slices)), key=lambda i: -sum(map(_size, slices[i]))):
            todo.put(i)
        parts: list[Any] = [None] * len(slices)
        failed = threading.Event()

        def work() -> None:
            while not failed.is_set():
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    parts[i] = fn(slices[i])
                except BaseException:
                    failed.set()  # the other workers stop at their next slice
                    raise

        with ThreadPoolExecutor(max_workers=num_threads) as pool:
            futures = [pool.submit(work) for _ in range(min(num_threads, len(slices)))]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                # Ctrl-C (KeyboardInterrupt) or a worker's error: the other workers stop
                # after the slice in hand instead of finishing the batch.
                failed.set()
                raise
        return [x for part in parts for x in part]

    def encode_batch(
        self,
        texts: Iterable[str],
        *,
        num_threads: int = 8,
        allowed_special: SpecialSpec = frozenset(),
        disallowed_special: SpecialSpec = "all",
        as_numpy: bool = False,
    ) -> list[Any]:
        """Encodes many texts on ``num_threads`` threads; results in input order.

        >>> get_tokenizer("cl100k_base").encode_batch(["hello", "world"])
        [[15339], [14957]]
        """
        policy = self._policy_for(allowed_special, disallowed_special)
        return self._impl.encode_many(
            _batch_of(texts), policy, as_numpy, num_threads=_threads(num_threads)
        )

    def encode_ordinary_batch(
        self, texts: Iterable[str], *, num_threads: int = 8, as_numpy: bool = False
    ) -> list[Any]:
        """:meth:`encode_ordinary` of many texts on ``num_threads`` threads.

        >>> get_tokenizer("cl100k_base").encode_ordinary_batch(["<|endoftext|>"])[0][:2]
        [27, 91]
        """
        return self._impl.encode_many(
            _batch_of(texts), None, as_numpy, num_threads=_threads(num_threads)
        )

    def count_batch(
        self,
        texts: Iterable[str],
        *,
        num_threads: int = 8,
        allowed_special: SpecialSpec = frozenset(),
        disallowed_special: SpecialSpec = "all",
    ) -> list[int]:
        """Token counts of many texts on ``num_threads`` threads.

        >>> get_tokenizer("cl100k_base").count_batch(["hello world", ""])
        [2, 0]
        """
        policy = self._policy_for(allowed_special, disallowed_special)
        counts = self._impl.count_many(_batch_of(texts), policy, num_threads=_threads(num_threads))
        return counts.tolist()  # type: ignore[no-any-return]

    # ---------------------------------------------------------------- decoding
    def decode(self, tokens: TokenIds, errors: str = "replace") -> str:
        """Decodes ids to text; invalid UTF-8 follows ``errors`` (``"replace"`` by default).

        >>> get_tokenizer("cl100k_base").decode([15339, 1917])
        'hello world'
        """
        return self._impl.decode(tokens, errors)

    def decode_bytes(self, tokens: TokenIds) -> bytes:
        """Decodes ids to bytes.

        >>> get_tokenizer("cl100k_base").decode_bytes([15339, 1917])
        b'hello world'
        """
        return self._impl.decode_bytes(tokens)

    def decode_batch(
        self, batch: Iterable[TokenIds], *, errors: str = "replace", num_threads: int = 8
    ) -> list[str]:
        """Decodes many id sequences.

        >>> get_tokenizer("cl100k_base").decode_batch([[15339], [14957]])
        ['hello', 'world']
        """
        raw = self.decode_bytes_batch(batch, num_threads=num_threads)
        return [b.decode("utf-8", errors) for b in raw]

    def decode_bytes_batch(self, batch: Iterable[TokenIds], *, num_threads: int = 8) -> list[bytes]:
        """Decodes many id sequences to bytes.

        >>> get_tokenizer("cl100k_base").decode_bytes_batch([[15339]])
        [b'hello']
        """
        return self._fan_out(self._impl.decode_batch_bytes, batch, num_threads)

    def decode_single_token_bytes(self, token: int) -> bytes:
        """The bytes of one token.

        >>> get_tokenizer("cl100k_base").decode_single_token_bytes(15339)
        b'hello'
        """
        return self._impl.token_bytes(token)

    def decode_tokens_bytes(self, tokens: TokenIds) -> list[bytes]:
        """The bytes of each token.

        >>> get_tokenizer("cl100k_base").decode_tokens_bytes([15339, 1917])
        [b'hello', b' world']
        """
        return self._impl.tokens_bytes(tokens)

    def token_byte_values(self) -> list[bytes]:
        """The bytes of every mergeable token, sorted bytewise (as tiktoken's).

        >>> len(get_tokenizer("r50k_base").token_byte_values())
        50256
        """
        return sorted(self._impl.mergeable_ranks())

    def mergeable_ranks(self) -> dict[bytes, int]:
        """``{token bytes: rank}`` of the mergeable tokens (a copy).

        >>> get_tokenizer("r50k_base").mergeable_ranks()[b"hello"]
        31373
        """
        return self._impl.mergeable_ranks()


def _rebuild(
    name: str, pattern: str, ranks: dict[bytes, int], special_tokens: dict[str, int]
) -> Tokenizer:
    return Tokenizer.from_ranks(ranks, pattern=pattern, special_tokens=special_tokens, name=name)


_CACHE: dict[str, Tokenizer] = {}
_CACHE_LOCK = threading.Lock()


def _load(name: str, path: str | os.PathLike[str] | None) -> Tokenizer:
    spec, data = _encodings.load_encoding_data(name, path=path)
    if isinstance(data, bytes):
        impl = _Tokenizer.from_tiktoken_data(
            data, dict(spec.special_tokens), spec.pattern, spec.name
        )
    else:
        impl = _Tokenizer.from_ranks(data, dict(spec.special_tokens), spec.pattern, spec.name)
    return Tokenizer(impl, explicit_n_vocab=spec.explicit_n_vocab, registered=path is None)


def get_tokenizer(name: str, *, path: str | os.PathLike[str] | None = None) -> Tokenizer:
    """The tokenizer of a registered encoding, loaded once and shared (thread-safe).

    Encodings: ``gpt2``, ``r50k_base``, ``p50k_base``, ``p50k_edit``, ``cl100k_base``,
    ``o200k_base``, ``o200k_harmony``. Files are found as tiktoken finds them (see
    :mod:`covekit.data.encodings`); missing files raise
    :class:`~covekit.errors.TokenizerDataMissing` saying where to put them. ``path``
    names the file (or, for ``gpt2``, the folder) to read instead; such a tokenizer is
    loaded afresh, not cached.

    >>> get_tokenizer("cl100k_base") is get_tokenizer("cl100k_base")
    True
    """
    if path is not None:
        return _load(name, path)
    tok = _CACHE.get(name)
    if tok is not None:
        return tok
    with _CACHE_LOCK:
        tok = _CACHE.get(name)
        if tok is None:
            tok = _load(name, None)
            _CACHE[name] = tok
    return tok


def tokenizer_for_model(model: str) -> Tokenizer:
    """The tokenizer a model uses, by tiktoken's table of model names and prefixes.

    >>> tokenizer_for_model("gpt-4o").name
    'o200k_base'
    """
    return get_tokenizer(_encodings.encoding_name_for_model(model))


def list_encodings() -> list[str]:
    """Names accepted by :func:`get_tokenizer`.

    >>> "cl100k_base" in list_encodings()
    True
    """
    return _encodings.list_encodings()
