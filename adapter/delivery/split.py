"""Cutting a transaction Bundle into chunks a server accepts, each one complete on its own.

Why: servers bound transactions.  Medplum (our loopback server, and in production with its
default settings) rejects a transaction that has a conditional create (``ifNoneExist``) and more
than 8 entries ("Transaction requires strict isolation but has too many entries",
``maxSerializableTransactionEntries``); others bound the body size or the entry count.  A mapped
Bundle creates its Patient with ``ifNoneExist`` and may have a million entries.

The split policy (README, "Delivery"): a Bundle of at most ``max_entries`` entries is sent as it
is; a larger one becomes chunks of at most ``max_entries`` entries each, where

- entries are ordered so that a resource comes before (or with) the resources that refer to it
  (a stable topological order of the ``urn:uuid`` references; the Bundle's order otherwise);
- a reference to a resource *updated by id* (``PUT Type/id``) in another chunk becomes the
  literal ``Type/id`` (our ids are the server's ids);
- a resource created conditionally (the Patient, ``POST`` with ``ifNoneExist``) that a chunk
  refers to is repeated in that chunk: the server finds the one it created before
  (``ifNoneExist`` matches) and resolves the chunk's references to it;
- the Provenance of the source is cut with its targets: each chunk carries a Provenance whose
  targets are that chunk's resources (id: the Bundle Provenance's id and the chunk number, so
  re-sending the same chunks updates, never duplicates).

The same Bundle and ``max_entries`` give the same chunks, so a delivery interrupted after chunk
``k`` resumes at chunk ``k + 1`` (``adapter.store``: ``delivered_chunks``), and a chunk sent twice
changes nothing.  ``max_entries`` must leave room for the repeated Patients and the Provenance
(at least 3 for our Bundles: one resource, its Patient, the Provenance).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from adapter.fhir import Resource, deterministic_id

URN = "urn:uuid:"


def _references(value: Any) -> Iterator[str]:
    """Every ``urn:uuid:`` reference string inside a resource."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and item.startswith(URN):
                yield item
            else:
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _rewrite(value: Any, literal: dict[str, str]) -> Any:
    """A copy of ``value`` with the references in ``literal`` replaced (untouched parts shared)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and item in literal:
                out[key] = literal[item]
            else:
                out[key] = _rewrite(item, literal)
        return out
    if isinstance(value, list):
        return [_rewrite(item, literal) for item in value]
    return value


def _ordered(entries: list[dict[str, Any]], refs: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Entries with every referenced entry before the entries referring to it (stable; the
    Bundle's order where the references leave it free, and when they form a cycle)."""
    placed: set[str] = set()
    out: list[dict[str, Any]] = []
    by_url = {e["fullUrl"]: e for e in entries}
    visiting: set[str] = set()

    def place(entry: dict[str, Any]) -> None:
        url = entry["fullUrl"]
        if url in placed or url in visiting:
            return
        visiting.add(url)
        for target in refs[url]:
            if target in by_url:
                place(by_url[target])
        visiting.discard(url)
        placed.add(url)
        out.append(entry)

    for entry in entries:
        place(entry)
    return out


def _is_provenance_of_source(entry: dict[str, Any]) -> bool:
    resource = entry["resource"]
    return resource["resourceType"] == "Provenance" and bool(resource.get("target"))


def split_bundle(bundle: Resource, max_entries: int) -> list[Resource]:
    """The chunks of a transaction Bundle under the split policy (the Bundle itself when it
    has at most ``max_entries`` entries or ``max_entries`` is 0)."""
    entries: list[dict[str, Any]] = bundle["entry"]
    if max_entries <= 0 or len(entries) <= max_entries:
        return [bundle]
    if max_entries < 3:
        raise ValueError("max_entries must be 0 (no limit) or at least 3")
    provenances = [e for e in entries if _is_provenance_of_source(e)]
    body = [e for e in entries if not _is_provenance_of_source(e)]
    refs = {e["fullUrl"]: list(dict.fromkeys(_references(e["resource"]))) for e in body}
    conditional = {e["fullUrl"]: e for e in body if e.get("request", {}).get("ifNoneExist")}
    literal = {
        e["fullUrl"]: e["request"]["url"]
        for e in body
        if e.get("request", {}).get("method") == "PUT"
    }
    room = max_entries - len(provenances)
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    members: set[str] = set()
    repeats: dict[str, None] = {}  # conditional entries the chunk repeats, in order

    def needs(entry: dict[str, Any]) -> list[str]:
        wanted = [entry["fullUrl"]] if entry["fullUrl"] in conditional else []
        wanted += [t for t in refs[entry["fullUrl"]] if t in conditional]
        return [u for u in dict.fromkeys(wanted) if u not in members and u not in repeats]

    for entry in _ordered(body, refs):
        url = entry["fullUrl"]
        if url in repeats:  # already in this chunk as a repeat: now it is a member
            del repeats[url]
            members.add(url)
            current.append(entry)
            continue
        extra = [u for u in needs(entry) if u != url]
        if current and len(current) + len(repeats) + len(extra) + 1 > room:
            chunks.append([conditional[u] for u in repeats] + current)
            current, members, repeats = [], set(), {}
            extra = [u for u in needs(entry) if u != url]
        repeats.update(dict.fromkeys(extra))
        current.append(entry)
        members.add(url)
    if current or repeats:
        chunks.append([conditional[u] for u in repeats] + current)
    return [_chunk(bundle, part, provenances, literal, index) for index, part in enumerate(chunks)]


def _chunk(
    bundle: Resource,
    part: list[dict[str, Any]],
    provenances: list[dict[str, Any]],
    literal: dict[str, str],
    index: int,
) -> Resource:
    inside = {e["fullUrl"] for e in part}
    outside = {url: lit for url, lit in literal.items() if url not in inside}
    entries = [
        e if not any(r in outside for r in _references(e["resource"])) else _rewrite(e, outside)
        for e in part
    ]
    for provenance in provenances:
        resource = provenance["resource"]
        pid = deterministic_id("Provenance", resource["id"], str(index))
        targets = [t for t in resource["target"] if t.get("reference") in inside]
        entries.append(
            {
                "fullUrl": URN + pid,
                "resource": {**resource, "id": pid, "target": targets},
                "request": {"method": "PUT", "url": f"Provenance/{pid}"},
            }
        )
    return {
        "resourceType": "Bundle",
        "id": deterministic_id("Bundle", bundle.get("id", ""), str(index)),
        "type": "transaction",
        "entry": entries,
    }
