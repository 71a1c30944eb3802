"""A draft blinatumomab MedicationRequest seen by the protocol's dose rule (no rule of its own).

The protocol engine checks doses *given*: rule 4 (adapter/protocol/rules/dosing.py, protocol.md
§4) compares each blinatumomab MedicationAdministration with the course plan.  This is the
thinnest adapter onto it: every draft order is written as the administration it would become
(same medication, dose rate, route and extensions, the period the order asks for), added to the
patient's prefetched record and evaluated with :func:`adapter.protocol.evaluate` as of the day
the order starts (a draft without a course number gets the course it falls in, see
:func:`_number_courses`).  The findings whose evidence is that administration, and the course-level
dose findings of its course, are the order's findings; the dose-plan rows of the days it covers
give the corrected rate when they agree on one value.

Protocol API relied on (re-check after changes to adapter.protocol): ``evaluate(bundle,
protocols, as_of)``; the ``dose-*`` finding codes and their evidence (``Type/id`` of the
administration); the ``dose-plan`` finding's ``data`` (``course``, ``flat``, ``days`` rows with
``day``, ``date``, ``ug_per_day``, ``ug_per_m2_per_day``); ``facts.RX_BLINATUMOMAB``,
``facts.MCODE_NORMALIZATION_BASIS``, ``facts.SCT_BASIS_BSA``/``SCT_BASIS_FIXED``,
``rules.dosing.UCUM_PER_M2`` and ``bundle.quantity``.

Decision where the sources are silent: an order with no period (``timing.repeat.boundsPeriod``
or ``boundsDuration`` in days) is read as starting on the day of the hook call, for one day.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapter.fhir import RXNORM, SNOMED, UCUM, Resource, concept, sd_url, unique_id
from adapter.protocol import Protocol
from adapter.protocol.bundle import BundleIndex, codings, parse_instant, quantity
from adapter.protocol.engine import evaluate_each
from adapter.protocol.facts import (
    MCODE_NORMALIZATION_BASIS,
    RX_BLINATUMOMAB,
    SCT_BASIS_BSA,
    SCT_BASIS_FIXED,
)
from adapter.protocol.model import Finding, PatientEvaluation
from adapter.protocol.rules.dosing import UCUM_PER_M2

#: findings that concern every blinatumomab order of the course: the dose cannot be planned
#: (data missing, or a weight/height/BSA outside the plausible ranges), the measurements are
#: older than ``dosing-measurement-max-age-days``, the weight sits on the boundary (protocol.md
#: §4), Ph-positive disease (§1: not in the cohort), a protocol we do not have (nothing checked)
COURSE_LEVEL = (
    "dose-plan-not-derivable",
    "measurement-implausible",
    "dose-measurement-stale",
    "dose-weight-at-boundary",
    "eligibility-ph-positive",
    "unknown-protocol",
)
#: findings about the order's dose that a plan value can correct
CORRECTABLE = (
    "dose-deviation",
    "dose-deviation-per-m2",
    "dose-unit-mismatch",
    "dose-far-above-plan",
)
#: findings that make any correction ambiguous (the sources differ at exactly the boundary)
AMBIGUOUS = ("dose-weight-at-boundary",)
DAY = dt.timedelta(days=1)
#: the course-number extension of our MedicationAdministration profile (contract.md)
EXT_COURSE_NUMBER = sd_url("ball-course-number")


@dataclass
class DraftOrder:
    """A blinatumomab order of ``draftOrders`` and the administration it is evaluated as."""

    request: Resource
    administration: Resource
    start: dt.datetime
    end: dt.datetime

    @property
    def ref(self) -> str:
        return f"MedicationAdministration/{self.administration['id']}"

    def dates(self) -> list[str]:
        """ISO dates the order covers (end exclusive)."""
        out: list[str] = []
        day = self.start.date()
        while dt.datetime.combine(day, dt.time(), self.start.tzinfo) < self.end or not out:
            out.append(day.isoformat())
            day += DAY
        return out


@dataclass
class OrderCheck:
    """The protocol's findings about one draft order, and its correction when unambiguous."""

    order: DraftOrder
    findings: list[Finding] = field(default_factory=list)
    corrected: Resource | None = None
    correction: str | None = None


def _medication_codes(mr: Resource, draft_index: BundleIndex) -> list[tuple[str, str]]:
    if "medicationCodeableConcept" in mr:
        return list(codings(mr["medicationCodeableConcept"]))
    ref = mr.get("medicationReference") or {}
    target = ref.get("reference") if isinstance(ref, dict) else None
    if isinstance(target, str) and target.startswith("#"):
        med = next((c for c in mr.get("contained") or [] if c.get("id") == target[1:]), None)
    else:
        med = draft_index.resolve(ref)
    return list(codings(med.get("code"))) if isinstance(med, dict) else []


