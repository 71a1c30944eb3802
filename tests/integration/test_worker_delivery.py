"""The delivery worker against a real FHIR server (the loopback Medplum of ``fhir_server.cjs``,
a fresh one per test), with faults injected by a loopback proxy (:mod:`.faults`).

Each test ingests items into a SQLite store, runs the worker, and then checks what the *server*
holds by searches (:mod:`.holdings`): every accepted item's resources once, one Patient per
identifier, a patient's Observations found through the Patient, nothing else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from adapter.cli.delivery import item_mapper
from adapter.delivery import FhirClient, RetryPolicy, ServerConfig, Worker
from adapter.intake import ingest
from adapter.store import SqlStore, open_store
from tests.conftest import ROOT
from tests.intake.messages import oru
from tests.integration.conftest import loopback_server
from tests.integration.faults import FaultProxy, free_port
from tests.integration.holdings import assert_exactly_once, expected, search

pytestmark = pytest.mark.npm

EXAMPLES = [
    ("lab", ROOT / "examples" / "lab" / "lab-results.csv"),
    ("hl7v2", ROOT / "examples" / "hl7v2" / "lab-results.hl7"),
    ("events", ROOT / "examples" / "events" / "events.csv"),
    ("cytogenetics", ROOT / "examples" / "cytogenetics" / "cytogenetics.csv"),
]
#: fast backoff for tests: the policy's shape, not its production pace
FAST = RetryPolicy(base=0.05, max_delay=0.3, max_attempts=30)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with loopback_server(tmp_path) as base:
        yield base


@pytest.fixture
def strict_server(tmp_path: Path) -> Iterator[str]:
    with loopback_server(tmp_path, "--strict-transactions") as base:
        yield base


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.close()


def ingest_examples(store: SqlStore) -> list[int]:
    ids = []
    for kind, path in EXAMPLES:
        done = ingest(
            store, kind, "default", path.name, path.read_bytes(), item_mapper(kind, "default")
        )
        assert done.state == "pending", (kind, done.outcome)
        ids.append(done.item_id)
    return ids


def worker(store: SqlStore, base: str, max_entries: int = 8, timeout: float = 5.0) -> Worker:
    client = FhirClient(ServerConfig(base_url=base, max_entries=max_entries, timeout=timeout))
    return Worker(store, client, FAST, lease_seconds=30, poll_seconds=0.05)


def test_every_item_once_on_a_server_with_strict_transactions(
    strict_server: str, store: SqlStore
) -> None:
    """Medplum's strict transactions refuse a conditional create in more than 8 entries: the
    split policy (8 entries) gets every item through; a second delivery of everything
    (replayed) changes nothing."""
    ids = ingest_examples(store)
    tally = worker(store, strict_server).run(until_idle=True)
    assert tally.delivered == len(ids)
    assert tally.chunks > len(ids)  # the examples needed splitting
    want = expected(store, ids, 8)
    assert_exactly_once(strict_server, want)
    for item_id in ids:
        assert store.replay(item_id) == "pending"
    worker(store, strict_server).run(until_idle=True)
    assert store.status().counts["delivered"] == len(ids)
    assert_exactly_once(strict_server, want)


def test_unsplit_bundles_fail_on_strict_transactions_as_dead_letters(
    strict_server: str, store: SqlStore
) -> None:
    """Without the split policy the server's 400 makes a dead letter with its OperationOutcome."""
    ids = ingest_examples(store)
    worker(store, strict_server, max_entries=0).run(until_idle=True)
    dead = store.items("dead")
    assert [i.id for i in dead] == ids
    assert all("HTTP 400" in (i.last_error or "") for i in dead)
    assert all("strict isolation" in (i.last_error or "") for i in dead)
    assert [i.attempts for i in dead] == [1] * len(ids)  # a 4xx is never retried


def test_faults_are_retried_and_nothing_is_duplicated(server: str, store: SqlStore) -> None:
    """Server down at the start, then 500, 503, 429 with Retry-After, a reset before and after
    the server did the work, a timeout after it did, 409 and 412: every item ends on the
    server exactly once."""
    ids = ingest_examples(store)
    port = free_port()
    work = worker(store, f"http://127.0.0.1:{port}", timeout=1.0)
    assert work.run_once() == "failed"  # nobody listens yet
    assert "ConnectionError" in (store.info(ids[0]).last_error or "")
    faults = ["500", "reset", "503", "reset-after", "429", "timeout", "409", "412", "reset-after"]
    with FaultProxy(server, port) as proxy:
        proxy.hold = 2.0
        proxy.faults.extend(faults)
        started = time.monotonic()
        work.run(until_idle=True)
        elapsed = time.monotonic() - started
    assert not proxy.faults, "every fault was met"
    assert store.status().counts["delivered"] == len(ids)
    assert sum(store.info(i).attempts for i in ids) == len(ids) + 1 + len(faults)
    assert elapsed >= proxy.retry_after  # the 429's Retry-After was waited for
    assert_exactly_once(server, expected(store, ids, 8))


