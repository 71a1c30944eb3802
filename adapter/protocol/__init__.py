"""Protocol logic over FHIR bundles (issue 7): content loader, engine, $apply and cohort tables.

Depends only on the core (``adapter.fhir``, ``adapter.issues``); no I/O except
:func:`load_protocols_from_folder`, which reads the folder it is given.
"""

from adapter.protocol.content import (
    DEFAULT_PROTOCOL,
    EXT_PROTOCOL_PARAMETER,
    Protocol,
    load_protocols,
    load_protocols_from_folder,
    read_content_folder,
)
from adapter.protocol.engine import evaluate
from adapter.protocol.model import Finding, PatientEvaluation

__all__ = [
    "DEFAULT_PROTOCOL",
    "EXT_PROTOCOL_PARAMETER",
    "Finding",
    "PatientEvaluation",
    "Protocol",
    "evaluate",
    "load_protocols",
    "load_protocols_from_folder",
    "read_content_folder",
]
