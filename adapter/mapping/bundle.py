"""Transaction Bundles with stable ids and a Provenance for the source file.

Every mapper collects its resources in a :class:`BundleBuilder` and finishes with
:meth:`BundleBuilder.build`, which adds one Provenance
(https://hl7.org/fhir/R4/provenance.html) naming the source file (name and sha256 as an RFC 6920
``ni:`` URI) and, on each target reference, the source rows it came from (extension
``ball-source-row``).  Requests (https://hl7.org/fhir/R4/http.html#transaction):

- Patient: ``POST`` with ``ifNoneExist`` on its identifier (conditional create, contract.md);
- everything else: ``PUT <type>/<deterministic id>``, so a re-sent record updates, never duplicates.

Entries are ordered by first appearance; the same input gives a byte-identical Bundle.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from adapter import __version__
from adapter.fhir import (
    EXT_SOURCE_ROW,
    PROFILE_PATIENT,
    PROFILE_PROVENANCE,
    URI_SYSTEM,
    Resource,
    deterministic_id,
    urn,
)
from adapter.issues import Issue, has_errors


def sha256_uri(data: bytes) -> str:
    """RFC 6920 named-information URI of the sha256 of ``data``."""
    digest = hashlib.sha256(data).digest()
    return "ni:///sha-256;" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def patient_id(system: str, value: str) -> str:
    """The deterministic id of the Patient with this identifier."""
    return deterministic_id("Patient", system, value)


def to_fhir_patient(system: str, value: str) -> Resource:
    """A minimal Patient (profile ball-patient) carrying only the site identifier."""
    return {
        "resourceType": "Patient",
        "meta": {"profile": [PROFILE_PATIENT]},
        "identifier": [{"system": system, "value": value}],
    }


@dataclass(slots=True)
class _Entry:
    resource: Resource
    request: dict[str, str]
    rows: list[int] = field(default_factory=list)


@dataclass(slots=True)
class BundleBuilder:
    """Collects resources for one source file and renders the transaction Bundle."""

    entries: dict[str, _Entry] = field(default_factory=dict)

    def __contains__(self, resource_id: str) -> bool:
        return resource_id in self.entries

    def get(self, resource_id: str) -> Resource:
        return self.entries[resource_id].resource

    def add_patient(self, system: str, value: str, row: int) -> str:
        """Add (once) the Patient with this identifier; returns its id for references."""
        pid = patient_id(system, value)
        entry = self.entries.get(pid)
        if entry is None:
            entry = self.entries[pid] = _Entry(
                to_fhir_patient(system, value),
                {"method": "POST", "url": "Patient", "ifNoneExist": f"identifier={system}|{value}"},
            )
        rows = entry.rows
        if not rows or rows[-1] != row:  # as note_row
            rows.append(row)
        return pid

    def put(self, resource: Resource, rows: Iterable[int]) -> None:
        """Add a resource with an id (or record more source rows for one already added)."""
        rid = resource["id"]
        entry = self.entries.get(rid)
        if entry is None:
            entry = self.entries[rid] = _Entry(
                resource, {"method": "PUT", "url": f"{resource['resourceType']}/{rid}"}
            )
        noted = entry.rows
        for row in rows:
            if not noted or noted[-1] != row:
                noted.append(row)

    def note_row(self, rid: str, row: int) -> None:
        """Record one more source row for a resource already added."""
        rows = self.entries[rid].rows
        if not rows or rows[-1] != row:
            rows.append(row)

    def build(self, source_name: str, data: bytes, recorded: str) -> Resource:
        """The transaction Bundle, with a Provenance when anything was mapped."""
        digest = sha256_uri(data)
        entries = [
            {"fullUrl": f"urn:uuid:{rid}", "resource": e.resource, "request": e.request}
            for rid, e in self.entries.items()
        ]
        if self.entries:
            provenance = self._provenance(source_name, digest, recorded)
            entries.append(
                {
                    "fullUrl": urn(provenance["id"]),
                    "resource": provenance,
                    "request": {"method": "PUT", "url": f"Provenance/{provenance['id']}"},
                }
            )
        return {
            "resourceType": "Bundle",
            "id": deterministic_id("Bundle", digest),
            "type": "transaction",
            "entry": entries,
        }

    def _provenance(self, source_name: str, digest: str, recorded: str) -> Resource:
        targets = [
            {
                "extension": [{"url": EXT_SOURCE_ROW, "valuePositiveInt": r} for r in e.rows],
                "reference": f"urn:uuid:{rid}",
            }
            for rid, e in self.entries.items()
        ]
        return {
            "resourceType": "Provenance",
            "id": deterministic_id("Provenance", digest),
            "meta": {"profile": [PROFILE_PROVENANCE]},
            "target": targets,
            "recorded": recorded,
            "agent": [{"who": {"display": f"ball-fhir {__version__}"}}],
            "entity": [
                {
                    "role": "source",
                    "what": {
                        "identifier": {"system": URI_SYSTEM, "value": digest},
                        "display": source_name,
                    },
                }
            ],
        }


@dataclass(slots=True)
class MapResult:
    """What a mapper returns for one source file.

    ``issues`` holds every issue (rejected records carry their raw text); ``read`` counts the
    records read, ``rejected`` those with an error issue; ``mapped = read - rejected``.
    """

    bundle: Resource
    issues: list[Issue]
    read: int
    rejected: int

    @property
    def mapped(self) -> int:
        return self.read - self.rejected

    @property
    def has_errors(self) -> bool:
        return has_errors(self.issues)
