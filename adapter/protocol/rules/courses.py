"""Blinatumomab courses from the administrations given (protocol.md §4).

:func:`find_courses` groups the MedicationAdministrations into ``ctx.courses`` (course-number
extension when given, else a new course by the course length) before the rules run; every rule
that needs a course start reads them.  The instant helpers map an infusion onto course days
(rule 4, :mod:`adapter.protocol.rules.dosing`).
"""

from __future__ import annotations

import datetime as dt

from adapter.fhir import Resource
from adapter.protocol.bundle import Date, parse_instant
from adapter.protocol.rules.context import CourseRun, Ctx


def _course_number_ext(ma: Resource) -> int | None:
    for ext in ma.get("extension", []) or []:
        if str(ext.get("url", "")).endswith("course-number"):
            v = ext.get("valuePositiveInt", ext.get("valueInteger"))
            if isinstance(v, int):
                return v
    return None


def _ma_span(ma: Resource, as_of: Date) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Start and end instants of an administration; an in-progress bag without an end runs to
    the end of the as-of day."""
    if "effectivePeriod" in ma:
        period = ma["effectivePeriod"] or {}
        start = parse_instant(period.get("start"))
        end = parse_instant(period.get("end"))
        if end is None and start is not None:
            if ma.get("status") == "in-progress":
                end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), start.tzinfo)
            else:
                end = start
        return start, (max(end, start) if end and start else end)
    t = parse_instant(ma.get("effectiveDateTime"))
    return t, t


def ma_end_date(ma: Resource) -> Date | None:
    """The day an administration ended (its period end, else its start or dateTime)."""
    period = ma.get("effectivePeriod") or {}
    t = parse_instant(period.get("end") or period.get("start") or ma.get("effectiveDateTime"))
    return None if t is None else t.date()


def _covered_days(run: CourseRun, start: dt.datetime, end: dt.datetime) -> range:
    """Course days an infusion from ``start`` to ``end`` touches (day boundaries at t0 + n days)."""
    if run.t0 is None:
        return range(0)
    day = dt.timedelta(days=1)
    first = (start - run.t0) // day + 1
    last = -((run.t0 - end) // day) if end > start else first  # ceil
    return range(first, max(first, last) + 1)


def find_courses(ctx: Ctx) -> None:
    """Group the blinatumomab administrations into courses (course-number extension when given,
    else a new course when a bag starts at or after the previous course start + course length)."""
    length = ctx.protocol.int_("course-length-days")
    spans = [(ma, *_ma_span(ma, ctx.as_of)) for ma in ctx.facts.blinatumomab]
    mas = [(ma, s, e) for ma, s, e in spans if s is not None]
    mas.sort(key=lambda m: m[1])
    groups: dict[int, list[tuple[Resource, dt.datetime | None, dt.datetime | None]]] = {}
    current = 0
    start: dt.datetime | None = None
    for m in mas:
        n = _course_number_ext(m[0])
        if n is None:
            if start is None or m[1] is None or m[1] >= start + dt.timedelta(days=length):
                current += 1
                start = m[1]
            n = current
        groups.setdefault(n, []).append(m)
    for n in sorted(groups):
        content = ctx.protocol.courses.get(min(n, max(ctx.protocol.courses)))
        if content is None:
            continue
        t0 = min(m[1] for m in groups[n] if m[1] is not None)
        ctx.courses.append(CourseRun(content, t0.date(), [m[0] for m in groups[n]], t0))
