"""The delivery worker: leases due items from the store and posts their Bundles, chunk by chunk.

For each item: the Bundle is cut into chunks (:mod:`adapter.delivery.split`); the chunks the
server accepted on an earlier attempt are skipped; each chunk is POSTed as a transaction, every
entry of the answer must be 2xx, the Patient update policy runs on it
(:mod:`adapter.delivery.patients`), and its acceptance is committed (renewing the lease) before
the next chunk goes.  A failure that may pass (:mod:`adapter.delivery.policy`) sends the item to
``failed`` with its next attempt after backoff; any other makes it a dead letter with the
server's answer as its last error.

Nothing is lost or duplicated, whatever stops the worker: an item stays ``pending`` or
``failed`` until its last chunk is committed, the lease of a killed worker runs out and the item
is leased again, and a chunk sent again changes nothing on the server (deterministic ids with
``PUT``, the Patient by conditional create).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from adapter.delivery.client import ERROR_TEXT, DeliveryFailed, FhirClient
from adapter.delivery.patients import update_found_patients
from adapter.delivery.policy import RetryPolicy, is_retried
from adapter.delivery.split import split_bundle
from adapter.fhir import Resource
from adapter.store import Claim, State, Store

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Tally:
    """What a worker did."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0
    chunks: int = 0


def check_entries(chunk: Resource, answer: Resource) -> None:
    """Every entry of a transaction-response must be 2xx (a server that processes entries one
    by one, as Medplum without strict transactions, reports a failed entry only there)."""
    got = answer.get("entry") or []
    if answer.get("type") not in ("transaction-response", "batch-response") or len(got) != len(
        chunk["entry"]
    ):
        raise DeliveryFailed(
            f"transaction: not a transaction-response for every entry: "
            f"{orjson.dumps(answer)[:ERROR_TEXT].decode('utf-8', 'replace')}",
            retry=True,
        )
    for sent, entry in zip(chunk["entry"], got, strict=True):
        response = entry.get("response") or {}
        code = str(response.get("status", "")).split(" ")[0]
        status = int(code) if code.isdigit() else 500
        if not 200 <= status < 300:
            request = sent["request"]
            outcome = orjson.dumps(response.get("outcome")).decode("utf-8", "replace")
            raise DeliveryFailed(
                f"{request['method']} {request['url']}: {response.get('status')}: "
                f"{outcome[:ERROR_TEXT]}",
                is_retried(status),
            )


class Worker:
    """Delivers the store's due items to one FHIR server."""

    def __init__(
        self,
        store: Store,
        client: FhirClient,
        policy: RetryPolicy,
        lease_seconds: float = 300.0,
        poll_seconds: float = 1.0,
        clock: Clock = _utcnow,
    ) -> None:
        self.store = store
        self.client = client
        self.policy = policy
        self.lease = lease_seconds
        self.poll = poll_seconds
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.tally = Tally()

    def deliver(self, claim: Claim) -> State:
        """Deliver one leased item; its new state (committed)."""
        max_entries = self.client.server.max_entries
        try:
            chunks = split_bundle(orjson.loads(claim.bundle), max_entries)
            start = claim.delivered_chunks if claim.chunk_size == max_entries else 0
            for index in range(start, len(chunks)):
                answer = self.client.transaction(chunks[index])
                check_entries(chunks[index], answer)
                update_found_patients(self.client, chunks[index], answer)
                self.tally.chunks += 1
                if index + 1 < len(chunks):  # the last one is committed as delivered
                    self.store.chunk_delivered(
                        claim.id, index, max_entries, self.clock() + timedelta(seconds=self.lease)
                    )
        except DeliveryFailed as exc:
            return self._failed(claim, exc)
        self.store.delivered(claim.id, self.clock())
        self.tally.delivered += 1
        return "delivered"

    def _failed(self, claim: Claim, exc: DeliveryFailed) -> State:
        failed_attempts = claim.attempts + 1
        if not exc.retry or self.policy.exhausted(failed_attempts):
            why = "" if not exc.retry else f" (gave up after {failed_attempts} attempts)"
            self.store.dead(claim.id, f"{exc}{why}")
            self.tally.dead += 1
            return "dead"
        wait = self.policy.delay(failed_attempts, exc.wait)
        self.store.retry_later(claim.id, str(exc), self.clock() + timedelta(seconds=wait))
        self.tally.failed += 1
        return "failed"

    def run_once(self) -> State | None:
        """Deliver the first due item, if any; its new state."""
        claim = self.store.claim(self.clock(), self.lease, self.owner)
        return None if claim is None else self.deliver(claim)

    def run(self, stop: threading.Event | None = None, until_idle: bool = False) -> Tally:
        """Deliver due items until ``stop`` is set or, with ``until_idle``, until no item is
        ``pending`` or ``failed`` any more (waiting for the backoff of failed ones)."""
        stop = stop or threading.Event()
        while not stop.is_set():
            if self.run_once() is not None:
                continue
            if until_idle and not self._waiting():
                break
            stop.wait(self.poll)
        return self.tally

    def _waiting(self) -> bool:
        counts: dict[Any, int] = dict(self.store.status().counts)
        return counts.get("pending", 0) + counts.get("failed", 0) > 0
