"""HL7 v2 fidelity (issue 17), each rule with messages written here: the specimen a LOINC test
fixes when an order has no SPM and no OBR-15, SNOMED CT specimen codes and the CWE alternate,
every SN form and the NR / DR / TM value types in their FHIR type, no overwrite across patients
(in one file and across files of a run), every PID-5 repetition, MSH-18 character sets and UTF-16
input, and an empty OBX-3 rejected.
"""

from __future__ import annotations

from typing import Any

from adapter.cli.mapcmd import hl7v2_context
from adapter.issues import Issue
from adapter.mapping.bundle import MapResult
from adapter.mapping.hl7v2 import map_hl7v2, subjects_of
from adapter.sources.hl7v2 import read_hl7_file
from adapter.sources.site import load_site
from tests.bundle_checks import assert_bundle_invariants
from tests.conftest import RECORDED

SITE = load_site("default")
CTX = hl7v2_context(SITE)
T = "20240520083000+0300"
MSH = "MSH|^~\\&|LIS|BALLHOSP|BALLFHIR|BALLFHIR|20240520100000+0300||ORU^R01^ORU_R01|{id}|P|2.5.1"


def message(control: str, patient: str, *segments: str, msh: str = MSH) -> str:
    return "\r".join([msh.format(id=control), f"PID|1||{patient}^^^BALLHOSP^MR", *segments]) + "\r"


def obr(filler: str, when: str = T, specimen: str = "") -> str:
    return f"OBR|1||{filler}^LIS|PANEL^Panel^99BALL|||{when}||||||||{specimen}"


def obx(n: int, kind: str, code: str, value: str, unit: str = "", when: str = "") -> str:
    return f"OBX|{n}|{kind}|{code}||{value}|{unit}|||||F|||{when}"


def run(text: str | bytes, owners: dict[str, str] | None = None) -> MapResult:
    data = text.encode() if isinstance(text, str) else text
    result = map_hl7v2(data, "t.hl7", SITE, CTX, RECORDED, owners=owners)
    assert_bundle_invariants(result.bundle)
    return result


def resources(result: MapResult, kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in result.bundle["entry"] if e["resource"]["resourceType"] == kind]


def rules(result: MapResult) -> list[str]:
    return [i.rule or "" for i in result.issues]


def issue(result: MapResult, rule: str) -> Issue:
    (found,) = [i for i in result.issues if i.rule == rule]
    return found


def by_url(result: MapResult) -> dict[str, dict[str, Any]]:
    return {e["fullUrl"]: e["resource"] for e in result.bundle["entry"]}


# --- specimen from the test code (no SPM, no OBR-15)


def test_loinc_test_gives_its_specimen_when_the_order_names_none() -> None:
    result = run(
        message(
            "S-1",
            "P100",
            obr("F-S1"),
            obx(1, "NM", "11150-0^Blasts marrow^LN", "4", "%^%^UCUM"),
        )
    )
    (spec,) = resources(result, "Specimen")
    assert spec["type"]["coding"][0]["code"] == "bone-marrow"
    assert spec["collection"]["collectedDateTime"] == "2024-05-20T08:30:00+03:00"
    (obs,) = resources(result, "Observation")
    assert by_url(result)[obs["specimen"]["reference"]] is spec
    assert obs["valueQuantity"]["value"] == 4
    found = issue(result, "specimen-from-test")
    assert found.severity == "information"
    assert "11150-0" in found.diagnostics
    assert result.rejected == 0


def test_blood_tests_of_one_order_share_one_specimen_collected_at_obx14() -> None:
    result = run(
        message(
            "S-2",
            "P101",
            obr("F-S2", when=""),
            obx(1, "NM", "718-7^Hemoglobin^LN", "104", "g/L^g/L^UCUM", when=T),
            obx(2, "NM", "777-3^Platelets^LN", "150", "10*9/L^10*9/L^UCUM", when=T),
        )
    )
    (spec,) = resources(result, "Specimen")
    assert spec["type"]["coding"][0]["code"] == "peripheral-blood"
    assert spec["collection"]["collectedDateTime"] == "2024-05-20T08:30:00+03:00"
    assert {o["specimen"]["reference"] for o in resources(result, "Observation")} == {
        f"urn:uuid:{spec['id']}"
    }
    assert "OBX-14" in issue(result, "specimen-from-test").diagnostics
    assert result.rejected == 0


