"""The charts of the course page, as inline SVG: the timeline and the dose chart of a course.

The timeline: protocol phases (labelled bands, the step-up day marked), treatment days (one row
per kind, each with its own symbol) and MRD / marrow blasts as fractions on a log axis with the
reference lines; a value below its limit of detection is an open triangle at that limit, labelled
``< LOD``.  The dose chart: given ug/day as bars, planned as a dashed step line, and the days the
engine flagged lettered under the axis (D deviation, M missed, I interrupted) and hatched.
Shapes, letters and words carry every meaning the colours carry.
"""

from __future__ import annotations

import datetime as dt
import math

from adapter.report.course import CoursePage, DoseDay
from adapter.report.html import esc
from adapter.report.svg import Dates, Linear, Log10, chart, line, text

WIDTH = 960
LEFT = 120
RIGHT = 30

PHASE_FILL = {
    "cytoreduction": "#d9d9d9",
    "block": "#c6dbef",
    "course": "#fdd0a2",
    "gap": "#f7f7f7",
    "hsct": "#c7e9c0",
}
#: event kind -> (row label, symbol drawn, its name for the legend)
EVENT_ROWS = {
    "apheresis": ("CD3+ apheresis", "diamond", "◆"),
    "cd3-infusion": ("CD3+ infusions", "triangle", "▲"),
    "intrathecal": ("intrathecal", "circle", "●"),
    "hsct": ("HSCT", "star", "★"),
}
#: dose mark -> (letter under the day, word)
MARK_LETTER = {"deviation": "D", "missed": "M", "interrupted": "I"}
SERIES = {"mrd": ("MRD (flow)", "#b35806"), "marrow-blasts": ("marrow blasts", "#2d004b")}


def _symbol(shape: str, x: float, y: float, r: float = 5, fill: str = "#333") -> str:
    if shape == "circle":
        return f'<circle cx="{x}" cy="{y}" r="{r}" fill="{fill}"/>'
    if shape == "square":
        return f'<rect x="{x - r}" y="{y - r}" width="{2 * r}" height="{2 * r}" fill="{fill}"/>'
    if shape == "diamond":
        pts = f"{x},{y - r - 1} {x + r + 1},{y} {x},{y + r + 1} {x - r - 1},{y}"
        return f'<polygon points="{pts}" fill="{fill}"/>'
    if shape == "triangle":
        return f'<polygon points="{x},{y - r} {x + r},{y + r} {x - r},{y + r}" fill="{fill}"/>'
    if shape == "down":  # open: below the limit of detection
        return (
            f'<polygon points="{x - r},{y - r} {x + r},{y - r} {x},{y + r}" fill="white" '
            f'stroke="{fill}" stroke-width="1.5"/>'
        )
    pts = " ".join(  # star
        f"{round(x + (r + 1) * (1 if i % 2 == 0 else 0.45) * math.sin(i * math.pi / 5), 2)},"
        f"{round(y - (r + 1) * (1 if i % 2 == 0 else 0.45) * math.cos(i * math.pi / 5), 2)}"
        for i in range(10)
    )
    return f'<polygon points="{pts}" fill="{fill}"/>'


