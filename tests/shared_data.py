"""The one way tests reach ``../shared/data`` (data no one here wrote).

``COVEKIT_TEST_DATA`` overrides the location; the default is ``shared/data`` beside
the checkout. Tests that need it call :func:`data_dir` (or a sub-path helper), which
skips the test with a clear reason when the data is absent. The data is read in
place and never copied into the project.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parent.parent

#: Official download URLs of the tokenizer files, keyed by their name in shared/data.
TOKENIZER_URLS = {
    "cl100k_base.tiktoken": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base.tiktoken": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "p50k_base.tiktoken": "https://openaipublic.blob.core.windows.net/encodings/p50k_base.tiktoken",
    "r50k_base.tiktoken": "https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken",
    "gpt2_vocab.bpe": "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
    "gpt2_encoder.json": "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
}


#: Every encoding covekit and tiktoken 0.14 both know, in tiktoken's order.
ENCODING_NAMES = [
    "gpt2",
    "r50k_base",
    "p50k_base",
    "p50k_edit",
    "cl100k_base",
    "o200k_base",
    "o200k_harmony",
]


def data_root() -> Path | None:
    """The shared data folder, or None when it is not there."""
    env = os.environ.get("COVEKIT_TEST_DATA")
    root = Path(env) if env else _REPO.parent / "shared" / "data"
    return root if root.is_dir() else None


def data_dir(*parts: str) -> Path:
    """A folder or file under the shared data; skips the calling test when missing."""
    root = data_root()
    if root is None:
        pytest.skip(
            "shared test data not found: set COVEKIT_TEST_DATA to the folder that holds "
            "tokenizers/, corpus/, beir/ and json-schema-test-suite/ (default: ../shared/data)"
        )
    path = root.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data {path} is missing")
    return path


def tokenizer_dir() -> Path:
    """``shared/data/tokenizers`` (skips when missing)."""
    return data_dir("tokenizers")


def link_tiktoken_cache(cache_dir: Path) -> Path:
    """Fill ``cache_dir`` with links named as tiktoken's cache names them (sha1 of the URL).

    tiktoken, the oracle of the tokenizer tests, reads its files offline only from
    ``TIKTOKEN_CACHE_DIR``; the caller sets that variable to the returned folder.
    """
    src = tokenizer_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name, url in TOKENIZER_URLS.items():
        target = cache_dir / hashlib.sha1(url.encode()).hexdigest()
        if not target.exists():
            target.symlink_to(src / name)
    return cache_dir


def corpus_files() -> list[Path]:
    """Every text file of ``shared/data/corpus`` (skips when missing)."""
    root = data_dir("corpus")
    files = sorted(p for p in root.rglob("*") if p.suffix in {".txt", ".md"})
    if not files:
        pytest.skip(f"no corpus files under {root}")
    return files


def beir_dir(name: str) -> Path:
    """``shared/data/beir/<name>`` (corpus.jsonl, queries.jsonl, qrels/); skips when missing."""
    root = data_dir("beir", name)
    for part in ("corpus.jsonl", "queries.jsonl", "qrels"):
        if not (root / part).exists():
            pytest.skip(f"BEIR dataset {root} lacks {part}")
    return root
