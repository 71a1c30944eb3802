"""Displays (issue 18): a coding whose display is not a display of its code in a CodeSystem we
hold (ours, the core package's) is a warning, as the HL7 validator reports it; case and runs of
white space do not matter, designations count; our mappers write the CodeSystem's display."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapter.fhir import BALL_CONCEPTS
from adapter.validation import PROFILES_PACKAGE, default_validator

from .conftest import ROOT

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def _observation(system: str, code: str, display: str | None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display is not None:
        coding["display"] = display
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [coding]},
    }


def _display_issues(resource: dict[str, Any]) -> list[str]:
    return [
        f"{i.severity} {i.expression[0]}: {i.diagnostics}"
        for i in default_validator().validate(resource)
        if i.rule == "display"
    ]


@pytest.mark.parametrize(
    ("system", "code", "display"),
    [
        (CATEGORY, "laboratory", "Lab results"),
        (BALL_CONCEPTS, "bone-marrow", "Bone marrow"),
        (BALL_CONCEPTS, "lab-results-report", "Laboratory results for one specimen"),
    ],
)
def test_a_display_the_code_system_does_not_give_is_a_warning(
    system: str, code: str, display: str
) -> None:
    issues = _display_issues(_observation(system, code, display))
    assert len(issues) == 1
    assert issues[0].startswith("warning Observation.code.coding[0].display: ")
    assert "expected" in issues[0]
    assert not [
        i for i in default_validator().validate(_observation(system, code, display)) if i.is_error
    ]


@pytest.mark.parametrize(
    ("system", "code", "display"),
    [
        (CATEGORY, "laboratory", "Laboratory"),
        (CATEGORY, "laboratory", "  laboratory "),
        (BALL_CONCEPTS, "bone-marrow", "Bone marrow specimen"),
        (BALL_CONCEPTS, "bone-marrow", None),
        ("http://loinc.org", "26474-7", "any text: LOINC is not loaded"),
    ],
)
def test_the_code_system_display_passes(system: str, code: str, display: str | None) -> None:
    assert _display_issues(_observation(system, code, display)) == []


def test_every_coding_of_our_examples_carries_its_code_system_display() -> None:
    examples = sorted(p for p in (PROFILES_PACKAGE / "example").glob("*.json") if p.name[0] != ".")
    for path in examples:
        assert _display_issues(json.loads(path.read_text())) == [], path.name


def test_our_mappers_write_the_code_system_display() -> None:
    """The golden outputs of every mapper (tests/golden/<kind>/<case>/expected.json)."""
    golden = sorted((ROOT / "tests" / "golden").glob("*/*/expected.json"))
    assert len(golden) > 20
    for path in golden:
        bundle = json.loads(path.read_text())
        if bundle.get("resourceType") == "Bundle":
            assert _display_issues(bundle) == [], path
