"""The streaming map: ``map lab --split patient|N`` and ``--ndjson``, cut into parts, give the
same resources and the same issues as mapping the file whole."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from adapter.cli import main
from adapter.fhir import Resource
from tests.bundle_checks import references
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "lab" / "lab-results.csv"


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of ~200 bytes: the 16-row example is mapped in several parts."""
    monkeypatch.setattr("adapter.cli.mapsplit.PART_BYTES", 200)


def whole(tmp_path: Path) -> tuple[Resource, dict[str, Any]]:
    out, rejects = tmp_path / "whole.json", tmp_path / "whole-rejects.json"
    assert main(["map", "lab", str(EXAMPLE), "-o", str(out), "--rejects", str(rejects)]) == 1
    return json.loads(out.read_text()), json.loads(rejects.read_text())


def _resources(bundles: list[Resource]) -> dict[tuple[str, str], Resource]:
    """Every resource but the Provenance, by type and id (the Patient by its identifier)."""
    found: dict[tuple[str, str], Resource] = {}
    for bundle in bundles:
        for entry in bundle["entry"]:
            resource = entry["resource"]
            rtype = resource["resourceType"]
            if rtype == "Provenance":
                continue
            key = resource["identifier"][0]["value"] if rtype == "Patient" else resource["id"]
            found[(rtype, key)] = resource
    return found


def _stripped(resource: Resource) -> str:
    """A resource with its urn:uuid references reduced to the id (as JSON text)."""
    return json.dumps(resource, sort_keys=True).replace("urn:uuid:", "")


def test_one_bundle_per_patient_same_resources_and_issues(tmp_path: Path) -> None:
    bundle, outcome = whole(tmp_path)
    folder, rejects = tmp_path / "split", tmp_path / "rejects.json"
    args = ["map", "lab", str(EXAMPLE), "--split", "patient", "-o", str(folder)]
    code = main([*args, "--rejects", str(rejects)])
    assert code == 1
    parts = [json.loads(p.read_text()) for p in sorted(folder.glob("*.bundle.json"))]
    patients = [
        [e for e in b["entry"] if e["resource"]["resourceType"] == "Patient"] for b in parts
    ]
    assert [len(p) for p in patients] == [1] * len(parts)
    assert len({p[0]["resource"]["identifier"][0]["value"] for p in patients}) == len(parts)
    expected = _resources([bundle])
    got = _resources(parts)
    assert set(got) == set(expected)
    assert {k: _stripped(r) for k, r in got.items()} == {
        k: _stripped(r) for k, r in expected.items()
    }
    assert json.loads(rejects.read_text()) == outcome
    for part in parts:
        inside = {e["fullUrl"] for e in part["entry"]}
        for entry in part["entry"]:
            assert {r for r in references(entry["resource"]) if r.startswith("urn:")} <= inside
        [provenance] = [e for e in part["entry"] if e["resource"]["resourceType"] == "Provenance"]
        assert {t["reference"] for t in provenance["resource"]["target"]} == inside - {
            provenance["fullUrl"]
        }
    ids = [p["id"] for p in parts]
    assert len(set(ids)) == len(ids)


def test_bundles_of_at_most_n_entries(tmp_path: Path) -> None:
    bundle, _ = whole(tmp_path)
    folder = tmp_path / "split"
    assert main(["map", "lab", str(EXAMPLE), "--split", "5", "-o", str(folder)]) == 1
    parts = [json.loads(p.read_text()) for p in sorted(folder.glob("*.bundle.json"))]
    assert len(parts) > 3
    assert max(len(p["entry"]) for p in parts) <= 5
    assert set(_resources(parts)) == set(_resources([bundle]))


def test_ndjson_per_resource_type(tmp_path: Path) -> None:
    bundle, _ = whole(tmp_path)
    folder = tmp_path / "nd"
    assert main(["map", "lab", str(EXAMPLE), "--ndjson", str(folder)]) == 1
    files = {p.stem: p for p in folder.glob("*.ndjson")}
    assert set(files) == {"Patient", "Specimen", "Observation", "DiagnosticReport", "Provenance"}
    held: dict[str, Resource] = {}
    for rtype, path in files.items():
        for line in path.read_text().splitlines():
            resource = json.loads(line)
            assert resource["resourceType"] == rtype
            held[f"{rtype}/{resource['id']}"] = resource
    counts = Counter(k.split("/")[0] for k in held)
    whole_counts = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
    assert {t: n for t, n in counts.items() if t != "Provenance"} == {
        t: n for t, n in whole_counts.items() if t != "Provenance"
    }
    for name, resource in held.items():
        for reference in references(resource):
            assert reference in held, f"{name} -> {reference}"


def test_split_takes_patient_or_a_number_of_at_least_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["map", "lab", str(EXAMPLE), "--split", "2", "-o", str(tmp_path / "x")])
    assert "--split takes 'patient' or a number >= 3" in capsys.readouterr().err
    assert main(["map", "lab", str(EXAMPLE), "--split", "patient"]) == 2
    assert "-o DIR" in capsys.readouterr().err


def test_other_kinds_are_mapped_whole_then_cut(tmp_path: Path) -> None:
    folder = tmp_path / "hl7"
    source = ROOT / "examples" / "hl7v2" / "lab-results.hl7"
    main(["map", "hl7v2", str(source), "--split", "patient", "-o", str(folder)])
    parts = [json.loads(p.read_text()) for p in sorted(folder.glob("*.bundle.json"))]
    assert len(parts) >= 2
    for part in parts:
        assert sum(e["resource"]["resourceType"] == "Patient" for e in part["entry"]) == 1
