"""The split policy: chunks within the limit, each complete on its own (every urn:uuid
reference resolves inside the chunk), referenced resources first, nothing lost or repeated
except the conditionally created Patients, one Provenance per chunk."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from adapter.cli.delivery import item_mapper
from adapter.delivery import split_bundle
from adapter.delivery.split import URN
from adapter.fhir import Resource
from tests.bundle_checks import references
from tests.conftest import ROOT

RECORDED = "2024-06-01T12:00:00Z"


def mapped(kind: str, path: str) -> Resource:
    data = (ROOT / "examples" / path).read_bytes()
    return item_mapper(kind, "default")(data, path, RECORDED).bundle


@pytest.fixture(scope="module")
def lab() -> Resource:
    return mapped("lab", "lab/lab-results.csv")


EXAMPLES = [
    ("lab", "lab/lab-results.csv"),
    ("hl7v2", "hl7v2/lab-results.hl7"),
    ("cytogenetics", "cytogenetics/cytogenetics.csv"),
    ("events", "events/events.csv"),
]


def _urls(chunk: Resource) -> list[str]:
    return [e["fullUrl"] for e in chunk["entry"]]


def _urn_references(value: Any) -> list[str]:
    return [r for r in references(value) if r.startswith(URN)]


@pytest.mark.parametrize("limit", [3, 4, 8, 20])
@pytest.mark.parametrize(("kind", "path"), EXAMPLES)
def test_chunks_are_within_the_limit_and_complete(kind: str, path: str, limit: int) -> None:
    bundle = mapped(kind, path)
    chunks = split_bundle(bundle, limit)
    assert len(chunks) > 1 or len(bundle["entry"]) <= limit
    for chunk in chunks:
        assert chunk["type"] == "transaction"
        assert len(chunk["entry"]) <= limit
        inside = set(_urls(chunk))
        for entry in chunk["entry"]:
            assert set(_urn_references(entry["resource"])) <= inside, entry["fullUrl"]


@pytest.mark.parametrize("limit", [3, 8])
def test_every_resource_once_patients_repeated(lab: Resource, limit: int) -> None:
    chunks = split_bundle(lab, limit)
    sent = Counter(u for c in chunks for u in _urls(c))
    original = [e for e in lab["entry"] if e["resource"]["resourceType"] != "Provenance"]
    for entry in original:
        if entry["resource"]["resourceType"] == "Patient":
            assert sent[entry["fullUrl"]] >= 1
        else:
            assert sent[entry["fullUrl"]] == 1, entry["fullUrl"]
    provenances = [
        e for c in chunks for e in c["entry"] if e["resource"]["resourceType"] == "Provenance"
    ]
    assert len(provenances) == len(chunks)
    assert len({p["resource"]["id"] for p in provenances}) == len(chunks)
    targets = Counter(t["reference"] for p in provenances for t in p["resource"]["target"])
    [original_provenance] = [
        e for e in lab["entry"] if e["resource"]["resourceType"] == "Provenance"
    ]
    assert set(targets) == {t["reference"] for t in original_provenance["resource"]["target"]}


def test_references_to_other_chunks_are_literal_and_come_first(lab: Resource) -> None:
    chunks = split_bundle(lab, 4)
    request_url = {
        e["fullUrl"]: e["request"]["url"]
        for e in lab["entry"]
        if e["resource"]["resourceType"] != "Provenance"
    }
    sent_before: set[str] = set()
    literal_seen = 0
    for chunk in chunks:
        here = {e["request"]["url"] for e in chunk["entry"]}
        for entry in chunk["entry"]:
            if entry["resource"]["resourceType"] == "Provenance":
                continue
            for reference in references(entry["resource"]):
                if not reference.startswith(URN):
                    literal_seen += 1
                    assert reference in sent_before | here, reference
        sent_before |= here
    assert literal_seen > 0
    assert all(url in sent_before for url in request_url.values() if url != "Patient")


def test_small_bundles_and_no_limit_are_sent_as_they_are(lab: Resource) -> None:
    assert split_bundle(lab, 0) == [lab]
    assert split_bundle(lab, len(lab["entry"])) == [lab]


def test_the_same_bundle_splits_the_same_way(lab: Resource) -> None:
    assert split_bundle(lab, 5) == split_bundle(lab, 5)


def test_a_limit_below_three_is_refused(lab: Resource) -> None:
    with pytest.raises(ValueError, match="at least 3"):
        split_bundle(lab, 2)
