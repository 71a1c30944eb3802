"""Cross-check with a peer: every case Medplum 4.5.2 rejects, we reject too.

All YAML cases are run through Medplum's ``validateResource`` (base R4; it is given no profiles)
in one node process.  Where Medplum reports an error we must report one as well; cases where the
two disagree in either direction are listed with the reason in ``peer/medplum-differences.yaml``
(a difference is explained there, never ignored: an unexplained one fails).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from .conftest import HERE, load_case_resource, run_case
from .medplum import medplum_installed, run_medplum

DIFFERENCES = HERE / "peer" / "medplum-differences.yaml"

pytestmark = pytest.mark.npm


def _all_cases() -> list[dict[str, Any]]:
    cases = []
    for file in sorted((HERE / "cases").glob("*.yaml")):
        for case in yaml.safe_load(file.read_text(encoding="utf-8"))["cases"]:
            cases.append({**case, "id": f"{file.stem}::{case['name']}"})
    return cases


CASES = _all_cases()


@pytest.fixture(scope="module")
def medplum() -> dict[str, dict[str, Any]]:
    if not medplum_installed():
        pytest.fail("node or @medplum/core not installed: run ./scripts/setup-npm")
    return _medplum_by_case(timeout=300)


def _medplum_by_case(timeout: float | None = None) -> dict[str, dict[str, Any]]:
    results = run_medplum("validate", [load_case_resource(c) for c in CASES], timeout=timeout)
    return {c["id"]: r for c, r in zip(CASES, results, strict=True)}


def _explanations() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DIFFERENCES.read_text(encoding="utf-8")) or {}
    return data


def _profile_case(case: dict[str, Any], data: dict[str, Any]) -> bool:
    return (
        "profile" in case
        or "infer_profiles" in case
        or case["id"].split("::")[0] in (data.get("profile_files") or [])
    )


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_we_catch_what_medplum_catches(
    case: dict[str, Any], medplum: dict[str, dict[str, Any]]
) -> None:
    peer_rejects = not medplum[case["id"]]["ok"]
    we_reject = any(i.is_error for i in run_case(case))
    data = _explanations()
    misses = data.get("medplum_rejects_we_accept") or {}
    more = data.get("we_reject_medplum_accepts") or {}
    if peer_rejects and not we_reject:
        assert case["id"] in misses, (
            f"Medplum rejects {case['id']} and we do not: {medplum[case['id']]['issues']}"
        )
    if we_reject and not peer_rejects and not _profile_case(case, data):
        assert case["id"] in more, f"{case['id']}: we reject, Medplum accepts: explain it"
    if case["id"] in misses or case["id"] in more:
        assert peer_rejects != we_reject, f"{case['id']} is listed as a difference but both agree"


def test_difference_file_names_existing_cases() -> None:
    names = {c["id"] for c in CASES}
    data = _explanations()
    listed = set(data.get("medplum_rejects_we_accept") or {})
    listed |= set(data.get("we_reject_medplum_accepts") or {})
    assert listed <= names


def dump_disagreements(medplum: dict[str, dict[str, Any]]) -> list[tuple[str, bool, bool]]:
    """Helper for writing the differences file: (case, medplum ok, we ok)."""
    out = []
    for case in CASES:
        ours = not any(i.is_error for i in run_case(case))
        if medplum[case["id"]]["ok"] != ours:
            out.append((case["id"], medplum[case["id"]]["ok"], ours))
    return out


if __name__ == "__main__":  # pragma: no cover - regenerate the list of disagreements
    by_id = _medplum_by_case()
    for name, peer_ok, our_ok in dump_disagreements(by_id):
        issues = [i["diagnostics"] for i in by_id[name]["issues"] if i["severity"] == "error"]
        print(f"{name}: medplum_ok={peer_ok} ours_ok={our_ok} {issues}")
