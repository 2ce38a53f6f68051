"""Chat-client throughput: covekit.OpenAIChatModel vs the official ``openai`` client.

Both call the same loopback server, one client after the other: sync from 1 and from 8
threads, and async with 64 requests in flight (64 coroutines in a loop). Requests per
second are the best of 3 runs of 1,000 requests. The server runs in its own process on
127.0.0.1 and answers a fixed short completion: first tests/loopback_openai.py (the
ThreadingHTTPServer the tests use), then a one-thread asyncio server (``--serve``).
Both are pure Python, so both clients share their ceiling: the figures compare the
clients' overhead, not a real model server.

Run with ``make bench`` (pytest-benchmark collects the test function) or as a script
that prints the table::

    python tests/benchmarks/bench_client.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
for p in (_HERE, _HERE.parent):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import contextlib  # noqa: E402
import subprocess  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import covekit  # noqa: E402


def _serve_asyncio() -> None:
    """A one-thread asyncio HTTP/1.1 server with keep-alive that answers every request with
    the loopback server's default completion (run as ``bench_client.py --serve``)."""
    from loopback_openai import Reply, completion_body

    body = json.dumps(completion_body(Reply())).encode()
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                headers = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in headers.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                writer.write(head + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
        print(server.sockets[0].getsockname()[1], flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)
        server.close()

    asyncio.run(main())


@contextlib.contextmanager
def _server_process(kind: str = "threaded") -> Iterator[Any]:
    """A loopback server in its own process, so that it does not share the clients' GIL:
    ``"threaded"`` is tests/loopback_openai.py, ``"asyncio"`` the one-thread server above."""
    script = (
        [str(_HERE.parent / "loopback_openai.py")] if kind == "threaded" else [__file__, "--serve"]
    )
    proc = subprocess.Popen(
        [sys.executable, *script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield SimpleNamespace(base_url=f"http://127.0.0.1:{port}/v1")
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


ASK = [{"role": "user", "content": "Say hello."}]


def _threads(call: Callable[[], Any], threads: int, total: int) -> float:
    per = total // threads
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        for _ in range(per):
            call()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    return per * threads / (time.perf_counter() - start)


def _async(make: Callable[[], Any], total: int, concurrency: int) -> float:
    async def main() -> float:
        client, call, close = make()
        per = max(1, total // concurrency)

        async def worker(n: int) -> None:
            for _ in range(n):
                await call(client)

        await asyncio.gather(*(worker(1) for _ in range(concurrency)))  # open the pool
        start = time.perf_counter()
        await asyncio.gather(*(worker(per) for _ in range(concurrency)))
        rate = per * concurrency / (time.perf_counter() - start)
        await close(client)
        return rate

    return asyncio.run(main())


def measure(
    total: int = 1000, runs: int = 3, server_kind: str = "threaded"
) -> list[dict[str, Any]]:
    import openai

    rows = []
    with _server_process(server_kind) as server:
        ours = covekit.OpenAIChatModel(server.base_url, "m")
        theirs = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)

        def ours_call() -> Any:
            return ours.complete(ASK, max_tokens=16).text

        def theirs_call() -> Any:
            return theirs.chat.completions.create(model="m", messages=ASK, max_tokens=16).choices[0]

        for threads in (1, 8):
            for name, call in (("covekit", ours_call), ("openai", theirs_call)):
                call()
                best = max(_threads(call, threads, total) for _ in range(runs))
                rows.append(
                    {
                        "mode": f"sync, {threads} thread{'s' if threads > 1 else ''}",
                        "client": name,
                        "rps": best,
                    }
                )

        def ours_async() -> tuple[Any, Any, Any]:
            async def call(m: Any) -> Any:
                return (await m.acomplete(ASK, max_tokens=16)).text

            async def close(m: Any) -> None:
                await m.aclose()

            return ours, call, close

        def theirs_async() -> tuple[Any, Any, Any]:
            import httpx

            client = openai.AsyncOpenAI(
                base_url=server.base_url,
                api_key="x",
                max_retries=0,
                http_client=httpx.AsyncClient(limits=httpx.Limits(max_connections=100)),
            )

            async def call(c: Any) -> Any:
                r = await c.chat.completions.create(model="m", messages=ASK, max_tokens=16)
                return r.choices[0]

            async def close(c: Any) -> None:
                await c.close()

            return client, call, close

        for name, make in (("covekit", ours_async), ("openai", theirs_async)):
            best = max(_async(make, total, 64) for _ in range(runs))
            rows.append({"mode": "async, 64 concurrent", "client": name, "rps": best})
        ours.close()
        theirs.close()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    by_mode: dict[str, dict[str, float]] = {}
    for r in rows:
        by_mode.setdefault(r["mode"], {})[r["client"]] = r["rps"]
    lines = ["| mode | covekit req/s | openai req/s | covekit / openai |", "|---|---|---|---|"]
    for mode, v in by_mode.items():
        ratio = v["covekit"] / v["openai"]
        lines.append(f"| {mode} | {v['covekit']:,.0f} | {v['openai']:,.0f} | {ratio:.2f} |")
    return "\n".join(lines)


def test_client_throughput(benchmark: Any) -> None:
    rows = benchmark.pedantic(measure, kwargs={"total": 300, "runs": 1}, rounds=1, iterations=1)
    assert {r["client"] for r in rows} == {"covekit", "openai"}


if __name__ == "__main__":
    if "--serve" in sys.argv:
        _serve_asyncio()
    else:
        for kind in ("threaded", "asyncio"):
            print(f"\n{kind} loopback server:\n")
            print(table(measure(server_kind=kind)))
