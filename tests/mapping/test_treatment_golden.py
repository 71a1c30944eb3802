"""Golden pairs of the treatment sources: tests/golden/<kind>/<case>/{input.csv, expected.json}.

A case may hold ``site.yaml`` (else the default site) and ``context-<kind>.csv`` files: those are
mapped first with the default site and their Bundles passed as the context (the cross-file
checks).  ``expected.json`` is the Bundle, ``outcome.json`` every issue; both compared as parsed
JSON (``BALL_FHIR_REGEN_GOLDEN=1`` rewrites them).  Each case also states its counts and the rules
it must raise, and every golden Bundle must validate against the profiles without errors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter.cli.treatment import TREATMENT_KINDS
from adapter.issues import to_operation_outcome
from adapter.mapping.bundle import MapResult
from adapter.sources.site import load_site
from adapter.validation.validator import default_validator
from tests.conftest import RECORDED, ROOT
from tests.golden import assert_golden

GOLDEN = ROOT / "tests" / "golden"
CASES = [
    (kind, case)
    for kind in TREATMENT_KINDS
    for case in sorted((GOLDEN / kind).iterdir())
    if case.is_dir()
]
IDS = [f"{k}/{c.name}" for k, c in CASES]

#: case -> (mapped, rejected, rules that must be raised)
EXPECTED: dict[str, tuple[int, int, set[str]]] = {
    "infusions/per-m2-course": (4, 0, set()),
    "infusions/traps": (
        3,
        10,
        {
            "dose-unit-trap",
            "per-m2-without-bsa",
            "bsa-too-old",
            "infusion-overlap",
            "infusion-gap",
            "after-death",
            "dose-unit-weight-mismatch",
            "weight-at-boundary",
            "status-reason-unexpected",
            "drug-unknown",
            "number-format",
            "integer-format",
            "status-unknown",
            "period-order",
        },
    ),
    "infusions/site-units": (2, 0, set()),
    "intrathecal/triple-therapy": (3, 4, {"duplicate-record", "drug-unknown", "after-death"}),
    "apheresis/collection": (1, 2, {"unit-missing", "percent-over-100", "unit-unknown"}),
    "lymphocytes/four-portions": (
        4,
        3,
        {"portion-used-twice", "product-unknown", "integer-format"},
    ),
    "measurements/bsa": (4, 4, {"bsa-inputs-too-old", "unit-missing", "duplicate-record"}),
    "events/course": (
        11,
        7,
        {
            "relapse-before-diagnosis",
            "event-after-death",
            "relapse-site-unknown",
            "protocol-unknown",
            "required-cell",
            "second-diagnosis",
            "event-unknown",
        },
    ),
    "events/demographics": (
        5,
        5,
        {
            "birth-time-dropped",
            "event-before-birth",
            "sex-unknown",
            "second-birth",
            "value-ignored",
            "event-after-death",
        },
    ),
}


def map_case(kind: str, case: Path) -> MapResult:
    site_file = case / "site.yaml"
    site = load_site(str(site_file) if site_file.is_file() else "default")
    default = load_site("default")
    context = []
    for path in sorted(case.glob("context-*.csv")):
        context_kind = path.stem.removeprefix("context-")
        mapper = TREATMENT_KINDS[context_kind][1]
        context.append(mapper(path.read_bytes(), path.name, default, RECORDED, None, []).bundle)
    mapper = TREATMENT_KINDS[kind][1]
    return mapper((case / "input.csv").read_bytes(), "input.csv", site, RECORDED, None, context)


@pytest.mark.parametrize(("kind", "case"), CASES, ids=IDS)
def test_golden_bundle(kind: str, case: Path) -> None:
    result = map_case(kind, case)
    assert_golden(result.bundle, case / "expected.json")
    assert_golden(to_operation_outcome(result.issues), case / "outcome.json")


@pytest.mark.parametrize(("kind", "case"), CASES, ids=IDS)
def test_counts_and_rules(kind: str, case: Path) -> None:
    mapped, rejected, rules = EXPECTED[f"{kind}/{case.name}"]
    result = map_case(kind, case)
    assert (result.mapped, result.rejected) == (mapped, rejected)
    raised = {i.rule for i in result.issues}
    assert rules <= raised, f"missing rules {rules - raised}"
    for issue in result.issues:
        if issue.is_error:
            assert issue.source_record, f"rejected without its raw record: {issue}"
            assert issue.location
            assert issue.location[0].startswith("input.csv:row ")


@pytest.mark.parametrize(("kind", "case"), CASES, ids=IDS)
def test_golden_bundles_validate(kind: str, case: Path) -> None:
    errors = [
        i.to_text() for i in default_validator().validate(map_case(kind, case).bundle) if i.is_error
    ]
    assert errors == []


@pytest.mark.parametrize(("kind", "case"), CASES, ids=IDS)
def test_same_input_gives_identical_bundle(kind: str, case: Path) -> None:
    assert map_case(kind, case).bundle == map_case(kind, case).bundle


def test_every_case_is_listed() -> None:
    assert set(IDS) == set(EXPECTED)
