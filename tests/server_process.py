"""What the tests that start a real server as a subprocess share (llama.cpp's in
``llama_server.py``, Phoenix in ``phoenix_server.py``): a free loopback port, the tail
of the server's log for a failure message, and a stop that terminates, then kills."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

LOG_TAIL = 4000  # characters of a server's log quoted in a failure


def free_port() -> int:
    """A loopback port no one is listening on now (the server may still lose it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path) -> str:
    """The last LOG_TAIL characters of a log file ("(no log)" if it cannot be read)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return text[-LOG_TAIL:] if len(text) > LOG_TAIL else text


def stop(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Terminates ``proc``, then kills it if it has not exited within ``timeout``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
