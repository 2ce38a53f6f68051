"""Finding, downloading, verifying and parsing the encoding data files.

Covers :mod:`covekit.data.encodings`: the registry against tiktoken 0.14, model-name
lookup, every search location of :func:`read_source` and their precedence, sha256
checks, downloads from a real HTTP server on loopback, the cache, and GPT-2's data-gym
conversion against tiktoken's own. Every test runs with a clean environment: no
tokenizer variables, ``COVEKIT_OFFLINE=1`` unless a test lifts it, and the temp folder
(hence tiktoken's default cache) inside ``tmp_path``.
"""

from __future__ import annotations

import hashlib
import json
import socket
import tempfile
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import tiktoken.load
import tiktoken.model
from covekit.data.encodings import (
    ENCODINGS,
    MODEL_PREFIX_TO_ENCODING,
    MODEL_TO_ENCODING,
    EncodingSpec,
    FileSource,
    encoding_name_for_model,
    list_encodings,
    load_encoding_data,
    parse_data_gym,
    read_source,
)
from covekit.errors import (
    InvalidInput,
    TokenizerDataMissing,
    TokenizerFileCorrupt,
    UnknownEncoding,
    UnknownModel,
)
from shared_data import TOKENIZER_URLS, tokenizer_dir
from tiktoken_ext import openai_public

# Every test changes the process environment (variables, tempfile.tempdir).
pytestmark = pytest.mark.thread_unsafe

R50K = ENCODINGS["r50k_base"].sources[0]  # the smallest .tiktoken file: most tests use it
GPT2_VOCAB, GPT2_ENCODER = ENCODINGS["gpt2"].sources
TIKTOKEN_NAMES = [name for name, spec in ENCODINGS.items() if spec.kind == "tiktoken"]
ALL_SOURCES = sorted(
    {source for spec in ENCODINGS.values() for source in spec.sources},
    key=lambda source: source.filename,
)

