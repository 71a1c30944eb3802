"""The CDS services we offer and the discovery document (CDS Hooks 2.0 §Discovery).

Prefetch templates use only the 2.0 tokens ``{{context.patientId}}`` (hook library: patient-view,
order-select, order-sign mark it "Prefetch Token = Yes") and the RECOMMENDED query subset
(instance read, type search with a reference parameter, token equality).  The reference is
written ``patient=Patient/{id}``: R4 search allows both forms, and some servers (Medplum) match
only this one.  Every key is required:
the protocol logic would give wrong answers without it, so a key that is neither prefetched nor
fetchable ends the call with 412 (2.0 §Prefetch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapter.protocol.facts import (
    LOINC_BSA,
    LOINC_HEIGHT,
    LOINC_KARYOTYPE,
    LOINC_VARIANT,
    LOINC_WEIGHT,
)

_PATIENT = "{{context.patientId}}"
#: weight, height, BSA (the dose plan) and karyotype/fusion findings (Ph-positive disease)
_DOSING_CODES = ",".join(
    f"http://loinc.org|{c}"
    for c in (LOINC_WEIGHT, LOINC_HEIGHT, LOINC_BSA, LOINC_KARYOTYPE, LOINC_VARIANT)
)

#: The whole record the protocol rules read (contract.md "Concepts"): patient-view.
RECORD_PREFETCH = {
    "patient": f"Patient/{_PATIENT}",
    "conditions": f"Condition?patient=Patient/{_PATIENT}",
    "observations": f"Observation?patient=Patient/{_PATIENT}",
    "procedures": f"Procedure?patient=Patient/{_PATIENT}",
    "administrations": f"MedicationAdministration?patient=Patient/{_PATIENT}",
    "careplans": f"CarePlan?patient=Patient/{_PATIENT}",
}

#: What the dose rule reads (protocol.md §4): weight/height/BSA, the courses given, the protocol;
#: and the cytogenetics that make blinatumomab out of scope (Ph-positive, protocol.md §1).
DOSING_PREFETCH = {
    "patient": f"Patient/{_PATIENT}",
    "observations": f"Observation?patient=Patient/{_PATIENT}&code={_DOSING_CODES}",
    "administrations": f"MedicationAdministration?patient=Patient/{_PATIENT}",
    "careplans": f"CarePlan?patient=Patient/{_PATIENT}",
}


@dataclass(frozen=True)
class Service:
    id: str
    hook: str
    title: str
    description: str
    prefetch: dict[str, str] = field(default_factory=dict)

    def discovery(self, dev_mode: bool) -> dict[str, Any]:
        warning = "[DEV MODE: requests are NOT authenticated; not for patient data] "
        return {
            "hook": self.hook,
            "title": self.title,
            "description": (warning if dev_mode else "") + self.description,
            "id": self.id,
            "prefetch": dict(self.prefetch),
            "usageRequirements": "FHIR R4 (4.0.1) server; data per the ball-fhir data contract "
            "(https://ball-fhir.org/fhir). JWT (ES384/RS384) from an allowlisted issuer.",
        }


SERVICES: dict[str, Service] = {
    s.id: s
    for s in (
        Service(
            "ball-patient-view",
            "patient-view",
            "Relapsed B-ALL protocol guidance",
            "Blinatumomab course status and dose step, CD3+ infusions and intrathecal therapy "
            "due or overdue, day-29 assessment, MRD-based next step, relapse classification, "
            "adverse cytogenetics and blast-burden signals (ALL-REZ 2016 / ALL-REZ-MB 2014).",
            RECORD_PREFETCH,
        ),
        Service(
            "ball-order-select",
            "order-select",
            "Blinatumomab dose check (order selection)",
            "Checks a selected blinatumomab MedicationRequest against the protocol dose plan: "
            "weight boundary, per-m2 vs flat dose, step-up day, cap, second-course dose.",
            DOSING_PREFETCH,
        ),
        Service(
            "ball-order-sign",
            "order-sign",
            "Blinatumomab dose check (signing)",
            "Checks every blinatumomab MedicationRequest about to be signed against the protocol "
            "dose plan; offers the corrected order when it is unambiguous.",
            DOSING_PREFETCH,
        ),
    )
}


def discovery_document(dev_mode: bool) -> dict[str, Any]:
    """``GET /cds-services``."""
    return {"services": [s.discovery(dev_mode) for s in SERVICES.values()]}
