"""CDS Hooks feedback, kept durably: the :class:`FeedbackStore` interface and its SQLite file.

Three tables: the cards we issued (uuid -> service and card type, so feedback can be counted per
card type), the feedback received (CDS Hooks 2.0 §Feedback: append-only; the same feedback
sent again is stored once) and the JWT ids seen until their tokens expire (2.0 §Trusting CDS
Clients: a replayed ``jti`` is refused by every worker process of the server, not only by the
one that saw it first).  Another implementation (PostgreSQL) only needs the four methods.
No tokens, no patient ids are stored.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class FeedbackItem:
    """One feedback entry: a card accepted (with the suggestions taken) or overridden."""

    card: str
    outcome: str
    outcome_timestamp: str
    accepted_suggestions: tuple[str, ...] = ()
    reason_system: str | None = None
    reason_code: str | None = None
    user_comment: str | None = None


@dataclass(frozen=True)
class SummaryRow:
    """How often cards of a type were accepted or overridden (with which reason)."""

    service: str
    card_type: str
    outcome: str
    reason: str | None
    count: int

    def to_json(self) -> dict[str, object]:
        return {
            "service": self.service,
            "cardType": self.card_type,
            "outcome": self.outcome,
            "reason": self.reason,
            "count": self.count,
        }


class FeedbackStore(Protocol):
    def record_cards(self, service: str, cards: Sequence[tuple[str, str]]) -> None:
        """Remember issued cards: (uuid, card type)."""

    def add_feedback(self, service: str, items: Sequence[FeedbackItem]) -> int:
        """Store feedback; returns how many entries were new."""

    def summary(self) -> list[SummaryRow]:
        """Counts per service, card type, outcome and override reason."""

    def first_use(self, issuer: str, jti: str, expires: float) -> bool:
        """True when this issuer's JWT id has not been seen before, or only on a token that
        has expired (``expires``: seconds since the epoch, leeway included)."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS cds_card (
    uuid TEXT PRIMARY KEY, service TEXT NOT NULL, card_type TEXT NOT NULL, first_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cds_feedback (
    service TEXT NOT NULL, card TEXT NOT NULL, outcome TEXT NOT NULL,
    outcome_timestamp TEXT NOT NULL, accepted_suggestions TEXT NOT NULL,
    reason_system TEXT, reason_code TEXT, user_comment TEXT, received REAL NOT NULL,
    UNIQUE (service, card, outcome, outcome_timestamp, accepted_suggestions)
);
CREATE TABLE IF NOT EXISTS cds_jti (
    issuer TEXT NOT NULL, jti TEXT NOT NULL, expires REAL NOT NULL, PRIMARY KEY (issuer, jti)
);
"""
#: seconds between purges of the JWT ids whose tokens have expired
JTI_PURGE_SECONDS = 60.0


class SqliteFeedbackStore:
    """:class:`FeedbackStore` in one SQLite file (WAL; one connection, serialised by a lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._next_purge = 0.0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record_cards(self, service: str, cards: Sequence[tuple[str, str]]) -> None:
        if not cards:
            return
        now = time.time()
        with self._lock:
            self._db.executemany(
                "INSERT OR IGNORE INTO cds_card VALUES (?, ?, ?, ?)",
                [(uuid, service, card_type, now) for uuid, card_type in cards],
            )

    def add_feedback(self, service: str, items: Sequence[FeedbackItem]) -> int:
        now = time.time()
        rows = [
            (
                service,
                i.card,
                i.outcome,
                i.outcome_timestamp,
                ",".join(i.accepted_suggestions),
                i.reason_system,
                i.reason_code,
                i.user_comment,
                now,
            )
            for i in items
        ]
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR IGNORE INTO cds_feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
            self._db.execute("COMMIT")
            return self._db.total_changes - before

    def summary(self) -> list[SummaryRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT f.service, COALESCE(c.card_type, 'unknown'), f.outcome, f.reason_code, "
                "COUNT(*) FROM cds_feedback f LEFT JOIN cds_card c ON c.uuid = f.card "
                "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
            ).fetchall()
        return [SummaryRow(s, t, o, r, int(n)) for s, t, o, r, n in rows]

    def first_use(self, issuer: str, jti: str, expires: float) -> bool:
        now = time.time()
        with self._lock:
            if now >= self._next_purge:
                self._db.execute("DELETE FROM cds_jti WHERE expires < ?", (now,))
                self._next_purge = now + JTI_PURGE_SECONDS
            # a row of an expired token is taken over; a live one is a replay (no change)
            changed = self._db.execute(
                "INSERT INTO cds_jti VALUES (?, ?, ?) ON CONFLICT (issuer, jti) "
                "DO UPDATE SET expires = excluded.expires WHERE cds_jti.expires < ?",
                (issuer, jti, expires, now),
            ).rowcount
        return changed == 1
