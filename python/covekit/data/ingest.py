"""Loading files into :class:`~covekit.Document` objects: decoding, text extraction,
normalization, metadata, access-control tags and deduplication.

>>> import covekit
>>> from importlib.resources import files
>>> result = covekit.load_documents(files("covekit") / "samples" / "kb", acl=["role:support"])
>>> [doc.id for doc in result.documents]
['billing.md', 'onboarding_multilingual.md', 'refunds.md', 'security.md']
>>> result.documents[0].acl, result.failures
(('role:support',), ())

Thread safety: :func:`load_documents` keeps no state between calls; calls from several
threads may run at once. An :class:`IngestResult` is immutable.
"""

from __future__ import annotations

import codecs
import glob
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from covekit.data.documents import Document, _acl_tuple, _frozen_metadata
from covekit.data.freshness import FRESHNESS_FIELDS, parse_freshness
from covekit.data.html_text import html_to_text
from covekit.data.normalize import Normalization, normalize_text
from covekit.errors import InvalidInput, SourceNotFound

if TYPE_CHECKING:
    from covekit.data.tokenize import Tokenizer

__all__ = [
    "Duplicate",
    "IngestFailure",
    "IngestResult",
    "IngestSummary",
    "Skipped",
    "decode_bytes",
    "load_documents",
]

#: File suffixes read, and the ``file_type`` they get in the metadata.
FILE_TYPES = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html",
              ".jsonl": "jsonl"}  # fmt: skip

_BOMS = (  # longest first: the UTF-32-LE mark starts with the UTF-16-LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_NORMALIZE_OPTIONS = frozenset(
    {"form", "line_endings", "control_chars", "fold_whitespace", "strip_bom"}
)
#: Above this many files, a progress bar is shown on an interactive stderr.
PROGRESS_THRESHOLD = 50


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class IngestFailure:
    """A file, or one line of a jsonl file, that could not be loaded, and why.

    >>> IngestFailure("data/a.jsonl", "not valid JSON", line=3)
    IngestFailure(source='data/a.jsonl', reason='not valid JSON', line=3)
    """

    source: str
    reason: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file or jsonl line left out on purpose: an unsupported file type, or no text.

    >>> Skipped("notes/empty.md", "no text")
    Skipped(source='notes/empty.md', reason='no text', line=None)
    """

    source: str
    reason: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A document dropped because an earlier one had the same normalized text.

    >>> Duplicate("copy.md", "original.md", "9f0e...", "kb/copy.md").duplicate_of
    'original.md'
    """

    id: str
    duplicate_of: str
    version: str
    source: str | None = None


