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

    >>> issubclass(ModelServerError, EmbeddingError)
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


class ModelServerError(EmbeddingError):
    """A model server that failed: an HTTP error status, no connection, or retries used up.

    ``status_code`` is the last HTTP status (None when no response came back), ``url`` the
    address that was called.

    >>> err = ModelServerError("HTTP 503 from http://localhost:8080/v1/embeddings", status_code=503)
    >>> err.status_code, isinstance(err, EmbeddingError)
    (503, True)
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, url: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.url = url


class ModelServerTimeout(ModelServerError, TimeoutError):
    """A model server that did not answer within the timeout, on every attempt.

    >>> issubclass(ModelServerTimeout, TimeoutError)
    True
    """


class InvalidEmbeddingResponse(ModelServerError):
    """A model server's answer that is not what the protocol promises.

    Malformed JSON, a missing ``data`` list, the wrong number of vectors, indexes that are
    missing or repeated, vectors of the wrong or of differing dimensions, non-numbers.

    >>> issubclass(InvalidEmbeddingResponse, ModelServerError)
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


__all__ = [
    "BudgetExceeded",
    "ContractError",
    "CovekitError",
    "DeadlineExceeded",
    "DisallowedSpecialToken",
    "EmbedderStateCorrupt",
    "EmbeddingError",
    "IndexFileCorrupt",
    "IngestError",
    "InvalidEmbeddingResponse",
    "InvalidInput",
    "InvalidJSON",
    "InvalidTokenId",
    "InvalidUtf8",
    "ModelServerError",
    "ModelServerTimeout",
    "OptionalDependencyMissing",
    "PolicyViolation",
    "RepairError",
    "RerankerError",
    "SchemaError",
    "SourceNotFound",
    "TokenNotFound",
    "TokenizerDataMissing",
    "TokenizerError",
    "TokenizerFileCorrupt",
    "UnknownEncoding",
    "UnknownEntity",
    "UnknownModel",
    "UnknownPrice",
]
