"""Golden pairs for the HL7 v2 mapping: tests/golden/hl7v2/<case>/{input.hl7, site.yaml?,
expected.json, outcome.json}, compared as parsed JSON (``BALL_FHIR_REGEN_GOLDEN=1`` rewrites them,
see tests/golden.py), plus the CSV twin of examples/hl7v2 and the validator on every bundle.

Cases: mrd-flow (realistic flow MRD ORU^R01 on bone marrow: panel text, event count, LOD, OBR
and OBX notes), value-types (NM, every SN form, ST/TX/FT escapes, CWE/CE, DTM, ED, repeats, the
same code twice), statuses (every OBX-11 code), corrected (OBX-11 C re-sent with the same ids),
batch-crlf-bom, custom-encoding (5-char MSH-2 and other delimiters), z-segments (and misplaced
segments, LF endings), rejects (whole messages and single OBX), site-zone-obr15 (site time zone,
precision, v2.3 OBR-15 specimen).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapter.cli.mapcmd import hl7v2_context, lab_context
from adapter.mapping.bundle import MapResult
from adapter.mapping.hl7v2 import map_hl7v2
from adapter.mapping.lab import map_lab
from adapter.sources.site import load_site
from tests.bundle_checks import assert_bundle_invariants, provenance_rows
from tests.conftest import RECORDED, ROOT
from tests.golden import assert_golden_result, golden_cases, map_golden_case

GOLDEN = ROOT / "tests" / "golden" / "hl7v2"
CASES = golden_cases("hl7v2")


def map_case(case: Path) -> MapResult:
    return map_golden_case(
        case,
        "input.hl7",
        lambda data, name, site: map_hl7v2(data, name, site, hl7v2_context(site), RECORDED),
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_bundle(case: Path) -> None:
    assert_golden_result(map_case(case), case)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bundle_invariants_and_determinism(case: Path) -> None:
    result = map_case(case)
    assert_bundle_invariants(result.bundle)
    assert json.dumps(result.bundle) == json.dumps(map_case(case).bundle)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_bundles_have_no_validation_errors(case: Path) -> None:
    validator = pytest.importorskip("adapter.validation.validator").default_validator()
    errors = [i.to_text() for i in validator.validate(map_case(case).bundle) if i.is_error]
    assert errors == []


def test_counts_per_case() -> None:
    counts = {c.name: (map_case(c).read, map_case(c).rejected) for c in CASES}
    assert counts["mrd-flow"] == (5, 0)
    assert counts["rejects"] == (14, 12)  # the SN ratio on a contract code is mapped (issue 17)
    assert counts["statuses"] == (17, 0)


def _resources(result: MapResult, kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in result.bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_corrected_result_replaces_the_original() -> None:
    result = map_case(GOLDEN / "corrected")
    (mrd,) = [
        o for o in _resources(result, "Observation") if o["code"]["coding"][0]["code"] == "mrd-flow"
    ]
    assert mrd["status"] == "corrected"
    assert mrd["valueQuantity"]["comparator"] == "<"
    assert mrd["note"] == [{"text": "corrected after panel review"}]
    assert any(i.rule == "resource-replaced" for i in result.issues)


def test_obr_notes_go_to_the_report_conclusion() -> None:
    (report,) = _resources(map_case(GOLDEN / "mrd-flow"), "DiagnosticReport")
    assert report["conclusion"].startswith("MRD positive at day 29")


def test_provenance_keeps_each_message_by_hash_and_control_id() -> None:
    (prov,) = _resources(map_case(GOLDEN / "batch-crlf-bom"), "Provenance")
    displays = [e["what"]["display"] for e in prov["entity"]]
    assert displays[1:] == [
        "input.hl7 message 1 (MSH-10 B-0001)",
        "input.hl7 message 2 (MSH-10 B-0002)",
    ]
    assert all(
        e["what"]["identifier"]["value"].startswith("ni:///sha-256;") for e in prov["entity"]
    )


def test_resent_message_in_another_transport_maps_to_the_same_ids() -> None:
    """CRLF and BOM are transport: the same message maps to the same resources and hash."""
    site = load_site("default")
    data = (GOLDEN / "mrd-flow" / "input.hl7").read_bytes()
    crlf = b"\xef\xbb\xbf" + data.replace(b"\r", b"\r\n")
    one = map_hl7v2(data, "a.hl7", site, hl7v2_context(site), RECORDED)
    two = map_hl7v2(crlf, "a.hl7", site, hl7v2_context(site), RECORDED)
    ids = [[e["fullUrl"] for e in r.bundle["entry"][:-1]] for r in (one, two)]
    assert ids[0] == ids[1]
    entities = [_resources(r, "Provenance")[0]["entity"][1:] for r in (one, two)]
    assert entities[0] == entities[1]


# --- the CSV twin: examples/hl7v2/lab-results.hl7 carries rows of examples/lab/lab-results.csv


def _normalised(bundle: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Profiled Observations keyed by (specimen accession, contract code), ids resolved."""
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    out = {}
    for entry in bundle["entry"]:
        obs = entry["resource"]
        if obs["resourceType"] != "Observation" or "meta" not in obs:
            continue
        obs = dict(obs)
        contract = obs["code"]["coding"][0]
        specimen = by_url[obs.pop("specimen")["reference"]]
        patient = by_url[obs.pop("subject")["reference"]]
        obs.pop("id")
        obs["code"] = {"coding": [contract]}
        obs["patient"] = patient["identifier"][0]
        obs["specimen"] = specimen["accessionIdentifier"]
        out[(specimen["accessionIdentifier"]["value"], contract["code"])] = obs
    return out


def test_hl7_message_and_csv_twin_give_equivalent_observations() -> None:
    site = load_site("default")
    csv = map_lab(
        (ROOT / "examples" / "lab" / "lab-results.csv").read_bytes(),
        "lab-results.csv",
        site,
        lab_context(site),
        RECORDED,
    )
    hl7 = map_hl7v2(
        (ROOT / "examples" / "hl7v2" / "lab-results.hl7").read_bytes(),
        "lab-results.hl7",
        site,
        hl7v2_context(site),
        RECORDED,
    )
    from_csv = _normalised(csv.bundle)
    from_hl7 = _normalised(hl7.bundle)
    assert len(from_hl7) == 10
    for key, obs in from_hl7.items():
        assert obs == from_csv[key], key


# --- accounting: every line is mapped (Provenance source row) or named by an issue


def accounted_lines(result: MapResult) -> set[int]:
    lines: set[int] = set()
    for rows in provenance_rows(result.bundle).values():
        lines.update(rows)
    for issue in result.issues:
        for where in issue.location:
            for part in where.split(":"):
                if part.startswith("lines "):
                    first, last = part[6:].split("-")
                    lines.update(range(int(first), int(last) + 1))
                elif part.startswith("line "):
                    lines.add(int(part[5:]))
    return lines


def segment_lines(data: bytes) -> set[int]:
    text = data.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return {
        n for n, line in enumerate(text.split(b"\n"), start=1) if line.strip(b"\x0b\x1c").strip()
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_segment_is_accounted_for(case: Path) -> None:
    result = map_case(case)
    assert segment_lines((case / "input.hl7").read_bytes()) <= accounted_lines(result)
