"""The store's contract, the same for SQLite and PostgreSQL: items stored once per hash,
mapping results, leases, retries, dead letters, replay, status, and durability across a reopen."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from adapter.issues import UsageError
from adapter.store import Mapped, NewItem, SqlStore, open_store

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def new_item(raw: bytes = b"MSH|1", kind: str = "hl7v2", received: datetime = T0) -> NewItem:
    import hashlib

    return NewItem(kind, "default", "m.hl7", raw, hashlib.sha256(raw).hexdigest(), received)


def pending(store: SqlStore, raw: bytes = b"MSH|1", bundle: bytes = b'{"entry":[1]}') -> int:
    item_id, new = store.add(new_item(raw))
    assert new
    assert store.record_mapping(item_id, Mapped(2, 1, 1, b'{"issue":[]}', bundle)) == "pending"
    return item_id


def test_an_item_is_stored_once_per_kind_site_and_hash(store: SqlStore) -> None:
    first, new = store.add(new_item(b"one"))
    assert new
    again, new_again = store.add(new_item(b"one"))
    assert (again, new_again) == (first, False)
    other, _ = store.add(new_item(b"two"))
    same_bytes_other_kind, new_other = store.add(new_item(b"one", kind="lab"))
    assert len({first, other, same_bytes_other_kind}) == 3
    assert new_other
    assert store.info(first).state == "received"
    item, mapped = store.raw(first)
    assert (item.raw, item.received, mapped) == (b"one", T0, None)


def test_mapping_result_and_state(store: SqlStore) -> None:
    item_id = pending(store)
    info = store.info(item_id)
    assert (info.state, info.read, info.mapped, info.rejected) == ("pending", 2, 1, 1)
    _, mapped = store.raw(item_id)
    assert mapped == Mapped(2, 1, 1, b'{"issue":[]}', b'{"entry":[1]}')
    nothing, _ = store.add(new_item(b"all rejected"))
    assert store.record_mapping(nothing, Mapped(1, 0, 1, b"{}", None)) == "rejected"
    failed, _ = store.add(new_item(b"mapper failed"))
    assert store.record_mapping(failed, Mapped(0, 0, 0, b"{}", None), "boom") == "rejected"
    assert store.info(failed).last_error == "boom"


def test_claim_leases_the_oldest_due_item(store: SqlStore) -> None:
    a, b = pending(store, b"a"), pending(store, b"b")
    first = store.claim(T0, 60, "w1")
    second = store.claim(T0, 60, "w2")
    assert first is not None
    assert second is not None
    assert (first.id, second.id) == (a, b)
    assert first.bundle == b'{"entry":[1]}'
    assert store.claim(T0, 60, "w3") is None  # both leased
    later = store.claim(T0 + timedelta(seconds=61), 60, "w3")  # w1's lease ran out
    assert later is not None
    assert later.id == a


def test_retry_later_then_delivered(store: SqlStore) -> None:
    item_id = pending(store)
    claim = store.claim(T0, 60, "w")
    assert claim is not None
    assert claim.attempts == 0
    store.retry_later(item_id, "HTTP 503", T0 + timedelta(seconds=10))
    info = store.info(item_id)
    assert (info.state, info.attempts, info.last_error) == ("failed", 1, "HTTP 503")
    assert store.claim(T0 + timedelta(seconds=5), 60, "w") is None  # not due yet
    again = store.claim(T0 + timedelta(seconds=10), 60, "w")
    assert again is not None
    assert again.attempts == 1
    store.chunk_delivered(item_id, 0, 8, T0 + timedelta(seconds=70))
    store.chunk_delivered(item_id, 1, 8, T0 + timedelta(seconds=70))
    info = store.info(item_id)
    assert (info.delivered_chunks, info.chunk_size) == (2, 8)
    store.delivered(item_id, T0 + timedelta(seconds=11))
    info = store.info(item_id)
    assert (info.state, info.attempts, info.last_error) == ("delivered", 2, None)
    assert store.claim(T0 + timedelta(days=1), 60, "w") is None


def test_a_claim_resumes_after_the_delivered_chunks(store: SqlStore) -> None:
    item_id = pending(store)
    assert store.claim(T0, 1, "killed") is not None
    store.chunk_delivered(item_id, 2, 8, T0 + timedelta(seconds=1))
    resumed = store.claim(T0 + timedelta(seconds=2), 60, "next")
    assert resumed is not None
    assert (resumed.delivered_chunks, resumed.chunk_size) == (3, 8)


def test_dead_letters_and_replay(store: SqlStore) -> None:
    a, b = pending(store, b"a"), pending(store, b"b")
    store.claim(T0, 60, "w")
    store.chunk_delivered(a, 0, 8, T0)
    store.dead(a, "HTTP 400: OperationOutcome")
    assert store.info(a).state == "dead"
    assert [i.id for i in store.items("dead")] == [a]
    assert store.replay_dead() == [a]
    info = store.info(a)
    assert (info.state, info.attempts, info.delivered_chunks) == ("pending", 0, 0)
    assert store.replay(b) == "pending"
    with pytest.raises(KeyError):
        store.replay(999)
    unmapped, _ = store.add(new_item(b"never mapped"))
    assert store.replay(unmapped) == "received"


def test_status_counts_and_oldest_waiting(store: SqlStore) -> None:
    assert store.status().oldest_due is None
    store.add(new_item(b"x", received=T0 - timedelta(hours=1)))  # received only: not waiting
    a = pending(store, b"a")
    pending(store, b"b")
    store.dead(a, "no")
    status = store.status()
    assert status.counts["received"] == 1
    assert status.counts["pending"] == 1
    assert status.counts["dead"] == 1
    assert status.oldest_due == T0


def test_items_survive_closing_and_reopening(store_url: str) -> None:
    first = open_store(store_url)
    item_id = pending(first, b"durable")
    first.close()
    second = open_store(store_url)
    try:
        assert second.info(item_id).state == "pending"
        assert second.raw(item_id)[0].raw == b"durable"
    finally:
        second.close()


def test_concurrent_claims_never_lease_one_item_twice(store_url: str) -> None:
    setup = open_store(store_url)
    ids = [pending(setup, f"item {n}".encode()) for n in range(20)]
    setup.close()
    claimed: list[int] = []
    lock = threading.Lock()

    def claim_all(name: str) -> None:
        own = open_store(store_url)
        try:
            while (claim := own.claim(T0, 600, name)) is not None:
                with lock:
                    claimed.append(claim.id)
        finally:
            own.close()

    workers = [threading.Thread(target=claim_all, args=(f"w{n}",)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(claimed) == ids


def test_a_bad_store_url_is_a_usage_error(tmp_path) -> None:
    with pytest.raises(UsageError, match="sqlite:///"):
        open_store("sqlite:/x.db")


def test_bundles_pages_through_every_mapped_bundle_whatever_its_state(store: SqlStore) -> None:
    a = pending(store, b"a", b'{"a":1}')
    nothing, _ = store.add(new_item(b"all rejected"))
    store.record_mapping(nothing, Mapped(1, 0, 1, b"{}", None))
    store.add(new_item(b"not mapped yet"))
    b = pending(store, b"b", b'{"b":2}')
    c = pending(store, b"c", b'{"c":3}')
    store.delivered(b, T0)
    store.dead(c, "400")
    assert store.bundles() == [(a, b'{"a":1}'), (b, b'{"b":2}'), (c, b'{"c":3}')]
    assert store.bundles(limit=2) == [(a, b'{"a":1}'), (b, b'{"b":2}')]
    assert store.bundles(after=b) == [(c, b'{"c":3}')]
    assert store.bundles(after=c) == []
