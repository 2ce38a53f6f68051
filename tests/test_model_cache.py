"""RequestCache and CachedModel: keys, hits, TTL, errors never cached, bad files, threads."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import covekit
import pytest
from covekit.errors import InvalidInput, ModelServerError, RequestCacheCorrupt, RequestCacheLocked
from covekit.execution.model_cache import request_key
from hypothesis import given, settings
from hypothesis import strategies as st

ASK = [{"role": "user", "content": "hi"}]
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


def cached(
    *replies: object, cache: covekit.RequestCache | None = None
) -> tuple[covekit.CachedModel, covekit.ScriptedModel]:
    model = covekit.ScriptedModel(list(replies))  # type: ignore[arg-type]
    return covekit.CachedModel(model, cache if cache is not None else covekit.RequestCache()), model


def test_hit_miss_and_stats() -> None:
    m, inner = cached(
        covekit.ModelReply(
            "a",
            prompt_tokens=3,
            tool_calls=(covekit.ToolCall("c", "f", "{}"),),
            fallbacks=("x: down",),
        )
    )
    first = m(ASK)
    second = m(ASK)
    assert not first.cache_hit and second.cache_hit and len(inner.calls) == 1
    assert (
        second.text == "a" and second.prompt_tokens == 3 and second.tool_calls == first.tool_calls
    )
    assert second.fallbacks == ("x: down",)
    stats = m.cache.stats
    assert (stats.exact_hits, stats.misses, stats.puts) == (1, 1, 1) and len(m.cache) == 1
    m.cache.clear()
    assert len(m.cache) == 0 and m.cache.stats.exact_hits == 0


BASE = {
    "tools": TOOLS,
    "tool_choice": "auto",
    "response_format": {"type": "object"},
    "max_tokens": 5,
    "temperature": 0.0,
    "seed": 1,
    "stop": ["\n"],
}
CHANGES = {
    "tools": [],
    "tool_choice": "none",
    "response_format": {"type": "array"},
    "max_tokens": 6,
    "temperature": 0.5,
    "seed": 2,
    "stop": ["."],
}


@pytest.mark.parametrize("part", sorted(CHANGES))
def test_every_parameter_changes_the_key(part: str) -> None:
    ident = {"class": "X", "name": "m"}
    assert request_key(ident, ASK, BASE) != request_key(ident, ASK, {**BASE, part: CHANGES[part]})


def test_model_messages_and_sample_change_the_key() -> None:
    ident = {"class": "X", "name": "m", "base_url": "http://a"}
    key = request_key(ident, ASK, BASE)
    assert key != request_key({**ident, "base_url": "http://b"}, ASK, BASE)
    assert key != request_key({**ident, "name": "n"}, ASK, BASE)
    assert key != request_key(ident, [{"role": "user", "content": "hi "}], BASE)
    assert key != request_key(ident, ASK, BASE, sample=1)
    assert key == request_key(dict(reversed(ident.items())), ASK, dict(reversed(BASE.items())))
    a = covekit.OpenAIChatModel("http://a/v1", "m")
    b = covekit.OpenAIChatModel("http://b/v1", "m")
    cache = covekit.RequestCache()
    assert covekit.CachedModel(a, cache).key(ASK) != covekit.CachedModel(b, cache).key(ASK)


def test_deadline_is_not_part_of_the_key_and_bad_params() -> None:
    m, _ = cached("x")
    assert m.key(ASK, deadline=covekit.Deadline(5)) == m.key(ASK)
    with pytest.raises(InvalidInput, match="unknown"):
        m.key(ASK, top_k=3)
    with pytest.raises(InvalidInput):
        m.key([{"role": "user", "content": object()}])


def test_samples_are_separate_entries() -> None:
    m, inner = cached("one", "two", "three")
    texts = [m.complete(ASK, sample=k).text for k in (0, 1, 2, 0, 1, 2)]
    assert texts == ["one", "two", "three"] * 2 and len(inner.calls) == 3


def test_errors_are_never_cached() -> None:
    m, inner = cached(ModelServerError("down"), "ok")
    with pytest.raises(ModelServerError):
        m(ASK)
    assert len(m.cache) == 0
    assert m(ASK).text == "ok" and m(ASK).cache_hit and len(inner.calls) == 2


def test_ttl() -> None:
    now = [1000.0]
    cache = covekit.RequestCache(ttl=10, clock=lambda: now[0])
    m, inner = cached("old", "new", cache=cache)
    assert m(ASK).text == "old"
    now[0] += 9.9
    assert m(ASK).cache_hit
    now[0] += 0.2
    r = m(ASK)
    assert (
        r.text == "new"
        and not r.cache_hit
        and cache.stats.expirations == 1
        and len(inner.calls) == 2
    )
    with pytest.raises(InvalidInput):
        covekit.RequestCache(ttl=0)


def test_file_cache_persists_and_is_wal(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "cache.sqlite"
    with covekit.RequestCache(path) as cache:
        m, _ = cached("stored ✓", cache=cache)
        m(ASK)
    with covekit.RequestCache(path) as cache:
        m, inner = cached(cache=cache)
        assert m(ASK).text == "stored ✓" and inner.calls == []
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    "content", [b"not a database" * 200, b"SQLite format 3\x00" + b"\xff" * 2000]
)
def test_corrupt_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.sqlite"
    path.write_bytes(content)
    with pytest.raises(RequestCacheCorrupt, match="not a usable SQLite database") as info:
        covekit.RequestCache(path)
    assert info.value.path == str(path) and isinstance(info.value, ValueError)


def test_foreign_database_and_bad_entry(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE covekit_meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT INTO covekit_meta VALUES ('format', 'something-else')")
    with pytest.raises(RequestCacheCorrupt, match="another format"):
        covekit.RequestCache(path)
    good = tmp_path / "good.sqlite"
    cache = covekit.RequestCache(good)
    with sqlite3.connect(good) as db:
        db.execute("INSERT INTO covekit_requests VALUES ('k', '{broken', 0)")
    with pytest.raises(RequestCacheCorrupt, match="unreadable entry k"):
        cache.get("k")
    cache.close()


def test_locked_database(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite"
    covekit.RequestCache(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(RequestCacheLocked, match="locked"):
            cache = covekit.RequestCache(path, busy_timeout=0.05)
            cache.put("k", covekit.ModelReply("x"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_bad_put() -> None:
    with pytest.raises(InvalidInput):
        covekit.RequestCache().put("k", "text")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        covekit.CachedModel(lambda m: "x", covekit.RequestCache())  # type: ignore[arg-type]


def test_streaming_through_the_cache() -> None:
    m, inner = cached("streamed words here")
    first = list(m.stream(ASK))
    assert len(first) > 1 and first[-1].reply is not None and not first[-1].reply.cache_hit
    again = list(m.stream(ASK))
    assert [e.delta for e in again] == ["streamed words here"]
    assert again[0].reply is not None and again[0].reply.cache_hit and len(inner.calls) == 1


def test_async_paths() -> None:
    m, inner = cached("a")

    async def main() -> tuple[covekit.ModelReply, covekit.ModelReply, list[covekit.StreamEvent]]:
        first = await m.acomplete(ASK)
        second = await m.acomplete(ASK)
        events = [e async for e in m.astream(ASK)]
        return first, second, events

    first, second, events = asyncio.run(main())
    assert not first.cache_hit and second.cache_hit and events[0].reply.cache_hit  # type: ignore[union-attr]
    assert len(inner.calls) == 1


def test_threads(tmp_path: Path) -> None:
    cache = covekit.RequestCache(tmp_path / "t.sqlite")
    model = covekit.ScriptedModel([(lambda t: True, "same")])
    m = covekit.CachedModel(model, cache)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(40):
                assert m([{"role": "user", "content": str(j % 10)}]).text == "same"
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(cache) == 10
    stats = cache.stats
    assert stats.exact_hits + stats.misses == 320 and stats.exact_hits >= 320 - 80
    cache.close()


@settings(deadline=None, max_examples=50)
@given(st.text(max_size=50), st.integers(0, 5), st.text(max_size=20))
def test_round_trip(content: str, sample: int, text: str) -> None:
    m, _ = cached(text)
    messages = [{"role": "user", "content": content}]
    assert m.complete(messages, sample=sample).text == text
    hit = m.complete(messages, sample=sample)
    assert hit.cache_hit and hit.text == text
