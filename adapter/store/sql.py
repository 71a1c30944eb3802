"""The store over SQL: one schema and one set of statements for SQLite and PostgreSQL.

Two tables (the same columns in both databases): ``items`` (one row per received item: raw
bytes, kind, site, received time, sha256, mapping result, delivery state, attempts, last error,
lease) and nothing else: a Bundle is delivered in chunks cut from it the same way each time
(:mod:`adapter.delivery.split`), so the item keeps only how many chunks were accepted and under
which chunk size.  Times are stored as UTC ISO 8601 text of fixed width (they sort as text).

Every method is one transaction, committed before it returns: an item added is durable before
the caller answers (HTTP 200, MLLP ``AA``).  SQLite runs in WAL mode with ``synchronous=FULL``;
PostgreSQL commits are durable by default.  Several workers may share one PostgreSQL database:
an item is leased (``lease_owner``, ``lease_until``) by the worker delivering it, and a worker
killed mid-delivery leaves a lease that simply runs out.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from adapter.store.model import (
    STATES,
    Claim,
    ItemInfo,
    Mapped,
    NewItem,
    State,
    Status,
)

_SELECT_INFO = (
    "SELECT id, kind, site, source_name, sha256, received, state, n_read, n_mapped, n_rejected, "
    "attempts, last_error, next_attempt, delivered_chunks, chunk_size FROM items "
)
#: an item the worker may take: due, and not leased by a live worker (parameters: now, now)
_DUE = (
    "state IN ('pending', 'failed') AND (next_attempt IS NULL OR next_attempt <= ?) "
    "AND (lease_until IS NULL OR lease_until <= ?)"
)


def claim_statement(d: Dialect) -> str:
    """Lease the first due item (parameters: owner, lease end, then now four times)."""
    candidate = f"SELECT id FROM items WHERE {_DUE} ORDER BY id LIMIT 1 {d.lock_candidate}"  # noqa: S608
    return (
        f"UPDATE items SET lease_owner = ?, lease_until = ? WHERE {_DUE} AND id = ({candidate})"  # noqa: S608
        " RETURNING id, bundle, attempts, delivered_chunks, chunk_size"
    )


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the databases: the parameter mark, the key and blob column types,
    and how the claim's candidate row is locked."""

    mark: str
    key: str
    blob: str
    lock_candidate: str


SQLITE = Dialect("?", "INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB", "")
POSTGRES = Dialect(
    "%s", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "BYTEA", "FOR UPDATE SKIP LOCKED"
)


def schema(d: Dialect) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS items (
            id {d.key},
            kind TEXT NOT NULL,
            site TEXT NOT NULL,
            source_name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            received TEXT NOT NULL,
            raw {d.blob} NOT NULL,
            state TEXT NOT NULL,
            n_read INTEGER NOT NULL DEFAULT 0,
            n_mapped INTEGER NOT NULL DEFAULT 0,
            n_rejected INTEGER NOT NULL DEFAULT 0,
            outcome {d.blob},
            bundle {d.blob},
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            next_attempt TEXT,
            delivered_chunks INTEGER NOT NULL DEFAULT 0,
            chunk_size INTEGER NOT NULL DEFAULT 0,
            delivered_at TEXT,
            lease_owner TEXT,
            lease_until TEXT,
            UNIQUE (kind, site, sha256)
        )""",
        "CREATE INDEX IF NOT EXISTS items_due ON items (state, next_attempt)",
    ]


def stamp(when: datetime) -> str:
    """A time as fixed-width UTC text (sorts as it compares)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def unstamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _maybe(text: str | None) -> datetime | None:
    return None if text is None else unstamp(text)


def _info(row: Sequence[Any]) -> ItemInfo:
    return ItemInfo(
        id=int(row[0]),
        kind=row[1],
        site=row[2],
        source_name=row[3],
        sha256=row[4],
        received=unstamp(row[5]),
        state=cast(State, row[6]),
        read=int(row[7]),
        mapped=int(row[8]),
        rejected=int(row[9]),
        attempts=int(row[10]),
        last_error=row[11],
        next_attempt=_maybe(row[12]),
        delivered_chunks=int(row[13]),
        chunk_size=int(row[14]),
    )


