"""Ingest of one item: raw stored first, duplicates answered by the earlier item, an item left
unmapped by a crash mapped when it comes again, a failing mapper recorded as a rejection."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapter.cli.delivery import item_mapper
from adapter.intake import ingest
from adapter.mapping.bundle import MapResult
from adapter.store import NewItem, SqlStore, open_store
from tests.intake.messages import oru

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = open_store(f"sqlite:///{tmp_path / 's.db'}")
    yield opened
    opened.close()


def test_new_then_duplicate(store: SqlStore) -> None:
    mapper = item_mapper("hl7v2", "default")
    first = ingest(store, "hl7v2", "default", "a", oru(1, "P1"), mapper, NOW)
    assert (first.new, first.state, first.read, first.mapped) == (True, "pending", 2, 2)
    again = ingest(store, "hl7v2", "default", "b", oru(1, "P1"), mapper)
    assert (again.item_id, again.new, again.state) == (first.item_id, False, "pending")
    assert again.outcome == first.outcome
    assert store.info(first.item_id).source_name == "a"


def test_an_item_left_unmapped_is_mapped_when_sent_again(store: SqlStore) -> None:
    raw = oru(2, "P2")
    item_id, _ = store.add(
        NewItem("hl7v2", "default", "a", raw, hashlib.sha256(raw).hexdigest(), NOW)
    )
    done = ingest(store, "hl7v2", "default", "a", raw, item_mapper("hl7v2", "default"))
    assert (done.item_id, done.new, done.state) == (item_id, False, "pending")
    assert store.info(item_id).state == "pending"


def test_a_failing_mapper_is_a_rejection_with_its_reason(store: SqlStore) -> None:
    def broken(data: bytes, name: str, recorded: str) -> MapResult:
        raise ValueError("no such table")

    done = ingest(store, "lab", "default", "x.csv", b"a,b\n", broken)
    assert done.state == "rejected"
    assert done.errors == ["x.csv: not mapped: no such table"]
    info = store.info(done.item_id)
    assert info.last_error == "x.csv: not mapped: no such table"
    assert store.raw(done.item_id)[0].raw == b"a,b\n"
