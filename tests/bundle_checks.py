"""Invariants every Bundle the mappers produce must hold (FHIR-Converter's rule-based checks).

Unique fullUrls and resource ids, every reference resolving inside the Bundle, and the Provenance
accounting for the source rows of every resource.
"""

from __future__ import annotations

from typing import Any

from adapter.fhir import references

__all__ = ["assert_bundle_invariants", "local_names", "provenance_rows", "references"]


def local_names(bundle: dict[str, Any]) -> set[str]:
    """The fullUrls and ``Type/id`` names of the resources in a Bundle."""
    names = {e["fullUrl"] for e in bundle["entry"]}
    names |= {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle["entry"]
        if "id" in e["resource"]
    }
    return names


def assert_bundle_invariants(
    bundle: dict[str, Any], elsewhere: frozenset[str] | set[str] = frozenset()
) -> None:
    """``elsewhere``: ``Type/id`` names of resources that other Bundles of the same run create."""
    full_urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(full_urls) == len(set(full_urls)), "duplicate fullUrl"
    ids = [e["resource"].get("id") for e in bundle["entry"] if "id" in e["resource"]]
    assert len(ids) == len(set(ids)), "duplicate resource id"
    known = set(full_urls) | local_names(bundle) | elsewhere
    for entry in bundle["entry"]:
        for ref in references(entry["resource"]):
            assert ref in known, f"{entry['fullUrl']} refers to {ref}, not in the Bundle"


def provenance_rows(bundle: dict[str, Any]) -> dict[str, list[int]]:
    """fullUrl -> source rows, from the Provenance of the Bundle."""
    provenances = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"
    ]
    assert len(provenances) <= 1
    if not provenances:
        return {}
    return {
        t["reference"]: [x["valuePositiveInt"] for x in t.get("extension", [])]
        for t in provenances[0]["target"]
    }
