"""``POST /ingest/{kind}`` and ``GET /status`` (FastAPI TestClient, a SQLite store per test)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from adapter.api import create_app
from adapter.routes.ingest import get_store
from adapter.store import SqlStore, open_store
from tests.conftest import ROOT
from tests.intake.messages import oru, rejected_oru

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

LAB = ROOT / "examples" / "lab" / "lab-results.csv"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.close()


@pytest.fixture
def client(store: SqlStore) -> TestClient:
    app = create_app()
    app.dependency_overrides[get_store] = lambda: store
    return TestClient(app)


def test_a_file_as_the_body_is_stored_mapped_and_queued(
    client: TestClient, store: SqlStore
) -> None:
    response = client.post("/ingest/lab?site=default", content=LAB.read_bytes())
    assert response.status_code == 202
    [item] = response.json()["items"]
    assert item["new"] is True
    assert item["state"] == "pending"
    assert (item["read"], item["mapped"], item["rejected"]) == (16, 12, 4)
    rejected = [i for i in item["outcome"]["issue"] if i["severity"] == "error"]
    assert len(rejected) >= 4
    stored, mapped = store.raw(item["id"])
    assert stored.raw == LAB.read_bytes()
    assert (stored.kind, stored.site) == ("lab", "default")
    assert mapped is not None
    assert mapped.bundle is not None
    assert orjson.loads(mapped.bundle)["type"] == "transaction"


def test_the_same_file_again_is_a_duplicate(client: TestClient) -> None:
    first = client.post("/ingest/hl7v2", content=oru(1, "P1")).json()["items"][0]
    again = client.post("/ingest/hl7v2", content=oru(1, "P1"))
    assert again.status_code == 200
    [item] = again.json()["items"]
    assert item["id"] == first["id"]
    assert item["new"] is False
    assert item["state"] == "pending"


def test_multipart_files_become_one_item_each(client: TestClient, store: SqlStore) -> None:
    response = client.post(
        "/ingest/hl7v2",
        files=[
            ("file", ("one.hl7", oru(1, "P1"), "application/hl7-v2")),
            ("file", ("two.hl7", rejected_oru(2), "application/hl7-v2")),
        ],
    )
    assert response.status_code == 202
    items = response.json()["items"]
    assert [i["state"] for i in items] == ["pending", "rejected"]
    assert [store.info(i["id"]).source_name for i in items] == ["one.hl7", "two.hl7"]


@pytest.mark.parametrize(
    ("url", "body", "status", "says"),
    [
        ("/ingest/spreadsheet", b"x", 404, "unknown source kind"),
        ("/ingest/lab?site=nowhere", b"x", 400, "no site configuration"),
        ("/ingest/lab?site=../../etc/passwd", b"x", 400, "not a site configuration name"),
        ("/ingest/lab", b"", 400, "holds no file"),
    ],
)
def test_bad_requests_are_operation_outcomes(
    client: TestClient, store: SqlStore, url: str, body: bytes, status: int, says: str
) -> None:
    response = client.post(url, content=body)
    assert response.status_code == status
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert says in outcome["issue"][0]["diagnostics"]
    assert sum(store.status().counts.values()) == 0


def test_status_counts_by_state(client: TestClient) -> None:
    empty = client.get("/status").json()
    assert empty["oldestPendingSeconds"] is None
    assert set(empty["counts"].values()) == {0}
    client.post("/ingest/hl7v2", content=oru(1, "P1"))
    client.post("/ingest/hl7v2", content=rejected_oru(2))
    status = client.get("/status").json()
    assert status["counts"]["pending"] == 1
    assert status["counts"]["rejected"] == 1
    assert status["oldestPendingSeconds"] >= 0
