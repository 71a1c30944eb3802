"""The durable store of received items and their delivery state (layout.md: ``adapter/store/``);
CDS Hooks feedback has its own small store in :mod:`adapter.store.feedback`.

One interface (:class:`Store`, :mod:`adapter.store.model`), one schema
(:mod:`adapter.store.sql`), two databases: an embedded SQLite file by default, PostgreSQL when
several instances share the work.  :func:`open_store` picks one by URL:

- ``sqlite:///relative/store.db``, ``sqlite:////var/lib/ball-fhir/store.db`` (SQLAlchemy's
  form: three slashes then the path) or a plain file path: SQLite;
- ``postgresql://user@host/dbname`` (any libpq URL): PostgreSQL (needs ``psycopg``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from adapter.fhir import Resource
from adapter.issues import UsageError
from adapter.store.model import (
    STATES,
    Claim,
    ItemInfo,
    Mapped,
    NewItem,
    State,
    Status,
    Store,
)
from adapter.store.sql import POSTGRES, SQLITE, SqlStore

DEFAULT_URL = "sqlite:///ball-fhir-store.db"


def open_sqlite(path: Path) -> SqlStore:
    """The store in a SQLite file (created with its folder when absent)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # autocommit off: SqlStore commits each method's transaction itself
    conn = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    return SqlStore(_SqliteTransactions(conn), SQLITE)


class _SqliteTransactions:
    """A sqlite3 connection that opens each transaction with ``BEGIN IMMEDIATE`` (the write lock
    first: two processes claiming at once queue instead of failing to upgrade a read lock)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def cursor(self) -> sqlite3.Cursor:
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        return cur

    def commit(self) -> None:
        self._conn.execute("COMMIT")

    def rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()


def open_postgres(url: str) -> SqlStore:
    """The store in a PostgreSQL database (the schema is created when absent)."""
    try:
        import psycopg
    except ImportError:
        raise UsageError(
            f"store {url!r} needs the PostgreSQL driver: pip install 'ball-fhir[postgres]'"
        ) from None
    try:
        conn: Any = psycopg.connect(url)
    except psycopg.Error as exc:
        raise UsageError(f"cannot connect to the store {url!r}: {exc}") from None
    return SqlStore(conn, POSTGRES)


def sqlite_path(url: str) -> Path | None:
    """The SQLite file a store URL names (None for PostgreSQL)."""
    if url.startswith(("postgresql://", "postgres://")):
        return None
    if url.startswith("sqlite:"):
        if not url.startswith("sqlite:///"):
            raise UsageError(f"store URL {url!r}: write sqlite:///relative.db or sqlite:////abs.db")
        return Path(url.removeprefix("sqlite:///"))
    return Path(url)


def open_store(url: str = DEFAULT_URL) -> SqlStore:
    """The store a URL names (``sqlite:///PATH``, a file path, or ``postgresql://...``)."""
    path = sqlite_path(url)
    return open_postgres(url) if path is None else open_sqlite(path)


def stored_bundles(store: Store, page: int = 100) -> Iterator[Resource]:
    """Every mapped Bundle in the store, oldest item first, read ``page`` items at a time."""
    after = 0
    while rows := store.bundles(after, page):
        for _, raw in rows:
            yield orjson.loads(raw)
        after = rows[-1][0]


__all__ = [
    "DEFAULT_URL",
    "STATES",
    "Claim",
    "ItemInfo",
    "Mapped",
    "NewItem",
    "SqlStore",
    "State",
    "Status",
    "Store",
    "open_store",
    "sqlite_path",
    "stored_bundles",
]
