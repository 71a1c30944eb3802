"""Protocol logic over FHIR bundles (issue 7): content loader, engine, $apply and cohort tables.

Depends only on the core (``adapter.fhir``, ``adapter.issues``) and the pure ISCN library
(``adapter.iscn``: fusions are named with its recogniser and gene knowledge, which every loaded
:class:`Protocol` carries); no I/O except :func:`load_protocols_from_folder`, which reads the
folder it is given (and the default gene knowledge when none is passed).
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
