"""The encodings covekit knows, and how their vocabulary files are found and verified.

Every encoding mirrors one of tiktoken 0.14 (``tiktoken_ext/openai_public.py``): same
special tokens, same vocabulary size, same official file URLs and sha256 values. The
files themselves are looked up, in this order, by :func:`read_source`:

1. an explicit ``path=`` (a file, or a folder holding it);
2. the folder named by ``COVEKIT_TOKENIZER_DIR``, under the file's own name (e.g.
   ``cl100k_base.tiktoken``) or under tiktoken's cache name (sha1 of its URL);
3. tiktoken's caches, named exactly as tiktoken names them: ``TIKTOKEN_CACHE_DIR``,
   ``DATA_GYM_CACHE_DIR`` and ``<temp dir>/data-gym-cache``, files named sha1(url);
4. a download from the official URL, or from the mirror in ``COVEKIT_TOKENIZER_MIRROR``
   (which replaces ``https://openaipublic.blob.core.windows.net``), unless
   ``COVEKIT_OFFLINE=1``. A good download is stored in tiktoken's cache so that both
   libraries find it next time.

Every copy is checked against its sha256: a bad copy the user pointed at (1, 2) or a
bad download raises :class:`~covekit.errors.TokenizerFileCorrupt`; a bad cache copy is
skipped, as tiktoken does.

>>> from covekit.data.encodings import ENCODINGS
>>> spec = ENCODINGS["cl100k_base"]
>>> spec.kind, spec.pattern, spec.special_tokens["<|endoftext|>"]
('tiktoken', 'cl100k', 100257)
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from covekit._fileio import atomic_write
from covekit.errors import (
    InvalidInput,
    TokenizerDataMissing,
    TokenizerFileCorrupt,
    UnknownEncoding,
    UnknownModel,
)

__all__ = [
    "ENCODINGS",
    "MODEL_PREFIX_TO_ENCODING",
    "MODEL_TO_ENCODING",
    "EncodingSpec",
    "FileSource",
    "encoding_name_for_model",
    "list_encodings",
    "load_encoding_data",
    "parse_data_gym",
    "read_source",
]

_log = logging.getLogger(__name__)

#: The host every official URL starts with; ``COVEKIT_TOKENIZER_MIRROR`` replaces it.
OFFICIAL_BASE = "https://openaipublic.blob.core.windows.net"

#: Seconds a download may stall (connect, or wait for the next bytes) before failing.
DOWNLOAD_TIMEOUT = 30.0

_ENV_DIR = "COVEKIT_TOKENIZER_DIR"
_ENV_MIRROR = "COVEKIT_TOKENIZER_MIRROR"
_ENV_OFFLINE = "COVEKIT_OFFLINE"


@dataclass(frozen=True)
class FileSource:
    """One data file of an encoding.

    Attributes:
        filename: The file's name in a tokenizer folder, e.g. ``cl100k_base.tiktoken``.
        url: The official download URL (tiktoken's cache key is its sha1).
        sha256: The hex sha256 every copy must have (the value tiktoken pins).

    >>> src = ENCODINGS["r50k_base"].sources[0]
    >>> src.filename, src.cache_name
    ('r50k_base.tiktoken', '0ea1e91bbb3a60f729a8dc8f777fd2fc07cd8df4')
    """

    filename: str
    url: str
    sha256: str

    @property
    def cache_name(self) -> str:
        """The name tiktoken gives this file in its cache: the hex sha1 of the URL."""
        return hashlib.sha1(self.url.encode()).hexdigest()


@dataclass(frozen=True)
class EncodingSpec:
    """Everything covekit needs to know about an encoding, except the vocabulary itself.

    Attributes:
        name: The encoding's name, e.g. ``cl100k_base``.
        pattern: Which pre-tokenisation regex the encoding uses.
        special_tokens: Special token text to id, in tiktoken's order.
        explicit_n_vocab: The vocabulary size tiktoken asserts, when it asserts one.
        kind: ``tiktoken`` (one ``.tiktoken`` file) or ``data_gym`` (GPT-2's
            ``vocab.bpe`` + ``encoder.json``).
        sources: The data files, in the order the loader needs them.

    >>> ENCODINGS["p50k_edit"].special_tokens["<|fim_middle|>"]
    50282
    """

    name: str
    pattern: Literal["r50k", "cl100k", "o200k"]
    special_tokens: Mapping[str, int] = field(hash=False)
    explicit_n_vocab: int | None
    kind: Literal["tiktoken", "data_gym"]
    sources: tuple[FileSource, ...]


# --------------------------------------------------------------------------- registry

_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"

_GPT2_VOCAB = FileSource(
    "gpt2_vocab.bpe",
    f"{OFFICIAL_BASE}/gpt-2/encodings/main/vocab.bpe",
    "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
)
_GPT2_ENCODER = FileSource(
    "gpt2_encoder.json",
    f"{OFFICIAL_BASE}/gpt-2/encodings/main/encoder.json",
    "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
)
_R50K = FileSource(
    "r50k_base.tiktoken",
    f"{OFFICIAL_BASE}/encodings/r50k_base.tiktoken",
    "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
)
_P50K = FileSource(
    "p50k_base.tiktoken",
    f"{OFFICIAL_BASE}/encodings/p50k_base.tiktoken",
    "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069",
)
_CL100K = FileSource(
    "cl100k_base.tiktoken",
    f"{OFFICIAL_BASE}/encodings/cl100k_base.tiktoken",
    "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
)
_O200K = FileSource(
    "o200k_base.tiktoken",
    f"{OFFICIAL_BASE}/encodings/o200k_base.tiktoken",
    "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
)


def _harmony_special_tokens() -> dict[str, int]:
    """o200k_harmony's special tokens, built the way tiktoken builds them (same order)."""
    tokens = {
        _ENDOFTEXT: 199999,
        _ENDOFPROMPT: 200018,
        "<|startoftext|>": 199998,
        "<|endoftext|>": 199999,
        "<|reserved_200000|>": 200000,
        "<|reserved_200001|>": 200001,
        "<|return|>": 200002,
        "<|constrain|>": 200003,
        "<|reserved_200004|>": 200004,
        "<|channel|>": 200005,
        "<|start|>": 200006,
        "<|end|>": 200007,
        "<|message|>": 200008,
        "<|reserved_200009|>": 200009,
        "<|reserved_200010|>": 200010,
        "<|reserved_200011|>": 200011,
        "<|call|>": 200012,
    }
    return tokens | {f"<|reserved_{i}|>": i for i in range(200013, 201088)}


def _spec(
    name: str,
    pattern: Literal["r50k", "cl100k", "o200k"],
    special_tokens: dict[str, int],
    explicit_n_vocab: int | None,
    *sources: FileSource,
) -> EncodingSpec:
    """Build a registry entry with a read-only special-token mapping."""
    kind: Literal["tiktoken", "data_gym"] = "data_gym" if len(sources) == 2 else "tiktoken"
    return EncodingSpec(
        name=name,
        pattern=pattern,
        special_tokens=MappingProxyType(special_tokens),
        explicit_n_vocab=explicit_n_vocab,
        kind=kind,
        sources=sources,
    )


#: Every encoding covekit knows, by name, in tiktoken's order.
ENCODINGS: Mapping[str, EncodingSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            _spec("gpt2", "r50k", {_ENDOFTEXT: 50256}, 50257, _GPT2_VOCAB, _GPT2_ENCODER),
            _spec("r50k_base", "r50k", {_ENDOFTEXT: 50256}, 50257, _R50K),
            _spec("p50k_base", "r50k", {_ENDOFTEXT: 50256}, 50281, _P50K),
            _spec(
                "p50k_edit",
                "r50k",
                {_ENDOFTEXT: 50256, _FIM_PREFIX: 50281, _FIM_MIDDLE: 50282, _FIM_SUFFIX: 50283},
                None,
                _P50K,
            ),
            _spec(
                "cl100k_base",
                "cl100k",
                {
                    _ENDOFTEXT: 100257,
                    _FIM_PREFIX: 100258,
                    _FIM_MIDDLE: 100259,
                    _FIM_SUFFIX: 100260,
                    _ENDOFPROMPT: 100276,
                },
                None,
                _CL100K,
            ),
            _spec("o200k_base", "o200k", {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018}, None, _O200K),
            _spec("o200k_harmony", "o200k", _harmony_special_tokens(), None, _O200K),
        )
    }
)


