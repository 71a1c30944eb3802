"""Rule 5: the course schedule (protocol.md §4; §5 for the response assessments).

For each course, the CD3+ infusion, intrathecal therapy and response assessment days of the
content, each done (with how many days early or late), due, overdue or planned within the
content's tolerance ``schedule-tolerance-days`` (a placeholder, default +-2 days: protocol.md
gives no window).  A day counts as done by the nearest record within the window, and one record
does one day only; "+7" in [S22] stays course day 8, and a dose on day 7 is "done, 1 day early".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from adapter.fhir import Resource
from adapter.protocol.facts import LOINC_MARROW_BLASTS, Dated
from adapter.protocol.rules.context import S4, S5, Ctx


def _nearest(events: list[Dated], due: dt.date, tol: int, used: list[Resource]) -> Dated | None:
    """The event nearest the due day within the tolerance, each event used for one day only."""
    best: Dated | None = None
    for e in events:
        if e.date is None or abs((e.date - due).days) > tol or any(e.resource is u for u in used):
            continue
        if (
            best is None
            or best.date is None
            or abs((e.date - due).days) < abs((best.date - due).days)
        ):
            best = e
    return best


def _status(item: dict[str, Any]) -> str:
    """``done``, ``done, 1 day early``, ``done, 2 days late``, ``due``, ``overdue``, ``planned``."""
    off = int(item.get("offset_days", 0))
    if item["status"] != "done" or off == 0:
        return str(item["status"])
    return f"done, {abs(off)} day{'s' if abs(off) > 1 else ''} {'early' if off < 0 else 'late'}"


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
                item: dict[str, Any] = {"day": day, "date": due.isoformat()}
                hit = _nearest(events, due, tol, used)
                if hit is not None and hit.date is not None:
                    item["status"] = "done"
                    item["offset_days"] = (hit.date - due).days
                    used.append(hit.resource)
                elif ctx.as_of > due + dt.timedelta(days=tol):
                    item["status"] = "overdue"
                elif ctx.as_of >= due - dt.timedelta(days=tol):
                    item["status"] = "due"
                else:
                    item["status"] = "planned"
                items.append(item)
            if not items:
                continue
            overdue = [i for i in items if i["status"] == "overdue"]
            text = ", ".join(f"day {i['day']} ({i['date']}) {_status(i)}" for i in items)
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
