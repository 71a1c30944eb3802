"""Registry (packages by canonical URL, expansions) and the reporting options."""

from __future__ import annotations

import json
from pathlib import Path

from adapter.fhir import PROFILE_MRD, PROFILE_PATIENT
from adapter.packagecache import core_package_dir
from adapter.validation import PROFILES_PACKAGE, Options, Registry, Validator, default_validator

from .conftest import ROOT

EXAMPLES = ROOT / "profiles" / "package" / "example"
MRD_EXAMPLE = (
    ROOT / "profiles" / "package" / "example" / "Observation-ball-mrd-observation-example.json"
)


def test_registry_by_url_and_version() -> None:
    registry = Registry()
    registry.add_package(core_package_dir())
    url = "http://hl7.org/fhir/StructureDefinition/Observation"
    sd = registry.structure_definition(url)
    assert sd is not None
    assert sd["type"] == "Observation"
    assert registry.get(f"{url}|4.0.1") is sd or registry.get(f"{url}|4.0.1") == sd
    assert registry.get("http://example.org/nothing") is None


def test_later_package_overrides(tmp_path: Path) -> None:
    registry = Registry()
    registry.add_package(PROFILES_PACKAGE)
    sd = json.loads((PROFILES_PACKAGE / "StructureDefinition-ball-patient.json").read_text())
    sd["title"] = "site override"
    (tmp_path / "StructureDefinition-ball-patient.json").write_text(json.dumps(sd))
    registry.add_package(tmp_path)  # a folder without .index.json is scanned
    found = registry.structure_definition(PROFILE_PATIENT)
    assert found is not None
    assert found["title"] == "site override"


def test_expansions() -> None:
    registry = default_validator().registry
    status = registry.expand("http://hl7.org/fhir/ValueSet/observation-status|4.0.1")
    assert status is not None
    assert status.contains("http://hl7.org/fhir/observation-status", "final")
    assert status.contains(None, "amended")
    assert not status.contains(None, "done")
    lab = registry.expand("https://ball-fhir.org/fhir/ValueSet/ball-lab-tests")
    assert lab is not None
    assert lab.contains("http://loinc.org", "11150-0")
    # LOINC is not in any package: the value set of all LOINC codes cannot be expanded offline.
    assert registry.expand("http://hl7.org/fhir/ValueSet/observation-codes") is None


def test_unexpandable_required_binding_is_information_once() -> None:
    pdf = {"contentType": "application/pdf", "data": "JVBERi0="}
    report = json.loads(
        (
            ROOT / "profiles/package/example/DiagnosticReport-ball-diagnostic-report-example.json"
        ).read_text()
    )
    report["presentedForm"] = [pdf, dict(pdf)]
    issues = default_validator().validate(report)
    infos = [i for i in issues if i.rule == "binding-unexpandable"]
    assert len(infos) == 1
    assert infos[0].severity == "information"
    assert not any(i.is_error for i in issues)


def test_must_support_reporting_is_optional() -> None:
    mrd = json.loads(MRD_EXAMPLE.read_text())
    del mrd["interpretation"]
    validator = default_validator()
    assert not [i for i in validator.validate(mrd) if i.rule == "must-support"]
    reported = validator.with_options(Options(must_support=True)).validate(mrd)
    ms = [i for i in reported if i.rule == "must-support"]
    assert any(i.expression == ("Observation.interpretation",) for i in ms)
    assert all(i.severity == "information" for i in ms)


def test_best_practice_dom6_is_optional() -> None:
    mrd = json.loads(MRD_EXAMPLE.read_text())
    validator = default_validator()
    assert not [i for i in validator.validate(mrd) if i.rule == "dom-6"]
    warned = validator.with_options(Options(best_practice="warning")).validate(mrd)
    assert [i.severity for i in warned if i.rule == "dom-6"] == ["warning"]


def test_invariants_can_be_switched_off() -> None:
    obs = json.loads(MRD_EXAMPLE.read_text())
    obs["dataAbsentReason"] = {"text": "x"}
    validator = default_validator()
    assert any(i.rule == "obs-6" for i in validator.validate(obs))
    quiet = validator.with_options(Options(check_invariants=False)).validate(obs)
    assert not any(i.rule == "obs-6" for i in quiet)


def test_explicit_profile_adds_to_meta_profile() -> None:
    obs = json.loads(MRD_EXAMPLE.read_text())
    issues = default_validator().validate(obs, [PROFILE_MRD])
    assert not any(i.is_error for i in issues)


def test_profile_of_another_type() -> None:
    obs = json.loads(MRD_EXAMPLE.read_text())
    issues = default_validator().validate(obs, [PROFILE_PATIENT])
    assert [i.rule for i in issues if i.is_error] == ["profile-type"]


def test_default_validator_is_cached() -> None:
    assert default_validator() is default_validator()


def test_a_target_profile_not_loaded_is_not_guessed_from_its_url() -> None:
    """mCODE's targets name US Core profiles: without US Core their type is unknown, so a
    reference is not rejected (it was: 'us-core-patient' taken for a resource type)."""
    validator = Validator.load([PROFILES_PACKAGE])
    sd = json.loads((PROFILES_PACKAGE / "StructureDefinition-ball-specimen.json").read_text())
    sd["url"] = "https://example.org/StructureDefinition/specimen-elsewhere"
    unknown = "https://example.org/StructureDefinition/us-core-patient"
    for element in sd["snapshot"]["element"]:
        for t in element.get("type", []):
            if t.get("targetProfile") == [PROFILE_PATIENT]:
                t["targetProfile"] = [unknown]
    validator.registry.add_resource(sd)
    specimen = json.loads((EXAMPLES / "Specimen-ball-specimen-example.json").read_text())
    issues = validator.validate(specimen, [sd["url"]])
    assert not [i.to_text() for i in issues if i.is_error]
    assert any(i.rule == "profile-unknown" and unknown in i.diagnostics for i in issues)