def list_encodings() -> list[str]:
    """The names of every known encoding, in tiktoken's order.

    Returns:
        A new list of encoding names.

    >>> list_encodings()[:3]
    ['gpt2', 'r50k_base', 'p50k_base']
    """
    return list(ENCODINGS)


def _spec_for(name: str) -> EncodingSpec:
    """The registry entry for ``name``; raises UnknownEncoding listing the known ones."""
    try:
        return ENCODINGS[name]
    except (KeyError, TypeError):
        raise UnknownEncoding(
            f"unknown encoding {name!r}; known encodings: {', '.join(ENCODINGS)}"
        ) from None


# ------------------------------------------------------------------------------ models

#: Model-name prefixes and their encodings (tiktoken 0.14 ``model.py``); first match wins.
MODEL_PREFIX_TO_ENCODING: Mapping[str, str] = MappingProxyType(
    {
        "o1-": "o200k_base",
        "o3-": "o200k_base",
        "o4-mini-": "o200k_base",
        # chat
        "gpt-5": "o200k_base",
        "gpt-4.5-": "o200k_base",
        "gpt-4.1-": "o200k_base",
        "chatgpt-4o-": "o200k_base",
        "gpt-4o-": "o200k_base",  # e.g., gpt-4o-2024-05-13
        "gpt-4-": "cl100k_base",  # e.g., gpt-4-0314, etc., plus gpt-4-32k
        "gpt-3.5-turbo-": "cl100k_base",  # e.g, gpt-3.5-turbo-0301, -0401, etc.
        "gpt-35-turbo-": "cl100k_base",  # Azure deployment name
        "gpt-oss-": "o200k_harmony",
        # fine-tuned
        "ft:gpt-4o": "o200k_base",
        "ft:gpt-4": "cl100k_base",
        "ft:gpt-3.5-turbo": "cl100k_base",
        "ft:davinci-002": "cl100k_base",
        "ft:babbage-002": "cl100k_base",
    }
)

