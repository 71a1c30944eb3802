"""The complete example patient course of examples/ (issue 5), mapped as the main job maps it.

Diagnosis, relapse, apheresis, a 28-day blinatumomab course with the step-up on day 8, four CD3+
infusions, intrathecal therapy on days 1 and 28, the day-29 marrow and HSCT: every job of
``examples/manifest.yaml`` for these sources maps without rejects, the combined Bundle has every
piece, and it validates against the profiles without errors.  Also the CLI edge: ``--context``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapter.cli.mainjob import combine, load_manifest
from adapter.cli.mapcmd import map_file
from adapter.fhir import Resource
from adapter.issues import UsageError
from adapter.sources.site import load_site
from adapter.validation.validator import default_validator
from tests.conftest import ROOT
from tests.course import map_jobs


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Resource]:
    bundles: dict[str, Resource] = {}
    for name, result in map_jobs(tmp_path_factory.mktemp("course")).items():
        assert result.rejected == 0, [i.to_text() for i in result.issues]
        assert not result.has_errors
        bundles[name] = result.bundle
    return bundles


def combined(bundles: dict[str, Resource]) -> Resource:
    return combine(list(bundles.values()))


def resources(bundle: Resource, rtype: str) -> list[Resource]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def ext(resource: Resource, suffix: str) -> Any:
    for e in resource.get("extension", []):
        if e["url"].endswith(suffix):
            return next(v for k, v in e.items() if k.startswith("value"))
    return None


def test_combined_bundle_validates(course: dict[str, Resource]) -> None:
    bundle = combined(course)
    errors = [i.to_text() for i in default_validator().validate(bundle) if i.is_error]
    assert errors == []
    assert len(resources(bundle, "Patient")) == 1


def test_course_has_every_piece(course: dict[str, Resource]) -> None:
    bundle = combined(course)
    conditions = resources(bundle, "Condition")
    relapses = [c for c in conditions if "clinicalStatus" in c]
    assert len(conditions) == 2
    assert relapses[0]["onsetDateTime"] == "2024-09-02"
    procedures = {p["code"]["coding"][0]["code"]: p for p in resources(bundle, "Procedure")}
    assert {"cd3-apheresis", "frontline-therapy", "234336002"} <= set(procedures)
    products = resources(bundle, "BiologicallyDerivedProduct")
    assert len(products) == 4
    infusions = [
        p
        for p in resources(bundle, "Procedure")
        if p["code"]["coding"][0]["code"] == "cd3-autologous-infusion"
    ]
    assert sorted(ext(p, "ball-course-day") for p in infusions) == [1, 8, 15, 22]
    product_ids = {p["id"] for p in products}
    for p in infusions:
        assert ext(p, "ball-used-product")["reference"].split("/")[1] in product_ids
    bags = [
        m
        for m in resources(bundle, "MedicationAdministration")
        if m["dosage"]["route"]["coding"][0]["code"] == "47625008"
    ]
    per_day = {
        ext(m, "ball-course-day"): ext(m, "ball-prescribed-rate-per-m2")["value"] for m in bags
    }
    assert per_day == {1: 5, 8: 15, 15: 15, 22: 15}  # step-up on day 8 (protocol.md 4)
    assert bags[0]["effectivePeriod"]["start"].startswith("2024-10-14")
    assert bags[-1]["effectivePeriod"]["end"].startswith("2024-11-11")  # 28 days
    intrathecal = [
        m
        for m in resources(bundle, "MedicationAdministration")
        if m["dosage"]["route"]["coding"][0]["code"] == "72607000"
    ]
    assert sorted({ext(m, "ball-course-day") for m in intrathecal}) == [1, 28]
    assert len(intrathecal) == 6
    mrd = [
        o for o in resources(bundle, "Observation") if o["code"]["coding"][0]["code"] == "mrd-flow"
    ]
    assert mrd
    assert mrd[0]["effectiveDateTime"].startswith("2024-11-11")
    careplan = resources(bundle, "CarePlan")[0]
    assert careplan["instantiatesCanonical"] == [
        "https://ball-fhir.org/fhir/PlanDefinition/all-rez-2016"
    ]


def test_cli_map_with_context(tmp_path: Path, course: dict[str, Resource]) -> None:
    measurements = tmp_path / "m.json"
    measurements.write_text(json.dumps(course["measurements-default"]), encoding="utf-8")
    site = load_site("default")
    infusions = ROOT / "examples" / "infusions" / "infusions.csv"
    with_context = map_file("infusions", infusions, site, None, [measurements])
    assert with_context.rejected == 0
    without = map_file("infusions", infusions, site)
    assert without.rejected == 4
    assert {i.rule for i in without.issues if i.is_error} == {"per-m2-without-bsa"}
    assert "context-missing" in {i.rule for i in without.issues}
    with pytest.raises(UsageError, match="takes no --context"):
        map_file("measurements", infusions, site, None, [measurements])
    not_bundle = tmp_path / "x.json"
    not_bundle.write_text("{}", encoding="utf-8")
    with pytest.raises(UsageError, match="not a FHIR Bundle"):
        map_file("infusions", infusions, site, None, [not_bundle])


def test_manifest_context_must_name_an_earlier_job(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(
        "jobs:\n"
        "  - {name: inf, source: infusions, input: i.csv, context: [meas]}\n"
        "  - {name: meas, source: measurements, input: m.csv}\n",
        encoding="utf-8",
    )
    with pytest.raises(UsageError, match="not the name of an earlier job"):
        load_manifest(manifest)
    manifest.write_text(
        "jobs:\n"
        "  - {name: inf, source: infusions, input: i.csv}\n"
        "  - {name: meas, source: measurements, input: m.csv, context: [inf]}\n",
        encoding="utf-8",
    )
    with pytest.raises(UsageError, match="takes no context"):
        load_manifest(manifest)
