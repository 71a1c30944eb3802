"""HL7 v2 ORU^R01 lab results -> Patient, Specimen, Observation, DiagnosticReport (issue 3).

Rules follow the HL7 v2-to-FHIR IG 1.0.0 (message ORU_R01, segments PID/OBR/OBX/NTE/SPM, data
types NM/SN/CWE/ST, code systems 0085/0123/0078; ../shared/reference/inputs-and-corpora.md
section 1) with these project decisions:

- Reading (:mod:`adapter.sources.hl7v2`): BOM, CR/LF/CRLF, MLLP bytes, FHS/BHS batches, one
  message at a time (a generator: a large file is never held twice as text), each decoded with
  its MSH-18 character set (else the site's encoding); a file without any MSH is an error, a
  UTF-16 file named as such.  Each message is parsed by python-hl7 (custom delimiters,
  5-character MSH-2); grouping is ours:
  ``MSH PID [NTE*] { [ORC] OBR [NTE*] { OBX [NTE*] }* { SPM [OBX [NTE*]]* }* }*``.
- A message is rejected whole (error, raw text kept) when it cannot be read or parsed, is not
  ORU^R01, has no PID with a PID-3 value before its first OBR, has no OBR, or has neither MSH-10
  nor a filler order number to key its ids.  Other messages in the file still map.
- Patient: PID-3 repetitions whose assigning authority (CX.4) the site maps
  (``hl7v2.assigning_authorities``) give identifiers with that system; if none maps, the first
  value takes ``patient_identifier_system``.  The first identifier keys the conditional create.
  PID-5 -> name (every repetition, prefix, suffix, degree, use), PID-7 -> birthDate, PID-8 ->
  gender (AdministrativeSex M/F/O/U).
- Ids: ``deterministic_id`` of MSH-4 and the filler order number (OBR-3, else ORC-3), else MSH-10,
  plus OBR-1 (else position) and OBX-1/OBX-4 (else position): a re-sent or corrected message
  maps to the same ids, two OBX with the same code never collide.  A later message in the same
  file replaces an earlier resource with the same id and subject (information issue); an id
  whose resource belongs to another patient, in this Bundle (the builder's targets) or in a
  ``--context`` Bundle of the run, rejects the whole order (error, its segments kept).
- Specimen: each SPM (SPM-2 -> accessionIdentifier, same id as the CSV path for the same
  specimen id; SPM-4 through the site's specimen-type ConceptMap, SNOMED CT codes through the
  default SNOMED one, CWE.4-6 tried after CWE.1-3; SPM-17.1 -> collectedDateTime) or, without
  SPM, OBR-15 (collection time OBR-7), or, with neither, the specimen the LOINC test fixes by its
  System axis (collected at OBR-7, else OBX-14; information issue).  OBX in an order use its
  first SPM (or OBR-15 Specimen); OBX after an SPM use that SPM.  The validator's profile map
  holds every Specimen to ball-specimen, so a specimen of unknown kind or without collection
  time gives no Specimen (warning); contract results on it are rejected, other results carry no
  specimen.
- Observation: OBX-3 -> contract code (LOINC in OBX-3 directly, else the site's ConceptMap; the
  original coding is kept as a second coding).  Contract codes get ball-mrd-observation /
  ball-lab-observation and must have a quantity (NM, SN quantity form, or ST/TX/FT in the result
  grammar of the CSV path), a specimen of a known kind and an effective time; MRD values pass
  :func:`adapter.mapping.mrd.mrd_value`; event count and LOD OBX (ball-concepts events-analyzed /
  mrd-lod) become components of the MRD Observation of their order (same OBX-4 when given).
  A contract OBX breaking a rule is rejected alone (error with its raw segment); one with a range
  or ratio (SN ``-`` ``:`` ``/``, NR) is mapped with that value, declares the base Observation
  profile and is flagged as not usable for protocol rules (warning).  Other codes become plain
  Observations (no ball profile, information issue) with value[x] by OBX-2 (SN forms, NR, DR,
  TM in their FHIR types, :mod:`.plain_observation`).  An empty OBX-3 rejects its OBX.
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

The package, one job a module (each docstring cites the IG table it implements):
:mod:`.datatypes` (HL7 v2 data types: fields, escapes, DTM, CWE, SN), :mod:`.grouping` (segment
groups), :mod:`.context` (the tables and ConceptMap URLs), :mod:`.state` (what one message's
mapping shares), :mod:`.patient` (PID), :mod:`.specimen` (SPM / OBR-15), :mod:`.obx_fields`,
:mod:`.code_maps` (OBX-11, OBR-25, OBX-8), :mod:`.observation` (OBX classification) with
:mod:`.contract_observation` and :mod:`.plain_observation`, :mod:`.report` (OBR) and
:mod:`.message` (one message); :func:`map_hl7v2` here maps a file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from adapter.fhir import Resource
from adapter.issues import Issue
from adapter.mapping.bundle import BundleBuilder, MapResult
from adapter.mapping.hl7v2.context import (
    INTERPRETATION_MAP,
    REPORT_STATUS_MAP,
    SNOMED_SPECIMEN_MAP,
    STATUS_MAP,
    Hl7v2Context,
    load_test_specimens,
)
from adapter.mapping.hl7v2.message import MessageMapper
from adapter.mapping.hl7v2.state import FileParts, MessageRejected
from adapter.mapping.rows import section_of
from adapter.sources.hl7v2 import (
    OutsideSegment,
    RawMessage,
    RawSegment,
    read_hl7_file,
    utf16_form,
)
from adapter.sources.site import Hl7v2Source, SiteConfig

__all__ = [
    "INTERPRETATION_MAP",
    "REPORT_STATUS_MAP",
    "SNOMED_SPECIMEN_MAP",
    "STATUS_MAP",
    "Hl7v2Context",
    "load_test_specimens",
    "map_hl7v2",
    "subjects_of",
]


def map_hl7v2(
    data: bytes,
    source_name: str,
    site: SiteConfig,
    ctx: Hl7v2Context,
    recorded: str,
    progress: Callable[[int], None] | None = None,
    owners: Mapping[str, str] | None = None,
) -> MapResult:
    """Map a file of ORU^R01 messages to one transaction Bundle; see the module docstring.

    ``owners``: the subject reference of each resource id mapped from the other files of the
    run (:func:`subjects_of` their Bundles), so that no message moves one to another patient.
    """
    section: Hl7v2Source = section_of(site, "hl7v2")
    outside: list[Issue] = []
    issues: list[Issue] = []
    envelope: list[RawSegment] = []
    builder = BundleBuilder()
    shared = FileParts(builder.parts)
    entities: list[dict[str, Any]] = []
    read = rejected = messages = 0
    for item in read_hl7_file(data, site.encoding):
        if isinstance(item, OutsideSegment):
            if item.envelope:
                envelope.append(item.segment)
            else:
                outside.append(_stray(item.segment, source_name))
            continue
        raw = item
        messages = raw.number
        if progress and raw.number % 1000 == 0:
            progress(raw.number)
        mapper = MessageMapper(raw, source_name, site, section, ctx, shared)
        obx_count = sum(1 for s in raw.segments if s.name == "OBX")
        try:
            mapper.run()
        except MessageRejected as exc:
            issues.append(_message_rejected(raw, str(exc), source_name))
            read += max(obx_count, 1)
            rejected += max(obx_count, 1)
            continue
        read += obx_count
        mapper.commit(builder, owners or {})
        issues.extend(mapper.issues)
        rejected += mapper.rejected_obx
        entities.append(mapper.provenance_entity())
    if not messages:
        outside.insert(0, _no_message(data, source_name))  # the file-level error first
        read = rejected = 1
    bundle = builder.build(source_name, data, recorded)
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Provenance":
            entry["resource"]["entity"].extend(entities)
    _report_envelope(envelope, messages, source_name, outside)
    return MapResult(bundle, [*outside, *issues], read, rejected)


def subjects_of(bundles: Iterable[Resource]) -> dict[str, str]:
    """The subject reference of every resource with one in ``bundles`` (other files of a run),
    by resource id: what :func:`map_hl7v2` checks its ids against (``owners``)."""
    out: dict[str, str] = {}
    for bundle in bundles:
        for entry in bundle.get("entry", []):
            resource = entry.get("resource") or {}
            reference = (resource.get("subject") or {}).get("reference")
            if resource.get("id") and isinstance(reference, str):
                out.setdefault(resource["id"], reference)
    return out


def _stray(seg: RawSegment, source_name: str) -> Issue:
    return Issue(
        "warning",
        "structure",
        f"unused segment {seg.text[:3]} at line {seg.line}: before any MSH (not part of a message)",
        rule="unused-segment",
        location=(f"{source_name}:line {seg.line}",),
    )


def _message_rejected(raw: RawMessage, reason: str, source_name: str) -> Issue:
    first, last = raw.lines
    return Issue(
        "error",
        "structure",
        f"message {raw.number} rejected: {reason}",
        rule="message-rejected",
        location=(f"{source_name}:message {raw.number}:lines {first}-{last}",),
        source_record=raw.text("\n").rstrip("\n"),
    )


def _no_message(data: bytes, source_name: str) -> Issue:
    """The error of a file without any MSH segment; a UTF-16 file is named as such."""
    form = utf16_form(data)
    if form:
        why = (
            f"the file is {form} text: HL7 v2 segments are 8-bit text (save it as UTF-8 or the "
            "character set MSH-18 names)"
        )
    elif not data.strip():
        why = "the file is empty"
    elif b"\x00" in data:
        why = "it looks like a binary file, not text"
    else:
        why = (
            "no line starts with MSH: is it HL7 v2 text in the site's encoding, one segment "
            "per line or CR-separated?"
        )
    return Issue(
        "error",
        "structure",
        f"no HL7 v2 message found in {source_name}: {why}",
        rule="hl7-utf16" if form else "no-message",
        location=(source_name,),
    )


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
