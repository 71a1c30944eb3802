"""Rule 2: eligibility (protocol.md §1 scope; §2 for the HSCT indication).

Age, B-lineage and relapse number, the exclusion fusions (Ph-positive) read from the
cytogenetics, cytogenetics results that could not be read, and whether allogeneic HSCT once
MRD-negative is mandatory for the relapse rule 1 classified.  The fusion-finding helpers are
shared with rule 7 (:mod:`adapter.protocol.rules.prognosis`).
"""

from __future__ import annotations

from adapter.protocol.bundle import completed_years
from adapter.protocol.content import fusion_names
from adapter.protocol.cytogenetics import FusionCall, call_data
from adapter.protocol.model import FindingSeverity
from adapter.protocol.rules.context import S1, S2, Ctx


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
                **call_data(calls),
            )
    return listed, present


def _where(calls: list[FusionCall]) -> str:
    """`` (karyotype der(22)t(9;22)(q34;q11.2), 2021-01-05)`` for a message; how the fusion was
    named is said when it is weaker than breakpoints at the gene loci: ``chromosome pair only``
    (a breakpoint-less ``t(9;22)``), ``from a partly valid string`` (issue 21)."""
    parts = []
    for c in calls:
        what = {"karyotype": "karyotype", "iscn-component": "finding ISCN"}.get(c.via, "finding")
        text = f"{what} {c.iscn}" if c.iscn else what
        marks = [m for m, on in ((_QUESTIONABLE, c.uncertain), (_PAIR, c.evidence == _PAIR)) if on]
        if c.partial:
            marks.append("from a partly valid string")
        text += "".join(f" ({m})" for m in marks)
        parts.append(f"{text}, {c.date or 'undated'}")
    return " (" + "; ".join(dict.fromkeys(parts)) + ")"


_QUESTIONABLE = "questionable"
_PAIR = "chromosome pair only"


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