def test_snomed_specimen_code_in_spm4_and_the_cwe_alternate() -> None:
    spm_sct = f"SPM|1|^BM-1&LIS||119359002^Bone marrow specimen^SCT|||||||||||||{T}"
    spm_alt = (
        f"SPM|1|^CSF-1&LIS||LIQ^Liquor^L^258450006^Cerebrospinal fluid specimen^SCT|||||||||||||{T}"
    )
    result = run(
        message("S-3", "P102", obr("F-S3"), obx(1, "NM", "11150-0^Blasts^LN", "3", "%"), spm_sct)
        + message("S-4", "P102", obr("F-S4"), obx(1, "NM", "806-0^CSF WBC^LN", "2", "/uL"), spm_alt)
    )
    kinds = {
        s["accessionIdentifier"]["value"]: [c["code"] for c in s["type"]["coding"]]
        for s in resources(result, "Specimen")
    }
    assert kinds == {"BM-1": ["bone-marrow", "119359002"], "CSF-1": ["csf", "258450006"]}
    assert result.rejected == 0


# --- value types


def _value(result: MapResult, code: str) -> dict[str, Any]:
    (obs,) = [o for o in resources(result, "Observation") if o["code"]["coding"][0]["code"] == code]
    return {k: v for k, v in obs.items() if k.startswith("value")}


def test_every_sn_form_and_nr_dr_tm_keep_their_fhir_type() -> None:
    unit = "mg/L^mg/L^UCUM"
    result = run(
        message(
            "V-1",
            "P103",
            obr("F-V1"),
            obx(1, "SN", "RNG^Range^99BALL", "^10^-^20", unit),
            obx(2, "SN", "RAT^Ratio^99BALL", "<^1^:^128", unit),
            obx(3, "SN", "DEC^Decimal^99BALL", "^1^.^50", unit),
            obx(4, "SN", "DEX^Decimal text^99BALL", "^1^.^x", unit),
            obx(5, "NR", "NRG^Numeric range^99BALL", "3.5^7", unit),
            obx(6, "DR", "PER^Period^99BALL", f"20240501+0300^{T}"),
            obx(7, "TM", "TIM^Time^99BALL", "0830+0300"),
            obx(8, "SN", "QTY^Quantity^99BALL", ">=^5", unit),
        )
    )
    q = {"unit": "mg/L", "system": "http://unitsofmeasure.org", "code": "mg/L"}
    assert _value(result, "RNG") == {
        "valueRange": {"low": {"value": 10, **q}, "high": {"value": 20, **q}}
    }
    assert _value(result, "RAT") == {
        "valueRatio": {
            "numerator": {"value": 1, "comparator": "<", **q},
            "denominator": {"value": 128, **q},
        }
    }
    assert _value(result, "DEC") == {"valueQuantity": {"value": 1.5, **q}}
    assert _value(result, "DEX") == {"valueString": "1.x mg/L"}
    assert _value(result, "NRG") == {
        "valueRange": {"low": {"value": 3.5, **q}, "high": {"value": 7, **q}}
    }
    assert _value(result, "PER") == {
        "valuePeriod": {"start": "2024-05-01", "end": "2024-05-20T08:30:00+03:00"}
    }
    assert _value(result, "TIM") == {"valueTime": "08:30:00"}
    assert _value(result, "QTY") == {"valueQuantity": {"value": 5, "comparator": ">=", **q}}
    assert {"sn-decimal", "sn-text", "time-zone-dropped"} <= set(rules(result))
    assert result.rejected == 0


