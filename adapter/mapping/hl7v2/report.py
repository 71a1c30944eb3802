"""OBR -> DiagnosticReport (ball-diagnostic-report).

HL7 v2-to-FHIR IG 1.0.0 segment tables OBR[DiagnosticReport] and ORC[DiagnosticReport]
(../shared/reference/inputs-and-corpora.md section 1.4): OBR-2/3 (else ORC-2/3) -> identifiers
PLAC/FILL, OBR-4 -> code, OBR-7 -> effectiveDateTime, OBR-22 -> issued (when a full instant),
OBR-25 -> status (:mod:`.code_maps`).  R4 DiagnosticReport has no ``note``: OBR-level NTE go to
``conclusion`` (paragraphs in order).
"""

from __future__ import annotations

from adapter.fhir import (
    BALL_CONCEPTS,
    PROFILE_DIAGNOSTIC_REPORT,
    V2_0074,
    Resource,
    concept,
    deterministic_id,
    ref,
)
from adapter.mapping.hl7v2.code_maps import CodeMapping
from adapter.mapping.hl7v2.grouping import OrderGroup
from adapter.mapping.hl7v2.specimen import MappedSpecimen

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


class ReportMapping(CodeMapping):
    """OBR -> DiagnosticReport."""

    def _report(
        self,
        order: OrderGroup,
        key: tuple[str, ...],
        results: list[str],
        statuses: list[str],
        specimens: list[MappedSpecimen],
    ) -> Resource:
        obr = order.obr
        report: Resource = {
            "resourceType": "DiagnosticReport",
            "id": deterministic_id("DiagnosticReport", *key),
        }
        report["meta"] = self.parts.meta(PROFILE_DIAGNOSTIC_REPORT)
        identifiers = []
        for field_no, type_code in ((2, "PLAC"), (3, "FILL")):
            seg = obr if obr.get(field_no) else order.orc
            if seg is not None and seg.get(field_no):
                identifiers.append(
                    {
                        "type": self.parts.concept(V2_0203, type_code),
                        "value": seg.get(field_no),
                    }
                )
        if identifiers:
            report["identifier"] = identifiers
        report["status"] = self._report_status(obr, statuses)
        report["category"] = self.parts.concepts(V2_0074, "LAB", "Laboratory")
        code = self._cwe(obr, 4)
        if code is None:
            code = concept(BALL_CONCEPTS, "lab-results-report", "Laboratory results report")
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
            report["specimen"] = [self.parts.ref(s.id) for s in specimens]
        report["result"] = [ref(r) for r in results]
        conclusion = "\n\n".join(t for n in order.notes if (t := n.text_value(3).strip()))
        if conclusion:
            report["conclusion"] = conclusion
        return report
