"""The patient course page as one self-contained HTML file (inline SVG, no scripts).

Renders a :class:`~adapter.report.course.CoursePage`: badges, the timeline and the dose chart of
every course (:mod:`adapter.report.course_charts`), then the same data as tables (the charts'
text alternative in full) and every finding with its rule and source.  Shapes, letters and words
carry every meaning the colours carry (see :mod:`adapter.report.html`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from adapter.fhir import Resource
from adapter.protocol import Protocol
from adapter.report.course import CoursePage, DoseDay, Event, LabPoint, course_pages
from adapter.report.course_charts import EVENT_ROWS, MARK_LETTER, SERIES, dose_chart, timeline, ug
from adapter.report.html import esc, page, severity, table


def course_html_files(
    bundle: Resource,
    protocols: Mapping[str, Protocol],
    as_of: dt.date,
    protocol_id: str | None,
    out: Path,
) -> dict[Path, str]:
    """The course page of every Patient of the Bundle, by file: ``out`` itself for a single
    patient; ``<out stem>-<patient>.html`` beside it for each of several (or when ``out`` is a
    folder, ``<out>/course-<patient>.html``)."""
    pages = course_pages(bundle, protocols, as_of, protocol_id)
    files: dict[Path, str] = {}
    for p in pages:
        safe = re.sub(r"[^\w.-]+", "_", p.name).strip("_.-") or "patient"
        if out.is_dir():
            path = out / f"course-{safe}.html"
        elif len(pages) == 1:
            path = out
        else:
            path = out.with_name(f"{out.stem}-{safe}.html")
        if path in files:  # two names alike once made safe: tell them apart by resource id
            path = path.with_name(f"{path.stem}-{p.patient_id or len(files)}.html")
        files[path] = render_course_page(p)
    return files


def render_course_page(p: CoursePage) -> str:
    """The whole HTML document for one patient."""
    body = [
        f"<header><h1>Course of {esc(p.name)}</h1>",
        f'<p class="meta">{esc(p.protocol_title)} ({esc(p.protocol)}) · as of '
        f'<time datetime="{p.as_of}">{p.as_of}</time> · <code>{esc(p.patient)}</code></p>',
        "</header>",
        _badges(p),
        '<section id="timeline-section"><h2>Timeline</h2>',
        timeline(p),
        "</section>",
        _dose_sections(p),
        '<section id="data"><h2>Data shown in the charts</h2>',
        _phase_table(p),
        _event_table(p.events),
        _lab_table(p.labs),
        "</section>",
        _findings(p),
    ]
    if p.notes:
        body.append('<section id="notes"><h2>Not drawn</h2><ul class="notes">')
        body += [f"<li>{esc(n)}</li>" for n in p.notes]
        body.append("</ul></section>")
    return page(f"Course of {p.name}", "".join(body))


def _badges(p: CoursePage) -> str:
    items = []
    for b in p.badges:
        mark = "" if b.severity == "information" else severity(b.severity) + " "
        items.append(
            f'<li class="badge {esc(b.severity)}" data-kind="{esc(b.kind)}" '
            f'title="{esc(b.detail)} ({esc(b.source)})">{mark}{esc(b.label)}</li>'
        )
    return (
        '<section id="badges" aria-label="Classification, cytogenetics and risk signals">'
        f'<ul class="badges">{"".join(items)}</ul></section>'
    )


def _dose_sections(p: CoursePage) -> str:
    courses = sorted({d.course for d in p.doses})
    if not courses:
        return (
            '<section id="dose"><h2>Blinatumomab dose</h2><p>No blinatumomab course recorded.'
            "</p></section>"
        )
    out = ['<section id="dose"><h2>Blinatumomab dose per course day</h2>']
    for n in courses:
        days = [d for d in p.doses if d.course == n]
        out.append(dose_chart(n, days))
        out.append(_dose_table(n, days))
    out.append("</section>")
    return "".join(out)


def _dose_table(n: int, days: list[DoseDay]) -> str:
    rows = (
        [
            str(d.day),
            str(d.date or ""),
            ug(d.planned),
            ug(d.given),
            esc(", ".join(f"{MARK_LETTER[m]} {m}" for m in d.marks)),
        ]
        for d in days
    )
    return table(
        ("course day", "date", "planned ug/d", "given ug/d", "flagged"),
        rows,
        f"Course {n}: dose per day",
        (0, 2, 3),
        f'id="dose-table-{n}"',
    )


def _phase_table(p: CoursePage) -> str:
    rows = (
        [
            esc(ph.label),
            str(ph.start),
            str(ph.end),
            esc(f"{ph.marker_label} ({ph.marker})") if ph.marker else "",
        ]
        for ph in p.phases
    )
    return table(("phase", "from", "to", "marked day"), rows, "Phases", attrs='id="phase-table"')


def _event_table(events: Iterable[Event]) -> str:
    rows = (
        [str(e.date), f"{EVENT_ROWS[e.kind][2]} {esc(e.label)}", f"<code>{esc(e.evidence)}</code>"]
        for e in events
    )
    return table(("date", "treatment", "record"), rows, "Treatment days", attrs='id="event-table"')


def _lab_table(labs: Iterable[LabPoint]) -> str:
    rows = (
        [
            str(lp.date),
            esc(SERIES[lp.series][0]),
            esc(lp.text),
            f"{lp.fraction:g}",
            "yes" if lp.below_lod else "no",
            f"<code>{esc(lp.evidence)}</code>",
        ]
        for lp in sorted(labs, key=lambda lp: (lp.date, lp.series))
    )
    return table(
        ("date", "measurement", "as reported", "fraction", "below LOD", "record"),
        rows,
        "MRD and marrow blasts",
        (3,),
        'id="lab-table"',
    )


def _findings(p: CoursePage) -> str:
    rows = []
    for f in p.findings:
        params = ", ".join(f"{k}={v}" for k, v in f.parameters.items())
        rows.append(
            [
                severity(f.severity),
                str(f.rule),
                f"<code>{esc(f.code)}</code>",
                esc(f.message)
                + (f"<br><small>parameters: {esc(params)}</small>" if params else ""),
                esc(f.source),
                "<br>".join(f"<code>{esc(e)}</code>" for e in f.evidence),
            ]
        )
    return (
        '<section id="findings"><h2>Findings</h2>'
        + table(
            ("severity", "rule", "code", "finding", "source", "evidence"),
            rows,
            attrs='id="findings-table"',
        )
        + "</section>"
    )
