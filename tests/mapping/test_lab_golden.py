"""Golden pairs for the lab mapping: tests/golden/lab/<case>/{input.csv, site.yaml?, expected.json}.

``expected.json`` is the transaction Bundle and ``outcome.json`` the OperationOutcome of every
issue (rejected records with their raw text); both are compared as parsed JSON.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter.cli.mapcmd import lab_context
from adapter.mapping.bundle import MapResult
from adapter.mapping.lab import map_lab
from adapter.validation import default_validator
from tests.bundle_checks import assert_bundle_invariants
from tests.conftest import RECORDED
from tests.golden import assert_golden_result, golden_cases, map_golden_case

CASES = golden_cases("lab")


def map_case(case: Path) -> MapResult:
    return map_golden_case(
        case,
        "input.csv",
        lambda data, name, site: map_lab(data, name, site, lab_context(site), RECORDED),
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_bundle(case: Path) -> None:
    assert_golden_result(map_case(case), case)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bundle_is_valid_r4_and_conforms_to_the_profiles(case: Path) -> None:
    bundle = map_case(case).bundle
    assert_bundle_invariants(bundle)
    errors = [i.to_text() for i in default_validator().validate(bundle) if i.is_error]
    assert errors == []


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_input_gives_identical_bundle(case: Path) -> None:
    assert map_case(case).bundle == map_case(case).bundle


def test_every_golden_case_has_both_mapped_and_rejected_rows_where_intended() -> None:
    counts = {c.name: (map_case(c).mapped, map_case(c).rejected) for c in CASES}
    assert counts["mrd-forms"] == (6, 6)
    assert counts["counts-units"] == (7, 3)
    assert counts["statuses"] == (4, 1)
    assert counts["rejects"] == (2, 7)
    assert counts["russian-site-mrd-unit"] == (3, 2)
