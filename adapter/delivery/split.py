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

import re
from collections.abc import Iterator
from functools import cached_property
from typing import Any

import orjson

from adapter.fhir import Resource, deterministic_id

URN = "urn:uuid:"


_REFERENCE = re.compile(rb'"reference":"(urn:uuid:[^"]+)"')


def _references(resource: Resource) -> list[str]:
    """Every ``urn:uuid:`` reference inside a resource, in order (found in its JSON: orjson
    and a regular expression are many times faster than walking the dicts in Python)."""
    return [m.decode() for m in _REFERENCE.findall(orjson.dumps(resource))]


def literal_json(bundle: Resource) -> Iterator[tuple[str, str, bytes]]:
    """The resources of a Bundle as they stand alone (NDJSON, Bulk Data layout): type, id and
    JSON of each, with the id of its fullUrl and every ``urn:uuid`` reference to an entry of
    the Bundle made literal (``Type/id``)."""
    literal = {
        e["fullUrl"].encode(): (
            f"{e['resource']['resourceType']}/{e['fullUrl'].removeprefix(URN)}".encode()
        )
        for e in bundle["entry"]
        if e["fullUrl"].startswith(URN)
    }

    def named(found: re.Match[bytes]) -> bytes:
        target = literal.get(found.group(1))
        return found.group(0) if target is None else b'"reference":"' + target + b'"'

    for entry in bundle["entry"]:
        resource = entry["resource"]
        rid = resource.get("id") or entry["fullUrl"].removeprefix(URN)
        if "id" not in resource:
            resource = {**resource, "id": rid}
        data = orjson.dumps(resource, option=orjson.OPT_APPEND_NEWLINE)
        yield resource["resourceType"], rid, _REFERENCE.sub(named, data)


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


