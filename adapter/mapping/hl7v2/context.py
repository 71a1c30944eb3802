"""The tables an HL7 v2 mapping reads, and the canonical URLs of its three fixed ConceptMaps.

:class:`Hl7v2Context` is loaded by the edge (:mod:`adapter.cli.mapcmd`).  The ConceptMaps carry
the HL7 v2-to-FHIR IG 1.0.0 code-system tables (../shared/reference/inputs-and-corpora.md
section 1.1) ObservationResultStatusCodesInterpretation (table 0085), ResultStatus[Non-Queries]
(table 0123) and InterpretationCodes (table 0078), with our own choices written in their comments.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapter.fhir import CANONICAL
from adapter.mapping.quantities import LabTest
from adapter.terminology import ConceptMapIndex

STATUS_MAP = f"{CANONICAL}/ConceptMap/hl7v2-0085-observation-status"
REPORT_STATUS_MAP = f"{CANONICAL}/ConceptMap/hl7v2-0123-diagnostic-report-status"
INTERPRETATION_MAP = f"{CANONICAL}/ConceptMap/hl7v2-0078-observation-interpretation"


@dataclass(frozen=True, slots=True)
class Hl7v2Context:
    """The tables an HL7 v2 mapping needs, loaded by the edge."""

    tests: dict[tuple[str, str], LabTest]
    test_codes: ConceptMapIndex
    specimen_types: ConceptMapIndex
    statuses: ConceptMapIndex
    report_statuses: ConceptMapIndex
    interpretations: ConceptMapIndex
