"""Consumer compatibility (issue 16): what the adapter emits loads with ``fhir.resources.R4B``.

fhir.resources has no R4 (4.0.1) models; R4B (4.3.0) is R4 with changes limited to the
medication-regulation and evidence resources, plus ``canonical`` added to ``subject[x]`` of
ActivityDefinition and PlanDefinition (https://hl7.org/fhir/R4B/history.html, 4.3.0).  None of
those changes removes anything we use, so every resource type we emit is loaded here: the
Bundles and OperationOutcomes of the main job on every example source, the $apply result, the
CapabilityStatement and the published profile package.  No type is excluded.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from adapter.cli import main
from adapter.protocol.apply import apply_plan
from adapter.routes.validate import capability_statement
from adapter.validation import default_validator
from tests.conftest import ROOT
from tests.protocol.conftest import protocols


def _load(resource: dict[str, Any]) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def _emitted(out: Path) -> list[dict[str, Any]]:
    assert main(["run", "--out", str(out), "--as-of", "2024-06-01"]) in (0, 1)
    found: list[dict[str, Any]] = []
    for path in sorted(out.glob("*.json")):
        content = json.loads(path.read_text(encoding="utf-8"))
        if "resourceType" not in content:
            continue  # evaluation.json: our findings, not FHIR
        found.append(content)
        found.extend(e["resource"] for e in content.get("entry", []))
    course = json.loads((ROOT / "examples" / "protocol" / "course-bundle.json").read_text())
    patient = next(
        e["resource"] for e in course["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    applied, _ = apply_plan(
        course, protocols()["all-rez-2016"], f"Patient/{patient['id']}", dt.date(2022, 4, 5)
    )
    found.append(applied)
    found.extend(e["resource"] for e in applied["entry"])
    found.append(capability_statement(default_validator()))
    for path in sorted((ROOT / "profiles" / "package").glob("*.json")):
        content = json.loads(path.read_text(encoding="utf-8"))
        if "resourceType" in content:
            found.append(content)
    return found


def test_everything_we_emit_loads_with_fhir_resources_r4b(tmp_path: Path) -> None:
    resources = _emitted(tmp_path)
    types = Counter(r["resourceType"] for r in resources)
    assert {"Bundle", "Patient", "Observation", "OperationOutcome", "RequestGroup"} <= set(types)
    failures = []
    for resource in resources:
        try:
            _load(resource)
        except ValueError as exc:  # pydantic's ValidationError
            failures.append(f"{resource['resourceType']}/{resource.get('id')}: {exc}"[:300])
    assert failures == []


def test_the_r4b_models_refuse_what_r4_does_not_allow() -> None:
    """The check can fail: an unknown element or a wrong type is refused."""
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        _load({"resourceType": "Patient", "notAnElement": True})
    with pytest.raises(ValueError, match="gender"):
        _load({"resourceType": "Patient", "gender": ["female"]})
