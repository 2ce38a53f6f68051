"""PII and secret redaction: a one-pass C++ scanner, actions, a reversible vault.

:class:`Redactor` finds emails, phone numbers, cards, IBANs, SSNs, IP and MAC
addresses, credentials in URLs and a dozen kinds of secrets (the :data:`ENTITIES`;
docs/redaction.md lists each rule and its validator) in a ``str``, in chat messages,
or anywhere in a JSON-like value, and replaces each finding by a placeholder
(``<EMAIL_1>``), a mask (``****1111`` for cards), a keyed hash, or nothing.

>>> import covekit
>>> r = covekit.Redactor()
>>> red = r.redact("Mail bob@example.com or call +1 415-555-2671; bob@example.com again.")
>>> red.value
'Mail <EMAIL_1> or call <PHONE_1>; <EMAIL_1> again.'
>>> [(f.entity, f.start, f.end, f.rule) for f in red.findings][:2]
[('EMAIL', 5, 20, 'email.rfc5321'), ('PHONE', 29, 44, 'phone.e164+context')]
>>> red.counts
{'EMAIL': 2, 'PHONE': 1}

A :class:`Vault` keeps what each placeholder stood for, so that a model's answer can
be given back to the same user with the real values:

>>> vault = covekit.Vault()
>>> prompt = r.redact("Card 4111 1111 1111 1111 is blocked", vault=vault).value
>>> prompt
'Card <CREDIT_CARD_1> is blocked'
>>> vault.restore("I have unblocked <CREDIT_CARD_1>.")
'I have unblocked 4111 1111 1111 1111.'

Thread safety: a ``Redactor`` is immutable after construction; ``scan``, ``scan_batch``
and ``redact`` may run from many threads at once (the native scan releases the GIL).
A ``Vault`` takes a lock, so threads may share one.
"""

from __future__ import annotations

import bisect
import difflib
import hashlib
import hmac
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, NoReturn, SupportsIndex, TypeVar, cast

from covekit import _core
from covekit.errors import InvalidInput, UnknownEntity

__all__ = ["ENTITIES", "Action", "Finding", "Recognizer", "Redaction", "Redactor", "Vault"]

ENTITIES: tuple[str, ...] = tuple(_core.pii_entities())
"""The entities the native scanner finds, in its order (docs/redaction.md)."""

Action = Literal["mask", "placeholder", "hash", "drop"]
_ACTIONS: tuple[str, ...] = ("mask", "placeholder", "hash", "drop")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding: ``text[start:end]`` (``str`` indices) is ``self.text``.

    ``path`` is where the string was in a JSON-like value or messages (``$.user.email``,
    ``$[2].content``; None for a plain ``str``), and ``key`` is True when the string was
    a dict key. The repr does not show the matched text (findings hold originals).

    >>> f = Finding("EMAIL", 0, 15, "bob@example.com", 0.95, "email.rfc5321")
    >>> f
    Finding(entity='EMAIL', start=0, end=15, text=<15 chars>, score=0.95, rule='email.rfc5321')
    """

    entity: str
    start: int
    end: int
    text: str
    score: float
    rule: str
    path: str | None = None
    key: bool = False

    def __repr__(self) -> str:
        where = (
            ""
            if self.path is None
            else f", path={self.path!r}" + (", key=True" if self.key else "")
        )
        return (
            f"Finding(entity={self.entity!r}, start={self.start}, end={self.end}, "
            f"text=<{len(self.text)} chars>, score={self.score:g}, rule={self.rule!r}{where})"
        )


Recognizer = Callable[[str], Iterable[Finding]]
"""A callable that finds more entities in a text (e.g. names with an NER model).

