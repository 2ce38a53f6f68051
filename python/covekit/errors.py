"""Exceptions raised by covekit.

Every error covekit raises derives from :class:`CovekitError`. Errors caused by a
bad argument also derive from :class:`ValueError` (and, where tiktoken raised a
``KeyError`` for the same mistake, from :class:`KeyError`), so code written
against the standard exceptions keeps working.

The classes raised from native code are defined in :mod:`covekit._core` and
re-exported here; ``covekit.errors`` is the one place to import them from.

>>> import covekit
>>> from covekit.errors import CovekitError, DisallowedSpecialToken
>>> enc = covekit.get_tokenizer("cl100k_base")
>>> try:
...     enc.encode("<|endoftext|>")
... except DisallowedSpecialToken as exc:
...     print(type(exc).__name__, isinstance(exc, ValueError), isinstance(exc, CovekitError))
DisallowedSpecialToken True True
"""

from __future__ import annotations

from typing import Any

from covekit._core import (
    CovekitError as CovekitError,
)
from covekit._core import (
    DisallowedSpecialToken as DisallowedSpecialToken,
)
from covekit._core import (
    EmbedderStateCorrupt as EmbedderStateCorrupt,
)
from covekit._core import (
    EmbeddingError as EmbeddingError,
)
from covekit._core import (
    IndexFileCorrupt as IndexFileCorrupt,
)
from covekit._core import (
    InvalidInput as InvalidInput,
)
from covekit._core import (
    InvalidJSON as InvalidJSON,
)
from covekit._core import (
    InvalidTokenId as InvalidTokenId,
)
from covekit._core import (
    InvalidUtf8 as InvalidUtf8,
)
from covekit._core import (
    RepairError as RepairError,
)
from covekit._core import (
    SchemaError as SchemaError,
)
from covekit._core import (
    TokenizerError as TokenizerError,
)
from covekit._core import (
    TokenizerFileCorrupt as TokenizerFileCorrupt,
)

