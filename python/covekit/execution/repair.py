"""Audited repair of malformed JSON written by language models.

:func:`repair_json` turns a model's output into valid JSON and lists every change it
made, with its position in the input. What cannot be repaired without guessing data
(a missing value, ``NaN``/``Infinity``, duplicate keys, a key cut off before its value)
raises :class:`~covekit.errors.RepairError`; nothing is changed silently.

>>> import covekit
>>> r = covekit.repair_json("Sure! ```json\\n{'name': 'Ada', 'admin': True,}\\n```")
>>> r.value
{'name': 'Ada', 'admin': True}
>>> sorted({rep.kind for rep in r.repairs})
['code_fence', 'extracted_from_prose', 'python_literal', 'single_quotes', 'trailing_comma']
>>> r.lossless
True

The repairer is native code that releases the GIL; see docs/json-repair.md for the
list of repair kinds, which of them are lossless, and the refusals.

Thread safety: :func:`repair_json` is a pure function and its results are immutable;
it is safe to call from many threads at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from covekit._core import make_repairer as _make_repairer
from covekit._core import repair_log_len as _log_len
from covekit._core import repair_log_tuples as _log_tuples

__all__ = ["LOSSLESS_KINDS", "Repair", "Repaired", "repair_json"]

_loads = json.JSONDecoder().decode

#: The repair kinds that never change or drop a value present in the input; every
#: other kind (truncation closing, dropped extra values, ...) is refused by strict mode.
LOSSLESS_KINDS = frozenset(
    {
        "extracted_from_prose",
        "code_fence",
        "trailing_comma",
        "extra_comma",
        "single_quotes",
        "smart_quotes",
        "unquoted_key",
        "comment",
        "python_literal",
        "missing_comma",
        "missing_colon",
        "control_character",
        "escaped_apostrophe",
    }
)


@dataclass(frozen=True, slots=True)
class Repair:
    """One change made to the input.

    ``start`` and ``end`` are ``str`` indices into the input (an insertion has
    ``start == end``); ``kind`` is a stable name (see docs/json-repair.md).

    >>> import covekit
    >>> text = '{"a": 1,}'
    >>> rep = covekit.repair_json(text).repairs[0]
    >>> rep.kind, text[rep.start:rep.end], rep.lossless
    ('trailing_comma', ',', True)
    """

    kind: str
    start: int
    end: int
    message: str
    lossless: bool


class Repaired:
    """The result of :func:`repair_json` (immutable).

    ``text`` is valid JSON (the input itself when it already was), ``value`` the parsed
    value (``json.loads(text)``), ``repairs`` every change in input order (empty for
    valid JSON; built on first access, since a large input can have very many) and
    ``lossless`` whether all of them are lossless.

    >>> import covekit
    >>> r = covekit.repair_json('{"a": [1, "x"')
    >>> r.text, r.lossless
    ('{"a":[1,"x"]}', False)
    >>> [x.kind for x in r.repairs]
    ['truncated_container', 'truncated_container']
    """

    __slots__ = ("_log", "_repairs", "lossless", "text", "value")
    text: str
    value: Any
    lossless: bool
    _log: Any  # the native log (a capsule) until .repairs is first read
    _repairs: list[Repair] | None

    def __init__(
        self, text: str, value: Any, repairs: list[Repair] | None, lossless: bool
    ) -> None:
        set_ = object.__setattr__
        set_(self, "text", text)
        set_(self, "value", value)
        set_(self, "lossless", lossless)
        set_(self, "_log", None)
        set_(self, "_repairs", list(repairs) if repairs is not None else [])

    @property
    def repairs(self) -> list[Repair]:
        """Every change, in input order (a new list on each access)."""
        repairs = self._repairs
        if repairs is None:
            log = self._log
            repairs = [Repair(*t) for t in _log_tuples(log)] if log is not None else []
            object.__setattr__(self, "_repairs", repairs)
            object.__setattr__(self, "_log", None)
        return list(repairs)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Repaired is immutable; cannot set {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Repaired):
            return NotImplemented
        return (self.text, self.lossless, self.repairs) == (
            other.text,
            other.lossless,
            other.repairs,
        ) and (json.dumps(self.value) == json.dumps(other.value))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        n = _log_len(self._log) if self._log is not None else len(self._repairs or [])
        text = repr(self.text[:60]) + ("..." if len(self.text) > 60 else "")
        return f"Repaired(text={text}, repairs={n}, lossless={self.lossless})"


def repair_json(
    text: str | bytes,
    *,
    strict: bool = False,
    multiple: Literal["first", "all"] = "first",
    max_depth: int = 512,
) -> Repaired:
    """Repairs malformed JSON from a model, recording every change.

    Args:
        text: the model's output (``str``, or UTF-8 ``bytes``).
        strict: refuse (raise) any repair that is not lossless, e.g. closing a document
            cut off at ``max_tokens`` or dropping a second JSON value.
        multiple: ``"first"`` returns the first JSON value (later ones are dropped and
            recorded as ``extra_values_dropped``); ``"all"`` returns a JSON array of all
            the values found (always an array, even for one value).
        max_depth: the deepest nesting accepted; deeper input raises ``RepairError``.

    Returns:
        A :class:`Repaired` with the JSON ``text``, its ``value`` and the ``repairs``.

    Raises:
        RepairError: the text cannot be repaired without guessing data (or, with
            ``strict``, only with a repair that is not lossless); ``.problems`` lists
            ``(kind, start, end, message)`` for each reason.
        InvalidUtf8: ``bytes`` that are not UTF-8.
        InvalidInput: a bad option, or a ``str`` with lone surrogates.

    >>> import covekit
    >>> covekit.repair_json('{"a": 1} {"b": 2}', multiple="all").value
    [{'a': 1}, {'b': 2}]
    >>> try:
    ...     covekit.repair_json('{"price": NaN}')
    ... except covekit.errors.RepairError as exc:
    ...     print(exc.problems[0][:3])
    ('non_finite_number', 10, 13)
    """
    # The options are checked natively (strict a bool, multiple "first"/"all", max_depth >= 1).
    result: Repaired = _repair(text, strict, multiple, max_depth)
    return result


# One native call repairs, parses the output into Python objects and builds the Repaired
# (its slots set directly, as __init__ does): the value is always json.loads(text).
_repair = _make_repairer(Repaired, _loads)