def timeline(p: CoursePage) -> str:
    x = Dates(p.start, p.end, LEFT, WIDTH - RIGHT)
    out: list[str] = []
    top = 18
    for d in x.ticks():
        out.append(line(x(d), top, x(d), 420, "stroke:#eee"))
        out.append(
            text(x(d), top - 4, d.strftime("%Y-%m") if d.month != 1 else str(d.year), "middle")
        )
    # phases band
    out.append(text(LEFT - 8, 48, "phases", "end"))
    for ph in p.phases:
        if ph.end < p.start:
            continue
        x0, x1 = (
            x(max(ph.start, p.start)),
            x(ph.end + dt.timedelta(days=1) if ph.end < p.end else p.end),
        )
        out.append(
            f'<g class="phase" data-kind="{esc(ph.kind)}"><title>{esc(ph.label)}: {ph.start} to '
            f"{ph.end}</title>"
            f'<rect x="{x0}" y="30" width="{max(x1 - x0, 1)}" height="28" '
            f'fill="{PHASE_FILL.get(ph.kind, "#eee")}" stroke="#666"/>'
            + text(x0 + 3, 48, _fit(ph.label, x1 - x0))
            + "</g>"
        )
        if ph.marker is not None:
            xm = x(ph.marker)
            out.append(line(xm, 26, xm, 62, "stroke:#000;stroke-dasharray:3 2"))
            out.append(text(xm, 72, ph.marker_label, "middle", ' class="marker"'))
    # treatment rows
    y = 92
    for kind, (label, shape, _) in EVENT_ROWS.items():
        out.append(text(LEFT - 8, y + 4, label, "end"))
        out.append(line(LEFT, y, WIDTH - RIGHT, y, "stroke:#eee"))
        for e in p.events:
            if e.kind == kind and p.start <= e.date <= p.end:
                out.append(
                    f'<g class="event" data-kind="{esc(kind)}" data-date="{e.date}">'
                    f"<title>{esc(e.label)} {e.date}</title>"
                    + _symbol(shape, x(e.date), y)
                    + "</g>"
                )
        y += 20
    out.append(_lab_panel(p, x, y + 20))
    xa = x(p.as_of)
    out.append(line(xa, top, xa, 420, "stroke:#000;stroke-width:1.5"))
    out.append(text(xa - 3, 430, f"as of {p.as_of}", "end"))
    n_mrd = sum(1 for lp in p.labs if lp.series == "mrd")
    desc = (
        f"From the relapse diagnosis {p.start} to {p.as_of}: "
        + "; ".join(f"{ph.label} {ph.start} to {ph.end}" for ph in p.phases)
        + f". {len(p.events)} treatment days, {n_mrd} MRD values and "
        f"{len(p.labs) - n_mrd} marrow blast values on a log scale with lines at "
        + " and ".join(f"{ln.fraction:g}" for ln in p.lines)
        + ". The tables below list every value."
    )
    return (
        "<figure>"
        + chart("timeline", WIDTH, 440, "Course timeline", desc, "".join(out))
        + (
            "<figcaption>Phases, treatment days (◆ apheresis, ▲ CD3+ infusion, ● intrathecal, "
            "★ HSCT), and MRD (● circles) and marrow blasts (■ squares) as a fraction of nucleated "
            "cells on a log scale; ▽ open triangles are values below the limit of detection, drawn "
            "at that limit.</figcaption></figure>"
        )
    )


def _fit(label: str, width: float) -> str:
    chars = int(width / 6.2)
    return label if len(label) <= chars else (label[: max(chars - 1, 0)] + "…" if chars > 3 else "")


def _lab_panel(p: CoursePage, x: Dates, top: float) -> str:
    bottom = 400
    values = [lp.fraction for lp in p.labs] + [ln.fraction for ln in p.lines]
    lo = min(1e-5, 10 ** math.floor(math.log10(min(values)))) if values else 1e-5
    y = Log10(lo, 1.0, bottom, top)
    out = [text(LEFT - 8, top - 8, "fraction of cells", "end")]
    for dec in y.decades():
        out.append(line(LEFT, y(dec), WIDTH - RIGHT, y(dec), "stroke:#e5e5e5"))
        out.append(text(LEFT - 8, y(dec) + 4, f"{dec:.0e} ({dec * 100:g}%)", "end"))
    for i, ln in enumerate(p.lines):
        dash = "" if i == 0 else ";stroke-dasharray:6 3"
        out.append(
            f'<g class="threshold" data-value="{ln.fraction:g}"><title>{esc(ln.label)} '
            f"{ln.fraction:g} ({esc(ln.source)})</title>"
            + line(
                LEFT,
                y(ln.fraction),
                WIDTH - RIGHT,
                y(ln.fraction),
                f"stroke:#000;stroke-width:1.2{dash}",
            )
            + text(LEFT + 4, y(ln.fraction) - 3, f"{ln.label} {ln.fraction:g}")
            + "</g>"
        )
    for series, (_, colour) in SERIES.items():
        pts = [lp for lp in p.labs if lp.series == series and p.start <= lp.date <= p.end]
        if len(pts) > 1:
            path = " ".join(f"{x(lp.date)},{y(lp.fraction)}" for lp in pts)
            style = "stroke-dasharray:4 3;" if series == "marrow-blasts" else ""
            out.append(f'<polyline points="{path}" fill="none" style="{style}stroke:{colour}"/>')
        for lp in pts:
            shape = "down" if lp.below_lod else ("circle" if series == "mrd" else "square")
            mark = _symbol(shape, x(lp.date), y(lp.fraction), 5, colour)
            if lp.below_lod:
                mark += text(x(lp.date) + 7, y(lp.fraction) + 4, "< LOD")
            out.append(
                f'<g class="lab" data-series="{series}" data-date="{lp.date}" '
                f'data-value="{lp.fraction:g}" data-below-lod="{str(lp.below_lod).lower()}">'
                f"<title>{lp.date}: {esc(lp.text)}</title>{mark}</g>"
            )
    legend_y = top - 8
    lx = WIDTH - RIGHT - 330
    out.append(_symbol("circle", lx, legend_y - 4, 4, SERIES["mrd"][1]))
    out.append(text(lx + 8, legend_y, "MRD"))
    out.append(_symbol("square", lx + 60, legend_y - 4, 4, SERIES["marrow-blasts"][1]))
    out.append(text(lx + 68, legend_y, "marrow blasts"))
    out.append(_symbol("down", lx + 170, legend_y - 4, 4, "#333"))
    out.append(text(lx + 178, legend_y, "below limit of detection"))
    return "".join(out)


