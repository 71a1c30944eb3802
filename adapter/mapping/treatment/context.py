"""Facts from other Bundles that a treatment source needs for its cross-file checks.

A pharmacy export does not hold the patient's BSA, weight or death date; an events file may not
hold the diagnosis.  The edge (``ball-fhir map KIND INPUT --context BUNDLE.json ...``, or the
``context`` jobs of ``examples/manifest.yaml``) reads already mapped Bundles (ours or any that
follow contract.md) and passes them here; this module reduces them to per-patient facts keyed by
the deterministic Patient id of each Patient identifier (contract.md "Identity"), so a Bundle
from another system matches when it carries the same identifier.  Without a context the
cross-file checks that need it report that they could not run (``context-missing``), never pass
silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from adapter.fhir import CONDITION_CLINICAL, LOINC, SNOMED, Resource, deterministic_id
from adapter.issues import Issue

LOINC_WEIGHT = "29463-7"  # contract.md body weight
LOINC_HEIGHT = "8302-2"  # contract.md body height
LOINC_BSA = "8277-6"  # contract.md BSA
SCT_B_ALL = "277571004"  # contract.md B-ALL
_WEIGHT_FACTORS = {"kg": Decimal(1), "g": Decimal("0.001")}


@dataclass(frozen=True, slots=True)
class Measured:
    """A dated value; ``oldest_input`` is the date of the oldest measurement it derives from."""

    when: date
    value: Decimal
    oldest_input: date


@dataclass(slots=True)
class PatientContext:
    weights: list[Measured] = field(default_factory=list)
    bsas: list[Measured] = field(default_factory=list)
    diagnosis: date | None = None
    relapses: list[date] = field(default_factory=list)
    death: date | None = None
    #: (system, value) of the BiologicallyDerivedProduct identifiers
    products: set[tuple[str, str]] = field(default_factory=set)


@dataclass(slots=True)
class TreatmentContext:
    """Per-patient facts; ``given`` is False when no context Bundle was passed at all."""

    patients: dict[str, PatientContext] = field(default_factory=dict)
    given: bool = False

    def of(self, patient_id: str) -> PatientContext:
        return self.patients.get(patient_id) or PatientContext()


def _date(text: Any) -> date | None:
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _codes(concept: Any) -> set[tuple[str, str]]:
    if not isinstance(concept, dict):
        return set()
    return {
        (str(c.get("system", "")), str(c.get("code", "")))
        for c in concept.get("coding", []) or []
        if isinstance(c, dict)
    }


def _effective(resource: Resource) -> date | None:
    return _date(resource.get("effectiveDateTime")) or _date(
        (resource.get("effectivePeriod") or {}).get("start")
    )


def _value(resource: Resource) -> tuple[Decimal, str] | None:
    q = resource.get("valueQuantity")
    if not isinstance(q, dict) or "value" not in q:
        return None
    try:
        return Decimal(str(q["value"])), str(q.get("code") or q.get("unit") or "")
    except InvalidOperation:
        return None


def build_context(bundles: Iterable[Resource]) -> TreatmentContext:
    """Reduce context Bundles to per-patient facts (resources it does not know are ignored)."""
    ctx = TreatmentContext(given=True)
    entries: list[tuple[str, Resource]] = []
    for bundle in bundles:
        for entry in bundle.get("entry", []) or []:
            res = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(res, dict):
                entries.append((str(entry.get("fullUrl", "")), res))
    keys: dict[str, list[str]] = {}  # reference text -> patient keys
    by_ref: dict[str, Resource] = {}
    for full_url, res in entries:
        rtype, rid = res.get("resourceType"), res.get("id")
        names = [n for n in (full_url, f"{rtype}/{rid}" if rid else "") if n]
        for n in names:
            by_ref[n] = res
        if rtype == "Patient":
            pkeys = [
                deterministic_id("Patient", str(i.get("system")), str(i.get("value")))
                for i in res.get("identifier", []) or []
                if isinstance(i, dict) and i.get("system") and i.get("value")
            ]
            for n in names:
                keys[n] = pkeys
            death = _date(res.get("deceasedDateTime"))
            for k in pkeys:
                facts = ctx.patients.setdefault(k, PatientContext())
                if death is not None and (facts.death is None or death < facts.death):
                    facts.death = death

    def owners(res: Resource) -> list[PatientContext]:
        subject = res.get("subject") or (res.get("collection") or {}).get("source") or {}
        reference = subject.get("reference") if isinstance(subject, dict) else None
        return [ctx.patients.setdefault(k, PatientContext()) for k in keys.get(reference or "", [])]

    for _, res in entries:
        rtype = res.get("resourceType")
        if rtype == "Observation" and res.get("status") not in ("cancelled", "entered-in-error"):
            _observation(res, owners(res), by_ref)
        elif rtype == "Condition" and (SNOMED, SCT_B_ALL) in _codes(res.get("code")):
            onset = _date(res.get("onsetDateTime"))
            if onset is None:
                continue
            relapse = (CONDITION_CLINICAL, "relapse") in _codes(res.get("clinicalStatus"))
            for p in owners(res):
                if relapse:
                    p.relapses.append(onset)
                elif p.diagnosis is None or onset < p.diagnosis:
                    p.diagnosis = onset
        elif rtype == "BiologicallyDerivedProduct":
            for p in owners(res):
                p.products.update(
                    (str(i.get("system")), str(i.get("value")))
                    for i in res.get("identifier", []) or []
                    if isinstance(i, dict)
                )
    return ctx


def _observation(res: Resource, owners: list[PatientContext], by_ref: dict[str, Resource]) -> None:
    codes = _codes(res.get("code"))
    when = _effective(res)
    value = _value(res)
    if when is None or value is None or not owners:
        return
    number, unit = value
    if (LOINC, LOINC_WEIGHT) in codes and unit in _WEIGHT_FACTORS:
        m = Measured(when, number * _WEIGHT_FACTORS[unit], when)
        for p in owners:
            p.weights.append(m)
    elif (LOINC, LOINC_BSA) in codes and unit == "m2":
        inputs = [
            _effective(by_ref[r["reference"]])
            for r in res.get("derivedFrom", []) or []
            if isinstance(r, dict) and r.get("reference") in by_ref
        ]
        dated = [d for d in inputs if d is not None]
        m = Measured(when, number, min(dated) if dated else when)
        for p in owners:
            p.bsas.append(m)


def latest(values: list[Measured], on_or_before: date) -> Measured | None:
    """The latest value dated on or before the day."""
    best: Measured | None = None
    for m in values:
        if m.when <= on_or_before and (best is None or m.when >= best.when):
            best = m
    return best


def context_notice(context: TreatmentContext, checks: str) -> list[Issue]:
    """An information issue when no context Bundle was given: these checks could not run."""
    if context.given:
        return []
    return [
        Issue(
            "information",
            "informational",
            f"no --context Bundle given: cross-file checks not run ({checks})",
            rule="context-missing",
        )
    ]
