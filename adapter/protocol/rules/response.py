"""Rule 6: response, MRD and the next step (protocol.md §5; §2 and §4 where it leans on them).

Reads MRD as a fraction against the threshold (:func:`read_mrd`, never guessing a unit) and
decides MRD-negative, MRD-positive after a course or non-responder, and the next step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from adapter.fhir import SNOMED, Resource
from adapter.protocol.bundle import Qty, has_code, quantity
from adapter.protocol.facts import SCT_FULL_REMISSION, SCT_NOT_IN_REMISSION
from adapter.protocol.rules.context import S2, S4, S5, CourseRun, Ctx
from adapter.protocol.rules.courses import ma_end_date


@dataclass
class Mrd:
    fraction: Decimal | None
    comparator: str | None
    status: str  # negative | positive | indeterminate | unreadable
    text: str


def read_mrd(q: Qty | None, threshold: Decimal) -> Mrd:
    """MRD as a fraction per contract.md: ``%`` (UCUM) divided by 100, ``1``/``{fraction}`` as is.

    No unit, another unit, > 100 % or a fraction > 1 give ``unreadable``: never guessed.  With a
    comparator ``<``/``<=`` the value is negative only when the bound itself is below the
    threshold; exactly the threshold is positive (protocol.md §5).
    """
    if q is None:
        return Mrd(None, None, "unreadable", "no valueQuantity")
    if q.code == "%":
        frac = q.value / 100
    elif q.code in ("1", "{fraction}"):
        frac = q.value
    else:
        return Mrd(
            None,
            q.comparator,
            "unreadable",
            f"value {q.value} with unit {q.code!r}: MRD unit must be '%' or a fraction "
            "('1', '{fraction}')",
        )
    text = f"{q.comparator or ''}{q.value} {q.code} (= {q.comparator or ''}{frac:.6g} fraction)"
    if frac > 1 or frac < 0:
        return Mrd(frac, q.comparator, "unreadable", text + ": not a possible MRD value")
    if q.comparator in ("<", "<="):
        below = frac <= threshold if q.comparator == "<" else frac < threshold
        return Mrd(frac, q.comparator, "negative" if below else "indeterminate", text)
    if q.comparator in (">", ">="):
        return Mrd(frac, q.comparator, "positive" if frac >= threshold else "indeterminate", text)
    return Mrd(frac, None, "negative" if frac < threshold else "positive", text)


#: mCODE TreatmentTerminationReason "No response to treatment" (mappings/tables/treatment.yaml
#: ``termination_reasons.no-response``): a course stopped for it is a non-response (issue 14).
SCT_STOP_NO_RESPONSE = "266721009"
#: CancerDiseaseStatus "worsened" (contract.md): progression.
SCT_WORSENED = "271299001"


@dataclass
class CourseResponse:
    """What one course reached: ``cr`` or ``no-response`` (with its day and evidence)."""

    course: int
    kind: str
    date: dt.date
    evidence: Resource
    why: str


def _course_responses(
    ctx: Ctx, i: int, run: CourseRun, start: dt.date, end: dt.date
) -> list[CourseResponse]:
    """Response facts of one course (protocol.md §5, §7): the disease status at or after the end
    of the course; progression (status ``worsened``) documented during the course, or the course
    stopped for no response, is a non-response at once, without waiting for day 28 (issue 14)."""
    n = run.content.number
    nxt = ctx.courses[i + 1].start if i + 1 < len(ctx.courses) else None
    out: list[CourseResponse] = []
    for ds in ctx.facts.disease_status:
        if ds.date is None or ds.date < start or (nxt is not None and ds.date >= nxt):
            continue
        value = ds.resource.get("valueCodeableConcept")
        if ds.date < end:
            if has_code(value, SNOMED, SCT_WORSENED):
                out.append(
                    CourseResponse(
                        n, "no-response", ds.date, ds.resource,
                        f"progression documented on {ds.date}, before the end of the course",
                    )
                )  # fmt: skip
            continue
        if has_code(value, SNOMED, SCT_FULL_REMISSION):
            out.append(CourseResponse(n, "cr", ds.date, ds.resource, f"remission on {ds.date}"))
        elif has_code(value, SNOMED, *SCT_NOT_IN_REMISSION):
            out.append(
                CourseResponse(
                    n, "no-response", ds.date, ds.resource, f"no remission on {ds.date}"
                )
            )  # fmt: skip
    for ma in run.administrations:
        if ma.get("status") == "stopped" and has_code(
            ma.get("statusReason"), SNOMED, SCT_STOP_NO_RESPONSE
        ):
            day = ma_end_date(ma) or start
            out.append(
                CourseResponse(
                    n, "no-response", day, ma, f"course stopped for no response on {day}"
                )
            )  # fmt: skip
    return out


def rule_response(ctx: Ctx) -> None:
    """Rule 6 (protocol.md §5, §7): MRD and disease status per course, then the response.

    The response is the best reached within the response window (``response-window-courses``:
    course 1, and course 2 when it follows MRD >= 1e-4): a CR after course 2 overrides stable
    disease after course 1.  Only when no course of the window reached CR is the patient a
    non-responder (the last no-response fact of the window dates it).
    """
    p = ctx.protocol
    thr = p.dec("mrd-threshold")
    params = ("mrd-threshold", "mrd-response-earliest-course-day", "second-course-gap-days")
    length = p.int_("course-length-days")
    window_courses = p.int_("response-window-courses")
    responses: list[CourseResponse] = []
    for i, run in enumerate(ctx.courses):
        if run.start is None:
            continue
        n = run.content.number
        earliest = run.date_of(p.int_("mrd-response-earliest-course-day"))
        end = run.date_of(length)
        if earliest is None or end is None:  # pragma: no cover - start checked above
            continue
        nxt = ctx.courses[i + 1].start if i + 1 < len(ctx.courses) else None
        window = [
            m
            for m in ctx.facts.mrd
            if m.date is not None and m.date >= earliest and (nxt is None or m.date < nxt)
        ]
        course_responses = _course_responses(ctx, i, run, run.start, end)
        if n <= window_courses:
            responses += course_responses
        for r in course_responses:
            if r.kind == "no-response":
                ctx.add(
                    6,
                    "course-no-remission",
                    "warning",
                    f"Course {n}: {r.why}.",
                    S5,
                    (r.evidence,),
                    ("response-window-courses",),
                    course=n,
                    date=r.date.isoformat(),
                )
        if not window:
            if ctx.as_of >= earliest:
                ctx.add(
                    6,
                    "mrd-missing",
                    "warning",
                    f"Course {n}: no end-of-course MRD (mrd-flow) on or after {earliest}.",
                    S5,
                    params=params,
                    course=n,
                )
            continue
        m = window[0]
        mrd = read_mrd(quantity(m.resource.get("valueQuantity")), thr)
        ev = (m.resource,)
        if mrd.status == "unreadable":
            ctx.add(
                6,
                "mrd-unreadable",
                "error",
                f"Course {n} MRD not used: {mrd.text} (contract.md units; never guessed).",
                S5,
                ev,
                params,
                course=n,
            )
            continue
        if mrd.status == "indeterminate":
            ctx.add(
                6,
                "mrd-indeterminate",
                "warning",
                f"Course {n} MRD {mrd.text} cannot be placed against the threshold {thr:.0e}.",
                S5,
                ev,
                params,
                course=n,
            )
            continue
        ctx.mrd_after[n] = mrd.status
        data = {
            "course": n,
            "mrd_fraction": float(mrd.fraction) if mrd.fraction is not None else None,
            "comparator": mrd.comparator,
            "date": str(m.date),
        }
        if mrd.status == "negative":
            if m.date is not None and n <= window_courses:
                responses.append(
                    CourseResponse(n, "cr", m.date, m.resource, f"MRD-negative on {m.date}")
                )
            ctx.add(
                6,
                "mrd-negative",
                "information",
                f"Course {n} MRD-negative on {m.date}: {mrd.text} < {thr:.0e}.",
                S5,
                ev,
                params,
                **data,
            )
            _next_step_hsct(ctx, m.date, ev, params, data)
        else:
            ctx.add(
                6,
                "mrd-positive",
                "warning",
                f"Course {n} MRD-positive on {m.date}: {mrd.text} >= {thr:.0e} "
                "(exactly the threshold counts as positive).",
                S5,
                ev,
                params,
                **data,
            )
            if n == 1:
                gap = p.int_("second-course-gap-days")
                due = end + dt.timedelta(days=gap)
                started = ctx.courses[i + 1].start if i + 1 < len(ctx.courses) else None
                status = (
                    ("started " + str(started))
                    if started
                    else ("overdue" if ctx.as_of > due else "due")
                )
                ctx.add(
                    6,
                    "next-step-second-course",
                    "warning" if status == "overdue" else "information",
                    f"Second blinatumomab course due on {due} ({gap} days after course 1 ended "
                    f"on {end}), full dose from day 1 for {length} days: {status}.",
                    S4,
                    ev,
                    params,
                    due=due.isoformat(),
                    status=status,
                )
            else:
                ctx.add(
                    6,
                    "mrd-positive-after-course-2",
                    "warning",
                    f"MRD still positive after course {n}: protocol.md gives no further "
                    "blinatumomab step.",
                    S5,
                    ev,
                    params,
                    **data,
                )
    _decide(ctx, responses)


def _decide(ctx: Ctx, responses: list[CourseResponse]) -> None:
    """The best response within the window: CR (earliest CR date) over no response."""
    crs = [r for r in responses if r.kind == "cr"]
    if crs:
        ctx.remission = min(r.date for r in crs)
        return
    nrs = [r for r in responses if r.kind == "no-response"]
    if not nrs:
        return
    last = max(nrs, key=lambda r: r.date)
    ctx.non_responder = last.date
    courses = sorted({r.course for r in nrs})
    if ctx.relapse_number == 1 and ctx.time_point == "late":
        ctx.add(
            2,
            "hsct-mandatory",
            "information",
            "Allogeneic HSCT once MRD-negative is mandatory: late first relapse that "
            "did not respond.",
            S2,
            (last.evidence,),
            category="late first relapse, no response",
        )
    ctx.add(
        6,
        "non-responder",
        "warning",
        f"No remission within the response window (course {', '.join(map(str, courses))}; "
        f"{last.why}): non-responder (refractory).",
        S5,
        tuple(r.evidence for r in nrs),
        ("response-window-courses",),
        course=last.course,
        date=last.date.isoformat(),
    )


def _next_step_hsct(
    ctx: Ctx,
    mrd_day: dt.date | None,
    ev: tuple[Resource, ...],
    params: tuple[str, ...],
    data: dict[str, Any],
) -> None:
    """After an MRD-negative result: propose HSCT unless it was done, or a relapse followed the
    result (protocol.md §5; HSCT performed is a fact, issue 14)."""
    done = ctx.facts.hsct[0] if ctx.facts.hsct else None
    if done is not None:
        ctx.add(
            6,
            "hsct-performed",
            "information",
            f"Allogeneic HSCT performed on {done.date or 'an unknown date'}: no referral proposed.",
            S5,
            (done.resource,),
            date=None if done.date is None else done.date.isoformat(),
        )
        return
    later = [r for r in ctx.facts.relapses if r.date and mrd_day and r.date > mrd_day]
    if later:
        ctx.add(
            6,
            "next-step-hsct-superseded",
            "information",
            f"MRD-negative on {mrd_day}, but a relapse followed on {later[0].date}: the HSCT "
            "referral of that result no longer applies.",
            S5,
            (*ev, later[0].resource),
            params,
            relapse=later[0].date.isoformat() if later[0].date else None,
        )
        return
    ctx.add(
        6,
        "next-step-hsct",
        "information",
        "MRD-negative: allogeneic HSCT candidate, if no somatic contraindication.",
        S5,
        ev,
        params,
        **data,
    )
