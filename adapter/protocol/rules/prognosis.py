"""Rule 7: prognostic signals worth surfacing (protocol.md §6).

Pre-course marrow blasts against the content's cut, adverse fusions, the Table 1 translocation
(:data:`TABLE1_TRANSLOCATIONS`, also read by the cohort tables) and the day-15 marrow blasts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from adapter.protocol.bundle import parse_date
from adapter.protocol.content import fusion_names
from adapter.protocol.cytogenetics import call_data
from adapter.protocol.facts import LOINC_MARROW_BLASTS
from adapter.protocol.rules.context import S6, Ctx, _conv, _fmt
from adapter.protocol.rules.eligibility import _listed_fusions_present, _where


def _quotes_cohort(ctx: Ctx, signal: str) -> bool:
    """Whether the patient belongs to the cohort whose figures the signal quotes (protocol.md
    §6): the pre-course figures come from ALL-REZ 2014 + second relapses, the day-15 figures from
    ALL-REZ 2016 first relapses; the content says which signal its protocol shows."""
    second = ctx.relapse_number is not None and ctx.relapse_number >= 2
    if signal == "pre-course-blasts-signal":
        return ctx.protocol.flag(signal) or second
    return ctx.protocol.flag(signal) and not second


def rule_prognostic(ctx: Ctx) -> None:
    p = ctx.protocol
    if (
        ctx.courses
        and ctx.courses[0].start is not None
        and _quotes_cohort(ctx, "pre-course-blasts-signal")
    ):
        _pre_course(ctx, ctx.courses[0].start)
    if _quotes_cohort(ctx, "day15-blasts-signal"):
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
    excluded = fusion_names(p.text("exclusion-fusions"))
    for name, calls in present.items():
        if name in adverse or name in excluded:
            continue
        ctx.add(
            7,
            "cytogenetics-fusion-present",
            "information",
            f"{calls[0].translocation} {name}{_where(calls)}: not on the adverse list of this "
            "protocol.",
            S6,
            tuple(c.resource for c in calls),
            ("adverse-fusions",),
            fusion=name,
            genes=[g.hgnc for g in (calls[0].fusion.five_prime, calls[0].fusion.three_prime)],
            **call_data(calls),
        )
    _not_shown(ctx, present, [*adverse, *excluded])
    if ctx.cytogenetics.reported and not present and not ctx.cytogenetics.not_shown:
        ctx.add(
            7,
            "cytogenetics-no-named-fusion",
            "information",
            "Cytogenetics reported without any named fusion (Table 1: no significant "
            "translocation).",
            S6,
            tuple(k.resource for k in ctx.facts.karyotypes),
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


def _not_shown(ctx: Ctx, present: Mapping[str, object], listed: list[str]) -> None:
    """A reciprocal derivative written alone (``der(12)t(12;21)``, issue 21): the fusion it
    belongs to is not shown, so it is not named (contract.md "Fusions the adapter must name").
    Information; a warning when the fusion is on this protocol's adverse or exclusion list
    (protocol.md §6, §1), since the finding that matters would then be missed."""
    seen: set[tuple[str, str]] = set()
    for hidden in ctx.cytogenetics.not_shown:
        name = hidden.fusion.name
        key = (name, ctx.index.ref(hidden.resource))
        if name in present or key in seen:
            continue
        seen.add(key)
        on_list = name in listed
        ctx.add(
            7,
            "cytogenetics-fusion-not-shown",
            "warning" if on_list else "information",
            f"{hidden.iscn} (karyotype{' read in part' if hidden.partial else ''}, "
            f"{hidden.date or 'undated'}): {hidden.note}"
            + (f"; {name} is on this protocol's adverse or exclusion list." if on_list else "."),
            S6,
            (hidden.resource,),
            ("adverse-fusions", "exclusion-fusions") if on_list else (),
            fusion=name,
            iscn=[hidden.iscn],
            named_by=["reciprocal derivative only"],
            partial=hidden.partial,
        )


def _pre_course(ctx: Ctx, start: dt.date) -> None:
    """The latest marrow blast count within ``pre-course-blasts-window-days`` (a placeholder)
    on or before course day 1, against the cut of protocol.md §6."""
    p = ctx.protocol
    window = p.int_("pre-course-blasts-window-days")
    d = ctx.facts.latest(LOINC_MARROW_BLASTS, start)
    if d is not None and d.date is not None and d.date < start - dt.timedelta(days=window):
        d = None
    params = ("pre-course-blasts-cut-pct", "pre-course-blasts-window-days")
    v = _conv(ctx, 7, d, "%")
    if d is None or v is None:
        ctx.add(
            7,
            "prognostic-pre-course-blasts-not-derivable",
            "information",
            f"Pre-course marrow blasts (11150-0 within {window} days before course day 1, "
            f"{start}) not recorded.",
            S6,
            (),
            params,
        )
        return
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
        params,
        blasts_pct=float(v),
        below=below,
    )


#: Table 1 translocation rows in protocol.md §8 order.
TABLE1_TRANSLOCATIONS = ("t(12;21)", "t(4;11)", "t(1;19)", "t(11;19)", "t(9;11)")


def _translocation(ctx: Ctx) -> str:
    """The Table-1 cytogenetics row: the first named translocation (a reciprocal derivative
    alone shows its translocation, not its fusion), 'none' when cytogenetics were reported
    without one, 'unknown' when there are none (protocol.md §8)."""
    found = {c.translocation for c in ctx.cytogenetics.present()}
    found |= {n.translocation for n in ctx.cytogenetics.not_shown}
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
