"""Collects the spec-shaped validator cases ``cases/*.yaml`` as pytest items.

Layout follows fhirpath-py ``tests/cases`` (one YAML file per topic, data only).  A case::

    - name: I1 missing status            # unique within the file
      base: obs-anc                       # resources/<base>.json, or `file:` (repo-relative)
      resource: {...}                     #   ... or the resource inline
      set: {status: done, "component.0.code.text": ""}   # dotted paths, list indices as numbers
      remove: [status]
      profile: https://...                # extra profile(s) for the top-level resource
      base_only: true                     # no profile at all (meta.profile and map ignored)
      expect:                             # each must match one issue (given fields only)
        - {rule: cardinality, expression: Observation.status}      # severity defaults to error
      valid: true                         # no error-severity issue at all

Unless ``other_errors: allowed``, any error-severity issue not matched by ``expect`` fails the case,
so the cases also pin down false positives.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapter.issues import Issue

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


def load_case_resource(case: dict[str, Any]) -> Any:
    if "resource" in case:
        resource = copy.deepcopy(case["resource"])
    elif "base" in case:
        resource = json.loads((HERE / "resources" / f"{case['base']}.json").read_text())
    elif "file" in case:
        resource = json.loads((ROOT / case["file"]).read_text())
    else:
        raise ValueError(f"case {case.get('name')}: needs resource, base or file")
    for path, value in (case.get("set") or {}).items():
        _set(resource, str(path), value)
    for path in case.get("remove") or []:
        _remove(resource, str(path))
    return resource


def _steps(path: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in path.split(".")]


def _set(obj: Any, path: str, value: Any) -> None:
    *head, last = _steps(path)
    for step in head:
        obj = obj[step]
    if isinstance(obj, list) and last == len(obj):
        obj.append(copy.deepcopy(value))
    else:
        obj[last] = copy.deepcopy(value)


def _remove(obj: Any, path: str) -> None:
    *head, last = _steps(path)
    for step in head:
        obj = obj[step]
    del obj[last]


def issue_matches(issue: Issue, want: dict[str, Any]) -> bool:
    if issue.severity != want.get("severity", "error"):
        return False
    if "rule" in want and issue.rule != want["rule"]:
        return False
    if "code" in want and issue.code != want["code"]:
        return False
    if "expression" in want and want["expression"] not in issue.expression:
        return False
    return not ("diagnostics" in want and want["diagnostics"] not in issue.diagnostics)


def run_case(case: dict[str, Any]) -> list[Issue]:
    from adapter.validation import default_validator

    resource = load_case_resource(case)
    before = copy.deepcopy(resource)
    profiles = case.get("profile")
    if isinstance(profiles, str):
        profiles = [profiles]
    issues = default_validator().validate(
        resource,
        profiles,
        base_only=bool(case.get("base_only")),
        infer_profiles=bool(case.get("infer_profiles")),
    )
    assert resource == before, "the validator changed its input"
    return issues


def check_case(case: dict[str, Any]) -> None:
    issues = run_case(case)
    shown = "\n".join(i.to_text() for i in issues) or "(no issues)"
    matched: set[int] = set()
    for want in case.get("expect") or []:
        hits = [n for n, i in enumerate(issues) if issue_matches(i, want)]
        assert hits, f"expected {want}, got:\n{shown}"
        matched.update(hits)
    if case.get("valid"):
        assert not any(i.is_error for i in issues), f"expected no errors, got:\n{shown}"
    if case.get("other_errors") != "allowed":
        extra = [i for n, i in enumerate(issues) if i.is_error and n not in matched]
        assert not extra, "unexpected errors:\n" + "\n".join(i.to_text() for i in extra)


class YamlCase(pytest.Item):
    def __init__(self, *, case: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        check_case(self.case)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"case: {self.name}"


class YamlCaseFile(pytest.File):
    def collect(self) -> Any:
        data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        for case in data.get("cases", []):
            yield YamlCase.from_parent(self, name=str(case["name"]), case=case)


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if (
        file_path.suffix == ".yaml"
        and file_path.parent.name == "cases"
        and (file_path.parent.parent == HERE)
    ):
        return YamlCaseFile.from_parent(parent, path=file_path)
    return None