_NATIVE_DOCS = {
    CovekitError: """Base class of every error covekit raises.

    >>> import covekit
    >>> issubclass(covekit.errors.InvalidInput, CovekitError)
    True
    """,
    InvalidInput: """A bad argument; the message says what to pass instead. Also a ValueError.

    >>> import covekit
    >>> try:
    ...     covekit.get_tokenizer("cl100k_base").truncate("text", -1)
    ... except InvalidInput as exc:
    ...     print(isinstance(exc, ValueError), exc)
    True max_tokens must be >= 0, got -1
    """,
    InvalidUtf8: """Bytes that are not valid UTF-8 where text is required.

    >>> import covekit
    >>> try:
    ...     covekit.get_tokenizer("cl100k_base").encode(b"ok\\xff")
    ... except InvalidUtf8 as exc:
    ...     print(str(exc).split(" (")[0])
    invalid UTF-8 at byte offset 2
    """,
    InvalidJSON: """JSON text that does not parse. ``offset`` (bytes), ``line`` and ``column``
    (1-based) say where, or are None when unknown. Also an InvalidInput and a ValueError.

    >>> import covekit
    >>> try:
    ...     covekit.Schema({}).validate_json('{"a": 1,}')
    ... except InvalidJSON as exc:
    ...     print(exc.offset, exc.line, exc.column, isinstance(exc, ValueError))
    8 1 9 True
    """,
    SchemaError: """A JSON Schema that does not compile (a bad keyword value, an unknown ``$ref``
    target, a bad regex). ``pointer`` is the JSON Pointer of the fault in the schema. Also a
    ValueError.

    >>> import covekit
    >>> try:
    ...     covekit.Schema({"properties": {"age": {"minimum": "zero"}}})
    ... except SchemaError as exc:
    ...     print(exc.pointer, isinstance(exc, ValueError))
    /properties/age/minimum True
    """,
    IndexFileCorrupt: """An index file that is not one, is cut short, fails its checksum
    or has an unsupported format version; raised by ``BM25Index.load``,
    ``VectorIndex.load`` / ``from_bytes`` (also when ``dim`` or ``metric`` differ from the
    ones asked for) and ``KnowledgeBase.load``. Also a ValueError.

    >>> import covekit, tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = pathlib.Path(d) / "kb.bm25"
    ...     _ = path.write_bytes(b"not an index")
    ...     try:
    ...         covekit.BM25Index.load(path)
    ...     except IndexFileCorrupt as exc:
    ...         print(isinstance(exc, ValueError), "magic" in str(exc))
    True True
    """,
    RepairError: """Malformed JSON that cannot be repaired without guessing data, or (with
    ``strict=True``) only with a repair that is not lossless; raised by
    :func:`covekit.repair_json`. ``.problems`` lists ``(kind, start, end, message)`` for each
    reason, with ``str`` indices into the input; the message names the first. Also a ValueError.

    >>> import covekit
    >>> try:
    ...     covekit.repair_json('{"a": }')
    ... except RepairError as exc:
    ...     print(isinstance(exc, ValueError), exc.problems[0][0])
    True missing_value
    """,
    TokenizerError: """Base class of tokenizer errors.

    >>> issubclass(DisallowedSpecialToken, TokenizerError)
    True
    """,
    TokenizerFileCorrupt: """A vocabulary file that is malformed, truncated or fails its checksum.

    >>> import covekit
    >>> try:
    ...     covekit.Tokenizer.from_ranks({b"a": 0}, pattern="cl100k")
    ... except TokenizerFileCorrupt as exc:
    ...     print("needs all 256" in str(exc))
    True
    """,
    DisallowedSpecialToken: """The text holds a special token's text that the call did not allow.

    >>> import covekit
    >>> try:
    ...     covekit.get_tokenizer("cl100k_base").encode("<|endoftext|>")
    ... except DisallowedSpecialToken as exc:
    ...     print(isinstance(exc, ValueError))
    True
    """,
    InvalidTokenId: """A token id that is not in the vocabulary (a KeyError too, as in tiktoken).

    >>> import covekit
    >>> try:
    ...     covekit.get_tokenizer("cl100k_base").decode([100256])
    ... except KeyError as exc:
    ...     print(type(exc).__name__)
    InvalidTokenId
    """,
    EmbeddingError: """Base class of embedding errors (covekit.data.embed).

    >>> issubclass(EmbeddingServerError, EmbeddingError)
    True
    """,
    EmbedderStateCorrupt: """A saved embedder state that is truncated, altered or of another format.

    >>> import covekit
    >>> try:
    ...     covekit.HashingEmbedder.from_bytes(b"not a state")
    ... except EmbedderStateCorrupt as exc:
    ...     print(isinstance(exc, ValueError), str(exc).split(";")[0])
    True not a hashing embedder state (bad magic bytes)
    """,
}
for _cls, _doc in _NATIVE_DOCS.items():
    _cls.__doc__ = _doc


class TokenizerDataMissing(TokenizerError, FileNotFoundError):
    """An encoding's data file is nowhere to be found and could not be downloaded.

    The message names the file, every place that was searched, and how to provide it.

    >>> issubclass(TokenizerDataMissing, FileNotFoundError)
    True
    """


class TokenNotFound(TokenizerError, KeyError, ValueError):
    """Text or bytes that are not exactly one token (tiktoken raises ``KeyError`` here).

    >>> import covekit
    >>> try:
    ...     covekit.get_tokenizer("cl100k_base").encode_single_token("hello world")
    ... except KeyError as exc:
    ...     print(type(exc).__name__)
    TokenNotFound
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownEncoding(TokenizerError, ValueError):
    """No encoding is registered under this name.

    >>> import covekit
    >>> try:
    ...     covekit.get_tokenizer("cl200k")
    ... except UnknownEncoding as exc:
    ...     print(isinstance(exc, ValueError))
    True
    """


class UnknownModel(TokenizerError, KeyError, ValueError):
    """No encoding is known for this model name (tiktoken raises ``KeyError`` here).

    >>> import covekit
    >>> try:
    ...     covekit.tokenizer_for_model("my-model")
    ... except KeyError as exc:
    ...     print(type(exc).__name__)
    UnknownModel
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class IngestError(CovekitError):
    """Base class of the errors :func:`covekit.load_documents` raises for a whole batch.

    A file that cannot be read or decoded, or a bad jsonl line, is not an exception: it
    is listed in ``IngestResult.failures`` and the batch goes on.

    >>> issubclass(SourceNotFound, IngestError)
    True
    """


class SourceNotFound(IngestError, FileNotFoundError):
    """A path that does not exist, or a glob pattern that matches no file.

    >>> import covekit
    >>> try:
    ...     covekit.load_documents("no/such/dir/*.md")
    ... except FileNotFoundError as exc:
    ...     print(type(exc).__name__)
    SourceNotFound
    """


