"""Filters over per-document attributes: access control, tags, metadata fields.

A :class:`Filter` is evaluated inside an index's search (in C++), so a result the
filter rejects is never returned, never scored after the fact, and never reaches a
prompt.

>>> from covekit import Filter
>>> f = (Filter.acl_any(["role:support", "user:42"]) & Filter.eq("lang", "en")
...      & ~Filter.tags_any(["draft"]))
>>> f.matches({"acl": ["role:support"], "fields": {"lang": "en"}})
True
>>> f.matches({"acl": [], "fields": {"lang": "en"}})  # an empty acl is visible to no principal
False
>>> Filter.from_dict(f.to_dict()) == f
True

Each document carries ``{"acl": [...], "tags": [...], "fields": {name: value}}``
(every key optional); field values are ``str``, ``int`` (64-bit), ``float`` or
``bool``. See ``docs/retrieval.md`` for the exact semantics.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from covekit._core import Filter as _Filter
from covekit.errors import InvalidInput

__all__ = ["FieldValue", "Filter"]

FieldValue = str | int | float | bool


def _strings(values: Iterable[str], what: str) -> list[str]:
    if isinstance(values, str | bytes):
        raise InvalidInput(f"{what} takes a list of strings, not one string: wrap it in a list")
    return list(values)


class Filter:
    """A filter expression: build it with the class methods and ``&``, ``|``, ``~``.

    Filters are immutable and compiled once, at construction (a malformed one raises
    :class:`~covekit.errors.InvalidInput` right away). They can be shared across threads.

    >>> Filter.range("valid_until", gte=1767225600).to_dict()
    {'range': {'field': 'valid_until', 'gte': 1767225600}}
    >>> (Filter.tags_any(["faq"]) | Filter.exists("owner")).to_dict()
    {'or': [{'tags_any': ['faq']}, {'exists': 'owner'}]}
    """

    __slots__ = ("_native", "_spec")

    def __init__(self, spec: Mapping[str, Any]) -> None:
        """Use the class methods or :meth:`from_dict`; ``spec`` is the dict form."""
        self._spec: dict[str, Any] = copy.deepcopy(dict(spec))
        self._native = _Filter(self._spec)

    # ---- constructors ---------------------------------------------------------------

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Filter:
        """The filter of a dict as :meth:`to_dict` writes it (e.g. from JSON or YAML).

        >>> f = Filter.from_dict({"and": [{"eq": {"field": "lang", "value": "en"}},
        ...                               {"not": {"tags_any": ["draft"]}}]})
        >>> f == Filter.eq("lang", "en") & ~Filter.tags_any(["draft"])
        True
        """
        if not isinstance(spec, Mapping):
            raise InvalidInput(f"Filter.from_dict takes a dict, not {type(spec).__name__}")
        return cls(spec)

    @classmethod
    def all(cls) -> Filter:
        """Matches every document.

        >>> Filter.all().matches({})
        True
        """
        return cls({"all": True})

    @classmethod
    def acl_any(cls, principals: Iterable[str]) -> Filter:
        """Documents whose acl holds at least one of ``principals``.

        A document with an empty acl matches no principal. ``acl_any([])`` matches nothing.

        >>> Filter.acl_any(["user:42"]).matches({"acl": ["user:42", "role:ops"]})
        True
        """
        return cls({"acl_any": _strings(principals, "acl_any")})

    @classmethod
    def tags_any(cls, tags: Iterable[str]) -> Filter:
        """Documents with at least one of ``tags`` (``tags_any([])`` matches nothing).

        >>> Filter.tags_any(["faq", "howto"]).matches({"tags": ["howto"]})
        True
        """
        return cls({"tags_any": _strings(tags, "tags_any")})

    @classmethod
    def tags_all(cls, tags: Iterable[str]) -> Filter:
        """Documents with every one of ``tags`` (``tags_all([])`` matches every document).

        >>> Filter.tags_all(["faq", "howto"]).matches({"tags": ["howto"]})
        False
        """
        return cls({"tags_all": _strings(tags, "tags_all")})

    @classmethod
    def eq(cls, field: str, value: FieldValue) -> Filter:
        """Documents whose ``field`` equals ``value``.

        Numbers compare exactly across int and float (``1 == 1.0``); bools and strings
        only equal values of their own type. A document without the field does not match.

        >>> Filter.eq("year", 2024).matches({"fields": {"year": 2024.0}})
        True
        >>> Filter.eq("year", 2024).matches({"fields": {"year": "2024"}})
        False
        """
        return cls({"eq": {"field": field, "value": value}})

    @classmethod
    def in_(cls, field: str, values: Iterable[FieldValue]) -> Filter:
        """Documents whose ``field`` equals one of ``values`` (``"in"`` in the dict form).

        >>> Filter.in_("lang", ["en", "de"]).matches({"fields": {"lang": "de"}})
        True
        """
        if isinstance(values, str | bytes):
            raise InvalidInput("in_ takes a list of values, not one string: wrap it in a list")
        return cls({"in": {"field": field, "values": list(values)}})

    @classmethod
    def range(
        cls,
        field: str,
        *,
        gt: float | None = None,
        gte: float | None = None,
        lt: float | None = None,
        lte: float | None = None,
    ) -> Filter:
        """Documents whose numeric ``field`` lies within the bounds (at least one bound).

        For dates, store and compare epoch seconds. NaN values never match.

        >>> Filter.range("valid_until", gte=100, lt=200).matches({"fields": {"valid_until": 150}})
        True
        """
        spec: dict[str, Any] = {"field": field}
        for key, value in (("gt", gt), ("gte", gte), ("lt", lt), ("lte", lte)):
            if value is not None:
                spec[key] = value
        return cls({"range": spec})

    @classmethod
    def exists(cls, field: str) -> Filter:
        """Documents that have ``field`` (any value).

        >>> Filter.exists("owner").matches({"fields": {"owner": ""}})
        True
        """
        return cls({"exists": field})

    @classmethod
    def and_(cls, filters: Iterable[Filter]) -> Filter:
        """All of ``filters`` (``and_([])`` matches everything).

        >>> Filter.and_([Filter.exists("a"), Filter.exists("b")]).to_dict()
        {'and': [{'exists': 'a'}, {'exists': 'b'}]}
        """
        return cls({"and": [_check(f).to_dict() for f in filters]})

    @classmethod
    def or_(cls, filters: Iterable[Filter]) -> Filter:
        """Any of ``filters`` (``or_([])`` matches nothing).

        >>> Filter.or_([Filter.exists("a"), Filter.exists("b")]).matches({"fields": {"b": 1}})
        True
        """
        return cls({"or": [_check(f).to_dict() for f in filters]})

    # ---- operators --------------------------------------------------------------------

    def __and__(self, other: Filter) -> Filter:
        other = _check(other)
        parts = [*_flatten(self, "and"), *_flatten(other, "and")]
        return Filter({"and": parts})

    def __or__(self, other: Filter) -> Filter:
        other = _check(other)
        parts = [*_flatten(self, "or"), *_flatten(other, "or")]
        return Filter({"or": parts})

    def __invert__(self) -> Filter:
        if set(self._spec) == {"not"}:
            return Filter(self._spec["not"])
        return Filter({"not": self.to_dict()})

    # ---- use ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The dict form (JSON-serializable), a copy.

        >>> (~Filter.tags_any(["draft"])).to_dict()
        {'not': {'tags_any': ['draft']}}
        """
        return copy.deepcopy(self._spec)

    def matches(self, attributes: Mapping[str, Any]) -> bool:
        """Whether a document with these attributes passes the filter (the C++ evaluator).

        >>> Filter.acl_any(["user:1"]).matches({"acl": ["user:1"], "tags": ["x"]})
        True
        """
        return bool(self._native.evaluate([attributes])[0])

    def matches_many(self, attributes: Sequence[Mapping[str, Any]]) -> list[bool]:
        """:meth:`matches` of each entry, in one native call.

        >>> Filter.exists("a").matches_many([{"fields": {"a": 1}}, {}])
        [True, False]
        """
        return [bool(x) for x in self._native.evaluate(list(attributes))]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Filter) and self._spec == other._spec

    def __hash__(self) -> int:
        return hash(json.dumps(self._spec, sort_keys=True, default=repr))

    def __repr__(self) -> str:
        return f"Filter({self._spec!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Filter, (self._spec,))


def _check(f: object) -> Filter:
    if not isinstance(f, Filter):
        raise TypeError(f"expected a covekit.Filter, not {type(f).__name__}")
    return f


def _flatten(f: Filter, op: str) -> list[dict[str, Any]]:
    spec = f.to_dict()
    if set(spec) == {op}:
        return list(spec[op])
    return [spec]
