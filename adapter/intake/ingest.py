"""Ingest of one received item: store it raw (committed), map it, record the result (committed).

The raw bytes are durable before anything else happens, so a crash while mapping loses
nothing: the item stays ``received`` and ``ball-fhir replay ID`` maps it again.  An item whose
kind, site and sha256 are those of an item stored before is a duplicate: it is neither stored
nor mapped nor delivered again, and the earlier item is answered (mapped first if a crash
left it unmapped).

The mapping itself is the caller's (an :data:`ItemMapper`: the edge knows the source kinds and
site configurations); Provenance.recorded is the time the item was received.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from adapter.issues import Issue, to_operation_outcome
from adapter.mapping.bundle import MapResult
from adapter.store import Mapped, NewItem, State, Store

#: maps an item: (raw bytes, source name, Provenance.recorded) -> the mapping result
ItemMapper = Callable[[bytes, str, str], MapResult]


@dataclass(frozen=True, slots=True)
class Ingested:
    """What became of a received item: its id in the store, whether it was new (False: a
    duplicate of ``item_id``), its state and counts, and its OperationOutcome."""

    item_id: int
    new: bool
    state: State
    read: int
    mapped: int
    rejected: int
    outcome: dict[str, Any]

    @property
    def errors(self) -> list[str]:
        """The diagnostics of the error issues (the text of an MLLP ``AE``)."""
        return [
            str(i.get("diagnostics", ""))
            for i in self.outcome["issue"]
            if i.get("severity") in ("error", "fatal")
        ]


def recorded(when: datetime) -> str:
    """A FHIR instant (UTC, seconds) for Provenance.recorded."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ingest(
    store: Store,
    kind: str,
    site: str,
    source_name: str,
    raw: bytes,
    mapper: ItemMapper,
    received: datetime | None = None,
) -> Ingested:
    """Store ``raw`` (committed before mapping), map it and record the result."""
    item = NewItem(
        kind, site, source_name, raw, hashlib.sha256(raw).hexdigest(), received or datetime.now(UTC)
    )
    item_id, new = store.add(item)
    if not new and store.info(item_id).state != "received":
        return _earlier(store, item_id)
    # new, or stored by an earlier ingest that stopped before it was mapped (the sender, never
    # acknowledged, sends it again): map it now
    done = map_stored(store, item_id, mapper)
    return done if new else replace(done, new=False)


def _earlier(store: Store, item_id: int) -> Ingested:
    info = store.info(item_id)
    _, mapped = store.raw(item_id)
    outcome = (
        orjson.loads(mapped.outcome)
        if mapped is not None and mapped.outcome
        else to_operation_outcome([])
    )
    return Ingested(item_id, False, info.state, info.read, info.mapped, info.rejected, outcome)


def map_stored(store: Store, item_id: int, mapper: ItemMapper) -> Ingested:
    """Map a stored item and record the result: ``pending`` when there is something to
    deliver, ``rejected`` when every record was rejected or the mapper failed (its error kept
    as the item's last error and in its OperationOutcome)."""
    item, _ = store.raw(item_id)
    error: str | None = None
    try:
        result = mapper(item.raw, item.source_name, recorded(item.received))
    except Exception as exc:  # one item's failure must not stop the intake of the next
        error = f"{item.source_name}: not mapped: {exc or type(exc).__name__}"
        outcome = to_operation_outcome([Issue("error", "processing", error, "not-mapped")])
        mapped = Mapped(0, 0, 0, orjson.dumps(outcome), None)
    else:
        outcome = to_operation_outcome(result.issues)
        bundle = orjson.dumps(result.bundle) if result.bundle["entry"] else None
        mapped = Mapped(result.read, result.mapped, result.rejected, orjson.dumps(outcome), bundle)
    state = store.record_mapping(item_id, mapped, error)
    return Ingested(item_id, True, state, mapped.read, mapped.mapped, mapped.rejected, outcome)
