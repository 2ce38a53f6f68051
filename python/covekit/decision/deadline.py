"""A request's deadline on the monotonic clock: every step reads how much time is left,
and a step that would start past it is skipped with a recorded reason, or raises.

>>> import covekit
>>> now = [100.0]                         # a fake clock, for the example
>>> deadline = covekit.Deadline(0.5, clock=lambda: now[0])
>>> deadline.remaining(), deadline.expired
(0.5, False)
>>> now[0] += 0.512
>>> deadline.remaining(), round(deadline.overrun(), 3)
(0.0, 0.012)
>>> deadline.should_skip("rerank")
'deadline passed 0.012 s before rerank'

Thread safety: a :class:`Deadline` is immutable; every method may be called from many
threads at once (the clock must be thread-safe; :func:`time.monotonic` is).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from covekit.errors import DeadlineExceeded, InvalidInput

__all__ = ["Clock", "Deadline"]

#: A clock: seconds as a float, never going back (:func:`time.monotonic`).
Clock = Callable[[], float]


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise InvalidInput(f"{what} must be a number of seconds, got {value!r}")
    return float(value)


class Deadline:
    """The time by which a request must be done, on a monotonic clock (never wall time).

    ``Deadline(seconds)`` ends ``seconds`` after it is made; :meth:`Deadline.at` ends at a
    given :func:`time.monotonic` reading. ``math.inf`` seconds is a deadline that never
    passes. ``clock`` is for tests: any callable returning monotonic seconds.

    >>> now = [0.0]
    >>> d = Deadline(2.0, clock=lambda: now[0])
    >>> now[0] = 0.5
    >>> d.remaining(), d.elapsed(), d.timeout(cap=1.0)
    (1.5, 0.5, 1.0)

    Errors: :class:`~covekit.errors.InvalidInput` for a negative, NaN or non-numeric
    number of seconds; :meth:`check` raises :class:`~covekit.errors.DeadlineExceeded`.

    Thread safety: immutable; safe to share between threads and steps.
    """

    __slots__ = ("_clock", "_end", "_start")

    _clock: Clock
    _end: float
    _start: float

    def __init__(self, seconds: float, *, clock: Clock = time.monotonic) -> None:
        s = _seconds(seconds, "Deadline seconds")
        if s < 0:
            raise InvalidInput(
                f"Deadline seconds must be >= 0, got {seconds!r}; for a deadline that has "
                "already passed use Deadline.at(a past time.monotonic() reading)"
            )
        if not callable(clock):
            raise InvalidInput("clock must be a callable returning monotonic seconds")
        start = float(clock())
        object.__setattr__(self, "_clock", clock)
        object.__setattr__(self, "_start", start)
        object.__setattr__(self, "_end", start + s)

    @classmethod
    def at(cls, monotonic_time: float, *, clock: Clock = time.monotonic) -> Deadline:
        """A deadline at a :func:`time.monotonic` reading (it may already have passed).

        >>> now = [10.0]
        >>> Deadline.at(9.5, clock=lambda: now[0]).overrun()
        0.5
        """
        end = _seconds(monotonic_time, "monotonic_time")
        d = cls(0.0, clock=clock)
        object.__setattr__(d, "_end", end)
        return d

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a Deadline is immutable; make a new one (or use child())")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("a Deadline is immutable")

    def __repr__(self) -> str:
        return f"<covekit.Deadline remaining={self.remaining():.3f}s>"

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError(
            "a Deadline does not pickle: monotonic clock readings mean nothing in another "
            "process; send the seconds left (deadline.remaining()) and make a new Deadline"
        )

    # ---------------------------------------------------------------- reading
    @property
    def expires_at(self) -> float:
        """The clock reading at which the deadline passes.

        >>> Deadline(1.0, clock=lambda: 5.0).expires_at
        6.0
        """
        return self._end

    def remaining(self) -> float:
        """Seconds left, never negative (0.0 once passed; ``inf`` for a deadline of ``inf``).

        >>> Deadline(0.25, clock=lambda: 1.0).remaining()
        0.25
        """
        return max(0.0, self._end - self._clock())

    def elapsed(self) -> float:
        """Seconds since the deadline was made.

        >>> now = [3.0]
        >>> d = Deadline(1.0, clock=lambda: now[0])
        >>> now[0] = 3.25
        >>> d.elapsed()
        0.25
        """
        return max(0.0, self._clock() - self._start)

    @property
    def expired(self) -> bool:
        """Whether the deadline has passed (no time is left).

        >>> Deadline(0.0, clock=lambda: 1.0).expired
        True
        """
        return self._clock() >= self._end

    def overrun(self) -> float:
        """Seconds past the deadline (0.0 while time is left).

        >>> Deadline.at(1.0, clock=lambda: 1.25).overrun()
        0.25
        """
        return max(0.0, self._clock() - self._end)

    def timeout(self, cap: float | None = None) -> float | None:
        """Seconds to hand to an HTTP client (``httpx.Client(timeout=...)``): the time
        left, at most ``cap``. 0.0 once passed; ``None`` (no timeout) only for a deadline
        of ``inf`` without a cap.

        >>> Deadline(30.0, clock=lambda: 0.0).timeout(cap=10.0)
        10.0
        """
        left = self.remaining()
        if cap is not None:
            c = _seconds(cap, "cap")
            if c < 0:
                raise InvalidInput(f"cap must be >= 0 seconds, got {cap!r}")
            left = min(left, c)
        return None if math.isinf(left) else left

    # ---------------------------------------------------------------- steps
    def child(self, seconds: float) -> Deadline:
        """A deadline for one step: ``seconds`` from now, or this deadline if it is earlier.

        >>> now = [0.0]
        >>> parent = Deadline(1.0, clock=lambda: now[0])
        >>> parent.child(5.0).remaining(), parent.child(0.2).remaining()
        (1.0, 0.2)
        """
        s = _seconds(seconds, "child seconds")
        if s < 0:
            raise InvalidInput(f"child seconds must be >= 0, got {seconds!r}")
        d = Deadline(s, clock=self._clock)
        if self._end < d._end:
            object.__setattr__(d, "_end", self._end)
        return d

    def check(self, step: str) -> None:
        """Raises :class:`~covekit.errors.DeadlineExceeded` if ``step`` would start past
        the deadline (for a step that cannot be skipped); returns None otherwise.

        >>> from covekit.errors import DeadlineExceeded
        >>> try:
        ...     Deadline.at(1.0, clock=lambda: 1.02).check("retrieve")
        ... except DeadlineExceeded as exc:
        ...     print(exc, exc.step, round(exc.overrun, 3))
        retrieve would start 0.020 s past the deadline retrieve 0.02
        """
        name = _step(step)
        if self.expired:
            over = self.overrun()
            raise DeadlineExceeded(
                f"{name} would start {over:.3f} s past the deadline", step=name, overrun=over
            )

    def should_skip(self, step: str) -> str | None:
        """The reason to skip ``step`` (to record in a trace) if it would start past the
        deadline, else None.

        >>> Deadline(1.0, clock=lambda: 0.0).should_skip("rerank") is None
        True
        >>> Deadline.at(1.0, clock=lambda: 1.5).should_skip("rerank")
        'deadline passed 0.500 s before rerank'
        """
        name = _step(step)
        if not self.expired:
            return None
        return f"deadline passed {self.overrun():.3f} s before {name}"


def _step(step: object) -> str:
    if not isinstance(step, str) or not step:
        raise InvalidInput(f"step must be a non-empty str naming the step, got {step!r}")
    return step
