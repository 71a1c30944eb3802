"""Loader of the YAML case files in ``tests/iscn/cases`` (one file per ISCN 2020 section)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CASES = Path(__file__).with_name("cases")


@dataclass(frozen=True)
class ValidCase:
    file: str
    iscn: str
    fusions: list[str]
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.file}:{self.iscn}"


@dataclass(frozen=True)
class ErrorCase:
    file: str
    iscn: str
    position: int
    expected: str

    @property
    def id(self) -> str:
        return f"{self.file}:{self.iscn}"


def _load(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    assert data.get("section"), f"{path.name}: a 'section' naming the ISCN section is required"
    cases = data["cases"]
    assert isinstance(cases, list)
    return cases


def valid_cases() -> list[ValidCase]:
    out: list[ValidCase] = []
    for path in sorted(CASES.glob("*.yaml")):
        if path.name == "errors.yaml":
            continue
        for row in _load(path):
            out.append(
                ValidCase(path.name, str(row["iscn"]), list(row["fusions"]), row.get("facts") or {})
            )
    return out


def error_cases() -> list[ErrorCase]:
    return [
        ErrorCase("errors.yaml", str(row["iscn"]), int(row["position"]), str(row["expected"]))
        for row in _load(CASES / "errors.yaml")
    ]
