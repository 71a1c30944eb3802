"""Delivery of the main job's transaction Bundles to a real FHIR server (the loopback Medplum
MemoryRepository of ``fhir_server.cjs``), twice.

The jobs of ``examples/manifest.yaml`` are mapped in order (``map_job``, context Bundles
included) and every Bundle is POSTed to the server base.  Checked: every entry is accepted (2xx);
the urn:uuid references are rewritten to the server ids and every literal reference resolves on
the server (including those across Bundles); a patient's results are found by a search on the
Patient found by ``identifier=system|value``; one Patient per identifier across all Bundles (the
CSV lab and HL7 v2 examples share P001/P002 by design); and a second delivery of every Bundle
changes nothing: the same ids come back and each resource type has the same resources
(deterministic ids with PUT, Patient conditional create with ``ifNoneExist``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest

from adapter.cli.mainjob import load_manifest, map_job
from adapter.fhir import Resource
from tests.bundle_checks import references
from tests.conftest import ROOT

pytestmark = pytest.mark.npm

MANIFEST = ROOT / "examples" / "manifest.yaml"
#: bound on every search: a page larger than the whole example data set
PAGE = 1000

Identifier = tuple[str, str]


@dataclass
class Delivery:
    """What the server answered, per job, to the first and second POST of every Bundle, and what
    it held after each pass."""

    bundles: dict[str, Resource]
    first: dict[str, Resource]
    second: dict[str, Resource]
    stored_first: dict[str, dict[str, Resource]]
    stored_second: dict[str, dict[str, Resource]]
    #: Patient id on the server per identifier, found by search after the first pass
    patients: dict[Identifier, list[str]]
    #: Observation ids per Patient id, found by ``Observation?subject=Patient/<id>``
    observations: dict[str, set[str]]


def _post_bundle(client: httpx.Client, bundle: Resource) -> Resource:
    answer = client.post(
        "/", content=json.dumps(bundle), headers={"content-type": "application/fhir+json"}
    )
    body: Resource = answer.json()
    assert answer.status_code == 200, f"HTTP {answer.status_code}: {json.dumps(body)[:2000]}"
    return body


def _search(client: httpx.Client, resource_type: str, **params: str) -> list[Resource]:
    answer = client.get(f"/{resource_type}", params={**params, "_count": str(PAGE)})
    assert answer.status_code == 200, answer.text[:2000]
    bundle = answer.json()
    assert bundle["type"] == "searchset"
    assert bundle.get("total", 0) < PAGE, f"{resource_type}: more than one page"
    return [e["resource"] for e in bundle.get("entry", [])]


def _stored(client: httpx.Client, types: set[str]) -> dict[str, dict[str, Resource]]:
    """Every resource on the server of the given types, by type and id."""
    return {t: {r["id"]: r for r in _search(client, t)} for t in sorted(types)}


def _identifiers(bundle: Resource) -> dict[str, Identifier]:
    """Patient fullUrl -> (system, value) of its first identifier, within one Bundle."""
    found: dict[str, Identifier] = {}
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            first = entry["resource"]["identifier"][0]
            found[entry["fullUrl"]] = (first["system"], first["value"])
    return found


@pytest.fixture(scope="module")
def delivery(fhir_server: str, tmp_path_factory: pytest.TempPathFactory) -> Delivery:
    out = tmp_path_factory.mktemp("mainjob")
    bundles = {job.name: map_job(job, out).bundle for job in load_manifest(MANIFEST)}
    types = {e["resource"]["resourceType"] for b in bundles.values() for e in b["entry"]}
    identifiers = {i for b in bundles.values() for i in _identifiers(b).values()}
    with httpx.Client(base_url=fhir_server, timeout=60.0) as client:
        first = {name: _post_bundle(client, b) for name, b in bundles.items()}
        stored_first = _stored(client, types)
        patients = {
            (system, value): [
                p["id"] for p in _search(client, "Patient", identifier=f"{system}|{value}")
            ]
            for system, value in sorted(identifiers)
        }
        observations = {
            pid: {o["id"] for o in _search(client, "Observation", subject=f"Patient/{pid}")}
            for ids in patients.values()
            for pid in ids
        }
        second = {name: _post_bundle(client, b) for name, b in bundles.items()}
        stored_second = _stored(client, types)
    return Delivery(bundles, first, second, stored_first, stored_second, patients, observations)


def _status(entry: Resource) -> int:
    return int(str(entry["response"]["status"]).split()[0])


def _rejected(bundles: dict[str, Resource], answers: dict[str, Resource]) -> list[str]:
    problems = []
    for name, bundle in bundles.items():
        answer = answers[name]
        if answer.get("type") != "transaction-response" or len(answer["entry"]) != len(
            bundle["entry"]
        ):
            problems.append(f"{name}: not a transaction-response for every entry: {answer}")
            continue
        for i, (sent, got) in enumerate(zip(bundle["entry"], answer["entry"], strict=True)):
            if not 200 <= _status(got) < 300:
                request = sent["request"]
                problems.append(
                    f"{name} entry[{i}] {request['method']} {request['url']}: "
                    f"{got['response']['status']} {json.dumps(got['response'].get('outcome'))}"
                )
    return problems


def test_every_entry_is_accepted(delivery: Delivery) -> None:
    assert _rejected(delivery.bundles, delivery.first) == []


def test_put_keeps_the_deterministic_ids(delivery: Delivery) -> None:
    for name, bundle in delivery.bundles.items():
        for sent, got in zip(bundle["entry"], delivery.first[name]["entry"], strict=True):
            if sent["request"]["method"] == "PUT":
                assert got["response"]["location"] == sent["request"]["url"], name


def test_one_patient_per_identifier_across_bundles(delivery: Delivery) -> None:
    assert {i: len(ids) for i, ids in delivery.patients.items()} == dict.fromkeys(
        delivery.patients, 1
    )
    assert len(delivery.stored_first["Patient"]) == len(delivery.patients)
    # P001 and P002 come from the CSV lab and the HL7 v2 example: the same Patient for both.
    shared = set(_identifiers(delivery.bundles["lab-default"]).values()) & set(
        _identifiers(delivery.bundles["hl7v2-default"]).values()
    )
    assert {value for _, value in shared} >= {"P001", "P002"}
    for name in ("lab-default", "hl7v2-default"):
        by_url = _identifiers(delivery.bundles[name])
        for sent, got in zip(
            delivery.bundles[name]["entry"], delivery.first[name]["entry"], strict=True
        ):
            identifier = by_url.get(sent["fullUrl"])
            if identifier in shared:
                assert got["response"]["location"] == f"Patient/{delivery.patients[identifier][0]}"


def test_a_patients_results_are_found_by_subject(delivery: Delivery) -> None:
    """``Observation?subject=Patient/<id>`` finds exactly the Observations the Bundles made for
    the patient with that identifier (their urn:uuid subject rewritten to the server id)."""
    expected: dict[str, set[str]] = {}
    for bundle in delivery.bundles.values():
        by_url = _identifiers(bundle)
        for entry in bundle["entry"]:
            resource = entry["resource"]
            subject = resource.get("subject", {}).get("reference")
            if resource["resourceType"] == "Observation" and subject in by_url:
                pid = delivery.patients[by_url[subject]][0]
                expected.setdefault(pid, set()).add(resource["id"])
    assert expected, "no Observation with a Patient subject in the example Bundles"
    found = {pid: ids for pid, ids in delivery.observations.items() if ids}
    assert found == expected


def test_every_reference_resolves_on_the_server(delivery: Delivery) -> None:
    stored = delivery.stored_first
    dangling = []
    for resource_type, resources in stored.items():
        for rid, resource in resources.items():
            for reference in references(resource):
                target_type, _, target_id = reference.partition("/")
                if target_id not in stored.get(target_type, {}):
                    dangling.append(f"{resource_type}/{rid} -> {reference}")
    assert dangling == []


def test_second_delivery_is_accepted_with_the_same_ids(delivery: Delivery) -> None:
    assert _rejected(delivery.bundles, delivery.second) == []
    for name in delivery.bundles:
        first = [e["response"]["location"] for e in delivery.first[name]["entry"]]
        second = [e["response"]["location"] for e in delivery.second[name]["entry"]]
        assert second == first, name
    # Every Patient is matched by ifNoneExist: found (200), not created again (201).
    for name, bundle in delivery.bundles.items():
        for sent, got in zip(bundle["entry"], delivery.second[name]["entry"], strict=True):
            if sent["request"]["method"] == "POST":
                assert _status(got) == 200, f"{name}: {sent['request']}"


def test_second_delivery_duplicates_nothing(delivery: Delivery) -> None:
    counts_first = {t: len(r) for t, r in delivery.stored_first.items()}
    counts_second = {t: len(r) for t, r in delivery.stored_second.items()}
    assert counts_second == counts_first
    assert {t: set(r) for t, r in delivery.stored_second.items()} == {
        t: set(r) for t, r in delivery.stored_first.items()
    }
