"""JSON Schema validation: :class:`Schema`, compiled once in C++ and shared across threads.

>>> import covekit
>>> schema = covekit.Schema({"type": "object", "properties": {"age": {"minimum": 0}}})
>>> result = schema.validate_json('{"age": -3}')
>>> result.valid, result.errors[0].instance_path, result.errors[0].message
(False, '/age', '-3 is less than the minimum of 0')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from covekit import _core

if TYPE_CHECKING:
    from covekit.execution.stream import SchemaStream

__all__ = ["Schema", "SchemaViolation", "ValidationResult"]

_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class SchemaViolation:
    """One way an instance fails its schema.

    ``instance_path`` is a JSON Pointer into the instance ("" for the root),
    ``keyword_location`` the path through the schema ($ref hops included),
    ``absolute_keyword_location`` the keyword's absolute URI when the schema has a base URI
    (``$id``), ``message`` a sentence for a person and ``keyword`` the failing keyword.

    >>> from covekit import Schema
    >>> err = Schema({"items": {"type": "string"}}).validate(["a", 2]).errors[0]
    >>> err.instance_path, err.keyword_location, err.keyword, err.message
    ('/1', '/items/type', 'type', '2 is not of type "string"')
    """

    instance_path: str
    keyword_location: str
    absolute_keyword_location: str | None
    message: str
    keyword: str


class ValidationResult:
    """The outcome of a validation: ``valid`` (also ``bool(result)``), ``errors``, ``value``.

    ``value`` is the instance as Python objects: for :meth:`Schema.validate_json` it is
    parsed on first access (validation itself builds no Python objects).

    >>> from covekit import Schema
    >>> result = Schema({"required": ["id"]}).validate_json('{"name": "x"}')
    >>> bool(result), result.errors[0].message, result.value
    (False, '"id" is a required property', {'name': 'x'})
    """

    __slots__ = ("_errors", "_raw", "_text", "_value", "valid")

    def __init__(
        self, errors: list[SchemaViolation], *, text: Any = None, value: Any = _UNSET
    ) -> None:
        self.valid: bool = not errors
        self._errors: list[SchemaViolation] | None = errors
        self._raw: Any = None  # the native violations (a capsule) until .errors is read
        self._text = text
        self._value = value

    @property
    def errors(self) -> list[SchemaViolation]:
        """The violations, in the order found (empty when valid)."""
        if self._errors is None:
            raw = self._raw
            self._errors = (
                [SchemaViolation(*row) for row in _core.violation_tuples(raw)]
                if raw is not None
                else []
            )
            self._raw = None
        return self._errors

    def __bool__(self) -> bool:
        return self.valid

    @property
    def value(self) -> Any:
        if self._value is _UNSET:
            self._value = _core.parse_json(self._text)
            self._text = None
        return self._value

    def __repr__(self) -> str:
        if self.valid:
            return "<ValidationResult valid>"
        first = self.errors[0]
        return (
            f"<ValidationResult invalid errors={len(self.errors)} "
            f"first={first.instance_path!r}: {first.message}>"
        )


def _as_json_text(schema: Any, what: str) -> str | bytes:
    if isinstance(schema, (str, bytes)):
        return schema
    if isinstance(schema, (Mapping, bool)):
        try:
            return json.dumps(schema, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            err = _core.SchemaError(f"{what} is not JSON data: {exc}")
            err.pointer = ""
            raise err from exc
    raise TypeError(f"{what} must be a dict, a bool or JSON text, not {type(schema).__name__}")


class Schema:
    """A JSON Schema (draft 2020-12 by default; 2019-09 and 7 by ``$schema``), compiled once.

    ``registry`` maps absolute URIs to schemas for remote ``$ref`` (nothing is ever
    fetched). ``format_assertion=True`` makes ``format`` assert instead of annotate.
    Raises :class:`covekit.errors.SchemaError` (with ``.pointer``) for a schema that does
    not compile. A Schema is immutable and safe to share across threads.

    >>> s = Schema({"type": "array", "items": {"type": "integer"}})
    >>> s.is_valid([1, 2, 3]), s.is_valid_json("[1, 2.5]")
    (True, False)
    """

    __slots__ = ("_native", "_schema")

    def __init__(
        self,
        schema: Mapping[str, Any] | bool | str | bytes,
        *,
        registry: Mapping[str, Mapping[str, Any] | bool] | None = None,
        format_assertion: bool = False,
    ) -> None:
        text = _as_json_text(schema, "schema")
        docs: list[tuple[str, str]] = []
        for uri, doc in (registry or {}).items():
            rendered = _as_json_text(doc, f"registry[{uri!r}]")
            docs.append(
                (uri, rendered.decode("utf-8") if isinstance(rendered, bytes) else rendered)
            )
        self._native = _core.JsonSchema(text, docs, format_assertion)
        self._schema = schema if isinstance(schema, (Mapping, bool)) else _core.parse_json(schema)

    @property
    def schema(self) -> Any:
        """The schema as given (a dict or a bool; JSON text is parsed)."""
        return self._schema

    def validate_json(self, text: str | bytes, *, all_errors: bool = False) -> ValidationResult:
        """Parses JSON text (simdjson, GIL released) and validates it.

        Raises :class:`covekit.errors.InvalidJSON` when the text does not parse.
        """
        result: ValidationResult = _validate_json(self._native, text, all_errors)
        return result

    def validate(self, obj: Any, *, all_errors: bool = False) -> ValidationResult:
        """Validates Python data (dict, list, tuple, str, int, float, bool, None) in C++."""
        result: ValidationResult = _validate(self._native, obj, all_errors)
        return result

    def is_valid_json(self, text: str | bytes) -> bool:
        """True when the JSON text is valid: the fastest path (no error objects)."""
        return bool(self._native.is_valid_json(text))

    def is_valid(self, obj: Any) -> bool:
        """True when the Python data is valid: the fastest path (no error objects)."""
        return bool(self._native.is_valid(obj))

    def stream(self) -> SchemaStream:
        """A validator of this schema for text that arrives in chunks (a streaming model):
        after each chunk it says valid prefix, already invalid (where), or complete.

        >>> s = Schema({"type": "array", "maxItems": 2}).stream()
        >>> s.feed("[1, 2").status, s.feed(", 3").status
        ('partial', 'invalid')
        """
        from covekit.execution.stream import SchemaStream

        return SchemaStream(self)

    def __repr__(self) -> str:
        return f"<covekit.Schema {json.dumps(self._schema)[:60]}>"


# validate_json/validate make their ValidationResult natively (its slots set directly; the
# SchemaViolation objects are built when .errors is first read).
_validate_json, _validate = _core.make_validators(ValidationResult, _UNSET)
