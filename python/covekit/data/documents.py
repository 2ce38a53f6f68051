"""The unit of ingestion: a :class:`Document` is normalized text with an id, metadata,
access-control tags and a content version.

>>> from covekit import Document
>>> doc = Document("Refunds take 5-10 days.", "kb/refunds.md", acl=["role:support"])
>>> doc.acl, len(doc.version)
(('role:support',), 32)
>>> doc.version == Document("Refunds take 5-10 days.", "other-id").version
True
>>> Document("Old policy.", "kb/old.md", metadata={"superseded_by": "kb/new.md"}).freshness
Freshness(updated_at=None, valid_until=None, superseded_by=('kb/new.md',), supersedes=())

Thread safety: a :class:`Document` is immutable (its metadata is a read-only mapping);
share it freely between threads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from covekit.data.freshness import Freshness, parse_freshness
from covekit.data.normalize import Normalization
from covekit.errors import InvalidInput
from covekit.hash import xxh3_128_hexdigest

__all__ = ["Document"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _acl_tuple(acl: Iterable[str]) -> tuple[str, ...]:
    """Validates access-control principals: an iterable of non-empty strings, order kept,
    repeats dropped."""
    if isinstance(acl, (str, bytes)):
        raise InvalidInput(
            f"acl must be a list of principals such as ['role:support', 'user:42'], "
            f"not a single {type(acl).__name__} ({acl!r})"
        )
    if not isinstance(acl, Iterable):
        raise TypeError(f"acl must be an iterable of str, not {type(acl).__name__}")
    out: list[str] = []
    for principal in acl:
        if not isinstance(principal, str) or not principal.strip():
            raise InvalidInput(f"every acl entry must be a non-empty str, got {principal!r}")
        if principal not in out:
            out.append(principal)
    return tuple(out)


def _frozen_metadata(metadata: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if metadata is None:
        return _EMPTY
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping (e.g. a dict), not {type(metadata).__name__}")
    bad = [key for key in metadata if not isinstance(key, str)]
    if bad:
        raise InvalidInput(f"metadata keys must be str, got {bad[0]!r}")
    copy = dict(metadata)
    try:
        json.dumps(copy, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"metadata must be JSON-serialisable (str, numbers, bools, None, lists, dicts): {exc}"
        ) from None
    return MappingProxyType(copy)


@dataclass(frozen=True, slots=True, repr=False)
class Document:
    """A document ready for chunking.

    Attributes:
        text: the normalized text (what the chunker sees).
        id: a stable id: given, the path relative to the load root, or a jsonl field.
        metadata: JSON-serialisable, read-only; carried onto every chunk.
        acl: access-control principals (e.g. ``("role:support", "user:42")``) carried
            onto every chunk; retrieval enforces them.
        version: hex XXH3-128 of ``text``, computed when not given; equal text, equal
            version, so a re-ingest knows what changed.
        source: the path or URI the text came from, if any.
        normalization: how the raw text became ``text`` (maps offsets back), if known.

    The metadata keys ``updated_at``, ``valid_until``, ``superseded_by`` and
    ``supersedes`` are freshness metadata: they are parsed and checked here (see
    :func:`~covekit.parse_freshness`), and :attr:`freshness` holds the result.

    >>> doc = Document("hello", "greeting", metadata={"lang": "en"})
    >>> doc.metadata["lang"], doc.version
    ('en', 'b5e9c1ad071b3e7fc779cfaa5e523818')
    >>> doc.metadata["lang"] = "de"
    Traceback (most recent call last):
    ...
    TypeError: 'mappingproxy' object does not support item assignment

    Errors: ``TypeError`` when ``text`` or ``id`` is not a ``str``;
    :class:`~covekit.errors.InvalidInput` for an empty id, a single string as ``acl``,
    metadata that is not JSON-serialisable, freshness metadata that does not parse (or
    names the document itself as superseding or superseded), or text with lone
    surrogates.
    """

    text: str
    id: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    acl: tuple[str, ...] = ()
    version: str = ""
    source: str | None = None
    normalization: Normalization | None = field(default=None, repr=False, compare=False)
    _freshness: Freshness = field(default_factory=Freshness, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(f"text must be a str, not {type(self.text).__name__}")
        if not isinstance(self.id, str):
            raise TypeError(f"id must be a str, not {type(self.id).__name__}")
        if not self.id:
            raise InvalidInput("id must be a non-empty str")
        if not isinstance(self.version, str):
            raise TypeError(f"version must be a str, not {type(self.version).__name__}")
        if self.source is not None and not isinstance(self.source, str):
            raise TypeError(f"source must be a str or None, not {type(self.source).__name__}")
        if self.normalization is not None and not isinstance(self.normalization, Normalization):
            raise TypeError("normalization must be a covekit.Normalization or None")
        object.__setattr__(self, "metadata", _frozen_metadata(self.metadata))
        freshness = parse_freshness(self.metadata)
        for name, ids in (("superseded_by", freshness.superseded_by),
                          ("supersedes", freshness.supersedes)):  # fmt: skip
            if self.id in ids:
                raise InvalidInput(
                    f"{name} names the document itself ({self.id!r}); list the ids of the "
                    "other documents"
                )
        object.__setattr__(self, "_freshness", freshness)
        object.__setattr__(self, "acl", _acl_tuple(self.acl))
        if not self.version:
            try:
                version = xxh3_128_hexdigest(self.text)
            except InvalidInput:
                raise InvalidInput(
                    "text holds lone surrogates, which cannot be hashed or tokenized; "
                    "repair it first, e.g. text.encode('utf-8', 'replace').decode()"
                ) from None
            object.__setattr__(self, "version", version)

    @property
    def freshness(self) -> Freshness:
        """The parsed freshness metadata (:meth:`Freshness.is_empty` when none was given).

        >>> doc = Document("Prices for 2024.", "prices.md", metadata={"valid_until": "2024-12-31"})
        >>> doc.freshness.valid_until, doc.freshness.expired(at=1735689600)
        (1735689600.0, True)
        """
        return self._freshness

    def __repr__(self) -> str:
        text = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return (
            f"Document(id={self.id!r}, text={text!r}, metadata={dict(self.metadata)!r}, "
            f"acl={self.acl!r}, version={self.version!r})"
        )

    def __hash__(self) -> int:
        return hash((self.id, self.version, self.acl, self.source))

    def __reduce__(self) -> tuple[Any, ...]:
        # A mappingproxy does not pickle; rebuild from a plain dict.
        return (
            Document,
            (
                self.text,
                self.id,
                dict(self.metadata),
                self.acl,
                self.version,
                self.source,
                self.normalization,
            ),
        )
