"""Timing shared by the mapping benchmarks: best of a few runs in process CPU time.

Process CPU time (one core) keeps other load on the machine from distorting the figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(runs: int, work: Callable[[], object]) -> float:
    """The shortest process CPU time of ``runs`` calls of ``work``, in seconds."""
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def bare_and_mapped(
    bare: Callable[[], object], mapped: Callable[[], object], runs: int = 3
) -> tuple[float, float]:
    """Best times of the bare baseline and of the mapping, measured in that order."""
    return best_of(runs, bare), best_of(runs, mapped)