#: Exact model names and their encodings (tiktoken 0.14 ``model.py``).
MODEL_TO_ENCODING: Mapping[str, str] = MappingProxyType(
    {
        # reasoning
        "o1": "o200k_base",
        "o3": "o200k_base",
        "o4-mini": "o200k_base",
        # chat
        "gpt-5": "o200k_base",
        "gpt-4.1": "o200k_base",
        "gpt-4o": "o200k_base",
        "gpt-4": "cl100k_base",
        "gpt-3.5-turbo": "cl100k_base",
        "gpt-3.5": "cl100k_base",  # Common shorthand
        "gpt-35-turbo": "cl100k_base",  # Azure deployment name
        # base
        "davinci-002": "cl100k_base",
        "babbage-002": "cl100k_base",
        # embeddings
        "text-embedding-ada-002": "cl100k_base",
        "text-embedding-3-small": "cl100k_base",
        "text-embedding-3-large": "cl100k_base",
        # DEPRECATED MODELS
        # text (DEPRECATED)
        "text-davinci-003": "p50k_base",
        "text-davinci-002": "p50k_base",
        "text-davinci-001": "r50k_base",
        "text-curie-001": "r50k_base",
        "text-babbage-001": "r50k_base",
        "text-ada-001": "r50k_base",
        "davinci": "r50k_base",
        "curie": "r50k_base",
        "babbage": "r50k_base",
        "ada": "r50k_base",
        # code (DEPRECATED)
        "code-davinci-002": "p50k_base",
        "code-davinci-001": "p50k_base",
        "code-cushman-002": "p50k_base",
        "code-cushman-001": "p50k_base",
        "davinci-codex": "p50k_base",
        "cushman-codex": "p50k_base",
        # edit (DEPRECATED)
        "text-davinci-edit-001": "p50k_edit",
        "code-davinci-edit-001": "p50k_edit",
        # old embeddings (DEPRECATED)
        "text-similarity-davinci-001": "r50k_base",
        "text-similarity-curie-001": "r50k_base",
        "text-similarity-babbage-001": "r50k_base",
        "text-similarity-ada-001": "r50k_base",
        "text-search-davinci-doc-001": "r50k_base",
        "text-search-curie-doc-001": "r50k_base",
        "text-search-babbage-doc-001": "r50k_base",
        "text-search-ada-doc-001": "r50k_base",
        "code-search-babbage-code-001": "r50k_base",
        "code-search-ada-code-001": "r50k_base",
        # open source
        "gpt2": "gpt2",
        "gpt-2": "gpt2",  # Maintains consistency with gpt-4
    }
)


