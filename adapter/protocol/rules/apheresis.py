"""Rule 3: autologous CD3+ lymphocyte apheresis (protocol.md §3).

Which days the collection criteria are checked on (:func:`apheresis_days`) and the check on each
day: the counts of that day and before, read against the content's thresholds.
"""

from __future__ import annotations

from decimal import Decimal

from adapter.fhir import Resource
from adapter.protocol.bundle import Date
from adapter.protocol.facts import LOINC_BLOOD_BLASTS, LOINC_CD3, LOINC_HB, LOINC_PLATELETS
from adapter.protocol.rules.context import S3, Ctx, _conv, _fmt


def apheresis_days(
    ctx: Ctx, on: Date | None = None
) -> list[tuple[Date, str, str, Resource | None]]:
    """The days the apheresis check runs on: ``(day, basis, why, procedure)``.

    protocol.md §3: the collection criteria hold at the start of collection, so the check reads
    the counts of that day and before.  The day is, in this order: an explicit ``on`` (the
    caller's ``apheresis_date``, basis ``explicit``); else the date of every CD3+ apheresis
    Procedure (``cd3-apheresis``, contract.md) of the bundle dated on or before the as-of date
    (basis ``apheresis-procedure``: the pre-collection counts the apheresis mapper emits are
    dated at the collection); else the as-of date (basis ``as-of``), said in the finding.
    """
    if on is not None:
        return [(on, "explicit", "the apheresis date given with the request", None)]
    done = [
        (d.date, d.resource)
        for d in ctx.facts.apheresis
        if d.date is not None and d.date <= ctx.as_of
    ]
    if done:
        return [
            (
                day,
                "apheresis-procedure",
                "the date of the CD3+ apheresis Procedure (cd3-apheresis) in the bundle",
                proc,
            )
            for day, proc in done
        ]
    return [
        (
            ctx.as_of,
            "as-of",
            "no dated CD3+ apheresis Procedure (cd3-apheresis) on or before the evaluation "
            "date in the bundle and no apheresis date given, so the evaluation date",
            None,
        )
    ]


def rule_apheresis(ctx: Ctx, on: Date | None = None) -> None:
    """Rule 3 on each day of :func:`apheresis_days` (``on`` defaults to ``ctx.apheresis_date``)."""
    p = ctx.protocol
    if not p.flag("cd3-lymphocytes"):
        ctx.add(
            3,
            "apheresis-not-in-protocol",
            "information",
            f"{p.title}: no autologous CD3+ lymphocytes, no apheresis.",
            S3,
            params=("cd3-lymphocytes",),
        )
        return
    for day, basis, why, proc in apheresis_days(ctx, on or ctx.apheresis_date):
        _apheresis_on(ctx, day, basis, why, proc)


def _apheresis_on(ctx: Ctx, day: Date, basis: str, why: str, proc: Resource | None) -> None:
    p = ctx.protocol
    when = f" Date used: {day}, {why}."
    names: tuple[str, ...] = (
        "apheresis-cd3-min-no-blasts-per-ul",
        "apheresis-cd3-min-moderate-blasts-per-ul",
        "apheresis-cd3-min-high-blasts-per-ul",
        "apheresis-moderate-blasts-lower-pct",
        "apheresis-moderate-blasts-upper-pct",
        "apheresis-blasts-nogo-pct",
    )
    cd3 = ctx.facts.latest(LOINC_CD3, day)
    blasts = ctx.facts.latest(LOINC_BLOOD_BLASTS, day)
    cd3_v = _conv(ctx, 3, cd3, "/uL")
    bl_v = _conv(ctx, 3, blasts, "%")
    missing = []
    if cd3_v is None:
        missing.append("CD3+ count in blood (8122-4, /uL)")
    if bl_v is None:
        missing.append("blood blasts (26446-5, %)")
    blokhin = p.flag("apheresis-blood-counts-required")
    hb = plt = None
    hb_v = plt_v = None
    if blokhin:
        names += ("apheresis-hb-min-g-l", "apheresis-platelets-min-10e9-l")
        hb = ctx.facts.latest(LOINC_HB, day)
        plt = ctx.facts.latest(LOINC_PLATELETS, day)
        hb_v = _conv(ctx, 3, hb, "g/L")
        plt_v = _conv(ctx, 3, plt, "10*9/L")
        if hb_v is None:
            missing.append("hemoglobin (718-7, g/L)")
        if plt_v is None:
            missing.append("platelets (777-3, 10*9/L)")
    ev = (proc, *(d.resource if d else None for d in (cd3, blasts, hb, plt)))
    src = S3 + (" and [S22]" if blokhin else "")

    def not_derivable() -> None:
        ctx.add(
            3,
            "apheresis-not-derivable",
            "warning",
            f"Apheresis eligibility on {day} not derivable; missing: "
            + "; ".join(missing)
            + "."
            + when,
            src,
            ev,
            names,
            date=day.isoformat(),
            date_basis=basis,
            missing=missing,
        )

    if cd3_v is None or bl_v is None:
        not_derivable()
        return
    nogo = p.num("apheresis-blasts-nogo-pct")
    lo, hi = (
        p.num("apheresis-moderate-blasts-lower-pct"),
        p.num("apheresis-moderate-blasts-upper-pct"),
    )
    reasons: list[str] = []
    if bl_v >= Decimal(str(nogo)):
        threshold = None
        reasons.append(f"circulating blasts {bl_v}% not below {_fmt(nogo)}%")
    elif bl_v <= Decimal(str(lo)):
        threshold = p.num("apheresis-cd3-min-no-blasts-per-ul")
    elif bl_v < Decimal(str(hi)):
        threshold = p.num("apheresis-cd3-min-moderate-blasts-per-ul")
    else:
        threshold = p.num("apheresis-cd3-min-high-blasts-per-ul")
    if threshold is not None and cd3_v < Decimal(str(threshold)):
        reasons.append(f"CD3+ {cd3_v}/uL below {_fmt(threshold)}/uL required with blasts {bl_v}%")
    if blokhin:
        if hb_v is not None and not hb_v > p.dec("apheresis-hb-min-g-l"):
            reasons.append(f"hemoglobin {hb_v} g/L not > {_fmt(p.num('apheresis-hb-min-g-l'))} g/L")
        if plt_v is not None and not plt_v > p.dec("apheresis-platelets-min-10e9-l"):
            reasons.append(
                f"platelets {plt_v} x10^9/L not > "
                f"{_fmt(p.num('apheresis-platelets-min-10e9-l'))} x10^9/L"
            )
        if hb_v is None or plt_v is None:
            not_derivable()
            return
    data = {
        "date": day.isoformat(),
        "date_basis": basis,
        "cd3_per_ul": float(cd3_v),
        "blood_blasts_pct": float(bl_v),
        "required_cd3_per_ul": threshold,
    }
    if reasons:
        ctx.add(
            3,
            "apheresis-not-eligible",
            "warning",
            f"No CD3+ apheresis on {day}: " + "; ".join(reasons) + "." + when,
            src,
            ev,
            names,
            reasons=reasons,
            **data,
        )
    else:
        extra = " Check coagulation the day before; no mobilization [S22]." if blokhin else ""
        ctx.add(
            3,
            "apheresis-eligible",
            "information",
            f"CD3+ apheresis possible on {day}: CD3+ {cd3_v}/uL >= {_fmt(threshold)}/uL with "
            f"blood blasts {bl_v}%.{extra}{when}",
            src,
            ev,
            names,
            **data,
        )
