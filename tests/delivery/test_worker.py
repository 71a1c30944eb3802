"""The worker against a scripted loopback endpoint: what each answer does to an item (state,
attempts, next attempt, last error), entry-level failures, and authentication."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapter.delivery import FhirClient, RetryPolicy, ServerConfig, Worker
from adapter.delivery.config import SmartBackend
from adapter.issues import UsageError
from adapter.store import Mapped, NewItem, SqlStore, open_store
from tests.delivery.fake_server import FakeFhir

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
BUNDLE = {
    "resourceType": "Bundle",
    "type": "transaction",
    "entry": [
        {
            "fullUrl": "urn:uuid:1",
            "resource": {"resourceType": "Observation", "id": "1"},
            "request": {"method": "PUT", "url": "Observation/1"},
        }
    ],
}
OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = open_store(f"sqlite:///{tmp_path / 's.db'}")
    item_id, _ = opened.add(NewItem("lab", "default", "a.csv", b"a", "aa", NOW))
    opened.record_mapping(item_id, Mapped(1, 1, 0, b"{}", orjson.dumps(BUNDLE)))
    yield opened
    opened.close()


@pytest.fixture
def fake() -> Iterator[FakeFhir]:
    with FakeFhir() as server:
        yield server


def make_worker(store: SqlStore, server: ServerConfig, attempts: int = 5) -> Worker:
    policy = RetryPolicy(base=1.0, max_delay=60.0, max_attempts=attempts)
    return Worker(store, FhirClient(server), policy, clock=lambda: NOW)


def test_accepted_transaction_delivers(store: SqlStore, fake: FakeFhir) -> None:
    assert make_worker(store, ServerConfig(base_url=fake.base)).run_once() == "delivered"
    assert fake.transactions == [BUNDLE]
    assert fake.seen[0].headers["Content-Type"] == "application/fhir+json"
    assert "Authorization" not in fake.seen[0].headers
    assert make_worker(store, ServerConfig(base_url=fake.base)).run_once() is None


def test_429_waits_at_least_retry_after(store: SqlStore, fake: FakeFhir) -> None:
    fake.answers.append((429, OUTCOME, {"Retry-After": "120"}))
    assert make_worker(store, ServerConfig(base_url=fake.base)).run_once() == "failed"
    info = store.info(1)
    assert info.attempts == 1
    assert info.next_attempt is not None
    assert info.next_attempt >= NOW + timedelta(seconds=120)
    assert "HTTP 429" in (info.last_error or "")


def test_5xx_backs_off_then_dies_when_attempts_run_out(store: SqlStore, fake: FakeFhir) -> None:
    worker = make_worker(store, ServerConfig(base_url=fake.base), attempts=2)
    fake.answers.extend([(503, OUTCOME, {}), (500, OUTCOME, {})])
    assert worker.run_once() == "failed"
    info = store.info(1)
    assert info.next_attempt is not None
    assert NOW <= info.next_attempt <= NOW + timedelta(seconds=1)  # first wait: up to base
    later = Worker(store, worker.client, worker.policy, clock=lambda: NOW + timedelta(hours=1))
    assert later.run_once() == "dead"
    assert "gave up after 2 attempts" in (store.info(1).last_error or "")


def test_4xx_is_a_dead_letter_with_the_outcome(store: SqlStore, fake: FakeFhir) -> None:
    fake.answers.append((422, OUTCOME, {}))
    assert make_worker(store, ServerConfig(base_url=fake.base)).run_once() == "dead"
    info = store.info(1)
    assert info.attempts == 1
    assert '"OperationOutcome"' in (info.last_error or "")


@pytest.mark.parametrize(("status", "state"), [("400 Bad Request", "dead"), ("503", "failed")])
def test_a_failed_entry_fails_the_chunk(
    store: SqlStore, fake: FakeFhir, status: str, state: str
) -> None:
    answer = {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [{"response": {"status": status, "outcome": OUTCOME}}],
    }
    fake.answers.append((200, answer, {}))
    assert make_worker(store, ServerConfig(base_url=fake.base)).run_once() == state
    assert "PUT Observation/1" in (store.info(1).last_error or "")


def test_bearer_token_from_the_environment(
    store: SqlStore, fake: FakeFhir, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_FHIR_TOKEN", "s3cret")
    server = ServerConfig(base_url=fake.base, bearer_token_env="TEST_FHIR_TOKEN")
    assert make_worker(store, server).run_once() == "delivered"
    assert fake.seen[0].headers["Authorization"] == "Bearer s3cret"
    monkeypatch.delenv("TEST_FHIR_TOKEN")
    with pytest.raises(UsageError, match="TEST_FHIR_TOKEN"):
        FhirClient(server)


def test_smart_backend_services_client_credentials(
    store: SqlStore, fake: FakeFhir, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    token_url = f"{fake.base}/token"
    checked = []

    def issue(form: dict[str, list[str]]) -> dict[str, object]:
        assertion = form["client_assertion"][0]
        claims = jwt.decode(assertion, key.public_key(), algorithms=["RS384"], audience=token_url)
        checked.append((form, claims, jwt.get_unverified_header(assertion)))
        return {"access_token": "from-smart", "expires_in": 300, "token_type": "bearer"}

    fake.token_answers.append((200, issue))
    smart = SmartBackend(
        token_url=token_url, client_id="ball-fhir", private_key_file=pem, key_id="k1"
    )
    assert make_worker(store, ServerConfig(base_url=fake.base, smart=smart)).run_once() == (
        "delivered"
    )
    [(form, claims, header)] = checked
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_assertion_type"] == [
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    ]
    assert claims["iss"] == claims["sub"] == "ball-fhir"
    assert header["kid"] == "k1"
    assert header["alg"] == "RS384"
    transaction = [s for s in fake.seen if s.path == "/"]
    assert transaction[0].headers["Authorization"] == "Bearer from-smart"
