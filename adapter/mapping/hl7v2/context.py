"""The tables an HL7 v2 mapping reads, and the canonical URLs of its four fixed ConceptMaps.

:class:`Hl7v2Context` is loaded by the edge (:mod:`adapter.cli.mapcmd`).  Three ConceptMaps carry
the HL7 v2-to-FHIR IG 1.0.0 code-system tables (../shared/reference/inputs-and-corpora.md
section 1.1) ObservationResultStatusCodesInterpretation (table 0085), ResultStatus[Non-Queries]
(table 0123) and InterpretationCodes (table 0078), with our own choices written in their comments;
the fourth maps SNOMED CT specimen codes to our specimen kinds (its description cites where each
code was read).  :func:`load_test_specimens` reads the LOINC System-axis table
``mappings/tables/loinc-specimens.yaml`` (its header cites the source).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from adapter.fhir import CANONICAL
from adapter.issues import UsageError
from adapter.mapping.lab import SPECIMEN_KINDS
from adapter.mapping.quantities import LabTest
from adapter.terminology import ConceptMapIndex

STATUS_MAP = f"{CANONICAL}/ConceptMap/hl7v2-0085-observation-status"
REPORT_STATUS_MAP = f"{CANONICAL}/ConceptMap/hl7v2-0123-diagnostic-report-status"
INTERPRETATION_MAP = f"{CANONICAL}/ConceptMap/hl7v2-0078-observation-interpretation"
SNOMED_SPECIMEN_MAP = f"{CANONICAL}/ConceptMap/snomed-specimen-types"


@dataclass(frozen=True, slots=True)
class Hl7v2Context:
    """The tables an HL7 v2 mapping needs, loaded by the edge."""

    tests: dict[tuple[str, str], LabTest]
    test_codes: ConceptMapIndex
    specimen_types: ConceptMapIndex
    statuses: ConceptMapIndex
    report_statuses: ConceptMapIndex
    interpretations: ConceptMapIndex
    #: SNOMED CT specimen code -> specimen kind (SPM-4 / OBR-15 coded ``SCT``)
    snomed_specimens: ConceptMapIndex
    #: LOINC code -> the specimen kind its System axis fixes (orders without SPM and OBR-15)
    test_specimens: Mapping[str, str]


def load_test_specimens(path: Path) -> dict[str, str]:
    """``specimens: {LOINC code: specimen kind}``; a kind outside the ball-specimen-type kinds
    is a usage error (the table is wrong, not the input)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        table = {str(code): str(kind) for code, kind in raw["specimens"].items()}
    except (OSError, KeyError, TypeError, AttributeError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: not a table of specimens: {exc}") from None
    unknown = sorted(k for k in table.values() if k not in SPECIMEN_KINDS)
    if unknown:
        raise UsageError(f"{path}: unknown specimen kind(s) {unknown}")
    return table
