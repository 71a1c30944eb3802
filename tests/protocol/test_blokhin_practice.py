"""The Blokhin center practice as protocol.md quotes it from [S22], written as a Bundle.

protocol.md (§3, §4, §5) quotes from [S22]: the recorded "9 ug/m2/day then 15 ug/m2/day" for a
patient over 45 kg (a unit/dose mismatch under [V23], which the adapter must flag); autologous
CD3+ infusions every 7 days, "+7, +14, +21, +28" (course days 8, 15, 22, 29); intrathecal
methotrexate on day 1 with a marrow aspirate and MRD; MRD also on days 14 and 28.  The three
case reports' own narratives (relapse history, HSCT, outcome) are not quoted in protocol.md, so
they are not reconstructed here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from adapter.protocol import evaluate
from adapter.protocol.apply import apply_plan
from tests.protocol.conftest import bundle_of, protocols

LNC = "http://loinc.org"
SCT = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
BALL = "https://ball-fhir.org/fhir/CodeSystem/ball-concepts"
BASIS = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-normalization-basis"
START = dt.date(2021, 3, 1)


def _day(n: int) -> str:
    return (START + dt.timedelta(days=n - 1)).isoformat()


def _obs(code: str, day: str, value: float, unit: str, system: str = LNC) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
        "effectiveDateTime": day,
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }


def _bag(first: int, last: int, ug_m2_d: float) -> dict[str, Any]:
    """A bag recorded the [S22] way: a per-m2 rate with the BSA basis."""
    return {
        "resourceType": "MedicationAdministration",
        "status": "completed",
        "extension": [
            {
                "url": BASIS,
                "valueCodeableConcept": {"coding": [{"system": SCT, "code": "301898006"}]},
            }
        ],
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1597258"}]
        },
        "effectivePeriod": {
            "start": f"{_day(first)}T00:00:00Z",
            "end": f"{_day(last + 1)}T00:00:00Z",
        },
        "dosage": {
            "route": {"coding": [{"system": SCT, "code": "47625008"}]},
            "rateQuantity": {
                "value": ug_m2_d,
                "unit": "ug/m2/d",
                "system": UCUM,
                "code": "ug/m2/d",
            },
        },
    }


def _bundle() -> dict[str, Any]:
    it_route = {"coding": [{"system": SCT, "code": "72607000"}]}
    return bundle_of(
        [
            {
                "resourceType": "Patient",
                "id": "p",
                "identifier": [{"system": "urn:test:mrn", "value": "p"}],
                "gender": "male",
                "birthDate": "2006-05-01",
            },
            {
                "resourceType": "CarePlan",
                "status": "active",
                "intent": "plan",
                "instantiatesCanonical": [
                    "https://ball-fhir.org/fhir/PlanDefinition/all-rez-2016-blokhin"
                ],
                "period": {"start": "2021-02-01"},
            },
            _obs("29463-7", _day(0), 50, "kg"),
            _obs("8302-2", _day(0), 165, "cm"),
            _bag(1, 7, 9),
            _bag(8, 28, 15),
            *(
                {
                    "resourceType": "Procedure",
                    "status": "completed",
                    "code": {"coding": [{"system": BALL, "code": "cd3-autologous-infusion"}]},
                    "performedDateTime": _day(d),
                }
                for d in (8, 15, 22, 29)  # "+7, +14, +21, +28"
            ),
            *(
                {
                    "resourceType": "MedicationAdministration",
                    "status": "completed",
                    "medicationCodeableConcept": {
                        "coding": [
                            {
                                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                "code": "6851",
                            }
                        ]
                    },
                    "effectiveDateTime": _day(d),
                    "dosage": {"route": it_route},
                }
                for d in (1, 28)
            ),
            _obs("11150-0", _day(1), 3, "%"),
            _obs("mrd-flow", _day(14), 0.5, "%", BALL),
            _obs("mrd-flow", _day(28), 0.005, "%", BALL),
            _obs("11150-0", _day(28), 0.5, "%"),
        ]
    )


def test_s22_practice_findings() -> None:
    [ev] = evaluate(_bundle(), protocols(), dt.date(2021, 4, 5))
    assert ev.protocol == "all-rez-2016-blokhin"
    mismatch = ev.first("dose-unit-mismatch")
    assert mismatch is not None
    assert mismatch.severity == "error"
    assert "recorded for a patient over the weight boundary" in mismatch.message
    plan = ev.first("dose-plan")
    assert plan is not None
    assert plan.data["flat"] is True  # 50 kg > 45 kg: 9 then 28 ug/d [V23]
    cd3 = ev.first("schedule-cd3-infusions")
    assert cd3 is not None
    assert [(i["day"], i["status"]) for i in cd3.data["items"]] == [
        (8, "done"),
        (15, "done"),
        (22, "done"),
        (29, "done"),
    ]
    assert cd3.severity == "information"
    it = ev.first("schedule-intrathecal")
    assert it is not None
    assert {i["status"] for i in it.data["items"]} == {"done"}
    mrd = ev.first("mrd-negative")
    assert mrd is not None
    assert mrd.data["date"] == _day(28)
    # nothing the quoted practice contradicts: no missed infusion, IT or assessment
    assert "schedule-response-assessment" in ev.codes()
    assert ev.first("schedule-response-assessment").severity == "information"  # type: ignore[union-attr]
    for code in (
        "dose-missed-days",
        "non-responder",
        "unknown-protocol",
        "measurement-implausible",
    ):
        assert code not in ev.codes(), code


def test_s22_dose_error_travels_with_the_apply_result() -> None:
    bundle = _bundle()
    result, _ = apply_plan(
        bundle, protocols()["all-rez-2016-blokhin"], "Patient/p", dt.date(2021, 3, 5)
    )
    issues = [
        e["resource"] for e in result["entry"] if e["resource"]["resourceType"] == "DetectedIssue"
    ]
    assert "dose-unit-mismatch" in [i["code"]["text"] for i in issues]