It returns :class:`Finding` objects with ``str`` offsets into the text it was given;
``text`` is taken from those offsets. An optional attribute ``entities`` (names it can
return) lets those names be used in ``entities``, ``thresholds`` and ``actions``.
"""


class Vault:
    """Maps placeholders back to the values they replaced, in memory only.

    Pass one vault to every :meth:`Redactor.redact` of a conversation: the same value gets
    the same placeholder across calls, and :meth:`restore` puts the originals back into
    the model's answer. Only the ``placeholder`` action is reversible. A vault is never
    persisted: pickling or copying it raises ``TypeError``, and its repr shows no values.

    >>> vault = Vault()
    >>> covekit_redactor = __import__("covekit").Redactor()
    >>> covekit_redactor.redact("ping ops@example.com", vault=vault).value
    'ping <EMAIL_1>'
    >>> vault
    <covekit.Vault placeholders=1>
    >>> vault.restore("Sent to <EMAIL_1>; <EMAIL_9> is unknown and stays.")
    'Sent to ops@example.com; <EMAIL_9> is unknown and stays.'
    """

    _PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*?)_([1-9][0-9]*)>")

    def __init__(self) -> None:
        self._originals: dict[str, str] = {}
        self._numbering = _Numbering()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._originals)

    def __contains__(self, placeholder: object) -> bool:
        with self._lock:
            return placeholder in self._originals

    def __repr__(self) -> str:
        return f"<covekit.Vault placeholders={len(self)}>"

    def get(self, placeholder: str) -> str | None:
        """The original value of ``placeholder`` (e.g. ``"<EMAIL_1>"``), or None."""
        with self._lock:
            return self._originals.get(placeholder)

    def restore(self, text: str) -> str:
        """``text`` with every placeholder this vault knows replaced by its original.

        Placeholders the vault does not know are left as they are.
        """
        if not isinstance(text, str):
            raise InvalidInput(f"restore takes a str, not {type(text).__name__}")
        with self._lock:
            originals = dict(self._originals)

        def put_back(m: re.Match[str]) -> str:
            return originals.get(m.group(0), m.group(0))

        return self._PLACEHOLDER.sub(put_back, text)

    def _placeholder(self, entity: str, value: str) -> str:
        with self._lock:
            ph = self._numbering.placeholder(entity, value)
            self._originals[ph] = value
            return ph

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        raise TypeError(
            "a covekit.Vault holds original PII values and is never persisted or copied; "
            "keep it in memory for the conversation it belongs to"
        )


class _Numbering:
    """Placeholder numbers per entity, in order of first appearance."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], str] = {}
        self._next: Counter[str] = Counter()

    def placeholder(self, entity: str, value: str) -> str:
        ph = self._known.get((entity, value))
        if ph is None:
            self._next[entity] += 1
            ph = f"<{entity}_{self._next[entity]}>"
            self._known[(entity, value)] = ph
        return ph


@dataclass(frozen=True)
class Redaction(Generic[T]):
    """The result of :meth:`Redactor.redact`: the redacted value and what was found.

    ``value`` is the same kind of value as the input (a ``str``, messages or a JSON-like
    value); when nothing was found it is the input object itself.

    >>> import covekit
    >>> text = "nothing to see here"
    >>> red = covekit.Redactor().redact(text)
    >>> red.value is text, red.changed, red.counts
    (True, False, {})
    """

    value: T
    findings: tuple[Finding, ...] = field(default=())

    @property
    def changed(self) -> bool:
        """True when anything was redacted."""
        return bool(self.findings)

    @property
    def counts(self) -> dict[str, int]:
        """Findings per entity, in order of first appearance."""
        return dict(Counter(f.entity for f in self.findings))


def _check_names(names: Iterable[str], known: Sequence[str], what: str) -> list[str]:
    out = []
    for name in names:
        if not isinstance(name, str):
            raise InvalidInput(f"{what} must be entity names (str), got {type(name).__name__}")
        if name not in known:
            close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownEntity(
                f"unknown entity {name!r} in {what}{hint} Known entities: {', '.join(known)}"
            )
        out.append(name)
    return out


