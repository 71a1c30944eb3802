"""Timing shared by the mapping benchmarks: best of a few runs in process CPU time.

Process CPU time (one core) keeps other load on the machine from distorting the figures.  On a
shared virtual machine the speed of a core still drifts by 10-15 % over seconds, so the bare
baseline and the mapping are timed in turns (bare, mapped, bare, mapped, ...): both see the
same drift, and the ratio between them is what the targets are set on.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def _timed(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def bare_and_mapped(
    bare: Callable[[], object], mapped: Callable[[], object], runs: int = 5
) -> tuple[float, float]:
    """The shortest process CPU times of the bare baseline and of the mapping, in seconds, over
    ``runs`` turns of each."""
    best_bare = best_mapped = float("inf")
    for _ in range(runs):
        best_bare = min(best_bare, _timed(bare))
        best_mapped = min(best_mapped, _timed(mapped))
    return best_bare, best_mapped
