"""What goes on one patient's course page (issue 20): pure data, no HTML.

:func:`course_pages` evaluates a Bundle (:mod:`adapter.report.evaluated`) and lays out, per
patient, everything the page draws, each item carrying the resource it came from:

- the time axis, from the relapse diagnosis (protocol.md §7: survival is counted from it) to the
  evaluation date, and the protocol phases on it (:class:`Phase`);
- the blinatumomab dose per course day, planned (the engine's ``dose-plan`` finding, protocol.md
  §4) against given (the administrations' rates), with the days the engine flagged as deviating,
  missed or interrupted (:class:`DoseDay`);
- CD3+ apheresis, lymphocyte infusions, intrathecal therapy and HSCT days (:class:`Event`);
- MRD and marrow blasts as fractions of nucleated cells for a log axis, a value reported below
  its limit of detection kept as such (:class:`LabPoint`), with the reference lines
  (:class:`Line`: the protocol's ``mrd-threshold``, 1e-4, and the 1e-3 approval context, §5);
- relapse classification, cytogenetics and risk signals as badges (:class:`Badge`), and every
  finding with its rule and source.

Phases (protocol.md §3 and §4): *cytoreduction* runs from the relapse diagnosis to the first
chemotherapy block; a *block* is a CarePlan that is ``partOf`` the therapy CarePlan (the reading
the engine's day-15 rule uses, contract.md names no block fact); *course n* is the course's
28 days from its first bag, its step-up day the first day of its second dose step; a *gap* lies
between two courses; *HSCT* runs from the transplant to the evaluation date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from adapter.fhir import Resource
from adapter.protocol import Finding, Protocol
from adapter.protocol.bundle import Date, convert, parse_date, quantity
from adapter.protocol.facts import LOINC_MARROW_BLASTS, Dated
from adapter.protocol.rules import CourseRun, Ctx

# The engine's own mapping of an administration onto course days (one rule for both).
from adapter.protocol.rules.courses import _covered_days, _ma_span
from adapter.protocol.rules.response import read_mrd
from adapter.report.evaluated import evaluated_patients

#: protocol.md §5: the MRD-positive approval context (Gokbuget 2018), a reference line only.
APPROVAL_MRD = 1e-3
APPROVAL_SOURCE = "protocol.md §5 (approval context, Gokbuget 2018)"
#: findings the dose chart marks, by code -> mark
DOSE_MARKS = {
    "dose-deviation": "deviation",
    "dose-missed-days": "missed",
    "dose-interrupted": "interrupted",
}
#: the rule numbers whose findings are shown as risk-signal badges (prognosis, eligibility)
BADGE_RULES = (2, 7)


@dataclass(frozen=True)
class Phase:
    kind: str  # cytoreduction | block | course | gap | hsct
    label: str
    start: dt.date
    end: dt.date
    #: a day inside the phase worth marking (a course's step-up day) and what to call it
    marker: dt.date | None = None
    marker_label: str = ""


@dataclass(frozen=True)
class DoseDay:
    course: int
    day: int
    date: dt.date | None
    #: ug/d planned by the protocol (None: no plan for the day)
    planned: float | None
    #: ug/d running on that day (the latest bag touching it); None: nothing recorded
    given: float | None
    #: what the engine flagged on that day: deviation, missed, interrupted
    marks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Event:
    kind: str  # apheresis | cd3-infusion | intrathecal | hsct
    label: str
    date: dt.date
    evidence: str


@dataclass(frozen=True)
class LabPoint:
    series: str  # mrd | marrow-blasts
    date: dt.date
    #: the value (or, below the limit of detection, the bound) as a fraction of nucleated cells
    fraction: float
    below_lod: bool
    text: str
    evidence: str


@dataclass(frozen=True)
class Line:
    fraction: float
    label: str
    source: str


@dataclass(frozen=True)
class Badge:
    kind: str  # classification | cytogenetics | risk
    label: str
    severity: str
    detail: str
    source: str


@dataclass(frozen=True)
class CoursePage:
    """Everything one patient's course page shows."""

    patient: str
    #: the Patient's resource id, and the value of its first identifier (else ``patient``)
    patient_id: str
    name: str
    protocol: str
    protocol_title: str
    as_of: dt.date
    start: dt.date
    end: dt.date
    phases: tuple[Phase, ...]
    doses: tuple[DoseDay, ...]
    events: tuple[Event, ...]
    labs: tuple[LabPoint, ...]
    lines: tuple[Line, ...]
    badges: tuple[Badge, ...]
    findings: tuple[Finding, ...]
    #: what could not be drawn, and why
    notes: tuple[str, ...] = ()


