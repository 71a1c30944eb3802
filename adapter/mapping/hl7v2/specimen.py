"""SPM -> Specimen, or OBR-15 -> Specimen in an order without SPM: HL7 v2-to-FHIR IG 1.0.0
segment tables SPM[Specimen] and OBR[Specimen], code-system table SpecimenType (table 0487)
through the site's specimen-type ConceptMap (../shared/reference/inputs-and-corpora.md 1.4).

SPM-2 -> accessionIdentifier (the same id as the CSV path for the same specimen id), SPM-4 (or
OBR-15) -> type, SPM-17.1 (else OBR-7) -> collectedDateTime.  The validator's profile map holds
every Specimen to ball-specimen, so a specimen of unknown kind or without collection time gives no
Specimen (warning).  Specimens of one order with the same id are emitted once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapter.fhir import (
    BALL_CONCEPTS,
    PROFILE_SPECIMEN,
    SNOMED,
    Resource,
    concept,
    deterministic_id,
)
from adapter.issues import Issue
from adapter.mapping.hl7v2.datatypes import Seg
from adapter.mapping.hl7v2.grouping import OrderGroup
from adapter.mapping.hl7v2.state import MessageState
from adapter.mapping.lab import SPECIMEN_KINDS

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
            sid = deterministic_id("Specimen", self.site.specimen_identifier_system, accession)
        else:
            sid = deterministic_id("Specimen", *key, "SPM", spm.get(1) or f"#{index + 1}")
        collected = self._time(spm, 17) or self._time(order.obr, 7)
        return self._specimen_resource(
            sid, accession, spm.comps(4), spm, 4, collected, order.pid, [spm.line]
        )

    def _obr_specimen(self, order: OrderGroup, key: tuple[str, ...]) -> MappedSpecimen | None:
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
    ) -> MappedSpecimen:
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
        return MappedSpecimen(sid, kind, collected, resource, rows)
