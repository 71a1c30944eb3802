"""The cohort report as one self-contained HTML file: Tables 1, 2 and 3, survival table and curves.

Kaplan-Meier OS and EFS and the cumulative incidence of relapse (:mod:`adapter.report.survival`)
are drawn as step curves per group (by protocol group with all patients, and by relapse time
point), each group with its own line pattern and an end label as well as a colour, the
landmark year marked, and the numbers at risk under the axis.  The survival table carries the
same figures as text (the charts' text alternative points to it).
"""

from __future__ import annotations

import datetime as dt
import math

from adapter.protocol.cohort import Table, outcomes_table, patients_table, strata_table
from adapter.report.html import esc, page, table
from adapter.report.survival import (
    AT_RISK_YEARS,
    ENDPOINTS,
    HORIZON_YEARS,
    YEAR_DAYS,
    CohortSurvival,
    Estimate,
)
from adapter.report.svg import Linear, chart, line, text

WIDTH = 480
LEFT = 120
RIGHT = 100
#: (colour, dash pattern) per curve, in order: pattern and end label carry the group too
STYLES = (("#000", ""), ("#b35806", "7 3"), ("#2166ac", "2 3"), ("#1b7837", "9 3 2 3"))


def render_cohort_report(cs: CohortSurvival, as_of: dt.date) -> str:
    """The whole HTML document."""
    body = [
        "<header><h1>Cohort report</h1>",
        f'<p class="meta">{len(cs.evaluations)} patients · as of <time datetime="{as_of}">'
        f"{as_of}</time> · survival counted from the relapse diagnosis (protocol.md §7 [V23])"
        "</p></header>",
        '<section id="survival"><h2>Survival</h2>',
        '<div class="charts" style="display:flex;flex-wrap:wrap;gap:1rem">',
    ]
    for endpoint, title in ENDPOINTS:
        for grouping, groups in cs.groupings()[1:]:
            names = ["all", *groups] if grouping == "protocol" else groups
            ests = [e for g in names if (e := cs.estimate(endpoint, g)) is not None]
            body.append(_curve_chart(f"{endpoint}-by-{grouping.replace(' ', '-')}",
                                     f"{title} by {grouping}", endpoint, ests))  # fmt: skip
    body.append("</div>")
    body.append(_table_html(cs.table(), 'id="survival-table"'))
    body.append(_notes(cs))
    body.append("</section>")
    body.append('<section id="tables"><h2>Cohort tables</h2>')
    body.append(_table_html(patients_table(cs.evaluations), 'id="table1"'))
    body.append(_table_html(strata_table(cs.evaluations), 'id="table2"'))
    body.append(_table_html(outcomes_table(cs.evaluations), 'id="table3"'))
    body.append("</section>")
    return page("Cohort report", "".join(body))