def course_pages(
    bundle: Resource,
    protocols: Mapping[str, Protocol],
    as_of: dt.date,
    protocol_id: str | None = None,
) -> list[CoursePage]:
    """One :class:`CoursePage` per Patient of the Bundle, in Bundle order."""
    return [course_page(e.ctx, e.evaluation.findings) for e in
            evaluated_patients(bundle, protocols, as_of, protocol_id)]  # fmt: skip


def course_page(ctx: Ctx, findings: list[Finding]) -> CoursePage:
    """The page of one evaluated patient (its rule context and findings)."""
    facts = ctx.facts
    notes: list[str] = []
    relapse = ctx.relapse.date if ctx.relapse else None
    if relapse is None:
        notes.append("no relapse diagnosis date: the time axis starts at the first dated item")
    events = list(_events(ctx))
    labs = list(_labs(ctx, notes))
    phases = _phases(ctx)
    dates = [e.date for e in events] + [p.date for p in labs]
    start = relapse or min(dates + [p.start for p in phases], default=ctx.as_of)
    earlier = [d for d in dates if d < start]
    if earlier:
        notes.append(
            f"{len(earlier)} item(s) dated before the relapse diagnosis {start} are listed but "
            "not drawn on the time axis"
        )
    ident = (facts.patient.get("identifier") or [{}])[0].get("value")
    return CoursePage(
        patient=facts.ref,
        patient_id=str(facts.patient.get("id", "")),
        name=str(ident or facts.ref),
        protocol=ctx.protocol.id,
        protocol_title=ctx.protocol.title,
        as_of=ctx.as_of,
        start=start,
        end=max(ctx.as_of, start),
        phases=tuple(phases),
        doses=tuple(_doses(ctx, findings)),
        events=tuple(sorted(events, key=lambda e: (e.date, e.kind))),
        labs=tuple(labs),
        lines=(
            Line(ctx.protocol.num("mrd-threshold"), "MRD-negative below", "protocol.md §5 [V23]"),
            Line(APPROVAL_MRD, "MRD-positive indication from", APPROVAL_SOURCE),
        ),
        badges=tuple(_badges(ctx, findings)),
        findings=tuple(findings),
        notes=tuple(notes),
    )


def _course_end(ctx: Ctx, run: CourseRun) -> Date | None:
    return run.date_of(ctx.protocol.int_("course-length-days"))


def _phases(ctx: Ctx) -> list[Phase]:
    out: list[Phase] = []
    blocks: list[tuple[dt.date, dt.date | None, str]] = []
    for cp in ctx.facts.careplans:
        if not cp.get("partOf"):
            continue
        period = cp.get("period") or {}
        b_start = parse_date(period.get("start"))
        if b_start is not None:
            title = str(cp.get("title") or "chemotherapy block")
            blocks.append((b_start, parse_date(period.get("end")), title))
    blocks.sort()
    courses = [(r, r.start) for r in ctx.courses if r.start is not None]
    relapse = ctx.relapse.date if ctx.relapse else None
    first_block = blocks[0][0] if blocks else None
    until = first_block or (courses[0][1] if courses else None)
    if relapse is not None and until is not None and until > relapse:
        out.append(Phase("cytoreduction", "cytoreduction", relapse, until - dt.timedelta(days=1)))
    for b_start, b_end, title in blocks:
        out.append(Phase("block", title, b_start, b_end or ctx.as_of))
    for i, (run, run_start) in enumerate(courses):
        end = _course_end(ctx, run) or run_start
        steps = run.content.steps
        marker = run.date_of(steps[1].first_day) if len(steps) > 1 else None
        out.append(
            Phase(
                "course",
                f"blinatumomab course {run.content.number}",
                run_start,
                end,
                marker,
                f"step-up day {steps[1].first_day}" if marker else "",
            )
        )
        nxt = courses[i + 1][1] if i + 1 < len(courses) else None
        if nxt is not None and nxt > end + dt.timedelta(days=1):
            out.append(Phase("gap", "gap", end + dt.timedelta(days=1), nxt - dt.timedelta(days=1)))
    for h in ctx.facts.hsct:
        if h.date is not None:
            out.append(Phase("hsct", "allogeneic HSCT", h.date, max(h.date, ctx.as_of)))
    return out


def _dated(ctx: Ctx, kind: str, label: str, items: list[Dated]) -> Iterator[Event]:
    for d in items:
        if d.date is not None:
            yield Event(kind, label, d.date, ctx.index.ref(d.resource))