def test_a_refused_chunk_is_a_dead_letter_until_replayed(server: str, store: SqlStore) -> None:
    ids = ingest_examples(store)
    with FaultProxy(server) as proxy:
        proxy.faults.append("400")
        worker(store, proxy.base).run(until_idle=True)
        first = store.info(ids[0])
        assert first.state == "dead"
        assert first.attempts == 1
        assert '"diagnostics": "400!"' in (first.last_error or "")
        assert [store.info(i).state for i in ids[1:]] == ["delivered"] * (len(ids) - 1)
        assert store.replay_dead() == [ids[0]]
        worker(store, proxy.base).run(until_idle=True)
    assert store.info(ids[0]).state == "delivered"
    assert_exactly_once(server, expected(store, ids, 8))


SYSTEM = "https://ball-fhir.org/fhir/sid/example-patient"
THEIRS = {
    "resourceType": "Patient",
    "identifier": [{"system": SYSTEM, "value": "P-0100"}],
    "name": [{"family": "Hospital", "given": ["Record"]}],
    "birthDate": "2014-12-31",
    "deceasedBoolean": False,
}
EVENTS = (
    b"patient_id,event,date,sites,marrow_blasts,immunophenotype,protocol,risk_group,"
    b"donor_type,sex,note\n"
    b"P-0100,birth,2015-01-01,,,,,,,female,\n"
    b"P-0100,diagnosis,2020-01-01,,,common B-ALL (BII),,,,,\n"
    b"P-0100,death,2025-01-05,,,,,,,,\n"
)


def _updated_patient(server: str, store: SqlStore, base: str) -> None:
    """Deliver the events of P-0100 (to ``base``) over the server's own Patient; check the
    policy's result on ``server``."""
    created = requests.post(f"{server}/Patient", json=THEIRS, timeout=10)
    assert created.status_code == 201, created.text
    mapper = item_mapper("events", "default")
    done = ingest(store, "events", "default", "events.csv", EVENTS, mapper)
    worker(store, base).run(until_idle=True)
    assert store.info(done.item_id).state == "delivered"
    [patient] = search(server, "Patient", identifier=f"{SYSTEM}|P-0100")
    assert patient["id"] == created.json()["id"]
    assert patient["birthDate"] == "2015-01-01"
    assert patient["deceasedDateTime"] == "2025-01-05"
    assert "deceasedBoolean" not in patient
    assert patient["name"] == THEIRS["name"]


def test_a_patient_on_the_server_gets_our_birth_date_and_death(
    server: str, store: SqlStore
) -> None:
    """The Patient update policy: birthDate and deceased[x] from our source replace the
    server's; the rest of the server's Patient stays."""
    _updated_patient(server, store, server)


def test_a_patient_changed_meanwhile_is_read_again(server: str, store: SqlStore) -> None:
    """The update's If-Match fails (412): the Patient is read again and updated."""
    with FaultProxy(server) as proxy:
        proxy.faults.extend(["", "412"])  # the transaction passes, the first PUT does not
        _updated_patient(server, store, proxy.base)
    methods = [(method, fault) for method, _, fault in proxy.log]
    assert methods == [("POST", ""), ("PUT", "412"), ("GET", ""), ("PUT", "")]


def _deliver_command(store_url: str, base: str, *extra: str) -> list[str]:
    return [
        str(Path(sys.executable).parent / "ball-fhir"),
        "deliver",
        "--store",
        store_url,
        "--server",
        base,
        "--max-entries",
        "4",
        "--lease",
        "1",
        *extra,
    ]


def test_a_worker_killed_mid_delivery_and_restarted_loses_and_duplicates_nothing(
    server: str, store: SqlStore, tmp_path: Path
) -> None:
    mapper = item_mapper("hl7v2", "default")
    ids = [
        ingest(store, "hl7v2", "default", f"m{n}", oru(n, f"K{n % 4}"), mapper).item_id
        for n in range(12)
    ]
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with FaultProxy(server) as proxy:
        proxy.always_slow = True
        proxy.delay = 0.1
        first = subprocess.Popen(
            _deliver_command(store_url, proxy.base), env=env, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            infos = [store.info(i) for i in ids]
            if sum(i.state == "delivered" for i in infos) >= 3 and any(
                i.state != "delivered" and i.delivered_chunks for i in infos
            ):
                break
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        states = [store.info(i).state for i in ids]
        assert "delivered" in states
        assert set(states) != {"delivered"}, "killed too late: nothing was left to deliver"
        proxy.always_slow = False
        second = subprocess.run(
            _deliver_command(store_url, proxy.base, "--until-idle"),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert second.returncode == 0, second.stderr
    assert [store.info(i).state for i in ids] == ["delivered"] * len(ids)
    assert_exactly_once(server, expected(store, ids, 4))