def _path_key(path: str, key: object) -> str:
    if isinstance(key, str):
        if key.isidentifier():
            return f"{path}.{key}"
        escaped = key.replace("\\", "\\\\").replace("'", "\\'")
        return f"{path}['{escaped}']"
    return f"{path}[{key!r}]"


class _Frame:
    __slots__ = ("changed", "entries", "i", "is_map", "obj", "out", "path", "pending")

    def __init__(self, obj: Any, path: str) -> None:
        self.obj = obj
        self.path = path
        self.is_map = isinstance(obj, Mapping)
        self.entries: list[tuple[Any, Any]] = list(obj.items() if self.is_map else enumerate(obj))
        self.i = 0
        self.out: list[tuple[Any, Any]] = []
        self.changed = False
        self.pending: tuple[Any, Any, Any] = (None, None, None)

    def rebuilt(self) -> Any:
        if not self.changed:
            return self.obj
        if self.is_map:
            return dict(self.out)
        values = [v for _, v in self.out]
        return tuple(values) if isinstance(self.obj, tuple) else values


def _is_container(x: object) -> bool:
    return isinstance(x, Mapping | list | tuple)


_Visit = Callable[[str, str, bool], str]


def _walk(root: Any, path: str, visit: _Visit, keys: bool) -> Any:
    """``root`` with each string (and str dict key when ``keys``) replaced by ``visit``.

    Iterative (any depth), in document order; unchanged containers are returned as
    they are. A container that contains itself raises InvalidInput.
    """
    if isinstance(root, str):
        return visit(root, path, False)
    if not _is_container(root):
        return root
    ancestors = {id(root)}
    stack = [_Frame(root, path)]
    done: Any = None
    finished = False
    while True:
        f = stack[-1]
        if finished:
            key, key_new, child = f.pending
            f.out.append((key_new, done))
            f.changed = f.changed or done is not child or key_new is not key
            f.i += 1
            finished = False
        if f.i == len(f.entries):
            stack.pop()
            ancestors.discard(id(f.obj))
            done = f.rebuilt()
            if not stack:
                return done
            finished = True
            continue
        key, child = f.entries[f.i]
        child_path = _path_key(f.path, key)
        key_new = (
            visit(key, child_path, True) if (f.is_map and keys and isinstance(key, str)) else key
        )
        if _is_container(child):
            if id(child) in ancestors:
                raise InvalidInput(
                    f"the value at {child_path} contains itself; JSON-like values must be trees"
                )
            ancestors.add(id(child))
            f.pending = (key, key_new, child)
            stack.append(_Frame(child, child_path))
            continue
        new = visit(child, child_path, False) if isinstance(child, str) else child
        f.out.append((key_new, new))
        f.changed = f.changed or new is not child or key_new is not key
        f.i += 1


def _is_messages(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(isinstance(m, Mapping) and "role" in m for m in value)
    )


