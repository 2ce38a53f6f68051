"""Shared fixtures: the tokenizer files for the whole session, and covekit/tiktoken pairs.

When the shared data is present, the session gets a ``TIKTOKEN_CACHE_DIR`` of links to
the shared tokenizer files (tiktoken, the oracle, reads them offline from there) and
``COVEKIT_TOKENIZER_DIR`` pointing at the same files, so ``covekit.get_tokenizer`` and
every doctest find them. Both variables are restored at the end of the session. Tests
that change these variables themselves (``test_encoding_files.py``) do so with
``monkeypatch``, which restores the session's values after each test.

Hypothesis runs ``COVEKIT_MAX_EXAMPLES`` examples per property (default 200), with no
deadline.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import shared_data
from hypothesis import settings
from shared_data import ENCODING_NAMES

if TYPE_CHECKING:
    from covekit import Tokenizer

settings.register_profile(
    "covekit",
    max_examples=int(os.environ.get("COVEKIT_MAX_EXAMPLES", "200")),
    deadline=None,
)
settings.load_profile("covekit")


_SESSION_VARS = ("TIKTOKEN_CACHE_DIR", "COVEKIT_TOKENIZER_DIR")


@pytest.fixture(scope="session", autouse=True)
def _tokenizer_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point tiktoken and covekit at the shared tokenizer files for the session."""
    root = shared_data.data_root()
    if root is None or not (root / "tokenizers").is_dir():
        yield  # tests that need the files skip through shared_data
        return
    cache = shared_data.link_tiktoken_cache(tmp_path_factory.mktemp("tiktoken-cache"))
    saved = {var: os.environ.get(var) for var in _SESSION_VARS}
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    os.environ["COVEKIT_TOKENIZER_DIR"] = str(root / "tokenizers")
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def load_pair(name: str) -> tuple[Tokenizer, Any]:
    """``(covekit tokenizer, tiktoken encoding)`` of ``name``; skips without shared data.

    Must run while the session environment is in place (inside a test or fixture).
    """
    shared_data.tokenizer_dir()  # skips when the shared data is absent
    import covekit
    import tiktoken

    return covekit.get_tokenizer(name), tiktoken.get_encoding(name)


@pytest.fixture(scope="session", params=ENCODING_NAMES, ids=ENCODING_NAMES)
def enc_pair(request: pytest.FixtureRequest) -> tuple[Tokenizer, Any]:
    """Each encoding as ``(covekit tokenizer, tiktoken encoding)``."""
    return load_pair(request.param)


@pytest.fixture(scope="session")
def make_pair() -> Any:
    """A factory ``make_pair(name) -> (covekit tokenizer, tiktoken encoding)``."""
    return load_pair


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """llama.cpp's OpenAI-compatible server on a free loopback port, serving the tiny
    random-weight model (``tests/llama_server.py``), once per session; skips when
    ``llama_cpp`` is not installed."""
    import llama_server as server

    with server.serve(tmp_path_factory.mktemp("llama-server")) as running:
        yield running
