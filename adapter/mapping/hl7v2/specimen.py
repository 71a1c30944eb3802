"""SPM -> Specimen, or OBR-15 -> Specimen in an order without SPM: HL7 v2-to-FHIR IG 1.0.0
segment tables SPM[Specimen] and OBR[Specimen], code-system table SpecimenType (table 0487)
through the site's specimen-type ConceptMap (../shared/reference/inputs-and-corpora.md 1.4).

SPM-2 -> accessionIdentifier (the same id as the CSV path for the same specimen id), SPM-4 (or
OBR-15) -> type: CWE.1-3, else the alternate CWE.4-6; SNOMED CT codes (coding system ``SCT``)
through the default SNOMED specimen ConceptMap (mappings/conceptmaps, codes and sources in its
description), others through the site's; SPM-17.1 (else OBR-7) -> collectedDateTime.  An order
with neither SPM nor OBR-15 (most ORU^R01 in the wild) takes the specimen its LOINC test fixes by
the test's System axis (mappings/tables/loinc-specimens.yaml), collected at OBR-7 (else OBX-14),
with an information issue.  The validator's profile map holds
every Specimen to ball-specimen, so a specimen of unknown kind or without collection time gives no
Specimen (warning).  Specimens of one order with the same id are emitted once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapter.fhir import (
    BALL_CONCEPTS,
    LOINC,
    PROFILE_SPECIMEN,
    SNOMED,
    Resource,
    concept,
    deterministic_id,
)
from adapter.issues import Issue
from adapter.mapping.hl7v2.datatypes import Seg, coding_system, pad
from adapter.mapping.hl7v2.grouping import OrderGroup
from adapter.mapping.hl7v2.state import MessageState
from adapter.mapping.lab import SPECIMEN_KINDS, specimen_id

V2_0487 = "http://terminology.hl7.org/CodeSystem/v2-0487"


@dataclass(slots=True)
class MappedSpecimen:
    id: str
    kind: str | None
    collected: str | None
    resource: Resource | None
    rows: list[int]


class SpecimenMapping(MessageState):
    """SPM (or OBR-15) -> Specimen."""

    def _emitted_specimens(self, candidates: list[MappedSpecimen | None]) -> list[MappedSpecimen]:
        """The Specimens of an order (with or without results), one per id, rows merged."""
        emitted: dict[str, MappedSpecimen] = {}
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

    def _specimen(self, order: OrderGroup, key: tuple[str, ...], index: int) -> MappedSpecimen:
        spm = order.specimens[index]
        placer = (spm.subs(2, 1) or [""])[0].strip()
        filler = (spm.subs(2, 2) or [""])[0].strip()
        accession = filler or placer
        if accession:
            sid = specimen_id(self.site, accession)
        else:
            sid = deterministic_id("Specimen", *key, "SPM", spm.get(1) or f"#{index + 1}")
        collected = self._time(spm, 17) or self._time(order.obr, 7)
        return self._coded_specimen(sid, accession, spm.comps(4), spm, 4, collected, order.pid)

    def _obr_specimen(self, order: OrderGroup, key: tuple[str, ...]) -> MappedSpecimen | None:
        obr = order.obr
        source = obr.subs(15, 1)
        if not any(s.strip() for s in source):
            return None
        sid = deterministic_id("Specimen", *key, "OBR-15")
        collected = self._time(obr, 7)
        return self._coded_specimen(sid, "", source, obr, 15, collected, order.pid)

    def _test_specimen(
        self,
        target: tuple[str, str] | None,
        obx: Seg,
        order: OrderGroup,
        key: tuple[str, ...],
        inferred: dict[str, MappedSpecimen],
    ) -> MappedSpecimen | None:
        """An order without SPM and OBR-15: the Specimen the LOINC test fixes by its System axis
        (``Hl7v2Context.test_specimens``), one per kind and order, collected at OBR-7 (else the
        first such OBX-14); an information issue says so."""
        kind = self.ctx.test_specimens.get(target[1]) if target and target[0] == LOINC else None
        if kind is None:
            return None
        found = inferred.get(kind)
        if found is not None:
            return found
        collected = self._time(order.obr, 7) or self._time(obx, 14)
        sid = deterministic_id("Specimen", *key, "LOINC-system", kind)
        self.issue(
            "information",
            "informational",
            f"no SPM or OBR-15: specimen {kind} taken from the System axis of LOINC "
            f"{target[1] if target else ''} (table loinc-specimens), collected at "
            f"{'OBR-7' if self._time(order.obr, 7) else 'OBX-14'}",
            "specimen-from-test",
            obx,
            3,
        )
        found = inferred[kind] = self._specimen_resource(
            sid, "", kind, None, obx, 3, collected, order.pid, [order.obr.line]
        )
        return found

    def _specimen_kind(self, comps: list[str]) -> tuple[str | None, list[str]]:
        """The specimen kind of a CWE specimen type (SPM-4, OBR-15.1) and the coding that gave
        it: CWE.1-3, then the alternate CWE.4-6; SNOMED CT codes (coding system ``SCT``)
        through the SNOMED specimen ConceptMap, the others through the site's."""
        c = pad(comps, 6)
        for triple in (c[0:3], c[3:6]):
            code, name = triple[0].strip(), triple[2].strip()
            if not code:
                continue
            system = coding_system(name, self.section.coding_systems)
            index = self.ctx.snomed_specimens if system == SNOMED else self.ctx.specimen_types
            found = index.translate(code)
            if found is not None and found.code in SPECIMEN_KINDS:
                return found.code, triple
        return None, c[0:3]

    def _coded_specimen(
        self,
        sid: str,
        accession: str,
        type_comps: list[str],
        seg: Seg,
        field_no: int,
        collected: str | None,
        pid: Seg,
    ) -> MappedSpecimen:
        kind, coding = self._specimen_kind(type_comps)
        if kind is None:
            code = coding[0].strip()
            self.issue(
                "warning",
                "code-invalid",
                f"specimen type {code or '(empty)'!r} has no kind in ConceptMap "
                f"{self.ctx.specimen_types.url} or {self.ctx.snomed_specimens.url} (CWE.1 and "
                "CWE.4 tried): no Specimen (ball-specimen needs both); its results have no "
                "specimen",
                "specimen-unknown",
                seg,
                field_no,
            )
            return MappedSpecimen(sid, None, collected, None, [seg.line])
        return self._specimen_resource(
            sid, accession, kind, coding, seg, field_no, collected, pid, [seg.line]
        )

    def _specimen_resource(
        self,
        sid: str,
        accession: str,
        kind: str,
        source: list[str] | None,
        seg: Seg,
        field_no: int,
        collected: str | None,
        pid: Seg,
        rows: list[int],
    ) -> MappedSpecimen:
        """A ball-specimen of ``kind`` (``source``: the v2 coding kept beside the kind), or
        none (warning) without a collection time.

        The profile map of the validator holds every Specimen to ball-specimen, whose type is
        bound to the ball-specimen-type kinds and whose collection time is required.
        """
        if collected is None:
            self.issue(
                "warning",
                "required",
                "specimen has no collection time (SPM-17, OBR-7): no Specimen (ball-specimen "
                "needs both); its results have no specimen",
                "specimen-collection-missing",
                seg,
                field_no,
            )
            return MappedSpecimen(sid, None, collected, None, rows)
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
        if source is not None:
            resource["type"]["coding"].append(self._source_coding(source, V2_0487))
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
        return MappedSpecimen(sid, kind, collected, resource, rows)