class Redactor:
    """Finds PII and secrets and redacts them (module docs; docs/redaction.md).

    Args:
        entities: the entities to find (default: all of :data:`ENTITIES`).
        disable: entities not to find.
        thresholds: per entity, the minimum score a finding needs (default 0.5 each).
        allowlist: values never reported: literal strings (the whole finding must equal
            one) or compiled ``re.Pattern`` objects (the whole finding must match).
        allow_patterns: regular expressions as strings, compiled here (an error names a
            pattern that does not compile).
        actions: per entity, one of ``"mask"``, ``"placeholder"``, ``"hash"``, ``"drop"``.
        default_action: the action of every other entity.
        hash_key: the HMAC-SHA256 key of the ``hash`` action (required by it).
        hash_length: hex digits of the hash kept (4-64).
        context_window: bytes around a weak phone or SSN match searched for context words.
        secret_min_length: the generic secret rule's minimum value length.
        secret_min_entropy: its Shannon entropy threshold (bits per character).
        secret_min_entropy_hex: the threshold for values made only of hex digits.
        recognizers: callables ``text -> findings`` run on every text too (an NER model
            for names and addresses, say).
        redact_keys: also scan and redact the str keys of dicts in JSON-like values.

    >>> Redactor(entities=["EMAIL", "PHONE"], actions={"PHONE": "mask"})
    Redactor(entities=2, default_action='placeholder', actions={'PHONE': 'mask'})
    """

    def __init__(
        self,
        entities: Iterable[str] | None = None,
        *,
        disable: Iterable[str] = (),
        thresholds: Mapping[str, float] | None = None,
        allowlist: Iterable[str | re.Pattern[str]] = (),
        allow_patterns: Iterable[str] = (),
        actions: Mapping[str, Action] | None = None,
        default_action: Action = "placeholder",
        hash_key: bytes | None = None,
        hash_length: int = 12,
        context_window: int = 48,
        secret_min_length: int = 8,
        secret_min_entropy: float = 3.0,
        secret_min_entropy_hex: float = 2.5,
        recognizers: Iterable[Recognizer] = (),
        redact_keys: bool = True,
    ) -> None:
        self._recognizers: tuple[Recognizer, ...] = tuple(recognizers)
        for rec in self._recognizers:
            if not callable(rec):
                raise InvalidInput(f"recognizers must be callables, got {type(rec).__name__}")
        extra = [name for rec in self._recognizers for name in getattr(rec, "entities", ()) or ()]
        known = list(ENTITIES) + [n for n in dict.fromkeys(extra) if n not in ENTITIES]
        if isinstance(entities, str):
            raise InvalidInput("entities must be a list of names, not a single str")
        chosen = list(ENTITIES) if entities is None else _check_names(entities, known, "entities")
        off = set(_check_names(disable, known, "disable"))
        self._entities: tuple[str, ...] = tuple(e for e in dict.fromkeys(chosen) if e not in off)
        self._thresholds: dict[str, float] = {}
        for name, score in (thresholds or {}).items():
            _check_names([name], known, "thresholds")
            if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
                raise InvalidInput(
                    f"the threshold of {name} must be a number in [0, 1], got {score!r}"
                )
            self._thresholds[name] = float(score)
        if default_action not in _ACTIONS:
            raise InvalidInput(f"default_action must be one of {_ACTIONS}, got {default_action!r}")
        self._default_action: Action = default_action
        self._actions: dict[str, Action] = {}
        for name, action in (actions or {}).items():
            _check_names([name], known, "actions")
            if action not in _ACTIONS:
                raise InvalidInput(
                    f"the action of {name} must be one of {_ACTIONS}, got {action!r}"
                )
            self._actions[name] = action
        uses_hash = default_action == "hash" or "hash" in self._actions.values()
        if hash_key is not None and (not isinstance(hash_key, bytes) or not hash_key):
            raise InvalidInput("hash_key must be non-empty bytes")
        if uses_hash and hash_key is None:
            raise InvalidInput(
                "the 'hash' action needs a key: pass hash_key=<secret bytes> (e.g. os.urandom(32), "
                "kept in your secret store) so that hashes cannot be reversed by guessing"
            )
        self._hash_key = hash_key
        if (
            isinstance(hash_length, bool)
            or not isinstance(hash_length, int)
            or not 4 <= hash_length <= 64
        ):
            raise InvalidInput(f"hash_length must be an int in [4, 64], got {hash_length!r}")
        self._hash_length = hash_length
        self._literals: frozenset[str] = frozenset()
        patterns: list[re.Pattern[str]] = []
        literals: set[str] = set()
        if isinstance(allowlist, str):
            raise InvalidInput("allowlist must be a list of values, not a single str")
        for item in allowlist:
            if isinstance(item, str):
                literals.add(item)
            elif isinstance(item, re.Pattern):
                patterns.append(item)
            else:
                raise InvalidInput(
                    f"allowlist items must be str or re.Pattern, got {type(item).__name__}"
                )
        if isinstance(allow_patterns, str):
            raise InvalidInput("allow_patterns must be a list of patterns, not a single str")
        for pattern in allow_patterns:
            try:
                patterns.append(re.compile(pattern))
            except (re.error, TypeError) as exc:
                raise InvalidInput(f"allow pattern {pattern!r} does not compile: {exc}") from exc
        self._literals = frozenset(literals)
        self._patterns: tuple[re.Pattern[str], ...] = tuple(patterns)
        self._redact_keys = bool(redact_keys)
        native = [e for e in self._entities if e in ENTITIES]
        self._impl = _core.PiiScanner(
            native,
            {k: v for k, v in self._thresholds.items() if k in ENTITIES},
            context_window,
            secret_min_length,
            secret_min_entropy,
            secret_min_entropy_hex,
        )

    def __repr__(self) -> str:
        acts = f", actions={self._actions!r}" if self._actions else ""
        n = len(self._entities)
        return f"Redactor(entities={n}, default_action={self._default_action!r}{acts})"

    @property
    def entities(self) -> tuple[str, ...]:
        """The entities this redactor finds."""
        return self._entities

    # ------------------------------------------------------------------ scanning

    def _keep(self, f: Finding) -> bool:
        if f.text in self._literals:
            return False
        return not any(p.fullmatch(f.text) for p in self._patterns)

    def _finish(
        self, text: str, raw: list[tuple[str, int, int, float, str]], path: str | None, key: bool
    ) -> list[Finding]:
        found = [Finding(e, a, b, text[a:b], s, r, path, key) for e, a, b, s, r in raw]
        if self._recognizers:
            found = self._merge(found, self._recognized(text, path, key))
        return [f for f in found if self._keep(f)]

    def _recognized(self, text: str, path: str | None, key: bool) -> list[Finding]:
        out = []
        for rec in self._recognizers:
            for f in rec(text):
                if not isinstance(f, Finding):
                    raise InvalidInput(
                        f"recognizer {rec!r} returned {type(f).__name__}; "
                        "return covekit.Finding objects"
                    )
                if not (0 <= f.start < f.end <= len(text)):
                    raise InvalidInput(
                        f"recognizer {rec!r} returned a finding at [{f.start}, {f.end}) outside "
                        f"the text of {len(text)} characters"
                    )
                if f.entity not in self._entities and f.entity in ENTITIES:
                    continue
                if f.score < self._thresholds.get(f.entity, 0.5):
                    continue
                out.append(
                    Finding(
                        f.entity, f.start, f.end, text[f.start : f.end], f.score, f.rule, path, key
                    )
                )
        return out

    @staticmethod
    def _merge(native: list[Finding], extra: list[Finding]) -> list[Finding]:
        """Overlaps resolved as natively (cpp/include/covekit/pii.hpp).

        A native generic secret that a recognizer's finding starts inside and runs past
        ends where that finding starts. Of findings with the same span, the higher score
        is kept, then the native one. Then the disjoint set that covers the most
        characters is kept, and of those the one with the highest total score (a tie keeps
        the choice among the findings that end first).

        >>> def f(e: str, a: int, b: int, s: float = 0.9) -> Finding:
        ...     return Finding(e, a, b, "x" * (b - a), s, "r")
        >>> kept = Redactor._merge([f("PHONE", 0, 20)], [f("NAME", 0, 15), f("ID", 16, 35)])
        >>> [(k.entity, k.start, k.end) for k in kept]
        [('NAME', 0, 15), ('ID', 16, 35)]
        """
        if extra and any(f.entity == "GENERIC_SECRET" for f in native):
            starts = sorted((g.start, g.end) for g in extra)
            first = [a for a, _ in starts]
            trimmed = []
            for f in native:
                if f.entity == "GENERIC_SECRET":
                    i = bisect.bisect_right(first, f.start)
                    cut = f.end
                    while i < len(starts) and starts[i][0] < f.end:
                        if starts[i][1] > f.end:
                            cut = min(cut, starts[i][0])
                        i += 1
                    if cut != f.end:
                        f = replace(f, end=cut, text=f.text[: cut - f.start])
                trimmed.append(f)
            native = trimmed
        best_of_span: dict[tuple[int, int], Finding] = {}
        for f in native + extra:  # native first: an equal score keeps it
            have = best_of_span.get((f.start, f.end))
            if have is None or f.score > have.score:
                best_of_span[(f.start, f.end)] = f
        cands = sorted(best_of_span.values(), key=lambda f: (f.end, f.start))
        ends = [f.end for f in cands]
        # best[i]: (characters, total score in millionths) over the first i candidates
        best: list[tuple[int, int]] = [(0, 0)]
        before: list[int] = []
        take: list[bool] = []
        for i, f in enumerate(cands):
            j = bisect.bisect_right(ends, f.start, 0, i)
            chars, score = best[j]
            with_f = (chars + f.end - f.start, score + round(f.score * 1e6))
            before.append(j)
            take.append(with_f > best[i])
            best.append(with_f if take[i] else best[i])
        kept: list[Finding] = []
        i = len(cands)
        while i > 0:
            if take[i - 1]:
                kept.append(cands[i - 1])
                i = before[i - 1]
            else:
                i -= 1
        kept.reverse()
        return kept

    def scan(self, text: str) -> list[Finding]:
        """The findings in ``text``, in order (``text[f.start:f.end] == f.text``).

        Lone surrogates are scanned as U+FFFD (they match nothing; offsets stay right).
        ``bytes`` must be UTF-8 (else ``InvalidUtf8`` with the byte offset) and are
        reported with offsets into the decoded text.

        >>> [(f.entity, f.text) for f in Redactor().scan("key AKIAIOSFODNN7EXAMPLE")]
        [('AWS_ACCESS_KEY', 'AKIAIOSFODNN7EXAMPLE')]
        """
        if isinstance(text, bytes):
            raw = self._impl.scan(text)
            return self._finish(text.decode("utf-8"), raw, None, False)
        if not isinstance(text, str):
            raise InvalidInput(f"scan takes a str, not {type(text).__name__}")
        return self._finish(text, self._impl.scan(text), None, False)

    def scan_batch(
        self, texts: Sequence[str], *, num_threads: int | None = None
    ) -> list[list[Finding]]:
        """:meth:`scan` of each text, on ``num_threads`` native threads (default: one per CPU).

        >>> [len(x) for x in Redactor().scan_batch(["a@example.com", "none", "10.0.0.1"])]
        [1, 0, 1]
        """
        if isinstance(texts, str):
            raise InvalidInput("scan_batch takes a list of str, not a single str")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InvalidInput(f"scan_batch takes str items; item {i} is {type(t).__name__}")
        threads = (os.cpu_count() or 1) if num_threads is None else num_threads
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise InvalidInput(f"num_threads must be an int >= 1 or None, got {num_threads!r}")
        raws = self._impl.scan_batch(texts, threads)
        return [self._finish(t, raw, None, False) for t, raw in zip(texts, raws, strict=True)]

    # ------------------------------------------------------------------ redacting

    def _replacement(self, f: Finding, numbering: _Numbering, vault: Vault | None) -> str:
        action = self._actions.get(f.entity, self._default_action)
        if action == "placeholder":
            if vault is not None:
                return vault._placeholder(f.entity, f.text)
            return numbering.placeholder(f.entity, f.text)
        if action == "mask":
            if f.entity == "CREDIT_CARD":
                digits = [c for c in f.text if c.isdigit()]
                return "****" + "".join(digits[-4:])
            return "*" * len(f.text)
        if action == "hash":
            key = cast(bytes, self._hash_key)
            digest = hmac.new(
                key, f.text.encode("utf-8", "surrogatepass"), hashlib.sha256
            ).hexdigest()
            return f"<{f.entity}:{digest[: self._hash_length]}>"
        return ""

    def _apply(
        self, text: str, found: list[Finding], numbering: _Numbering, vault: Vault | None
    ) -> str:
        if not found:
            return text
        parts: list[str] = []
        pos = 0
        for f in found:
            parts.append(text[pos : f.start])
            parts.append(self._replacement(f, numbering, vault))
            pos = f.end
        parts.append(text[pos:])
        return "".join(parts)

    def redact(self, value: T, *, vault: Vault | None = None) -> Redaction[T]:
        """``value`` with every finding replaced by its entity's action.

        ``value`` is a ``str``; chat messages (a list of dicts with ``"role"``: their
        ``"content"``, a str or a list of parts whose ``"text"`` is redacted; other fields
        are kept); or a JSON-like value (dicts, lists, tuples, walked at any depth: str
        values and, with ``redact_keys``, str keys; other keys and leaves are kept as they
        are, not scanned). Findings carry their ``path``. Placeholders number each entity's
        values in order of first appearance; with a ``vault`` the numbering continues across
        calls and the vault can restore them. Nothing found: ``value`` itself comes back.

        >>> red = Redactor().redact({"user": {"email": "ann@example.com"}, "ids": [1, "10.0.0.7"]})
        >>> red.value
        {'user': {'email': '<EMAIL_1>'}, 'ids': [1, '<IP_ADDRESS_1>']}
        >>> [f.path for f in red.findings]
        ['$.user.email', '$.ids[1]']
        >>> msgs = [{"role": "user", "content": [{"type": "text", "text": "I am ann@example.com"}]}]
        >>> Redactor().redact(msgs).value[0]["content"][0]["text"]
        'I am <EMAIL_1>'
        """
        if vault is not None and not isinstance(vault, Vault):
            raise InvalidInput(f"vault must be a covekit.Vault or None, not {type(vault).__name__}")
        if isinstance(value, bytes | bytearray):
            raise InvalidInput(
                "redact takes a str, chat messages or a JSON-like value, not bytes; "
                "decode them first"
            )
        # Pass 1: every string in document order, scanned in one native batch.
        strings: list[tuple[str, str, bool]] = []

        def collect(s: str, path: str, key: bool) -> str:
            strings.append((s, path, key))
            return s

        top_str = isinstance(value, str)
        self._traverse(value, collect)
        if not strings:
            return Redaction(value, ())
        threads = 1 if len(strings) < 64 else (os.cpu_count() or 1)
        raws = self._impl.scan_batch([s for s, _, _ in strings], threads)
        per_string = [
            self._finish(s, raw, None if top_str else path, key)
            for (s, path, key), raw in zip(strings, raws, strict=True)
        ]
        if not any(per_string):
            return Redaction(value, ())
        # Pass 2: the same walk, replacing.
        numbering = _Numbering()
        it = iter(per_string)

        def replace(s: str, path: str, key: bool) -> str:
            return self._apply(s, next(it), numbering, vault)

        new = self._traverse(value, replace)
        return Redaction(cast(T, new), tuple(f for fs in per_string for f in fs))

    def _traverse(self, value: Any, visit: _Visit) -> Any:
        if not _is_messages(value):
            return _walk(value, "$", visit, self._redact_keys)
        out = []
        changed = False
        for i, msg in enumerate(value):
            content = msg.get("content")
            path = f"$[{i}].content"
            new_content: Any = content
            if isinstance(content, str):
                new_content = visit(content, path, False)
            elif isinstance(content, list | tuple):
                parts = []
                for j, part in enumerate(content):
                    text = part.get("text") if isinstance(part, Mapping) else None
                    if isinstance(text, str):
                        new_text = visit(text, f"{path}[{j}].text", False)
                        parts.append(part if new_text is text else {**part, "text": new_text})
                    else:
                        parts.append(part)
                if any(a is not b for a, b in zip(parts, content, strict=True)):
                    new_content = type(content)(parts) if isinstance(content, tuple) else parts
            if new_content is content:
                out.append(msg)
            else:
                out.append({**msg, "content": new_content})
                changed = True
        return out if changed else value
