"""Typed tools: :func:`tool` makes a Python function a model-callable tool with a JSON
Schema, and :class:`Toolbox` runs the calls a model asks for, safely.

``@covekit.tool`` reads the function's type hints (``str``, ``int``, ``float``,
``bool``, ``None``, ``Optional``/``X | None``, ``Literal``, ``list``, ``tuple``,
``set``, ``dict[str, X]``, ``TypedDict``, ``Enum``, dataclasses, ``Annotated[X, "a
description" or {extra schema}]``, or one pydantic model parameter) and its docstring
(first paragraph: the description; Google-style ``Args:`` lines: the parameters'
descriptions). :meth:`Tool.definition` is the tool in OpenAI's ``tools`` format.

:meth:`Toolbox.run` takes a :class:`~covekit.ToolCall` as a model wrote it and returns
a :class:`ToolResult`, never raising for the call's own faults: an unknown tool,
arguments that are not JSON or fail the schema (checked by covekit's validator
*before* the call), a call the policy does not allow, a tool that raises, one that
hangs past its timeout (it runs on a worker thread; the caller gets ``"timeout"`` on
time), a call waiting for approval. Idempotent tools are retried; calls with an
idempotency key act once and replay their recorded result (SQLite).

>>> import covekit
>>> @covekit.tool(timeout=1.0)
... def lookup_order(order_id: str, include_items: bool = False) -> dict:
...     '''Looks up an order.
...
...     Args:
...         order_id: the order's id, e.g. "A-17".
...         include_items: whether to list the items too.
...     '''
...     return {"id": order_id, "status": "shipped"}
>>> lookup_order.definition()["function"]["parameters"]["properties"]["order_id"]
{'type': 'string', 'description': 'the order\\'s id, e.g. "A-17".'}
>>> box = covekit.Toolbox([lookup_order])
>>> r = box.run(covekit.ToolCall("call_1", "lookup_order", '{"order_id": "A-17"}'))
>>> r.status, r.value
('ok', {'id': 'A-17', 'status': 'shipped'})
>>> box.run(covekit.ToolCall("call_2", "lookup_order", '{"order_id": 17}')).error
'/order_id: 17 is not of type "string"'

Thread safety: a :class:`Tool` is immutable. :meth:`Toolbox.run` may be called from
many threads at once; calls with the same idempotency key are serialized, so the tool
acts once. The tool functions themselves must be thread-safe when called so.
"""

from __future__ import annotations

import asyncio
import collections.abc as cabc
import contextlib
import contextvars
import dataclasses
import difflib
import enum
import inspect
import json
import math
import os
import random
import sqlite3
import threading
import time
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from covekit.errors import (
    ApprovalPending,
    ApprovalRejected,
    IdempotencyConflict,
    IdempotencyStoreError,
    InvalidInput,
    ToolArgumentsInvalid,
    ToolError,
    ToolFailed,
    ToolNotAllowed,
    ToolTimeout,
    UnknownTool,
)
from covekit.execution.approval import ApprovalQueue, open_sqlite
from covekit.execution.verdict import ToolCall
from covekit.observe.trace import child_span, current_tracer

if TYPE_CHECKING:
    from covekit.decision.deadline import Deadline
    from covekit.decision.policy import Policy
    from covekit.execution.schema import Schema

__all__ = ["IdempotencyStore", "Tool", "ToolResult", "Toolbox", "tool"]

Status = Literal[
    "ok",
    "error",
    "timeout",
    "invalid_arguments",
    "unknown_tool",
    "not_allowed",
    "pending_approval",
    "rejected",
]
STATUSES: tuple[Status, ...] = typing.get_args(Status)

F = TypeVar("F", bound=Callable[..., Any])
_NONE = type(None)


# ----------------------------------------------------------------------------- schemas
def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp)


def _is_pydantic(tp: Any) -> bool:
    return (
        isinstance(tp, type) and hasattr(tp, "model_json_schema") and hasattr(tp, "model_validate")
    )


def _json_type(value: Any) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _hints(obj: Any, where: str) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception as exc:  # NameError for a name the annotations cannot see, ...
        raise InvalidInput(
            f"{where}: the type hints cannot be resolved ({type(exc).__name__}: {exc}); define "
            "the types they name at module level"
        ) from exc


