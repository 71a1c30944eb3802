"""Issues collected while mapping, validating or evaluating, and their OperationOutcome form.

Every layer reports problems as a list of :class:`Issue` instead of raising on the first one
(google/fhir-py error reporter pattern).  The edges render them: the CLI as readable text or
OperationOutcome JSON, HTTP as an OperationOutcome body.

Exceptions are kept for work that cannot continue at all::

    BallFhirError                 base of everything this package raises on purpose
    └── UsageError                bad command line, site configuration or package setup (CLI exit 2)

FHIR references: OperationOutcome https://hl7.org/fhir/R4/operationoutcome.html ;
issue-severity https://hl7.org/fhir/R4/valueset-issue-severity.html ;
issue-type https://hl7.org/fhir/R4/valueset-issue-type.html .
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["fatal", "error", "warning", "information"]

#: http://hl7.org/fhir/issue-type codes used by this project (a subset of the R4 value set).
IssueCode = Literal[
    "invalid",
    "structure",
    "required",
    "value",
    "invariant",
    "processing",
    "not-supported",
    "duplicate",
    "not-found",
    "code-invalid",
    "informational",
    "business-rule",
    "incomplete",
    "exception",
    "security",
    "forbidden",
    "too-costly",
    "timeout",
]

#: Extension carrying the raw text of a rejected record (profiles/input/fsh: ball-rejected-record).
EXT_REJECTED_RECORD = "https://ball-fhir.org/fhir/StructureDefinition/ball-rejected-record"

SEVERITY_ORDER: dict[str, int] = {"fatal": 0, "error": 1, "warning": 2, "information": 3}


class BallFhirError(Exception):
    """Base of the exceptions this package raises on purpose."""


class UsageError(BallFhirError):
    """A usage or configuration error: the work cannot start (CLI exit code 2)."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found, located precisely.

    ``expression`` holds FHIRPath-style paths into FHIR content
    (``Bundle.entry[3].resource.status``);
    ``location`` holds places in a non-FHIR source (``lab.csv:row 5:column value``,
    ``message 3:OBX[2]-5``).  ``rule`` names the rule or invariant that was broken
    (``mrd-unit-missing``, ``obs-6``) so that tests and users can match on it.
    """

    severity: Severity
    code: IssueCode
    diagnostics: str
    rule: str | None = None
    expression: tuple[str, ...] = ()
    location: tuple[str, ...] = ()
    #: The raw text of a rejected source record, kept so that nothing is lost.
    source_record: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity in ("fatal", "error")

    def to_fhir(self) -> dict[str, Any]:
        """Return this issue as an ``OperationOutcome.issue`` element."""
        out: dict[str, Any] = {"severity": self.severity, "code": self.code}
        if self.rule:
            out["details"] = {"text": self.rule}
        out["diagnostics"] = self.diagnostics
        if self.location:
            out["location"] = list(self.location)
        if self.expression:
            out["expression"] = list(self.expression)
        if self.source_record is not None:
            out["extension"] = [{"url": EXT_REJECTED_RECORD, "valueString": self.source_record}]
        return out

    def to_text(self) -> str:
        """Return a one-line human rendering: ``error [rule] where: message``."""
        where = ", ".join(self.location or self.expression)
        rule = f" [{self.rule}]" if self.rule else ""
        return (
            f"{self.severity}{rule} {where}: {self.diagnostics}"
            if where
            else (f"{self.severity}{rule}: {self.diagnostics}")
        )


def has_errors(issues: Iterable[Issue]) -> bool:
    """True when any issue has error or fatal severity."""
    return any(i.is_error for i in issues)


def sort_issues(issues: Iterable[Issue]) -> list[Issue]:
    """Issues ordered by severity (fatal first), keeping the original order within a severity."""
    return sorted(issues, key=lambda i: SEVERITY_ORDER[i.severity])


def to_operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    """Render issues as an R4 OperationOutcome.

    An OperationOutcome needs at least one issue (``OperationOutcome.issue`` is 1..*): an empty
    list becomes a single ``information``/``informational`` issue saying all is well.
    """
    rendered = [i.to_fhir() for i in issues]
    if not rendered:
        rendered = [
            {"severity": "information", "code": "informational", "diagnostics": "No issues."}
        ]
    return {"resourceType": "OperationOutcome", "issue": rendered}