def test_a_comparator_outside_the_fhir_set_rejects_its_obx() -> None:
    result = run(
        message(
            "V-2",
            "P104",
            obr("F-V2"),
            obx(1, "SN", "ODD^Odd comparator^99BALL", "=<^5", "mg/L"),
            obx(2, "SN", "RNC^Range with comparator^99BALL", "<^1^-^2", "mg/L"),
            obx(3, "NM", "OK^Fine^99BALL", "1", "mg/L"),
        )
    )
    errors = [i for i in result.issues if i.rule == "sn-comparator"]
    assert [e.source_record for e in errors] == [
        obx(1, "SN", "ODD^Odd comparator^99BALL", "=<^5", "mg/L"),
        obx(2, "SN", "RNC^Range with comparator^99BALL", "<^1^-^2", "mg/L"),
    ]
    assert [o["code"]["coding"][0]["code"] for o in resources(result, "Observation")] == ["OK"]
    assert (result.read, result.rejected) == (3, 2)


def test_range_on_a_contract_code_is_mapped_and_flagged_not_rejected() -> None:
    result = run(
        message(
            "V-3",
            "P105",
            obr("F-V3"),
            obx(1, "SN", "11150-0^Blasts marrow^LN", "^10^-^20", "%^%^UCUM"),
            f"SPM|1|^BM-3&LIS||MAR^Marrow^HL70487|||||||||||||{T}",
        )
    )
    (obs,) = resources(result, "Observation")
    assert obs["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "11150-0",
        "display": "Blasts/100 cells in Bone marrow",
    }
    assert obs["valueRange"]["low"]["value"] == 10
    assert obs["valueRange"]["high"]["value"] == 20
    assert obs["meta"]["profile"] == ["http://hl7.org/fhir/StructureDefinition/Observation"]
    found = issue(result, "value-not-for-protocol")
    assert found.severity == "warning"
    assert "not usable for protocol rules" in found.diagnostics
    assert result.rejected == 0


# --- no overwrite across patients


def test_same_filler_order_for_two_patients_rejects_the_second() -> None:
    first = message("X-1", "P200", obr("F-SAME"), obx(1, "NM", "718-7^Hgb^LN", "104", "g/L"))
    second = message("X-2", "P201", obr("F-SAME"), obx(1, "NM", "718-7^Hgb^LN", "88", "g/L"))
    result = run(first + second)
    (obs,) = resources(result, "Observation")
    assert obs["valueQuantity"]["value"] == 104
    patients = {
        e["resource"]["identifier"][0]["value"]: e["fullUrl"]
        for e in result.bundle["entry"]
        if e["resource"]["resourceType"] == "Patient"
    }
    assert obs["subject"]["reference"] == patients["P200"]
    (spec,) = resources(result, "Specimen")
    assert spec["subject"] == obs["subject"]
    found = issue(result, "id-other-patient")
    assert found.severity == "error"
    assert "'F-SAME'" in found.diagnostics
    assert "line 3 of this file" in found.diagnostics
    assert found.source_record is not None
    assert "|88|" in found.source_record
    assert (result.read, result.rejected) == (2, 1)


def test_same_specimen_accession_for_two_patients_rejects_the_second() -> None:
    spm = f"SPM|1|^ACC-1&LIS||MAR^Marrow^HL70487|||||||||||||{T}"
    first = message("X-3", "P202", obr("F-A"), obx(1, "NM", "11150-0^B^LN", "4", "%"), spm)
    second = message("X-4", "P203", obr("F-B"), obx(1, "NM", "11150-0^B^LN", "9", "%"), spm)
    result = run(first + second)
    (spec,) = resources(result, "Specimen")
    (obs,) = resources(result, "Observation")
    assert spec["subject"] == obs["subject"]
    assert obs["valueQuantity"]["value"] == 4
    assert "specimen accession 'ACC-1'" in issue(result, "id-other-patient").diagnostics
    assert result.rejected == 1


def test_an_id_of_another_patient_in_another_file_of_the_run_is_rejected() -> None:
    earlier = run(message("X-5", "P204", obr("F-RUN"), obx(1, "NM", "718-7^Hgb^LN", "104", "g/L")))
    later = message("X-6", "P205", obr("F-RUN"), obx(1, "NM", "718-7^Hgb^LN", "77", "g/L"))
    result = run(later, owners=subjects_of([earlier.bundle]))
    assert resources(result, "Observation") == []
    assert "another file of this run" in issue(result, "id-other-patient").diagnostics
    assert result.rejected == 1
    same_patient = run(
        message("X-7", "P204", obr("F-RUN"), obx(1, "NM", "718-7^Hgb^LN", "99", "g/L")),
        owners=subjects_of([earlier.bundle]),
    )
    assert same_patient.rejected == 0
    assert "id-other-patient" not in rules(same_patient)