def encoding_name_for_model(model: str) -> str:
    """The name of the encoding a model uses, by exact name first, then by prefix.

    Args:
        model: An OpenAI model name, e.g. ``gpt-4o`` or ``gpt-4o-2024-05-13``.

    Returns:
        The encoding name, e.g. ``o200k_base``.

    Raises:
        UnknownModel: The name matches no known model or prefix (a ``KeyError``, as in
            tiktoken, and a ``ValueError``).

    >>> encoding_name_for_model("gpt-4o-2024-05-13")
    'o200k_base'
    >>> encoding_name_for_model("text-davinci-003")
    'p50k_base'
    """
    if model in MODEL_TO_ENCODING:
        return MODEL_TO_ENCODING[model]
    for prefix, name in MODEL_PREFIX_TO_ENCODING.items():
        if model.startswith(prefix):
            return name
    raise UnknownModel(
        f"could not map model {model!r} to an encoding. Pick the encoding explicitly, "
        f'e.g. covekit.get_tokenizer("o200k_base"); known encodings: {", ".join(ENCODINGS)}'
    )


# ------------------------------------------------------------------------ file search


@dataclass
class _Search:
    """The places looked at for one file, and what was wrong with each."""

    source: FileSource
    looked: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def note(self, where: str, problem: str) -> None:
        """Record that ``where`` did not provide the file, and why."""
        self.looked.append(f"{where}: {problem}")


