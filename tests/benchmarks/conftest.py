"""Set-up of the tokenizer benchmarks (``make bench``).

The benchmarks read the encoding files from ``shared/data/tokenizers`` and nothing else:
``COVEKIT_TOKENIZER_DIR`` points covekit there, and ``TIKTOKEN_CACHE_DIR`` points
tiktoken at a folder of links named as tiktoken's cache names them. Both are set for the
whole session and again for every test, so this works whether or not ``tests/conftest.py``
sets them too (or resets the environment per test). ``COVEKIT_OFFLINE=1``: a benchmark
never downloads.

``bench_results`` is where the benchmarks leave their measurements; the ratio tables
are printed in the terminal summary.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_TESTS = str(Path(__file__).resolve().parent.parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from shared_data import link_tiktoken_cache, tokenizer_dir  # noqa: E402

_RESULTS = pytest.StashKey[dict[str, Any]]()


@pytest.fixture(scope="session")
def bench_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The variables that point covekit and tiktoken at the shared tokenizer files."""
    values = {
        "COVEKIT_TOKENIZER_DIR": str(tokenizer_dir()),
        "TIKTOKEN_CACHE_DIR": str(link_tiktoken_cache(tmp_path_factory.mktemp("tiktoken-cache"))),
        "COVEKIT_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield values
    for key, old in saved.items():
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


@pytest.fixture(autouse=True)
def _bench_env_per_test(bench_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in bench_env.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="session")
def bench_results(pytestconfig: pytest.Config) -> dict[str, Any]:
    """A dict shared by the benchmarks; ``"report"`` (a callable returning text) is
    printed at the end of the run."""
    return pytestconfig.stash.setdefault(_RESULTS, {})


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    store = config.stash.get(_RESULTS, None)
    if not store or "report" not in store:
        return
    text = store["report"]()
    if text:
        terminalreporter.section("covekit tokenizer benchmarks")
        for line in text.splitlines():
            terminalreporter.write_line(line)
