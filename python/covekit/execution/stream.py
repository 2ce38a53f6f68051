"""Streaming validation: judge a model's JSON output while it is still being written.

:meth:`covekit.Schema.stream` returns a :class:`SchemaStream`. Feed it the text chunks
as the model streams them; after each it says whether the text so far is still a valid
prefix (``"partial"``), already invalid whatever follows (``"invalid"``, with the error
and the offset where that became certain), or a complete valid document
(``"complete"``). :attr:`SchemaStream.value` is the value parsed so far, for progressive
UIs.

>>> import covekit
>>> schema = covekit.Schema({"type": "object", "properties": {
...     "city": {"type": "string"}, "temp": {"type": "number"}}, "additionalProperties": False})
>>> s = schema.stream()
>>> s.feed('{"city": "Par').status, s.value
('partial', {'city': 'Par'})
>>> s.feed('is", "temp": 21').status
'partial'
>>> s.feed('}').status
'complete'
>>> t = schema.stream()
>>> state = t.feed('{"city": "Rome", "wind": ')   # no more keys can make "wind" allowed
>>> state.status, state.offset, state.errors[0].keyword
('invalid', 25, 'additionalProperties')

Which errors are certain before the end: an error on a value that is complete, unless a
branching keyword (``anyOf``, ``oneOf``, ``not``, ``if``/``then``/``else``,
``dependentSchemas``) decides it on a value that is still open; on a container that is
still open, only what more text cannot undo (``type``, ``maxItems``,
``maxProperties``, ``additionalProperties``, ``propertyNames``). Everything else
(``required``, ``minItems``, ``enum`` of an open object, ...) waits for the end.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from covekit.execution.schema import Schema, SchemaViolation

__all__ = ["PartialJSON", "SchemaStream", "StreamState"]

Status = Literal["partial", "invalid", "complete"]

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_NUMBER_CHARS = frozenset("0123456789+-.eE")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LITERALS = {"t": ("true", True), "f": ("false", False), "n": ("null", None)}
_WS = frozenset(" \t\r\n")
# On a container still open, errors that more text cannot undo.
_FINAL_WHEN_OPEN = frozenset(
    {"type", "maxItems", "maxProperties", "additionalProperties", "propertyNames"}
)
# Keywords whose outcome can flip with the value they are evaluated on.
_BRANCHING = frozenset({"anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas"})


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class _Frame:
    __slots__ = ("key", "kind", "path", "value")

    def __init__(self, kind: str, value: Any, path: str) -> None:
        self.kind = kind  # "obj" or "arr"
        self.value = value
        self.path = path
        self.key: str | None = None  # an object's key awaiting its value

    def child_path(self) -> str:
        if self.kind == "obj":
            assert self.key is not None
            return f"{self.path}/{_escape(self.key)}"
        return f"{self.path}/{len(self.value)}"


class PartialJSON:
    """An incremental JSON parser: ``feed`` text, read the value built so far.

    Strict JSON (RFC 8259) with leading whitespace and a Markdown code fence allowed
    around it. Containers are built as they open; the scalar being written is kept
    apart (see :meth:`snapshot`). ``error`` is set, with ``error_offset``, at the first
    character that no JSON document can continue with.

    >>> p = PartialJSON()
    >>> p.feed('```json\\n[1, {"a": "x')
    >>> p.snapshot(), p.snapshot(with_open_scalar=True), p.placeholder_path()
    ([1, {}], [1, {'a': 'x'}], '/1/a')
    >>> sorted(p.open_containers()), p.judging_snapshot()
    (['', '/1'], [1, {'a': 'x'}])
    """

    def __init__(self) -> None:
        self.pos = 0  # characters consumed (Python str indices)
        self.root: Any = None
        self.has_root = False
        self.done = False  # the root value is complete
        self.error: str | None = None
        self.error_offset: int | None = None
        self.changed = False  # a value or key completed, or a container opened, since reset
        self.ends: dict[str, int] = {}  # end offset of each completed value, by path
        self._stack: list[_Frame] = []
        self._mode = "lead"  # lead fence value string number literal after key colon trail
        self._buf: list[str] = []
        self._is_key = False
        self._esc = ""  # pending escape: "" none, "\\" after backslash, "u...." collecting
        self._high: int | None = None  # a high surrogate awaiting its low half
        self._lit = ""
        self._fence = False
        self._line_start = True

    # ------------------------------------------------------------------ reading
    def snapshot(self, *, with_open_scalar: bool = False) -> Any:
        """The value so far (a deep copy); ``None`` before anything. The scalar being
        written is left out unless ``with_open_scalar`` (then a string shows its text so
        far, a number the longest prefix that parses)."""
        value: Any = copy.deepcopy(self.root) if self.has_root else None
        if not with_open_scalar or self._mode not in ("string", "number") or self._is_key:
            return value
        partial = self._partial_scalar()
        return value if partial is _MISSING else self._insert(value, partial)

    def placeholder_path(self) -> str | None:
        """Where a value has begun (or a key awaits one) but is not complete: the path
        :meth:`judging_snapshot` fills with a placeholder."""
        if self._mode in ("string", "number", "literal") and not self._is_key:
            return self._here()
        if self._stack and self._stack[-1].key is not None:  # a key, no value yet
            return self._here()
        return None

    def judging_snapshot(self) -> Any:
        """The value so far with a stand-in at :meth:`placeholder_path`, so that a value
        that has begun counts (for ``maxItems``) and a key that is complete is there
        (for ``additionalProperties``). The stand-in is what has been written (the
        string so far, the number prefix, the literal it must be) or ``None``; nothing
        about it is judged (see ``_certain``), it only makes messages read naturally."""
        value: Any = copy.deepcopy(self.root) if self.has_root else None
        if self.placeholder_path() is None:
            return value
        stand_in: Any = None
        if self._mode in ("string", "number") and not self._is_key:
            partial = self._partial_scalar()
            stand_in = None if partial is _MISSING else partial
        elif self._mode == "literal":
            stand_in = _LITERALS[self._lit[0]][1]
        return self._insert(value, stand_in)

    def open_containers(self) -> set[str]:
        """JSON Pointers of the containers still open."""
        return {f.path for f in self._stack}

    def _insert(self, root: Any, item: Any) -> Any:
        if not self._stack:
            return item
        target = root
        for frame in self._stack[1:]:
            target = _child(target, frame)
        top = self._stack[-1]
        if top.kind == "obj":
            target[top.key] = item
        else:
            target.append(item)
        return root

    def _partial_scalar(self) -> Any:
        if self._mode == "string":
            return "".join(self._buf)
        text = "".join(self._buf)
        while text and not _NUMBER.match(text):
            text = text[:-1]
        return json.loads(text) if text else _MISSING

    # ------------------------------------------------------------------ feeding
    def feed(self, chunk: str) -> None:
        """Consumes ``chunk``; stops at the first error."""
        for ch in chunk:
            if self.error is not None:
                return
            self._step(ch)
            self.pos += 1

    def end(self) -> None:
        """The text is over: completes a root number; a document still open is an error."""
        if self.error is not None:
            return
        if self._mode == "number" and not self._stack:
            self._finish_number()
        if self.error is None and not self.done:
            started = self.has_root or self._mode not in ("lead", "fence", "value")
            self._fail(
                "the text ends before the JSON value is complete"
                if started
                else "the text holds no JSON value"
            )

    def _fail(self, message: str) -> None:
        self.error = message
        self.error_offset = self.pos

    def _step(self, ch: str) -> None:
        mode = self._mode
        if mode == "string":
            self._string_char(ch)
        elif mode == "number":
            if ch in _NUMBER_CHARS:
                self._buf.append(ch)
            else:
                self._finish_number()
                if self.error is None:
                    self._step(ch)
        elif mode == "literal":
            self._lit += ch
            word, value = _LITERALS[self._lit[0]]
            if not word.startswith(self._lit):
                self._fail(f"expected {word!r}")
            elif len(self._lit) == len(word):
                self._put(value)
        elif mode == "lead":
            if ch in _WS:
                return
            if ch == "`":
                self._mode, self._lit = "fence", "`"
                return
            self._mode = "value"
            self._step(ch)
        elif mode == "fence":
            if not self._fence:
                if ch == "`":
                    self._lit += ch
                    if len(self._lit) == 3:
                        self._fence = True
                    return
                if len(self._lit) < 3:
                    self._fail("expected a JSON value")
                    return
            if ch == "\n":
                self._mode = "value"
            # the fence's info string ("json") is skipped
        elif mode == "value":
            self._value_start(ch)
        elif mode == "after":
            self._after(ch)
        elif mode == "key":
            if ch in _WS:
                return
            top = self._stack[-1]
            if ch == '"':
                self._mode, self._is_key, self._buf = "string", True, []
            elif ch == "}" and not top.value:
                self._close()  # "{}" ('{"a": 1,}' has a member, so it fails)
            else:
                self._fail("expected a property name in double quotes")
        elif mode == "colon":
            if ch in _WS:
                return
            if ch == ":":
                self._mode = "value"
            else:
                self._fail("expected ':' after the property name")
        elif mode == "trail":
            if ch in _WS:
                return
            if ch == "`" and self._fence and len(self._lit) < 3:  # the closing fence
                self._lit += "`"
                return
            self._fail("unexpected text after the JSON value")

    def _value_start(self, ch: str) -> None:
        if ch in _WS:
            return
        if ch == "{" or ch == "[":
            frame = _Frame("obj" if ch == "{" else "arr", {} if ch == "{" else [], self._here())
            self._attach(frame.value)
            self._stack.append(frame)
            self.changed = True
            self._mode = "key" if ch == "{" else "value"
            return
        if (
            ch == "]"
            and self._stack
            and self._stack[-1].kind == "arr"
            and not self._stack[-1].value
        ):
            self._close()  # "[]" ("[1,]" has a value before the comma, so it fails below)
            return
        self.changed = True  # a value has begun: it counts (maxItems, a key's presence)
        if ch == '"':
            self._mode, self._is_key, self._buf = "string", False, []
        elif ch == "-" or (ch.isdigit() and ch.isascii()):
            self._mode, self._buf = "number", [ch]
        elif ch in _LITERALS:
            self._mode, self._lit = "literal", ch
        else:
            self._fail(f"unexpected {ch!r} where a JSON value should start")

    def _after(self, ch: str) -> None:
        if ch in _WS:
            return
        top = self._stack[-1]
        if ch == ",":
            self._mode = "key" if top.kind == "obj" else "value"
        elif (ch == "}" and top.kind == "obj") or (ch == "]" and top.kind == "arr"):
            self._close()
        else:
            self._fail(f"expected ',' or {'}' if top.kind == 'obj' else ']'}")

    def _string_char(self, ch: str) -> None:
        if self._esc:
            if self._esc == "\\":
                if ch == "u":
                    self._esc = "u"
                elif ch in _ESCAPES:
                    self._esc = ""
                    self._emit(_ESCAPES[ch])
                else:
                    self._fail(f"invalid escape '\\{ch}' in a string")
                return
            if ch not in "0123456789abcdefABCDEF":
                self._fail("invalid \\u escape in a string")
                return
            self._esc += ch
            if len(self._esc) == 5:
                code = int(self._esc[1:], 16)
                self._esc = ""
                if 0xD800 <= code <= 0xDBFF:
                    self._flush_high()
                    self._high = code
                elif 0xDC00 <= code <= 0xDFFF and self._high is not None:
                    self._buf.append(chr(0x10000 + ((self._high - 0xD800) << 10) + (code - 0xDC00)))
                    self._high = None
                else:
                    self._emit(chr(code))
            return
        if ch == "\\":
            self._esc = "\\"
        elif ch == '"':
            self._flush_high()
            text = "".join(self._buf)
            if self._is_key:
                self._stack[-1].key = text
                self._is_key = False
                self._mode = "colon"
                self.changed = True
            else:
                self._put(text)
        elif ch < " ":
            self._fail("a control character inside a string must be escaped")
        else:
            self._emit(ch)

    def _emit(self, text: str) -> None:
        self._flush_high()
        self._buf.append(text)

    def _flush_high(self) -> None:
        if self._high is not None:  # a lone high surrogate stays one, as json.loads keeps it
            self._buf.append(chr(self._high))
            self._high = None

    def _finish_number(self) -> None:
        text = "".join(self._buf)
        if not _NUMBER.match(text):
            self._fail(f"invalid number {text!r}")
            return
        self._put(json.loads(text), end=self.pos)  # ended by the character at pos

    def _here(self) -> str:
        return self._stack[-1].child_path() if self._stack else ""

    def _attach(self, value: Any) -> None:
        if not self._stack:
            self.root, self.has_root = value, True
            return
        top = self._stack[-1]
        if top.kind == "obj":
            assert top.key is not None
            top.value[top.key] = value
            top.key = None
        else:
            top.value.append(value)

    def _put(self, value: Any, end: int | None = None) -> None:
        path = self._here()
        self._attach(value)
        self.ends[path] = self.pos + 1 if end is None else end
        self.changed = True
        self._buf, self._lit = [], ""
        self._after_value()

    def _close(self) -> None:
        frame = self._stack.pop()
        self.ends[frame.path] = self.pos + 1
        self.changed = True
        self._after_value()

    def _after_value(self) -> None:
        if self._stack:
            self._mode = "after"
        else:
            self.done = True
            self._mode, self._lit = "trail", ""


_MISSING: Any = object()


def _child(container: Any, frame: _Frame) -> Any:
    last = frame.path.rsplit("/", 1)[1].replace("~1", "/").replace("~0", "~")
    return container[last] if isinstance(container, dict) else container[int(last)]


@dataclass(frozen=True, slots=True)
class StreamState:
    """The judgement after a chunk: ``status`` (``"partial"``, ``"invalid"`` or
    ``"complete"``); for ``"invalid"``, the schema ``errors`` or the ``syntax_error``,
    and ``offset``, a ``str`` index into the whole text: the end of the first failing
    value when it is complete, else the end of the text judged (a syntax error: the
    offending character).

    >>> import covekit
    >>> state = covekit.Schema({"type": "array"}).stream().feed("{")
    >>> state.status, state.errors[0].message, state.offset
    ('invalid', '{} is not of type "array"', 1)
    """

    status: Status
    errors: tuple[SchemaViolation, ...] = ()
    syntax_error: str | None = None
    offset: int | None = None

    @property
    def invalid(self) -> bool:
        return self.status == "invalid"


class SchemaStream:
    """Validates a JSON document as it streams in (see the module docs).

    >>> import covekit
    >>> s = covekit.Schema({"type": "object", "required": ["a"]}).stream()
    >>> s.feed('{"b": 1').status, s.feed("}").status, s.state.errors[0].keyword
    ('partial', 'invalid', 'required')
    """

    def __init__(self, schema: Schema | None) -> None:
        self._schema = schema
        self._parser = PartialJSON()
        self._text: list[str] = []
        self._state = StreamState("partial")

    @property
    def text(self) -> str:
        """All the text fed so far."""
        return "".join(self._text)

    @property
    def value(self) -> Any:
        """The value parsed so far, the string or number being written included."""
        return self._parser.snapshot(with_open_scalar=True)

    @property
    def state(self) -> StreamState:
        """The latest judgement."""
        return self._state

    def feed(self, chunk: str) -> StreamState:
        """Adds ``chunk`` and judges the text so far. Once invalid, it stays invalid."""
        if not isinstance(chunk, str):
            from covekit.errors import InvalidInput

            raise InvalidInput(f"feed() takes str chunks, not {type(chunk).__name__}")
        self._text.append(chunk)
        if self._state.status == "invalid":
            self._parser.feed(chunk)  # keep the value current for the UI
            return self._state
        p = self._parser
        p.changed = False
        p.feed(chunk)
        if p.error is not None:
            self._state = StreamState("invalid", syntax_error=p.error, offset=p.error_offset)
        elif p.changed:
            self._state = self._judge(final=False)
        return self._state

    def end(self) -> StreamState:
        """The stream is over: the final judgement of the whole text."""
        if self._state.status == "invalid":
            return self._state
        p = self._parser
        p.end()
        if p.error is not None:
            self._state = StreamState("invalid", syntax_error=p.error, offset=p.error_offset)
        else:
            self._state = self._judge(final=True)
        return self._state

    def _judge(self, *, final: bool) -> StreamState:
        p = self._parser
        if self._schema is None or not p.has_root:
            if self._schema is None and p.done:
                return StreamState("complete")
            return StreamState("complete" if final else "partial")
        if final or p.done:  # the document is complete: every error is certain
            errors = self._schema.validate(p.snapshot(), all_errors=True).errors
            if errors:
                return StreamState("invalid", tuple(errors), offset=p.ends.get("", p.pos))
            return StreamState("complete")
        errors = self._schema.validate(p.judging_snapshot(), all_errors=True).errors
        containers = p.open_containers()
        placeholder = p.placeholder_path()
        certain = [e for e in errors if _certain(e, containers, placeholder)]
        if certain:
            offset = min(p.ends.get(e.instance_path, p.pos) for e in certain)
            return StreamState("invalid", tuple(certain), offset=offset)
        return StreamState("partial")


def _certain(e: SchemaViolation, containers: set[str], placeholder: str | None) -> bool:
    """Whether more text can no longer undo the error ``e`` (see the module docs)."""
    inst = e.instance_path
    if placeholder is not None and (inst == placeholder or inst.startswith(placeholder + "/")):
        return False  # nothing is known about a value still being written
    open_paths = containers if placeholder is None else containers | {placeholder}
    segments = inst.split("/")[1:] if inst else []
    # Walk the keyword location, tracking the instance depth; a branching keyword met
    # at a depth whose instance is still open can change its mind.
    kw = e.keyword_location.split("/")[1:]
    depth, i = 0, 0
    while i < len(kw):
        k = kw[i]
        if k in ("properties", "patternProperties", "prefixItems"):
            depth, i = depth + 1, i + 2
            continue
        if k in (
            "items",
            "additionalProperties",
            "additionalItems",
            "unevaluatedItems",
            "unevaluatedProperties",
        ):
            if i + 1 < len(kw) or k != e.keyword:  # into the subschema (not the keyword itself)
                depth += 1
            i += 1
            continue
        if k in _BRANCHING or k == "contains":
            prefix = "" if depth == 0 else "/" + "/".join(segments[:depth])
            if prefix in open_paths:
                return False
            i += 2 if k in ("anyOf", "oneOf", "dependentSchemas") else 1
            continue
        if k in ("allOf",):
            i += 2
            continue
        i += 1
    if inst in containers:
        return e.keyword in _FINAL_WHEN_OPEN
    return True
