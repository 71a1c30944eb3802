"""Rule 5: the course schedule (protocol.md §4; §5 for the response assessments).

For each course, the CD3+ infusion, intrathecal therapy and response assessment days of the
content, each done, due, overdue or planned within the content's tolerance.
"""

from __future__ import annotations

import datetime as dt

from adapter.fhir import Resource
from adapter.protocol.facts import LOINC_MARROW_BLASTS, Dated
from adapter.protocol.rules.context import S4, S5, Ctx


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
