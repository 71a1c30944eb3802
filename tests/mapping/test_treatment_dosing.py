"""Infusions: the delivered dose rate (contract.md "blinatumomab infusion": dosage.rateQuantity =
delivered ug/d) and events: birth date and sex on the Patient (protocol.md §1 age eligibility).

Expected values by hand: pump 0.6 mL/h x 24 h x 0.3 ug/mL = 4.32 ug/d; 5 ug/m2/d x 0.86 m2 =
4.3 ug/d prescribed (+0.47 %); 0.6 x 24 x 1.2 = 17.28 ug/d vs 15 x 0.86 = 12.9 ug/d (+34 %);
0.5 x 24 x 2.5 = 30 ug/d vs flat 28 ug/d (+7.1 %).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from adapter.cli.treatment import TREATMENT_KINDS
from adapter.fhir import Resource
from adapter.mapping.bundle import MapResult
from adapter.mapping.treatment.common import EXT_PRESCRIBED_RATE
from adapter.sources.site import SiteConfig, load_site
from tests.conftest import RECORDED

HEADER = (
    "patient_id,order_id,drug,bag_id,start,end,dose,dose_unit,rate_ml_h,bag_volume_ml,"
    "concentration_ug_ml,course,course_day,status,status_reason,bsa\n"
)
ROWS = (
    "P1,O1,blinatumomab,B1,2024-10-14T10:00:00+03:00,2024-10-21T10:00:00+03:00,5,ug/m2/d,"
    "0.6,100,0.3,1,1,completed,,0.86\n"
    "P1,O1,blinatumomab,B2,2024-10-21T10:00:00+03:00,2024-10-28T10:00:00+03:00,15,ug/m2/d,"
    "0.6,100,1.2,1,8,completed,,0.86\n"
    "P2,O2,blinatumomab,B1,2024-10-14T10:00:00+03:00,2024-10-21T10:00:00+03:00,28,ug/d,"
    "0.5,100,2.5,1,8,completed,,\n"
    "P3,O3,blinatumomab,B1,2024-10-14T10:00:00+03:00,2024-10-21T10:00:00+03:00,9,ug/d,"
    "0.6,100,,1,1,completed,,\n"
)


def _map(kind: str, data: str, site: SiteConfig | None = None) -> MapResult:
    mapper = TREATMENT_KINDS[kind][1]
    return mapper(data.encode(), "input.csv", site or load_site("default"), RECORDED, None, [])


def _bags(result: MapResult) -> dict[str, Resource]:
    return {
        e["resource"]["identifier"][0]["value"]: e["resource"]
        for e in result.bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationAdministration"
    }


def _rules(result: MapResult, rule: str) -> list[Any]:
    return [i for i in result.issues if i.rule == rule]


def test_rate_quantity_is_the_delivered_rate() -> None:
    result = _map("infusions", HEADER + ROWS)
    assert result.rejected == 0
    bags = _bags(result)
    rate = {k: b["dosage"]["rateQuantity"] for k, b in bags.items()}
    assert rate["O1/B1"] == {
        "value": 4.32,
        "unit": "ug/d",
        "system": "http://unitsofmeasure.org",
        "code": "ug/d",
    }
    assert rate["O1/B2"]["value"] == 17.28
    assert rate["O2/B1"]["value"] == 30
    # the prescribed per-m2 rate stays in its extension
    prescribed = [e for e in bags["O1/B2"]["extension"] if e["url"] == EXT_PRESCRIBED_RATE]
    assert prescribed[0]["valueQuantity"]["value"] == 15
    assert "12.9 ug/d prescribed" in bags["O1/B2"]["dosage"]["text"]


def test_delivered_rate_off_the_prescription_is_a_warning() -> None:
    result = _map("infusions", HEADER + ROWS)
    [warning] = _rules(result, "delivered-rate-deviation")
    assert warning.severity == "warning"
    assert warning.location == ("input.csv:row 3:column rate_ml_h",)
    assert "17.28 ug/d" in warning.diagnostics
    assert "12.9 ug/d" in warning.diagnostics
    assert "+34.0%" in warning.diagnostics
    assert "dose_rate_tolerance_pct 10" in warning.diagnostics


def test_tolerance_is_a_site_key() -> None:
    default = load_site("default")
    assert default.infusions is not None
    assert default.infusions.dose_rate_tolerance_pct == Decimal(10)
    strict = default.model_copy(
        update={
            "infusions": default.infusions.model_copy(
                update={"dose_rate_tolerance_pct": Decimal(5)}
            )
        }
    )
    result = _map("infusions", HEADER + ROWS, strict)
    flagged = {i.location[0] for i in _rules(result, "delivered-rate-deviation")}
    # flat 28 ug/d delivered as 30 ug/d (+7.1 %) is within 10 % but not within 5 %
    assert flagged == {"input.csv:row 3:column rate_ml_h", "input.csv:row 4:column rate_ml_h"}


def test_without_pump_rate_and_concentration_the_prescribed_rate_is_said() -> None:
    result = _map("infusions", HEADER + ROWS)
    [note] = _rules(result, "delivered-rate-unknown")
    assert note.severity == "information"
    assert note.location == ("input.csv:row 5:column concentration_ug_ml",)
    assert "prescribed rate 9 ug/d" in note.diagnostics
    assert _bags(result)["O3/B1"]["dosage"]["rateQuantity"]["value"] == 9


EVENTS = "patient_id,event,date,sex\n"


def _patient(result: MapResult) -> Resource:
    [patient] = [e for e in result.bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert patient["request"]["method"] == "POST"
    assert "ifNoneExist" in patient["request"]
    return dict(patient["resource"])


def test_birth_event_sets_birth_date_and_gender() -> None:
    result = _map("events", EVENTS + "P1,birth,2014-06-30,female\nP1,diagnosis,2022-03-10,\n")
    assert result.rejected == 0
    patient = _patient(result)
    assert (patient["birthDate"], patient["gender"]) == ("2014-06-30", "female")


def test_sex_is_an_administrative_gender_code() -> None:
    result = _map("events", EVENTS + "P1,birth,2014-06-30,F\n")
    assert result.rejected == 1
    assert [i.rule for i in result.issues if i.is_error] == ["sex-unknown"]


def test_event_before_birth_is_rejected() -> None:
    result = _map("events", EVENTS + "P1,birth,2014-06-30,male\nP1,diagnosis,2014-01-01,\n")
    assert [i.rule for i in result.issues if i.is_error] == ["event-before-birth"]
