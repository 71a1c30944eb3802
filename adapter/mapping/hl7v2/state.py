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

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast

from adapter.fhir import Resource
from adapter.issues import Issue, IssueCode, Severity
from adapter.mapping.bundle import SharedParts, patient_id
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


#: what a concept builder of :meth:`MessageState._concept` returns
Built = TypeVar("Built", bound=dict[str, Any] | None)


class FileParts:
    """What the messages of one file share, so that equal parts are one object each: the
    Bundle's :class:`SharedParts` (meta, category, references) and the CodeableConcepts read so
    far from coded fields (OBX-3, OBR-4), each with the coding-system names it could not
    resolve.  A shared part is never edited in place: a resource that needs another value
    replaces it."""

    __slots__ = ("concepts", "parts")

    def __init__(self, parts: SharedParts) -> None:
        self.parts = parts
        self.concepts: dict[tuple[str, ...], tuple[dict[str, Any] | None, frozenset[str]]] = {}


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
        shared: FileParts,
    ) -> None:
        self.shared = shared
        self.parts = shared.parts
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
        return self.parts.ref(patient_id(system, value))

    def _concept(self, seg: Seg, field_no: int, build: Callable[[set[str]], Built]) -> Built:
        """The CodeableConcept ``build`` makes of a coded field, built once per file for each
        distinct field text (with the message's delimiters) and ``build``'s ``__qualname__``;
        its unknown coding-system names are reported for every message that uses it."""
        enc = seg.enc
        key = (
            build.__qualname__,
            enc.component,
            enc.subcomponent,
            enc.escape,
            enc.repetition,
            seg.raw(field_no),
        )
        found = self.shared.concepts.get(key)
        if found is None:
            unknown: set[str] = set()
            found = self.shared.concepts[key] = (build(unknown), frozenset(unknown))
        self.unknown_systems.update(found[1])
        return cast(Built, found[0])

    def _cwe(self, seg: Seg, field_no: int) -> dict[str, Any] | None:
        """CWE field ``field_no`` as a CodeableConcept (shared, read-only)."""

        def cwe(unknown: set[str]) -> dict[str, Any] | None:
            return cwe_concept(seg.comps(field_no), self.section.coding_systems, unknown)

        return self._concept(seg, field_no, cwe)

    def _source_coding(
        self, comps: list[str], default_system: str | None, unknown: set[str] | None = None
    ) -> dict[str, Any]:
        code = comps[0].strip()
        display = comps[1].strip() if len(comps) > 1 else ""
        name = comps[2].strip() if len(comps) > 2 else ""
        names = self.unknown_systems if unknown is None else unknown
        cc = cwe_concept([code, display, name], self.section.coding_systems, names)
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