def schema_for(tp: Any, where: str = "type", _seen: tuple[Any, ...] = ()) -> dict[str, Any]:
    """The JSON Schema of a Python type hint (see the module docs for the types).

    >>> schema_for(list[int] | None)
    {'anyOf': [{'type': 'array', 'items': {'type': 'integer'}}, {'type': 'null'}]}
    """
    if tp is Any or tp is object:
        return {}
    if tp is None or tp is _NONE:
        return {"type": "null"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if tp in _seen:
        raise InvalidInput(f"{where}: {_type_name(tp)} refers to itself; tools take trees of data")
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        out = dict(schema_for(args[0], where, _seen))
        for meta in args[1:]:
            if isinstance(meta, str):
                out["description"] = meta
            elif isinstance(meta, Mapping):
                out.update(meta)
        return out
    if origin is typing.Union or origin is types.UnionType:
        members = [schema_for(a, where, _seen) for a in args]
        if all(set(m) == {"type"} and isinstance(m["type"], str) for m in members):
            return {"type": [m["type"] for m in members]}
        return {"anyOf": members}
    if origin is Literal:
        kinds = []
        for value in args:
            kind = _json_type(value)
            if kind is None or isinstance(value, enum.Enum):
                raise InvalidInput(f"{where}: Literal values must be str, int, float, bool or None")
            kinds.append(kind)
        out = {"enum": list(args)}
        if len(set(kinds)) == 1:
            out = {"type": kinds[0], **out}
        return out
    if origin in (list, cabc.Sequence, cabc.MutableSequence, set, frozenset, cabc.Set) or tp in (
        list,
        set,
        frozenset,
    ):
        out = {"type": "array", "items": schema_for(args[0], where, _seen) if args else {}}
        if origin in (set, frozenset, cabc.Set) or tp in (set, frozenset):
            out["uniqueItems"] = True
        return out
    if origin is tuple or tp is tuple:
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            return {"type": "array", "items": schema_for(args[0], where, _seen) if args else {}}
        return {
            "type": "array",
            "prefixItems": [schema_for(a, where, _seen) for a in args],
            "items": False,
            "minItems": len(args),
        }
    if origin in (dict, cabc.Mapping, cabc.MutableMapping) or tp is dict:
        if args and args[0] is not str:
            raise InvalidInput(
                f"{where}: dict keys must be str (JSON object keys), not {args[0]!r}"
            )
        return (
            {"type": "object", "additionalProperties": schema_for(args[1], where, _seen)}
            if (args)
            else {"type": "object"}
        )
    if typing.is_typeddict(tp):
        hints = _hints(tp, f"{where} ({_type_name(tp)})")
        required = sorted(getattr(tp, "__required_keys__", frozenset(hints)))
        props = {k: schema_for(v, f"{where}.{k}", (*_seen, tp)) for k, v in hints.items()}
        return {
            "type": "object",
            "properties": props,
            "required": [k for k in props if k in required],
            "additionalProperties": False,
        }
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [m.value for m in tp]
        found = {_json_type(v) for v in values}
        if None in found:
            raise InvalidInput(f"{where}: the values of enum {tp.__name__} must be JSON scalars")
        out = {"enum": values}
        if len(found) == 1:
            out = {"type": found.pop(), **out}
        return out
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp, f"{where} ({tp.__name__})")
        props, required = {}, []
        for f in dataclasses.fields(tp):
            if not f.init:
                continue
            props[f.name] = schema_for(hints.get(f.name, Any), f"{where}.{f.name}", (*_seen, tp))
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required.append(f.name)
        return {
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": False,
        }
    if _is_pydantic(tp):
        doc = tp.model_json_schema()
        if "$defs" in doc:
            raise InvalidInput(
                f"{where}: the pydantic model {tp.__name__} nests other models; use it as the "
                "tool's only parameter, or use dataclasses/TypedDicts for nested data"
            )
        return dict(doc)
    raise InvalidInput(
        f"{where}: {_type_name(tp)} has no JSON Schema here; use str, int, float, bool, None, "
        "Optional, Literal, list, tuple, dict[str, ...], a TypedDict, an Enum, a dataclass or "
        "a pydantic model"
    )


def _fits(tp: Any, value: Any) -> bool:
    """Whether JSON ``value`` could be an instance of ``tp`` (to pick a Union member)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return _fits(args[0], value)
    if tp is Any or tp is object:
        return True
    if tp is None or tp is _NONE:
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin is typing.Union or origin is types.UnionType:
        return any(_fits(a, value) for a in args)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return any(m.value == value for m in tp)
    if origin in (
        list,
        tuple,
        set,
        frozenset,
        cabc.Sequence,
        cabc.MutableSequence,
        cabc.Set,
    ) or tp in (list, tuple, set, frozenset):
        return isinstance(value, list)
    return isinstance(value, dict)


def convert(tp: Any, value: Any) -> Any:
    """JSON data (already valid against ``schema_for(tp)``) as an instance of ``tp``:
    enums, dataclasses, tuples, sets and pydantic models are made; ints given to a
    float are floats, integral floats given to an int are ints.

    >>> import enum
    >>> class Color(enum.Enum):
    ...     RED = "red"
    >>> convert(list[Color], ["red"]), convert(tuple[int, float], [1, 2])
    ([<Color.RED: 'red'>], (1, 2.0))
    """
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return convert(args[0], value)
    if tp is Any or tp is object or value is None:
        return value
    if tp is float:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if tp is int:
        return int(value) if isinstance(value, float) and value.is_integer() else value
    if tp in (str, bool) or origin is Literal:
        return value
    if origin is typing.Union or origin is types.UnionType:
        for member in args:
            if member is not _NONE and _fits(member, value):
                return convert(member, value)
        return value
    if tp in (list, set, frozenset, tuple, dict):
        return tp(value)
    if origin in (list, cabc.Sequence, cabc.MutableSequence):
        return [convert(args[0], v) for v in value]
    if origin in (set, cabc.Set):
        return {convert(args[0], v) for v in value}
    if origin is frozenset:
        return frozenset(convert(args[0], v) for v in value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(args[0], v) for v in value)
        return tuple(convert(a, v) for a, v in zip(args, value, strict=True))
    if origin in (dict, cabc.Mapping, cabc.MutableMapping):
        return {k: convert(args[1], v) for k, v in value.items()}
    if typing.is_typeddict(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        return {k: convert(hints.get(k, Any), v) for k, v in value.items()}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        return tp(**{k: convert(hints.get(k, Any), v) for k, v in value.items()})
    if _is_pydantic(tp):
        return tp.model_validate(value)
    return value


def to_json_data(value: Any, _depth: int = 0) -> Any:
    """A tool's return value as JSON data: dataclasses, pydantic models, enums, tuples and
    sets are converted; anything else that is not JSON raises ``TypeError``.

    >>> to_json_data((1, {"a": {2}}))
    [1, {'a': [2]}]
    """
    if _depth > 200:
        raise TypeError("the value nests more than 200 levels deep")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{value!r} is not a JSON number")
        return value
    if isinstance(value, enum.Enum):
        return to_json_data(value.value, _depth + 1)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"a key of type {type(k).__name__} is not a JSON object key")
            out[k] = to_json_data(v, _depth + 1)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [to_json_data(v, _depth + 1) for v in items]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_json_data(getattr(value, f.name), _depth + 1)
            for f in dataclasses.fields(value)
        }
    if hasattr(value, "model_dump") and not isinstance(value, type):
        return value.model_dump(mode="json")
    raise TypeError(f"a {type(value).__name__} is not JSON data")


# ----------------------------------------------------------------------------- docstrings
_SECTIONS = frozenset(
    {
        "args",
        "arguments",
        "parameters",
        "params",
        "returns",
        "return",
        "raises",
        "yields",
        "examples",
        "example",
        "notes",
        "note",
        "errors",
        "see also",
        "attributes",
    }
)


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The description (the first paragraph) and the Google-style ``Args:`` entries.

    >>> parse_docstring('''Adds.
    ...
    ...     Args:
    ...         a: the first
    ...             number.
    ...         b (int): the second.
    ...     ''')
    ('Adds.', {'a': 'the first number.', 'b': 'the second.'})
    """
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    para: list[str] = []
    for line in lines:
        if not line.strip():
            break
        if line.strip().rstrip(":").lower() in _SECTIONS and line.strip().endswith(":"):
            break
        para.append(line.strip())
    description = " ".join(para)
    params: dict[str, str] = {}
    in_args = False
    indent = None
    current = None
    for line in lines:
        stripped = line.strip()
        if stripped.endswith(":") and stripped[:-1].lower() in _SECTIONS:
            in_args = stripped[:-1].lower() in ("args", "arguments", "parameters", "params")
            indent, current = None, None
            continue
        if not in_args or not stripped:
            continue
        width = len(line) - len(line.lstrip())
        if indent is None:
            indent = width
        if width <= indent:
            head, sep, rest = stripped.partition(":")
            name = head.split("(")[0].strip().lstrip("*")
            if sep and name.isidentifier():
                current = name
                params[name] = rest.strip()
                continue
            if width < indent:
                in_args = False
            current = None
        elif current is not None:
            params[current] = f"{params[current]} {stripped}".strip()
    return description, params