class SqlStore:
    """:class:`adapter.store.model.Store` over a DB-API connection (one, shared under a lock:
    the MLLP listener and the HTTP routes call it from threads)."""

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        self._conn = connection
        self._d = dialect
        self._claim = claim_statement(dialect)
        self._lock = threading.Lock()
        with self._tx() as cur:
            for statement in schema(dialect):
                cur.execute(statement)

    def _sql(self, text: str) -> str:
        return text.replace("?", self._d.mark)

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._lock:
            cur = self._conn.cursor()
            try:
                yield cur
            except BaseException:
                self._conn.rollback()
                raise
            else:
                self._conn.commit()
            finally:
                cur.close()

    def _run(self, cur: Any, text: str, *params: Any) -> Any:
        cur.execute(self._sql(text), params)
        return cur

    def add(self, item: NewItem) -> tuple[int, bool]:
        with self._tx() as cur:
            row = self._run(
                cur,
                "INSERT INTO items (kind, site, source_name, sha256, received, raw, state) "
                "VALUES (?, ?, ?, ?, ?, ?, 'received') "
                "ON CONFLICT (kind, site, sha256) DO NOTHING RETURNING id",
                item.kind,
                item.site,
                item.source_name,
                item.sha256,
                stamp(item.received),
                item.raw,
            ).fetchone()
            if row is not None:
                return int(row[0]), True
            found = self._run(
                cur,
                "SELECT id FROM items WHERE kind = ? AND site = ? AND sha256 = ?",
                item.kind,
                item.site,
                item.sha256,
            ).fetchone()
            return int(found[0]), False

    def record_mapping(self, item_id: int, mapped: Mapped, error: str | None = None) -> State:
        state: State = "pending" if mapped.bundle is not None and error is None else "rejected"
        with self._tx() as cur:
            self._run(
                cur,
                "UPDATE items SET state = ?, n_read = ?, n_mapped = ?, n_rejected = ?, "
                "outcome = ?, bundle = ?, last_error = ?, attempts = 0, next_attempt = NULL, "
                "delivered_chunks = 0, chunk_size = 0 WHERE id = ?",
                state,
                mapped.read,
                mapped.mapped,
                mapped.rejected,
                mapped.outcome,
                mapped.bundle,
                error,
                item_id,
            )
        return state

    def raw(self, item_id: int) -> tuple[NewItem, Mapped | None]:
        with self._tx() as cur:
            row = self._run(
                cur,
                "SELECT kind, site, source_name, raw, sha256, received, state, n_read, "
                "n_mapped, n_rejected, outcome, bundle FROM items WHERE id = ?",
                item_id,
            ).fetchone()
        if row is None:
            raise KeyError(item_id)
        item = NewItem(row[0], row[1], row[2], bytes(row[3]), row[4], unstamp(row[5]))
        if row[6] == "received":
            return item, None
        bundle = None if row[11] is None else bytes(row[11])
        return item, Mapped(row[7], row[8], row[9], bytes(row[10] or b""), bundle)

    def info(self, item_id: int) -> ItemInfo:
        with self._tx() as cur:
            row = self._run(
                cur,
                _SELECT_INFO + "WHERE id = ?",
                item_id,
            ).fetchone()
        if row is None:
            raise KeyError(item_id)
        return _info(row)

    def items(self, state: State | None = None, limit: int = 100) -> list[ItemInfo]:
        with self._tx() as cur:
            if state is None:
                rows = self._run(cur, _SELECT_INFO + "ORDER BY id LIMIT ?", limit).fetchall()
            else:
                rows = self._run(
                    cur, _SELECT_INFO + "WHERE state = ? ORDER BY id LIMIT ?", state, limit
                ).fetchall()
        return [_info(r) for r in rows]

    def claim(self, now: datetime, lease_seconds: float, owner: str) -> Claim | None:
        at = stamp(now)
        until = stamp(datetime.fromtimestamp(now.timestamp() + lease_seconds, UTC))
        with self._tx() as cur:
            row = self._run(
                cur,
                self._claim,
                owner,
                until,
                at,
                at,
                at,
                at,
            ).fetchone()
        if row is None:
            return None
        return Claim(int(row[0]), bytes(row[1]), int(row[2]), int(row[3]), int(row[4]))

    def chunk_delivered(
        self, item_id: int, chunk: int, chunk_size: int, lease_until: datetime
    ) -> None:
        with self._tx() as cur:
            self._run(
                cur,
                "UPDATE items SET delivered_chunks = ?, chunk_size = ?, lease_until = ? "
                "WHERE id = ?",
                chunk + 1,
                chunk_size,
                stamp(lease_until),
                item_id,
            )

    def _end_attempt(
        self,
        item_id: int,
        state: State,
        error: str | None,
        next_attempt: datetime | None = None,
        delivered_at: datetime | None = None,
    ) -> None:
        """One attempt more, its outcome, and the lease released."""
        with self._tx() as cur:
            self._run(
                cur,
                "UPDATE items SET state = ?, attempts = attempts + 1, last_error = ?, "
                "next_attempt = ?, delivered_at = COALESCE(?, delivered_at), "
                "lease_owner = NULL, lease_until = NULL WHERE id = ?",
                state,
                error,
                None if next_attempt is None else stamp(next_attempt),
                None if delivered_at is None else stamp(delivered_at),
                item_id,
            )

    def delivered(self, item_id: int, now: datetime) -> None:
        self._end_attempt(item_id, "delivered", None, delivered_at=now)

    def retry_later(self, item_id: int, error: str, next_attempt: datetime) -> None:
        self._end_attempt(item_id, "failed", error, next_attempt)

    def dead(self, item_id: int, error: str) -> None:
        self._end_attempt(item_id, "dead", error)

    def replay(self, item_id: int) -> State:
        with self._tx() as cur:
            row = self._run(cur, "SELECT state, bundle FROM items WHERE id = ?", item_id).fetchone()
            if row is None:
                raise KeyError(item_id)
            state: State = row[0]
            if state != "received":
                state = "pending" if row[1] is not None else "rejected"
            self._run(
                cur,
                "UPDATE items SET state = ?, attempts = 0, next_attempt = NULL, "
                "delivered_chunks = 0, chunk_size = 0, lease_owner = NULL, lease_until = NULL "
                "WHERE id = ?",
                state,
                item_id,
            )
        return state

    def replay_dead(self) -> list[int]:
        with self._tx() as cur:
            ids = [
                int(r[0])
                for r in self._run(
                    cur, "SELECT id FROM items WHERE state = 'dead' ORDER BY id"
                ).fetchall()
            ]
        for item_id in ids:
            self.replay(item_id)
        return ids

    def bundles(self, after: int = 0, limit: int = 100) -> list[tuple[int, bytes]]:
        with self._tx() as cur:
            rows = self._run(
                cur,
                "SELECT id, bundle FROM items WHERE id > ? AND bundle IS NOT NULL "
                "ORDER BY id LIMIT ?",
                after,
                limit,
            ).fetchall()
        return [(int(r[0]), bytes(r[1])) for r in rows]

    def status(self) -> Status:
        with self._tx() as cur:
            rows = self._run(cur, "SELECT state, COUNT(*) FROM items GROUP BY state").fetchall()
            oldest = self._run(
                cur, "SELECT MIN(received) FROM items WHERE state IN ('pending', 'failed')"
            ).fetchone()
        counts: dict[State, int] = dict.fromkeys(STATES, 0)
        for state, count in rows:
            counts[cast(State, state)] = int(count)
        return Status(counts, _maybe(oldest[0]) if oldest else None)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
