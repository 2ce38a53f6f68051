"""One retry policy for covekit's model clients: :class:`RetryPolicy`.

What is retried: a connection error, a timeout, and the HTTP statuses that say "try
again" (408, 409, 429 and every 5xx). What is never retried: any other 4xx (400, 401,
403, 404, 422, ...), since the same request would fail the same way. Between attempts
the client sleeps for an exponential backoff with *full jitter* (a uniform draw in
``[0, min(max_backoff, backoff * 2**n))``, AWS's "full jitter"), or for the server's
``Retry-After`` (seconds or an HTTP date) when it sends one; a ``Retry-After`` longer
than ``max_retry_after`` ends the retries at once. Attempts are bounded
(``max_attempts``) and so is the total time (``max_time``, and the request's deadline).

>>> import covekit
>>> policy = covekit.RetryPolicy(max_attempts=4, backoff=0.5, max_backoff=8.0)
>>> [policy.retryable_status(s) for s in (200, 400, 404, 408, 429, 503)]
[False, False, False, True, True, True]
>>> 0.0 <= policy.backoff_delay(3, rand=lambda: 0.999) < 4.0
True
>>> policy.parse_retry_after("2.5"), policy.parse_retry_after("soon")
(2.5, None)

Thread safety: a RetryPolicy is immutable; share one between clients and threads.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from covekit.errors import InvalidInput

__all__ = ["RetryDecision", "RetryPolicy", "parse_retry_after", "retryable_status"]

#: HTTP statuses below 500 that are retried; every 5xx is retried too.
RETRY_STATUSES = frozenset({408, 409, 429})


def retryable_status(status: int) -> bool:
    """Whether an HTTP status is worth retrying: 408, 409, 429 and every 5xx.

    >>> retryable_status(503), retryable_status(422)
    (True, False)
    """
    return status in RETRY_STATUSES or 500 <= status <= 599


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """The seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP
    date, never negative), or None when it is absent or unreadable.

    >>> parse_retry_after("3"), parse_retry_after(None), parse_retry_after("-1")
    (3.0, None, 0.0)
    >>> parse_retry_after("nan"), parse_retry_after("inf")
    (None, inf)
    >>> from datetime import datetime, UTC
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT",
    ...                   now=datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC))
    10.0
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return None if math.isnan(seconds) else max(0.0, seconds)  # inf: wait forever
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What :meth:`RetryPolicy.decide` says after a failed attempt: ``retry`` with a
    ``delay`` in seconds, or not, with ``reason`` saying why not.

    >>> RetryDecision(True, 0.25).retry
    True
    """

    retry: bool
    delay: float = 0.0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a client retries (see the module docs).

    Args:
        max_attempts: the most requests made for one call (1: no retry).
        max_time: the most seconds spent on one call, sleeps included: a retry whose
            sleep would end past it is not made.
        backoff: the first backoff cap in seconds; doubled after each attempt.
        max_backoff: the largest backoff cap.
        max_retry_after: the longest ``Retry-After`` obeyed; a server asking for more
            ends the retries (the client raises).

    >>> import covekit
    >>> p = covekit.RetryPolicy(max_attempts=2)
    >>> p.decide(1, elapsed=0.1, status=503, rand=lambda: 0.5)
    RetryDecision(retry=True, delay=0.25, reason='')
    >>> p.decide(2, elapsed=0.1, status=503).reason
    'no attempts left (max_attempts=2)'
    >>> p.decide(1, elapsed=0.1, status=400).retry
    False
    """

    max_attempts: int = 3
    max_time: float = 60.0
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise InvalidInput(f"max_attempts must be an int >= 1, got {self.max_attempts!r}")
        for label in ("max_time", "backoff", "max_backoff", "max_retry_after"):
            value = getattr(self, label)
            if not isinstance(value, int | float) or not value >= 0:
                raise InvalidInput(f"{label} must be a number >= 0, got {value!r}")

    retryable_status = staticmethod(retryable_status)
    parse_retry_after = staticmethod(parse_retry_after)

    def backoff_delay(self, attempt: int, *, rand: Callable[[], float] = random.random) -> float:
        """The full-jitter sleep after failed attempt number ``attempt`` (1-based):
        uniform in ``[0, min(max_backoff, backoff * 2**(attempt-1)))``.

        >>> import covekit
        >>> covekit.RetryPolicy(backoff=1.0).backoff_delay(2, rand=lambda: 0.5)
        1.0
        """
        cap = min(self.max_backoff, self.backoff * 2.0 ** min(max(attempt - 1, 0), 60))
        return cap * min(max(rand(), 0.0), 1.0)

    def decide(
        self,
        attempt: int,
        *,
        elapsed: float,
        status: int | None = None,
        retry_after: float | None = None,
        remaining: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> RetryDecision:
        """Whether to retry after failed attempt number ``attempt`` (1-based).

        ``status`` is the HTTP status (None for a connection error or a timeout),
        ``retry_after`` the parsed ``Retry-After``, ``elapsed`` the seconds spent so far
        and ``remaining`` what is left of the request's deadline (None: no deadline).

        >>> import covekit
        >>> covekit.RetryPolicy().decide(1, elapsed=0.0, status=429, retry_after=2.0).delay
        2.0
        """
        if status is not None and not retryable_status(status):
            return RetryDecision(False, reason=f"HTTP {status} is not retried")
        if attempt >= self.max_attempts:
            return RetryDecision(
                False, reason=f"no attempts left (max_attempts={self.max_attempts})"
            )
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return RetryDecision(
                    False,
                    reason=f"the server asked to retry after {retry_after:g} s, more than "
                    f"max_retry_after={self.max_retry_after:g} s",
                )
            delay = retry_after
        else:
            delay = self.backoff_delay(attempt, rand=rand)
        if elapsed + delay > self.max_time:
            return RetryDecision(
                False,
                reason=f"a retry after {delay:.3g} s would pass max_time={self.max_time:g} s",
            )
        if remaining is not None and delay >= remaining:
            return RetryDecision(
                False, reason=f"a retry after {delay:.3g} s would pass the deadline"
            )
        return RetryDecision(True, delay)


#: The clock the clients read for ``elapsed`` (tests may pass another).
monotonic = time.monotonic
