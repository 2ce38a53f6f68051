"""A request cache for models: :class:`RequestCache` (SQLite) and :class:`CachedModel`.

The key of a request is the XXH3-128 (:func:`covekit.hash.xxh3_128_hexdigest`) of the
canonical JSON (sorted keys, no whitespace) of the model's ``identity()`` (class, name,
model, server), the messages, every parameter (``max_tokens``, ``temperature``,
``seed``, ``stop``, ``tool_choice``), the tools, the ``response_format`` and ``sample``,
the repeat index: K samples of one request are K entries. The deadline is not part of
the key. Errors are never cached; a hit returns the stored reply with
``cache_hit=True``; entries older than ``ttl`` seconds are misses.

>>> import covekit
>>> model = covekit.ScriptedModel(["first", "second"])
>>> cached = covekit.CachedModel(model, covekit.RequestCache())
>>> ask = [{"role": "user", "content": "hi"}]
>>> cached(ask).text, cached(ask).text, cached(ask).cache_hit, len(model.calls)
('first', 'first', True, 1)
>>> cached.complete(ask, sample=1).text  # another sample, another entry
'second'

Storage: ``":memory:"`` (the default) or a file, in WAL mode. One RequestCache may be
used from many threads (one connection, behind a lock); several processes may share a
file (SQLite's locking; waiting at most ``busy_timeout`` seconds, then
:class:`~covekit.errors.RequestCacheLocked`). A file that is not a cache raises
:class:`~covekit.errors.RequestCacheCorrupt`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from covekit.data.cache import CacheStats
from covekit.errors import InvalidInput, RequestCacheCorrupt, RequestCacheError, RequestCacheLocked
from covekit.execution.model import ModelBase, StreamEvent
from covekit.execution.verdict import Message, ModelReply, ToolCall
from covekit.hash import xxh3_128_hexdigest

__all__ = ["CachedModel", "RequestCache", "request_key"]

_FORMAT = "covekit-request-cache-1"
_KEY_PARAMS = (
    "tools",
    "tool_choice",
    "response_format",
    "max_tokens",
    "temperature",
    "seed",
    "stop",
)


def _canonical(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def _default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value) if isinstance(value, tuple) else sorted(value)
    raise TypeError(f"a {type(value).__name__} cannot be part of a request-cache key")


def request_key(
    identity: Mapping[str, Any],
    messages: Sequence[Message],
    params: Mapping[str, Any],
    sample: int = 0,
) -> str:
    """The cache key of a request (see the module docs): 32 hex digits.

    >>> a = request_key({"name": "m"}, [{"role": "user", "content": "hi"}], {})
    >>> a == request_key({"name": "m"}, [{"content": "hi", "role": "user"}], {}), len(a)
    (True, 32)
    >>> a == request_key({"name": "m"}, [{"role": "user", "content": "hi"}], {}, sample=1)
    False
    """
    unknown = set(params) - set(_KEY_PARAMS)
    if unknown:
        raise InvalidInput(f"unknown request parameters: {sorted(unknown)}")
    request = {
        "model": dict(identity),
        "messages": [dict(m) for m in messages],
        "params": {k: params.get(k) for k in _KEY_PARAMS},
        "sample": sample,
    }
    try:
        text = _canonical(request)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"the request cannot be a cache key: {exc}") from None
    return xxh3_128_hexdigest(text)


def _encode(reply: ModelReply) -> str:
    data = dataclasses.asdict(reply)
    data.pop("cache_hit", None)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _decode(text: str) -> ModelReply:
    data = json.loads(text)
    data["tool_calls"] = tuple(ToolCall(**c) for c in data.get("tool_calls", ()))
    data["fallbacks"] = tuple(data.get("fallbacks", ()))
    return ModelReply(**data, cache_hit=True)


class RequestCache:
    """Model replies by request key, in SQLite (see the module docs).

    Args:
        path: ``":memory:"`` or a file (created with its folder when missing).
        ttl: seconds an entry lives (None: forever).
        busy_timeout: seconds to wait for another connection's lock.
        clock: the time in seconds (``time.time``; tests pass another).

    >>> import covekit
    >>> cache = covekit.RequestCache(ttl=60)
    >>> cache.put("k" * 32, covekit.ModelReply("hi"))
    >>> cache.get("k" * 32).cache_hit, cache.get("x" * 32), cache.stats.exact_hits
    (True, None, 1)
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        ttl: float | None = None,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl is not None and (not isinstance(ttl, int | float) or not ttl > 0):
            raise InvalidInput(f"ttl must be > 0 seconds or None, got {ttl!r}")
        if not isinstance(busy_timeout, int | float) or busy_timeout < 0:
            raise InvalidInput(f"busy_timeout must be >= 0 seconds, got {busy_timeout!r}")
        self.path = str(path)
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._stats = CacheStats()
        memory = self.path == ":memory:"
        if not memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout, check_same_thread=False, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise RequestCacheError(
                f"cannot open the request cache {self.path}: {exc}", path=self.path
            ) from exc
        self._run(lambda db: self._setup(db, memory))

    def _setup(self, db: sqlite3.Connection, memory: bool) -> None:
        if not memory:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS covekit_meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute(
            "CREATE TABLE IF NOT EXISTS covekit_requests "
            "(key TEXT PRIMARY KEY, reply TEXT NOT NULL, created REAL NOT NULL)"
        )
        db.execute("INSERT OR IGNORE INTO covekit_meta VALUES ('format', ?)", (_FORMAT,))
        row = db.execute("SELECT value FROM covekit_meta WHERE key = 'format'").fetchone()
        if row is None or row[0] != _FORMAT:
            raise RequestCacheCorrupt(
                f"{self.path} is a cache of another format ({row[0] if row else None!r}, "
                f"expected {_FORMAT!r}); delete it or use another path",
                path=self.path,
            )

    def _run(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._lock:
            try:
                return work(self._db)
            except RequestCacheError:
                raise
            except sqlite3.OperationalError as exc:
                message = str(exc)
                if "locked" in message or "busy" in message:
                    raise RequestCacheLocked(
                        f"the request cache {self.path} is locked by another connection: {message}",
                        path=self.path,
                    ) from exc
                raise self._corrupt(exc) from exc
            except sqlite3.DatabaseError as exc:
                raise self._corrupt(exc) from exc

    def _corrupt(self, exc: Exception) -> RequestCacheCorrupt:
        return RequestCacheCorrupt(
            f"the request cache {self.path} is not a usable SQLite database ({exc}); "
            "delete it or use another path",
            path=self.path,
        )

    def get(self, key: str) -> ModelReply | None:
        """The stored reply (``cache_hit=True``) or None (missing or expired)."""

        def work(db: sqlite3.Connection) -> ModelReply | None:
            row = db.execute(
                "SELECT reply, created FROM covekit_requests WHERE key = ?", (key,)
            ).fetchone()
            if row is not None and self.ttl is not None and self._clock() - row[1] >= self.ttl:
                db.execute("DELETE FROM covekit_requests WHERE key = ?", (key,))
                self._stats.expirations += 1
                row = None
            if row is None:
                self._stats.misses += 1
                return None
            try:
                reply = _decode(row[0])
            except (ValueError, TypeError) as exc:
                raise RequestCacheCorrupt(
                    f"the request cache {self.path} holds an unreadable entry {key}: {exc}",
                    path=self.path,
                ) from exc
            self._stats.exact_hits += 1
            return reply

        result: ModelReply | None = self._run(work)
        return result

    def put(self, key: str, reply: ModelReply) -> None:
        """Stores ``reply`` under ``key`` (replacing an older one)."""
        if not isinstance(reply, ModelReply):
            raise InvalidInput(
                f"a request cache stores ModelReply objects, not {type(reply).__name__}"
            )
        text = _encode(reply)

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO covekit_requests VALUES (?, ?, ?)",
                (key, text, self._clock()),
            )
            self._stats.puts += 1

        self._run(work)

    def __len__(self) -> int:
        count: int = self._run(
            lambda db: db.execute("SELECT COUNT(*) FROM covekit_requests").fetchone()[0]
        )
        return count

    @property
    def stats(self) -> CacheStats:
        """Hits (``exact_hits``), misses, puts and expirations since it was made or cleared."""
        with self._lock:
            return dataclasses.replace(self._stats)

    def clear(self) -> None:
        """Removes every entry and resets the stats."""

        def work(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM covekit_requests")
            self._stats = CacheStats()

        self._run(work)

    def close(self) -> None:
        """Closes the database."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> RequestCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RequestCache({self.path!r}, ttl={self.ttl!r})"


class CachedModel(ModelBase):
    """A model whose replies are kept in a :class:`RequestCache` (see the module docs).

    A streamed request that hits the cache streams the stored text as one event; one that
    misses streams from the model and stores the reply once the stream has completed.

    >>> import covekit
    >>> m = covekit.CachedModel(covekit.ScriptedModel(["x"]), covekit.RequestCache())
    >>> [e.delta for e in m.stream([])], [e.delta for e in m.stream([])]
    (['x', ''], ['x'])
    """

    def __init__(self, model: ModelBase, cache: RequestCache) -> None:
        if not isinstance(model, ModelBase):
            raise InvalidInput(f"CachedModel needs a covekit.ModelBase, not {type(model).__name__}")
        if not isinstance(cache, RequestCache):
            raise InvalidInput(
                f"CachedModel needs a covekit.RequestCache, not {type(cache).__name__}"
            )
        self.model = model
        self.cache = cache
        self.name = model.name

    def identity(self) -> dict[str, Any]:
        """The wrapped model's identity (a cache does not change what answers).

        >>> import covekit
        >>> m = covekit.CachedModel(covekit.ScriptedModel([]), covekit.RequestCache())
        >>> m.identity()["class"]
        'ScriptedModel'
        """
        return self.model.identity()

    def key(self, messages: Sequence[Message], **params: Any) -> str:
        """The cache key of a request.

        >>> import covekit
        >>> m = covekit.CachedModel(covekit.ScriptedModel([]), covekit.RequestCache())
        >>> m.key([], max_tokens=5) != m.key([], max_tokens=6)
        True
        """
        params = dict(params)
        params.pop("deadline", None)
        sample = params.pop("sample", 0)
        return request_key(self.model.identity(), messages, params, sample)

    def complete(self, messages: Sequence[Message], **params: Any) -> ModelReply:
        """The cached reply, or the model's (then stored).

        >>> import covekit
        >>> covekit.CachedModel(covekit.ScriptedModel(["y"]), covekit.RequestCache())([]).text
        'y'
        """
        key = self.key(messages, **params)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        reply = self.model.complete(messages, **params)
        self.cache.put(key, reply)
        return reply

    async def acomplete(self, messages: Sequence[Message], **params: Any) -> ModelReply:
        """:meth:`complete`, awaiting the model's ``acomplete`` on a miss.

        >>> import asyncio, covekit
        >>> m = covekit.CachedModel(covekit.ScriptedModel(["y"]), covekit.RequestCache())
        >>> asyncio.run(m.acomplete([])).text
        'y'
        """
        key = self.key(messages, **params)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        reply = await self.model.acomplete(messages, **params)
        self.cache.put(key, reply)
        return reply

    def stream(self, messages: Sequence[Message], **params: Any) -> Iterator[StreamEvent]:
        """A hit as one event; a miss streamed from the model, stored when complete.

        >>> import covekit
        >>> m = covekit.CachedModel(covekit.ScriptedModel(["z"]), covekit.RequestCache())
        >>> [e.reply.cache_hit for e in m.stream([]) if e.reply]
        [False]
        """
        key = self.key(messages, **params)
        hit = self.cache.get(key)
        if hit is not None:
            yield StreamEvent(hit.text, hit)
            return
        for event in self.model.stream(messages, **params):
            if event.reply is not None:
                self.cache.put(key, event.reply)
            yield event

    async def astream(
        self, messages: Sequence[Message], **params: Any
    ) -> AsyncIterator[StreamEvent]:
        """:meth:`stream`, asynchronous.

        >>> import inspect, covekit
        >>> inspect.isasyncgenfunction(covekit.CachedModel.astream)
        True
        """
        key = self.key(messages, **params)
        hit = self.cache.get(key)
        if hit is not None:
            yield StreamEvent(hit.text, hit)
            return
        async for event in self.model.astream(messages, **params):
            if event.reply is not None:
                self.cache.put(key, event.reply)
            yield event