_ENV_VARS = (
    "COVEKIT_TOKENIZER_DIR",
    "COVEKIT_TOKENIZER_MIRROR",
    "COVEKIT_OFFLINE",
    "TIKTOKEN_CACHE_DIR",
    "DATA_GYM_CACHE_DIR",
)
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No tokenizer variables, offline, and the temp folder moved into tmp_path."""
    for var in _ENV_VARS + _PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("COVEKIT_OFFLINE", "1")
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(systmp))
    return systmp


def shared(source: FileSource) -> Path:
    """The shared-data copy of a file (skips when the shared data is absent)."""
    return tokenizer_dir() / source.filename


def content(source: FileSource) -> bytes:
    """The good bytes of a file."""
    return shared(source).read_bytes()


def put(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``folder/name`` (creating the folder) and return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def corruptions(data: bytes) -> dict[str, bytes]:
    """Damaged versions of a file's bytes."""
    return {
        "flipped_byte": data[:100] + bytes([data[100] ^ 1]) + data[101:],
        "truncated": data[: len(data) // 2],
        "empty": b"",
        "html": b"<html><body>Service unavailable</body></html>",
    }


def sha256(data: bytes) -> str:
    """Hex sha256."""
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------ HTTP mirror


class Mirror:
    """A real HTTP server on loopback serving the shared files at their official paths."""

    def __init__(self) -> None:
        self.files = {
            urlsplit(url).path: tokenizer_dir() / name for name, url in TOKENIZER_URLS.items()
        }
        self.requests: list[str] = []
        self.overrides: dict[str, tuple[int, bytes]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.requests.append(self.path)
                status, body = mirror.respond(self.path)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def respond(self, path: str) -> tuple[int, bytes]:
        """The status and body for a request path."""
        if path in self.overrides:
            return self.overrides[path]
        if path in self.files:
            return 200, self.files[path].read_bytes()
        return 404, b"not found"

    def serve(self, source: FileSource, status: int, body: bytes) -> None:
        """Answer requests for ``source`` with this status and body."""
        self.overrides[urlsplit(source.url).path] = (status, body)


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    """A running mirror; downloads allowed and pointed at it."""
    server = Mirror()
    server.thread.start()
    monkeypatch.delenv("COVEKIT_OFFLINE")
    monkeypatch.setenv("COVEKIT_TOKENIZER_MIRROR", server.base_url)
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        server.thread.join()


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --------------------------------------------------------------------------- registry


def test_list_encodings_matches_tiktoken() -> None:
    assert list_encodings() == list(openai_public.ENCODING_CONSTRUCTORS)
    assert list_encodings() == list(ENCODINGS)


def _tiktoken_definition(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], list[tuple[str, str | None]]]:
    """tiktoken's constructor output for ``name``, and the (url, sha256) it loads, offline."""
    loaded: list[tuple[str, str | None]] = []

    def fake_tiktoken_bpe(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        loaded.append((url, expected_hash))
        return {}

    def fake_data_gym(
        vocab_bpe_file: str,
        encoder_json_file: str,
        vocab_bpe_hash: str | None = None,
        encoder_json_hash: str | None = None,
    ) -> dict[bytes, int]:
        loaded.extend([(vocab_bpe_file, vocab_bpe_hash), (encoder_json_file, encoder_json_hash)])
        return {}

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", fake_tiktoken_bpe)
    monkeypatch.setattr(openai_public, "data_gym_to_mergeable_bpe_ranks", fake_data_gym)
    return openai_public.ENCODING_CONSTRUCTORS[name](), loaded


@pytest.mark.parametrize("name", list(openai_public.ENCODING_CONSTRUCTORS))
def test_spec_matches_tiktoken(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    definition, loaded = _tiktoken_definition(name, monkeypatch)
    spec = ENCODINGS[name]
    assert spec.name == definition["name"] == name
    assert list(spec.special_tokens.items()) == list(definition["special_tokens"].items())
    assert spec.explicit_n_vocab == definition.get("explicit_n_vocab")
    assert [(s.url, s.sha256) for s in spec.sources] == loaded[: len(spec.sources)]
    assert spec.kind == ("data_gym" if name == "gpt2" else "tiktoken")
    patterns = {
        "r50k": openai_public.r50k_pat_str,
        "cl100k": _tiktoken_definition("cl100k_base", monkeypatch)[0]["pat_str"],
        "o200k": _tiktoken_definition("o200k_base", monkeypatch)[0]["pat_str"],
    }
    assert patterns[spec.pattern] == definition["pat_str"]


@pytest.mark.parametrize("source", ALL_SOURCES, ids=lambda s: s.filename)
def test_sources_match_shared_data(source: FileSource) -> None:
    assert TOKENIZER_URLS[source.filename] == source.url
    assert sha256(content(source)) == source.sha256
    assert source.cache_name == hashlib.sha1(source.url.encode()).hexdigest()


def test_registry_is_read_only() -> None:
    spec = ENCODINGS["cl100k_base"]
    with pytest.raises(TypeError):
        ENCODINGS["mine"] = spec  # type: ignore[index]
    with pytest.raises(TypeError):
        spec.special_tokens["<|x|>"] = 1  # type: ignore[index]
    with pytest.raises(AttributeError):
        spec.name = "other"  # type: ignore[misc]
    assert hash(spec) == hash(ENCODINGS["cl100k_base"])
    assert isinstance(spec, EncodingSpec)


def test_harmony_shares_o200k_file() -> None:
    assert ENCODINGS["o200k_harmony"].sources == ENCODINGS["o200k_base"].sources
    assert ENCODINGS["p50k_edit"].sources == ENCODINGS["p50k_base"].sources


# ------------------------------------------------------------------------------ models


def test_model_tables_match_tiktoken() -> None:
    assert list(MODEL_TO_ENCODING.items()) == list(tiktoken.model.MODEL_TO_ENCODING.items())
    assert list(MODEL_PREFIX_TO_ENCODING.items()) == list(
        tiktoken.model.MODEL_PREFIX_TO_ENCODING.items()
    )


SAMPLE_MODELS = [
    *list(tiktoken.model.MODEL_TO_ENCODING)[::5],
    "gpt-4o-2024-05-13",
    "gpt-4o-mini",
    "gpt-4-32k",
    "gpt-4-0314",
    "gpt-4.1-nano",
    "gpt-5-mini",
    "gpt-5",
    "o1-preview",
    "o3-mini",
    "o4-mini-2025-04-16",
    "chatgpt-4o-latest",
    "gpt-3.5-turbo-FAKE",
    "gpt-35-turbo-16k",
    "gpt-oss-120b",
    "ft:gpt-4o-mini:org::id",
    "ft:gpt-4:org::id",
    "ft:gpt-3.5-turbo-0613:org::id",
    "ft:davinci-002:org::id",
    "ft:babbage-002:org::id",
    "gpt2",
    "gpt-2",
]


@pytest.mark.parametrize("model", SAMPLE_MODELS)
def test_encoding_name_for_model_matches_tiktoken(model: str) -> None:
    assert encoding_name_for_model(model) == tiktoken.model.encoding_name_for_model(model)


@pytest.mark.parametrize("model", ["gpt-3", "claude-3", "", "GPT-4O", "text-davinci"])
def test_unknown_model(model: str) -> None:
    with pytest.raises(KeyError):
        tiktoken.model.encoding_name_for_model(model)
    with pytest.raises(UnknownModel) as info:
        encoding_name_for_model(model)
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert repr(model) in message
    assert 'covekit.get_tokenizer("o200k_base")' in message
    assert all(name in message for name in ENCODINGS)


# ------------------------------------------------------------------- explicit path=


def test_explicit_file(tmp_path: Path) -> None:
    assert read_source(R50K, path=shared(R50K)) == content(R50K)
    assert read_source(R50K, path=str(shared(R50K))) == content(R50K)


@pytest.mark.parametrize("naming", ["filename", "cache_name"])
def test_explicit_folder(tmp_path: Path, naming: str) -> None:
    put(tmp_path / "dir", getattr(R50K, naming), content(R50K))
    assert read_source(R50K, path=tmp_path / "dir") == content(R50K)


def test_explicit_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = corruptions(content(R50K))["flipped_byte"]
    put(tmp_path / "env", R50K.filename, bad)
    put(tmp_path / "tk", R50K.cache_name, bad)
    monkeypatch.setenv("COVEKIT_TOKENIZER_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    assert read_source(R50K, path=shared(R50K)) == content(R50K)


@pytest.mark.parametrize("damage", ["flipped_byte", "truncated", "empty", "html"])
def test_explicit_corrupt(tmp_path: Path, damage: str) -> None:
    bad = corruptions(content(R50K))[damage]
    path = put(tmp_path, "mine.tiktoken", bad)
    with pytest.raises(TokenizerFileCorrupt) as info:
        read_source(R50K, path=path)
    message = str(info.value)
    assert str(path) in message
    assert R50K.filename in message
    assert R50K.sha256 in message
    assert sha256(bad) in message
    assert isinstance(info.value, ValueError)


def test_explicit_missing_does_not_fall_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COVEKIT_TOKENIZER_DIR", str(tokenizer_dir()))
    missing = tmp_path / "nowhere" / "r50k_base.tiktoken"
    with pytest.raises(TokenizerDataMissing) as info:
        read_source(R50K, path=missing)
    assert str(missing) in str(info.value)
    assert "not found" in str(info.value)
    assert isinstance(info.value, FileNotFoundError)


def test_explicit_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(TokenizerDataMissing) as info:
        read_source(R50K, path=tmp_path)
    assert str(tmp_path / R50K.filename) in str(info.value)
    assert str(tmp_path / R50K.cache_name) in str(info.value)


# ------------------------------------------------------------ COVEKIT_TOKENIZER_DIR


@pytest.mark.parametrize("naming", ["filename", "cache_name"])
def test_env_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, naming: str) -> None:
    put(tmp_path / "env", getattr(R50K, naming), content(R50K))
    monkeypatch.setenv("COVEKIT_TOKENIZER_DIR", str(tmp_path / "env"))
    assert read_source(R50K) == content(R50K)


def test_env_dir_shared_folder_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVEKIT_TOKENIZER_DIR", str(tokenizer_dir()))
    for source in ALL_SOURCES:
        assert read_source(source) == content(source)


@pytest.mark.parametrize("damage", ["flipped_byte", "truncated", "empty", "html"])
def test_env_dir_corrupt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    bad = corruptions(content(R50K))[damage]
    path = put(tmp_path / "env", R50K.filename, bad)
    monkeypatch.setenv("COVEKIT_TOKENIZER_DIR", str(tmp_path / "env"))
    with pytest.raises(TokenizerFileCorrupt) as info:
        read_source(R50K)
    message = str(info.value)
    assert str(path) in message
    assert R50K.sha256 in message
    assert sha256(bad) in message


def test_env_dir_checked_before_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    put(tmp_path / "env", R50K.filename, content(R50K)[:-1])
    put(tmp_path / "tk", R50K.cache_name, content(R50K))
    monkeypatch.setenv("COVEKIT_TOKENIZER_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    with pytest.raises(TokenizerFileCorrupt):
        read_source(R50K)


def test_env_dir_without_the_file_falls_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "env").mkdir()
    put(tmp_path / "tk", R50K.cache_name, content(R50K))
    monkeypatch.setenv("COVEKIT_TOKENIZER_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    assert read_source(R50K) == content(R50K)


def test_env_dir_not_a_folder_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVEKIT_TOKENIZER_DIR", str(tmp_path / "absent"))
    with pytest.raises(TokenizerDataMissing) as info:
        read_source(R50K)
    assert f"{tmp_path / 'absent'} (COVEKIT_TOKENIZER_DIR): not a folder" in str(info.value)


# --------------------------------------------------------------------- tiktoken caches


@pytest.mark.parametrize("where", ["TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR", "default"])
def test_cache(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    folder = clean_env / "data-gym-cache" if where == "default" else tmp_path / where
    if where != "default":
        monkeypatch.setenv(where, str(folder))
    put(folder, R50K.cache_name, content(R50K))
    assert read_source(R50K) == content(R50K)


def test_cache_by_filename_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    put(tmp_path / "tk", R50K.filename, content(R50K))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    with pytest.raises(TokenizerDataMissing):
        read_source(R50K)


def test_bad_cache_copy_is_skipped(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = put(tmp_path / "tk", R50K.cache_name, b"junk")
    put(tmp_path / "dg", R50K.cache_name, content(R50K)[:1000])
    put(clean_env / "data-gym-cache", R50K.cache_name, content(R50K))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", str(tmp_path / "dg"))
    assert read_source(R50K) == content(R50K)
    assert bad.read_bytes() == b"junk"


def test_only_bad_cache_copies(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [
        put(tmp_path / "tk", R50K.cache_name, b"junk"),
        put(tmp_path / "dg", R50K.cache_name, content(R50K)[:-10]),
        put(clean_env / "data-gym-cache", R50K.cache_name, b""),
    ]
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", str(tmp_path / "dg"))
    with pytest.raises(TokenizerDataMissing) as info:
        read_source(R50K)
    message = str(info.value)
    for path in paths:
        assert f"{path} (" in message
        assert sha256(path.read_bytes()) in message
    assert message.count("sha256 mismatch") == 3


# ---------------------------------------------------------------------- missing file


def test_missing_message(tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "env").mkdir()
    monkeypatch.setenv("COVEKIT_TOKENIZER_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", str(tmp_path / "dg"))
    with pytest.raises(TokenizerDataMissing) as info:
        read_source(R50K)
    message = str(info.value)
    looked = [
        tmp_path / "env" / R50K.filename,
        tmp_path / "env" / R50K.cache_name,
        tmp_path / "tk" / R50K.cache_name,
        tmp_path / "dg" / R50K.cache_name,
        clean_env / "data-gym-cache" / R50K.cache_name,
    ]
    for path in looked:
        assert f"{path} (" in message
    assert message.count(": not found") == len(looked)
    assert "COVEKIT_OFFLINE" in message
    assert f"folder holding {R50K.filename!r}" in message
    assert "path=" in message
    assert f"download {R50K.url} into {tmp_path / 'tk' / R50K.cache_name}" in message


def test_missing_message_defaults(clean_env: Path) -> None:
    with pytest.raises(TokenizerDataMissing) as info:
        read_source(R50K)
    message = str(info.value)
    assert "COVEKIT_TOKENIZER_DIR: not set" in message
    assert f"into {clean_env / 'data-gym-cache' / R50K.cache_name}" in message


# ----------------------------------------------------------------------------- download


def test_download_then_cached(
    tmp_path: Path, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    assert read_source(R50K) == content(R50K)
    assert mirror.requests == ["/encodings/r50k_base.tiktoken"]
    assert [p.name for p in (tmp_path / "tk").iterdir()] == [R50K.cache_name]
    assert (tmp_path / "tk" / R50K.cache_name).read_bytes() == content(R50K)
    assert read_source(R50K) == content(R50K)
    assert len(mirror.requests) == 1


def test_downloaded_file_is_tiktokens_cache(
    tmp_path: Path, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    read_source(R50K)
    assert tiktoken.load.read_file_cached(R50K.url, R50K.sha256) == content(R50K)


@pytest.mark.parametrize("where", ["TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR", "default"])
def test_download_cache_folder(
    tmp_path: Path, clean_env: Path, mirror: Mirror, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "default":
        folder = clean_env / "data-gym-cache"
    else:
        folder = tmp_path / where
        monkeypatch.setenv(where, str(folder))
    if where == "TIKTOKEN_CACHE_DIR":
        monkeypatch.setenv("DATA_GYM_CACHE_DIR", str(tmp_path / "unused"))
    read_source(R50K)
    assert (folder / R50K.cache_name).read_bytes() == content(R50K)
    assert not (tmp_path / "unused").exists()


def test_empty_tiktoken_cache_dir_disables_caching(
    clean_env: Path, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    assert read_source(R50K) == content(R50K)
    assert read_source(R50K) == content(R50K)
    assert len(mirror.requests) == 2
    assert not (clean_env / "data-gym-cache").exists()


def test_download_replaces_bad_cache_copy(
    tmp_path: Path, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(tmp_path / "tk", R50K.cache_name, b"junk")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    assert read_source(R50K) == content(R50K)
    assert (tmp_path / "tk" / R50K.cache_name).read_bytes() == content(R50K)
    assert len(mirror.requests) == 1


@pytest.mark.parametrize("damage", ["flipped_byte", "truncated", "empty", "html"])
def test_download_corrupt(
    tmp_path: Path, mirror: Mirror, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    bad = corruptions(content(R50K))[damage]
    mirror.serve(R50K, 200, bad)
    with pytest.raises(TokenizerFileCorrupt) as info:
        read_source(R50K)
    message = str(info.value)
    assert f"{mirror.base_url}/encodings/r50k_base.tiktoken" in message
    assert R50K.sha256 in message
    assert sha256(bad) in message
    assert not (tmp_path / "tk").exists()


@pytest.mark.parametrize("status", [404, 500])
def test_download_http_error(clean_env: Path, mirror: Mirror, status: int) -> None:
    mirror.serve(R50K, status, b"nope")
    with pytest.raises(TokenizerDataMissing) as info:
        read_source(R50K)
    message = str(info.value)
    url = f"{mirror.base_url}/encodings/r50k_base.tiktoken"
    assert f"{url} (download): download failed: HTTP {status}" in message
    assert f"{clean_env / 'data-gym-cache' / R50K.cache_name} (" in message
    assert "COVEKIT_TOKENIZER_DIR: not set" in message
    assert f"download {R50K.url} into" in message
    assert mirror.requests == ["/encodings/r50k_base.tiktoken"]


def test_download_connection_refused(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COVEKIT_OFFLINE")
    base = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("COVEKIT_TOKENIZER_MIRROR", base)
    with pytest.raises(TokenizerDataMissing) as info:
        read_source(R50K)
    message = str(info.value)
    assert f"{base}/encodings/r50k_base.tiktoken (download): download failed:" in message
    assert f"{clean_env / 'data-gym-cache' / R50K.cache_name} (" in message


def test_offline_makes_no_request(mirror: Mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVEKIT_OFFLINE", "1")
    with pytest.raises(TokenizerDataMissing) as info:
        read_source(R50K)
    assert "COVEKIT_OFFLINE=1" in str(info.value)
    assert mirror.requests == []


def test_local_copy_makes_no_request(
    tmp_path: Path, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COVEKIT_TOKENIZER_DIR", str(tokenizer_dir()))
    assert read_source(R50K) == content(R50K)
    monkeypatch.delenv("COVEKIT_TOKENIZER_DIR")
    put(tmp_path / "dg", R50K.cache_name, content(R50K))
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", str(tmp_path / "dg"))
    assert read_source(R50K) == content(R50K)
    assert mirror.requests == []


def test_mirror_with_trailing_slash(mirror: Mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVEKIT_TOKENIZER_MIRROR", mirror.base_url + "/")
    assert read_source(R50K) == content(R50K)
    assert mirror.requests == ["/encodings/r50k_base.tiktoken"]


def test_unwritable_chosen_cache_warns(
    tmp_path: Path, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = put(tmp_path, "a_file", b"")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(blocker / "cache"))
    with pytest.warns(RuntimeWarning, match="could not cache r50k_base.tiktoken"):
        assert read_source(R50K) == content(R50K)


def test_unwritable_default_cache_is_silent(clean_env: Path, mirror: Mirror) -> None:
    put(clean_env, "data-gym-cache", b"a file, not a folder")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_source(R50K) == content(R50K)


def test_gpt2_download(tmp_path: Path, mirror: Mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    _, ranks = load_encoding_data("gpt2")
    assert ranks == parse_data_gym(content(GPT2_VOCAB), content(GPT2_ENCODER))
    assert sorted(mirror.requests) == [
        "/gpt-2/encodings/main/encoder.json",
        "/gpt-2/encodings/main/vocab.bpe",
    ]
    load_encoding_data("gpt2")
    assert len(mirror.requests) == 2


# ---------------------------------------------------------------------------- data gym


def test_parse_data_gym_matches_tiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # tiktoken must not cache the local paths
    expected = tiktoken.load.data_gym_to_mergeable_bpe_ranks(
        str(shared(GPT2_VOCAB)),
        str(shared(GPT2_ENCODER)),
        vocab_bpe_hash=GPT2_VOCAB.sha256,
        encoder_json_hash=GPT2_ENCODER.sha256,
    )
    ranks = parse_data_gym(content(GPT2_VOCAB), content(GPT2_ENCODER))
    assert ranks == expected
    assert list(ranks.items()) == list(expected.items())
    assert len(ranks) + 1 == ENCODINGS["gpt2"].explicit_n_vocab


def _byte_alphabet() -> list[str]:
    """GPT-2's stand-in character for bytes 0..255 (from the shared encoder.json)."""
    encoder = json.loads(content(GPT2_ENCODER))
    return [key for key, rank in sorted(encoder.items(), key=lambda item: item[1])][:256]


def test_parse_small_files_matches_tiktoken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    alphabet = _byte_alphabet()
    vocab_bpe = "#version: 0.2\nĠ t\nĠt he\n".encode()
    encoder = {char: i for i, char in enumerate(alphabet)} | {
        "Ġt": 256,
        "Ġthe": 257,
        "<|endoftext|>": 258,
    }
    encoder_json = json.dumps(encoder).encode()
    expected = tiktoken.load.data_gym_to_mergeable_bpe_ranks(
        str(put(tmp_path, "vocab.bpe", vocab_bpe)), str(put(tmp_path, "encoder.json", encoder_json))
    )
    ranks = parse_data_gym(vocab_bpe, encoder_json)
    assert ranks == expected
    assert ranks[b" the"] == 257
    assert len(ranks) == 258


def _without(encoder_json: bytes, key: str) -> bytes:
    encoder = json.loads(encoder_json)
    del encoder[key]
    return json.dumps(encoder).encode()


def _with(encoder_json: bytes, key: str, value: object) -> bytes:
    encoder = json.loads(encoder_json)
    encoder[key] = value
    return json.dumps(encoder).encode()


def _bad_gpt2_inputs() -> list[Any]:
    vocab = content(GPT2_VOCAB)
    encoder = content(GPT2_ENCODER)
    lines = vocab.split(b"\n")

    def line2(replacement: str) -> bytes:  # replace vocab.bpe's first merge, "Ġ t"
        return vocab.replace("\nĠ t\n".encode(), f"\n{replacement}\n".encode(), 1)

    the = "\u0120the"
    cases: list[tuple[str, bytes, bytes, str]] = [
        ("vocab_not_utf8", b"#version: 0.2\n\xff\xfe t\n", encoder, "not UTF-8"),
        ("vocab_one_token", line2("t"), encoder, "line 2"),
        ("vocab_three_tokens", line2("a b c"), encoder, "line 2"),
        ("vocab_bad_char", line2("\u4e00 t"), encoder, "U+4E00"),
        ("vocab_truncated", b"\n".join(lines[: len(lines) // 2]) + b"\n", encoder, "do not match"),
        ("vocab_no_final_newline", vocab[:-1], encoder, "do not match"),
        ("vocab_empty", b"", encoder, "do not match"),
        ("encoder_truncated", vocab, encoder[: len(encoder) // 2], "not valid JSON"),
        ("encoder_not_utf8", vocab, b"\xff{}", "not valid JSON"),
        ("encoder_empty", vocab, b"", "not valid JSON"),
        ("encoder_array", vocab, b"[1, 2]", "object"),
        ("encoder_missing", vocab, _without(encoder, the), "missing from encoder.json"),
        ("encoder_wrong_rank", vocab, _with(encoder, the, 7), "but 7 in encoder.json"),
        ("encoder_rank_string", vocab, _with(encoder, the, "262"), "but '262' in encoder.json"),
        ("encoder_extra", vocab, _with(encoder, "zzzzq", 50257), "not built by vocab.bpe"),
        ("encoder_bad_char", vocab, _with(encoder, "\u4e00", 1), "U+4E00"),
        ("swapped", encoder, vocab, "not valid JSON"),
    ]
    return [pytest.param(*case[1:], id=case[0]) for case in cases]


# The cases read shared data, so they are built inside the test (a missing data folder
# then skips the test instead of failing collection).
_BAD_GPT2_CASES = [
    "vocab_not_utf8", "vocab_one_token", "vocab_three_tokens", "vocab_bad_char",
    "vocab_truncated", "vocab_no_final_newline", "vocab_empty", "encoder_truncated",
    "encoder_not_utf8", "encoder_empty", "encoder_array", "encoder_missing",
    "encoder_wrong_rank", "encoder_rank_string", "encoder_extra", "encoder_bad_char", "swapped",
]  # fmt: skip


@pytest.mark.parametrize("case", _BAD_GPT2_CASES)
def test_parse_data_gym_corrupt(case: str) -> None:
    params = {p.id: p.values for p in _bad_gpt2_inputs()}
    assert set(params) == set(_BAD_GPT2_CASES)
    vocab_bpe, encoder_json, expected = params[case]
    with pytest.raises(TokenizerFileCorrupt) as info:
        parse_data_gym(vocab_bpe, encoder_json)
    assert expected in str(info.value)
    assert isinstance(info.value, ValueError)


def test_gpt2_modified_file_in_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An edited encoder.json is caught by its sha256, named, before any parsing.
    put(tmp_path / "env", GPT2_VOCAB.filename, content(GPT2_VOCAB))
    put(tmp_path / "env", GPT2_ENCODER.filename, _without(content(GPT2_ENCODER), "\u0120the"))
    monkeypatch.setenv("COVEKIT_TOKENIZER_DIR", str(tmp_path / "env"))
    with pytest.raises(TokenizerFileCorrupt, match=GPT2_ENCODER.filename):
        load_encoding_data("gpt2")


# ------------------------------------------------------------------ load_encoding_data


@pytest.mark.parametrize("name", TIKTOKEN_NAMES)
def test_load_tiktoken_encodings(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVEKIT_TOKENIZER_DIR", str(tokenizer_dir()))
    spec, data = load_encoding_data(name)
    assert spec is ENCODINGS[name]
    assert data == content(spec.sources[0])


def test_load_with_explicit_file() -> None:
    spec, data = load_encoding_data("p50k_edit", path=shared(ENCODINGS["p50k_edit"].sources[0]))
    assert spec.name == "p50k_edit"
    assert data == content(spec.sources[0])


def test_load_gpt2_from_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = parse_data_gym(content(GPT2_VOCAB), content(GPT2_ENCODER))
    spec, ranks = load_encoding_data("gpt2", path=tokenizer_dir())
    assert spec is ENCODINGS["gpt2"]
    assert ranks == expected
    monkeypatch.setenv("COVEKIT_TOKENIZER_DIR", str(tokenizer_dir()))
    assert load_encoding_data("gpt2")[1] == expected


def test_load_gpt2_needs_a_folder() -> None:
    with pytest.raises(InvalidInput) as info:
        load_encoding_data("gpt2", path=shared(GPT2_VOCAB))
    assert isinstance(info.value, ValueError)
    assert "gpt2_vocab.bpe and gpt2_encoder.json" in str(info.value)


def test_load_gpt2_folder_missing_encoder(tmp_path: Path) -> None:
    put(tmp_path, GPT2_VOCAB.filename, content(GPT2_VOCAB))
    with pytest.raises(TokenizerDataMissing, match=r"gpt2_encoder\.json"):
        load_encoding_data("gpt2", path=tmp_path)


@pytest.mark.parametrize("name", ["cl100k", "GPT2", "", "o200k_base "])
def test_unknown_encoding(name: str) -> None:
    with pytest.raises(UnknownEncoding) as info:
        load_encoding_data(name)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert repr(name) in message
    assert all(known in message for known in ENCODINGS)
