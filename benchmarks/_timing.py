"""Timing shared by the mapping benchmarks: best of a few runs in process CPU time.

Process CPU time (one core) keeps other load on the machine from distorting the figures.  On a
shared virtual machine the speed of a core still drifts by 10-15 % over seconds, so the bare
baseline and the mapping are timed in turns (bare, mapped, bare, mapped, ...): both see the
same drift, and the ratio between them is what the targets are set on.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import NamedTuple


def _timed(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


class Timings(NamedTuple):
    """The shortest process CPU times (seconds) of the bare baseline and of the mapping, and
    the ratio mapping / bare of each turn."""

    bare: float
    mapped: float
    turns: tuple[float, ...]

    def spread(self) -> str:
        """The per-turn ratios, which show how far the machine's drift moves one ratio."""
        return (
            f"min {min(self.turns):.1f}x, median {statistics.median(self.turns):.1f}x, "
            f"max {max(self.turns):.1f}x over {len(self.turns)} turns"
        )


def bare_and_mapped(
    bare: Callable[[], object], mapped: Callable[[], object], runs: int = 5
) -> Timings:
    """Time the bare baseline and the mapping in ``runs`` turns (one of each per turn)."""
    bare_times, mapped_times = [], []
    for _ in range(runs):
        bare_times.append(_timed(bare))
        mapped_times.append(_timed(mapped))
    turns = tuple(m / b for b, m in zip(bare_times, mapped_times, strict=True))
    return Timings(min(bare_times), min(mapped_times), turns)
