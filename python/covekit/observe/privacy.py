"""What of a request's content a trace may keep: :class:`ContentPolicy`.

Content — prompts, retrieved text, answers, tool arguments and results, error
messages — is **off by default**, as OpenTelemetry's GenAI conventions advise: a span
keeps its timings, token counts, models, verdicts and ids, and every content attribute
is dropped before any sink sees it. With ``capture=True`` each content field goes
through an action of its own:

* ``"store"``: kept as it is;
* ``"redact"``: through a :class:`covekit.Redactor` (PII and secrets replaced by
  placeholders; strings inside lists and dicts too, and inside a string that is JSON
  text, such as a model's structured output);
* ``"hash"``: replaced by ``"xxh3:<32 hex digits>"``, the XXH3-128 of a per-policy
  salt and the value's canonical JSON (equal values give equal hashes under one
  policy, so a team can count repeats without seeing them);
* ``"drop"``: removed.

A content field is an attribute (of a span or of a span event) whose name is in
:data:`CONTENT_ATTRIBUTES` or starts with ``covekit.content.``, plus the span's
``status_message`` (an exception's text can quote the input), known as the field
``"status_message"``.

>>> from covekit.observe.privacy import ContentPolicy
>>> from covekit.observe.trace import Span
>>> s = Span("0" * 32, "1" * 16, None, "chat", 0, 1,
...          {"gen_ai.input.messages": [{"role": "user", "content": "hi"}],
...           "gen_ai.usage.input_tokens": 3})
>>> ContentPolicy().apply([s])[0].attributes
{'gen_ai.usage.input_tokens': 3}
>>> kept = ContentPolicy(capture=True, default="store").apply([s])[0]
>>> kept.attributes["gen_ai.input.messages"]
[{'role': 'user', 'content': 'hi'}]

Thread safety: a ContentPolicy is read-only after construction; :meth:`apply` may run
from many threads at once (as far as its Redactor allows; covekit's does).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, get_args

from covekit.errors import InvalidInput

if TYPE_CHECKING:
    from covekit.decision.redact import Redactor
    from covekit.observe.trace import Span

__all__ = ["CONTENT_ATTRIBUTES", "CONTENT_PREFIX", "ContentAction", "ContentPolicy"]

ContentAction = Literal["store", "redact", "hash", "drop"]
_ACTIONS: tuple[str, ...] = get_args(ContentAction)

#: The attribute names that hold content (prompts, retrieved text, answers, tool
#: arguments and results); any name that starts with :data:`CONTENT_PREFIX` does too.
CONTENT_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.prompt",
        "gen_ai.completion",
        "input.value",
        "output.value",
        "covekit.question",
        "covekit.answer",
        "covekit.retrieved.text",
        "covekit.contract.output",
        "exception.message",
        "exception.stacktrace",
    }
)
#: Attribute names under this prefix are content too.
CONTENT_PREFIX = "covekit.content."
#: The field name of a span's status message in a policy's ``fields``.
STATUS_MESSAGE = "status_message"
_MAX_PASSES = 16  # redaction passes over one value (a pass can miss adjacent findings)
_WITHHELD = "[withheld: the redactor kept finding values]"


def is_content(name: str) -> bool:
    """True when the attribute ``name`` holds content.

    >>> is_content("gen_ai.input.messages"), is_content("gen_ai.usage.input_tokens")
    (True, False)
    """
    return name in CONTENT_ATTRIBUTES or name.startswith(CONTENT_PREFIX)


class ContentPolicy:
    """What a trace keeps of each content field (module docs).

    Args:
        capture: keep content at all (default False: every content field is dropped,
            whatever ``fields`` say).
        default: the action of a content field that ``fields`` does not name
            (``"redact"`` unless given).
        fields: per content field (an attribute name, or ``"status_message"``), its
            action: ``"store"``, ``"redact"``, ``"hash"`` or ``"drop"``.
        redactor: the :class:`covekit.Redactor` of the ``redact`` action (default: a
            ``Redactor()`` with every entity).
        salt: the ``hash`` action's salt (bytes or str; default: 16 random bytes, so
            hashes of two policies never match).

    Raises:
        InvalidInput: an unknown action, a field name that is not a str, a redactor
            that is not a Redactor, a salt that is not bytes or str.

    >>> p = ContentPolicy(capture=True, fields={"covekit.question": "hash"}, salt=b"s")
    >>> p.action("covekit.question"), p.action("covekit.answer"), p.action("covekit.route.tier")
    ('hash', 'redact', None)
    >>> p.value("covekit.question", "hi") == p.value("covekit.question", "hi")
    True
    """

    def __init__(
        self,
        capture: bool = False,
        *,
        default: ContentAction = "redact",
        fields: Mapping[str, ContentAction] | None = None,
        redactor: Redactor | None = None,
        salt: bytes | str | None = None,
    ) -> None:
        if not isinstance(capture, bool):
            raise InvalidInput(f"capture must be True or False, not {capture!r}")
        self.capture = capture
        self.default: ContentAction = _check_action(default, "default")
        self.fields: dict[str, ContentAction] = {}
        if fields is not None and not isinstance(fields, Mapping):
            raise InvalidInput("fields must map attribute names to actions")
        for name, action in (fields or {}).items():
            if not isinstance(name, str) or not name:
                raise InvalidInput(f"a field name must be a non-empty str, not {name!r}")
            self.fields[name] = _check_action(action, f"the field {name}")
        if redactor is not None:
            from covekit.decision.redact import Redactor

            if not isinstance(redactor, Redactor):
                raise InvalidInput(
                    f"redactor must be a covekit.Redactor, not {type(redactor).__name__}"
                )
        self._redactor = redactor
        if salt is None:
            salt = os.urandom(16)
        if isinstance(salt, str):
            salt = salt.encode("utf-8")
        if not isinstance(salt, bytes):
            raise InvalidInput(f"salt must be bytes or str, not {type(salt).__name__}")
        self._salt = salt

    def __repr__(self) -> str:
        return (
            f"ContentPolicy(capture={self.capture}, default={self.default!r}, "
            f"fields={self.fields!r})"
        )

    @property
    def redactor(self) -> Redactor:
        """The redactor of the ``redact`` action (made on first use)."""
        if self._redactor is None:
            from covekit.decision.redact import Redactor

            self._redactor = Redactor()
        return self._redactor

    def action(self, name: str) -> ContentAction | None:
        """The action on the field ``name``; None for a field that is not content (kept
        as it is)."""
        if name != STATUS_MESSAGE and not is_content(name) and name not in self.fields:
            return None
        if not self.capture:
            return "drop"
        return self.fields.get(name, self.default)

    def value(self, name: str, value: Any) -> Any:
        """``value`` of the field ``name`` after its action (a private marker object
        when the action drops it: :meth:`apply` leaves such a field out)."""
        act = self.action(name)
        if act is None or act == "store":
            return value
        if act == "drop":
            return _DROP
        if act == "hash":
            return self._hash(value)
        return self._redact(value)

    def _hash(self, value: Any) -> str:
        from covekit.hash import xxh3_128_hexdigest

        try:
            data = json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)
        except (TypeError, ValueError):
            data = repr(value)
        return "xxh3:" + xxh3_128_hexdigest(self._salt + data.encode("utf-8", "surrogatepass"))

    def _redact(self, value: Any) -> Any:
        if not isinstance(value, str | list | tuple | dict):
            return value
        if isinstance(value, tuple):
            value = list(value)
        value = self._json_texts(value)
        if value is _WITHHELD:
            return value
        red = self.redactor
        for _ in range(_MAX_PASSES):
            got = red.redact(value)
            if not got.changed:
                return value
            value = got.value
        return _WITHHELD

    def _touches(self, attrs: Mapping[str, Any]) -> bool:
        """True when some attribute of ``attrs`` is a field this policy changes."""
        fields = self.fields
        for k in attrs:
            if k in fields or k in CONTENT_ATTRIBUTES or k.startswith(CONTENT_PREFIX):
                return True
        return False

    def _json_texts(self, value: Any, depth: int = 0) -> Any:
        """``value`` with each string in it that is JSON text (a model's structured
        output) redacted as the data it holds and written back: inside JSON text the
        quotes are escaped, and a secret rule that wants ``"key": "value"`` does not see
        ``\\"key\\": \\"value\\"``."""
        if depth > 32:
            return value
        if isinstance(value, str):
            if value.lstrip()[:1] not in ("{", "["):
                return value
            try:
                parsed = json.loads(value)
            except ValueError:
                return value
            if not isinstance(parsed, dict | list):
                return value
            got = self._redact(parsed)
            return got if got is _WITHHELD else json.dumps(got, ensure_ascii=False)
        if isinstance(value, list):
            return [self._json_texts(v, depth + 1) for v in value]
        if isinstance(value, dict):
            return {k: self._json_texts(v, depth + 1) for k, v in value.items()}
        return value

    def _attributes(self, attrs: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in attrs.items():
            got = self.value(k, v)
            if got is not _DROP:
                out[k] = got
        return out

    def apply(self, spans: Iterable[Span]) -> list[Span]:
        """``spans`` with every content field through its action (attributes, event
        attributes and the status message). A span with a content field is copied (the
        span given is not changed); one without any is passed on as it is.

        >>> from covekit.observe.trace import Span
        >>> s = Span("0" * 32, "1" * 16, None, "retrieve", 0, 1, {"gen_ai.request.top_k": 5})
        >>> ContentPolicy().apply([s])[0] is s
        True
        """
        from covekit.observe.trace import Span, SpanEvent

        out = []
        for s in spans:
            if (
                not s.status_message
                and not self._touches(s.attributes)
                and not any(self._touches(e.attributes) for e in s.events)
            ):
                out.append(s)
                continue
            message = s.status_message
            if message:
                got = self.value(STATUS_MESSAGE, message)
                message = "" if got is _DROP else str(got)
            out.append(
                Span(
                    s.trace_id,
                    s.span_id,
                    s.parent_id,
                    s.name,
                    s.start_ns,
                    s.end_ns,
                    self._attributes(s.attributes),
                    [
                        SpanEvent(e.name, e.time_ns, self._attributes(e.attributes))
                        for e in s.events
                    ],
                    s.status,
                    message,
                )
            )
        return out


class _Dropped:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<dropped>"


_DROP: Any = _Dropped()


def _check_action(action: Any, what: str) -> ContentAction:
    if not isinstance(action, str) or action not in _ACTIONS:
        raise InvalidInput(f"{what}: the action must be one of {list(_ACTIONS)}, got {action!r}")
    return action  # type: ignore[return-value]
