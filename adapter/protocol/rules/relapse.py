"""Rule 1: relapse classification (protocol.md §2).

Indexes the relapse evaluated and its number, then derives the time point (very early / early /
late, with calendar-month arithmetic and a stated fallback), the site (isolated or combined
marrow / extramedullary, from the marrow blasts near the relapse) and the BFM stratum from the
content's stratum rows; each says what is missing when it cannot be derived.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from adapter.fhir import SNOMED, Resource
from adapter.protocol.bundle import Date, add_months, codings, convert, months_between, quantity
from adapter.protocol.facts import LOINC_MARROW_BLASTS, SCT_BONE_MARROW, SCT_CNS, SCT_TESTIS, Dated
from adapter.protocol.model import FindingSeverity
from adapter.protocol.rules.context import S2, Ctx, _fmt


def _index_relapse(ctx: Ctx) -> None:
    """The relapse the course treats: the latest relapse dated on or before the first course
    start (or the as-of date); its number is its position in onset order."""
    anchor = ctx.courses[0].start if ctx.courses and ctx.courses[0].start else ctx.as_of
    dated = [r for r in ctx.facts.relapses if r.date is not None and r.date <= anchor]
    if dated:
        ctx.relapse = dated[-1]
        ctx.relapse_number = ctx.facts.relapses.index(ctx.relapse) + 1
    elif ctx.facts.relapses:
        ctx.relapse = ctx.facts.relapses[0]
        ctx.relapse_number = 1


def rule_relapse(ctx: Ctx) -> None:
    _index_relapse(ctx)
    rel = ctx.relapse
    if rel is None:
        ctx.add(
            1,
            "relapse-none",
            "warning",
            "No relapse Condition (B-ALL 277571004, clinicalStatus relapse) for this patient: "
            "relapse rules not evaluated.",
            S2,
        )
        return
    ctx.summary["relapse_number"] = ctx.relapse_number
    ctx.add(
        1,
        "relapse-number",
        "information",
        f"Relapse number {ctx.relapse_number} (order of relapse onsets; "
        f"{len(ctx.facts.relapses)} relapse(s) recorded).",
        S2,
        tuple(r.resource for r in ctx.facts.relapses),
        relapse_number=ctx.relapse_number,
    )
    _time_point(ctx, rel)
    _site(ctx, rel)
    _stratum(ctx)


def _time_point(ctx: Ctx, rel: Dated) -> None:
    p = ctx.protocol
    dx = ctx.facts.diagnosis
    eot = ctx.facts.end_of_therapy
    missing = []
    if rel.date is None:
        missing.append("relapse date (Condition.onset[x])")
    if dx is None or dx.date is None:
        missing.append("date of initial diagnosis (B-ALL Condition.onset[x])")
    if missing:
        ctx.add(
            1,
            "relapse-time-point-not-derivable",
            "warning",
            "Relapse time point not derivable; missing: " + "; ".join(missing) + ".",
            S2,
            (rel.resource, dx.resource if dx else None),
            missing=missing,
        )
        return
    if rel.date is None or dx is None or dx.date is None:  # pragma: no cover - checked above
        return
    very_early = p.int_("relapse-very-early-months")
    months = months_between(dx.date, rel.date)
    names: tuple[str, ...] = ("relapse-very-early-months",)
    evidence: tuple[Resource | None, ...] = (rel.resource, dx.resource)
    data: dict[str, Any] = {
        "diagnosis": dx.date.isoformat(),
        "relapse": rel.date.isoformat(),
        "months_from_diagnosis": round(months, 2),
    }
    if rel.date < add_months(dx.date, very_early):
        tp, why = "very-early", f"< {very_early} months after initial diagnosis"
    elif eot is not None and eot.date is not None:
        cut = p.int_("relapse-late-after-eot-months")
        op = p.text("relapse-late-after-eot-comparison")
        names += ("relapse-late-after-eot-months", "relapse-late-after-eot-comparison")
        evidence += (eot.resource,)
        data["end_of_therapy"] = eot.date.isoformat()
        data["months_from_end_of_therapy"] = round(months_between(eot.date, rel.date), 2)
        boundary = add_months(eot.date, cut)
        late = rel.date >= boundary if op == ">=" else rel.date > boundary
        tp = "late" if late else "early"
        neg = {">=": "<", ">": "<="}.get(op, "not " + op)
        why = (
            f"{op} {cut} months after the end of front-line therapy ({eot.date})"
            if late
            else f">= {very_early} months after diagnosis and {neg} {cut} months after the end "
            f"of front-line therapy ({eot.date})"
        )
        if rel.date == boundary:
            ctx.add(
                1,
                "relapse-time-point-boundary",
                "warning",
                f"Relapse exactly {cut} months after the end of front-line therapy: protocol.md "
                f"gives 'late: > {cut} months' [V23] and 'early: < {cut} months' (BFM); this "
                f"protocol classifies it with '{op}' as {tp}.",
                S2,
                evidence,
                ("relapse-late-after-eot-months", "relapse-late-after-eot-comparison"),
            )
    else:
        cut = p.int_("relapse-fallback-late-months")
        names += ("relapse-fallback-late-months",)
        late = rel.date >= add_months(dx.date, cut)
        tp = "late" if late else "early"
        why = (
            f"{'>=' if late else '<'} {cut} months after initial diagnosis: the end-of-therapy "
            f"date is unknown, so the {cut}-month cut from diagnosis stands in"
        )
        ctx.add(
            1,
            "relapse-time-point-fallback",
            "warning",
            f"End of front-line therapy unknown (no frontline-therapy Procedure with "
            f"performedPeriod.end): the {cut}-month cut from diagnosis was used.",
            S2,
            evidence,
            ("relapse-fallback-late-months",),
        )
    ctx.time_point = tp
    ctx.summary["time_point"] = tp
    data["time_point"] = tp
    label = tp.replace("-", " ")
    ctx.add(
        1,
        "relapse-time-point",
        "information",
        f"{label.capitalize()} relapse: {why} (relapse {rel.date}, diagnosis {dx.date}, "
        f"{months:.1f} months).",
        S2,
        evidence,
        names,
        **data,
    )


def _em_sites(rel: Resource) -> tuple[bool, list[str]]:
    marrow = False
    em: list[str] = []
    for site in rel.get("bodySite", []) or []:
        for system, code in codings(site):
            if system != SNOMED:
                continue
            if code == SCT_BONE_MARROW:
                marrow = True
            elif code in SCT_CNS:
                em.append("CNS")
            elif code == SCT_TESTIS:
                em.append("testis")
            else:
                em.append("extramedullary")
    return marrow, sorted(set(em))


def _marrow_blasts_at(ctx: Ctx, day: Date | None) -> tuple[Decimal | None, Dated | None]:
    if day is None:
        return None, None
    window = ctx.protocol.int_("relapse-marrow-window-days")
    best: tuple[int, Dated] | None = None
    for d in ctx.facts.observations(LOINC_MARROW_BLASTS):
        if d.date is None or abs((d.date - day).days) > window:
            continue
        dist = abs((d.date - day).days)
        if best is None or dist < best[0]:
            best = (dist, d)
    if best is None:
        return None, None
    return _pct(ctx, best[1]), best[1]


def _pct(ctx: Ctx, d: Dated) -> Decimal | None:
    q = quantity(d.resource.get("valueQuantity"))
    if q is None:
        return None
    v = convert(q, "%")
    if v is None:
        ctx.add(
            1,
            "unit-not-understood",
            "error",
            f"Value {q.value} with unit {q.code!r} is not a percentage; not used.",
            'contract.md "Units traps"',
            (d.resource,),
        )
    return v


def _site(ctx: Ctx, rel: Dated) -> None:
    p = ctx.protocol
    marrow, em = _em_sites(rel.resource)
    blasts, bobs = _marrow_blasts_at(ctx, rel.date)
    iso_min = p.num("site-isolated-marrow-min-blasts-pct")
    comb_min = p.num("site-combined-marrow-min-blasts-pct")
    params = (
        "site-isolated-marrow-min-blasts-pct",
        "site-combined-marrow-min-blasts-pct",
        "relapse-marrow-window-days",
    )
    ev = (rel.resource, bobs.resource if bobs else None)
    notes: list[str] = []
    site: str | None = None
    if em:
        if blasts is not None:
            site = "combined" if blasts > Decimal(str(comb_min)) else "isolated-extramedullary"
            if site == "isolated-extramedullary" and marrow:
                notes.append(
                    f"marrow recorded as a site but marrow blasts {blasts}% are not > "
                    f"{_fmt(comb_min)}%"
                )
        else:
            site = "combined" if marrow else "isolated-extramedullary"
            notes.append("marrow blast count missing: site taken from Condition.bodySite alone")
    elif blasts is not None:
        if blasts >= Decimal(str(iso_min)):
            site = "isolated-marrow"
        else:
            notes.append(
                f"no extramedullary site recorded and marrow blasts {blasts}% < {_fmt(iso_min)}%"
            )
    elif marrow:
        site = "isolated-marrow"
        notes.append("marrow blast count missing: site taken from Condition.bodySite alone")
    if site is None:
        missing = [] if blasts is not None else ["marrow blasts (11150-0) near the relapse date"]
        if not marrow and not em:
            missing.append("relapse sites (Condition.bodySite)")
        ctx.add(
            1,
            "relapse-site-not-derivable",
            "warning",
            "Relapse site not derivable: " + "; ".join(missing + notes) + ".",
            S2,
            ev,
            params,
            missing=missing,
        )
        return
    ctx.site = site
    label = _site_label(site, marrow or site != "isolated-extramedullary", em)
    ctx.summary["site"] = site
    ctx.summary["site_label"] = label
    sev: FindingSeverity = "warning" if notes else "information"
    msg = f"Site: {site.replace('-', ' ')} ({label}"
    msg += f"; marrow blasts {blasts}%)" if blasts is not None else ")"
    if notes:
        msg += "; " + "; ".join(notes)
    ctx.add(
        1,
        "relapse-site",
        sev,
        msg + ".",
        S2,
        ev,
        params,
        site=site,
        label=label,
        extramedullary=em,
        marrow_blasts_pct=None if blasts is None else float(blasts),
    )


def _site_label(site: str, marrow: bool, em: list[str]) -> str:
    """The site combination in the words of protocol.md §2 / §8 (Table 1)."""
    if site == "isolated-marrow":
        return "isolated BM"
    parts = (["BM"] if site == "combined" else []) + [
        s for s in ("extramedullary", "CNS", "testis") if s in em
    ]
    if parts == ["CNS"]:
        return "isolated CNS"
    if parts == ["testis"]:
        return "testicular"
    return "+".join("testicular" if s == "testis" else s for s in parts)


def _stratum(ctx: Ctx) -> None:
    p = ctx.protocol
    recorded: tuple[str, Dated] | None = None
    for d in ctx.facts.risk:
        value = d.resource.get("valueCodeableConcept")
        codes = [c for _, c in codings(value)] + [str(d.resource.get("valueString", ""))]
        for c in codes:
            if c in ("S1", "S2", "S3", "S4", "S5"):
                recorded = (c, d)
    missing: list[str] = []
    if ctx.facts.diagnosis is None and not ctx.facts.relapses:
        missing.append("B-lineage diagnosis (Condition 277571004)")
    if ctx.relapse_number is not None and ctx.relapse_number > 1:
        missing.append(
            f"a first relapse (this is relapse {ctx.relapse_number}; the BFM strata "
            "are defined for first relapses)"
        )
    if ctx.time_point is None:
        missing.append("relapse time point")
    if ctx.site is None:
        missing.append("relapse site")
    derived: str | None = None
    if not missing:
        derived = next(
            (s for tp, site, s in p.strata if tp == ctx.time_point and site == ctx.site), None
        )
        if derived is None:
            missing.append(
                f"a stratum row for {ctx.time_point} / {ctx.site} in the protocol content"
            )
    src = "protocol.md §2 (ALL-REZ BFM strata; table terminology.md §8)"
    ev = (ctx.relapse.resource if ctx.relapse else None,)
    if derived is not None:
        ctx.summary["stratum"] = derived
        ctx.add(
            1,
            "bfm-stratum",
            "information",
            f"BFM stratum {derived}: {ctx.time_point} {str(ctx.site).replace('-', ' ')} "
            "B-lineage first relapse.",
            src,
            ev,
            stratum=derived,
        )
    else:
        ctx.add(
            1,
            "bfm-stratum-not-derivable",
            "warning",
            "BFM stratum not derivable; missing: " + "; ".join(missing) + ".",
            src,
            ev,
            missing=missing,
        )
    if recorded is not None:
        value, d = recorded
        if value == "S5":
            ctx.summary["stratum"] = "S5"
            ctx.add(
                1,
                "bfm-stratum-recorded",
                "information",
                "Recorded stratum S5 carried as given (ALL-REZ 2016 group the paper does not "
                "define; never derived).",
                S2,
                (d.resource,),
                stratum="S5",
            )
        elif derived is not None and value != derived:
            ctx.add(
                1,
                "bfm-stratum-mismatch",
                "warning",
                f"Recorded stratum {value} differs from the derived stratum {derived}.",
                src,
                (d.resource, *ev),
                recorded=value,
                derived=derived,
            )
        elif derived is None:
            ctx.summary["stratum"] = value
            ctx.add(
                1,
                "bfm-stratum-recorded",
                "information",
                f"Recorded stratum {value} carried as given.",
                src,
                (d.resource,),
                stratum=value,
            )