def ug(v: float | None) -> str:
    return "–" if v is None else f"{v:g}"


def dose_chart(n: int, days: list[DoseDay]) -> str:
    height, top, bottom = 240, 20, 190
    length = len(days)
    x = Linear(0.5, length + 0.5, LEFT, WIDTH - RIGHT)
    peak = max([d.planned or 0 for d in days] + [d.given or 0 for d in days] + [1.0])
    y = Linear(0, peak * 1.15, bottom, top)
    band = (x(1.5) - x(0.5)) * 0.7
    pid = f"hatch-{n}"
    out = [
        f'<defs><pattern id="{pid}" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fdae6b"/>'
        '<line x1="0" y1="0" x2="0" y2="6" style="stroke:#000;stroke-width:2"/></pattern></defs>',
        text(LEFT - 8, top - 6, "ug/day", "end"),
    ]
    for t in _nice_ticks(peak * 1.15):
        out.append(line(LEFT, y(t), WIDTH - RIGHT, y(t), "stroke:#eee"))
        out.append(text(LEFT - 8, y(t) + 4, f"{t:g}", "end"))
    for d in days:
        cx = x(d.day)
        if d.given is not None:
            fill = f"url(#{pid})" if "deviation" in d.marks else "#6baed6"
            out.append(
                f'<g class="given" data-day="{d.day}" data-given="{d.given:g}">'
                f"<title>day {d.day}: {d.given:g} ug/d given, {ug(d.planned)} planned</title>"
                f'<rect x="{round(cx - band / 2, 2)}" y="{y(d.given)}" width="{round(band, 2)}" '
                f'height="{round(bottom - y(d.given), 2)}" fill="{fill}" stroke="#333"/></g>'
            )
        letters = "".join(MARK_LETTER[m] for m in d.marks)
        if letters:
            out.append(
                f'<g class="mark" data-day="{d.day}" data-marks="{" ".join(d.marks)}">'
                f"<title>day {d.day}: {', '.join(d.marks)}</title>"
                + text(cx, bottom + 28, letters, "middle", ' font-weight="bold"')
                + "</g>"
            )
        if d.day % 7 == 1 or d.day == length:
            out.append(text(cx, bottom + 14, str(d.day), "middle"))
    pts: list[str] = []
    for d in days:
        if d.planned is not None:
            pts += [f"{x(d.day - 0.5)},{y(d.planned)}", f"{x(d.day + 0.5)},{y(d.planned)}"]
    if pts:
        out.append(
            '<polyline class="planned" points="' + " ".join(pts) + '" fill="none" '
            'style="stroke:#000;stroke-width:2;stroke-dasharray:6 3"/>'
        )
    out.append(line(LEFT, bottom, WIDTH - RIGHT, bottom, "stroke:#333"))
    out.append(text(LEFT - 8, bottom + 14, "course day", "end"))
    lx = LEFT + 10
    out.append(
        line(
            lx, height - 12, lx + 24, height - 12, "stroke:#000;stroke-width:2;stroke-dasharray:6 3"
        )
    )
    out.append(text(lx + 30, height - 8, "planned"))
    out.append(f'<rect x="{lx + 90}" y="{height - 18}" width="12" height="12" fill="#6baed6"/>')
    out.append(text(lx + 106, height - 8, "given"))
    out.append(
        f'<rect x="{lx + 150}" y="{height - 18}" width="12" height="12" '
        f'fill="url(#{pid})" stroke="#333"/>'
    )
    out.append(text(lx + 166, height - 8, "D deviation   M missed   I interrupted"))
    flagged = [d for d in days if d.marks]
    desc = (
        f"Course {n}: {sum(1 for d in days if d.given is not None)} of {length} days with "
        f"blinatumomab recorded; "
        + (
            "; ".join(f"day {d.day} {', '.join(d.marks)}" for d in flagged)
            if flagged
            else "no deviations"
        )
        + ". The table below lists every day."
    )
    return (
        f'<figure id="dose-course-{n}">'
        + chart(
            f"dose-chart-{n}",
            WIDTH,
            height,
            f"Course {n}: blinatumomab planned vs given",
            desc,
            "".join(out),
        )
        + "</figure>"
    )


def _nice_ticks(top: float) -> list[float]:
    step = 10 ** math.floor(math.log10(top / 4)) if top > 0 else 1
    for m in (1, 2, 5, 10):
        if top / (step * m) <= 6:
            step *= m
            break
    return [i * step for i in range(int(top / step) + 1)]