def _dosage(mr: Resource) -> dict[str, Any]:
    dosages = mr.get("dosageInstruction")
    return (
        dosages[0] if isinstance(dosages, list) and dosages and isinstance(dosages[0], dict) else {}
    )


def _rate(dosage: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ordered daily rate: ``doseAndRate.rateQuantity``, else a once-a-day ``doseQuantity``."""
    for dr in dosage.get("doseAndRate") or []:
        if isinstance(dr, dict) and isinstance(dr.get("rateQuantity"), dict):
            return dict(dr["rateQuantity"])
    repeat = (dosage.get("timing") or {}).get("repeat") or {}
    daily = repeat.get("periodUnit") == "d" and repeat.get("period", 1) == 1
    if daily and repeat.get("frequency", 1) == 1:
        for dr in dosage.get("doseAndRate") or []:
            if isinstance(dr, dict) and isinstance(dr.get("doseQuantity"), dict):
                q = dict(dr["doseQuantity"])
                unit = str(q.get("code") or q.get("unit") or "")
                if unit in ("ug", "mg"):
                    return {**q, "unit": f"{unit}/d", "code": f"{unit}/d"}
    return None


def _period(
    mr: Resource, dosage: Mapping[str, Any], today: dt.date
) -> tuple[dt.datetime, dt.datetime]:
    repeat = (dosage.get("timing") or {}).get("repeat") or {}
    bounds = repeat.get("boundsPeriod") or {}
    start = parse_instant(bounds.get("start")) or parse_instant(mr.get("authoredOn"))
    start = start or dt.datetime.combine(today, dt.time(), dt.UTC)
    end = parse_instant(bounds.get("end"))
    duration = repeat.get("boundsDuration") or {}
    if end is None and duration.get("unit") in ("d", "day", "days") and duration.get("value"):
        end = start + DAY * float(duration["value"])
    if end is None or end <= start:
        end = start + DAY
    return start, end


def draft_orders(
    draft_bundle: Resource, patient_id: str, today: dt.date, selections: Sequence[str] | None
) -> tuple[list[DraftOrder], list[Resource]]:
    """The blinatumomab orders of ``draftOrders`` (only the ``selections`` when given), each with
    its administration, and the blinatumomab orders without a readable dose rate."""
    index = BundleIndex(draft_bundle)
    chosen = set(selections) if selections is not None else None
    orders: list[DraftOrder] = []
    unreadable: list[Resource] = []
    for mr in index.resources("MedicationRequest"):
        if chosen is not None and f"MedicationRequest/{mr.get('id')}" not in chosen:
            continue
        if not any(s == RXNORM and c in RX_BLINATUMOMAB for s, c in _medication_codes(mr, index)):
            continue
        dosage = _dosage(mr)
        rate = _rate(dosage)
        if rate is None:
            unreadable.append(mr)
            continue
        start, end = _period(mr, dosage, today)
        admin: Resource = {
            "resourceType": "MedicationAdministration",
            "id": unique_id("cds-draft", patient_id, str(mr.get("id"))),
            "status": "in-progress",
            "subject": {"reference": f"Patient/{patient_id}"},
            "medicationCodeableConcept": concept(RXNORM, RX_BLINATUMOMAB[0]),
            "effectivePeriod": {"start": start.isoformat(), "end": end.isoformat()},
            "dosage": {
                "rateQuantity": rate,
                **({"route": dosage["route"]} if "route" in dosage else {}),
            },
        }
        if mr.get("extension"):
            admin["extension"] = copy.deepcopy(mr["extension"])
        orders.append(DraftOrder(mr, admin, start, end))
    return orders, unreadable


def _plan_for(
    findings: Sequence[Finding], order: DraftOrder
) -> tuple[Finding | None, list[dict[str, Any]]]:
    dates = set(order.dates())
    for f in findings:
        if f.code != "dose-plan":
            continue
        rows = [r for r in f.data.get("days") or [] if r.get("date") in dates]
        if rows:
            return f, rows
    return None, []


def _correct(check: OrderCheck, plan: Finding, rows: list[dict[str, Any]]) -> None:
    mr = check.order.request
    rate = quantity(_rate(_dosage(mr)))
    per_m2 = rate is not None and rate.code in UCUM_PER_M2
    flat = bool(plan.data.get("flat"))
    if per_m2 and not flat:
        values, unit = {r["ug_per_m2_per_day"] for r in rows}, "ug/m2/d"
    else:
        values, unit = {r["ug_per_day"] for r in rows}, "ug/d"
    if len(values) != 1 or None in values:
        return
    value = values.pop()
    corrected = copy.deepcopy(mr)
    dosage = _dosage(corrected)
    if not dosage:
        return
    dosage["doseAndRate"] = [
        {"rateQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}
    ]
    basis = SCT_BASIS_FIXED if flat else SCT_BASIS_BSA
    for ext in corrected.get("extension") or []:
        if ext.get("url") == MCODE_NORMALIZATION_BASIS:
            ext["valueCodeableConcept"] = concept(SNOMED, basis)
    days = sorted(r["day"] for r in rows)
    check.corrected = corrected
    check.correction = (
        f"{value} {unit}: the protocol plan of course {plan.data.get('course')}, "
        f"day{'s' if len(days) > 1 else ''} {days[0]}{f'-{days[-1]}' if len(days) > 1 else ''}"
    )


def _last_course(findings: Sequence[Finding]) -> int | None:
    """The draft's course when no plan could be made: the last one (a draft is the newest
    administration)."""
    courses = [f.data.get("course") for f in findings if f.code == "dose-plan-not-derivable"]
    return max((c for c in courses if isinstance(c, int)), default=None)


def patient_evaluation(
    record: BundleIndex, protocols: Mapping[str, Protocol], patient_id: str, as_of: dt.date
) -> PatientEvaluation | None:
    """The protocol's evaluation of ``Patient/{patient_id}`` in ``record`` (None: not in it)."""
    return next(
        (
            e
            for e, _ in evaluate_each(record, protocols, as_of)
            if e.patient == f"Patient/{patient_id}"
        ),
        None,
    )