class ModelServerError(CovekitError):
    """A model server that failed: an HTTP error status, no connection, or retries used up.

    The base of the server errors of every model client: the chat client
    (:class:`covekit.OpenAIChatModel`) raises it as it is, the embedder
    (:class:`covekit.OpenAICompatibleEmbedder`) raises :class:`EmbeddingServerError`, which
    is also an :class:`EmbeddingError`. ``status_code`` is the last HTTP status (None when
    no response came back), ``url`` the address that was called, ``attempts`` how many
    requests were made (None when unknown).

    >>> err = ModelServerError("HTTP 503 from http://localhost:8080/v1/chat/completions",
    ...                        status_code=503)
    >>> err.status_code, isinstance(err, CovekitError)
    (503, True)
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        url: str | None = None,
        attempts: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.url = url
        self.attempts = attempts


class ModelServerTimeout(ModelServerError, TimeoutError):
    """A model server that did not answer within the timeout, on every attempt.

    >>> issubclass(ModelServerTimeout, TimeoutError)
    True
    """


class InvalidModelResponse(ModelServerError):
    """A model server's answer that is not what the protocol promises: a body that is not
    JSON, no ``choices``, a malformed tool call, an SSE stream that is cut short (closed
    before ``[DONE]`` or without a ``finish_reason``) or has an event that does not parse.

    >>> issubclass(InvalidModelResponse, ModelServerError)
    True
    """


class EmbeddingServerError(ModelServerError, EmbeddingError):
    """A :class:`ModelServerError` of the embedder: also an :class:`EmbeddingError`, so
    ``except EmbeddingError`` catches every embedding failure.

    >>> issubclass(EmbeddingServerError, EmbeddingError)
    True
    """


class EmbeddingServerTimeout(ModelServerTimeout, EmbeddingServerError):
    """An embedding server that did not answer in time on every attempt.

    >>> issubclass(EmbeddingServerTimeout, TimeoutError)
    True
    """


class InvalidEmbeddingResponse(InvalidModelResponse, EmbeddingServerError):
    """An embedding server's answer that is not what the protocol promises.

    Malformed JSON, a missing ``data`` list, the wrong number of vectors, indexes that are
    missing or repeated, vectors of the wrong or of differing dimensions, non-numbers.

    >>> issubclass(InvalidEmbeddingResponse, ModelServerError)
    True
    """


class AllModelsFailed(ModelServerError):
    """Every model of a :class:`covekit.Fallback` failed; ``reasons`` has one line per
    model (``"<model>: <why>"``), in the order they were tried, and the message lists them.

    >>> err = AllModelsFailed("2 models failed", reasons=("a: HTTP 500", "b: timeout"))
    >>> err.reasons[1], isinstance(err, ModelServerError)
    ('b: timeout', True)
    """

    def __init__(self, message: str, *, reasons: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.reasons = reasons


class ScriptExhausted(CovekitError):
    """A :class:`covekit.ScriptedModel` called once more than it has replies, or with a
    message that none of its ``(matcher, reply)`` pairs matches.

    >>> import covekit
    >>> try:
    ...     covekit.ScriptedModel([])([{"role": "user", "content": "hi"}])
    ... except ScriptExhausted as exc:
    ...     print(str(exc).split(";")[0])
    ScriptedModel 'scripted' has no reply left for call 1 (it was given 0)
    """


class RequestCacheError(CovekitError):
    """A :class:`covekit.RequestCache` that cannot be used; ``path`` is its file.

    >>> issubclass(RequestCacheCorrupt, RequestCacheError)
    True
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class RequestCacheCorrupt(RequestCacheError, ValueError):
    """A request-cache file that is not an SQLite database, is damaged, or holds tables
    of another format.

    >>> import covekit, tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = pathlib.Path(d) / "cache.sqlite"
    ...     _ = path.write_bytes(b"not a database" * 100)
    ...     try:
    ...         covekit.RequestCache(path)
    ...     except RequestCacheCorrupt as exc:
    ...         print(isinstance(exc, ValueError))
    True
    """


class RequestCacheLocked(RequestCacheError):
    """A request-cache file that another connection holds locked for longer than the
    cache's ``busy_timeout``.

    >>> issubclass(RequestCacheLocked, RequestCacheError)
    True
    """


