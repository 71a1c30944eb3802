"""What the committed profile package (profiles/package/) must hold, whatever its sources.

Every conformance resource has its canonical url under https://ball-fhir.org/fhir
(contract.md "Identity"), every StructureDefinition carries a snapshot, the .index.json files
list exactly the files beside them, every example names a profile of the package in
meta.profile, the examples satisfy the ball-* FHIRPath invariants of their profiles, and the
profile URLs the adapter writes (adapter/fhir.py) are all in the package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhirpathpy import evaluate
from fhirpathpy.models import models

from adapter import fhir
from adapter.packagecache import PROFILE_DEPENDENCIES, npm_package_dir
from adapter.validation import default_validator

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "profiles" / "package"
EXAMPLE_DIRS = (PACKAGE / "example", ROOT / "profiles" / "examples")
R4 = models["r4"]


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _resources(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name: _load(p)
        for p in sorted(folder.glob("*.json"))
        if p.name not in ("package.json", ".index.json")
    }


CONFORMANCE = _resources(PACKAGE)
EXAMPLES = {
    p.relative_to(ROOT).as_posix(): _load(p)
    for folder in EXAMPLE_DIRS
    if folder.is_dir()
    for p in sorted(folder.rglob("*.json"))
    if p.name != ".index.json"
}
PROFILES = {
    r["url"]: r
    for r in CONFORMANCE.values()
    if r["resourceType"] == "StructureDefinition" and r.get("kind") == "resource"
}


def test_package_manifest() -> None:
    manifest = _load(PACKAGE / "package.json")
    assert manifest["name"] == "ball-fhir.profiles"
    assert manifest["version"] == "0.1.0"
    assert manifest["fhirVersions"] == ["4.0.1"]
    assert manifest["dependencies"] == {
        "hl7.fhir.r4.core": "4.0.1",
        "hl7.fhir.us.mcode": "4.0.0",
        "hl7.fhir.uv.genomics-reporting": "3.0.0",
        "hl7.terminology.r4": "7.0.1",
    }
    assert manifest["canonical"] == fhir.CANONICAL


def test_implementation_guide_lists_the_package() -> None:
    guide = CONFORMANCE["ImplementationGuide-ball-fhir.profiles.json"]
    manifest = _load(PACKAGE / "package.json")
    assert guide["packageId"] == manifest["name"]
    assert guide["version"] == manifest["version"]
    assert guide["fhirVersion"] == manifest["fhirVersions"]
    depends = {d["packageId"]: d["version"] for d in guide["dependsOn"]}
    assert depends == {k: v for k, v in manifest["dependencies"].items() if k != "hl7.fhir.r4.core"}
    listed = {e["reference"]["reference"]: e for e in guide["definition"]["resource"]}
    others = {f"{r['resourceType']}/{r['id']}" for r in CONFORMANCE.values() if r is not guide}
    examples = {
        f"{r['resourceType']}/{r['id']}": r for r in _resources(PACKAGE / "example").values()
    }
    assert set(listed) == others | set(examples)
    for ref, example in examples.items():
        assert listed[ref]["exampleCanonical"] == example["meta"]["profile"][0]
    assert all(listed[ref]["exampleBoolean"] is False for ref in others)
    assert not [i.to_text() for i in default_validator().validate(guide) if i.is_error]


@pytest.mark.parametrize("folder", [PACKAGE, PACKAGE / "example"], ids=["package", "example"])
def test_index_lists_exactly_the_files(folder: Path) -> None:
    index = _load(folder / ".index.json")
    listed = {entry["filename"]: entry for entry in index["files"]}
    assert sorted(listed) == sorted(_resources(folder))
    for name, entry in listed.items():
        res = _load(folder / name)
        assert (entry["resourceType"], entry["id"]) == (res["resourceType"], res["id"])
        assert name == f"{res['resourceType']}-{res['id']}.json"


@pytest.mark.parametrize("name", sorted(CONFORMANCE))
def test_canonical_url_under_our_base(name: str) -> None:
    res = CONFORMANCE[name]
    assert res.get("url") == f"{fhir.CANONICAL}/{res['resourceType']}/{res['id']}"


@pytest.mark.parametrize(
    "name", sorted(n for n, r in CONFORMANCE.items() if r["resourceType"] == "StructureDefinition")
)
def test_structure_definition_has_snapshot(name: str) -> None:
    sd = CONFORMANCE[name]
    elements = sd.get("snapshot", {}).get("element", [])
    assert elements, f"{name} has no snapshot: run ./scripts/build-profiles"
    assert elements[0]["path"] == sd["type"]
    snapshot_ids = {e["id"] for e in elements}
    missing = [e["id"] for e in sd["differential"]["element"] if e["id"] not in snapshot_ids]
    assert not missing, f"{name}: differential elements missing from the snapshot: {missing}"


def test_adapter_profile_urls_are_in_the_package() -> None:
    urls = {r.get("url") for r in CONFORMANCE.values()}
    wanted = {
        fhir.PROFILE_PATIENT,
        fhir.PROFILE_SPECIMEN,
        fhir.PROFILE_MRD,
        fhir.PROFILE_LAB,
        fhir.PROFILE_DIAGNOSTIC_REPORT,
        fhir.PROFILE_PROVENANCE,
        fhir.EXT_SOURCE_ROW,
        fhir.sd_url("ball-rejected-record"),
        fhir.BALL_CONCEPTS,
    }
    assert wanted <= urls, sorted(wanted - urls)


def test_every_profile_has_an_example() -> None:
    exemplified = {p for ex in EXAMPLES.values() for p in ex.get("meta", {}).get("profile", [])}
    assert set(PROFILES) <= exemplified, sorted(set(PROFILES) - exemplified)


def test_every_concept_says_why_no_standard_code() -> None:
    cs = CONFORMANCE["CodeSystem-ball-concepts.json"]
    assert cs["caseSensitive"] is True
    assert cs["content"] == "complete"
    undefined = [
        c["code"] for c in cs["concept"] if "No standard code" not in c.get("definition", "")
    ]
    assert not undefined, (
        f"ball-concepts codes without the reason for no standard code: {undefined}"
    )


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_names_a_profile_of_the_package(name: str) -> None:
    profiles = EXAMPLES[name].get("meta", {}).get("profile", [])
    assert any(p in PROFILES for p in profiles), f"{name}: meta.profile {profiles}"


def _invariant_failures(resource: dict[str, Any]) -> list[str]:
    """The ball-* invariants of the resource's profiles that it breaks."""
    failures = []
    for url in resource.get("meta", {}).get("profile", []):
        for element in PROFILES[url]["snapshot"]["element"]:
            for constraint in element.get("constraint", []):
                if not constraint["key"].startswith("ball-"):
                    continue
                for node in evaluate(resource, element["path"], {}, R4):
                    if evaluate(node, constraint["expression"], {}, R4) != [True]:
                        failures.append(f"{constraint['key']} at {element['path']}")
    return failures


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_meets_the_ball_invariants(name: str) -> None:
    assert _invariant_failures(EXAMPLES[name]) == []


