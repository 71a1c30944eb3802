"""BundleBuilder: entries put once by id, their source rows, and the Provenance built from them."""

from __future__ import annotations

import pytest

from adapter.fhir import EXT_SOURCE_ROW
from adapter.mapping.bundle import BundleBuilder, patient_id, source_row
from tests.bundle_checks import assert_bundle_invariants, provenance_rows

SYSTEM = "https://example.org/patients"


def _specimen(rid: str) -> dict[str, object]:
    return {"resourceType": "Specimen", "id": rid}


def test_a_resource_put_again_keeps_one_entry_and_gathers_its_rows() -> None:
    builder = BundleBuilder()
    first = builder.put(_specimen("a"), [2])
    again = builder.put(_specimen("a"), [2, 5])  # row 2 again: noted once
    builder.put(_specimen("b"), [3])
    assert again.entry is first.entry
    bundle = builder.build("lab.csv", b"data", "2024-03-01T00:00:00Z")
    assert_bundle_invariants(bundle)
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert urls[:2] == ["urn:uuid:a", "urn:uuid:b"]
    assert bundle["entry"][0]["request"] == {"method": "PUT", "url": "Specimen/a"}
    rows = provenance_rows(bundle)
    assert rows["urn:uuid:a"] == [2, 5]
    assert rows["urn:uuid:b"] == [3]


def test_add_takes_only_a_new_id_and_put_takes_either() -> None:
    builder = BundleBuilder()
    added = builder.add(_specimen("a"))
    assert builder.targets["a"] is added
    with pytest.raises(ValueError, match="Specimen/a is in the Bundle already"):
        builder.add(_specimen("a"))
    assert builder.put(_specimen("a"), [4]) is added  # put finds it and notes the row
    bundle = builder.build("lab.csv", b"data", "2024-03-01T00:00:00Z")
    assert [e["fullUrl"] for e in bundle["entry"][:-1]] == ["urn:uuid:a"]
    assert provenance_rows(bundle)["urn:uuid:a"] == [4]


def test_the_reference_of_a_target_is_its_full_url() -> None:
    builder = BundleBuilder()
    target = builder.put(_specimen("a"))
    assert target.reference == {"reference": target.entry["fullUrl"]}
    assert target.resource == _specimen("a")
    assert target.rows == []


def test_a_patient_is_a_conditional_create_on_its_identifier() -> None:
    builder = BundleBuilder()
    target = builder.add_patient(SYSTEM, "P1", [4])
    assert builder.add_patient(SYSTEM, "P1", [4, 7]) is not None
    assert patient_id(SYSTEM, "P1") in builder.targets
    assert target.entry["request"] == {
        "method": "POST",
        "url": "Patient",
        "ifNoneExist": f"identifier={SYSTEM}|P1",
    }
    assert target.resource["identifier"] == [{"system": SYSTEM, "value": "P1"}]
    bundle = builder.build("events.csv", b"data", "2024-03-01T00:00:00Z")
    assert provenance_rows(bundle)[target.entry["fullUrl"]] == [4, 7]


def test_a_row_noted_by_its_extension_or_by_number_reads_the_same() -> None:
    builder = BundleBuilder()
    target = builder.put(_specimen("a"), [2])
    target.note(source_row(2))  # the same row: nothing added
    target.note(source_row(3))
    assert target.rows == [
        {"url": EXT_SOURCE_ROW, "valuePositiveInt": 2},
        {"url": EXT_SOURCE_ROW, "valuePositiveInt": 3},
    ]


def test_nothing_put_means_no_provenance() -> None:
    bundle = BundleBuilder().build("empty.csv", b"", "2024-03-01T00:00:00Z")
    assert bundle["entry"] == []
    assert bundle["type"] == "transaction"
