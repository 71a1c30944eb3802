"""Inline SVG building blocks: scales (dates, linear, log) and a chart frame with a text
alternative.

Every chart is ``<svg role="img">`` named by its ``<title>`` (``aria-labelledby``) and described by
its ``<desc>`` (``aria-describedby``), so a screen reader gets the chart's message; the page puts
the data itself in a table beside it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from adapter.report.html import esc


@dataclass(frozen=True)
class Linear:
    """Values ``lo..hi`` onto pixels ``a..b`` (``b < a`` for a y axis)."""

    lo: float
    hi: float
    a: float
    b: float

    def __call__(self, v: float) -> float:
        span = self.hi - self.lo or 1.0
        return round(self.a + (v - self.lo) / span * (self.b - self.a), 2)


@dataclass(frozen=True)
class Log10:
    """Positive values ``lo..hi`` on a log10 axis (clamped to the range)."""

    lo: float
    hi: float
    a: float
    b: float

    def __call__(self, v: float) -> float:
        v = min(max(v, self.lo), self.hi)
        lin = Linear(math.log10(self.lo), math.log10(self.hi), self.a, self.b)
        return lin(math.log10(v))

    def decades(self) -> list[float]:
        return [10.0**e for e in range(round(math.log10(self.lo)), round(math.log10(self.hi)) + 1)]


@dataclass(frozen=True)
class Dates:
    """Days ``start..end`` onto pixels ``a..b``."""

    start: dt.date
    end: dt.date
    a: float
    b: float

    def __call__(self, d: dt.date) -> float:
        return Linear(0, max((self.end - self.start).days, 1), self.a, self.b)(
            (d - self.start).days
        )

    def ticks(self) -> list[dt.date]:
        """First days of months (or of years, for spans over three years)."""
        days = (self.end - self.start).days
        step = 12 if days > 3 * 366 else (3 if days > 366 else 1)
        out: list[dt.date] = []
        y, m = self.start.year, self.start.month
        while True:
            m += 1
            if m > 12:
                y, m = y + 1, m - 12
            d = dt.date(y, m, 1)
            if d > self.end:
                return out
            if (m - 1) % step == 0:
                out.append(d)


def text(x: float, y: float, s: str, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x}" y="{y}" text-anchor="{anchor}"{extra}>{esc(s)}</text>'


def line(x1: float, y1: float, x2: float, y2: float, style: str = "stroke:#999") -> str:
    return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" style="{style}"/>'


def chart(chart_id: str, width: int, height: int, title: str, desc: str, body: str) -> str:
    """An SVG chart with its accessible name (``title``) and description (``desc``)."""
    return (
        f'<svg id="{esc(chart_id)}" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg" '
        f'aria-labelledby="{esc(chart_id)}-title" aria-describedby="{esc(chart_id)}-desc">'
        f'<title id="{esc(chart_id)}-title">{esc(title)}</title>'
        f'<desc id="{esc(chart_id)}-desc">{esc(desc)}</desc>{body}</svg>'
    )
