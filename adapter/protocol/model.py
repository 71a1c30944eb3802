"""Findings: what the engine says about a patient, each with evidence, parameters and source."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FindingSeverity = Literal["error", "warning", "information"]
FindingKind = Literal["clinical", "data"]

#: Findings about the data rather than the patient (unreadable units, impossible values, results
#: that cannot be read, content not loaded, what is missing): listed after the clinical signals.
DATA_CODES = frozenset(
    {
        "unit-not-understood",
        "measurement-implausible",
        "mrd-unreadable",
        "mrd-indeterminate",
        "dose-unit-not-understood",
        "cytogenetics-not-read",
        "bfm-stratum-mismatch",
        "unknown-protocol",
        "missing-data",
    }
)
#: The code of the one finding per patient that lists what is missing (issue 14).
MISSING_DATA = "missing-data"
#: The protocol id of the evaluation of a patient whose PlanDefinition we do not have.
UNKNOWN_PROTOCOL = "unknown"
#: "Not evaluated because X is missing" findings folded into ``missing-data`` besides every
#: ``*-not-derivable`` one.
NOT_EVALUATED = frozenset({"relapse-none", "eligibility-b-lineage-unknown"})


def is_missing_data(code: str) -> bool:
    """Whether a finding only says that data is missing (folded into ``missing-data``)."""
    return code.endswith("-not-derivable") or code in NOT_EVALUATED


_SEVERITY_ORDER = {"error": 0, "warning": 1, "information": 2}


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

    @property
    def kind(self) -> FindingKind:
        """``clinical`` (a signal about the patient) or ``data`` (about the data: shown after)."""
        return (
            "data"
            if self.code in DATA_CODES or self.code.endswith("-not-derivable")
            else ("clinical")
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "kind": self.kind,
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

    @property
    def folded(self) -> list[Finding]:
        """The findings that only say data is missing, summed up by the ``missing-data`` one."""
        return [f for f in self.findings if is_missing_data(f.code)]

    def ordered(self) -> list[Finding]:
        """The readable view (issue 14): the findings that only say data is missing are left
        out (the one ``missing-data`` finding lists them); clinical signals first (errors,
        warnings, information), then findings about the data, ``missing-data`` last; rule order
        within each group."""
        return sorted(
            (f for f in self.findings if not is_missing_data(f.code)),
            key=lambda f: (f.kind == "data", f.code == MISSING_DATA, _SEVERITY_ORDER[f.severity]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "patient": self.patient,
            "protocol": self.protocol,
            "summary": self.summary,
            "findings": [f.to_json() for f in self.findings],
        }
