"""One patient's record gathered from many mapped Bundles (the item store's), for the course page.

Every item the adapter received keeps its mapped transaction Bundle (:mod:`adapter.store`); a
patient's course is spread over many of them (events, measurements, labs, HL7 v2 messages).
:func:`patient_record` walks those Bundles (oldest first) and keeps, per Bundle, the Patient the
caller asked for and what belongs to it:

- the Patient matches by its id, the uuid of its ``fullUrl`` (the mappers' deterministic id:
  a Patient sent as a conditional create carries no ``id``) or any identifier value;
- a resource belongs to it when one of its references points at that Patient, and so does every
  resource such a resource references in the same Bundle (a Specimen, a product), never another
  Patient; a mapped Bundle is self-contained (its references are its own ``urn:uuid`` entries);
- the same resource (same ``fullUrl``, else same type and id: ids are deterministic) from a later
  Bundle replaces the earlier one, so the latest version of each is kept.

The result is a collection Bundle that :func:`adapter.report.course.course_pages` reads like a
posted one; ``None`` when no Bundle holds the Patient.  Pure: Bundles in, a Bundle out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from adapter.fhir import Resource, references

UUID_PREFIX = "urn:uuid:"


def _key(entry: Resource) -> str | None:
    """How an entry is known across Bundles: its fullUrl, else ``Type/id``."""
    resource = entry.get("resource")
    if not isinstance(resource, dict):
        return None
    full = entry.get("fullUrl")
    if isinstance(full, str) and full:
        return full
    rid = resource.get("id")
    return f"{resource.get('resourceType')}/{rid}" if rid else None


def _names(entry: Resource) -> set[str]:
    """Every reference string that points at this entry's resource."""
    resource: Resource = entry["resource"]
    names = set()
    full = entry.get("fullUrl")
    if isinstance(full, str) and full:
        names.add(full)
    rid = resource.get("id") or _uuid_of(full)
    if rid:
        names.update({f"{resource.get('resourceType')}/{rid}", f"{UUID_PREFIX}{rid}"})
    return names


def _uuid_of(full: Any) -> str | None:
    if isinstance(full, str) and full.startswith(UUID_PREFIX):
        return full.removeprefix(UUID_PREFIX)
    return None


def is_patient(entry: Resource, patient: str) -> bool:
    """Whether the entry is the Patient known as ``patient`` (id, fullUrl uuid, identifier)."""
    resource = entry.get("resource")
    if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
        return False
    if patient in (resource.get("id"), _uuid_of(entry.get("fullUrl"))):
        return True
    return any(
        isinstance(i, dict) and i.get("value") == patient for i in resource.get("identifier") or []
    )


def _refs(entry: Resource) -> set[str]:
    return set(references(entry["resource"]))


def _of_patient(entries: list[tuple[str, Resource]], patient: str) -> list[tuple[str, Resource]]:
    """The entries of one Bundle that are the Patient or belong to it, in Bundle order."""
    chosen = {i for i, (_, e) in enumerate(entries) if is_patient(e, patient)}
    if not chosen:
        return []
    others = {
        i for i, (_, e) in enumerate(entries) if e["resource"].get("resourceType") != "Patient"
    }
    targets = set().union(*(_names(entries[i][1]) for i in chosen))
    more = {i for i in others if targets & _refs(entries[i][1])}
    while more:  # the patient's resources, then what they reference, transitively
        chosen |= more
        wanted = set().union(*(_refs(entries[i][1]) for i in more))
        more = {i for i in others - chosen if wanted & _names(entries[i][1])}
    return [entries[i] for i in sorted(chosen)]


def patient_record(bundles: Iterable[Resource], patient: str) -> Resource | None:
    """The Patient known as ``patient`` and its resources from ``bundles`` (oldest first), the
    latest version of each, as a collection Bundle; None when no Bundle holds that Patient."""
    kept: dict[str, Resource] = {}
    for bundle in bundles:
        entries = [
            (key, e)
            for e in bundle.get("entry") or []
            if isinstance(e, dict) and isinstance(e.get("resource"), dict) and (key := _key(e))
        ]
        for key, entry in _of_patient(entries, patient):
            kept.pop(key, None)  # a later version moves to the end
            kept[key] = _with_id(entry)
    if not any(e["resource"].get("resourceType") == "Patient" for e in kept.values()):
        return None
    return {"resourceType": "Bundle", "type": "collection", "entry": list(kept.values())}


def _with_id(entry: Resource) -> Resource:
    """The entry for a collection Bundle: no transaction ``request``; a resource sent as a
    conditional create gets the id of its ``urn:uuid`` fullUrl (the deterministic id)."""
    resource: Resource = entry["resource"]
    rid = _uuid_of(entry.get("fullUrl"))
    if "id" not in resource and rid:
        resource = {**resource, "id": rid}
    out: Resource = {"resource": resource}
    if "fullUrl" in entry:
        out["fullUrl"] = entry["fullUrl"]
    return out
