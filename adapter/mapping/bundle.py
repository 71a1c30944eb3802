"""Transaction Bundles with stable ids and a Provenance for the source file.

Every mapper collects its resources in a :class:`BundleBuilder` and finishes with
:meth:`BundleBuilder.build`, which adds one Provenance
(https://hl7.org/fhir/R4/provenance.html) naming the source file (name and sha256 as an RFC 6920
``ni:`` URI) and, on each target reference, the source rows it came from (extension
``ball-source-row``).  Requests (https://hl7.org/fhir/R4/http.html#transaction):

- Patient: ``POST`` with ``ifNoneExist`` on its identifier (conditional create, contract.md);
- everything else: ``PUT <type>/<deterministic id>``, so a re-sent record updates, never duplicates.

Entries are ordered by first appearance; the same input gives a byte-identical Bundle.

The resources of one Bundle may share their constant parts (:class:`SharedParts`: a meta, a
code, a reference, a source-row extension), so a mapped Bundle is read-only: copy it
(``copy.deepcopy``) before editing a resource in place.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

from adapter import __version__
from adapter.fhir import (
    EXT_SOURCE_ROW,
    PROFILE_PATIENT,
    PROFILE_PROVENANCE,
    URI_SYSTEM,
    Resource,
    concept,
    deterministic_id,
    ref,
    urn,
)
from adapter.issues import Issue, has_errors


def sha256_uri(data: bytes, hashed: bool = False) -> str:
    """RFC 6920 named-information URI of the sha256 of ``data`` (``hashed``: ``data`` is that
    sha256 already, computed as the file was read)."""
    digest = data if hashed else hashlib.sha256(data).digest()
    return "ni:///sha-256;" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def patient_id(system: str, value: str) -> str:
    """The deterministic id of the Patient with this identifier."""
    return deterministic_id("Patient", system, value)


def to_fhir_patient(system: str, value: str, meta: dict[str, Any]) -> Resource:
    """A minimal Patient (profile ball-patient, ``meta``) carrying only the site identifier."""
    return {
        "resourceType": "Patient",
        "meta": meta,
        "identifier": [{"system": system, "value": value}],
    }


def _meta(profile: str) -> dict[str, Any]:
    return {"profile": [profile]}


def _concepts(system: str, code: str, display: str | None = None) -> list[dict[str, Any]]:
    return [concept(system, code, display)]


def source_row(row: int) -> dict[str, Any]:
    """The ``ball-source-row`` extension of a Provenance target: the resource came from
    ``row`` of the source file."""
    return {"url": EXT_SOURCE_ROW, "valuePositiveInt": row}


class SharedParts:
    """Equal constant parts of the resources of one Bundle, built once and then shared.

    A 100,000-row lab export repeats the same meta, category, code, method, device and patient
    reference on thousands of resources; one dict per distinct value (instead of one per
    resource) means fewer objects to build and free (benchmarks/map_lab.py).  The JSON is the
    same either way.  Each is a cached function of its arguments: ``concept`` and ``ref``
    as :func:`adapter.fhir.concept` / :func:`adapter.fhir.ref`, ``concepts`` (a list of that one
    concept, as ``Observation.category``), ``meta(profile)``,
    ``source_row(row)`` (the ``ball-source-row`` extension), ``text(s)`` (``{"text": s}``) and
    ``display(s)`` (``{"display": s}``).
    """

    __slots__ = ("concept", "concepts", "display", "meta", "ref", "source_row", "text")

    def __init__(self) -> None:
        self.concept = cache(concept)
        self.concepts = cache(_concepts)
        self.ref = cache(ref)
        self.meta = cache(_meta)
        self.source_row = cache(source_row)
        self.text = cache(lambda text: {"text": text})
        self.display = cache(lambda display: {"display": display})


class Target(NamedTuple):
    """A resource put in the Bundle: its entry, a Reference to it (by fullUrl, one dict shared
    by every reference to the resource) and the ``ball-source-row`` extensions of its
    Provenance target, in the order the rows were noted."""

    entry: dict[str, Any]
    reference: dict[str, Any]
    rows: list[dict[str, Any]]

    @property
    def resource(self) -> Resource:
        resource: Resource = self.entry["resource"]
        return resource

    @property
    def first_row(self) -> int:
        """The first source row noted (a mapper's duplicate rule names it)."""
        row: int = self.rows[0]["valuePositiveInt"]
        return row

    def note(self, extension: dict[str, Any]) -> None:
        """Record one more source row: its ``ball-source-row`` extension, one dict per row
        (:attr:`SharedParts.source_row`); noting the row just noted again adds nothing."""
        rows = self.rows
        if not rows or rows[-1] != extension:
            rows.append(extension)


class BundleBuilder:
    """Collects resources for one source file and renders the transaction Bundle.

    Each resource is put once and known by its :class:`Target`; the Bundle's entry list and
    the Provenance's target list grow as resources are put, so :meth:`build` walks nothing.
    """

    __slots__ = ("_by_id", "_entries", "_targets", "parts")

    def __init__(self) -> None:
        self.parts = SharedParts()
        self._by_id: dict[str, Target] = {}
        self._entries: list[dict[str, Any]] = []
        self._targets: list[dict[str, Any]] = []

    @property
    def targets(self) -> Mapping[str, Target]:
        """The resources put so far by id (a live, read-only view)."""
        return self._by_id

    def _open(self, rid: str, resource: Resource, request: dict[str, str]) -> Target:
        """A new entry, its Reference and its (still empty) Provenance target, kept in order;
        ValueError when the id is in the Bundle already."""
        url = urn(rid)
        entry = {"fullUrl": url, "resource": resource, "request": request}
        target = Target(entry, {"reference": url}, [])
        if self._by_id.setdefault(rid, target) is not target:
            raise ValueError(f"{resource['resourceType']}/{rid} is in the Bundle already")
        self._entries.append(entry)
        self._targets.append({"extension": target.rows, "reference": url})
        return target

    def add_patient(self, system: str, value: str, rows: Iterable[int] = ()) -> Target:
        """Add (once) the Patient with this identifier, noting ``rows``."""
        pid = patient_id(system, value)
        target = self._by_id.get(pid)
        if target is None:
            request = {
                "method": "POST",
                "url": "Patient",
                "ifNoneExist": f"identifier={system}|{value}",
            }
            patient = to_fhir_patient(system, value, self.parts.meta(PROFILE_PATIENT))
            target = self._open(pid, patient, request)
        if rows:
            self._note(target, rows)
        return target

    def add(self, resource: Resource) -> Target:
        """Add a resource whose id is not in the Bundle yet (ValueError when it is): a mapper
        that knows its resource is new (lab: one Observation per specimen and test) skips the
        look-up of :meth:`put`."""
        rid = resource["id"]
        return self._open(
            rid, resource, {"method": "PUT", "url": f"{resource['resourceType']}/{rid}"}
        )

    def put(self, resource: Resource, rows: Iterable[int] = ()) -> Target:
        """Add a resource with an id (or note more source rows of one already added)."""
        target = self._by_id.get(resource["id"]) or self.add(resource)
        if rows:
            self._note(target, rows)
        return target

    def _note(self, target: Target, rows: Iterable[int]) -> None:
        for row in rows:
            target.note(self.parts.source_row(row))  # one shared dict per row

    def replace(self, resource: Resource) -> None:
        """Put a new version of a resource already added (same id), keeping its rows."""
        self._by_id[resource["id"]].entry["resource"] = resource

    def build(
        self, source_name: str, data: bytes, recorded: str, part: Part | None = None
    ) -> Resource:
        """The transaction Bundle, with a Provenance when anything was mapped.

        ``part``: the Bundle holds one part of the file (the streaming map): the Provenance
        names the whole file (its digest) and the Bundle and Provenance ids include the part's
        key, so the Bundles of all parts can be sent side by side."""
        digest = sha256_uri(data) if part is None else part.digest
        keys = (digest,) if part is None else (digest, part.key)
        entries = list(self._entries)
        if entries:
            provenance = self._provenance(source_name, digest, recorded, keys)
            entries.append(
                {
                    "fullUrl": urn(provenance["id"]),
                    "resource": provenance,
                    "request": {"method": "PUT", "url": f"Provenance/{provenance['id']}"},
                }
            )
        return {
            "resourceType": "Bundle",
            "id": deterministic_id("Bundle", *keys),
            "type": "transaction",
            "entry": entries,
        }

    def _provenance(
        self, source_name: str, digest: str, recorded: str, keys: tuple[str, ...]
    ) -> Resource:
        return {
            "resourceType": "Provenance",
            "id": deterministic_id("Provenance", *keys),
            "meta": self.parts.meta(PROFILE_PROVENANCE),
            "target": list(self._targets),
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


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a source file mapped on its own (the streaming map): the key naming it (in
    its Bundle and Provenance ids), the whole file's digest (:func:`sha256_uri`) and the row
    number in the file of each record of the part, in order."""

    key: str
    digest: str
    numbers: Sequence[int]


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
