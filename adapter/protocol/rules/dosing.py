"""Rule 4: blinatumomab dose plan and actual vs plan (protocol.md §4).

Weight and body surface area for a course (plausible and recent: placeholder parameters), the
day-by-day plan of a course (:func:`plan_course`, also what ``$apply`` proposes: flat or per m²,
with its cap) and the doses given against that plan, reported by course-day ranges; a dose at or
above ``dose-critical-above-plan-factor`` times the plan is an error (``dose-far-above-plan``).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from adapter.fhir import SNOMED, Resource
from adapter.protocol.bundle import Date, Qty, convert, has_code, quantity
from adapter.protocol.content import Course
from adapter.protocol.facts import (
    LOINC_BSA,
    LOINC_HEIGHT,
    LOINC_WEIGHT,
    MCODE_NORMALIZATION_BASIS,
    SCT_BASIS_BSA,
    SCT_BASIS_FIXED,
    Dated,
)
from adapter.protocol.model import Finding
from adapter.protocol.rules.context import S4, CourseRun, Ctx, _conv, _fmt
from adapter.protocol.rules.courses import _covered_days, _ma_span


def _cmp(value: float | Decimal, op: str, bound: float | Decimal) -> bool:
    v, b = Decimal(str(value)), Decimal(str(bound))
    return {">": v > b, ">=": v >= b, "<": v < b, "<=": v <= b}[op]


def _plausible(
    ctx: Ctx, course: int, what: str, name: str, unit: str, d: Dated | None, v: Decimal | None
) -> tuple[Decimal | None, str | None]:
    """The value when inside the protocol's physiological range ``{name}-plausible-min/max``
    (placeholders: > min and <= max), else None and why; NaN and infinities are never plausible.
    No dose is ever derived from an impossible value (issue 14, "Plausibility before dosing")."""
    if d is None or v is None:
        return None, None
    p = ctx.protocol
    lo, hi = p.dec(f"{name}-plausible-min-{unit}"), p.dec(f"{name}-plausible-max-{unit}")
    if v.is_finite() and lo < v <= hi:
        return v, None
    why = (
        f"{what} {v} {unit} ({ctx.index.ref(d.resource)}, {d.date}) outside the plausible range "
        f"({_fmt(lo)}, {_fmt(hi)}] {unit}"
    )
    ctx.add(
        4,
        "measurement-implausible",
        "error",
        f"{why[0].upper()}{why[1:]}: not used for dosing.",
        S4 + "; range: placeholder parameters",
        (d.resource,),
        (f"{name}-plausible-min-{unit}", f"{name}-plausible-max-{unit}"),
        course=course,
        measurement=name,
        value=str(v),
    )
    return None, why


def _weight_bsa(
    ctx: Ctx, course: int, day: Date
) -> tuple[list[str], list[Resource], list[tuple[str, Dated]]]:
    """Weight and BSA on ``day`` into ``ctx``: what is missing or implausible, the evidence, and
    the measurements used (named) for :func:`_stale`."""
    f = ctx.facts
    missing: list[str] = []
    ev: list[Resource] = []
    used: list[tuple[str, Dated]] = []
    w = f.latest(LOINC_WEIGHT, day)
    wv, why = _plausible(ctx, course, "body weight", "weight", "kg", w, _conv(ctx, 4, w, "kg"))
    if w is None or wv is None:
        missing.append(why or "body weight (29463-7, kg)")
        if why and w is not None:
            ev.append(w.resource)
    else:
        ctx.weight = (wv, w)
        ev.append(w.resource)
        used.append(("body weight", w))
    b = f.latest(LOINC_BSA, day)
    bv, why_b = _plausible(ctx, course, "body surface area", "bsa", "m2", b, _conv(ctx, 4, b, "m2"))
    if b is not None and bv is not None:
        ctx.bsa = (float(bv), (ctx.index.ref(b.resource),), "recorded BSA (8277-6)")
        ev.append(b.resource)
        used.append(("body surface area", b))
        return missing, ev, used
    h = f.latest(LOINC_HEIGHT, day)
    hv, why_h = _plausible(ctx, course, "height", "height", "cm", h, _conv(ctx, 4, h, "cm"))
    for reason, d in ((why_b, b), (why_h, h)):
        if reason and d is not None:
            missing.append(reason)
            ev.append(d.resource)
    if h is not None and hv is not None and wv is not None and w is not None:
        bsa = math.sqrt(float(hv) * float(wv) / 3600)
        ctx.bsa = (
            bsa,
            (ctx.index.ref(h.resource), ctx.index.ref(w.resource)),
            "Mosteller sqrt(height cm x weight kg / 3600)",
        )
        ev.append(h.resource)
        used.append(("height", h))
    return missing, ev, used


def _stale(ctx: Ctx, course: int, day: Date, used: list[tuple[str, Dated]]) -> None:
    """A warning when a measurement the course plan is derived from was taken more than
    ``dosing-measurement-max-age-days`` (a placeholder: protocol.md §4 doses by weight and BSA
    but says nothing about how recent they must be) before course day 1."""
    limit = ctx.protocol.int_("dosing-measurement-max-age-days")
    old = [
        (what, d, (day - d.date).days)
        for what, d in used
        if d.date is not None and (day - d.date).days > limit
    ]
    if not old:
        return
    ctx.add(
        4,
        "dose-measurement-stale",
        "warning",
        f"Course {course} dose plan (for {day}) uses "
        + ", ".join(f"{what} of {d.date} ({age} days before)" for what, d, age in old)
        + f", older than dosing-measurement-max-age-days {limit}: re-measure before dosing.",
        S4 + "; freshness: placeholder parameter",
        tuple(d.resource for _, d, _ in old),
        ("dosing-measurement-max-age-days",),
        course=course,
        measurements=[
            {"measurement": what, "date": str(d.date), "age_days": age} for what, d, age in old
        ],
    )


def _flat(ctx: Ctx) -> bool | None:
    if ctx.weight is None:
        return None
    p = ctx.protocol
    return _cmp(ctx.weight[0], p.text("weight-boundary-comparison"), p.num("weight-boundary-kg"))


def plan_course(ctx: Ctx, course: Course) -> list[dict[str, Any]]:
    """Day-by-day plan of a course: ug/d, ug/m2/d, basis, cap; empty when not derivable."""
    flat = _flat(ctx)
    if flat is None:
        return []
    bsa = ctx.bsa[0] if ctx.bsa else None
    if not flat and bsa is None:
        return []
    rows: list[dict[str, Any]] = []
    for day in range(1, ctx.protocol.int_("course-length-days") + 1):
        step = course.step_for_day(day)
        if step is None:
            continue
        if flat:
            ug_d, capped = step.flat_ug_d, False
            ug_m2 = None if bsa is None else round(step.flat_ug_d / bsa, 2)
            basis = "fixed dose (SNOMED 1157245009)"
        else:
            raw = step.bsa_ug_m2_d * (bsa or 0.0)
            capped = raw > step.cap_ug_d
            ug_d = round(min(raw, step.cap_ug_d), 2)
            ug_m2 = step.bsa_ug_m2_d
            basis = "body surface area (SNOMED 301898006)"
        rows.append(
            {
                "day": day,
                "step": step.action_id,
                "ug_per_day": ug_d,
                "ug_per_m2_per_day": ug_m2,
                "basis": basis,
                "capped": capped,
                "cap_ug_per_day": step.cap_ug_d,
            }
        )
    return rows


def rule_dose(ctx: Ctx) -> None:
    p = ctx.protocol
    params = (
        "weight-boundary-kg",
        "weight-boundary-comparison",
        "course-length-days",
        "weight-plausible-min-kg",
        "weight-plausible-max-kg",
    )
    runs = ctx.courses or [CourseRun(p.courses[1], None)]
    for run in runs:
        day0 = run.start or ctx.as_of
        ctx.weight, ctx.bsa = None, None
        n = run.content.number
        missing, ev, used = _weight_bsa(ctx, n, day0)
        flat = _flat(ctx)
        if (
            flat is not None
            and ctx.weight is not None
            and ctx.weight[0] == p.dec("weight-boundary-kg")
        ):
            ctx.add(
                4,
                "dose-weight-at-boundary",
                "warning",
                f"Weight exactly {_fmt(ctx.weight[0])} kg: the sources differ. [V23] gives the "
                f"flat dose for '> {_fmt(p.num('weight-boundary-kg'))} kg' (per-m2 dosing at "
                f"{_fmt(ctx.weight[0])} kg); the US label gives it for '>= 45 kg'. This "
                f"protocol uses '{p.text('weight-boundary-comparison')}': "
                f"{'flat' if flat else 'per-m2'} dosing.",
                S4,
                tuple(ev),
                params,
            )
        if flat is False and ctx.bsa is None:
            missing.append("body surface area (8277-6) or height (8302-2) for Mosteller")
        rows = plan_course(ctx, run.content)
        if not rows:
            ctx.add(
                4,
                "dose-plan-not-derivable",
                "warning",
                f"Course {n} dose plan not derivable; missing or implausible: "
                + "; ".join(missing)
                + ".",
                S4,
                tuple(ev),
                params,
                course=n,
                start=run.start.isoformat() if run.start else None,
                missing=missing,
            )
            continue
        _stale(ctx, n, day0, used)
        for r in rows:
            d = run.date_of(r["day"])
            r["date"] = d.isoformat() if d else None
        bsa_txt = f"BSA {ctx.bsa[0]:.2f} m2 ({ctx.bsa[2]})" if ctx.bsa else "BSA unknown"
        weight_txt = f"weight {_fmt(ctx.weight[0]) if ctx.weight else '?'} kg"
        steps = []
        for s in run.content.steps:
            r = next(r for r in rows if r["step"] == s.action_id)
            steps.append(
                f"days {s.first_day}-{s.last_day}: {_fmt(r['ug_per_day'])} ug/d"
                + (
                    f" ({_fmt(r['ug_per_m2_per_day'])} ug/m2/d)"
                    if r["ug_per_m2_per_day"] is not None
                    else ""
                )
            )
        rule = (
            f"flat dose because {weight_txt} {p.text('weight-boundary-comparison')} "
            f"{_fmt(p.num('weight-boundary-kg'))} kg"
            if flat
            else f"per-m2 dose because {weight_txt} is not "
            f"{p.text('weight-boundary-comparison')} {_fmt(p.num('weight-boundary-kg'))} kg"
        )
        ctx.add(
            4,
            "dose-plan",
            "information",
            f"Course {n} blinatumomab plan ({rule} [V23]; {bsa_txt}): " + "; ".join(steps) + ".",
            S4,
            tuple(ev),
            params,
            course=n,
            flat=flat,
            bsa_m2=ctx.bsa[0] if ctx.bsa else None,
            days=rows,
        )
        capped = [r["day"] for r in rows if r["capped"]]
        if capped:
            ctx.add(
                4,
                "dose-cap-applied",
                "information",
                f"Course {n}: per-m2 dose capped at the label maximum on days {_ranges(capped)}.",
                "protocol.md §4 (US label cap)",
                tuple(ev),
                course=n,
                days=capped,
            )
        _actual_vs_plan(ctx, run, rows, flat is True)


def _ranges(days: list[int]) -> str:
    out: list[str] = []
    for d in sorted(days):
        if out and out[-1].split("-")[-1] == str(d - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{d}"
        else:
            out.append(str(d))
    return ", ".join(out)


def _per_m2_recorded(ma: Resource) -> Qty | None:
    def scan(elem: Any) -> Qty | None:
        if isinstance(elem, dict):
            for k, v in elem.items():
                if k in ("valueQuantity", "rateQuantity", "dose") and isinstance(v, dict):
                    q = quantity(v)
                    if q is not None and q.code in UCUM_PER_M2:
                        return q
                found = scan(v)
                if found is not None:
                    return found
        elif isinstance(elem, list):
            for v in elem:
                found = scan(v)
                if found is not None:
                    return found
        return None

    return scan({"extension": ma.get("extension"), "dosage": ma.get("dosage")})


UCUM_PER_M2 = ("ug/m2/d", "ug/(m2.d)")


def _basis(ma: Resource) -> str | None:
    for ext in ma.get("extension", []) or []:
        if ext.get("url") == MCODE_NORMALIZATION_BASIS:
            if has_code(ext.get("valueCodeableConcept"), SNOMED, SCT_BASIS_BSA):
                return "bsa"
            if has_code(ext.get("valueCodeableConcept"), SNOMED, SCT_BASIS_FIXED):
                return "fixed"
    return None


def _actual_vs_plan(ctx: Ctx, run: CourseRun, rows: list[dict[str, Any]], flat: bool) -> None:
    if run.start is None:
        return
    p = ctx.protocol
    n = run.content.number
    tol = p.num("dose-deviation-tolerance-pct")
    plan = {r["day"]: r for r in rows}
    given: dict[int, list[tuple[Resource, Decimal | None]]] = {}
    devs_m2: dict[tuple[str, float, float], list[int]] = {}
    for ma in run.administrations:
        start, end = _ma_span(ma, ctx.as_of)
        rate_q = quantity((ma.get("dosage") or {}).get("rateQuantity"))
        rate = convert(rate_q, "ug/d") if rate_q else None
        per_m2 = _per_m2_recorded(ma)
        basis = _basis(ma)
        if rate_q is not None and rate is None and rate_q.code not in UCUM_PER_M2:
            ctx.add(
                4,
                "dose-unit-not-understood",
                "error",
                f"Course {n}: blinatumomab rate {rate_q.value} {rate_q.code!r} is not a dose "
                "rate in ug/d; not compared (never guessed).",
                'contract.md "Units traps"',
                (ma,),
            )
        if flat and (per_m2 is not None or basis == "bsa"):
            what = f"{per_m2.value} {per_m2.code}" if per_m2 else "a BSA normalization basis"
            ctx.add(
                4,
                "dose-unit-mismatch",
                "error",
                f"Course {n}: {what} recorded for a patient over the weight boundary, who gets "
                "a flat dose in ug/d [V23]; per-m2 dosing above the boundary is a unit/dose "
                "mismatch ([S22] inconsistency), not accepted.",
                S4,
                (ma,),
                ("weight-boundary-kg", "weight-boundary-comparison"),
                course=n,
            )
        elif not flat and basis == "fixed":
            ctx.add(
                4,
                "dose-flat-under-boundary",
                "warning",
                f"Course {n}: fixed-dose basis recorded for a patient at or under the weight "
                "boundary, who gets per-m2 dosing [V23].",
                S4,
                (ma,),
                ("weight-boundary-kg", "weight-boundary-comparison"),
            )
        if start is None or end is None:
            continue
        for day in _covered_days(run, start, end):
            if day >= 1:
                given.setdefault(day, []).append((ma, rate))
                if not flat and per_m2 is not None and day in plan:
                    planned_m2 = plan[day]["ug_per_m2_per_day"]
                    if planned_m2 is not None and float(per_m2.value) != planned_m2:
                        key = (ctx.index.ref(ma), float(per_m2.value), planned_m2)
                        devs_m2.setdefault(key, []).append(day)
        if ma.get("status") in ("stopped", "on-hold"):
            stop_day = _covered_days(run, start, end)[-1]
            ctx.add(
                4,
                "dose-interrupted",
                "warning",
                f"Course {n}: infusion {ma.get('status')} on {end.date()} (course day {stop_day}).",
                S4,
                (ma,),
                course=n,
                day=stop_day,
            )
    _report_per_m2(ctx, n, devs_m2)
    last = min((ctx.as_of - run.start).days + 1, max(plan) if plan else 0)
    missed = [d for d in range(1, last + 1) if d in plan and d not in given]
    if missed:
        resumed = any(day > min(missed) for day in given)
        ctx.add(
            4,
            "dose-missed-days",
            "warning",
            f"Course {n}: no blinatumomab recorded on course days {_ranges(missed)}"
            + (" (infusion interrupted and resumed)" if resumed else "")
            + ".",
            S4,
            tuple(run.administrations),
            course=n,
            days=missed,
            resumed=resumed,
        )
    devs: dict[tuple[str, float, float], list[int]] = {}
    for day, items in sorted(given.items()):
        if day not in plan:
            continue
        planned = plan[day]["ug_per_day"]
        for ma, rate in items:
            if rate is None:
                continue
            size = float(rate) - planned
            if planned and abs(size) / planned * 100 > tol + 1e-9 and abs(size) >= 0.005:
                devs.setdefault((ctx.index.ref(ma), float(rate), planned), []).append(day)
    for (ref, given_rate, planned), days in devs.items():
        size = given_rate - planned
        _deviation(
            ctx,
            n,
            ref,
            days,
            given_rate,
            planned,
            "ug/d",
            f"{_fmt(given_rate)} ug/d given vs {_fmt(planned)} ug/d planned ({size:+.2f} ug/d, "
            f"{size / planned * 100:+.1f}%; over the dose-deviation-tolerance-pct {_fmt(tol)}%)",
            size=round(size, 2),
        )


def _report_per_m2(ctx: Ctx, n: int, devs_m2: dict[tuple[str, float, float], list[int]]) -> None:
    for (ref, given_m2, planned_m2), days in devs_m2.items():
        _deviation(
            ctx,
            n,
            ref,
            days,
            given_m2,
            planned_m2,
            "ug/m2/d",
            f"{_fmt(given_m2)} ug/m2/d prescribed vs {_fmt(planned_m2)} ug/m2/d in the protocol",
        )


def _deviation(
    ctx: Ctx,
    n: int,
    ref: str,
    days: list[int],
    given: float,
    planned: float,
    unit: str,
    what: str,
    **data: Any,
) -> None:
    """One dose deviation of an administration over course days: ``dose-deviation`` (ug/d) or
    ``dose-deviation-per-m2``, warnings; at or above ``dose-critical-above-plan-factor`` times
    the plan, ``dose-far-above-plan``, an error (a placeholder: protocol.md §4 gives the planned
    doses, not a threshold for a dangerous overdose)."""
    factor = ctx.protocol.num("dose-critical-above-plan-factor")
    far = planned > 0 and given >= factor * planned
    code = "dose-deviation" if unit == "ug/d" else "dose-deviation-per-m2"
    params: tuple[str, ...] = ("dose-deviation-tolerance-pct",) if unit == "ug/d" else ()
    message = f"Course {n} days {_ranges(days)}: {what}"
    if far:
        code = "dose-far-above-plan"
        params += ("dose-critical-above-plan-factor",)
        message += (
            f"; {given / planned:.1f} x the plan, at or over the "
            f"dose-critical-above-plan-factor {_fmt(factor)}"
        )
    ctx.add(
        4,
        code,
        "error" if far else "warning",
        message + ".",
        S4 + ("; critical factor: placeholder parameter" if far else ""),
        (),
        params,
        course=n,
        days=days,
        given=given,
        planned=planned,
        unit=unit,
        **data,
    )
    ctx.findings[-1] = _with_evidence(ctx.findings[-1], (ref,))


def _with_evidence(f: Finding, refs: tuple[str, ...]) -> Finding:
    return Finding(
        f.code, f.severity, f.message, f.source, f.rule, f.patient, refs, f.parameters, f.data
    )