def _course_spans(findings: Sequence[Finding]) -> dict[int, tuple[str, str]]:
    """First and last date of each course given so far: the dates of its plan rows, or, when
    no plan could be made (``dose-plan-not-derivable``), its start and ``course-length-days``."""
    spans: dict[int, tuple[str, str]] = {}
    for f in findings:
        course = f.data.get("course")
        if not isinstance(course, int):
            continue
        if f.code == "dose-plan":
            dates = [r["date"] for r in f.data.get("days") or [] if r.get("date")]
            if dates:
                spans[course] = (min(dates), max(dates))
        elif f.code == "dose-plan-not-derivable" and f.data.get("start"):
            first = dt.date.fromisoformat(str(f.data["start"]))
            length = int(f.parameters.get("course-length-days", 1))
            spans[course] = (first.isoformat(), (first + DAY * (length - 1)).isoformat())
    return spans


def _number_courses(orders: Sequence[DraftOrder], findings: Sequence[Finding]) -> None:
    """Give each draft without a course number the course it falls in: the course that covers
    its first day (:func:`_course_spans`), else the course after the last one.  The engine
    numbers bags without the extension by time only from the first such bag (rules/courses.py
    ``find_courses``), so a draft added to a record of numbered bags would otherwise join
    course 1."""
    spans = _course_spans(findings)
    if not spans:
        return
    for order in orders:
        exts = order.administration.setdefault("extension", [])
        if any(str(e.get("url", "")).endswith("course-number") for e in exts):
            continue
        first = order.start.date().isoformat()
        inside = [n for n, (a, b) in spans.items() if a <= first <= b]
        number = inside[0] if inside else max(spans) + 1
        exts.append({"url": EXT_COURSE_NUMBER, "valuePositiveInt": number})


def check_orders(
    record: BundleIndex,
    orders: Sequence[DraftOrder],
    protocols: Mapping[str, Protocol],
    patient_id: str,
    today: dt.date,
) -> tuple[str, list[OrderCheck]]:
    """The protocol evaluated (its id) and its dose findings per draft order: the record is
    evaluated alone (courses and plans so far), then with every draft added."""
    before = patient_evaluation(record, protocols, patient_id, today)
    if before is None:
        return "", [OrderCheck(o) for o in orders]
    _number_courses(orders, before.findings)
    as_of = max([today, *(o.start.date() for o in orders)])
    with_drafts = record.with_resources(o.administration for o in orders)
    evaluation = patient_evaluation(with_drafts, protocols, patient_id, as_of)
    findings = evaluation.findings if evaluation is not None else []
    checks = []
    for order in orders:
        check = OrderCheck(order)
        plan, rows = _plan_for(findings, order)
        course = plan.data.get("course") if plan else _last_course(findings)
        seen: set[tuple[str, str]] = set()
        for f in findings:
            own = order.ref in f.evidence
            course_level = f.code in COURSE_LEVEL and f.data.get("course") in (course, None)
            if (own or course_level) and (f.code, f.message) not in seen:
                seen.add((f.code, f.message))
                order_ref = f"MedicationRequest/{order.request.get('id')}"
                evidence = tuple(order_ref if e == order.ref else e for e in f.evidence)
                check.findings.append(dataclasses.replace(f, evidence=evidence))
        codes = {f.code for f in check.findings}
        if plan and codes & set(CORRECTABLE) and not codes & set(AMBIGUOUS):
            _correct(check, plan, rows)
        checks.append(check)
    return before.protocol, checks
