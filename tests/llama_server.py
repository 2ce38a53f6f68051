"""llama.cpp's OpenAI-compatible server (``llama-cpp-python[server]``) for the tests.

:func:`serve` writes the tiny random-weight model (:mod:`tiny_gguf`), starts
``python -m llama_cpp.server`` on a free loopback port, waits until ``/v1/models``
answers, and stops the server on exit (terminate, then kill). The ``llama_server``
fixture in ``conftest.py`` runs it once per session. When ``llama_cpp`` is not
installed the fixture skips, with the reason; ``make test`` installs it (the ``llm``
extra), so there it always runs. A server that does not come up is a failure that
quotes the server's log, never a hang: the wait is bounded.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import tiny_gguf
from server_process import free_port, stop, tail

#: The name the server gives the model (``--model_alias``), echoed in every reply.
MODEL_NAME = "tiny"
#: The longest wait for the server to answer (importing llama_cpp and loading the model
#: take about a second on an idle machine; a loaded CI box can be much slower).
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class LlamaServer:
    """A running server: ``base_url`` ends in ``/v1`` (what an OpenAI client takes)."""

    base_url: str
    port: int
    model: str
    model_path: Path
    log_path: Path
    start_seconds: float

    def log(self) -> str:
        """The server's output so far (llama.cpp's load log, uvicorn's access log)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def available() -> bool:
    """Whether ``llama_cpp`` is installed (without importing it)."""
    return importlib.util.find_spec("llama_cpp") is not None


def _start(model_path: Path, log_path: Path, port: int, n_ctx: int) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model", str(model_path),
        "--model_alias", MODEL_NAME,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        # one thread: the tiny model needs no more, and the machine is shared
        "--n_threads", "1",
        "--n_threads_batch", "1",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with log_path.open("wb") as log:
        # the log goes to a file, not a pipe: a full pipe would stall the server
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


def _wait_ready(proc: subprocess.Popen[bytes], base_url: str, deadline: float) -> str | None:
    """None once ``/v1/models`` answers 200; else why not (the server exited, or time)."""
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return f"the server exited with status {proc.returncode}"
            with contextlib.suppress(httpx.TransportError):
                if client.get(base_url + "/models").status_code == 200:
                    return None
            time.sleep(0.05)
    return f"the server did not answer /v1/models within {START_TIMEOUT_S:.0f} s"


@contextlib.contextmanager
def serve(workdir: Path, *, attempts: int = 3, n_ctx: int = 512) -> Iterator[LlamaServer]:
    """Writes the tiny model into ``workdir``, runs the server, yields it, stops it.

    A port taken between choosing it and the server binding it is retried on a new one
    (``attempts`` times); any other failure to start fails the test with the log.
    ``n_ctx`` is the server's context window in tokens (bytes, for this vocabulary): 512
    keeps the context-length tests short; a whole context of the demo needs ~4,096.
    """
    if not available():
        pytest.skip(
            "llama_cpp is not installed: pip install -e '.[llm]' (make test does) to run the "
            "tests against llama.cpp's server"
        )
    model_path = tiny_gguf.write_tiny_llama(workdir / "tiny.gguf")
    why = ""
    for attempt in range(attempts):
        port = free_port()
        log_path = workdir / f"server-{attempt}.log"
        base_url = f"http://127.0.0.1:{port}/v1"
        t0 = time.monotonic()
        proc = _start(model_path, log_path, port, n_ctx)
        try:
            why = _wait_ready(proc, base_url, t0 + START_TIMEOUT_S) or ""
            if not why:
                yield LlamaServer(
                    base_url, port, MODEL_NAME, model_path, log_path, time.monotonic() - t0
                )
                return
        finally:
            stop(proc, timeout=10)
        log = tail(log_path)
        if "address already in use" not in log.lower():
            break
    pytest.fail(
        f"llama.cpp's server did not start: {why}. Its log:\n{tail(log_path)}", pytrace=False
    )