@dataclass(frozen=True, slots=True)
class IngestSummary:
    """Counts for a batch: what :meth:`IngestResult.summary` returns.

    ``tokens`` is filled when a tokenizer is given; ``chunks`` is left for the pipeline
    that chunks the documents.

    >>> print(IngestSummary(documents=2, files=2, bytes=2048, duplicates=1, failures=0))
    2 documents from 2 files (2,048 bytes); 1 duplicates, 0 failures, 0 skipped
    """

    documents: int
    files: int
    bytes: int
    duplicates: int
    failures: int
    skipped: int = 0
    tokens: int | None = None
    chunks: int | None = None

    def __str__(self) -> str:
        text = (
            f"{self.documents} documents from {self.files} files ({self.bytes:,} bytes); "
            f"{self.duplicates} duplicates, {self.failures} failures, {self.skipped} skipped"
        )
        if self.tokens is not None:
            text += f", {self.tokens:,} tokens"
        if self.chunks is not None:
            text += f", {self.chunks:,} chunks"
        return text


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What :func:`load_documents` returns: the documents, and everything that was not one.

    Iterating over the result (and ``len``) goes over :attr:`documents`.

    >>> result = IngestResult(documents=(Document("hi", "a.txt"),), files=1, bytes=2)
    >>> result
    <covekit.IngestResult documents=1 failures=0 duplicates=0 skipped=0>
    >>> [doc.id for doc in result]
    ['a.txt']
    """

    documents: tuple[Document, ...] = ()
    failures: tuple[IngestFailure, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    files: int = 0
    bytes: int = 0
    root: str | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return (
            f"<covekit.IngestResult documents={len(self.documents)} "
            f"failures={len(self.failures)} duplicates={len(self.duplicates)} "
            f"skipped={len(self.skipped)}>"
        )

    def __len__(self) -> int:
        return len(self.documents)

    def __iter__(self) -> Iterator[Document]:
        return iter(self.documents)

    def summary(self, tokenizer: Tokenizer | str | None = None) -> IngestSummary:
        """The counts of this batch; with a tokenizer (or an encoding name), the tokens too.

        Special-token text in a document is counted as ordinary text.

        >>> result = IngestResult(documents=(Document("hello world", "a.txt"),), files=1)
        >>> result.summary("cl100k_base").tokens
        2
        """
        tokens = None
        if tokenizer is not None:
            if isinstance(tokenizer, str):
                from covekit.data.tokenize import get_tokenizer

                tokenizer = get_tokenizer(tokenizer)
            counts = tokenizer.count_batch(
                [doc.text for doc in self.documents], disallowed_special=()
            )
            tokens = sum(counts)
        return IngestSummary(
            documents=len(self.documents),
            files=self.files,
            bytes=self.bytes,
            duplicates=len(self.duplicates),
            failures=len(self.failures),
            skipped=len(self.skipped),
            tokens=tokens,
        )


# ------------------------------------------------------------------------------ decoding


class _Unreadable(ValueError):
    """A file (or line) that cannot be turned into text; the message is the reason."""


def _bom_codec(data: bytes) -> str | None:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec
    return None


def _decode_error(exc: UnicodeDecodeError, codec: str, hint: str) -> _Unreadable:
    return _Unreadable(
        f"not valid {codec}: byte {exc.start} ({exc.object[exc.start : exc.start + 1]!r}) "
        f"{exc.reason}; {hint}"
    )


def decode_bytes(data: bytes, *, encoding: str | None = None, html: bool = False) -> str:
    """Decodes a file's bytes, strictly: a byte-order mark wins, then ``encoding`` if
    given, then (for HTML) a ``<meta charset>`` declaration if UTF-8 fails, else UTF-8.

    The byte-order mark is not part of the text. Raises ``ValueError`` (with the
    reason) rather than guessing or replacing characters.

    >>> decode_bytes("hé".encode("utf-16"))
    'hé'
    """
    codec = _bom_codec(data)
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError as exc:
            raise _decode_error(exc, codec, "the file starts with its byte-order mark") from None
    if encoding is not None:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise _decode_error(exc, encoding, "check encoding=") from None
    sample = data[:4096]
    if sample and sample.count(0) * 4 >= len(sample):
        raise _Unreadable(
            "looks like UTF-16 or UTF-32 without a byte-order mark (many NUL bytes); "
            "pass encoding='utf-16-le' (or the file's encoding) if it is text"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if html:
            declared = _META_CHARSET.search(data[:4096])
            if declared is not None:
                name = declared.group(1).decode("ascii")
                try:
                    if codecs.lookup(name).name != "utf-8":
                        return data.decode(name)
                except LookupError:
                    raise _Unreadable(
                        f"declares an unknown charset {name!r}; pass encoding="
                    ) from None
                except UnicodeDecodeError as exc2:
                    raise _decode_error(exc2, name, "the charset its <meta> declares") from None
        raise _decode_error(
            exc, "UTF-8", "pass encoding='latin-1' (or the file's encoding) to read it"
        ) from None


# ------------------------------------------------------------------------------ finding files


def _is_hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _walk(root: Path, recursive: bool) -> list[Path]:
    if not recursive:
        return [p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")]
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found.extend(Path(dirpath, f) for f in filenames if not f.startswith("."))
    return found


def _find(source: str | os.PathLike[str], recursive: bool) -> tuple[Path, list[Path], bool]:
    """(root the ids are relative to, files, whether the files were named explicitly)."""
    if isinstance(source, bytes):
        source = os.fsdecode(source)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"path_or_glob must be a str or a path, not {type(source).__name__}")
    path = Path(source)
    text = os.fspath(source)
    if path.is_file():
        return path.parent, [path], True
    if path.is_dir():
        return path, [p for p in _walk(path, recursive) if p.is_file()], False
    if glob.has_magic(text):
        parts = Path(text).parts
        fixed = [p for p in parts[: next(i for i, p in enumerate(parts) if glob.has_magic(p))]]
        root = Path(*fixed) if fixed else Path(".")
        files = [Path(p) for p in glob.glob(text, recursive=recursive) if Path(p).is_file()]
        if not files:
            raise SourceNotFound(
                f"no file matches {text!r}"
                + ("" if root.is_dir() else f" (the folder {str(root)!r} does not exist)")
                + "; check the pattern (use '**' with recursive=True to match subfolders)"
            )
        return root, files, False
    raise SourceNotFound(
        f"{text!r} does not exist; pass a file, a folder, or a glob pattern such as 'docs/**/*.md'"
    )


def _rel_id(path: Path, root: Path) -> str:
    try:
        rel = path.relative_to(root)
    except ValueError:
        rel = path
    name = rel.as_posix()
    # File names that are not UTF-8 arrive with surrogate escapes; keep them visible.
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# ------------------------------------------------------------------------------ loading


@dataclass
class _Batch:
    normalize: dict[str, Any] | None
    dedup: bool
    acl: tuple[str, ...]
    documents: list[Document] = field(default_factory=list)
    failures: list[IngestFailure] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    by_version: dict[str, str] = field(default_factory=dict)
    by_id: dict[str, str] = field(default_factory=dict)

    def add(
        self,
        raw: str,
        doc_id: str,
        metadata: dict[str, Any],
        acl: tuple[str, ...],
        source: str,
        line: int | None = None,
    ) -> None:
        norm: Normalization | None = None
        text = raw
        if self.normalize is not None:
            norm = normalize_text(raw, **self.normalize)
            text = norm.text
        if not text.strip():
            self.skipped.append(Skipped(source, "no text", line))
            return
        where = source if line is None else f"{source}:{line}"
        try:
            doc = Document(
                text,
                doc_id,
                metadata=metadata,
                acl=self.acl + tuple(p for p in acl if p not in self.acl),
                source=source,
                normalization=norm,
            )
        except (InvalidInput, TypeError) as exc:
            self.failures.append(IngestFailure(source, str(exc), line))
            return
        if self.dedup and doc.version in self.by_version:
            self.duplicates.append(
                Duplicate(doc.id, self.by_version[doc.version], doc.version, source)
            )
            return
        if doc.id in self.by_id:
            self.failures.append(
                IngestFailure(
                    source,
                    f"id {doc.id!r} is already used by {self.by_id[doc.id]}; "
                    "give every record its own id",
                    line,
                )
            )
            return
        self.by_version.setdefault(doc.version, doc.id)
        self.by_id[doc.id] = where
        self.documents.append(doc)


def _jsonl_lines(data: bytes, encoding: str | None) -> Iterator[tuple[int, str | _Unreadable]]:
    """(line number, text or the reason it cannot be decoded) for each line."""
    if encoding is not None or _bom_codec(data) is not None:
        try:
            text = decode_bytes(data, encoding=encoding)
        except _Unreadable as exc:
            yield 0, exc
            return
        for number, line in enumerate(text.split("\n"), 1):
            yield number, line
        return
    for number, raw_line in enumerate(data.split(b"\n"), 1):
        try:
            yield number, raw_line.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, _decode_error(exc, "UTF-8", "the rest of the file is read")


def _load_jsonl(
    batch: _Batch,
    data: bytes,
    source: str,
    rel: str,
    base: dict[str, Any],
    *,
    encoding: str | None,
    text_field: str,
    id_field: str | None,
    acl_field: str | None,
    metadata_fields: Sequence[str] | None,
) -> None:
    reserved = {text_field, id_field, acl_field}
    for number, line in _jsonl_lines(data, encoding):
        if isinstance(line, _Unreadable):
            batch.failures.append(IngestFailure(source, str(line), number or None))
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            batch.failures.append(
                IngestFailure(source, f"not valid JSON: {exc.msg} at column {exc.colno}", number)
            )
            continue
        if not isinstance(record, dict):
            batch.failures.append(
                IngestFailure(
                    source, f"expected a JSON object, got {type(record).__name__}", number
                )
            )
            continue
        text = record.get(text_field)
        if not isinstance(text, str):
            reason = (
                f"no {text_field!r} field (pass text_field= to name the field holding the text)"
                if text is None
                else f"field {text_field!r} is {type(text).__name__}, not a string"
            )
            batch.failures.append(IngestFailure(source, reason, number))
            continue
        raw_id = record.get(id_field) if id_field else None
        if raw_id is None:
            doc_id = f"{rel}#{number}"
        elif isinstance(raw_id, str) and raw_id:
            doc_id = raw_id
        elif isinstance(raw_id, int) and not isinstance(raw_id, bool):
            doc_id = str(raw_id)
        else:
            batch.failures.append(
                IngestFailure(source, f"id field {id_field!r} must be a non-empty string "
                              f"or an integer, got {raw_id!r}", number)
            )  # fmt: skip
            continue
        line_acl: tuple[str, ...] = ()
        if acl_field and acl_field in record:
            value = record[acl_field]
            if not isinstance(value, list) or not all(
                isinstance(p, str) and p.strip() for p in value
            ):
                batch.failures.append(
                    IngestFailure(source, f"acl field {acl_field!r} must be a list of "
                                  f"non-empty strings, got {value!r}", number)
                )  # fmt: skip
                continue
            line_acl = tuple(value)
        if metadata_fields is None:
            extra = {k: v for k, v in record.items() if k not in reserved}
        else:
            extra = {k: record[k] for k in metadata_fields if k in record}
        batch.add(text, doc_id, {**base, "line": number, **extra}, line_acl, source, number)


def load_documents(
    path_or_glob: str | os.PathLike[str],
    *,
    recursive: bool = True,
    text_field: str = "text",
    id_field: str | None = "id",
    metadata_fields: Sequence[str] | None = None,
    acl_field: str | None = "acl",
    acl: Iterable[str] = (),
    metadata: Mapping[str, Any] | None = None,
    normalize: bool | Mapping[str, Any] = True,
    dedup: bool = True,
    progress: bool | None = None,
    encoding: str | None = None,
) -> IngestResult:
    """Loads ``.txt``, ``.md``, ``.html``/``.htm`` and ``.jsonl`` files as documents.

    ``path_or_glob`` is a file, a folder (read recursively unless ``recursive=False``;
    hidden files and folders are left out) or a glob pattern (``"kb/**/*.md"``). Files
    are read in sorted order, so the same input gives the same result.

    - Text files are decoded strictly: a byte-order mark (UTF-8, UTF-16, UTF-32) wins,
      then ``encoding`` if given, else UTF-8 (for HTML, the ``<meta charset>`` if UTF-8
      fails). A file that cannot be decoded is listed in ``failures``, never mangled.
    - HTML becomes Markdown-like text (headings as ``#``, lists as ``- ``); the title,
      ``<meta>`` tags and language go to the metadata.
    - Each line of a ``.jsonl`` file is a JSON object: the text is in ``text_field``,
      the id in ``id_field`` (default: ``<path>#<line>``), access-control tags in
      ``acl_field``, and the fields in ``metadata_fields`` (default: all the others)
      go to the metadata. A bad line is listed in ``failures``; the rest is read.
    - The text is normalized with :func:`~covekit.normalize_text` (pass a dict of its
      options, or ``False`` to keep the text as decoded); the
      :class:`~covekit.Normalization` is kept on the document to map offsets back.
    - Metadata: ``path`` (relative to the folder or glob root, also the id),
      ``file_type``, ``mtime``, ``size``, then ``metadata``, then jsonl fields (later
      ones win). ``acl`` is given to every document, plus any jsonl ``acl_field``.
    - Freshness metadata (``updated_at``, ``valid_until``, ``superseded_by``,
      ``supersedes``; see :func:`~covekit.parse_freshness`) comes from ``metadata``
      (for every document), a jsonl record's fields, or an HTML page's
      ``<meta name="updated_at" content="...">`` tags. A document whose freshness
      metadata does not parse is listed in ``failures`` with the reason (and the jsonl
      line), never loaded as if it were fresh. ``mtime`` is not freshness metadata.
    - With ``dedup``, a document whose normalized text (its ``version``) equals an
      earlier one's is left out and listed in ``duplicates``.
    - ``progress``: a tqdm bar; by default shown when stderr is a terminal and there
      are more than 50 files.

    >>> import covekit, pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.md").write_text("# A\\r\\n\\r\\nText.\\r\\n")
    >>> _ = (folder / "b.md").write_bytes(b"\\xff not utf-8")
    >>> result = covekit.load_documents(folder)
    >>> result.documents[0].text
    '# A\\n\\nText.\\n'
    >>> result.failures[0].reason.split(";")[0]
    "not valid UTF-8: byte 0 (b'\\\\xff') invalid start byte"

    Errors: :class:`~covekit.errors.SourceNotFound` (a ``FileNotFoundError``) when the
    path does not exist or the glob matches no file; :class:`~covekit.errors.InvalidInput`
    for an unknown ``encoding``, bad ``normalize`` options, an ``acl`` that is a single
    string, or ``metadata`` whose freshness fields do not parse; ``TypeError`` for
    arguments of the wrong type.
    """
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InvalidInput(
                f"unknown encoding {encoding!r}; pass a Python codec name such as 'latin-1'"
            ) from None
    if normalize is True:
        options: dict[str, Any] | None = {}
    elif normalize is False:
        options = None
    elif isinstance(normalize, Mapping):
        unknown = sorted(set(normalize) - _NORMALIZE_OPTIONS)
        if unknown:
            raise InvalidInput(
                f"unknown normalize options {unknown}; use {sorted(_NORMALIZE_OPTIONS)}"
            )
        options = dict(normalize)
        normalize_text("", **options)  # validates the values now, not per file
    else:
        raise TypeError(f"normalize must be a bool or a dict, not {type(normalize).__name__}")
    if isinstance(metadata_fields, str):
        raise InvalidInput("metadata_fields must be a list of field names, not a single str")
    user_metadata = dict(_frozen_metadata(metadata))  # validates
    parse_freshness(user_metadata)  # a bad time for the whole batch is a bad argument
    batch = _Batch(options, dedup, _acl_tuple(acl))

    root, found, explicit = _find(path_or_glob, recursive)
    files = sorted(found, key=lambda p: _rel_id(p, root))
    total_bytes = 0
    read = 0

    show = progress
    if show is None:
        show = len(files) > PROGRESS_THRESHOLD and sys.stderr.isatty()
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=len(files), unit="file", desc="covekit: loading", leave=False)
    try:
        for path in files:
            if bar is not None:
                bar.update(1)
            rel = _rel_id(path, root)
            source = str(path)
            file_type = FILE_TYPES.get(path.suffix.lower())
            if file_type is None:
                reason = (
                    f"unsupported file type {path.suffix or '(none)'!r}; covekit reads "
                    + ", ".join(sorted(FILE_TYPES))
                )
                if explicit:
                    batch.failures.append(IngestFailure(source, reason))
                else:
                    batch.skipped.append(Skipped(source, reason))
                continue
            try:
                data = path.read_bytes()
                stat = path.stat()
            except OSError as exc:
                batch.failures.append(IngestFailure(source, f"cannot read: {exc.strerror or exc}"))
                continue
            read += 1
            total_bytes += len(data)
            base = {
                "path": rel,
                "file_type": file_type,
                "mtime": stat.st_mtime,
                "size": len(data),
                **user_metadata,
            }
            if file_type == "jsonl":
                _load_jsonl(
                    batch, data, source, rel, base, encoding=encoding, text_field=text_field,
                    id_field=id_field, acl_field=acl_field, metadata_fields=metadata_fields,
                )  # fmt: skip
                continue
            try:
                text = decode_bytes(data, encoding=encoding, html=file_type == "html")
            except _Unreadable as exc:
                batch.failures.append(IngestFailure(source, str(exc)))
                continue
            if file_type == "html":
                text, html_meta = html_to_text(text)
                # <meta name="updated_at" content="..."> and its siblings (the name in any
                # case) are freshness metadata; they stay in "meta" too
                for name, value in html_meta.get("meta", {}).items():
                    if name.lower() in FRESHNESS_FIELDS:
                        html_meta[name.lower()] = value
                base = {**base, **html_meta, **user_metadata}
            batch.add(text, rel, base, (), source)
    finally:
        if bar is not None:
            bar.close()
    return IngestResult(
        documents=tuple(batch.documents),
        failures=tuple(batch.failures),
        duplicates=tuple(batch.duplicates),
        skipped=tuple(batch.skipped),
        files=read,
        bytes=total_bytes,
        root=str(root),
    )