class _Parts:
    """What cutting one Bundle needs to know: its entries (the source Provenance apart), their
    references, the conditional creates and the literal names of the resources put by id."""

    def __init__(self, bundle: Resource) -> None:
        entries: list[dict[str, Any]] = bundle["entry"]
        self.bundle = bundle
        self.provenances = [e for e in entries if _is_provenance_of_source(e)]
        kept = {id(e) for e in self.provenances}
        self.body = [e for e in entries if id(e) not in kept] if kept else entries
        #: each source Provenance's targets by reference
        self.targets = [
            {t["reference"]: t for t in p["resource"]["target"] if "reference" in t}
            for p in self.provenances
        ]

    @cached_property
    def conditional(self) -> dict[str, dict[str, Any]]:
        """The entries created conditionally (``ifNoneExist``), by fullUrl."""
        return {e["fullUrl"]: e for e in self.body if e.get("request", {}).get("ifNoneExist")}

    @cached_property
    def literal(self) -> dict[str, str]:
        """The literal name (``Type/id``) of each entry put by id, by fullUrl."""
        return {
            e["fullUrl"]: e["request"]["url"]
            for e in self.body
            if e.get("request", {}).get("method") == "PUT"
        }

    @cached_property
    def refs(self) -> dict[str, list[str]]:
        """The ``urn:uuid`` references of each entry, by fullUrl."""
        return {e["fullUrl"]: list(dict.fromkeys(_references(e["resource"]))) for e in self.body}

    def repeats(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The conditional creates ``entries`` refer to but do not hold."""
        inside = {e["fullUrl"] for e in entries}
        wanted = dict.fromkeys(
            t for e in entries for t in self.refs[e["fullUrl"]] if t in self.conditional
        )
        return [self.conditional[u] for u in wanted if u not in inside]

    def chunks(self, parts: list[list[dict[str, Any]]]) -> list[Resource]:
        return [self.complete(part, index) for index, part in enumerate(parts)]

    def complete(self, part: list[dict[str, Any]], index: int) -> Resource:
        """Chunk ``index`` of these entries, with the Patients they refer to repeated and their
        references to other chunks made literal."""
        part = self.repeats(part) + part
        inside = {e["fullUrl"] for e in part}
        entries = []
        for entry in part:
            outside = {
                r: self.literal[r]
                for r in self.refs[entry["fullUrl"]]
                if r not in inside and r in self.literal
            }
            entries.append(_rewrite(entry, outside) if outside else entry)
        return self.chunk(entries, index)

    def chunk(self, part: list[dict[str, Any]], index: int) -> Resource:
        """Chunk ``index``: these entries as they are and their Provenance."""
        entries = list(part)
        for provenance, target_of in zip(self.provenances, self.targets, strict=True):
            resource = provenance["resource"]
            pid = deterministic_id("Provenance", resource["id"], str(index))
            targets = [target_of[e["fullUrl"]] for e in part if e["fullUrl"] in target_of]
            entries.append(
                {
                    "fullUrl": URN + pid,
                    "resource": {**resource, "id": pid, "target": targets},
                    "request": {"method": "PUT", "url": f"Provenance/{pid}"},
                }
            )
        return {
            "resourceType": "Bundle",
            "id": deterministic_id("Bundle", self.bundle.get("id", ""), str(index)),
            "type": "transaction",
            "entry": entries,
        }


def split_bundle(bundle: Resource, max_entries: int) -> list[Resource]:
    """The chunks of a transaction Bundle under the split policy (the Bundle itself when it
    has at most ``max_entries`` entries or ``max_entries`` is 0)."""
    entries: list[dict[str, Any]] = bundle["entry"]
    if max_entries <= 0 or len(entries) <= max_entries:
        return [bundle]
    if max_entries < 3:
        raise ValueError("max_entries must be 0 (no limit) or at least 3")
    cut = _Parts(bundle)
    room = max_entries - len(cut.provenances)
    parts: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    members: set[str] = set()
    repeats: set[str] = set()  # conditional entries the current part refers to, not holds

    for entry in _ordered(cut.body, cut.refs):
        url = entry["fullUrl"]
        wanted = {t for t in cut.refs[url] if t in cut.conditional} - {url}
        extra = wanted - members - repeats
        grows = 0 if url in repeats else 1
        if current and len(current) + len(repeats) + grows + len(extra) > room:
            parts.append(current)
            current, members, repeats = [], set(), set()
            extra, grows = wanted, 1
        repeats.discard(url)
        repeats |= extra
        current.append(entry)
        members.add(url)
    if current:
        parts.append(current)
    return cut.chunks(parts)


def _owner(entry: dict[str, Any], patients: set[str]) -> str:
    """The fullUrl of the Patient an entry belongs to: itself, its ``subject`` or ``patient``,
    else the first Patient it refers to ("" when none)."""
    url: str = entry["fullUrl"]
    if url in patients:
        return url
    resource = entry["resource"]
    for key in ("subject", "patient"):
        value = resource.get(key)
        if isinstance(value, dict) and value.get("reference") in patients:
            return str(value["reference"])
    return next((t for t in _references(resource) if t in patients), "")


def patient_bundles(bundle: Resource) -> Iterator[bytes]:
    """The JSON of one transaction Bundle per Patient of ``bundle`` (its Patient, the resources
    about it, their Provenance), in the order the Patients come; resources about no Patient
    make one more.  A chunk that refers to a resource of another is completed under the split
    policy (the Patient repeated, references made literal)."""
    cut = _Parts(bundle)
    patients = {e["fullUrl"] for e in cut.body if e["resource"]["resourceType"] == "Patient"}
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in cut.body:
        groups.setdefault(_owner(entry, patients), []).append(entry)
    for index, part in enumerate(groups.values()):
        data = orjson.dumps(cut.chunk(part, index), option=orjson.OPT_APPEND_NEWLINE)
        inside = {e["fullUrl"].encode() for e in part}
        if not set(_REFERENCE.findall(data)) <= inside:
            data = orjson.dumps(cut.complete(part, index), option=orjson.OPT_APPEND_NEWLINE)
        yield data