# --- patient, character sets, empty results


def test_every_pid5_repetition_and_its_suffixes_are_kept() -> None:
    msh = MSH.format(id="N-1")
    text = (
        f"{msh}\rPID|1||P300^^^BALLHOSP^MR||Smith^John^Paul^Jr^Dr^MD^L~Smyth^Johnny^^^^^N"
        f"\r{obr('F-N1')}\r{obx(1, 'NM', '718-7^Hgb^LN', '104', 'g/L')}\r"
    )
    (patient,) = resources(run(text), "Patient")
    assert patient["name"] == [
        {
            "use": "official",
            "family": "Smith",
            "given": ["John", "Paul"],
            "prefix": ["Dr"],
            "suffix": ["Jr", "MD"],
        },
        {"use": "nickname", "family": "Smyth", "given": ["Johnny"]},
    ]


def _named(charset: str, name: bytes) -> bytes:
    msh = (MSH.format(id="C-1") + "||||||" + charset).encode("ascii")
    tail = f"\r{obr('F-C1')}\r{obx(1, 'NM', '718-7^Hgb^LN', '104', 'g/L')}\r".encode()
    return msh + b"\rPID|1||P400^^^BALLHOSP^MR||" + name + b"^Anna" + tail


def test_msh18_character_sets_are_honoured() -> None:
    latin1 = run(_named("8859/1", "Müller".encode("latin-1")))
    cyrillic = run(_named("8859/5", "Петрова".encode("iso8859-5")))
    utf8 = run(_named("UNICODE UTF-8", "Ødegård".encode()))
    families = [resources(r, "Patient")[0]["name"][0]["family"] for r in (latin1, cyrillic, utf8)]
    assert families == ["Müller", "Петрова", "Ødegård"]
    assert all(r.rejected == 0 for r in (latin1, cyrillic, utf8))


def test_an_unknown_msh18_set_falls_back_to_the_site_encoding_with_a_warning() -> None:
    result = run(_named("ISO IR87", b"Tanaka"))
    assert resources(result, "Patient")[0]["name"][0]["family"] == "Tanaka"
    found = issue(result, "hl7-charset-unknown")
    assert found.severity == "warning"
    assert "'ISO IR87'" in found.diagnostics


def test_utf16_input_is_named_in_the_error() -> None:
    text = message("U-1", "P500", obr("F-U1"), obx(1, "NM", "718-7^Hgb^LN", "104", "g/L"))
    for data, form in ((text.encode("utf-16"), "UTF-16LE"), (text.encode("utf-16-be"), "UTF-16BE")):
        result = run(data)
        found = issue(result, "hl7-utf16")
        assert found.severity == "error"
        assert form in found.diagnostics
        assert found.diagnostics.startswith("no HL7 v2 message found")
        assert result.rejected == 1
        assert result.bundle["entry"] == []


def test_empty_obx3_is_an_error_not_an_observation() -> None:
    result = run(
        message(
            "E-1",
            "P600",
            obr("F-E1"),
            obx(1, "NM", "", "5", "mg/L"),
            obx(2, "NM", "718-7^Hgb^LN", "104", "g/L"),
        )
    )
    found = issue(result, "obx-code-missing")
    assert found.severity == "error"
    assert found.source_record == obx(1, "NM", "", "5", "mg/L")
    codes = [o["code"] for o in resources(result, "Observation")]
    assert len(codes) == 1
    assert codes[0]["coding"][0]["code"] == "718-7"
    assert (result.read, result.rejected) == (2, 1)


def test_the_reader_yields_message_by_message() -> None:
    data = (message("R-1", "P1", obr("F-R1")) + message("R-2", "P2", obr("F-R2"))).encode()
    items = read_hl7_file(data)
    first = next(items)
    assert getattr(first, "number", None) == 1
    assert [getattr(i, "number", None) for i in items] == [2]
