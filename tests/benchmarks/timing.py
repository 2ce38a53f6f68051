"""Best time per call, timed in batches (shared by the benches whose calls are short).

One call of a small workload takes microseconds to milliseconds; timed alone, one
scheduler tick on a shared machine decides the figure. So calls are timed in batches
long enough to average that out, and the best batch is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_per_call(
    fn: Callable[[], Any],
    rounds: int,
    *,
    min_time: float = 0.05,
    warmup_calls: int = 0,
    warmup_time: float = 0.0,
) -> float:
    """Seconds per call of ``fn``: the best of ``rounds`` batches, each at least
    ``min_time`` long, after ``warmup_calls`` calls and at least ``warmup_time`` seconds of
    warm-up. The batch that sizes the batches counts as one more round."""
    start = time.perf_counter()
    for _ in range(warmup_calls):
        fn()
    while time.perf_counter() - start < warmup_time:
        fn()
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t
        if dt >= min_time:
            break
        n *= 2
    best = dt / n
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t) / n)
    return best
