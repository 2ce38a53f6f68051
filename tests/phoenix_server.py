"""A real Arize Phoenix server (``arize-phoenix`` from PyPI) for the export tests.

:func:`serve` starts ``python -m phoenix.server.main serve`` on a free loopback port,
with its OTLP gRPC receiver on another free port, a temporary working directory (its
SQLite database lives there) and telemetry off; waits until ``/healthz`` answers; and
stops the server on exit (terminate, then kill). When Phoenix is not installed the
caller skips, with the reason; ``make test`` installs it (the dev extra). A server that
does not come up is a failure that quotes the server's log, never a hang: the wait is
bounded.

Phoenix's REST API: ``GET /v1/projects/{project}/spans`` lists a project's spans
(``data``, ``next_cursor``), each with ``context.trace_id``, ``context.span_id``,
``parent_id``, ``span_kind``, ``status_code`` and the flat ``attributes``; the GraphQL
API (``/graphql``) counts a project's spans (``recordCount``).
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
from typing import Any

import httpx
import pytest
from server_process import free_port, stop, tail

#: The longest wait for the server to answer: Phoenix creates its database (migrations)
#: on the first start, about 15 s on an idle 2-core machine; a loaded box is slower.
START_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class PhoenixServer:
    """A running server: ``url`` is its root (``http://127.0.0.1:PORT``)."""

    url: str
    port: int
    grpc_port: int
    workdir: Path
    log_path: Path
    start_seconds: float

    @property
    def traces_endpoint(self) -> str:
        """Where OTLP/HTTP spans go."""
        return self.url + "/v1/traces"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def spans(self, project: str, *, trace_id: str | None = None) -> list[dict[str, Any]]:
        """Every span of ``project`` (all pages), through the REST API; only those of
        ``trace_id`` when given."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        with httpx.Client(timeout=30.0) as client:
            while True:
                params: dict[str, Any] = {"limit": 1000}
                if cursor:
                    params["cursor"] = cursor
                r = client.get(f"{self.url}/v1/projects/{project}/spans", params=params)
                if r.status_code == 404:  # the project does not exist (yet)
                    return []
                r.raise_for_status()
                body = r.json()
                out.extend(body["data"])
                cursor = body.get("next_cursor")
                if not cursor:
                    break
        if trace_id is not None:
            out = [s for s in out if s["context"]["trace_id"] == trace_id]
        return out

    def span_count(self, project: str) -> int:
        """How many spans ``project`` holds (GraphQL ``recordCount``: one cheap query;
        listing every span while Phoenix ingests would slow its ingestion down)."""
        query = "{ projects { edges { node { name recordCount } } } }"
        r = httpx.post(f"{self.url}/graphql", json={"query": query}, timeout=30.0)
        r.raise_for_status()
        for edge in r.json()["data"]["projects"]["edges"]:
            if edge["node"]["name"] == project:
                return int(edge["node"]["recordCount"])
        return 0

    def wait_for_spans(
        self, project: str, n: int, *, trace_id: str | None = None, timeout_s: float = 60.0
    ) -> list[dict[str, Any]]:
        """The spans once ``project`` holds at least ``n`` (Phoenix inserts received
        spans in the background); whatever is there after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while self.span_count(project) < n and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.spans(project, trace_id=trace_id)


def available() -> bool:
    """Whether Phoenix is installed (without importing it)."""
    # find_spec("phoenix.server") would import the package (all of Phoenix, with its
    # import-time warnings): look for the subpackage's folder instead
    spec = importlib.util.find_spec("phoenix")
    return spec is not None and any(
        (Path(p) / "server" / "__init__.py").is_file()
        for p in spec.submodule_search_locations or ()
    )


def _start(workdir: Path, log_path: Path, port: int, grpc_port: int) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        PHOENIX_WORKING_DIR=str(workdir),
        PHOENIX_HOST="127.0.0.1",
        PHOENIX_PORT=str(port),
        PHOENIX_GRPC_PORT=str(grpc_port),
        PHOENIX_TELEMETRY_ENABLED="false",
    )
    # a database URL from the environment would point the server elsewhere
    env.pop("PHOENIX_SQL_DATABASE_URL", None)
    cmd = [sys.executable, "-m", "phoenix.server.main", "serve"]
    with log_path.open("wb") as log:
        # the log goes to a file, not a pipe: a full pipe would stall the server
        return subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(workdir)
        )


def _wait_ready(proc: subprocess.Popen[bytes], url: str, deadline: float) -> str | None:
    """None once ``/healthz`` answers 200; else why not (the server exited, or time)."""
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return f"the server exited with status {proc.returncode}"
            with contextlib.suppress(httpx.TransportError):
                if client.get(url + "/healthz").status_code == 200:
                    return None
            time.sleep(0.1)
    return f"the server did not answer /healthz within {START_TIMEOUT_S:.0f} s"


@contextlib.contextmanager
def serve(workdir: Path, *, attempts: int = 3) -> Iterator[PhoenixServer]:
    """Runs Phoenix with its working directory in ``workdir``, yields it, stops it.

    A port taken between choosing it and the server binding it is retried on new ports
    (``attempts`` times); any other failure to start fails the test with the log.
    """
    if not available():
        pytest.skip(
            "arize-phoenix is not installed: pip install -e '.[dev]' (make test does) to run "
            "the export tests against a real Phoenix server"
        )
    why = ""
    log_path = workdir / "phoenix-0.log"
    for attempt in range(attempts):
        port, grpc_port = free_port(), free_port()
        while grpc_port == port:
            grpc_port = free_port()
        home = workdir / f"phoenix-{attempt}"
        home.mkdir(parents=True, exist_ok=True)
        log_path = workdir / f"phoenix-{attempt}.log"
        url = f"http://127.0.0.1:{port}"
        t0 = time.monotonic()
        proc = _start(home, log_path, port, grpc_port)
        try:
            why = _wait_ready(proc, url, t0 + START_TIMEOUT_S) or ""
            if not why:
                yield PhoenixServer(url, port, grpc_port, home, log_path, time.monotonic() - t0)
                return
        finally:
            stop(proc)
        if "address already in use" not in tail(log_path).lower():
            break
    pytest.fail(f"Phoenix did not start: {why}. Its log:\n{tail(log_path)}", pytrace=False)
