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

from covekit._core import (
    CovekitError as CovekitError,
)
from covekit._core import (
    DisallowedSpecialToken as DisallowedSpecialToken,
)
from covekit._core import (
    InvalidInput as InvalidInput,
)
from covekit._core import (
    InvalidTokenId as InvalidTokenId,
)
from covekit._core import (
    InvalidUtf8 as InvalidUtf8,
)
from covekit._core import (
    TokenizerError as TokenizerError,
)
from covekit._core import (
    TokenizerFileCorrupt as TokenizerFileCorrupt,
)


class TokenizerDataMissing(TokenizerError, FileNotFoundError):
    """An encoding's data file is nowhere to be found and could not be downloaded.

    The message names the file, every place that was searched, and how to provide it.
    """


class TokenNotFound(TokenizerError, KeyError, ValueError):
    """Text or bytes that are not exactly one token (tiktoken raises ``KeyError`` here)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownEncoding(TokenizerError, ValueError):
    """No encoding is registered under this name."""


class UnknownModel(TokenizerError, KeyError, ValueError):
    """No encoding is known for this model name (tiktoken raises ``KeyError`` here)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


__all__ = [
    "CovekitError",
    "DisallowedSpecialToken",
    "InvalidInput",
    "InvalidTokenId",
    "InvalidUtf8",
    "TokenNotFound",
    "TokenizerDataMissing",
    "TokenizerError",
    "TokenizerFileCorrupt",
    "UnknownEncoding",
    "UnknownModel",
]