def _sha256(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _mismatch(source: FileSource, data: bytes) -> str:
    """Describe a sha256 mismatch of ``data`` against ``source``."""
    return f"sha256 mismatch (expected {source.sha256}, got {_sha256(data)}, {len(data)} bytes)"


def _read_file(path: Path) -> bytes | str:
    """The file's bytes, or a short description of why it could not be read."""
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return "not found"
    except IsADirectoryError:
        return "is a folder, not a file"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"


def _strict(source: FileSource, path: Path, label: str) -> bytes | str:
    """Read a copy the user pointed at; a wrong sha256 raises TokenizerFileCorrupt."""
    data = _read_file(path)
    if isinstance(data, bytes) and _sha256(data) != source.sha256:
        raise TokenizerFileCorrupt(
            f"{path} ({label}) is not a good copy of {source.filename}: {_mismatch(source, data)}. "
            f"The file is damaged or truncated, or is another file; replace it with a fresh "
            f"download of {source.url}"
        )
    return data


def _candidates(source: FileSource, folder: Path) -> list[Path]:
    """Where a folder may hold the file: under its own name, then its tiktoken cache name."""
    return [folder / source.filename, folder / source.cache_name]


def _read_explicit(source: FileSource, path: Path) -> bytes:
    """Read the file from an explicit ``path=`` (a file, or a folder holding it)."""
    paths = _candidates(source, path) if path.is_dir() else [path]
    problems = []
    for candidate in paths:
        data = _strict(source, candidate, "path=")
        if isinstance(data, bytes):
            return data
        problems.append(f"  - {candidate}: {data}")
    raise TokenizerDataMissing(
        f"tokenizer data file {source.filename!r} not found at the path given:\n"
        + "\n".join(problems)
        + f"\nPass the path of a copy of {source.filename} (or of a folder holding it), "
        f"or download {source.url} there."
    )


def _from_tokenizer_dir(search: _Search) -> bytes | None:
    """Step 2: the folder in COVEKIT_TOKENIZER_DIR (a bad copy there raises)."""
    folder = os.environ.get(_ENV_DIR, "")
    if not folder:
        search.note(_ENV_DIR, "not set")
        return None
    if not Path(folder).is_dir():
        search.note(f"{folder} ({_ENV_DIR})", "not a folder")
        return None
    for candidate in _candidates(search.source, Path(folder)):
        search.seen.add(str(candidate))
        data = _strict(search.source, candidate, _ENV_DIR)
        if isinstance(data, bytes):
            return data
        search.note(f"{candidate} ({_ENV_DIR})", data)
    return None


def _default_cache_dir() -> Path:
    """tiktoken's default cache folder: ``<temp dir>/data-gym-cache``."""
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _cache_dirs() -> Iterator[tuple[Path, str]]:
    """Every tiktoken cache folder to look in, with the label that names it."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(var):
            yield Path(os.environ[var]), var
    yield _default_cache_dir(), "default tiktoken cache"


def _from_caches(search: _Search) -> bytes | None:
    """Step 3: tiktoken's caches (a bad copy there is skipped, as tiktoken does)."""
    for folder, label in _cache_dirs():
        path = folder / search.source.cache_name
        if str(path) in search.seen:
            continue
        search.seen.add(str(path))
        data = _read_file(path)
        if isinstance(data, bytes):
            if _sha256(data) == search.source.sha256:
                return data
            data = _mismatch(search.source, data) + ", ignored"
        search.note(f"{path} ({label})", data)
    return None


def _write_cache_dir() -> tuple[Path | None, bool]:
    """The folder tiktoken would cache into (None: caching disabled), and if user-chosen."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            return (Path(os.environ[var]) if os.environ[var] else None), True
    return _default_cache_dir(), False


def _suggested_cache_path(source: FileSource) -> Path:
    """Where to put a manual download so that covekit and tiktoken both find it."""
    folder, _ = _write_cache_dir()
    return (folder or _default_cache_dir()) / source.cache_name


# ---------------------------------------------------------------------------- download


def _offline() -> bool:
    """True when COVEKIT_OFFLINE forbids downloads."""
    return os.environ.get(_ENV_OFFLINE, "").strip().lower() in {"1", "true", "yes", "on"}


def _download_url(source: FileSource) -> str:
    """The official URL, or its counterpart on the COVEKIT_TOKENIZER_MIRROR mirror."""
    mirror = os.environ.get(_ENV_MIRROR, "").rstrip("/")
    if mirror and source.url.startswith(OFFICIAL_BASE):
        return mirror + source.url[len(OFFICIAL_BASE) :]
    return source.url


def _fetch(url: str) -> bytes:
    """GET ``url`` (stdlib urllib, with a timeout); raises OSError/ValueError on failure."""
    request = urllib.request.Request(url, headers={"User-Agent": "covekit"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response:
        data: bytes = response.read()
    return data


def _failure_reason(exc: BaseException) -> str:
    """A short description of why a download failed."""
    if isinstance(exc, urllib.error.HTTPError):
        exc.close()
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def _store_in_cache(source: FileSource, data: bytes) -> None:
    """Cache a verified download where tiktoken would (failures only warn)."""
    folder, user_chosen = _write_cache_dir()
    if folder is None:
        return
    try:
        atomic_write(folder / source.cache_name, data)
    except OSError as exc:
        if user_chosen:  # tiktoken raises here; the data is good, so covekit only warns
            warnings.warn(
                f"covekit could not cache {source.filename} in {folder}: {exc}",
                RuntimeWarning,
                stacklevel=4,
            )


def _from_download(search: _Search) -> bytes | None:
    """Step 4: download (unless offline); a bad download raises, a good one is cached."""
    source = search.source
    url = _download_url(source)
    if _offline():
        search.note(f"{url} (download)", f"skipped, {_ENV_OFFLINE}={os.environ[_ENV_OFFLINE]}")
        return None
    try:
        data = _fetch(url)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        search.note(f"{url} (download)", f"download failed: {_failure_reason(exc)}")
        return None
    if _sha256(data) != source.sha256:
        raise TokenizerFileCorrupt(
            f"the copy of {source.filename} downloaded from {url} is corrupt: "
            f"{_mismatch(source, data)}. The download was damaged or the server sent "
            "another file; try again, or check the mirror."
        )
    _store_in_cache(source, data)
    return data


def _missing_message(search: _Search) -> str:
    """The TokenizerDataMissing message: the file, every place looked, how to provide it."""
    source = search.source
    return "\n".join(
        [
            f"tokenizer data file {source.filename!r} (sha256 {source.sha256}) "
            "was not found. Looked in:",
            *(f"  - {line}" for line in search.looked),
            "To provide it, do one of:",
            f"  - set {_ENV_DIR} to a folder holding {source.filename!r};",
            f"  - pass path='/path/to/{source.filename}';",
            f"  - download {source.url} into {_suggested_cache_path(source)}",
            f"    (or serve a mirror of {OFFICIAL_BASE} and set {_ENV_MIRROR} to its base URL).",
        ]
    )


def read_source(source: FileSource, *, path: str | os.PathLike[str] | None = None) -> bytes:
    """Find one data file, verify its sha256 and return its bytes.

    Args:
        source: The file to find (an entry of some ``EncodingSpec.sources``).
        path: An explicit file, or a folder holding it under ``source.filename`` or its
            tiktoken cache name. When given, nothing else is searched.

    Returns:
        The file's bytes, whose sha256 is ``source.sha256``.

    Raises:
        TokenizerFileCorrupt: A copy at ``path``, in ``COVEKIT_TOKENIZER_DIR``, or a fresh
            download has the wrong sha256.
        TokenizerDataMissing: No good copy anywhere and no download possible; the
            message lists every place looked and how to provide the file.

    >>> data = read_source(ENCODINGS["r50k_base"].sources[0])
    >>> len(data), data[:14]
    (835554, b'IQ== 0\\nIg== 1\\n')
    """
    if path is not None:
        return _read_explicit(source, Path(os.fspath(path)))
    search = _Search(source)
    for step in (_from_tokenizer_dir, _from_caches, _from_download):
        data = step(search)
        if data is not None:
            _log.debug("covekit: %s found (%s)", source.filename, step.__name__)
            return data
    raise TokenizerDataMissing(_missing_message(search))


# --------------------------------------------------------------------------- data gym


def _data_gym_alphabet() -> dict[str, int]:
    """GPT-2's printable stand-in character for each byte (tiktoken's construction)."""
    rank_to_intbyte = [b for b in range(2**8) if chr(b).isprintable() and chr(b) != " "]
    alphabet = {chr(b): b for b in rank_to_intbyte}
    n = 0
    for b in range(2**8):
        if b not in rank_to_intbyte:
            alphabet[chr(2**8 + n)] = b
            n += 1
    return alphabet


_DATA_GYM_ALPHABET = _data_gym_alphabet()


def _decode_data_gym(value: str, where: str) -> bytes:
    """The bytes a data-gym string stands for; unknown characters raise TokenizerFileCorrupt."""
    try:
        return bytes(_DATA_GYM_ALPHABET[char] for char in value)
    except KeyError as exc:
        raise TokenizerFileCorrupt(
            f"{where}: {value!r} holds {exc.args[0]!r} (U+{ord(exc.args[0]):04X}), "
            "which is not a GPT-2 byte character"
        ) from None


def _byte_ranks() -> dict[bytes, int]:
    """The 256 single-byte tokens, ranked as tiktoken ranks them (printables first)."""
    order = sorted(_DATA_GYM_ALPHABET, key=ord)
    return {bytes([_DATA_GYM_ALPHABET[char]]): i for i, char in enumerate(order)}


def _merge_ranks(vocab_bpe: bytes) -> dict[bytes, int]:
    """The single bytes plus every merge of vocab.bpe, ranked in file order."""
    try:
        text = vocab_bpe.decode()
    except UnicodeDecodeError as exc:
        raise TokenizerFileCorrupt(f"vocab.bpe is not UTF-8 text: {exc}") from None
    ranks = _byte_ranks()
    n = len(ranks)
    # Like tiktoken: skip the "#version" line and whatever follows the last newline.
    for lineno, line in enumerate(text.split("\n")[1:-1], start=2):
        parts = line.split()
        if len(parts) != 2:
            raise TokenizerFileCorrupt(
                f"vocab.bpe line {lineno}: expected two space-separated tokens, got {line!r}"
            )
        where = f"vocab.bpe line {lineno}"
        ranks[_decode_data_gym(parts[0], where) + _decode_data_gym(parts[1], where)] = n
        n += 1
    return ranks


def _encoder_ranks(encoder_json: bytes) -> dict[bytes, object]:
    """encoder.json as bytes -> rank, without the two special tokens."""
    try:
        encoder = json.loads(encoder_json)
    except (UnicodeDecodeError, ValueError) as exc:
        raise TokenizerFileCorrupt(f"encoder.json is not valid JSON: {exc}") from None
    if not isinstance(encoder, dict):
        raise TokenizerFileCorrupt(
            f"encoder.json must hold an object, not a JSON {type(encoder).__name__}"
        )
    ranks: dict[bytes, object] = {}
    for key, value in encoder.items():  # a non-integer rank fails the comparison later
        ranks[_decode_data_gym(key, "encoder.json")] = value
    ranks.pop(b"<|endoftext|>", None)
    ranks.pop(b"<|startoftext|>", None)
    return ranks


def _describe_difference(merges: dict[bytes, int], encoder: dict[bytes, object]) -> str:
    """Say how the ranks from vocab.bpe and from encoder.json disagree."""
    for token, rank in merges.items():
        if token not in encoder:
            return f"{token!r} (rank {rank} in vocab.bpe) is missing from encoder.json"
        if encoder[token] != rank:
            return f"{token!r} has rank {rank} in vocab.bpe but {encoder[token]!r} in encoder.json"
    extra = next(token for token in encoder if token not in merges)
    return f"{extra!r} (rank {encoder[extra]} in encoder.json) is not built by vocab.bpe"


def parse_data_gym(vocab_bpe: bytes, encoder_json: bytes) -> dict[bytes, int]:
    """Convert GPT-2's ``vocab.bpe`` + ``encoder.json`` to mergeable ranks, as tiktoken does.

    The same conversion as tiktoken's ``data_gym_to_mergeable_bpe_ranks``: the 256 bytes
    first, then every merge in file order; the result must agree with encoder.json
    (minus ``<|endoftext|>`` and ``<|startoftext|>``).

    Args:
        vocab_bpe: The bytes of ``vocab.bpe``.
        encoder_json: The bytes of ``encoder.json``.

    Returns:
        Token bytes to rank.

    Raises:
        TokenizerFileCorrupt: A file is malformed, or the two files disagree.

    >>> vocab_bpe, encoder_json = (read_source(s) for s in ENCODINGS["gpt2"].sources)
    >>> ranks = parse_data_gym(vocab_bpe, encoder_json)
    >>> len(ranks), ranks[b" the"]
    (50256, 262)
    """
    merges = _merge_ranks(vocab_bpe)
    encoder = _encoder_ranks(encoder_json)
    if merges != encoder:
        raise TokenizerFileCorrupt(
            f"vocab.bpe and encoder.json do not match ({len(merges)} tokens from vocab.bpe, "
            f"{len(encoder)} in encoder.json): {_describe_difference(merges, encoder)}"
        )
    return merges


# ----------------------------------------------------------------------------- loading


def _load_data_gym(spec: EncodingSpec, path: str | os.PathLike[str] | None) -> dict[bytes, int]:
    """Read and convert a data-gym encoding's two files (``path`` must be a folder)."""
    if path is not None and not Path(os.fspath(path)).is_dir():
        names = " and ".join(source.filename for source in spec.sources)
        raise InvalidInput(
            f"{spec.name} needs two files ({names}): path= must be a folder holding "
            f"them, not {os.fspath(path)!r}"
        )
    vocab_bpe, encoder_json = (read_source(source, path=path) for source in spec.sources)
    return parse_data_gym(vocab_bpe, encoder_json)


