"""What every part of one message's mapping shares: its state, its issues, its field helpers.

:class:`MessageState` holds one message's issues (located ``file:message N:line L:SEG-n``), the
resources pending until commit (per order), its Patients by PID line and its memoised
date/times; the mixins of :mod:`.patient`, :mod:`.specimen`, :mod:`.observation` and
:mod:`.report` build on it and :class:`adapter.mapping.hl7v2.message.MessageMapper` combines
them.  :class:`MessageRejected` rejects the whole message.  The field helpers apply the HL7
v2-to-FHIR IG 1.0.0 data-type tables DTM[dateTime] and CWE[CodeableConcept] through
:mod:`.datatypes` (../shared/reference/inputs-and-corpora.md section 1.3): a bad date/time is
reported once (warning) and read as absent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from adapter.fhir import Resource, ref
from adapter.issues import Issue, IssueCode, Severity
from adapter.mapping.bundle import patient_id
from adapter.mapping.hl7v2.context import Hl7v2Context
from adapter.mapping.hl7v2.datatypes import Seg, cwe_concept, hl7_datetime
from adapter.mapping.hl7v2.grouping import OrderGroup
from adapter.sources.hl7v2 import RawMessage
from adapter.sources.site import Hl7v2Source, SiteConfig
from adapter.sources.values import ValueProblem


class MessageRejected(Exception):
    """The whole message cannot be mapped (the reason is the message)."""


@dataclass(slots=True)
class PendingResource:
    """A resource held until the message commits, with the file lines it came from."""

    resource: Resource
    rows: list[int]


@dataclass(slots=True)
class PendingOrder:
    """The resources of one ORDER_OBSERVATION group, committed (or rejected) together;
    ``obx``: how many of its OBX they carry."""

    group: OrderGroup
    key: tuple[str, ...]
    resources: list[PendingResource]
    obx: int


class MessageState:
    """One message's state and the helpers every part of its mapping uses."""

    #: MSH and MSH-4, set by :meth:`MessageMapper.run` before anything reads them.
    msh: Seg
    facility: str

    def __init__(
        self,
        raw: RawMessage,
        source_name: str,
        site: SiteConfig,
        section: Hl7v2Source,
        ctx: Hl7v2Context,
    ) -> None:
        self.raw = raw
        self.source = source_name
        self.site = site
        self.section = section
        self.ctx = ctx
        self.issues: list[Issue] = []
        self.orders: list[PendingOrder] = []
        self.patients: dict[int, tuple[str, str, Resource, list[int]]] = {}
        self.rejected_obx = 0
        self.control_id = ""
        self.unknown_systems: set[str] = set()
        self.times: dict[tuple[int, int], str | None] = {}

    # ---- locations and issues

    def where(self, seg: Seg | None = None, field_no: int | None = None) -> str:
        out = f"{self.source}:message {self.raw.number}"
        if seg is not None:
            out += f":line {seg.line}"
            if field_no is not None:
                out += f":{seg.name}-{field_no}"
        return out

    def issue(
        self,
        severity: Severity,
        code: IssueCode,
        message: str,
        rule: str,
        seg: Seg | None = None,
        field_no: int | None = None,
    ) -> Issue:
        found = Issue(severity, code, message, rule=rule, location=(self.where(seg, field_no),))
        self.issues.append(found)
        return found

    def _extend_location(self, found: Issue, segs: list[Seg]) -> None:
        """Name more segments (lines) in an issue already collected."""
        if segs:
            index = self.issues.index(found)
            self.issues[index] = replace(
                found, location=(*found.location, *(self.where(s) for s in segs))
            )

    # ---- fields every part reads

    def _patient_ref(self, pid: Seg) -> dict[str, Any]:
        system, value, _, _ = self.patients[pid.line]
        return ref(patient_id(system, value))

    def _source_coding(self, comps: list[str], default_system: str | None) -> dict[str, Any]:
        code = comps[0].strip()
        display = comps[1].strip() if len(comps) > 1 else ""
        name = comps[2].strip() if len(comps) > 2 else ""
        cc = cwe_concept([code, display, name], self.section.coding_systems, self.unknown_systems)
        out: dict[str, Any] = (cc or {}).get("coding", [{"code": code}])[0]
        if "system" not in out and default_system and name in ("", "HL70487", "HL70070"):
            out = {"system": default_system, **out}
        return out

    def _time(self, seg: Seg, field_no: int) -> str | None:
        """A date/time field; a bad one is reported once (warning) and read as absent."""
        memo = (seg.line, field_no)
        if memo in self.times:
            return self.times[memo]
        text = seg.get(field_no)
        value = None
        if text:
            try:
                value = hl7_datetime(text, self.site.time_zone)
            except ValueProblem as exc:
                self.issue("warning", "value", str(exc), exc.rule, seg, field_no)
        self.times[memo] = value
        return value
