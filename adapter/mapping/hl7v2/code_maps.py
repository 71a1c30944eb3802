"""Status and interpretation codes through the ConceptMaps named in :mod:`.context`.

HL7 v2-to-FHIR IG 1.0.0 code-system tables (../shared/reference/inputs-and-corpora.md sections
1.3-1.4): OBX-11 -> Observation.status (table 0085, ObservationResultStatusCodesInterpretation,
plus our choices for B I N O R S U V), OBR-25 -> DiagnosticReport.status (table 0123,
ResultStatus[Non-Queries]; derived from the results when absent or unmapped), OBX-8 ->
interpretation (table 0078, InterpretationCodes -> v3 ObservationInterpretation; MRD accepts only
POS/NEG).  Also the dataAbsentReason of the statuses that may come without a value.
"""

from __future__ import annotations

from adapter.fhir import V3_INTERPRETATION, Resource
from adapter.mapping.hl7v2.datatypes import Seg
from adapter.mapping.hl7v2.obx_fields import ObxCandidate, ObxFields

#: Observation statuses that may come without a value, with their dataAbsentReason.
ABSENT_REASONS = {
    "cancelled": ("not-performed", "Not Performed"),
    "registered": ("temp-unknown", "Temporarily Unknown"),
    "entered-in-error": ("error", "Error"),
}


class CodeMapping(ObxFields):
    """OBX-11, OBR-25 and OBX-8 through their ConceptMaps."""

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

    def _interpretation(self, obs: ObxCandidate, resource: Resource, *, mrd: bool) -> None:
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
                out.append(self.parts.concept(V3_INTERPRETATION, found.code, found.display))
                existing.add(found.code)
        if out:
            resource["interpretation"] = out
