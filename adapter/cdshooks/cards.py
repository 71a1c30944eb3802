"""From protocol findings to CDS Hooks cards: the one table (:data:`TOPICS`) and the card shape.

A card is a view of protocol findings (adapter.protocol), never a rule of its own.  Each
:class:`Topic` of the table groups the finding codes of one actionable subject into one card
(CDS Hooks 2.0 §Card; "few cards, one actionable message each", cds-hooks.md section 4) and says:
the smallest finding severity that makes the card worth showing (a schedule item due today
counts as a warning), the indicator per severity (``critical`` only for the safety codes the
topic names), the summary, and which override reasons (our CodeSystem ``ball-cds-override-reason``,
profiles/package) the clinician may give.  Summary: the topic's label and its most severe
finding (< 140 characters, 2.0 §Card); detail: every finding of the topic with its source,
rule, parameters and evidence (GitHub-flavoured Markdown).  Card and suggestion uuids are
deterministic (the same findings give the same uuid), so feedback can be joined to them.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from adapter.datafiles import profiles_dir
from adapter.fhir import CANONICAL, unique_id
from adapter.protocol.bundle import BundleIndex
from adapter.protocol.model import Finding, FindingSeverity

Indicator = Literal["info", "warning", "critical"]
OVERRIDE_SYSTEM = f"{CANONICAL}/CodeSystem/ball-cds-override-reason"
SUMMARY_MAX = 139
_RANK: dict[str, int] = {"information": 0, "warning": 1, "error": 2}
_INDICATOR: dict[FindingSeverity, Indicator] = {
    "information": "info",
    "warning": "warning",
    "error": "warning",  # critical only through Topic.critical (safety codes)
}
_INDICATOR_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}

Summary = Callable[["Topic", Sequence[Finding], dt.date], str | None]


def course_status(_topic: Topic, findings: Sequence[Finding], today: dt.date) -> str | None:
    """``Course n day d: dose step ...`` from the dose-plan row of today (None outside a course)."""
    for f in findings:
        for row in f.data.get("days") or []:
            if row.get("date") == today.isoformat():
                per_m2 = row.get("ug_per_m2_per_day")
                dose = f"{row['ug_per_day']} ug/d" + (f" ({per_m2} ug/m2/d)" if per_m2 else "")
                return f"Blinatumomab course {f.data.get('course')} day {row['day']}: {dose}."
    return None


def _due(f: Finding) -> list[dict[str, Any]]:
    items = f.data.get("items") or []
    return [i for i in items if isinstance(i, dict) and i.get("status") in ("due", "overdue")]


def due_or_overdue(f: Finding) -> bool:
    """A schedule finding (rule 5) with an item due or overdue: something to do now."""
    return bool(_due(f))


def schedule_summary(topic: Topic, findings: Sequence[Finding], _today: dt.date) -> str | None:
    """``CD3+ infusions: course 1 day 22 (2022-03-22) due`` from the items due or overdue."""
    parts = []
    for f in findings:
        items = _due(f)
        if items:
            when = ", ".join(f"day {i['day']} ({i['date']}) {i['status']}" for i in items)
            parts.append(f"course {f.data.get('course')} {when}")
    return f"{topic.label}: {'; '.join(parts)}." if parts else None


@dataclass(frozen=True)
class Topic:
    """One card type: the findings it shows and how."""

    id: str
    label: str
    codes: tuple[str, ...]
    #: the card is shown when a finding of at least this severity is among the topic's
    min_severity: FindingSeverity = "warning"
    #: finding codes shown as ``critical`` (safety, cds-hooks.md section 4)
    critical: tuple[str, ...] = ()
    #: ``critical`` only for a patient on blinatumomab (a course given or being ordered)
    critical_on_course_only: bool = False
    #: an ``information`` finding for which this holds is shown as a warning (due today)
    warn_when: Callable[[Finding], bool] | None = None
    #: when set: the summary (None: no card), e.g. today's course day from the dose plan
    summary: Summary | None = None
    override_reasons: tuple[str, ...] = ("already-addressed", "not-applicable", "data-outdated")


#: patient-view: finding codes (adapter.protocol rules 1-8, protocol.md §1-§7) -> cards.  Cards
#: read the engine's readable view (:meth:`~adapter.protocol.PatientEvaluation.ordered`): the
#: findings that only say data is missing (``*-not-derivable``, ``relapse-none``, ...) arrive
#: folded into one ``missing-data`` finding, shown by its own topic.
TOPICS: tuple[Topic, ...] = (
    Topic(
        "protocol",
        "Protocol not evaluated",
        ("unknown-protocol",),
        override_reasons=("not-applicable", "data-outdated", "already-addressed"),
    ),
    Topic(
        "eligibility-cytogenetics",
        "Ph-positive disease",
        ("eligibility-ph-positive",),
        critical=("eligibility-ph-positive",),
        critical_on_course_only=True,
    ),
    Topic(
        "dose",
        "Blinatumomab dose",
        (
            "dose-far-above-plan",
            "dose-unit-mismatch",
            "measurement-implausible",
            "dose-unit-not-understood",
            "unit-not-understood",
            "dose-deviation",
            "dose-deviation-per-m2",
            "dose-flat-under-boundary",
            "dose-weight-at-boundary",
            "dose-measurement-stale",
            "dose-missed-days",
            "dose-interrupted",
            "dose-cap-applied",
        ),
        critical=("dose-far-above-plan", "dose-unit-mismatch"),
        override_reasons=("clinical-judgement", "data-outdated", "already-addressed"),
    ),
    Topic("course-status", "Course status", ("dose-plan",), "information", summary=course_status),
    Topic(
        "cd3-infusions",
        "CD3+ infusions",
        ("schedule-cd3-infusions",),
        warn_when=due_or_overdue,
        summary=schedule_summary,
    ),
    Topic(
        "intrathecal",
        "Intrathecal therapy",
        ("schedule-intrathecal",),
        warn_when=due_or_overdue,
        summary=schedule_summary,
    ),
    Topic(
        "response-assessment",
        "Day-29 assessment",
        ("schedule-response-assessment",),
        warn_when=due_or_overdue,
        summary=schedule_summary,
    ),
    Topic(
        "next-step",
        "Next step",
        (
            "non-responder",
            "course-no-remission",
            "next-step-second-course",
            "next-step-hsct",
            "hsct-performed",
            "next-step-hsct-superseded",
            "mrd-positive-after-course-2",
            "mrd-positive",
            "mrd-negative",
            "mrd-missing",
            "mrd-indeterminate",
            "mrd-unreadable",
        ),
        "information",
    ),
    Topic(
        "relapse-classification",
        "Relapse classification",
        (
            "relapse-time-point",
            "bfm-stratum",
            "relapse-site",
            "bfm-stratum-mismatch",
            "relapse-time-point-boundary",
            "relapse-time-point-fallback",
            "eligibility-relapse-number",
            "relapse-number",
            "bfm-stratum-recorded",
            "hsct-mandatory",
        ),
        "information",
    ),
    Topic(
        # the id stays "adverse-cytogenetics": feedback already recorded joins on it
        "adverse-cytogenetics",
        "Cytogenetics",
        (
            "adverse-cytogenetics",
            "cytogenetics-not-read",
            "cytogenetics-fusion-not-shown",
            "cytogenetics-fusion-absent",
            "cytogenetics-fusion-present",
            "cytogenetics-no-named-fusion",
        ),
    ),
    Topic(
        "blast-burden",
        "Blast burden",
        ("prognostic-day15-blasts", "prognostic-pre-course-blasts"),
        "information",
    ),
    Topic(
        "missing-data",
        "Missing data",
        ("missing-data",),
        override_reasons=("data-outdated", "not-applicable", "already-addressed"),
    ),
)

#: Finding codes that deliberately get no card (CDS Hooks is for "few cards, one actionable
#: message each", cds-hooks.md section 4), with the reason; every other code the engine emits
#: belongs to a topic (tests/cdshooks/test_card_table.py checks it).
NO_CARD: Mapping[str, str] = {
    "eligibility-age": "cohort eligibility, settled before a course; shown on the course page",
    "eligibility-b-lineage": "cohort eligibility, settled before a course",
    "eligibility-ph-negative": "no exclusion: nothing to act on",
    "apheresis-eligible": "apheresis precedes the course; issue 15 names no apheresis card",
    "apheresis-not-eligible": "apheresis precedes the course; issue 15 names no apheresis card",
    "apheresis-not-in-protocol": "nothing to act on",
    "outcome": "cohort outcome (protocol.md §7), for the tables, not for an EHR",
    "efs-event": "cohort outcome (protocol.md §7), for the tables, not for an EHR",
    "efs-censored": "cohort outcome (protocol.md §7), for the tables, not for an EHR",
}

#: order-select / order-sign: the findings about one draft blinatumomab order.  Orders read the
#: whole finding list, not the readable view: what makes *this* order uncheckable is the
#: ``dose-plan-not-derivable`` of its own course, not the patient's ``missing-data`` summary.
ORDER_TOPIC = Topic(
    "order-dose",
    "Blinatumomab order",
    (
        "dose-far-above-plan",
        "dose-unit-mismatch",
        "eligibility-ph-positive",
        "unknown-protocol",
        "measurement-implausible",
        "dose-unit-not-understood",
        "dose-deviation",
        "dose-deviation-per-m2",
        "dose-flat-under-boundary",
        "dose-weight-at-boundary",
        "dose-measurement-stale",
        "dose-plan-not-derivable",
        "unit-not-understood",
        "dose-not-readable",
    ),
    critical=("dose-far-above-plan", "dose-unit-mismatch", "eligibility-ph-positive"),
    override_reasons=("clinical-judgement", "data-outdated", "not-applicable"),
)


@functools.cache
def override_codes() -> dict[str, str]:
    """code -> display of our override-reason CodeSystem (the published package's copy)."""
    path = profiles_dir() / "package" / "CodeSystem-ball-cds-override-reason.json"
    cs = json.loads(path.read_text(encoding="utf-8"))
    return {c["code"]: c["display"] for c in cs["concept"]}


def shorten(text: str, limit: int = SUMMARY_MAX) -> str:
    """``text`` cut at a word boundary to fewer than 140 characters (2.0 §Card summary)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def _detail(findings: Sequence[Finding]) -> str:
    lines = []
    for f in findings:
        lines.append(f"- **{f.severity}** `{f.code}`: {f.message}")
        extra = [f"source: {f.source} (rule {f.rule})"]
        if f.parameters:
            extra.append("parameters: " + ", ".join(f"{k}={v}" for k, v in f.parameters.items()))
        if f.evidence:
            extra.append("evidence: " + ", ".join(f.evidence))
        lines.append("  " + "; ".join(extra))
    return "\n".join(lines)


@dataclass(frozen=True)
class CardContext:
    """What every card of one call shares."""

    service_id: str
    patient_id: str
    protocol: str
    course_page_base: str | None
    #: blinatumomab given (a course in the record) or being ordered
    on_course: bool = True
    #: how the course page names the patient (:func:`page_key`); the hook's patientId if None
    page_key: str | None = None


def severity(topic: Topic, f: Finding) -> FindingSeverity:
    """The finding's severity as the topic shows it (:attr:`Topic.warn_when`)."""
    if f.severity == "information" and topic.warn_when is not None and topic.warn_when(f):
        return "warning"
    return f.severity


def indicator(topic: Topic, findings: Sequence[Finding], ctx: CardContext) -> Indicator:
    best: Indicator = "info"
    critical_allowed = ctx.on_course or not topic.critical_on_course_only
    for f in findings:
        shown = severity(topic, f)
        critical = f.code in topic.critical and critical_allowed
        ind: Indicator = "critical" if critical else _INDICATOR[shown]
        if _INDICATOR_RANK[ind] > _INDICATOR_RANK[best]:
            best = ind
    return best


def build_card(
    topic: Topic,
    findings: Sequence[Finding],
    ctx: CardContext,
    summary: str,
    suggestions: Sequence[Mapping[str, Any]] = (),
    key: str = "",
) -> dict[str, Any]:
    """One card of ``topic`` over ``findings`` (most severe first)."""
    ident = "|".join(f"{f.code}:{f.message}" for f in findings)
    card: dict[str, Any] = {
        "uuid": unique_id("cds-card", ctx.service_id, ctx.patient_id, topic.id, key, ident),
        "summary": shorten(summary),
        "indicator": indicator(topic, findings, ctx),
        "detail": _detail(findings),
        "source": {
            "label": f"ball-fhir protocol logic ({ctx.protocol or 'no protocol evaluated'})",
            **({"url": f"{CANONICAL}/PlanDefinition/{ctx.protocol}"} if ctx.protocol else {}),
        },
        "overrideReasons": [
            {"system": OVERRIDE_SYSTEM, "code": c, "display": override_codes()[c]}
            for c in topic.override_reasons
        ],
    }
    if suggestions:
        card["suggestions"] = list(suggestions)
        card["selectionBehavior"] = "at-most-one"
    if ctx.course_page_base:
        card["links"] = [
            {
                "label": "Patient course (ball-fhir)",
                "url": f"{ctx.course_page_base.rstrip('/')}/patients/"
                f"{quote(ctx.page_key or ctx.patient_id, safe='')}/timeline",
                "type": "absolute",
            }
        ]
    return card


def page_key(record: BundleIndex, patient_id: str) -> str | None:
    """The first identifier value of the hook's Patient in the record, the key by which the
    course page finds a patient whose data came through intake: the EHR's patientId is the id
    the hospital server gave the Patient, which our store does not know (README, CDS Hooks)."""
    for resource in record.resources("Patient"):
        if resource.get("id") == patient_id:
            for identifier in resource.get("identifier") or []:
                if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
                    return str(identifier["value"])
    return None


def in_topic_order(findings: Sequence[Finding], topic: Topic) -> list[Finding]:
    """Most severe first; within a severity the topic's critical codes, then the order of
    :attr:`Topic.codes` (codes the topic does not list last, in the engine's order)."""
    order = {c: i for i, c in enumerate(topic.codes)}
    return sorted(
        findings,
        key=lambda f: (
            -_RANK[severity(topic, f)],
            f.code not in topic.critical,
            order.get(f.code, len(order)),
        ),
    )


def topic_findings(topic: Topic, findings: Sequence[Finding]) -> list[Finding]:
    """The findings of ``topic``, most severe first; empty when none reaches its threshold."""
    mine = [f for f in findings if f.code in topic.codes]
    if not any(_RANK[severity(topic, f)] >= _RANK[topic.min_severity] for f in mine):
        return []
    return in_topic_order(mine, topic)


def patient_cards(
    findings: Sequence[Finding], ctx: CardContext, today: dt.date
) -> list[tuple[str, dict[str, Any]]]:
    """patient-view: one card per topic of :data:`TOPICS` that has something to say, with the
    topic id, most urgent first."""
    cards: list[tuple[str, dict[str, Any]]] = []
    for topic in TOPICS:
        mine = topic_findings(topic, findings)
        if not mine:
            continue
        text = (
            topic.summary(topic, mine, today)
            if topic.summary
            else f"{topic.label}: {mine[0].message}"
        )
        if text is None:
            continue
        cards.append((topic.id, build_card(topic, mine, ctx, text)))
    cards.sort(key=lambda c: -_INDICATOR_RANK[c[1]["indicator"]])
    return cards
