"""HL7 v2 ORU^R01 lab results -> Patient, Specimen, Observation, DiagnosticReport (issue 3).

Rules follow the HL7 v2-to-FHIR IG 1.0.0 (message ORU_R01, segments PID/OBR/OBX/NTE/SPM, data
types NM/SN/CWE/ST, code systems 0085/0123/0078; ../shared/reference/inputs-and-corpora.md
section 1) with these project decisions:

- Reading (:mod:`adapter.sources.hl7v2`): BOM, CR/LF/CRLF, MLLP bytes, FHS/BHS batches; each
  message parsed by python-hl7 (custom delimiters, 5-character MSH-2); grouping is ours:
  ``MSH PID [NTE*] { [ORC] OBR [NTE*] { OBX [NTE*] }* { SPM [OBX [NTE*]]* }* }*``.
- A message is rejected whole (error, raw text kept) when it cannot be read or parsed, is not
  ORU^R01, has no PID with a PID-3 value before its first OBR, has no OBR, or has neither MSH-10
  nor a filler order number to key its ids.  Other messages in the file still map.
- Patient: PID-3 repetitions whose assigning authority (CX.4) the site maps
  (``hl7v2.assigning_authorities``) give identifiers with that system; if none maps, the first
  value takes ``patient_identifier_system``.  The first identifier keys the conditional create.
  PID-5 -> name, PID-7 -> birthDate, PID-8 -> gender (AdministrativeSex M/F/O/U).
- Ids: ``deterministic_id`` of MSH-4 and the filler order number (OBR-3, else ORC-3), else MSH-10,
  plus OBR-1 (else position) and OBX-1/OBX-4 (else position): a re-sent or corrected message
  maps to the same ids, two OBX with the same code never collide.  A later message in the same
  file replaces an earlier resource with the same id (information issue).
- Specimen: each SPM (SPM-2 -> accessionIdentifier, same id as the CSV path for the same
  specimen id; SPM-4 through the site's specimen-type ConceptMap; SPM-17.1 -> collectedDateTime)
  or, without SPM, OBR-15 (collection time OBR-7).  OBX in an order use its first SPM (or OBR-15
  Specimen); OBX after an SPM use that SPM.  The validator's profile map holds every Specimen to
  ball-specimen, so a specimen of unknown kind or without collection time gives no Specimen
  (warning); contract results on it are rejected, other results carry no specimen.
- Observation: OBX-3 -> contract code (LOINC in OBX-3 directly, else the site's ConceptMap; the
  original coding is kept as a second coding).  Contract codes get ball-mrd-observation /
  ball-lab-observation and must have a quantity (NM, SN quantity form, or ST/TX/FT in the result
  grammar of the CSV path), a specimen of a known kind and an effective time; MRD values pass
  :func:`adapter.mapping.mrd.mrd_value`; event count and LOD OBX (ball-concepts events-analyzed /
  mrd-lod) become components of the MRD Observation of their order (same OBX-4 when given).
  A contract OBX breaking a rule is rejected alone (error with its raw segment).  Other codes
  become plain Observations (no ball profile, information issue) with value[x] by OBX-2.
- OBX-11 via ConceptMap hl7v2-0085-observation-status (IG targets plus our choices for B I N O R
  S U V, written in the ConceptMap comments).  X -> cancelled and N -> cancelled carry
  dataAbsentReason not-performed / not-asked when OBX-5 is empty; a status-only U (empty OBX-5)
  is not applied (a PUT would erase the earlier value) and reported.
- OBX-8 via ConceptMap hl7v2-0078 (v3 ObservationInterpretation; MRD accepts only POS/NEG),
  OBX-7 -> referenceRange.text, OBX-14 (else OBR-7, else specimen collection) ->
  effectiveDateTime, OBX-17 -> method, OBX-18 -> device.display, NTE after OBX -> note.
- OBR -> DiagnosticReport (ball-diagnostic-report):
  OBR-2/3 (else ORC-2/3) identifiers PLAC/FILL, OBR-4 code, OBR-7 effective, OBR-22 issued (when
  it is a full instant), OBR-25 via ConceptMap hl7v2-0123 (derived from results when absent).
  R4 DiagnosticReport has no ``note``: **OBR-level NTE go to DiagnosticReport.conclusion**
  (paragraphs in order).  An OBR with no mapped result gives no DiagnosticReport (warning).
- Nothing silently dropped: every other segment is reported ("unused segment ZXX at message 3,
  line 14"): Z-segments and misplaced segments as warnings, known unmapped ones (PV1, SFT, ...)
  as information.  Envelope segments are reported as one information issue (BTS-1 checked).
- Provenance: one entity per mapped message: sha256 (RFC 6920 ni URI) of the message in HL7 form
  (segments each ended by CR, UTF-8, no BOM) and MSH-10 in the display.  Source rows of each
  resource are the file lines of the segments it came from.
- Counts: ``read`` counts OBX segments (results), ``rejected`` those rejected (all OBX of a
  rejected message, at least one per rejected message).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import hl7

from adapter.fhir import (
    BALL_CONCEPTS,
    CANONICAL,
    LOINC,
    OBSERVATION_CATEGORY,
    PROFILE_DIAGNOSTIC_REPORT,
    PROFILE_SPECIMEN,
    SNOMED,
    UCUM,
    URI_SYSTEM,
    V2_0074,
    V3_INTERPRETATION,
    Resource,
    coding,
    concept,
    deterministic_id,
    ref,
)
from adapter.issues import Issue, IssueCode, Severity
from adapter.mapping.bundle import BundleBuilder, MapResult, patient_id, sha256_uri
from adapter.mapping.hl7v2_values import (
    Encoding,
    Seg,
    StructuredNumeric,
    cwe_concept,
    hl7_date,
    hl7_datetime,
    hl7_number,
    structured_numeric,
)
from adapter.mapping.lab import (
    DATA_ABSENT,
    SPECIMEN_KINDS,
    LabRecord,
    Measured,
    measure,
    to_fhir_observation,
)
from adapter.mapping.quantities import LabTest, ResultValue, convert, parse_result
from adapter.mapping.rows import section_of
from adapter.sources.hl7v2 import RawMessage, RawSegment, read_hl7_file
from adapter.sources.site import Hl7v2Source, SiteConfig
from adapter.sources.values import ValueProblem, decimal_json
from adapter.terminology import ConceptMapIndex

STATUS_MAP = f"{CANONICAL}/ConceptMap/hl7v2-0085-observation-status"
REPORT_STATUS_MAP = f"{CANONICAL}/ConceptMap/hl7v2-0123-diagnostic-report-status"
INTERPRETATION_MAP = f"{CANONICAL}/ConceptMap/hl7v2-0078-observation-interpretation"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V2_0487 = "http://terminology.hl7.org/CodeSystem/v2-0487"
COMPONENT_CODES = frozenset({"events-analyzed", "mrd-lod"})
#: v2 table 0001 AdministrativeSex -> FHIR administrative-gender (IG Gender table).
GENDERS = {"M": "male", "F": "female", "O": "other", "U": "unknown", "A": "other", "N": "unknown"}
#: Segments the ORU^R01 structure allows that we do not map (reported as information).
KNOWN_UNMAPPED = frozenset(
    {"SFT", "UAC", "PD1", "PRT", "NK1", "PV1", "PV2", "TQ1", "TQ2", "CTD", "FT1", "CTI", "DSC"}
)
#: Observation statuses that may come without a value, with their dataAbsentReason.
ABSENT_REASONS = {
    "cancelled": ("not-performed", "Not Performed"),
    "registered": ("temp-unknown", "Temporarily Unknown"),
    "entered-in-error": ("error", "Error"),
}
_QUANTITY_TYPES = frozenset({"NM", "SN", "ST", "TX", "FT"})
_TEXT_TYPES = frozenset({"ST", "TX", "FT"})
_CODED_TYPES = frozenset({"CWE", "CE", "CNE", "CF", "IS", "ID"})
_DATE_TYPES = frozenset({"DT", "DTM", "TS"})


@dataclass(frozen=True, slots=True)
class Hl7v2Context:
    """The tables an HL7 v2 mapping needs, loaded by the edge."""

    tests: dict[tuple[str, str], LabTest]
    test_codes: ConceptMapIndex
    specimen_types: ConceptMapIndex
    statuses: ConceptMapIndex
    report_statuses: ConceptMapIndex
    interpretations: ConceptMapIndex


# --------------------------------------------------------------------------------------------
# grouping


@dataclass(slots=True)
class ObxGroup:
    obx: Seg
    notes: list[Seg] = field(default_factory=list)
    spm: int | None = None  # index of the SPM it follows (SPECIMEN_OBSERVATION)


@dataclass(slots=True)
class OrderGroup:
    obr: Seg
    orc: Seg | None
    pid: Seg
    notes: list[Seg] = field(default_factory=list)
    results: list[ObxGroup] = field(default_factory=list)
    specimens: list[Seg] = field(default_factory=list)


@dataclass(slots=True)
class Grouped:
    orders: list[OrderGroup] = field(default_factory=list)
    pids: list[Seg] = field(default_factory=list)
    #: (segment, severity, reason)
    unused: list[tuple[Seg, Severity, str]] = field(default_factory=list)


def group_oru(segments: list[Seg]) -> Grouped:
    """Group the segments after MSH into ORDER_OBSERVATION / OBSERVATION / SPECIMEN groups."""
    out = Grouped()
    pid: Seg | None = None
    orc: Seg | None = None
    order: OrderGroup | None = None
    last_obx: ObxGroup | None = None
    for seg in segments:
        name = seg.name
        if name == "PID":
            if orc is not None:
                out.unused.append((orc, "warning", "ORC without a following OBR"))
            pid, orc, order, last_obx = seg, None, None, None
            out.pids.append(seg)
        elif name == "ORC":
            if orc is not None:
                out.unused.append((orc, "warning", "ORC without a following OBR"))
            orc, last_obx = seg, None
        elif name == "OBR":
            if pid is None:
                out.unused.append((seg, "warning", "OBR before any PID"))
                if orc is not None:
                    out.unused.append((orc, "warning", "ORC of an OBR before any PID"))
                order = None
            else:
                order = OrderGroup(seg, orc, pid)
                out.orders.append(order)
            orc, last_obx = None, None
        elif name == "OBX":
            if order is None:
                out.unused.append((seg, "warning", "OBX outside an ORDER_OBSERVATION group"))
                last_obx = None
            else:
                spm = len(order.specimens) - 1 if order.specimens else None
                last_obx = ObxGroup(seg, spm=spm)
                order.results.append(last_obx)
        elif name == "NTE":
            if last_obx is not None:
                last_obx.notes.append(seg)
            elif order is not None and not order.specimens:
                order.notes.append(seg)
            else:
                out.unused.append((seg, "information", "NTE not after an OBR or OBX"))
        elif name == "SPM":
            if order is None:
                out.unused.append((seg, "warning", "SPM outside an ORDER_OBSERVATION group"))
            else:
                order.specimens.append(seg)
            last_obx = None
        elif name.startswith("Z"):
            out.unused.append((seg, "warning", "Z-segment (site-defined, not mapped)"))
        elif name == "MSH":
            out.unused.append((seg, "warning", "second MSH inside a message"))
        elif name in KNOWN_UNMAPPED:
            out.unused.append((seg, "information", "not mapped by the ORU^R01 mapping"))
        else:
            out.unused.append((seg, "warning", "not part of the ORU^R01 structure"))
    if orc is not None:
        out.unused.append((orc, "warning", "ORC without a following OBR"))
    return out


# --------------------------------------------------------------------------------------------
# the mapping


class MessageRejected(Exception):
    """The whole message cannot be mapped (the reason is the message)."""


@dataclass(slots=True)
class _Pending:
    resource: Resource
    rows: list[int]


@dataclass(slots=True)
class _Specimen:
    id: str
    kind: str | None
    collected: str | None
    resource: Resource | None
    rows: list[int]


@dataclass(slots=True)
class _Obs:
    """An OBX on its way to an Observation."""

    group: ObxGroup
    order: OrderGroup
    test: LabTest | None
    target: tuple[str, str] | None  # (system, code) of a contract or component concept
    key: tuple[str, str]  # OBX-1 (or position), OBX-4
    lines: list[int]
    components: list[_Obs] = field(default_factory=list)


def map_hl7v2(
    data: bytes,
    source_name: str,
    site: SiteConfig,
    ctx: Hl7v2Context,
    recorded: str,
    progress: Callable[[int], None] | None = None,
) -> MapResult:
    """Map a file of ORU^R01 messages to one transaction Bundle; see the module docstring."""
    section: Hl7v2Source = section_of(site, "hl7v2")
    parsed = read_hl7_file(data, site.encoding)
    issues: list[Issue] = []
    builder = BundleBuilder()
    entities: list[dict[str, Any]] = []
    read = rejected = 0
    _report_envelope(parsed.envelope, len(parsed.messages), source_name, issues)
    for raw_seg in parsed.stray:
        issues.append(
            Issue(
                "warning",
                "structure",
                f"unused segment {raw_seg.text[:3]} at line {raw_seg.line}: "
                "before any MSH (not part of a message)",
                rule="unused-segment",
                location=(f"{source_name}:line {raw_seg.line}",),
            )
        )
    for raw in parsed.messages:
        if progress and raw.number % 1000 == 0:
            progress(raw.number)
        mapper = _MessageMapper(raw, source_name, site, section, ctx)
        obx_count = sum(1 for s in raw.segments if s.name == "OBX")
        try:
            mapper.run()
        except MessageRejected as exc:
            first, last = raw.lines
            issues.append(
                Issue(
                    "error",
                    "structure",
                    f"message {raw.number} rejected: {exc}",
                    rule="message-rejected",
                    location=(f"{source_name}:message {raw.number}:lines {first}-{last}",),
                    source_record=raw.text("\n").rstrip("\n"),
                )
            )
            read += max(obx_count, 1)
            rejected += max(obx_count, 1)
            continue
        read += obx_count
        issues.extend(mapper.issues)
        rejected += mapper.rejected_obx
        mapper.commit(builder, issues)
        entities.append(mapper.provenance_entity())
    bundle = builder.build(source_name, data, recorded)
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Provenance":
            entry["resource"]["entity"].extend(entities)
    return MapResult(bundle, issues, read, rejected)


def _report_envelope(
    envelope: list[RawSegment], messages: int, source_name: str, issues: list[Issue]
) -> None:
    if not envelope:
        return
    names = ", ".join(f"{s.text[:3]} (line {s.line})" for s in envelope)
    issues.append(
        Issue(
            "information",
            "informational",
            f"batch envelope read: {names}",
            rule="batch-envelope",
            location=tuple(f"{source_name}:line {s.line}" for s in envelope),
        )
    )
    for seg in envelope:
        if seg.text[:3] != "BTS" or len(seg.text) < 5:
            continue
        count = seg.text[4:].split(seg.text[3], 1)[0]
        if count.isdigit() and int(count) != messages:
            issues.append(
                Issue(
                    "warning",
                    "incomplete",
                    f"BTS-1 says {count} messages, the file has {messages}",
                    rule="batch-count",
                    location=(f"{source_name}:line {seg.line}",),
                )
            )


class _MessageMapper:
    """Maps one message; nothing reaches the Bundle before :meth:`commit`."""

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
        self.pending: list[_Pending] = []
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

    # ---- the message

    def run(self) -> None:
        raw = self.raw
        if raw.problem:
            raise MessageRejected(raw.problem)
        text = raw.text("\r")
        try:
            message = hl7.parse(text, encoding=self.site.encoding)
        except Exception as exc:  # python-hl7 raises many kinds
            raise MessageRejected(f"python-hl7 cannot parse it: {exc}") from None
        if len(message) != len(raw.segments):
            raise MessageRejected(
                f"python-hl7 read {len(message)} segments where the file has {len(raw.segments)}"
            )
        try:
            enc = Encoding.of(message, self.site.encoding)
        except (IndexError, KeyError) as exc:
            raise MessageRejected(f"MSH-1/MSH-2 delimiters unreadable: {exc}") from None
        segs = [
            Seg(r.line, r.name, s, enc, r.text) for r, s in zip(raw.segments, message, strict=True)
        ]
        msh = segs[0]
        self.msh = msh
        kind = (msh.get(9, 1), msh.get(9, 2))
        if kind != ("ORU", "R01"):
            raise MessageRejected(
                f"MSH-9 is {'^'.join(kind)!r}, not ORU^R01 (only ORU^R01 is mapped)"
            )
        self.control_id = msh.get(10)
        self.facility = msh.get(4)
        version = msh.get(12)
        if version and not any(
            version.startswith(v) for v in ("2.3", "2.4", "2.5", "2.6", "2.7", "2.8")
        ):
            self.issue(
                "warning",
                "not-supported",
                f"MSH-12 version {version!r} is outside 2.3-2.8",
                "hl7-version",
                msh,
                12,
            )
        grouped = group_oru(segs[1:])
        if not grouped.orders:
            raise MessageRejected("no OBR with a PID before it: nothing to map")
        for pid in grouped.pids:
            self._patient(pid)
        order_keys = []
        for position, order in enumerate(grouped.orders, start=1):
            order_keys.append(self._order_key(order, position))
        for seg, severity, reason in grouped.unused:
            self.issue(
                severity,
                "informational" if severity == "information" else "structure",
                f"unused segment {seg.name} at message {self.raw.number}, "
                f"line {seg.line}: {reason}",
                "unused-segment",
                seg,
            )
        for order, key in zip(grouped.orders, order_keys, strict=True):
            self._order(order, key)
        for problem in sorted(enc.unknown_escapes):
            self.issue(
                "warning",
                "value",
                f"escape sequence {problem!r} is not known and was kept literally",
                "hl7-escape-unknown",
            )
        if self.unknown_systems:
            self.issue(
                "information",
                "code-invalid",
                "coding system name(s) with no known URI (codings kept without system; "
                f"hl7v2.coding_systems can name them): {', '.join(sorted(self.unknown_systems))}",
                "coding-system-unknown",
            )

    def commit(self, builder: BundleBuilder, issues: list[Issue]) -> None:
        for system, value, resource, rows in self.patients.values():
            pid = patient_id(system, value)
            known = pid in builder
            for row in rows:
                builder.add_patient(system, value, row)
            if not known:
                builder.get(pid).update(
                    {k: v for k, v in resource.items() if k not in ("resourceType", "meta")}
                )
                builder.get(pid)["identifier"] = resource["identifier"]
        for item in self.pending:
            rid = item.resource["id"]
            if rid in builder:
                old = builder.get(rid)
                if old != item.resource:
                    builder.entries[rid].resource = item.resource
                    issues.append(
                        Issue(
                            "information",
                            "informational",
                            f"{item.resource['resourceType']} {rid} replaced by the later "
                            f"message {self.raw.number} (same ids: re-sent or corrected)",
                            rule="resource-replaced",
                            location=(self.where(),),
                        )
                    )
            builder.put(item.resource, item.rows)

    def provenance_entity(self) -> dict[str, Any]:
        digest = sha256_uri(self.raw.text("\r").encode("utf-8"))
        control = f"MSH-10 {self.control_id}" if self.control_id else "no MSH-10"
        return {
            "role": "source",
            "what": {
                "identifier": {"system": URI_SYSTEM, "value": digest},
                "display": f"{self.source} message {self.raw.number} ({control})",
            },
        }

    # ---- patient

    def _patient(self, pid: Seg) -> None:
        identifiers: list[dict[str, str]] = []
        first_value = ""
        first_authority = ""
        for rep in range(len(pid.reps(3))):
            comps = pid.comps(3, rep)
            value = comps[0].strip() if comps else ""
            if not value:
                continue
            authority = (pid.subs(3, 4, rep) or [""])[0].strip()
            if not first_value:
                first_value, first_authority = value, authority
            system = self.section.assigning_authorities.get(authority) if authority else None
            if system:
                identifiers.append({"system": system, "value": value})
            elif authority:
                self.issue(
                    "information",
                    "informational",
                    f"PID-3 identifier with assigning authority {authority!r} not mapped "
                    "(hl7v2.assigning_authorities)",
                    "patient-identifier-unmapped",
                    pid,
                    3,
                )
        if not first_value:
            raise MessageRejected(f"PID at line {pid.line} has no PID-3 patient identifier")
        if not identifiers:
            identifiers.append(
                {"system": self.site.patient_identifier_system, "value": first_value}
            )
            if first_authority:
                self.issue(
                    "information",
                    "informational",
                    f"PID-3 {first_value!r} takes patient_identifier_system",
                    "patient-identifier-default",
                    pid,
                    3,
                )
        resource: Resource = {"resourceType": "Patient", "identifier": identifiers}
        name = pid.comps(5)
        if name and any(n.strip() for n in name[:3]):
            human: dict[str, Any] = {}
            family = (pid.subs(5, 1) or [""])[0].strip()
            if family:
                human["family"] = family
            given = [g.strip() for g in name[1:3] if g.strip()]
            if given:
                human["given"] = given
            resource["name"] = [human]
        birth = pid.get(7)
        if birth:
            try:
                resource["birthDate"] = hl7_date(birth)
            except ValueProblem as exc:
                self.issue("warning", "value", str(exc), exc.rule, pid, 7)
        sex = pid.get(8)
        if sex:
            if sex in GENDERS:
                resource["gender"] = GENDERS[sex]
            else:
                self.issue(
                    "warning",
                    "code-invalid",
                    f"PID-8 {sex!r} is not in table 0001",
                    "gender-unknown",
                    pid,
                    8,
                )
        self.patients[pid.line] = (
            identifiers[0]["system"],
            identifiers[0]["value"],
            resource,
            [self.msh.line, pid.line],
        )

    def _patient_ref(self, pid: Seg) -> dict[str, Any]:
        system, value, _, _ = self.patients[pid.line]
        return ref(patient_id(system, value))

    # ---- orders

    def _order_key(self, order: OrderGroup, position: int) -> tuple[str, ...]:
        filler = order.obr.comps(3) or (order.orc.comps(3) if order.orc else [])
        filler_id = filler[0].strip() if filler else ""
        set_id = order.obr.get(1) or f"#{position}"
        if filler_id:
            namespace = filler[1].strip() if len(filler) > 1 else ""
            return (self.facility, "filler", namespace, filler_id, set_id)
        if self.control_id:
            return (self.facility, "message", self.control_id, set_id)
        raise MessageRejected(
            f"OBR at line {order.obr.line} has no filler order number and the message no MSH-10: "
            "no stable ids"
        )

    def _order(self, order: OrderGroup, key: tuple[str, ...]) -> None:
        specimens = [self._specimen(order, key, i) for i in range(len(order.specimens))]
        obr_specimen = self._obr_specimen(order, key) if not specimens else None
        observations = self._classify(order, key)
        results: list[str] = []
        mapped: list[_Pending] = []
        report_statuses: list[str] = []
        for obs in observations:
            spec = (
                specimens[obs.group.spm]
                if obs.group.spm is not None
                else (specimens[0] if specimens else obr_specimen)
            )
            resource = self._observation(obs, key, spec)
            if resource is None:
                continue
            rows = [obs.group.obx.line, *(n.line for n in obs.group.notes)]
            for comp in obs.components:
                rows.extend([comp.group.obx.line, *(n.line for n in comp.group.notes)])
            mapped.append(_Pending(resource, rows))
            results.append(resource["id"])
            report_statuses.append(resource["status"])
        used_specimens = self._emitted_specimens([*specimens, obr_specimen])
        self.pending.extend(
            _Pending(s.resource, s.rows) for s in used_specimens if s.resource is not None
        )
        self.pending.extend(mapped)
        report_lines = [
            *([order.orc.line] if order.orc else []),
            order.obr.line,
            *(n.line for n in order.notes),
        ]
        if not results:
            found = self.issue(
                "warning",
                "incomplete",
                f"OBR at line {order.obr.line} has no mapped result: no DiagnosticReport",
                "report-without-results",
                order.obr,
            )
            self._extend_location(found, [*([order.orc] if order.orc else []), *order.notes])
            return
        report = self._report(order, key, results, report_statuses, used_specimens)
        self.pending.append(_Pending(report, report_lines))

    def _emitted_specimens(self, candidates: list[_Specimen | None]) -> list[_Specimen]:
        """The Specimens of an order (with or without results), one per id, rows merged."""
        emitted: dict[str, _Specimen] = {}
        for spec in candidates:
            if spec is None or spec.resource is None:
                continue
            first = emitted.get(spec.id)
            if first is None:
                emitted[spec.id] = spec
                continue
            first.rows.extend(spec.rows)
            if first.resource != spec.resource:
                self.issues.append(
                    Issue(
                        "warning",
                        "duplicate",
                        f"specimen lines {spec.rows} repeat the specimen id of line(s) "
                        f"{first.rows[:1]} with other content: the first is kept",
                        rule="specimen-conflict",
                        location=tuple(f"{self.where()}:line {r}" for r in spec.rows),
                    )
                )
        return list(emitted.values())

    def _specimen(self, order: OrderGroup, key: tuple[str, ...], index: int) -> _Specimen:
        spm = order.specimens[index]
        placer = (spm.subs(2, 1) or [""])[0].strip()
        filler = (spm.subs(2, 2) or [""])[0].strip()
        accession = filler or placer
        if accession:
            sid = deterministic_id("Specimen", self.site.specimen_identifier_system, accession)
        else:
            sid = deterministic_id("Specimen", *key, "SPM", spm.get(1) or f"#{index + 1}")
        collected = self._time(spm, 17) or self._time(order.obr, 7)
        return self._specimen_resource(
            sid, accession, spm.comps(4), spm, 4, collected, order.pid, [spm.line]
        )

    def _obr_specimen(self, order: OrderGroup, key: tuple[str, ...]) -> _Specimen | None:
        obr = order.obr
        source = obr.subs(15, 1)
        if not any(s.strip() for s in source):
            return None
        sid = deterministic_id("Specimen", *key, "OBR-15")
        collected = self._time(obr, 7)
        return self._specimen_resource(sid, "", source, obr, 15, collected, order.pid, [obr.line])

    def _specimen_resource(
        self,
        sid: str,
        accession: str,
        type_comps: list[str],
        seg: Seg,
        field_no: int,
        collected: str | None,
        pid: Seg,
        rows: list[int],
    ) -> _Specimen:
        """A ball-specimen, or none (warning) when its kind or collection time is unknown.

        The profile map of the validator holds every Specimen to ball-specimen, whose type is
        bound to the ball-specimen-type kinds and whose collection time is required.
        """
        code = type_comps[0].strip() if type_comps else ""
        target = self.ctx.specimen_types.translate(code) if code else None
        kind = target.code if target and target.code in SPECIMEN_KINDS else None
        if kind is None or collected is None:
            why = (
                f"specimen type {code or '(empty)'!r} has no kind in ConceptMap "
                f"{self.ctx.specimen_types.url}"
                if kind is None
                else "specimen has no collection time (SPM-17, OBR-7)"
            )
            self.issue(
                "warning",
                "code-invalid" if kind is None else "required",
                f"{why}: no Specimen (ball-specimen needs both); its results have no specimen",
                "specimen-unknown" if kind is None else "specimen-collection-missing",
                seg,
                field_no,
            )
            return _Specimen(sid, None, collected, None, rows)
        display, body_site = SPECIMEN_KINDS[kind]
        resource: Resource = {
            "resourceType": "Specimen",
            "id": sid,
            "meta": {"profile": [PROFILE_SPECIMEN]},
        }
        if accession:
            resource["accessionIdentifier"] = {
                "system": self.site.specimen_identifier_system,
                "value": accession,
            }
        resource["type"] = concept(BALL_CONCEPTS, kind, display)
        resource["type"]["coding"].append(self._source_coding(type_comps, V2_0487))
        resource["subject"] = self._patient_ref(pid)
        collection: dict[str, Any] = {"collectedDateTime": collected}
        if body_site:
            collection["bodySite"] = concept(SNOMED, body_site, "Bone marrow structure")
        resource["collection"] = collection
        if seg.name == "SPM" and seg.get(17, 2):
            self.issue(
                "information",
                "informational",
                "SPM-17.2 (collection end) not kept: ball-specimen allows only collectedDateTime",
                "specimen-collection-end",
                seg,
                17,
            )
        return _Specimen(sid, kind, collected, resource, rows)

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

    # ---- observations

    def _classify(self, order: OrderGroup, key: tuple[str, ...]) -> list[_Obs]:
        out: list[_Obs] = []
        seen: set[tuple[str, str]] = set()
        for position, group in enumerate(order.results, start=1):
            obx = group.obx
            obx_key = (obx.get(1) or f"#{position}", obx.get(4))
            if obx_key in seen:
                self.issue(
                    "warning",
                    "duplicate",
                    f"OBX-1/OBX-4 {obx_key} repeats in this order: keyed by position {position}",
                    "obx-set-id-repeated",
                    obx,
                    1,
                )
                obx_key = (f"#{position}", obx.get(4))
            seen.add(obx_key)
            target = self._target(obx)
            test = self.ctx.tests.get(target) if target else None
            out.append(_Obs(group, order, test, target, obx_key, [obx.line]))
        mrd = [o for o in out if o.test is not None and o.test.kind == "mrd"]
        kept: list[_Obs] = []
        for obs in out:
            if (
                obs.target is None
                or obs.target[0] != BALL_CONCEPTS
                or obs.target[1] not in COMPONENT_CODES
            ):
                kept.append(obs)
                continue
            sub = obs.key[1]
            owners = [m for m in mrd if m.key[1] == sub] if sub else mrd
            if len(owners) == 1:
                owners[0].components.append(obs)
            else:
                self.issue(
                    "warning",
                    "structure",
                    f"{obs.target[1]} OBX belongs to no single MRD OBX of its order "
                    f"({len(owners)} candidates): kept as a plain Observation",
                    "mrd-component-orphan",
                    obs.group.obx,
                    3,
                )
                kept.append(obs)
        return kept

    def _target(self, obx: Seg) -> tuple[str, str] | None:
        comps = obx.comps(3)
        c = [*comps, "", "", "", "", "", ""]
        for code, system_name in ((c[0].strip(), c[2].strip()), (c[3].strip(), c[5].strip())):
            if not code:
                continue
            if system_name == "LN" and (LOINC, code) in self.ctx.tests:
                return (LOINC, code)
            found = self.ctx.test_codes.translate(code)
            if found is not None:
                return (found.system, found.code)
        return None

    def _status(self, obx: Seg) -> str:
        code = obx.get(11)
        found = self.ctx.statuses.translate(code) if code else None
        if found is None:
            self.issue(
                "warning",
                "code-invalid",
                f"OBX-11 {code or '(empty)'!r} is not in table 0085: status unknown",
                "obx-status-unknown",
                obx,
                11,
            )
            return "unknown"
        return found.code

    def _observation(
        self, obs: _Obs, key: tuple[str, ...], spec: _Specimen | None
    ) -> Resource | None:
        obx = obs.group.obx
        status = self._status(obx)
        value_type = obx.get(2)
        empty = not obx.raw(5).strip()
        if obx.get(11) == "U" and empty:
            found = self.issue(
                "warning",
                "not-supported",
                "OBX-11 U (status change to final) without a value is not applied: a PUT would "
                "erase the earlier result",
                "status-only-update",
                obx,
                11,
            )
            others = [*obs.group.notes]
            for comp in obs.components:
                others.extend([comp.group.obx, *comp.group.notes])
            self._extend_location(found, others)
            return None
        oid = deterministic_id("Observation", *key, *obs.key)
        if obs.test is not None:
            return self._contract_observation(obs, oid, status, value_type, empty, spec)
        return self._plain_observation(obs, oid, status, value_type, empty, spec)

    def _reject_obx(self, obs: _Obs, problems: list[Issue]) -> None:
        segs = [obs.group.obx, *obs.group.notes]
        for comp in obs.components:
            segs.extend([comp.group.obx, *comp.group.notes])
        record = "\n".join(s.text for s in segs)
        locations = tuple(self.where(s) for s in segs)
        self.rejected_obx += 1 + len(obs.components)
        for problem in problems:
            if problem in self.issues:
                self.issues.remove(problem)
            self.issues.append(
                replace(
                    problem,
                    location=(
                        *problem.location,
                        *(
                            w
                            for w in locations
                            if not any(p == w or p.startswith(w + ":") for p in problem.location)
                        ),
                    ),
                    source_record=record,
                )
            )

    def _contract_observation(
        self,
        obs: _Obs,
        oid: str,
        status: str,
        value_type: str,
        empty: bool,
        spec: _Specimen | None,
    ) -> Resource | None:
        obx = obs.group.obx
        test = obs.test
        if test is None:  # pragma: no cover - only called for contract codes
            return None
        errors: list[Issue] = []

        def err(rule: str, message: str, field_no: int, code: IssueCode = "value") -> None:
            errors.append(self.issue("error", code, message, rule, obx, field_no))

        if spec is None or spec.kind is None:
            err(
                "specimen-unknown",
                f"{test.display} needs a specimen of a known kind (SPM-4 / OBR-15 through "
                f"ConceptMap {self.ctx.specimen_types.url}) with a collection time",
                3,
                "required",
            )
        effective = self._effective(obs, spec, errors)
        result: ResultValue | None = None
        if empty:
            if status not in ABSENT_REASONS:
                err(
                    "required-cell",
                    f"OBX-5 is empty (status {status} needs a value)",
                    5,
                    "required",
                )
        elif value_type in _QUANTITY_TYPES:
            result = self._result_value(obs, value_type, errors)
        else:
            err(
                "value-type-not-allowed",
                f"OBX-2 {value_type!r} cannot carry {test.display} (a quantity is required)",
                2,
            )
        unit_text = obx.get(6) or obx.get(6, 2)
        unit = self.section.units.get(unit_text, unit_text) or None
        lod: Decimal | None = None
        events: int | None = None
        for comp in obs.components:
            c_obx = comp.group.obx
            component = comp.target[1] if comp.target else ""
            text = c_obx.get(5)
            try:
                number = hl7_number(text)
            except ValueProblem as exc:
                errors.append(
                    self.issue("error", "value", f"{component}: {exc}", exc.rule, c_obx, 5)
                )
                continue
            if component == "events-analyzed":
                if number != number.to_integral_value() or number < 0:
                    errors.append(
                        self.issue(
                            "error",
                            "value",
                            f"events {text!r} is not a whole number",
                            "events-format",
                            c_obx,
                            5,
                        )
                    )
                else:
                    events = int(number)
            else:
                lod = self._lod_in_unit(number, c_obx, unit, test, errors)
        measured = Measured()
        if not errors and result is not None:
            found_value, value_issues = measure(result, unit, lod, test, self.section.mrd_unit)
            for found in value_issues:
                field_no = 5 if found.location in (("value",), ("lod",)) else 6
                located = replace(found, location=(self.where(obx, field_no),))
                self.issues.append(located)
                if located.is_error:
                    errors.append(located)
            if found_value is not None:
                measured = found_value
        original: str | None = None
        if measured.reported:
            written = obx.get(5) if test.kind == "mrd" else self._value_text(obx, value_type)
            original = f"{written} {measured.reported}"
        if errors or effective is None or spec is None or spec.resource is None:
            self._reject_obx(obs, errors)
            return None
        record = LabRecord(
            row=obx.line,
            patient_id="",
            specimen_id="",
            collected_at=effective,
            specimen=spec.kind or "",
            test=test,
            status=status,
            value=measured.value,
            comparator=measured.comparator,
            lod=measured.lod,
            interpretation=measured.interpretation,
            events_analyzed=events,
            original=original,
            method=self._method_text(obx),
            instrument=self._device(obx),
            comment=None,
        )
        resource = to_fhir_observation(self.site, record, oid)
        resource["subject"] = self._patient_ref(obs.order.pid)
        resource["specimen"] = ref(spec.id)
        if measured.value is None:
            reason, display = ABSENT_REASONS.get(status, ABSENT_REASONS["cancelled"])
            if obx.get(11) == "N":
                reason, display = "not-asked", "Not Asked"
            resource["dataAbsentReason"] = concept(DATA_ABSENT, reason, display)
        local = self._source_coding(obx.comps(3), None)
        if local.get("code") != test.code:
            resource["code"]["coding"].append(local)
        notes = self._notes(obs)
        if original:
            notes.append({"text": f"Reported as {original}"})
        if notes:
            resource["note"] = notes
        else:
            resource.pop("note", None)
        self._interpretation(obs, resource, mrd=test.kind == "mrd")
        self._reference_range(obx, resource)
        return resource

    def _lod_in_unit(
        self, number: Decimal, c_obx: Seg, unit: str | None, test: LabTest, errors: list[Issue]
    ) -> Decimal | None:
        lod_unit_text = c_obx.get(6) or c_obx.get(6, 2)
        lod_unit = self.section.units.get(lod_unit_text, lod_unit_text) or None
        if lod_unit is None or lod_unit == unit or unit is None:
            return number
        try:
            return convert(number, lod_unit, test) / convert(Decimal(1), unit, test)
        except ValueProblem as exc:
            errors.append(self.issue("error", "value", f"LOD: {exc}", exc.rule, c_obx, 6))
            return None

    def _effective(self, obs: _Obs, spec: _Specimen | None, errors: list[Issue]) -> str | None:
        obx = obs.group.obx
        for seg, field_no in ((obx, 14), (obs.order.obr, 7)):
            text = seg.get(field_no)
            if text:
                try:
                    return hl7_datetime(text, self.site.time_zone)
                except ValueProblem as exc:
                    errors.append(self.issue("error", "value", str(exc), exc.rule, seg, field_no))
                    return None
        if spec is not None and spec.collected:
            return spec.collected
        errors.append(
            self.issue(
                "error",
                "required",
                "no effective time: OBX-14, OBR-7 and the specimen collection time are all empty",
                "effective-missing",
                obx,
                14,
            )
        )
        return None

    def _result_value(self, obs: _Obs, value_type: str, errors: list[Issue]) -> ResultValue | None:
        obx = obs.group.obx
        try:
            if value_type == "SN":
                sn = structured_numeric(obx.comps(5))
                if sn.form != "quantity":
                    errors.append(
                        self.issue(
                            "error",
                            "value",
                            f"SN {sn.text!r} is a {sn.form}: "
                            f"{obs.test.display if obs.test else ''} needs a quantity",
                            "value-type-not-allowed",
                            obx,
                            5,
                        )
                    )
                    return None
                comparator = None if sn.comparator in ("", "=") else sn.comparator
                number = hl7_number(sn.num1)
                return ResultValue(number, comparator, exponent_written="e" in sn.num1.lower())  # type: ignore[arg-type]
            text = obx.text_value(5).strip() if value_type in _TEXT_TYPES else obx.get(5)
            return parse_result(text, hl7_number)
        except ValueProblem as exc:
            errors.append(self.issue("error", "value", str(exc), exc.rule, obx, 5))
            return None

    def _value_text(self, obx: Seg, value_type: str) -> str:
        if value_type == "SN":
            return structured_numeric(obx.comps(5)).text
        return obx.text_value(5).strip()

    def _method_text(self, obx: Seg) -> str | None:
        comps = obx.comps(17)
        if not comps:
            return None
        return (
            comps[1].strip() if len(comps) > 1 and comps[1].strip() else comps[0].strip()
        ) or None

    def _device(self, obx: Seg) -> str | None:
        names = [obx.get(18, 1, rep) for rep in range(len(obx.reps(18)))]
        names = [n for n in names if n]
        return ", ".join(names) or None

    def _notes(self, obs: _Obs) -> list[dict[str, Any]]:
        out = []
        for nte in obs.group.notes:
            text = nte.text_value(3).strip()
            if text:
                out.append({"text": text})
            else:
                self.issue(
                    "information",
                    "informational",
                    "NTE with an empty NTE-3 comment",
                    "note-empty",
                    nte,
                    3,
                )
        return out

    def _interpretation(self, obs: _Obs, resource: Resource, *, mrd: bool) -> None:
        obx = obs.group.obx
        existing = {c["code"] for cc in resource.get("interpretation", []) for c in cc["coding"]}
        out = list(resource.get("interpretation", []))
        for rep in range(len(obx.reps(8))):
            code = obx.get(8, 1, rep)
            if not code:
                continue
            found = self.ctx.interpretations.translate(code)
            if found is None:
                self.issue(
                    "warning",
                    "code-invalid",
                    f"OBX-8 {code!r} has no v3 ObservationInterpretation code",
                    "interpretation-unknown",
                    obx,
                    8,
                )
                if not mrd:
                    out.append({"text": code})
                continue
            if mrd and found.code not in ("POS", "NEG"):
                self.issue(
                    "warning",
                    "code-invalid",
                    f"OBX-8 {code!r} is not POS/NEG, the MRD interpretations (not kept)",
                    "mrd-interpretation",
                    obx,
                    8,
                )
                continue
            if existing and found.code not in existing:
                self.issue(
                    "warning",
                    "business-rule",
                    f"OBX-8 {code!r} contradicts the interpretation {sorted(existing)} "
                    "derived from the value (the derived one is kept)",
                    "interpretation-conflict",
                    obx,
                    8,
                )
                continue
            if found.code not in existing:
                out.append(concept(V3_INTERPRETATION, found.code, found.display))
                existing.add(found.code)
        if out:
            resource["interpretation"] = out

    def _reference_range(self, obx: Seg, resource: Resource) -> None:
        text = obx.text_value(7).strip()
        if text:
            resource["referenceRange"] = [{"text": text}]

    def _plain_observation(
        self,
        obs: _Obs,
        oid: str,
        status: str,
        value_type: str,
        empty: bool,
        spec: _Specimen | None,
    ) -> Resource:
        obx = obs.group.obx
        code = cwe_concept(obx.comps(3), self.section.coding_systems, self.unknown_systems)
        resource: Resource = {
            "resourceType": "Observation",
            "id": oid,
            "status": status,
            "category": [concept(OBSERVATION_CATEGORY, "laboratory", "Laboratory")],
            "code": code or {"text": "(OBX-3 empty)"},
            "subject": self._patient_ref(obs.order.pid),
        }
        shown = (code or {}).get("text") or obx.get(3)
        self.issue(
            "information",
            "informational",
            f"OBX-3 {shown!r} is not a contract code: Observation without a ball profile",
            "observation-unprofiled",
            obx,
            3,
        )
        effective_errors: list[Issue] = []
        effective = self._effective(obs, spec, effective_errors)
        for found in effective_errors:
            self.issues.remove(found)
            self.issues.append(replace(found, severity="warning"))
        if effective:
            resource["effectiveDateTime"] = effective
        if empty:
            reason, display = ABSENT_REASONS.get(status, ("unknown", "Unknown"))
            if obx.get(11) == "N":
                reason, display = "not-asked", "Not Asked"
            resource["dataAbsentReason"] = concept(DATA_ABSENT, reason, display)
        else:
            self._plain_value(obx, value_type, resource)
        self._interpretation(obs, resource, mrd=False)
        notes = self._notes(obs)
        if notes:
            resource["note"] = notes
        method = self._method_text(obx)
        if method:
            resource["method"] = {"text": method}
        if spec is not None and spec.resource is not None:
            resource["specimen"] = ref(spec.id)
        device = self._device(obx)
        if device:
            resource["device"] = {"display": device}
        self._reference_range(obx, resource)
        return resource

    def _unit(self, obx: Seg) -> dict[str, Any]:
        comps = obx.comps(6)
        if not comps or not any(c.strip() for c in comps):
            return {}
        code = comps[0].strip()
        text = comps[1].strip() if len(comps) > 1 else ""
        system = comps[2].strip() if len(comps) > 2 else ""
        mapped = self.section.units.get(code) or self.section.units.get(text)
        if mapped:
            return {"unit": mapped, "system": UCUM, "code": mapped}
        if system == "UCUM" and code:
            return {"unit": text or code, "system": UCUM, "code": code}
        return {"unit": text or code}

    def _quantity(self, obx: Seg, number: str, comparator: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"value": decimal_json(hl7_number(number))}
        if comparator:
            out["comparator"] = comparator
        out.update(self._unit(obx))
        return out

    def _plain_value(self, obx: Seg, value_type: str, resource: Resource) -> None:
        extra = len(obx.reps(5)) > 1 and value_type not in _TEXT_TYPES
        try:
            if value_type == "NM":
                resource["valueQuantity"] = self._quantity(obx, obx.get(5))
            elif value_type == "SN":
                self._sn_value(obx, structured_numeric(obx.comps(5)), resource)
            elif value_type in _TEXT_TYPES:
                resource["valueString"] = obx.text_value(5)
            elif value_type in _CODED_TYPES:
                cc = cwe_concept(obx.comps(5), self.section.coding_systems, self.unknown_systems)
                resource["valueCodeableConcept"] = cc or {"text": obx.get(5)}
            elif value_type in _DATE_TYPES:
                resource["valueDateTime"] = hl7_datetime(obx.get(5), self.site.time_zone)
            else:
                resource["valueString"] = obx.text_value(5)
                self.issue(
                    "warning",
                    "not-supported",
                    f"OBX-2 {value_type or '(empty)'!r} has no value mapping here: "
                    "OBX-5 kept as text",
                    "value-type-unsupported",
                    obx,
                    2,
                )
                extra = False
        except ValueProblem as exc:
            resource.pop("valueQuantity", None)
            resource["valueString"] = obx.text_value(5)
            self.issue("warning", "value", f"{exc}: OBX-5 kept as text", exc.rule, obx, 5)
        if extra:
            rest = obx.reps(5)[1:]
            resource.setdefault("note", []).append(
                {
                    "text": "Further OBX-5 repetitions: "
                    + " ~ ".join(obx.enc.unescape(r) for r in rest)
                }
            )
            self.issue(
                "warning",
                "structure",
                f"OBX-5 repeats ({len(rest) + 1}); the first is the value, "
                "the others are kept in a note",
                "value-repeats",
                obx,
                5,
            )

    def _sn_value(self, obx: Seg, sn: StructuredNumeric, resource: Resource) -> None:
        form = sn.form
        if form == "quantity":
            comparator = None if sn.comparator in ("", "=") else sn.comparator
            resource["valueQuantity"] = self._quantity(obx, sn.num1, comparator)
        elif form == "ratio":
            numerator: dict[str, Any] = {"value": decimal_json(hl7_number(sn.num1))}
            if sn.comparator not in ("", "="):
                numerator["comparator"] = sn.comparator
            resource["valueRatio"] = {
                "numerator": numerator,
                "denominator": {"value": decimal_json(hl7_number(sn.num2))},
            }
        elif form == "range":
            unit = self._unit(obx)
            resource["valueRange"] = {
                "low": {"value": decimal_json(hl7_number(sn.num1)), **unit},
                "high": {"value": decimal_json(hl7_number(sn.num2)), **unit},
            }
        else:
            unit_text = obx.get(6, 2) or obx.get(6)
            resource["valueString"] = f"{sn.text} {unit_text}" if unit_text else sn.text

    # ---- the report

    def _report(
        self,
        order: OrderGroup,
        key: tuple[str, ...],
        results: list[str],
        statuses: list[str],
        specimens: list[_Specimen],
    ) -> Resource:
        obr = order.obr
        report: Resource = {
            "resourceType": "DiagnosticReport",
            "id": deterministic_id("DiagnosticReport", *key),
        }
        report["meta"] = {"profile": [PROFILE_DIAGNOSTIC_REPORT]}
        identifiers = []
        for field_no, type_code in ((2, "PLAC"), (3, "FILL")):
            seg = obr if obr.get(field_no) else order.orc
            if seg is not None and seg.get(field_no):
                identifiers.append(
                    {
                        "type": concept(V2_0203, type_code),
                        "value": seg.get(field_no),
                    }
                )
        if identifiers:
            report["identifier"] = identifiers
        report["status"] = self._report_status(obr, statuses)
        report["category"] = [{"coding": [coding(V2_0074, "LAB", "Laboratory")]}]
        code = cwe_concept(obr.comps(4), self.section.coding_systems, self.unknown_systems)
        if code is None:
            code = concept(
                BALL_CONCEPTS, "lab-results-report", "Laboratory results for one specimen"
            )
            self.issue(
                "warning",
                "required",
                "OBR-4 is empty: report coded lab-results-report",
                "report-code-missing",
                obr,
                4,
            )
        report["code"] = code
        report["subject"] = self._patient_ref(order.pid)
        effective = self._time(obr, 7)
        if effective:
            report["effectiveDateTime"] = effective
        issued = self._time(obr, 22)
        if issued and "T" in issued:
            report["issued"] = issued
        elif issued:
            self.issue(
                "information",
                "informational",
                "OBR-22 has no time of day: not an instant, issued not set",
                "issued-imprecise",
                obr,
                22,
            )
        if specimens:
            report["specimen"] = [ref(s.id) for s in specimens]
        report["result"] = [ref(r) for r in results]
        conclusion = "\n\n".join(t for n in order.notes if (t := n.text_value(3).strip()))
        if conclusion:
            report["conclusion"] = conclusion
        return report

    def _report_status(self, obr: Seg, statuses: list[str]) -> str:
        code = obr.get(25)
        found = self.ctx.report_statuses.translate(code) if code else None
        if found is not None:
            return found.code
        derived = set(statuses)
        if derived == {"cancelled"}:
            status = "cancelled"
        elif derived & {"preliminary", "registered"}:
            status = "partial"
        elif "corrected" in derived:
            status = "corrected"
        elif derived <= {"final", "amended", "cancelled"}:
            status = "final"
        else:
            status = "unknown"
        self.issue(
            "warning",
            "code-invalid",
            f"OBR-25 {code or '(empty)'!r} is not a mapped table 0123 code: status {status} "
            "derived from the results",
            "report-status-derived",
            obr,
            25,
        )
        return status
