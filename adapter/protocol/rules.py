"""The protocol rules 1-8 of issue 7, each citing protocol.md, over :class:`PatientFacts`.

Why named rules and not FHIRPath conditions: the recommendation PlanDefinitions reference their
conditions by name (``condition.expression.language = text/x-ball-fhir-rule``, the way CPG
content names a CQL ``define`` with ``text/cql-identifier``), and the names are implemented here.
The decisions join several resources (relapse Condition, end-of-therapy Procedure, MRD and
marrow Observations), do calendar-month arithmetic with a stated fallback, normalise units with
exact factors and must *explain what is missing* when a fact is absent; FHIRPath over a Bundle
would express little of that, fhirpathpy mutates its input, and it would dominate the cost of
evaluating 10,000 patients.  The numbers stay in the content: every threshold is read from the
loaded :class:`~adapter.protocol.content.Protocol`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from adapter.fhir import SNOMED, Resource
from adapter.protocol.bundle import (
    BundleIndex,
    Date,
    Qty,
    add_months,
    codings,
    completed_years,
    convert,
    has_code,
    months_between,
    parse_date,
    parse_instant,
    quantity,
)
from adapter.protocol.content import Course, Protocol, fusion_names
from adapter.protocol.cytogenetics import Cytogenetics, FusionCall, read_cytogenetics
from adapter.protocol.facts import (
    LOINC_BLOOD_BLASTS,
    LOINC_BSA,
    LOINC_CD3,
    LOINC_HB,
    LOINC_HEIGHT,
    LOINC_MARROW_BLASTS,
    LOINC_PLATELETS,
    LOINC_WEIGHT,
    MCODE_NORMALIZATION_BASIS,
    SCT_BASIS_BSA,
    SCT_BASIS_FIXED,
    SCT_BONE_MARROW,
    SCT_CNS,
    SCT_FULL_REMISSION,
    SCT_NOT_IN_REMISSION,
    SCT_TESTIS,
    Dated,
    PatientFacts,
)
from adapter.protocol.model import Finding, FindingSeverity

S2 = "protocol.md §2 [V23]"
S1 = "protocol.md §1 [V23]"
S3 = "protocol.md §3 [V23]"
S4 = "protocol.md §4 [V23]"
S5 = "protocol.md §5 [V23]"
S6 = "protocol.md §6 [V23]"
S7 = "protocol.md §7 [V23]"


def _cmp(value: float | Decimal, op: str, bound: float | Decimal) -> bool:
    v, b = Decimal(str(value)), Decimal(str(bound))
    return {">": v > b, ">=": v >= b, "<": v < b, "<=": v <= b}[op]


def _fmt(x: float | Decimal | None, digits: int = 2) -> str:
    if x is None:
        return "?"
    f = float(x)
    return f"{f:.{digits}f}".rstrip("0").rstrip(".") if not f.is_integer() else str(int(f))


@dataclass
class CourseRun:
    """A course as given: its content, its dates and the blinatumomab administrations in it."""

    content: Course
    start: Date | None
    administrations: list[Resource] = field(default_factory=list)
    #: start instant of the first bag: course day d is [t0 + (d-1) days, t0 + d days)
    t0: dt.datetime | None = None

    def date_of(self, day: int) -> Date | None:
        return None if self.start is None else self.start + dt.timedelta(days=day - 1)

    def day_of(self, date: Date) -> int | None:
        return None if self.start is None else (date - self.start).days + 1


@dataclass
class Ctx:
    """What every rule sees for one patient."""

    protocol: Protocol
    index: BundleIndex
    facts: PatientFacts
    as_of: Date
    #: the caller's explicit apheresis date (rule 3, :func:`apheresis_days`)
    apheresis_date: Date | None = None
    findings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    relapse: Dated | None = None
    relapse_number: int | None = None
    time_point: str | None = None
    site: str | None = None
    courses: list[CourseRun] = field(default_factory=list)
    weight: tuple[Decimal, Dated] | None = None
    bsa: tuple[float, tuple[str, ...], str] | None = None
    non_responder: Date | None = None
    remission: Date | None = None
    mrd_after: dict[int, str] = field(default_factory=dict)
    _cytogenetics: Cytogenetics | None = None

    @property
    def cytogenetics(self) -> Cytogenetics:
        """The patient's fusions, read once with the protocol's gene knowledge."""
        if self._cytogenetics is None:
            self._cytogenetics = read_cytogenetics(self.facts, self.protocol.knowledge)
        return self._cytogenetics

    def add(
        self,
        rule: int,
        code: str,
        severity: FindingSeverity,
        message: str,
        source: str,
        evidence: tuple[Resource | None, ...] = (),
        params: tuple[str, ...] = (),
        **data: Any,
    ) -> Finding:
        f = Finding(
            code=code,
            severity=severity,
            message=message,
            source=source,
            rule=rule,
            patient=self.facts.ref,
            evidence=self.index.refs(evidence),
            parameters=self.protocol.used(*params),
            data=data,
        )
        self.findings.append(f)
        return f


# ---------------------------------------------------------------- rule 1: relapse (protocol.md §2)


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


# ---------------------------------------------------------------- rule 2: eligibility (§1, §2)


def rule_eligibility(ctx: Ctx) -> None:
    p = ctx.protocol
    f = ctx.facts
    on = ctx.relapse.date if ctx.relapse and ctx.relapse.date else ctx.as_of
    lo, hi = p.int_("age-min-years"), p.int_("age-max-years")
    if f.birth_date is None:
        ctx.add(
            2,
            "eligibility-age-not-derivable",
            "warning",
            "Age not derivable: Patient.birthDate missing or partial.",
            S1,
            (f.patient,),
        )
    else:
        age = completed_years(f.birth_date, on)
        ctx.summary["age_years"] = round((on - f.birth_date).days / 365.25, 2)
        ok = lo <= age <= hi
        ctx.add(
            2,
            "eligibility-age",
            "information" if ok else "warning",
            f"Age {age} completed years on {on}: {'within' if ok else 'OUTSIDE'} the "
            f"{lo}-{hi} years of the protocol.",
            S1,
            (f.patient,),
            ("age-min-years", "age-max-years"),
            age_years=age,
            eligible=ok,
        )
    b = f.diagnosis or (f.relapses[0] if f.relapses else None)
    if b is not None:
        ctx.add(
            2,
            "eligibility-b-lineage",
            "information",
            "B-lineage ALL (SNOMED 277571004) recorded.",
            S1,
            (b.resource,),
        )
    else:
        ctx.add(
            2,
            "eligibility-b-lineage-unknown",
            "warning",
            "No B-ALL Condition (SNOMED 277571004): B lineage not shown.",
            S1,
        )
    if ctx.relapse_number is not None and ctx.relapse_number > 2:
        ctx.add(
            2,
            "eligibility-relapse-number",
            "warning",
            f"Relapse {ctx.relapse_number}: the protocol covers first and second relapses.",
            S1,
        )
    _cytogenetics_notes(ctx)
    excl, present = _listed_fusions_present(
        ctx,
        2,
        "eligibility-ph-positive",
        "error",
        "exclusion-fusions",
        S1,
        " present{where}: Ph-positive disease was not part of the cohort (exclusion).",
    )
    for name, calls in ctx.cytogenetics.by_fusion(False).items():
        if name in excl and name not in present:
            ctx.add(
                2,
                "eligibility-ph-negative",
                "information",
                f"{name} tested absent{_where(calls)}: no Ph-positive exclusion.",
                S1,
                tuple(c.resource for c in calls),
                ("exclusion-fusions",),
                fusion=name,
                dates=[c.date.isoformat() for c in calls if c.date],
            )
    _hsct_mandatory(ctx)


def _listed_fusions_present(
    ctx: Ctx,
    rule: int,
    code: str,
    severity: FindingSeverity,
    param: str,
    source: str,
    message: str,
) -> tuple[list[str], dict[str, list[FusionCall]]]:
    """One finding per fusion of the list parameter ``param`` reported present; ``message``
    follows ``<translocation> <fusion>`` and may use ``{where}`` (:func:`_where`).  Returns the
    listed fusion names and all fusions reported present."""
    listed = fusion_names(ctx.protocol.text(param))
    present = ctx.cytogenetics.by_fusion(True)
    for name, calls in present.items():
        if name in listed:
            ctx.add(
                rule,
                code,
                severity,
                f"{calls[0].translocation} {name}" + message.format(where=_where(calls)),
                source,
                tuple(c.resource for c in calls),
                (param,),
                fusion=name,
                iscn=[c.iscn for c in calls if c.iscn],
            )
    return listed, present


def _where(calls: list[FusionCall]) -> str:
    """`` (karyotype der(22)t(9;22)(q34;q11.2), 2021-01-05)`` for a message."""
    parts = []
    for c in calls:
        what = {"karyotype": "karyotype", "iscn-component": "finding ISCN"}.get(c.via, "finding")
        text = f"{what} {c.iscn}" if c.iscn else what
        parts.append(f"{text}{' (questionable)' if c.uncertain else ''}, {c.date or 'undated'}")
    return " (" + "; ".join(dict.fromkeys(parts)) + ")"


def _cytogenetics_notes(ctx: Ctx) -> None:
    """Cytogenetics results that could not be read into named fusions (adapter/protocol/
    cytogenetics.py): said once, before the rules that read the fusions."""
    for note in ctx.cytogenetics.notes:
        ctx.add(
            2,
            "cytogenetics-not-read",
            "warning",
            note.message,
            'contract.md "Fusions the adapter must name"; ISCN 2020',
            (note.resource,),
            iscn=note.iscn,
            error=note.error,
        )


def _hsct_mandatory(ctx: Ctx) -> None:
    why = None
    if ctx.relapse_number is not None and ctx.relapse_number >= 2:
        why = "second or later relapse"
    elif ctx.relapse_number == 1 and ctx.time_point in ("very-early", "early"):
        why = f"{ctx.time_point.replace('-', ' ')} first relapse"
    if why:
        ctx.add(
            2,
            "hsct-mandatory",
            "information",
            f"Allogeneic HSCT once MRD-negative is mandatory: {why}.",
            S2,
            (ctx.relapse.resource if ctx.relapse else None,),
            category=why,
        )


# ---------------------------------------------------------------- rule 3: apheresis (§3)


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
        if hb_v is not None and not hb_v > Decimal(str(p.num("apheresis-hb-min-g-l"))):
            reasons.append(f"hemoglobin {hb_v} g/L not > {_fmt(p.num('apheresis-hb-min-g-l'))} g/L")
        if plt_v is not None and not plt_v > Decimal(str(p.num("apheresis-platelets-min-10e9-l"))):
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


def _conv(ctx: Ctx, rule: int, d: Dated | None, unit: str) -> Decimal | None:
    if d is None:
        return None
    q = quantity(d.resource.get("valueQuantity"))
    if q is None:
        return None
    v = convert(q, unit)
    if v is None:
        ctx.add(
            rule,
            "unit-not-understood",
            "error",
            f"Value {q.value} with unit {q.code!r} cannot be read as {unit}; not used "
            "(never guessed).",
            'contract.md "Units traps"',
            (d.resource,),
        )
    return v


# ---------------------------------------------------------------- courses from administrations


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


# ---------------------------------------------------------------- rule 4: dose plan (§4)


def _weight_bsa(ctx: Ctx, day: Date) -> tuple[list[str], list[Resource]]:
    f = ctx.facts
    missing: list[str] = []
    ev: list[Resource] = []
    w = f.latest(LOINC_WEIGHT, day)
    wv = _conv(ctx, 4, w, "kg")
    if w is None or wv is None:
        missing.append("body weight (29463-7, kg)")
    else:
        ctx.weight = (wv, w)
        ev.append(w.resource)
    b = f.latest(LOINC_BSA, day)
    bv = _conv(ctx, 4, b, "m2")
    if b is not None and bv is not None:
        ctx.bsa = (float(bv), (ctx.index.ref(b.resource),), "recorded BSA (8277-6)")
        ev.append(b.resource)
    else:
        h = f.latest(LOINC_HEIGHT, day)
        hv = _conv(ctx, 4, h, "cm")
        if h is not None and hv is not None and wv is not None and w is not None:
            bsa = math.sqrt(float(hv) * float(wv) / 3600)
            ctx.bsa = (
                bsa,
                (ctx.index.ref(h.resource), ctx.index.ref(w.resource)),
                "Mosteller sqrt(height cm x weight kg / 3600)",
            )
            ev.append(h.resource)
    return missing, ev


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
    params = ("weight-boundary-kg", "weight-boundary-comparison", "course-length-days")
    runs = ctx.courses or [CourseRun(p.courses[1], None)]
    for run in runs:
        day0 = run.start or ctx.as_of
        ctx.weight, ctx.bsa = None, None
        missing, ev = _weight_bsa(ctx, day0)
        n = run.content.number
        flat = _flat(ctx)
        if (
            flat is not None
            and ctx.weight is not None
            and ctx.weight[0] == Decimal(str(p.num("weight-boundary-kg")))
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
                f"Course {n} dose plan not derivable; missing: " + "; ".join(missing) + ".",
                S4,
                tuple(ev),
                params,
                course=n,
                missing=missing,
            )
            continue
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
        ctx.add(
            4,
            "dose-deviation",
            "warning",
            f"Course {n} days {_ranges(days)}: {_fmt(given_rate)} ug/d given vs "
            f"{_fmt(planned)} ug/d planned ({size:+.2f} ug/d, {size / planned * 100:+.1f}%; "
            f"over the dose-deviation-tolerance-pct {_fmt(tol)}%).",
            S4,
            (),
            ("dose-deviation-tolerance-pct",),
            course=n,
            days=days,
            given=given_rate,
            planned=planned,
            size=round(size, 2),
        )
        ctx.findings[-1] = _with_evidence(ctx.findings[-1], (ref,))


def _report_per_m2(ctx: Ctx, n: int, devs_m2: dict[tuple[str, float, float], list[int]]) -> None:
    for (ref, given_m2, planned_m2), days in devs_m2.items():
        ctx.add(
            4,
            "dose-deviation-per-m2",
            "warning",
            f"Course {n} days {_ranges(days)}: {_fmt(given_m2)} ug/m2/d prescribed vs "
            f"{_fmt(planned_m2)} ug/m2/d in the protocol.",
            S4,
            (),
            course=n,
            days=days,
            given=given_m2,
            planned=planned_m2,
        )
        ctx.findings[-1] = _with_evidence(ctx.findings[-1], (ref,))


def _with_evidence(f: Finding, refs: tuple[str, ...]) -> Finding:
    return Finding(
        f.code, f.severity, f.message, f.source, f.rule, f.patient, refs, f.parameters, f.data
    )


# ---------------------------------------------------------------- rule 5: schedule (§4)


def rule_schedule(ctx: Ctx) -> None:
    p = ctx.protocol
    tol = p.int_("schedule-tolerance-days")
    for run in ctx.courses:
        if run.start is None:
            continue
        n = run.content.number
        kinds: list[tuple[str, str, tuple[int, ...], list[Dated]]] = []
        if p.flag("cd3-lymphocytes"):
            kinds.append(
                (
                    "schedule-cd3-infusions",
                    "CD3+ infusion",
                    run.content.cd3_days,
                    ctx.facts.cd3_infusions,
                )
            )
        kinds.append(
            (
                "schedule-intrathecal",
                "intrathecal therapy",
                run.content.intrathecal_days,
                ctx.facts.intrathecal,
            )
        )
        assess = ctx.facts.mrd + ctx.facts.observations(LOINC_MARROW_BLASTS)
        kinds.append(
            (
                "schedule-response-assessment",
                "response assessment (marrow/MRD)",
                run.content.assessment_days,
                assess,
            )
        )
        for code, label, days, events in kinds:
            items = []
            used: list[Resource] = []
            for day in days:
                due = run.start + dt.timedelta(days=day - 1)
                hit = next(
                    (e for e in events if e.date is not None and abs((e.date - due).days) <= tol),
                    None,
                )
                if hit is not None:
                    status = "done"
                    used.append(hit.resource)
                elif ctx.as_of > due + dt.timedelta(days=tol):
                    status = "overdue"
                elif ctx.as_of >= due - dt.timedelta(days=tol):
                    status = "due"
                else:
                    status = "planned"
                items.append({"day": day, "date": due.isoformat(), "status": status})
            if not items:
                continue
            overdue = [i for i in items if i["status"] == "overdue"]
            text = ", ".join(f"day {i['day']} ({i['date']}) {i['status']}" for i in items)
            ctx.add(
                5,
                code,
                "warning" if overdue else "information",
                f"Course {n} {label}: {text}.",
                S4 if code != "schedule-response-assessment" else S5,
                tuple(used),
                ("schedule-tolerance-days",),
                course=n,
                items=items,
            )


# ---------------------------------------------------------------- rule 6: MRD and next step (§5)


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


# ---------------------------------------------------------------- rule 7: prognostic (§6)


def rule_prognostic(ctx: Ctx) -> None:
    p = ctx.protocol
    if ctx.courses and ctx.courses[0].start is not None:
        start = ctx.courses[0].start
        d = ctx.facts.latest(LOINC_MARROW_BLASTS, start)
        v = _conv(ctx, 7, d, "%")
        if d is not None and v is not None:
            cut = p.num("pre-course-blasts-cut-pct")
            below = v < Decimal(str(cut))
            figs = p.text("pre-course-blasts-figures-" + ("below" if below else "above"))
            ctx.summary["pre_course_blasts_pct"] = float(v)
            ctx.add(
                7,
                "prognostic-pre-course-blasts",
                "information" if below else "warning",
                f"Pre-course marrow blasts {v}% ({d.date}) {'<' if below else '>='} "
                f"{_fmt(cut)}%. Cohort: {figs}.",
                S6,
                (d.resource,),
                ("pre-course-blasts-cut-pct",),
                blasts_pct=float(v),
                below=below,
            )
        else:
            ctx.add(
                7,
                "prognostic-pre-course-blasts-not-derivable",
                "information",
                "Pre-course marrow blasts (11150-0 on or before course day 1) not recorded.",
                S6,
            )
    _day15(ctx)
    ctx.summary["translocation"] = _translocation(ctx)
    adverse, present = _listed_fusions_present(
        ctx,
        7,
        "adverse-cytogenetics",
        "warning",
        "adverse-fusions",
        S6,
        "{where}: adverse cytogenetics, very poor response to anti-relapse therapy, targeted "
        "therapy included.",
    )
    for name, calls in ctx.cytogenetics.by_fusion(False).items():
        also = present.get(name)
        msg = f"{calls[0].translocation} {name} tested absent{_where(calls)}"
        if also:
            msg += f", but reported present{_where(also)}: conflicting results"
        ctx.add(
            7,
            "cytogenetics-fusion-absent",
            "warning" if also else "information",
            msg + ".",
            S6,
            tuple(c.resource for c in calls + (also or [])),
            ("adverse-fusions",) if name in adverse else (),
            fusion=name,
            genes=[g.hgnc for g in (calls[0].fusion.five_prime, calls[0].fusion.three_prime)],
            dates=[c.date.isoformat() for c in calls if c.date],
            conflicting=bool(also),
        )


#: Table 1 translocation rows in protocol.md §8 order.
TABLE1_TRANSLOCATIONS = ("t(12;21)", "t(4;11)", "t(1;19)", "t(11;19)", "t(9;11)")


def _translocation(ctx: Ctx) -> str:
    """The Table-1 cytogenetics row: the first named translocation, 'none' when cytogenetics
    were reported without one, 'unknown' when there are none (protocol.md §8)."""
    found = {c.translocation for c in ctx.cytogenetics.present()}
    for t in TABLE1_TRANSLOCATIONS:
        if t in found:
            return t
    if found:
        return sorted(found)[0]
    return "none" if ctx.cytogenetics.reported else "unknown"


def _day15(ctx: Ctx) -> None:
    """Day-15 marrow blasts of the chemotherapy block.  contract.md names no block-start fact: a
    CarePlan that is ``partOf`` another CarePlan is read as the block, its period.start as day 1."""
    p = ctx.protocol
    blocks = [
        cp
        for cp in ctx.facts.careplans
        if cp.get("partOf") and parse_date((cp.get("period") or {}).get("start"))
    ]
    if not blocks:
        ctx.add(
            7,
            "prognostic-day15-blasts-not-derivable",
            "information",
            "Day-15 marrow blasts not derivable: no chemotherapy-block start date (a CarePlan "
            "partOf the protocol CarePlan with period.start).",
            S6,
        )
        return
    block = blocks[-1]
    start = parse_date(block["period"]["start"])
    if start is None:  # pragma: no cover - filtered above
        return
    due = start + dt.timedelta(days=14)
    tol = p.int_("schedule-tolerance-days")
    d = next(
        (
            o
            for o in ctx.facts.observations(LOINC_MARROW_BLASTS)
            if o.date is not None and abs((o.date - due).days) <= tol
        ),
        None,
    )
    v = _conv(ctx, 7, d, "%")
    if d is None or v is None:
        ctx.add(
            7,
            "prognostic-day15-blasts-not-derivable",
            "information",
            f"Day-15 marrow blasts (due {due}) not recorded.",
            S6,
            (block,),
        )
        return
    cut = p.num("day15-blasts-cut-pct")
    below = v < Decimal(str(cut))
    figs = p.text("day15-blasts-figures-" + ("below" if below else "above"))
    ctx.add(
        7,
        "prognostic-day15-blasts",
        "information" if below else "warning",
        f"Day-15 marrow blasts {v}% {'<' if below else '>='} {_fmt(cut)}%. Cohort: {figs}.",
        S6,
        (d.resource, block),
        ("day15-blasts-cut-pct",),
        blasts_pct=float(v),
        below=below,
    )


# ---------------------------------------------------------------- rule 8: outcome (§7)


OUTCOME_LABELS = {
    "non-responder": "non-responder",
    "death-in-induction": "death in induction",
    "death-in-remission": "death in remission",
    "relapse": "relapse after CR",
    "long-term-cr": "continuous CR (long-term CR category)",
    "not-assessable": "not yet assessable",
}


def rule_outcome(ctx: Ctx) -> None:
    p = ctx.protocol
    f = ctx.facts
    rel = ctx.relapse.date if ctx.relapse else None
    therapy_start = None
    for cp in f.careplans:
        if not cp.get("partOf"):
            therapy_start = parse_date((cp.get("period") or {}).get("start")) or therapy_start
    if therapy_start is None and ctx.courses:
        therapy_start = ctx.courses[0].start
    if therapy_start is None:
        therapy_start = rel
    early_days = p.int_("early-death-days")
    cr = ctx.remission
    category: str
    event: str | None = None
    event_date: Date | None = None
    why: str
    if ctx.non_responder is not None and (cr is None or cr > ctx.non_responder):
        category, event, event_date = "non-responder", "non-response", rel
        why = (
            "assessed as non-responder after the course (counts as non-responder even if death "
            "followed)"
        )
    elif f.deceased is not None and (
        cr is None
        or (
            therapy_start is not None
            and f.deceased <= therapy_start + dt.timedelta(days=early_days)
        )
    ):
        category, event, event_date = "death-in-induction", "death-in-induction", f.deceased
        why = f"death on {f.deceased}, before remission or within {early_days} days of therapy"
    elif cr is not None:
        later = [r.date for r in f.relapses if r.date is not None and r.date > cr]
        candidates = []
        if f.deceased is not None:
            candidates.append((f.deceased, "death-in-remission"))
        if later:
            candidates.append((min(later), "relapse"))
        if candidates:
            event_date, category = min(candidates)
            event = category
            why = f"complete remission on {cr}, then {category.replace('-', ' ')} on {event_date}"
        else:
            category = "long-term-cr"
            why = f"complete remission since {cr}, no event as of {ctx.as_of}"
    else:
        category = "not-assessable"
        why = "no remission, response or death recorded yet"
    ctx.summary["outcome"] = category
    ctx.summary["cr"] = cr is not None
    ev = (ctx.relapse.resource if ctx.relapse else None,)
    ctx.add(
        8,
        "outcome",
        "information",
        f"Outcome: {OUTCOME_LABELS[category]} ({why}).",
        S7,
        ev,
        ("early-death-days",),
        category=category,
        complete_remission=None if cr is None else cr.isoformat(),
    )
    if event is not None:
        days = (event_date - rel).days if event_date and rel else None
        if event == "non-response":
            days = 0
        ctx.summary["efs_event"] = event
        ctx.add(
            8,
            "efs-event",
            "information",
            f"EFS event: {event.replace('-', ' ')} at day {days} from the relapse diagnosis.",
            S7,
            ev,
            event=event,
            date=None if event_date is None else event_date.isoformat(),
            days_from_relapse=days,
        )
    elif rel is not None and category != "not-assessable":
        censor, basis, why, contact = efs_censor_date(ctx)
        note = (
            f" The last follow-up {censor} precedes the remission date {cr}: check the "
            "follow-up record."
            if cr is not None and censor < cr
            else ""
        )
        ctx.add(
            8,
            "efs-censored",
            "information",
            f"No EFS event: censored on {censor} ({why}), day {(censor - rel).days} from the "
            f"relapse diagnosis.{note}",
            S7 + "; censoring date: efs-censor-at (ball-fhir choice)",
            (*ev, contact),
            ("efs-censor-at",),
            date=censor.isoformat(),
            censor_basis=basis,
            days_from_relapse=(censor - rel).days,
        )


def efs_censor_date(ctx: Ctx) -> tuple[Date, str, str, Resource | None]:
    """The EFS censoring date of a patient without an event: ``(date, basis, why, evidence)``.

    protocol.md §7 counts survival from the relapse diagnosis but does not say where a patient
    without an event is censored; the content parameter ``efs-censor-at`` chooses:
    ``last-follow-up`` (the usual survival-analysis convention: censor at the last contact, the
    latest follow-up Observation, ball-concepts ``follow-up``, dated on or before the evaluation
    date; the evaluation date when there is none) or ``as-of`` (always the evaluation date).
    """
    if ctx.protocol.text("efs-censor-at") == "last-follow-up":
        seen = [
            (d.date, d.resource)
            for d in ctx.facts.follow_ups
            if d.date is not None and d.date <= ctx.as_of
        ]
        if seen:
            last, contact = seen[-1]
            return last, "last-follow-up", "last follow-up contact", contact
        return (
            ctx.as_of,
            "as-of",
            "no follow-up contact recorded on or before the evaluation date: censored at the "
            "evaluation date",
            None,
        )
    return ctx.as_of, "as-of", "efs-censor-at as-of: the evaluation date", None


RULES: tuple[Callable[[Ctx], None], ...] = (
    rule_relapse,
    rule_eligibility,
    rule_apheresis,
    rule_dose,
    rule_schedule,
    rule_response,
    rule_prognostic,
    rule_outcome,
)

#: The named rules the recommendation content may reference (content.RULE_LANGUAGE).
NAMED_RULES = ("mrd-negative", "mrd-positive-after-course-1", "non-responder")
