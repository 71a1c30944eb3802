"""Findings: what the engine says about a patient, each with evidence, parameters and source."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FindingSeverity = Literal["error", "warning", "information"]


@dataclass(frozen=True)
class Finding:
    """One statement of the protocol logic about a patient.

    ``code`` is stable (tests and clients match on it); ``message`` is for a clinician;
    ``evidence`` are references into the evaluated Bundle (``Type/id``); ``parameters`` are the
    protocol parameter values used (from the PlanDefinition content); ``source`` cites
    protocol.md (``protocol.md §4 [V23]``); ``data`` carries structured values (dates, doses).
    """

    code: str
    severity: FindingSeverity
    message: str
    source: str
    rule: int
    patient: str
    evidence: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "rule": self.rule,
            "patient": self.patient,
            "message": self.message,
            "evidence": list(self.evidence),
            "parameters": dict(self.parameters),
            "source": self.source,
            "data": dict(self.data),
        }


@dataclass
class PatientEvaluation:
    """All findings for one patient, plus the summary the cohort tables count."""

    patient: str
    protocol: str
    findings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def first(self, code: str) -> Finding | None:
        return next((f for f in self.findings if f.code == code), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "patient": self.patient,
            "protocol": self.protocol,
            "summary": self.summary,
            "findings": [f.to_json() for f in self.findings],
        }