def load_encoding_data(
    name: str, *, path: str | os.PathLike[str] | None = None
) -> tuple[EncodingSpec, bytes | dict[bytes, int]]:
    """The registry entry of an encoding and its verified vocabulary.

    Args:
        name: An encoding name (see :func:`list_encodings`).
        path: An explicit file, or a folder holding the encoding's file(s); for
            ``gpt2`` a folder holding ``gpt2_vocab.bpe`` and ``gpt2_encoder.json``.

    Returns:
        ``(spec, data)``: for a ``tiktoken`` encoding the raw ``.tiktoken`` bytes, for
        ``gpt2`` the mergeable ranks from :func:`parse_data_gym`.

    Raises:
        UnknownEncoding: ``name`` is not a known encoding.
        InvalidInput: ``path`` is a file while the encoding needs two.
        TokenizerFileCorrupt: A copy is corrupt (see :func:`read_source`).
        TokenizerDataMissing: A file is nowhere to be found.

    >>> spec, data = load_encoding_data("o200k_harmony")
    >>> spec.sources[0].filename, data.count(b"\\n")
    ('o200k_base.tiktoken', 199998)
    """
    spec = _spec_for(name)
    if spec.kind == "data_gym":
        return spec, _load_data_gym(spec, path)
    return spec, read_source(spec.sources[0], path=path)