# ----------------------------------------------------------------------------- Tool
def _seconds(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidInput(f"{what} must be a number of seconds > 0 or None, got {value!r}")
    return float(value)


class Tool:
    """A function the model may call, with the JSON Schema of its arguments (made by
    :func:`tool`). Calling the Tool calls the function as it is (no checks);
    :class:`Toolbox` runs model-written calls with every check.

    >>> import covekit
    >>> @covekit.tool(name="add_numbers", idempotent=True, retries=2)
    ... def add(a: int, b: int = 0) -> int:
    ...     '''Adds two numbers.'''
    ...     return a + b
    >>> add(2, 3), add.name, add.description, add.parameters["required"]
    (5, 'add_numbers', 'Adds two numbers.', ['a'])
    >>> add.bind({"a": 2.0})
    {'a': 2}
    """

    __slots__ = (
        "_check",
        "_convert",
        "_param_types",
        "_pydantic_param",
        "_result_schema",
        "_schema",
        "_strict_nullable",
        "description",
        "func",
        "idempotent",
        "name",
        "parameters",
        "requires_approval",
        "result_schema",
        "retries",
        "strict",
        "timeout",
    )

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        idempotent: bool = False,
        retries: int = 0,
        requires_approval: bool = False,
        strict: bool = False,
        result_schema: Mapping[str, Any] | None = None,
        check: Callable[[Any], str | None] | None = None,
    ) -> None:
        from covekit.execution.schema import Schema

        if not callable(func):
            raise InvalidInput(f"a tool must be a function, not {type(func).__name__}")
        self.func = func
        fname = name if name is not None else getattr(func, "__name__", None)
        if not isinstance(fname, str) or not fname:
            raise InvalidInput("the tool needs a name: pass name=")
        if not all(c.isalnum() or c in "_-" for c in fname) or len(fname) > 64:
            raise InvalidInput(
                f"tool name {fname!r} must be 1-64 letters, digits, '_' or '-' (OpenAI's rule)"
            )
        self.name = fname
        summary, arg_docs = parse_docstring(inspect.getdoc(func))
        self.description = description if description is not None else summary
        self.timeout = _seconds(timeout, f"tool {fname!r}: timeout")
        for what, flag in (
            ("idempotent", idempotent),
            ("requires_approval", requires_approval),
            ("strict", strict),
        ):
            if not isinstance(flag, bool):
                raise InvalidInput(f"tool {fname!r}: {what} must be a bool, got {flag!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidInput(f"tool {fname!r}: retries must be an int >= 0, got {retries!r}")
        if retries and not idempotent:
            raise InvalidInput(
                f"tool {fname!r}: retries={retries} needs idempotent=True: a tool that is "
                "not idempotent may act twice when retried"
            )
        self.idempotent, self.retries = idempotent, retries
        self.requires_approval, self.strict = requires_approval, strict
        if check is not None and not callable(check):
            raise InvalidInput(f"tool {fname!r}: check must be a callable value -> message|None")
        self._check = check
        self.result_schema = None if result_schema is None else dict(result_schema)
        self._result_schema = None if result_schema is None else Schema(result_schema)

        where = f"tool {fname!r}"
        try:
            sig = inspect.signature(func)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"{where}: no signature to read ({exc})") from exc
        hints = _hints(func, where)
        params = [p for p in sig.parameters.values()]
        self._pydantic_param: str | None = None
        self._param_types: dict[str, Any] = {}
        props: dict[str, Any] = {}
        required: list[str] = []
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise InvalidInput(
                    f"{where}: *{p.name} / **{p.name} cannot be described; name every parameter"
                )
            if p.kind is p.POSITIONAL_ONLY:
                raise InvalidInput(f"{where}: {p.name} is positional-only; the model passes names")
            if p.name not in hints:
                raise InvalidInput(
                    f"{where}: parameter {p.name!r} has no type hint; annotate it (e.g. "
                    f"{p.name}: str)"
                )
            tp = hints[p.name]
            self._param_types[p.name] = tp
            if _is_pydantic(tp) and len(params) == 1:
                self._pydantic_param = p.name
                break
            sub = dict(schema_for(tp, f"{where}: parameter {p.name!r}"))
            if p.name in arg_docs and arg_docs[p.name] and "description" not in sub:
                sub["description"] = arg_docs[p.name]
            if p.default is p.empty:
                required.append(p.name)
            props[p.name] = sub
        schema: dict[str, Any]
        if self._pydantic_param is not None:
            schema = dict(self._param_types[self._pydantic_param].model_json_schema())
            schema.pop("title", None)
        else:
            schema = {
                "type": "object",
                "properties": props,
                "required": required,
                "additionalProperties": False,
            }
        self.parameters = schema
        # strict mode sends every optional parameter as nullable: a null there means default
        self._strict_nullable = frozenset(
            k for k in props if k not in required and "null" not in json.dumps(props[k])
        )
        try:
            self._schema: Schema = Schema(schema)
        except Exception as exc:
            raise InvalidInput(f"{where}: its parameters' schema does not compile: {exc}") from exc
        self._convert = True

    def definition(self) -> dict[str, Any]:
        """The tool in OpenAI's ``tools`` format: ``{"type": "function", "function":
        {"name", "description", "parameters"[, "strict"]}}`` (with ``strict=True``, the
        parameters as OpenAI's strict mode wants them).

        >>> import covekit
        >>> @covekit.tool
        ... def ping() -> str:
        ...     return "pong"
        >>> d = ping.definition()
        >>> d["type"], d["function"]["name"], d["function"]["parameters"]["properties"]
        ('function', 'ping', {})
        """
        params: dict[str, Any] = self.parameters
        function: dict[str, Any] = {"name": self.name, "description": self.description}
        if self.strict:
            from covekit.execution.providers import strict_schema

            params = strict_schema(params, "openai-strict")
        function["parameters"] = params
        if self.strict:
            function["strict"] = True
        return {"type": "function", "function": function}

    def validate(self, arguments: Any) -> list[str]:
        """The schema errors of ``arguments`` (JSON data), as ``"path: message"`` lines
        (empty when valid).

        >>> import covekit
        >>> @covekit.tool
        ... def f(n: int) -> int:
        ...     return n
        >>> f.validate({"n": "x"}), f.validate({"n": 1})
        (['/n: "x" is not of type "integer"'], [])
        """
        result = self._schema.validate(self._clean(arguments), all_errors=True)
        return [f"{e.instance_path or '(root)'}: {e.message}" for e in result.errors]

    def _clean(self, arguments: Any) -> Any:
        if self.strict and isinstance(arguments, dict) and self._strict_nullable:
            return {
                k: v for k, v in arguments.items() if not (v is None and k in self._strict_nullable)
            }
        return arguments

    def bind(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments for the function from validated JSON ``arguments``
        (enums, dataclasses, pydantic models... made from their JSON). Raises what their
        constructors raise (a pydantic ``ValidationError``, say)."""
        arguments = self._clean(dict(arguments))
        if self._pydantic_param is not None:
            tp = self._param_types[self._pydantic_param]
            return {self._pydantic_param: tp.model_validate(arguments)}
        return {k: convert(self._param_types.get(k, Any), v) for k, v in arguments.items()}

    def check_result(self, value: Any) -> str | None:
        """Why a result (JSON data) may not be used: its ``result_schema``'s errors or the
        ``check``'s message; None when it may.

        >>> import covekit
        >>> @covekit.tool(result_schema={"type": "integer", "minimum": 0})
        ... def stock(sku: str) -> int:
        ...     return -1
        >>> stock.check_result(-1)
        'the result of stock fails its schema: (root): -1 is less than the minimum of 0'
        """
        if self._result_schema is not None:
            result = self._result_schema.validate(value, all_errors=True)
            if not result.valid:
                why = "; ".join(
                    f"{e.instance_path or '(root)'}: {e.message}" for e in result.errors
                )
                return f"the result of {self.name} fails its schema: {why}"
        if self._check is not None:
            got = self._check(value)
            if got:
                return f"the result of {self.name} fails its check: {got}"
        return None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        flags = [
            f
            for f, on in (
                ("idempotent", self.idempotent),
                ("requires_approval", self.requires_approval),
            )
            if on
        ]
        more = f" {' '.join(flags)}" if flags else ""
        return f"<covekit.Tool {self.name!r} timeout={self.timeout}{more}>"


@overload
def tool(func: Callable[..., Any], /) -> Tool: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    idempotent: bool = False,
    retries: int = 0,
    requires_approval: bool = False,
    strict: bool = False,
    result_schema: Mapping[str, Any] | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    idempotent: bool = False,
    retries: int = 0,
    requires_approval: bool = False,
    strict: bool = False,
    result_schema: Mapping[str, Any] | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Makes a typed function a :class:`Tool`; bare (``@tool``) or with options.

    Args:
        name: the tool's name (default: the function's).
        description: what the model reads (default: the docstring's first paragraph).
        timeout: seconds one attempt may take; the call runs on a worker thread and a
            call past it is a ``"timeout"`` outcome (default: the toolbox's, else none).
        idempotent: the tool may run twice with the same effect as once.
        retries: more attempts after a failure or timeout; only for idempotent tools.
        requires_approval: a person approves each call first (:class:`ApprovalQueue`).
        strict: send OpenAI's ``strict: true`` (every parameter required, optional ones
            nullable; a null for an optional parameter means its default).
        result_schema: a JSON Schema the result must satisfy before it is used.
        check: a callable ``result -> message | None``; a message means do not use it.

    >>> import covekit
    >>> @covekit.tool(timeout=0.5, requires_approval=True)
    ... def refund(order_id: str, amount: float) -> str:
    ...     '''Refunds an order.'''
    ...     return f"refunded {amount} on {order_id}"
    >>> refund.requires_approval, refund.parameters["properties"]["amount"]
    (True, {'type': 'number'})
    """
    options = dict(
        name=name,
        description=description,
        timeout=timeout,
        idempotent=idempotent,
        retries=retries,
        requires_approval=requires_approval,
        strict=strict,
        result_schema=result_schema,
        check=check,
    )

    def make(f: Callable[..., Any]) -> Tool:
        return Tool(f, **options)  # type: ignore[arg-type]

    if func is not None:
        return make(func)
    return make


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class ToolResult:
    """The outcome of one tool call, as plain data.

    ``status``: ``"ok"`` (``value`` holds the result as JSON data), ``"error"`` (the
    tool raised: ``error`` names the exception and its message), ``"timeout"``,
    ``"invalid_arguments"``, ``"unknown_tool"``, ``"not_allowed"``,
    ``"pending_approval"`` (``approval_id`` is the request) or ``"rejected"``.
    ``attempts`` is how many times the tool ran, ``duration_s`` how long the call took,
    ``replayed`` whether the result is the one recorded under the idempotency ``key``.

    >>> import covekit
    >>> r = covekit.ToolResult("call_1", "add", "ok", 5, attempts=1)
    >>> r.ok, r.to_message()
    (True, {'role': 'tool', 'tool_call_id': 'call_1', 'content': '5'})
    >>> covekit.ToolResult.from_dict(r.to_dict()) == r
    True
    """

    call_id: str
    name: str
    status: Status
    value: Any = None
    error: str | None = None
    attempts: int = 0
    duration_s: float = 0.0
    replayed: bool = False
    key: str | None = None
    approval_id: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the status is ``"ok"``."""
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-serializable data."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ToolResult:
        """The result :meth:`to_dict` gave."""
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})

    def content(self) -> str:
        """What the model reads: the value (a str as it is, anything else as JSON), or
        for any other status ``{"error": status, "message": ...}`` as JSON."""
        if self.ok:
            if isinstance(self.value, str):
                return self.value
            return json.dumps(self.value, ensure_ascii=False)
        return json.dumps({"error": self.status, "message": self.error}, ensure_ascii=False)

    def to_message(self) -> dict[str, Any]:
        """The OpenAI chat message that gives this result back to the model
        (``{"role": "tool", "tool_call_id": ..., "content": ...}``)."""
        return {"role": "tool", "tool_call_id": self.call_id, "content": self.content()}

    def raise_for_status(self) -> ToolResult:
        """Returns the result when ok; else raises the :mod:`covekit.errors` class of its
        status (:class:`~covekit.errors.UnknownTool`,
        :class:`~covekit.errors.ToolArgumentsInvalid`, :class:`~covekit.errors.ToolTimeout`,
        :class:`~covekit.errors.ToolFailed`, :class:`~covekit.errors.ToolNotAllowed`,
        :class:`~covekit.errors.ApprovalPending`, :class:`~covekit.errors.ApprovalRejected`)
        with the result attached.

        >>> import covekit
        >>> covekit.ToolResult("c", "t", "ok", 1).raise_for_status().value
        1
        """
        if self.ok:
            return self
        cls: type[ToolError] = {
            "error": ToolFailed,
            "timeout": ToolTimeout,
            "invalid_arguments": ToolArgumentsInvalid,
            "unknown_tool": UnknownTool,
            "not_allowed": ToolNotAllowed,
            "pending_approval": ApprovalPending,
            "rejected": ApprovalRejected,
        }[self.status]
        raise cls(
            f"tool {self.name!r} (call {self.call_id}): {self.status}: {self.error}", result=self
        )


# ----------------------------------------------------------------------------- the store
_STORE_TABLE = (
    "CREATE TABLE IF NOT EXISTS covekit_tool_results (key TEXT PRIMARY KEY, tool TEXT NOT "
    "NULL, fingerprint TEXT NOT NULL, result TEXT NOT NULL, recorded_at REAL NOT NULL)"
)
_STORE_COLUMNS = "key, tool, fingerprint, result, recorded_at"


class IdempotencyStore:
    """The results of tool calls, by idempotency key, in SQLite (a file in WAL mode, or
    ``":memory:"``, the default): a call with a key that has a result is not run again.

    Only calls that ran are recorded (status ``"ok"`` or ``"error"``); a call that timed
    out is recorded when its worker finishes, if it ever does.

    Errors: :class:`~covekit.errors.IdempotencyStoreError` for a file that is not SQLite,
    is damaged, has a table of another shape, or stays locked.

    >>> import covekit
    >>> store = covekit.IdempotencyStore()
    >>> store.put("k1", covekit.ToolResult("c1", "send", "ok", "sent", attempts=1), "fp")
    True
    >>> store.get("k1").value, len(store)
    ('sent', 1)

    Thread safety: every method may be called from many threads (one connection behind a
    lock); a file may be shared between processes.
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:") -> None:
        self._conn, self.path = open_sqlite(
            path,
            "covekit_tool_results",
            _STORE_TABLE,
            _STORE_COLUMNS,
            IdempotencyStoreError,
            "idempotency store",
        )
        self._lock = threading.Lock()

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return list(self._conn.execute(sql, params).fetchall())
        except sqlite3.DatabaseError as exc:
            raise IdempotencyStoreError(f"{self.path}: {exc}", path=self.path) from exc

    def lookup(self, key: str) -> tuple[ToolResult, str] | None:
        """The recorded result and the fingerprint (tool + arguments) of ``key``, or None."""
        rows = self._query(
            "SELECT result, fingerprint FROM covekit_tool_results WHERE key = ?", (key,)
        )
        if not rows:
            return None
        try:
            return ToolResult.from_dict(json.loads(rows[0][0])), str(rows[0][1])
        except (ValueError, TypeError, KeyError) as exc:
            raise IdempotencyStoreError(
                f"{self.path}: the result recorded under {key!r} is damaged ({exc})", path=self.path
            ) from exc

    def get(self, key: str) -> ToolResult | None:
        """The result recorded under ``key``, or None."""
        got = self.lookup(key)
        return None if got is None else got[0]

    def put(self, key: str, result: ToolResult, fingerprint: str) -> bool:
        """Records ``result`` under ``key`` unless the key has one; returns whether it
        was recorded."""
        text = json.dumps(result.to_dict(), ensure_ascii=True)
        try:
            with self._lock:
                cur = self._conn.execute(
                    f"INSERT OR IGNORE INTO covekit_tool_results ({_STORE_COLUMNS}) "
                    "VALUES (?,?,?,?,?)",
                    (key, result.name, fingerprint, text, time.time()),
                )
                return cur.rowcount == 1
        except sqlite3.DatabaseError as exc:
            raise IdempotencyStoreError(f"{self.path}: {exc}", path=self.path) from exc

    def __len__(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM covekit_tool_results")[0][0])

    def close(self) -> None:
        """Closes the file."""
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"<covekit.IdempotencyStore {self.path!r}>"


# ----------------------------------------------------------------------------- running
class _Run:
    """One attempt of a tool on a daemon worker thread."""

    __slots__ = ("_callbacks", "_finished", "_lock", "done", "exc", "value")

    def __init__(self, fn: Callable[..., Any], kwargs: dict[str, Any], name: str) -> None:
        self.done = threading.Event()  # set after the callbacks ran (a result is recorded)
        self._finished = False
        self.value: Any = None
        self.exc: BaseException | None = None
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[_Run], None]] = []
        ctx = contextvars.copy_context()  # the caller's current span goes with the tool
        threading.Thread(
            target=ctx.run,
            args=(self._target, fn, kwargs),
            name=f"covekit-tool-{name}",
            daemon=True,
        ).start()

    def _target(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        try:
            self.value = fn(**kwargs)
        except BaseException as exc:
            self.exc = exc
        finally:
            with self._lock:
                self._finished = True
                callbacks = list(self._callbacks)
            try:
                for cb in callbacks:
                    cb(self)
            finally:
                self.done.set()

    def on_done(self, cb: Callable[[_Run], None]) -> None:
        with self._lock:
            if not self._finished:
                self._callbacks.append(cb)
                return
        cb(self)


def _fingerprint(name: str, arguments: Any) -> str:
    from covekit.hash import xxh3_128

    canonical = json.dumps(
        [name, arguments], sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
    return f"{name}:{xxh3_128(canonical):032x}"


def _as_call(call: Any) -> ToolCall:
    if isinstance(call, ToolCall):
        return call
    if isinstance(call, Mapping):  # OpenAI's {"id", "type", "function": {"name", "arguments"}}
        fn = call.get("function", call)
        args = fn.get("arguments", "{}")
        if not isinstance(args, str):
            args = json.dumps(args)
        return ToolCall(str(call.get("id", "")), str(fn.get("name", "")), args)
    raise InvalidInput(
        f"a tool call must be a covekit.ToolCall or an OpenAI tool_call dict, not "
        f"{type(call).__name__}"
    )


class Toolbox:
    """Runs the tool calls a model asks for, with every check (see the module docs).

    Args:
        tools: :class:`Tool` objects (plain functions are made tools with :func:`tool`).
        store: where results are recorded by idempotency key: an
            :class:`IdempotencyStore`, a file path, or None (an in-memory store).
        approvals: the :class:`~covekit.ApprovalQueue` for ``requires_approval`` tools
            (a queue, a file path, or None: an in-memory queue).
        policy: a :class:`covekit.Policy`; its tool allowlist (and argument checks:
            schemas, allowed domains, banned terms) is enforced on every call.
        timeout: the seconds of an attempt for tools that set none (None: no limit).
        approval_timeout: seconds :meth:`run` waits for a decision (0: do not wait).
        derive_keys: give every call the key tool + canonical arguments, so that the
            same call with the same arguments acts once (default: only calls given a
            ``key=`` and approval-gated calls are keyed).
        retry_backoff: the first pause between attempts of an idempotent tool, doubled
            after each (full jitter).
        requested_by: who is named in approval requests.

    Errors: :meth:`run` returns outcomes, not exceptions, for the call's own faults;
    :class:`~covekit.errors.IdempotencyConflict` for a key used again for another tool
    or other arguments; :class:`~covekit.errors.IdempotencyStoreError` for a store that
    cannot be used; :class:`~covekit.errors.InvalidInput` for two tools of one name.

    >>> import covekit
    >>> sent = []
    >>> @covekit.tool
    ... def send_email(to: str, body: str) -> str:
    ...     sent.append(to)
    ...     return "sent"
    >>> box = covekit.Toolbox([send_email])
    >>> call = covekit.ToolCall("c1", "send_email", '{"to": "ada@example.com", "body": "hi"}')
    >>> [box.run(call, key="welcome-ada").replayed for _ in range(3)], len(sent)
    ([False, True, True], 1)
    """

    def __init__(
        self,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        *,
        store: IdempotencyStore | str | os.PathLike[str] | None = None,
        approvals: ApprovalQueue | str | os.PathLike[str] | None = None,
        policy: Policy | None = None,
        timeout: float | None = None,
        approval_timeout: float = 0.0,
        derive_keys: bool = False,
        retry_backoff: float = 0.05,
        requested_by: str | None = None,
    ) -> None:
        from covekit.decision.policy import Policy as _Policy

        if isinstance(tools, Tool) or callable(tools):
            raise InvalidInput("tools must be a list of tools: write [my_tool]")
        self._tools: dict[str, Tool] = {}
        for t in tools:
            t = t if isinstance(t, Tool) else Tool(t)
            if t.name in self._tools:
                raise InvalidInput(f"two tools are named {t.name!r}; pass name= to one of them")
            self._tools[t.name] = t
        self.store = (
            store
            if isinstance(store, IdempotencyStore)
            else IdempotencyStore(store if store is not None else ":memory:")
        )
        self._approvals = approvals
        self._approvals_lock = threading.Lock()
        if policy is not None and not isinstance(policy, _Policy):
            raise InvalidInput(f"policy must be a covekit.Policy, not {type(policy).__name__}")
        self.policy = policy
        self.timeout = _seconds(timeout, "timeout")
        if (
            isinstance(approval_timeout, bool)
            or not isinstance(approval_timeout, int | float)
            or not math.isfinite(approval_timeout)
            or approval_timeout < 0
        ):
            raise InvalidInput(
                f"approval_timeout must be finite seconds >= 0, got {approval_timeout!r}"
            )
        self.approval_timeout = float(approval_timeout)
        self.derive_keys = bool(derive_keys)
        if (
            isinstance(retry_backoff, bool)
            or not isinstance(retry_backoff, int | float)
            or (not math.isfinite(retry_backoff) or retry_backoff < 0)
        ):
            raise InvalidInput(f"retry_backoff must be seconds >= 0, got {retry_backoff!r}")
        self.retry_backoff = float(retry_backoff)
        self.requested_by = requested_by
        self._key_locks: dict[str, list[Any]] = {}  # key -> [lock, holders and waiters]
        self._key_locks_lock = threading.Lock()
        self._orphans: dict[str, _Run] = {}

    # ------------------------------------------------------------------ access
    @property
    def approvals(self) -> ApprovalQueue:
        """The approval queue (made in memory on first use when none was given)."""
        with self._approvals_lock:
            if not isinstance(self._approvals, ApprovalQueue):
                self._approvals = ApprovalQueue(
                    self._approvals if self._approvals is not None else ":memory:"
                )
            return self._approvals

    @property
    def names(self) -> tuple[str, ...]:
        """The tools' names, in the order given."""
        return tuple(self._tools)

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> cabc.Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def definitions(self) -> list[dict[str, Any]]:
        """Every tool's :meth:`Tool.definition` (OpenAI's ``tools`` parameter)."""
        return [t.definition() for t in self._tools.values()]

    def __repr__(self) -> str:
        return f"<covekit.Toolbox tools={list(self._tools)!r}>"

    # ------------------------------------------------------------------ running
    def run(
        self,
        call: ToolCall | Mapping[str, Any],
        *,
        key: str | None = None,
        derive_key: bool | None = None,
        approval_timeout: float | None = None,
        deadline: Deadline | None = None,
    ) -> ToolResult:
        """Runs one call and returns its :class:`ToolResult` (see the class docs).

        ``key``: the idempotency key (a repeat with the same key returns the recorded
        result); ``derive_key``: key the call by tool + canonical arguments (default:
        the toolbox's ``derive_keys``); ``approval_timeout``: seconds to wait for an
        approval (default: the toolbox's); ``deadline``: no attempt starts past it and
        none runs beyond it.

        >>> import covekit
        >>> @covekit.tool(timeout=0.05)
        ... def slow() -> str:
        ...     import time; time.sleep(1)
        ...     return "late"
        >>> r = covekit.Toolbox([slow]).run(covekit.ToolCall("c1", "slow", "{}"))
        >>> r.status, r.error
        ('timeout', 'slow did not return within 0.05 s')

        Traced (when a tracer is active): an ``execute_tool <name>`` span with
        ``gen_ai.tool.name``, ``gen_ai.tool.call.id``, ``covekit.tool.status`` and, when
        the tracer records content, the arguments and the result (the tool runs in the
        caller's context, so its own spans nest under it).
        """
        call = _as_call(call)
        attrs = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call.id,
        }
        with child_span(f"execute_tool {call.name}", attrs) as span:
            result = self._run(
                call, key=key, derive_key=derive_key, approval_timeout=approval_timeout,
                deadline=deadline,
            )  # fmt: skip
            if span is not None:
                span.set("covekit.tool.status", result.status)
                span.set("covekit.tool.attempts", result.attempts)
                span.set("covekit.tool.replayed", result.replayed)
                if result.status in ("error", "timeout", "invalid_arguments", "unknown_tool"):
                    span.set("error.type", result.status)
                    span.status = "ERROR"
                tracer = current_tracer()
                if tracer is not None and tracer.records_content:
                    span.set("gen_ai.tool.call.arguments", call.arguments)
                    span.set("gen_ai.tool.call.result",
                             result.value if result.ok else result.error)  # fmt: skip
            return result

    def _run(
        self,
        call: ToolCall,
        *,
        key: str | None,
        derive_key: bool | None,
        approval_timeout: float | None,
        deadline: Deadline | None,
    ) -> ToolResult:
        started = time.perf_counter()
        call = _as_call(call)
        if key is not None and (not isinstance(key, str) or not key):
            raise InvalidInput(f"key must be a non-empty str or None, not {key!r}")

        def outcome(status: Status, error: str | None = None, **more: Any) -> ToolResult:
            return ToolResult(
                call.id,
                call.name,
                status,
                error=error,
                duration_s=time.perf_counter() - started,
                **more,
            )

        t = self._tools.get(call.name)
        if t is None:
            close = difflib.get_close_matches(call.name, list(self._tools), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            return outcome(
                "unknown_tool",
                f"no tool named {call.name!r} (tools: {', '.join(self._tools) or 'none'}){hint}",
            )
        text = call.arguments
        if not isinstance(text, str):
            return outcome(
                "invalid_arguments",
                f"the arguments must be JSON text, not {type(text).__name__}",
            )
        try:
            arguments = json.loads(text) if text.strip() else {}
        except ValueError as exc:
            return outcome(
                "invalid_arguments", f"the arguments are not JSON ({exc}): {text[:200]!r}"
            )
        if not isinstance(arguments, dict):
            return outcome(
                "invalid_arguments",
                f"the arguments must be a JSON object, not {type(arguments).__name__}",
            )
        if self.policy is not None:
            verdict = self.policy.check_tool_call(call.name, arguments)
            if not verdict.allowed:
                why = "; ".join(f.message for f in verdict.findings if f.action == verdict.action)
                return outcome("not_allowed", why)
        problems = t.validate(arguments)
        if problems:
            return outcome("invalid_arguments", "; ".join(problems))
        try:
            kwargs = t.bind(arguments)
        except Exception as exc:  # a dataclass's or pydantic model's own checks
            return outcome("invalid_arguments", f"{type(exc).__name__}: {exc}")

        fingerprint = _fingerprint(t.name, arguments)
        derive = self.derive_keys if derive_key is None else derive_key
        eff_key = (
            key if key is not None else (fingerprint if derive or t.requires_approval else None)
        )
        if eff_key is None:
            return self._execute(t, call, kwargs, started, None, fingerprint, deadline)

        replay = self._replay(call, eff_key, fingerprint, started)
        if replay is not None:
            return replay
        approval_id = None
        if t.requires_approval:
            queue = self.approvals
            request = queue.find(eff_key)
            if request is None:
                rid = queue.submit(
                    t.name, arguments, key=eff_key, requested_by=self.requested_by, call_id=call.id
                )
                request = queue.get(rid)
            wait = self.approval_timeout if approval_timeout is None else approval_timeout
            if deadline is not None:
                wait = min(wait, deadline.remaining())
            if request.status == "pending" and wait > 0:
                request = queue.wait(request.id, wait)
            approval_id = request.id
            if request.status == "pending":
                return outcome(
                    "pending_approval",
                    f"{t.name} waits for approval (request {request.id})",
                    key=eff_key,
                    approval_id=request.id,
                )
            if request.status == "rejected":
                why = f": {request.reason}" if request.reason else ""
                return outcome(
                    "rejected",
                    f"{t.name} was rejected by {request.decided_by}{why}",
                    key=eff_key,
                    approval_id=request.id,
                )
        with self._key_lock(eff_key):
            replay = self._replay(call, eff_key, fingerprint, started)
            if replay is not None:
                return replay
            orphan = self._orphans.get(eff_key)
            if orphan is not None:  # an earlier call timed out and may still act: join it
                limit = t.timeout or self.timeout or 0.0
                if deadline is not None:
                    limit = min(limit, deadline.remaining())
                orphan.done.wait(limit)
                replay = self._replay(call, eff_key, fingerprint, started)
                if replay is not None:
                    return replay
                if not orphan.done.is_set():
                    return outcome(
                        "timeout",
                        f"an earlier call with key {eff_key!r} is still running; not started again",
                        key=eff_key,
                        approval_id=approval_id,
                    )
                self._orphans.pop(eff_key, None)
            return self._execute(
                t, call, kwargs, started, eff_key, fingerprint, deadline, approval_id
            )

    def run_all(
        self, calls: Iterable[ToolCall | Mapping[str, Any]], **options: Any
    ) -> list[ToolResult]:
        """:meth:`run` for each call, in order (same options for each)."""
        return [self.run(c, **options) for c in calls]

    @contextlib.contextmanager
    def _key_lock(self, key: str) -> cabc.Iterator[None]:
        """Holds the lock of one key; the entry goes when no call holds or waits for it."""
        with self._key_locks_lock:
            entry = self._key_locks.get(key)
            if entry is None:
                entry = self._key_locks[key] = [threading.Lock(), 0]
            entry[1] += 1
        lock: threading.Lock = entry[0]
        try:
            with lock:
                yield
        finally:
            with self._key_locks_lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._key_locks[key]

    def _replay(
        self, call: ToolCall, key: str, fingerprint: str, started: float
    ) -> ToolResult | None:
        got = self.store.lookup(key)
        if got is None:
            return None
        recorded, fp = got
        if fp != fingerprint:
            raise IdempotencyConflict(
                f"idempotency key {key!r} was used for another call ({recorded.name} with other "
                f"arguments); use one key per action",
                result=recorded,
            )
        return dataclasses.replace(
            recorded,
            call_id=call.id,
            replayed=True,
            duration_s=time.perf_counter() - started,
        )

    def _finish(
        self,
        t: Tool,
        call: ToolCall,
        value: Any,
        exc: BaseException | None,
        attempts: int,
        started: float,
        key: str | None,
        approval_id: str | None,
    ) -> ToolResult:
        took = time.perf_counter() - started
        if exc is not None:
            msg = str(exc)
            return ToolResult(
                call.id,
                t.name,
                "error",
                None,
                f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__,
                attempts,
                took,
                False,
                key,
                approval_id,
            )
        try:
            data = to_json_data(value)
        except TypeError as err:
            return ToolResult(
                call.id,
                t.name,
                "error",
                None,
                f"{t.name} returned data that is not JSON: {err}",
                attempts,
                took,
                False,
                key,
                approval_id,
            )
        return ToolResult(
            call.id, t.name, "ok", data, None, attempts, took, False, key, approval_id
        )

    def _execute(
        self,
        t: Tool,
        call: ToolCall,
        kwargs: dict[str, Any],
        started: float,
        key: str | None,
        fingerprint: str,
        deadline: Deadline | None,
        approval_id: str | None = None,
    ) -> ToolResult:
        fn = t.func
        if inspect.iscoroutinefunction(fn):
            coro_fn = fn

            def fn(**kw: Any) -> Any:
                return asyncio.run(coro_fn(**kw))

        limit = t.timeout if t.timeout is not None else self.timeout
        attempts_allowed = 1 + (t.retries if t.idempotent else 0)
        last: ToolResult | None = None
        for attempt in range(1, attempts_allowed + 1):
            wait = limit
            if deadline is not None:
                left = deadline.remaining()
                if left <= 0:
                    if last is None or last.status == "timeout":
                        why = f"the deadline passed before attempt {attempt} of {t.name}"
                        last = ToolResult(
                            call.id,
                            t.name,
                            "timeout",
                            None,
                            why,
                            attempt - 1,
                            time.perf_counter() - started,
                            False,
                            key,
                            approval_id,
                        )
                    break
                if not math.isinf(left):
                    wait = left if wait is None else min(wait, left)
            if wait is None:  # no time limit: run inline, on the caller's thread
                try:
                    value, exc = fn(**kwargs), None
                except Exception as err:
                    value, exc = None, err
                last = self._finish(t, call, value, exc, attempt, started, key, approval_id)
            else:
                run = _Run(fn, kwargs, t.name)
                if not run.done.wait(wait):
                    last = ToolResult(
                        call.id,
                        t.name,
                        "timeout",
                        None,
                        f"{t.name} did not return within {wait:g} s",
                        attempt,
                        time.perf_counter() - started,
                        False,
                        key,
                        approval_id,
                    )
                    if key is not None and attempt == attempts_allowed:
                        self._orphan(t, call, run, key, fingerprint, attempt, started, approval_id)
                        return last
                else:
                    last = self._finish(
                        t, call, run.value, run.exc, attempt, started, key, approval_id
                    )
            if last.status == "ok":
                break
            if attempt < attempts_allowed and self.retry_backoff > 0:
                pause = random.uniform(0, self.retry_backoff * 2 ** (attempt - 1))
                if deadline is not None:
                    pause = min(pause, deadline.remaining())
                time.sleep(pause)
        if last is None:  # pragma: no cover - every path above sets it
            raise RuntimeError(f"{t.name}: no attempt was made")
        if key is not None and last.status in ("ok", "error"):
            self.store.put(key, last, fingerprint)
        return last

    def _orphan(
        self,
        t: Tool,
        call: ToolCall,
        run: _Run,
        key: str,
        fingerprint: str,
        attempts: int,
        started: float,
        approval_id: str | None,
    ) -> None:
        """A keyed call that timed out may still act: record its result when it does."""
        self._orphans[key] = run

        def record(r: _Run) -> None:
            result = self._finish(t, call, r.value, r.exc, attempts, started, key, approval_id)
            try:
                self.store.put(key, result, fingerprint)
            except Exception:  # the store was closed meanwhile: nothing left to record into
                return
            finally:
                self._orphans.pop(key, None)

        run.on_done(record)
