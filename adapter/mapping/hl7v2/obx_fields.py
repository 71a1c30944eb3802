"""OBX fields that contract and plain Observations both read, and the OBX on its way to one.

HL7 v2-to-FHIR IG 1.0.0 segment tables OBX[Observation] and NTE[Observation]
(../shared/reference/inputs-and-corpora.md section 1.3): OBX-14 (else OBR-7, else the specimen
collection) -> effectiveDateTime, OBX-17 -> method, OBX-18 -> device.display, OBX-7 ->
referenceRange.text, NTE-3 after the OBX -> note.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from adapter.fhir import Resource, concept
from adapter.issues import Issue
from adapter.mapping.hl7v2.datatypes import Seg, hl7_datetime
from adapter.mapping.hl7v2.grouping import ObxGroup, OrderGroup
from adapter.mapping.hl7v2.specimen import MappedSpecimen
from adapter.mapping.hl7v2.state import MessageState
from adapter.mapping.quantities import LabTest
from adapter.sources.values import ValueProblem

TEXT_TYPES = frozenset({"ST", "TX", "FT"})


@dataclass(slots=True)
class ObxCandidate:
    """An OBX on its way to an Observation."""

    group: ObxGroup
    order: OrderGroup
    test: LabTest | None
    target: tuple[str, str] | None  # (system, code) of a contract or component concept
    key: tuple[str, str]  # OBX-1 (or position), OBX-4
    lines: list[int]
    components: list[ObxCandidate] = field(default_factory=list)


class ObxFields(MessageState):
    """OBX fields both Observation paths read."""

    def _effective(
        self, obs: ObxCandidate, spec: MappedSpecimen | None, errors: list[Issue]
    ) -> str | None:
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

    def _contract_code(self, obx: Seg, test: LabTest) -> dict[str, Any]:
        """The contract code of a contract OBX, with its OBX-3 coding when that is another
        (shared per file, read-only)."""

        def contract(unknown: set[str]) -> dict[str, Any]:
            code = concept(test.system, test.code, test.display)
            local = self._source_coding(obx.comps(3), None, unknown)
            if local.get("code") != test.code:
                code["coding"].append(local)
            return code

        return self._concept(obx, 3, contract)

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

    def _notes(self, obs: ObxCandidate) -> list[dict[str, Any]]:
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

    def _reference_range(self, obx: Seg, resource: Resource) -> None:
        text = obx.text_value(7).strip()
        if text:
            resource["referenceRange"] = [self.parts.text(text)]

    def _reject_obx(self, obs: ObxCandidate, problems: list[Issue]) -> None:
        """Reject one OBX (with its NTE and components): its errors carry its segments."""
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
