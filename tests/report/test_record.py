""":func:`adapter.report.record.patient_record`: one patient's resources out of many mapped
transaction Bundles (what the item store holds), the latest version of each."""

from __future__ import annotations

from typing import Any

from adapter.report.record import patient_record


def patient(uuid: str, mrn: str) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{uuid}",
        "resource": {"resourceType": "Patient", "identifier": [{"system": "s", "value": mrn}]},
        "request": {"method": "POST", "url": "Patient", "ifNoneExist": f"identifier=s|{mrn}"},
    }


def entry(rtype: str, rid: str, **fields: Any) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{rid}",
        "resource": {"resourceType": rtype, "id": rid, **fields},
        "request": {"method": "PUT", "url": f"{rtype}/{rid}"},
    }


def of(uuid: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{uuid}"}


def transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


FIRST = transaction(
    patient("p1", "MRN-1"),
    patient("p2", "MRN-2"),
    entry("Specimen", "s1", subject=of("p1")),
    entry("Observation", "o1", subject=of("p1"), specimen=of("s1"), valueString="old"),
    entry("Observation", "o2", subject=of("p2"), specimen=of("s1")),
    entry("Provenance", "prov", target=[of("o1"), of("o2")]),
)
SECOND = transaction(
    patient("p1", "MRN-1"),
    entry("Observation", "o1", subject=of("p1"), valueString="new"),
)


def resources(record: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    assert record is not None
    assert (record["resourceType"], record["type"]) == ("Bundle", "collection")
    assert all("request" not in e for e in record["entry"])
    return {e["resource"]["id"]: e["resource"] for e in record["entry"]}


def test_the_patient_its_resources_and_what_they_reference_not_other_patients() -> None:
    got = resources(patient_record([FIRST], "MRN-1"))
    assert sorted(got) == ["o1", "p1", "s1"]
    assert got["p1"]["identifier"][0]["value"] == "MRN-1"  # the fullUrl uuid became its id
    assert sorted(resources(patient_record([FIRST], "p2"))) == ["o2", "p2", "s1"]


def test_the_latest_version_of_each_resource_wins() -> None:
    got = resources(patient_record([FIRST, SECOND], "p1"))
    assert got["o1"]["valueString"] == "new"
    assert sorted(got) == ["o1", "p1", "s1"]
    assert resources(patient_record([SECOND, FIRST], "p1"))["o1"]["valueString"] == "old"


def test_a_patient_no_bundle_holds_is_none() -> None:
    assert patient_record([FIRST, SECOND], "MRN-3") is None
    assert patient_record([], "p1") is None
    assert patient_record([transaction(entry("Observation", "o9", subject=of("p1")))], "p1") is None