def _events(ctx: Ctx) -> Iterator[Event]:
    f = ctx.facts
    yield from _dated(ctx, "apheresis", "CD3+ apheresis", f.apheresis)
    yield from _dated(ctx, "cd3-infusion", "CD3+ lymphocyte infusion", f.cd3_infusions)
    yield from _dated(ctx, "intrathecal", "intrathecal therapy", f.intrathecal)
    yield from _dated(ctx, "hsct", "allogeneic HSCT", f.hsct)


def _labs(ctx: Ctx, notes: list[str]) -> Iterator[LabPoint]:
    threshold = Decimal(str(ctx.protocol.num("mrd-threshold")))
    for d in ctx.facts.mrd:
        ref = ctx.index.ref(d.resource)
        mrd = read_mrd(quantity(d.resource.get("valueQuantity")), threshold)
        if d.date is None or mrd.fraction is None or mrd.status == "unreadable":
            notes.append(f"MRD {ref} not drawn: {mrd.text if d.date else 'no date'}")
            continue
        below = mrd.comparator in ("<", "<=")
        if mrd.fraction <= 0:
            notes.append(f"MRD {ref} not drawn: {mrd.text} cannot be placed on a log axis")
            continue
        text = f"MRD {'below the limit of detection ' if below else ''}{mrd.text}"
        yield LabPoint("mrd", d.date, float(mrd.fraction), below, text, ref)
    for d in ctx.facts.observations(LOINC_MARROW_BLASTS):
        ref = ctx.index.ref(d.resource)
        q = quantity(d.resource.get("valueQuantity"))
        pct = convert(q, "%") if q is not None else None
        if d.date is None or pct is None or pct <= 0:
            notes.append(f"marrow blasts {ref} not drawn: no date, no value in % or zero")
            continue
        below = q is not None and q.comparator in ("<", "<=")
        text = f"marrow blasts {q.comparator if q and q.comparator else ''}{pct}%"
        yield LabPoint("marrow-blasts", d.date, float(pct) / 100, below, text, ref)


def _rate(ma: Resource) -> float | None:
    q = quantity((ma.get("dosage") or {}).get("rateQuantity"))
    v = convert(q, "ug/d") if q is not None else None
    return None if v is None else float(v)


def _doses(ctx: Ctx, findings: list[Finding]) -> Iterator[DoseDay]:
    plans = {f.data.get("course"): f.data.get("days", []) for f in findings
             if f.code == "dose-plan"}  # fmt: skip
    marks: dict[tuple[int, int], set[str]] = {}
    for f in findings:
        mark = DOSE_MARKS.get(f.code)
        if mark is None:
            continue
        days = f.data.get("days") or ([f.data["day"]] if "day" in f.data else [])
        for day in days:
            marks.setdefault((f.data.get("course", 0), day), set()).add(mark)
    length = ctx.protocol.int_("course-length-days")
    for run in ctx.courses:
        n = run.content.number
        planned = {r["day"]: float(r["ug_per_day"]) for r in plans.get(n, [])}
        given: dict[int, tuple[dt.datetime, float | None]] = {}
        for ma in run.administrations:
            start, end = _ma_span(ma, ctx.as_of)
            if start is None or end is None:
                continue
            for day in _covered_days(run, start, end):
                if day >= 1 and (day not in given or given[day][0] <= start):
                    given[day] = (start, _rate(ma))
        for day in range(1, length + 1):
            yield DoseDay(
                n,
                day,
                run.date_of(day),
                planned.get(day),
                given[day][1] if day in given else None,
                tuple(sorted(marks.get((n, day), ()))),
            )


def _badges(ctx: Ctx, findings: list[Finding]) -> Iterator[Badge]:
    s = ctx.summary
    by_code = {f.code: f for f in findings}
    for key, label, code in (
        ("relapse_number", "relapse", "relapse-number"),
        ("time_point", "time point", "relapse-time-point"),
        ("site_label", "site", "relapse-site"),
        ("stratum", "stratum", "bfm-stratum"),
    ):
        if s.get(key) is not None:
            f = by_code.get(code)
            yield Badge(
                "classification",
                f"{label}: {s[key]}",
                "information",
                f.message if f else "",
                f.source if f else "",
            )
    trans = s.get("translocation")
    if trans is not None:
        yield Badge(
            "cytogenetics",
            f"cytogenetics: {trans}",
            "information",
            "Table-1 cytogenetics row (protocol.md §8)",
            "protocol.md §8 [V23]",
        )
    for f in findings:
        if f.rule in BADGE_RULES and f.severity != "information":
            yield Badge("risk", f.code.replace("-", " "), f.severity, f.message, f.source)
