"""``PlanDefinition/$apply`` for one patient: a Bundle with a RequestGroup of proposed actions.

CPG STU2 $apply semantics (terminology.md §7.2): the result is transient, one Bundle per subject,
holding the Request resources that follow from applying the PlanDefinition in the patient's
context; requests nested in a RequestGroup have ``intent = option``.  The dates and doses come
from the engine (:mod:`adapter.protocol.rules`), so $apply proposes exactly what ``evaluate``
reports as planned, due or overdue; items already done are not proposed again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from adapter.fhir import BALL_CONCEPTS, CANONICAL, RXNORM, SNOMED, Resource, deterministic_id, urn
from adapter.issues import UsageError
from adapter.protocol.bundle import BundleIndex
from adapter.protocol.content import Course, Protocol
from adapter.protocol.engine import evaluate_patient
from adapter.protocol.facts import MCODE_NORMALIZATION_BASIS, collect
from adapter.protocol.model import Finding, PatientEvaluation
from adapter.protocol.rules import CourseRun, Ctx, plan_course


def _ad(name: str) -> str:
    return f"{CANONICAL}/ActivityDefinition/{name}"


class _Builder:
    def __init__(
        self, protocol: Protocol, patient_ref: str, patient_full_url: str | None, as_of: dt.date
    ) -> None:
        self.protocol = protocol
        #: the subject as the result Bundle holds it (its Patient entry is part of the result)
        self.patient = {"reference": patient_full_url or patient_ref}
        self.patient_full_url = patient_full_url
        self.as_of = as_of
        self.entries: list[dict[str, Any]] = []
        self.issue_entries: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []
        self.key = (patient_ref, protocol.id, as_of.isoformat())

    def add(self, resource: Resource, action: dict[str, Any], *keys: str) -> None:
        rid = deterministic_id(resource["resourceType"], *self.key, *keys)
        resource["id"] = rid
        self.entries.append({"fullUrl": urn(rid), "resource": resource})
        action["resource"] = {"reference": urn(rid)}
        self.actions.append(action)

    def service(self, key: str, title: str, day: dt.date, ad: str, code: dict[str, Any]) -> None:
        req = {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "option",
            "instantiatesCanonical": [_ad(ad)],
            "code": code,
            "subject": self.patient,
            "occurrenceDateTime": day.isoformat(),
        }
        self.add(req, {"title": title, "timingDateTime": day.isoformat()}, key)


def _course_actions(b: _Builder, ctx: Ctx, run: CourseRun, done: set[str]) -> None:
    course: Course = run.content
    n = course.number
    start = run.start
    if start is None:
        return
    rows = plan_course(ctx, course)
    for step in course.steps:
        first = start + dt.timedelta(days=step.first_day - 1)
        last = start + dt.timedelta(days=step.last_day - 1)
        if last < b.as_of and run.administrations:
            continue
        row = next((r for r in rows if r["step"] == step.action_id), None)
        dosage: dict[str, Any] = {
            "text": f"Blinatumomab continuous IV infusion, course {n} days "
            f"{step.first_day}-{step.last_day}",
            "timing": {
                "repeat": {"boundsPeriod": {"start": first.isoformat(), "end": last.isoformat()}}
            },
            "route": {"coding": [{"system": SNOMED, "code": "47625008"}]},
        }
        req: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "status": "draft",
            "intent": "option",
            "instantiatesCanonical": [_ad("blinatumomab-continuous-infusion")],
            "medicationCodeableConcept": {
                "coding": [{"system": RXNORM, "code": "1597258", "display": "blinatumomab"}]
            },
            "subject": b.patient,
            "dosageInstruction": [dosage],
            "_course": n,  # dropped once its DetectedIssues are linked
        }
        if row is not None:
            dosage["text"] += f": {row['ug_per_day']} ug/d"
            if row["ug_per_m2_per_day"] is not None:
                dosage["text"] += f" ({row['ug_per_m2_per_day']} ug/m2/d, {row['basis']})"
            dosage["doseAndRate"] = [
                {
                    "rateQuantity": {
                        "value": row["ug_per_day"],
                        "unit": "ug/d",
                        "system": "http://unitsofmeasure.org",
                        "code": "ug/d",
                    }
                }
            ]
            basis = "1157245009" if "1157245009" in row["basis"] else "301898006"
            req["extension"] = [
                {
                    "url": MCODE_NORMALIZATION_BASIS,
                    "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": basis}]},
                }
            ]
        else:
            dosage["text"] += ": dose not derivable (see the dose-plan-not-derivable finding)"
        b.add(
            req,
            {
                "title": dosage["text"],
                "timingPeriod": {"start": first.isoformat(), "end": last.isoformat()},
            },
            f"course-{n}",
            step.action_id,
        )
    kinds: list[tuple[str, tuple[int, ...], str, dict[str, Any]]] = []
    if ctx.protocol.flag("cd3-lymphocytes"):
        kinds.append(
            (
                "CD3+ lymphocyte infusion",
                course.cd3_days,
                "cd3-autologous-infusion",
                {"coding": [{"system": BALL_CONCEPTS, "code": "cd3-autologous-infusion"}]},
            )
        )
    kinds.append(
        (
            "Intrathecal triple therapy",
            course.intrathecal_days,
            "intrathecal-triple-therapy",
            {"text": "Intrathecal triple therapy (methotrexate, cytarabine, dexamethasone)"},
        )
    )
    kinds.append(
        (
            "Bone-marrow response assessment with flow MRD",
            course.assessment_days,
            "marrow-response-assessment",
            {"coding": [{"system": SNOMED, "code": "49401003"}]},
        )
    )
    for title, days, ad, code in kinds:
        for day in days:
            when = start + dt.timedelta(days=day - 1)
            if f"{ad}|{n}|{day}" in done:
                continue
            b.service(f"{ad}-{n}-{day}", f"{title}, course {n} day {day}", when, ad, code)


def apply_plan(
    bundle: Resource,
    protocol: Protocol,
    subject: str,
    as_of: dt.date,
    course_start: dt.date | None = None,
) -> tuple[Resource, PatientEvaluation]:
    """Apply a protocol to the patient ``subject`` (``Patient/id`` or fullUrl) of ``bundle``.

    Returns the result Bundle (RequestGroup first, then the proposed requests, a DetectedIssue
    per warning or error finding, linked from the blinatumomab MedicationRequest of the course
    by ``detectedIssue`` when it is about the dose, and the subject's Patient as the caller sent
    it, so every reference resolves inside the Bundle) and the evaluation it was built from.
    With no blinatumomab given yet, course 1 is proposed from ``course_start`` (default: as-of).
    """
    index = BundleIndex(bundle)
    target = index.resolve({"reference": subject})
    facts = next((f for f in collect(index, as_of) if f.patient is target), None)
    if target is None or facts is None:
        raise UsageError(f"subject {subject} is not a Patient in the data Bundle")
    evaluation, ctx = evaluate_patient(index, facts, protocol, as_of)
    b = _Builder(protocol, facts.ref, index.full_url(target), as_of)
    done: set[str] = set()
    for f in evaluation.findings:
        if f.code.startswith("schedule-"):
            ad = {
                "schedule-cd3-infusions": "cd3-autologous-infusion",
                "schedule-intrathecal": "intrathecal-triple-therapy",
                "schedule-response-assessment": "marrow-response-assessment",
            }[f.code]
            for item in f.data["items"]:
                if item["status"] == "done":
                    done.add(f"{ad}|{f.data['course']}|{item['day']}")
    runs = list(ctx.courses)
    if not runs:
        runs = [CourseRun(protocol.courses[1], course_start or as_of)]
    current = runs[-1]
    if current.start is not None and current.start >= as_of - dt.timedelta(
        days=protocol.int_("course-length-days")
    ):
        _course_actions(b, ctx, current, done)
    second = evaluation.first("next-step-second-course")
    if second is not None and len(ctx.courses) == 1 and 2 in protocol.courses:
        run2 = CourseRun(protocol.courses[2], dt.date.fromisoformat(second.data["due"]))
        _course_actions(b, ctx, run2, done)
    if evaluation.first("next-step-hsct") is not None:
        b.service(
            "hsct",
            "Referral for allogeneic HSCT (MRD-negative)",
            as_of,
            "allogeneic-hsct-referral",
            {"coding": [{"system": SNOMED, "code": "234336002"}]},
        )
    issues = _detected_issues(b, evaluation)
    for entry in b.entries:
        res = entry["resource"]
        if res["resourceType"] == "MedicationRequest":
            course = res["_course"]
            linked = [
                {"reference": full}
                for full, f in issues
                if f.code.startswith("dose-") and f.data.get("course", course) == course
            ]
            if linked:
                res["detectedIssue"] = linked
        res.pop("_course", None)
    group_id = deterministic_id("RequestGroup", *b.key)
    group: dict[str, Any] = {
        "resourceType": "RequestGroup",
        "id": group_id,
        "instantiatesCanonical": [protocol.url],
        "status": "draft",
        "intent": "proposal",
        "subject": b.patient,
        "authoredOn": as_of.isoformat(),
    }
    if b.actions:
        group["action"] = b.actions
    patient_entry: dict[str, Any] = {"resource": facts.patient}
    if b.patient_full_url:
        patient_entry["fullUrl"] = b.patient_full_url
    result = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": urn(group_id), "resource": group},
            *b.entries,
            *b.issue_entries,
            patient_entry,
        ],
    }
    return result, evaluation


#: DetectedIssue.severity for a finding's severity (R4 detectedissue-severity: high | moderate |
#: low).
_ISSUE_SEVERITY = {"error": "high", "warning": "moderate", "information": "low"}


def _detected_issues(b: _Builder, evaluation: PatientEvaluation) -> list[tuple[str, Finding]]:
    """One DetectedIssue per warning or error finding (the CPG way to carry what the logic found
    along with the proposals): ``code.text`` the finding code, ``detail`` its message,
    ``reference`` the protocol, ``implicated`` the evidence (``Type/id`` of the caller's data, as
    display: those resources are not part of the result).  Returns (fullUrl, finding) pairs."""
    out: list[tuple[str, Finding]] = []
    for f in evaluation.ordered():
        if f.severity == "information":
            continue
        rid = deterministic_id("DetectedIssue", *b.key, f.code, f.message)
        issue: dict[str, Any] = {
            "resourceType": "DetectedIssue",
            "id": rid,
            "status": "preliminary",
            "code": {"text": f.code},
            "severity": _ISSUE_SEVERITY[f.severity],
            "patient": b.patient,
            "identifiedDateTime": b.as_of.isoformat(),
            "detail": f"{f.message} (source: {f.source})",
            "reference": b.protocol.url,
        }
        if f.evidence:
            issue["implicated"] = [{"display": e} for e in f.evidence]
        b.issue_entries.append({"fullUrl": urn(rid), "resource": issue})
        out.append((urn(rid), f))
    return out