def _notes(cs: CohortSurvival) -> str:
    items = [
        f"CIR: relapse is the event, death in induction or in remission competes; "
        f"non-responders: {esc(cs.non_response)} (report parameter CIR_NON_RESPONSE, a "
        "ball-fhir choice: protocol.md is silent).",
        "±SE: Greenwood (OS, EFS) and the Greenwood-type variance of the Aalen-Johansen fit "
        f"(CIR), lifelines; {HORIZON_YEARS}-year figures printed as in [V23].",
    ]
    if cs.no_origin:
        items.append(f"Left out (no relapse diagnosis date): {esc(', '.join(cs.no_origin))}.")
    if cs.not_assessable:
        items.append(
            "Not yet assessable (in OS only, not in EFS or CIR): "
            f"{esc(', '.join(cs.not_assessable))}."
        )
    return '<ul class="notes">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _curve_chart(chart_id: str, title: str, endpoint: str, ests: list[Estimate]) -> str:
    rows = len(ests)
    plot_bottom = 210
    height = plot_bottom + 40 + 14 * rows
    last = max([e.last_day for e in ests] + [HORIZON_YEARS * YEAR_DAYS])
    years = max(HORIZON_YEARS, min(max(AT_RISK_YEARS), math.ceil(last / YEAR_DAYS)))
    x = Linear(0, years * YEAR_DAYS, LEFT, WIDTH - RIGHT)
    y = Linear(0, 1, plot_bottom, 16)
    out: list[str] = []
    for v in (0, 0.25, 0.5, 0.75, 1):
        out.append(line(LEFT, y(v), WIDTH - RIGHT, y(v), "stroke:#eee"))
        out.append(text(LEFT - 4, y(v) + 4, f"{round(v * 100)}%", "end"))
    for yr in range(years + 1):
        out.append(line(x(yr * YEAR_DAYS), plot_bottom, x(yr * YEAR_DAYS), plot_bottom + 4,
                        "stroke:#333"))  # fmt: skip
        out.append(text(x(yr * YEAR_DAYS), plot_bottom + 15, str(yr), "middle"))
    out.append(text(WIDTH - RIGHT, plot_bottom + 28, "years from relapse", "end"))
    xl = x(HORIZON_YEARS * YEAR_DAYS)
    out.append(line(xl, 16, xl, plot_bottom, "stroke:#666;stroke-dasharray:1 3"))
    out.append(line(LEFT, plot_bottom, WIDTH - RIGHT, plot_bottom, "stroke:#333"))
    out.append(text(4, plot_bottom + 34, "at risk"))
    start = 0.0 if endpoint == "cir" else 1.0
    label_y = _spread([y(e.steps[-1][1]) + 4 for e in ests], 11)
    for i, est in enumerate(ests):
        colour, dash = STYLES[i % len(STYLES)]
        pts = [f"{x(0)},{y(start)}"]
        prev = start
        for t, v, _ in est.steps:
            t = min(t, years * YEAR_DAYS)
            pts += [f"{x(t)},{y(prev)}", f"{x(t)},{y(v)}"]
            prev = v
        end_t = min(max(est.steps[-1][0], est.last_day), years * YEAR_DAYS)
        pts.append(f"{x(end_t)},{y(prev)}")
        style = f"stroke:{colour};stroke-width:1.8" + (f";stroke-dasharray:{dash}" if dash else "")
        out.append(
            f'<g class="curve" data-endpoint="{endpoint}" data-group="{esc(est.group)}" '
            f'data-landmark="{esc(est.landmark())}"><title>{esc(est.group)}: '
            f"{HORIZON_YEARS}-year {esc(est.landmark())} (n={est.n}, {est.events} events)</title>"
            f'<polyline points="{" ".join(pts)}" fill="none" style="{style}"/>'
            + text(x(end_t) + 4, label_y[i], est.group)
            + "</g>"
        )
        ry = plot_bottom + 34 + 14 * (i + 1)
        out.append(line(4, ry - 4, 20, ry - 4, style))
        out.append(text(24, ry, _short(est.group)))
        for yr, n in zip(AT_RISK_YEARS, est.at_risk, strict=True):
            if yr <= years:
                out.append(text(x(yr * YEAR_DAYS), ry, str(n), "middle"))
    desc = (
        f"{title}: "
        + "; ".join(f"{e.group} {HORIZON_YEARS}-year {e.landmark()} (n={e.n})" for e in ests)
        + ". The survival table lists every figure."
        if ests
        else f"{title}: no patients."
    )
    return (
        "<figure>"
        + chart(chart_id, WIDTH, height, title, desc, "".join(out))
        + (f"<figcaption>{esc(title)}; dotted line: {HORIZON_YEARS} years.</figcaption></figure>")
    )


def _spread(ys: list[float], gap: float) -> list[float]:
    """Label positions near ``ys`` at least ``gap`` apart, in the same order as given."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    out = list(ys)
    for k in range(1, len(order)):
        a, b = order[k - 1], order[k]
        out[b] = max(out[b], out[a] + gap)
    return out


def _short(group: str) -> str:
    return group if len(group) <= 12 else group[:11] + "…"


def _table_html(t: Table, attrs: str) -> str:
    headers = ["", *[f"{c} (n={n})" for c, n in zip(t.columns, t.totals, strict=True)]]
    rows: list[list[str]] = []
    section = None
    for r in t.rows:
        if r.section != section:
            section = r.section
            rows.append([f"<strong>{esc(section.capitalize())}</strong>"] + [""] * len(t.columns))
        cells = [esc(r.label.strip())]
        for n, pct in zip(r.counts, r.percents, strict=True):
            cell = esc(n).replace("/", "/<wbr>")
            cells.append(cell if pct is None else f"{cell} ({pct:.1f}%)")
        rows.append(cells)
    return table(headers, rows, t.title, range(1, len(headers)), attrs)
