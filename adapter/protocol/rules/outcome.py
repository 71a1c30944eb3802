"""Rule 8: outcome and event-free survival for the cohort tables (protocol.md §7).

The patient's outcome category and EFS event, or the censoring date of a patient without an
event (:func:`efs_censor_date`, content parameter ``efs-censor-at``).
"""

from __future__ import annotations

import datetime as dt

from adapter.fhir import Resource
from adapter.protocol.bundle import Date, parse_date
from adapter.protocol.rules.context import S7, Ctx

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
    if ctx.non_responder is not None and cr is None:
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
    hsct = next((h for h in f.hsct if h.date is not None), None)
    if hsct is not None and hsct.date is not None:
        # HSCT performed is a fact (issue 14): the outcome after it follows from what came next
        ctx.summary["hsct"] = hsct.date.isoformat()
        why += f"; allogeneic HSCT on {hsct.date}"
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
        hsct=ctx.summary.get("hsct"),
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
