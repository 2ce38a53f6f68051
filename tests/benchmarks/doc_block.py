"""Rewrites a benchmark's generated block of docs/benchmarks.md (shared by the benches).

Each script owns the lines between ``<!-- BEGIN <script> --markdown -->`` and
``<!-- END <script> --markdown -->``; ``--update PATH`` replaces them and nothing else.
"""

from __future__ import annotations

from pathlib import Path


def markers(script: str) -> tuple[str, str]:
    """The BEGIN and END lines of ``script``'s block (``script`` as ``bench_x.py``)."""
    return f"<!-- BEGIN {script} --markdown -->", f"<!-- END {script} --markdown -->"


def update_block(path: Path, script: str, generated: str) -> None:
    """Replaces the lines between ``script``'s markers in ``path`` with ``generated``."""
    begin, end_marker = markers(script)
    text = Path(path).read_text(encoding="utf-8")
    start, end = text.find(begin), text.find(end_marker)
    if start < 0 or end < start:
        raise SystemExit(f"{path} has no {begin} ... {end_marker} block to replace")
    head = text[: start + len(begin)]
    Path(path).write_text(f"{head}\n\n{generated.strip()}\n\n{text[end:]}", encoding="utf-8")
