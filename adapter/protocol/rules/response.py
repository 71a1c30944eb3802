"""Rule 6: response, MRD and the next step (protocol.md §5; §2 and §4 where it leans on them).

Reads MRD as a fraction against the threshold (:func:`read_mrd`, never guessing a unit) and
decides MRD-negative, MRD-positive after a course or non-responder, and the next step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from adapter.fhir import SNOMED
from adapter.protocol.bundle import Qty, has_code, quantity
from adapter.protocol.facts import SCT_FULL_REMISSION, SCT_NOT_IN_REMISSION
from adapter.protocol.rules.context import S2, S4, S5, Ctx


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


def rule_response(ctx: Ctx) -> None:
    p = ctx.protocol
    thr = Decimal(str(p.num("mrd-threshold")))
    params = ("mrd-threshold", "mrd-response-earliest-course-day", "second-course-gap-days")
    length = p.int_("course-length-days")
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
        for ds in ctx.facts.disease_status:
            if ds.date is None or ds.date < end or (nxt is not None and ds.date >= nxt):
                continue
            value = ds.resource.get("valueCodeableConcept")
            if has_code(value, SNOMED, SCT_FULL_REMISSION):
                ctx.remission = ctx.remission or ds.date
            elif has_code(value, SNOMED, *SCT_NOT_IN_REMISSION):
                ctx.non_responder = ctx.non_responder or ds.date
                if ctx.relapse_number == 1 and ctx.time_point == "late":
                    ctx.add(
                        2,
                        "hsct-mandatory",
                        "information",
                        "Allogeneic HSCT once MRD-negative is mandatory: late first relapse that "
                        "did not respond.",
                        S2,
                        (ds.resource,),
                        category="late first relapse, no response",
                    )
                ctx.add(
                    6,
                    "non-responder",
                    "warning",
                    f"No remission after blinatumomab course {n} (disease status {ds.date}): "
                    "non-responder (refractory).",
                    S5,
                    (ds.resource,),
                    course=n,
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
            if m.date is not None:
                ctx.remission = min(ctx.remission or m.date, m.date)
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
