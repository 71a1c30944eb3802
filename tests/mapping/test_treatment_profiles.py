"""The treatment profiles hold the rules the mapper relies on (issue 5): the validator rejects a
blinatumomab administration that breaks mCODE's termination-reason invariants or lacks its
normalization basis, and one that is BSA-based without the prescribed per-m2 rate."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from adapter.validation.validator import default_validator
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden" / "infusions" / "per-m2-course" / "expected.json"


def administrations() -> list[dict[str, Any]]:
    bundle = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationAdministration"
    ]


def rules(resource: dict[str, Any]) -> set[str]:
    return {i.rule or "" for i in default_validator().validate(resource) if i.is_error}


def test_mapped_administrations_are_valid() -> None:
    for ma in administrations():
        assert rules(ma) == set()


def test_termination_reason_requires_stopped() -> None:
    stopped = next(m for m in administrations() if m.get("statusReason", [{}])[0].get("coding"))
    broken = copy.deepcopy(stopped)
    broken["status"] = "completed"
    assert any("ball-ma-term-1" in r for r in rules(broken))


def test_stopped_with_a_coded_reason_outside_the_list_fails() -> None:
    stopped = next(m for m in administrations() if m.get("statusReason", [{}])[0].get("coding"))
    broken = copy.deepcopy(stopped)
    broken["statusReason"][0]["coding"][0]["code"] = "123456"
    assert any("ball-ma-term-2" in r for r in rules(broken))


@pytest.mark.parametrize("drop", ["mcode-normalization-basis", "ball-prescribed-rate-per-m2"])
def test_basis_and_per_m2_rate_are_required(drop: str) -> None:
    broken = copy.deepcopy(administrations()[0])
    broken["extension"] = [e for e in broken["extension"] if not e["url"].endswith(drop)]
    assert any(r.startswith("ball-ma-basis") for r in rules(broken)), rules(broken)
