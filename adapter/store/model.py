"""What the store holds and the one interface every store implements.

An *item* is one received source (a file POSTed to ``/ingest/{kind}``, one MLLP message): its
raw bytes, kind, site, received time and sha256, then its mapping result (counts, the
OperationOutcome, the transaction Bundle) and its delivery state:

- ``pending``: mapped, waiting for its first delivery attempt;
- ``failed``: an attempt failed for a reason that may pass (5xx, 429, timeout, connection);
  retried at ``next_attempt``;
- ``delivered``: every chunk of its Bundle was accepted by the FHIR server;
- ``dead``: a dead letter, not retried (a 4xx answer, or the attempts ran out); ``replay`` puts
  it back to ``pending``;
- ``rejected``: the mapping kept nothing to deliver (every record rejected), or the item could
  not be mapped at all; its issues say why;
- ``received``: stored raw, not mapped yet (only while :func:`adapter.intake.ingest` runs, or
  after a crash between its two commits; ``replay`` maps it again).

Each state change is one committed transaction, so an item's state survives a crash of the
process at any point (``adapter.store.sql``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

State = Literal["received", "pending", "failed", "delivered", "dead", "rejected"]
STATES: tuple[State, ...] = ("received", "pending", "failed", "delivered", "dead", "rejected")
#: states the delivery worker picks items from
DUE_STATES: tuple[State, ...] = ("pending", "failed")


@dataclass(frozen=True, slots=True)
class NewItem:
    """A received source, before it is stored."""

    kind: str
    site: str
    source_name: str
    raw: bytes
    sha256: str
    received: datetime


@dataclass(frozen=True, slots=True)
class Mapped:
    """The mapping result of an item: counts, its OperationOutcome (JSON bytes) and its
    transaction Bundle (JSON bytes; None when nothing is left to deliver)."""

    read: int
    mapped: int
    rejected: int
    outcome: bytes
    bundle: bytes | None


@dataclass(frozen=True, slots=True)
class ItemInfo:
    """An item as the store holds it (without its raw bytes and Bundle)."""

    id: int
    kind: str
    site: str
    source_name: str
    sha256: str
    received: datetime
    state: State
    read: int
    mapped: int
    rejected: int
    attempts: int
    last_error: str | None
    next_attempt: datetime | None
    delivered_chunks: int
    chunk_size: int


@dataclass(frozen=True, slots=True)
class Claim:
    """An item the worker leased for delivery: its Bundle and how far it got before."""

    id: int
    bundle: bytes
    attempts: int
    #: chunks already accepted by the server, under the chunk size ``chunk_size``
    delivered_chunks: int
    chunk_size: int


@dataclass(frozen=True, slots=True)
class Status:
    """Counts by state and the age of the oldest item waiting for delivery."""

    counts: dict[State, int]
    oldest_due: datetime | None


class Store(Protocol):
    """Items, their mapping results and their delivery state (SQLite or PostgreSQL)."""

    def add(self, item: NewItem) -> tuple[int, bool]:
        """Store a received item durably (committed on return); returns its id and whether it
        is new.  An item with the same kind, site and sha256 as one stored before is not
        stored again: the earlier id comes back with ``False``."""
        ...

    def record_mapping(self, item_id: int, mapped: Mapped, error: str | None = None) -> State:
        """Record the mapping result (or why the item could not be mapped) and make the item
        ``pending`` (``rejected`` when there is nothing to deliver); committed on return."""
        ...

    def raw(self, item_id: int) -> tuple[NewItem, Mapped | None]:
        """The item as received and its mapping result, if any (KeyError when unknown)."""
        ...

    def info(self, item_id: int) -> ItemInfo:
        """One item (KeyError when unknown)."""
        ...

    def items(self, state: State | None = None, limit: int = 100) -> list[ItemInfo]:
        """Items, oldest first, optionally in one state."""
        ...

    def claim(self, now: datetime, lease_seconds: float, owner: str) -> Claim | None:
        """Lease the due item received first (``pending``/``failed``, ``next_attempt`` passed,
        no live lease of another worker) for ``lease_seconds``, or None when none is due."""
        ...

    def chunk_delivered(
        self, item_id: int, chunk: int, chunk_size: int, lease_until: datetime
    ) -> None:
        """Chunk ``chunk`` (0-based, under ``chunk_size``) was accepted: the next attempt
        starts after it; the lease is renewed until ``lease_until``.  Committed on return."""
        ...

    def delivered(self, item_id: int, now: datetime) -> None: ...

    def retry_later(self, item_id: int, error: str, next_attempt: datetime) -> None:
        """An attempt failed but may pass later: ``failed``, one more attempt counted."""
        ...

    def dead(self, item_id: int, error: str) -> None:
        """A dead letter: not retried until replayed (one more attempt counted)."""
        ...

    def replay(self, item_id: int) -> State:
        """Put an item back to ``pending`` (attempts and chunk progress reset); an item never
        mapped stays ``received``, for the edge to map again.  Returns its new state."""
        ...

    def replay_dead(self) -> list[int]:
        """Replay every dead letter; their ids."""
        ...

    def bundles(self, after: int = 0, limit: int = 100) -> list[tuple[int, bytes]]:
        """The mapped Bundles (JSON bytes) of the items with an id above ``after``, whatever
        their delivery state, oldest first, at most ``limit``; items without one are left out.
        Page through all of them by passing the last id seen as ``after``."""
        ...

    def status(self) -> Status: ...

    def close(self) -> None: ...
