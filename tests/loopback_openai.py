"""A real OpenAI-compatible chat server on a free loopback port, scriptable per request.

``LoopbackOpenAI`` runs a ``ThreadingHTTPServer`` (HTTP/1.1, keep-alive) on 127.0.0.1
that answers ``POST /v1/chat/completions``. Each request takes the next step pushed with
:meth:`LoopbackOpenAI.push` (or the default step when none is queued):

- ``Reply(text, tool_calls=..., usage=...)``: a normal completion; when the request asks
  for ``stream: true`` the same reply is sent as SSE chunks (text in small deltas,
  tool-call arguments in pieces, ``finish_reason`` then a usage chunk with empty
  ``choices`` when ``stream_options.include_usage`` is set, then ``[DONE]``);
  ``truncate_after=n`` closes the connection after n events; ``malformed_at=n`` sends a
  broken event there;
- ``Status(code, body, headers)``: an error status (429 with ``Retry-After``, 500, ...);
- ``Raw(body, content_type)``: any body with status 200 (malformed JSON);
- ``Slow(seconds, then)``: waits, then does ``then``;
- ``Drop()``: closes the connection without answering.

Every request is recorded (``server.requests``: path, headers, decoded JSON body). The
replies follow OpenAI's protocol closely enough that the official ``openai`` package
parses them into its own types (tests/test_openai_client.py checks that).
"""

from __future__ import annotations

import collections
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    text: str = "hello"
    tool_calls: list[tuple[str, str, str]] = field(default_factory=list)  # (id, name, args)
    finish_reason: str | None = None  # default: "tool_calls" with calls, else "stop"
    prompt_tokens: int = 7
    completion_tokens: int = 3
    cached_tokens: int | None = 2
    model: str = "loopback-model"
    truncate_after: int | None = None
    malformed_at: int | None = None
    chunk_size: int = 3
    no_finish: bool = False  # stream: send [DONE] but never a finish_reason


@dataclass
class Status:
    code: int
    body: str = '{"error": {"message": "scripted error", "type": "server_error"}}'
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Raw:
    body: bytes
    content_type: str = "application/json"
    status: int = 200


@dataclass
class Slow:
    seconds: float
    then: Any = None


@dataclass
class Drop:
    pass


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any
    client: tuple[str, int] = ("", 0)  # the client's address and port


def _usage(r: Reply) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "total_tokens": r.prompt_tokens + r.completion_tokens,
    }
    if r.cached_tokens is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": r.cached_tokens}
    return usage


def completion_body(r: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": r.text if r.text or not r.tool_calls else None,
    }
    if r.tool_calls:
        message["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
            for cid, name, args in r.tool_calls
        ]
    finish = r.finish_reason or ("tool_calls" if r.tool_calls else "stop")
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": r.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": _usage(r),
    }


def stream_events(r: Reply, include_usage: bool) -> list[str]:
    """The SSE ``data`` payloads of a streamed reply, ``[DONE]`` last."""
    base = {
        "id": "chatcmpl-loopback",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": r.model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        return json.dumps(
            {
                **base,
                "choices": [
                    {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
                ],
            }
        )

    events = [chunk({"role": "assistant", "content": ""})]
    for i in range(0, len(r.text), r.chunk_size):
        events.append(chunk({"content": r.text[i : i + r.chunk_size]}))
    for index, (cid, name, args) in enumerate(r.tool_calls):
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": cid,
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        for i in range(0, len(args), r.chunk_size):
            events.append(
                chunk(
                    {
                        "tool_calls": [
                            {"index": index, "function": {"arguments": args[i : i + r.chunk_size]}}
                        ]
                    }
                )
            )
    if not r.no_finish:
        events.append(chunk({}, r.finish_reason or ("tool_calls" if r.tool_calls else "stop")))
    if include_usage:
        events.append(json.dumps({**base, "choices": [], "usage": _usage(r)}))
    events.append("[DONE]")
    return events


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        owner = self.server.owner
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner._record(Recorded(self.path, headers, body, tuple(self.client_address[:2])))
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, b'{"error": {"message": "not found"}}')
            return
        step = owner._next_step()
        self._do(step, body if isinstance(body, dict) else {})

    def _send(
        self,
        code: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _do(self, step: Any, body: dict[str, Any]) -> None:
        if isinstance(step, Slow):
            time.sleep(step.seconds)
            self._do(step.then if step.then is not None else Reply(), body)
        elif isinstance(step, Status):
            self._send(step.code, step.body.encode(), headers=step.headers)
        elif isinstance(step, Raw):
            self._send(step.status, step.body, step.content_type)
        elif isinstance(step, Drop):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif isinstance(step, Reply):
            if body.get("stream"):
                include = bool((body.get("stream_options") or {}).get("include_usage"))
                self._stream(step, include)
            else:
                self._send(200, json.dumps(completion_body(step)).encode())
        else:
            raise TypeError(f"unknown step {step!r}")

    def _stream(self, r: Reply, include_usage: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        events = stream_events(r, include_usage)
        for i, data in enumerate(events):
            if r.truncate_after is not None and i >= r.truncate_after:
                break
            if r.malformed_at is not None and i == r.malformed_at:
                data = '{"choices": [{"delta": {"content": "x"'  # cut JSON
            self.wfile.write(f"data: {data}\n\n".encode())
            self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True
    owner: LoopbackOpenAI


class LoopbackOpenAI:
    """The server (see the module docs). Use as a context manager or start()/stop()."""

    def __init__(self, default: Any = None) -> None:
        self.default = default if default is not None else Reply()
        self._steps: collections.deque[Any] = collections.deque()
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread: threading.Thread | None = None

    def push(self, *steps: Any) -> LoopbackOpenAI:
        with self._lock:
            self._steps.extend(steps)
        return self

    def reset(self) -> None:
        with self._lock:
            self._steps.clear()
            self.requests.clear()

    def _next_step(self) -> Any:
        with self._lock:
            return self._steps.popleft() if self._steps else self.default

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def start(self) -> LoopbackOpenAI:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def running() -> Iterator[LoopbackOpenAI]:
    """A generator for a pytest fixture: ``yield from running()``."""
    server = LoopbackOpenAI().start()
    try:
        yield server
    finally:
        server.stop()


if (
    __name__ == "__main__"
):  # a server in its own process (the benchmark): port on stdout, stop on stdin EOF
    import sys

    with LoopbackOpenAI() as srv:
        print(srv.port, flush=True)
        sys.stdin.read()