def test_mrd_without_value_or_data_absent_reason_breaks_ball_mrd_1() -> None:
    obs = dict(EXAMPLES["profiles/package/example/Observation-ball-mrd-observation-example.json"])
    del obs["valueQuantity"]
    assert _invariant_failures(obs) == ["ball-mrd-1 at Observation"]


def test_provenance_hash_must_be_an_unpadded_rfc6920_sha256() -> None:
    prov = json.loads(
        json.dumps(EXAMPLES["profiles/package/example/Provenance-ball-provenance-example.json"])
    )
    prov["entity"][0]["what"]["identifier"]["value"] += "="
    assert _invariant_failures(prov) == ["ball-prov-1 at Provenance.entity.what.identifier"]


#: Our profiles derived from mCODE 4.0.0 / Genomics Reporting 3.0.0 (profiles/README.md
#: "Derivation") and their parents.
MCODE_SD = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
GR_SD = "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/"
DERIVED = {
    "ball-b-all-condition": MCODE_SD + "mcode-primary-cancer-condition",
    "ball-blinatumomab-administration": MCODE_SD + "mcode-cancer-related-medication-administration",
    "ball-intrathecal-administration": MCODE_SD + "mcode-cancer-related-medication-administration",
    "ball-fusion-variant": GR_SD + "variant",
    "ball-cytogenetics-report": GR_SD + "genomic-report",
}


@pytest.mark.parametrize("sd_id", sorted(DERIVED))
def test_derived_profile_keeps_every_parent_constraint(sd_id: str) -> None:
    """The derivation claim, and the parent's invariants, bindings and cardinalities in our
    snapshot (only narrowed): a consumer of the parent sees its rules applied."""
    sd = CONFORMANCE[f"StructureDefinition-{sd_id}.json"]
    assert sd["baseDefinition"] == DERIVED[sd_id]
    parents = {
        s["url"]: s
        for name in PROFILE_DEPENDENCIES
        for p in npm_package_dir(name).glob("StructureDefinition-*.json")
        if (s := _load(p))["url"] in DERIVED.values()
    }
    parent = parents[DERIVED[sd_id]]
    ours = {e["id"]: e for e in sd["snapshot"]["element"]}
    for element in parent["snapshot"]["element"]:
        mine = ours.get(element["id"])
        assert mine is not None, f"{element['id']} of the parent is missing"
        keys = {c["key"] for c in element.get("constraint", [])}
        assert keys <= {c["key"] for c in mine.get("constraint", [])}, element["id"]
        assert mine.get("min", 0) >= element.get("min", 0), element["id"]
        if element.get("max") not in (None, "*"):
            assert mine.get("max") != "*", element["id"]
            assert int(mine["max"]) <= int(element["max"]), element["id"]
        for key in (k for k in element if k.startswith(("fixed", "pattern"))):
            assert mine.get(key) == element[key], element["id"]
