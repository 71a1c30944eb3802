"""What every rule sees, and the helpers several rules share.

:class:`Ctx` (one patient's protocol, bundle index, facts, evaluation date and the findings and
summary the rules build up), :class:`CourseRun` (a course as given), the protocol.md section
citations the findings carry (§1-§7, version V23), number formatting for messages and the unit
conversion of a dated Observation that says when a unit cannot be read (contract.md "Units
traps").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from adapter.fhir import Resource
from adapter.protocol.bundle import (
    BundleIndex,
    Date,
    convert,
    quantity,
)
from adapter.protocol.content import Course, Protocol
from adapter.protocol.cytogenetics import Cytogenetics, read_cytogenetics
from adapter.protocol.facts import (
    Dated,
    PatientFacts,
)
from adapter.protocol.model import Finding, FindingSeverity

S2 = "protocol.md §2 [V23]"
S1 = "protocol.md §1 [V23]"
S3 = "protocol.md §3 [V23]"
S4 = "protocol.md §4 [V23]"
S5 = "protocol.md §5 [V23]"
S6 = "protocol.md §6 [V23]"
S7 = "protocol.md §7 [V23]"


def _fmt(x: float | Decimal | None, digits: int = 2) -> str:
    if x is None:
        return "?"
    f = float(x)
    return f"{f:.{digits}f}".rstrip("0").rstrip(".") if not f.is_integer() else str(int(f))


@dataclass
class CourseRun:
    """A course as given: its content, its dates and the blinatumomab administrations in it."""

    content: Course
    start: Date | None
    administrations: list[Resource] = field(default_factory=list)
    #: start instant of the first bag: course day d is [t0 + (d-1) days, t0 + d days)
    t0: dt.datetime | None = None

    def date_of(self, day: int) -> Date | None:
        return None if self.start is None else self.start + dt.timedelta(days=day - 1)


@dataclass
class Ctx:
    """What every rule sees for one patient."""

    protocol: Protocol
    index: BundleIndex
    facts: PatientFacts
    as_of: Date
    #: the caller's explicit apheresis date (rule 3, :func:`apheresis_days`)
    apheresis_date: Date | None = None
    findings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    relapse: Dated | None = None
    relapse_number: int | None = None
    time_point: str | None = None
    site: str | None = None
    courses: list[CourseRun] = field(default_factory=list)
    weight: tuple[Decimal, Dated] | None = None
    bsa: tuple[float, tuple[str, ...], str] | None = None
    non_responder: Date | None = None
    remission: Date | None = None
    mrd_after: dict[int, str] = field(default_factory=dict)
    _cytogenetics: Cytogenetics | None = None

    @property
    def cytogenetics(self) -> Cytogenetics:
        """The patient's fusions, read once with the protocol's gene knowledge."""
        if self._cytogenetics is None:
            self._cytogenetics = read_cytogenetics(self.facts, self.protocol.knowledge)
        return self._cytogenetics

    def add(
        self,
        rule: int,
        code: str,
        severity: FindingSeverity,
        message: str,
        source: str,
        evidence: tuple[Resource | None, ...] = (),
        params: tuple[str, ...] = (),
        **data: Any,
    ) -> Finding:
        f = Finding(
            code=code,
            severity=severity,
            message=message,
            source=source,
            rule=rule,
            patient=self.facts.ref,
            evidence=self.index.refs(evidence),
            parameters=self.protocol.used(*params),
            data=data,
        )
        self.findings.append(f)
        return f


def _conv(ctx: Ctx, rule: int, d: Dated | None, unit: str) -> Decimal | None:
    if d is None:
        return None
    q = quantity(d.resource.get("valueQuantity"))
    if q is None:
        return None
    v = convert(q, unit)
    if v is None:
        ctx.add(
            rule,
            "unit-not-understood",
            "error",
            f"Value {q.value} with unit {q.code!r} cannot be read as {unit}; not used "
            "(never guessed).",
            'contract.md "Units traps"',
            (d.resource,),
        )
    return v