class OptionalDependencyMissing(CovekitError, ImportError):
    """A feature that needs an optional dependency (an extra) that is not installed.

    The message names the extra to install, e.g. ``pip install 'covekit[st]'``.

    >>> issubclass(OptionalDependencyMissing, ImportError)
    True
    """


class ContractError(CovekitError):
    """No output satisfied a :class:`covekit.Contract` within its policy.

    Raised by ``Contract.enforce`` when the policy says ``raise`` or when the attempts,
    the ``on_fail`` steps or the budget run out. ``attempts`` holds every attempt (with
    its text, verdict, tokens and cost); the message says which violations remained on
    which attempt.

    >>> issubclass(ContractError, CovekitError)
    True
    """

    def __init__(self, message: str, attempts: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.attempts = attempts


class BudgetExceeded(CovekitError, ValueError):
    """What must go into a request does not fit its budget: required context sections
    or items, section minimums, or a completion reserve that leave no room.

    ``needed`` and ``available`` are in the budget's unit (``unit``: ``"tokens"`` or
    ``"usd"``), ``short_by = needed - available``; the message names what needed the room.

    >>> err = BudgetExceeded("the required sections need 2,345 tokens", needed=2345, available=2000)
    >>> err.short_by, isinstance(err, ValueError)
    (345, True)
    """

    def __init__(
        self,
        message: str,
        *,
        needed: float | None = None,
        available: float | None = None,
        unit: str = "tokens",
    ) -> None:
        super().__init__(message)
        self.needed = needed
        self.available = available
        self.unit = unit

    @property
    def short_by(self) -> float | None:
        """How much is missing (``needed - available``), or None when unknown."""
        if self.needed is None or self.available is None:
            return None
        return self.needed - self.available


class DeadlineExceeded(CovekitError, TimeoutError):
    """A request's :class:`~covekit.Deadline` passed before a step that cannot be skipped.

    ``step`` names the step, ``overrun`` how many seconds past the deadline it was.

    >>> err = DeadlineExceeded("retrieve would start 0.020 s past the deadline", step="retrieve",
    ...                        overrun=0.02)
    >>> err.step, isinstance(err, TimeoutError)
    ('retrieve', True)
    """

    def __init__(self, message: str, *, step: str | None = None, overrun: float = 0.0) -> None:
        super().__init__(message)
        self.step = step
        self.overrun = overrun


class UnknownPrice(CovekitError, KeyError, ValueError):
    """A model that the price table does not list, with no price given for it.

    The message names the model, the table's date, and how to give a price.

    >>> issubclass(UnknownPrice, KeyError) and issubclass(UnknownPrice, ValueError)
    True
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownEntity(CovekitError, KeyError, ValueError):
    """A PII entity name that :class:`covekit.Redactor` does not know; the message suggests
    the closest known name and lists them all.

    >>> import covekit
    >>> try:
    ...     covekit.Redactor(entities=["EMAILS"])
    ... except UnknownEntity as exc:
    ...     print(isinstance(exc, KeyError), str(exc).split(";")[1].split("?")[0])
    True  did you mean 'EMAIL'
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class RerankerError(CovekitError):
    """A reranker that raised, or returned ids it was not given, repeats or bad scores.

    ``reranker`` names it; the original exception, if any, is ``__cause__``.

    >>> issubclass(RerankerError, CovekitError)
    True
    """

    def __init__(self, message: str, *, reranker: str | None = None) -> None:
        super().__init__(message)
        self.reranker = reranker


class PolicyViolation(CovekitError):
    """A :class:`covekit.Policy` check that did not allow what it checked, raised by
    ``PolicyVerdict.raise_if_blocked()``. ``verdict`` is the
    :class:`~covekit.PolicyVerdict` (its findings say which rule, where and why).

    >>> import covekit
    >>> try:
    ...     covekit.Policy(tools=[]).check_tool_call("rm", {}).raise_if_blocked()
    ... except PolicyViolation as exc:
    ...     print(exc.verdict.action, exc.verdict.findings[0].rule)
    block tool_not_allowed
    """

    def __init__(self, message: str, *, verdict: object = None) -> None:
        super().__init__(message)
        self.verdict: Any = verdict


class ToolError(CovekitError):
    """Base class of the errors of tools (:mod:`covekit.execution.tools`): a tool call
    whose outcome is not ``"ok"``, raised by ``ToolResult.raise_for_status()``.
    ``result`` is the :class:`~covekit.ToolResult` (None when raised before a call).

    >>> import covekit
    >>> box = covekit.Toolbox([])
    >>> try:
    ...     box.run(covekit.ToolCall("c1", "nope", "{}")).raise_for_status()
    ... except ToolError as exc:
    ...     print(type(exc).__name__, exc.result.status)
    UnknownTool unknown_tool
    """

    def __init__(self, message: str, *, result: object = None) -> None:
        super().__init__(message)
        self.result: Any = result


class UnknownTool(ToolError, KeyError):
    """A call of a tool the toolbox does not have; the message lists the tools it has.

    >>> issubclass(UnknownTool, KeyError)
    True
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ToolArgumentsInvalid(ToolError, ValueError):
    """Tool arguments that are not JSON, not a JSON object, or fail the tool's schema.

    >>> import covekit
    >>> @covekit.tool
    ... def add(a: int, b: int) -> int:
    ...     return a + b
    >>> r = covekit.Toolbox([add]).run(covekit.ToolCall("c1", "add", '{"a": 1}'))
    >>> try:
    ...     r.raise_for_status()
    ... except ToolArgumentsInvalid as exc:
    ...     print(exc)
    tool 'add' (call c1): invalid_arguments: (root): "b" is a required property
    """


class ToolTimeout(ToolError, TimeoutError):
    """A tool that did not return within its timeout (or before the deadline).

    >>> issubclass(ToolTimeout, TimeoutError)
    True
    """


class ToolFailed(ToolError):
    """A tool that raised (on every attempt it was given); the message names the
    exception's type and gives its message.

    >>> issubclass(ToolFailed, ToolError)
    True
    """


class ToolNotAllowed(ToolError, PermissionError):
    """A tool call that the policy's tool allowlist (or its argument checks) blocks.

    >>> issubclass(ToolNotAllowed, PermissionError)
    True
    """


class ApprovalPending(ToolError):
    """A call of a ``requires_approval=True`` tool that waits in the approval queue;
    ``result.approval_id`` is the request to approve or reject.

    >>> issubclass(ApprovalPending, ToolError)
    True
    """


class ApprovalRejected(ToolError):
    """A call of a ``requires_approval=True`` tool that a reviewer rejected.

    >>> issubclass(ApprovalRejected, ToolError)
    True
    """


class IdempotencyConflict(ToolError, ValueError):
    """An idempotency key used again for another tool or other arguments: the key
    names one action, so its recorded result cannot answer a different call.

    >>> issubclass(IdempotencyConflict, ValueError)
    True
    """


class IdempotencyStoreError(CovekitError):
    """An idempotency store (:class:`covekit.IdempotencyStore`) that cannot be used: the
    file is not SQLite, is damaged, holds a table of another shape, or stays locked.
    ``path`` is the file.

    >>> import covekit, pathlib, tempfile
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "keys.sqlite"
    >>> _ = bad.write_bytes(b"not a database" * 100)
    >>> try:
    ...     covekit.IdempotencyStore(bad)
    ... except IdempotencyStoreError as exc:
    ...     print(str(exc).split(":")[0].endswith("keys.sqlite"))
    True
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class ApprovalQueueError(CovekitError, ValueError):
    """An approval queue (:class:`covekit.ApprovalQueue`) misused or unusable: an
    unknown request id, a decision on a request already decided, a file that is not
    SQLite or is damaged. ``path`` is the file.

    >>> import covekit
    >>> try:
    ...     covekit.ApprovalQueue().approve("no-such-id", by="ada")
    ... except ApprovalQueueError as exc:
    ...     print(exc)
    no approval request 'no-such-id' in this queue
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class TraceStoreError(CovekitError):
    """A trace store (:class:`covekit.observe.store.SQLiteTraceStore`) that cannot be
    used: the file cannot be opened or created, or a write failed. ``path`` is the file.

    >>> from covekit.observe.store import SQLiteTraceStore
    >>> try:
    ...     SQLiteTraceStore("/proc/no-such-dir/traces.sqlite")
    ... except TraceStoreError as exc:
    ...     print(exc.path)
    /proc/no-such-dir/traces.sqlite
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class TraceStoreCorrupt(TraceStoreError, ValueError):
    """A trace-store file that is not an SQLite database, is damaged, or holds tables
    of another format.

    >>> import pathlib, tempfile
    >>> from covekit.observe.store import SQLiteTraceStore
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "traces.sqlite"
    >>> _ = bad.write_bytes(b"not a database" * 100)
    >>> try:
    ...     SQLiteTraceStore(bad)
    ... except TraceStoreCorrupt as exc:
    ...     print(isinstance(exc, ValueError))
    True
    """


class TraceStoreLocked(TraceStoreError):
    """A trace-store file that another connection (often another process) holds locked
    for longer than the store's ``busy_timeout``.

    >>> issubclass(TraceStoreLocked, TraceStoreError)
    True
    """


class TraceStoreReadOnly(TraceStoreError, PermissionError):
    """A trace-store file on a path that cannot be written (open it with
    ``read_only=True`` to query it).

    >>> issubclass(TraceStoreReadOnly, PermissionError)
    True
    """


class TraceStoreVersionError(TraceStoreError):
    """A trace-store file written by a newer covekit (its schema version is higher than
    this covekit knows); ``version`` is the file's, ``supported`` this covekit's.

    >>> import sqlite3, pathlib, tempfile
    >>> from covekit.observe.store import SQLiteTraceStore
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "traces.sqlite"
    >>> SQLiteTraceStore(path).close()
    >>> with sqlite3.connect(path) as db:
    ...     _ = db.execute("INSERT INTO covekit_schema VALUES (99, 0)")
    >>> try:
    ...     SQLiteTraceStore(path)
    ... except TraceStoreVersionError as exc:
    ...     print(exc.version, exc.supported > 0)
    99 True
    """

    def __init__(
        self, message: str, *, path: str | None = None, version: int = 0, supported: int = 0
    ) -> None:
        super().__init__(message, path=path)
        self.version = version
        self.supported = supported


class UnknownTrace(TraceStoreError, KeyError):
    """A trace id the trace store does not hold.

    >>> from covekit.observe.store import SQLiteTraceStore
    >>> try:
    ...     SQLiteTraceStore().show("0" * 32)
    ... except UnknownTrace as exc:
    ...     print(exc)
    'no trace 00000000000000000000000000000000 in this store'
    """


class InvalidRetentionRule(CovekitError, ValueError):
    """A retention rule that does not parse: pass a :class:`datetime.timedelta` or a
    string such as ``"30d"``, ``"12h"``, ``"90m"``, ``"2w"``.

    >>> from covekit.observe.store import parse_duration
    >>> try:
    ...     parse_duration("a month")
    ... except InvalidRetentionRule as exc:
    ...     print(isinstance(exc, ValueError))
    True
    """


__all__ = [
    "AllModelsFailed",
    "ApprovalPending",
    "ApprovalQueueError",
    "ApprovalRejected",
    "BudgetExceeded",
    "ContractError",
    "CovekitError",
    "DeadlineExceeded",
    "DisallowedSpecialToken",
    "EmbedderStateCorrupt",
    "EmbeddingError",
    "EmbeddingServerError",
    "EmbeddingServerTimeout",
    "IdempotencyConflict",
    "IdempotencyStoreError",
    "IndexFileCorrupt",
    "IngestError",
    "InvalidEmbeddingResponse",
    "InvalidInput",
    "InvalidJSON",
    "InvalidModelResponse",
    "InvalidRetentionRule",
    "InvalidTokenId",
    "InvalidUtf8",
    "ModelServerError",
    "ModelServerTimeout",
    "OptionalDependencyMissing",
    "PolicyViolation",
    "RepairError",
    "RequestCacheCorrupt",
    "RequestCacheError",
    "RequestCacheLocked",
    "RerankerError",
    "SchemaError",
    "ScriptExhausted",
    "SourceNotFound",
    "TokenNotFound",
    "TokenizerDataMissing",
    "TokenizerError",
    "TokenizerFileCorrupt",
    "ToolArgumentsInvalid",
    "ToolError",
    "ToolFailed",
    "ToolNotAllowed",
    "ToolTimeout",
    "TraceStoreCorrupt",
    "TraceStoreError",
    "TraceStoreLocked",
    "TraceStoreReadOnly",
    "TraceStoreVersionError",
    "UnknownEncoding",
    "UnknownEntity",
    "UnknownModel",
    "UnknownPrice",
    "UnknownTool",
    "UnknownTrace",
]
