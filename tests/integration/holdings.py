"""What a FHIR server holds, found by searches, against what the stored items should put there."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import orjson
import requests

from adapter.delivery import split_bundle
from adapter.fhir import Resource
from adapter.store import Store

PAGE = 1000


def search(base: str, resource_type: str, **params: str) -> list[Resource]:
    answer = requests.get(
        f"{base}/{resource_type}", params={**params, "_count": str(PAGE)}, timeout=30
    )
    assert answer.status_code == 200, answer.text[:2000]
    bundle = answer.json()
    entries = bundle.get("entry", [])
    assert len(entries) < PAGE, f"{resource_type}: more than one page"
    return [e["resource"] for e in entries]


@dataclass
class Expected:
    """Resources every delivered item should put on the server: ids by type (PUT by id, the
    Provenance of each chunk included) and the Patients' identifiers (conditional create)."""

    ids: dict[str, set[str]]
    patients: set[tuple[str, str]]
    #: Observation ids per Patient identifier
    observations: dict[tuple[str, str], set[str]]


def expected(store: Store, item_ids: list[int], max_entries: int) -> Expected:
    ids: dict[str, set[str]] = {}
    patients: set[tuple[str, str]] = set()
    observations: dict[tuple[str, str], set[str]] = {}
    for item_id in item_ids:
        _, mapped = store.raw(item_id)
        assert mapped is not None
        assert mapped.bundle is not None
        bundle = orjson.loads(mapped.bundle)
        identifiers = {}
        for entry in bundle["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "Patient":
                first = resource["identifier"][0]
                identifiers[entry["fullUrl"]] = (first["system"], first["value"])
                patients.add(identifiers[entry["fullUrl"]])
        for entry in bundle["entry"]:
            resource = entry["resource"]
            subject = resource.get("subject", {}).get("reference")
            if resource["resourceType"] == "Observation" and subject in identifiers:
                observations.setdefault(identifiers[subject], set()).add(resource["id"])
        for chunk in split_bundle(bundle, max_entries):
            for entry in chunk["entry"]:
                if entry["request"]["method"] == "PUT":
                    rtype, _, rid = entry["request"]["url"].partition("/")
                    ids.setdefault(rtype, set()).add(rid)
    return Expected(ids, patients, observations)


def assert_exactly_once(base: str, want: Expected) -> None:
    """Every expected resource is on the server once and nothing else is: one Patient per
    identifier, each type's ids exactly the expected ones, a patient's Observations found by
    a search on the Patient."""
    for system, value in sorted(want.patients):
        found = search(base, "Patient", identifier=f"{system}|{value}")
        assert len(found) == 1, f"Patient {value}: {len(found)} on the server"
        pid = found[0]["id"]
        observations = {o["id"] for o in search(base, "Observation", subject=f"Patient/{pid}")}
        assert observations == want.observations.get((system, value), set()), value
    assert len(search(base, "Patient")) == len(want.patients)
    for rtype, ids in want.ids.items():
        held = [r["id"] for r in search(base, rtype)]
        doubles = [rid for rid, n in Counter(held).items() if n > 1]
        assert doubles == [], f"{rtype}: held twice: {doubles}"
        assert set(held) == ids, f"{rtype}: missing {ids - set(held)}, extra {set(held) - ids}"
