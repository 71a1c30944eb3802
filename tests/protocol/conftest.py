"""Collect the protocol rule cases (``cases/*.yaml``), one file per numbered rule.

Layout after fhirpath-py ``tests/cases``: each file is named by the protocol.md section it tests
and holds data only.  A case is::

    - desc: what it shows
      as_of: 2022-04-05          # evaluation date
      protocol: all-rez-2016     # optional; default from the bundle or ALL-REZ 2016
      apheresis_date: ...        # optional date for rule 3
      resources: [FHIR resources written by hand]   # wrapped into a collection Bundle
      bundle: path/to/bundle.json                   # or a whole Bundle file (repo-relative)
      expect:                    # findings that must be there (subset match on each key)
        - {code: mrd-positive, severity: warning, data: {course: 1}, message: "substring"}
      absent: [codes that must not be there]
      summary: {key: value}      # subset of the patient summary

Resources without ``subject`` belong to the single Patient (a default one is added if missing).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapter.protocol import evaluate, load_protocols_from_folder
from adapter.protocol.content import Protocol

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "profiles" / "input" / "resources"
_PROTOCOLS: dict[str, Protocol] = {}


def protocols() -> dict[str, Protocol]:
    if not _PROTOCOLS:
        _PROTOCOLS.update(load_protocols_from_folder(CONTENT))
    return _PROTOCOLS


def bundle_of(resources: list[dict[str, Any]]) -> dict[str, Any]:
    res = [dict(r) for r in resources]
    if not any(r.get("resourceType") == "Patient" for r in res):
        res.insert(
            0, {"resourceType": "Patient", "id": "p", "gender": "male", "birthDate": "2012-01-01"}
        )
    entries = []
    for i, r in enumerate(res):
        r.setdefault("id", f"r{i}")
        entries.append({"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _date(value: Any) -> dt.date | None:
    if value is None:
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list) and expected and isinstance(expected[0], dict):
        return (
            isinstance(actual, list)
            and len(actual) >= len(expected)
            and all(_subset(e, a) for e, a in zip(expected, actual, strict=False))
        )
    if isinstance(expected, float) and isinstance(actual, int | float):
        return abs(expected - actual) < 1e-9
    return bool(expected == actual)


def run_case(case: dict[str, Any]) -> None:
    if "bundle" in case:
        bundle = json.loads((ROOT / case["bundle"]).read_text(encoding="utf-8"))
    else:
        bundle = bundle_of(case.get("resources", []))
    evaluations = evaluate(
        bundle,
        protocols(),
        as_of=_date(case.get("as_of")),
        protocol_id=case.get("protocol"),
        apheresis_date=_date(case.get("apheresis_date")),
    )
    assert len(evaluations) == 1, "a rule case holds one patient"
    ev = evaluations[0]
    findings = [f.to_json() for f in ev.findings]
    shown = "\n".join(f"  {f['code']} ({f['severity']}): {f['message']}" for f in findings)
    for exp in case.get("expect", []):
        exp = dict(exp)
        message = exp.pop("message", None)
        hits = [
            f for f in findings if _subset(exp, f) and (message is None or message in f["message"])
        ]
        assert hits, f"expected {exp} (message~{message!r}); got:\n{shown}"
    for code in case.get("absent", []):
        assert code not in ev.codes(), f"{code} should be absent; got:\n{shown}"
    for key, value in (case.get("summary") or {}).items():
        assert ev.summary.get(key) == value, f"summary {key}: {ev.summary.get(key)!r} != {value!r}"


class YamlFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        cases = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        for i, case in enumerate(cases["cases"]):
            yield YamlItem.from_parent(self, name=f"{i:02d} {case['desc']}", case=case)


class YamlItem(pytest.Item):
    def __init__(self, *, case: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        run_case(self.case)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"case: {self.name}"


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".yaml" and file_path.parent.name == "cases":
        return YamlFile.from_parent(parent, path=file_path)
    return None
