"""``GET /patients/{id}/timeline``: the course page of a patient whose files came in through
``POST /ingest/{kind}``, read back from the item store (a SQLite file per test), and the link of
a patient-view CDS card opened with GET on the same app."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI

from adapter.api import create_app
from adapter.report.record import patient_record
from adapter.routes import ingest as ingest_routes
from adapter.routes.cdshooks import CdsState
from adapter.routes.ingest import STORE_SETTING, get_store
from adapter.routes.protocol import get_protocols
from adapter.store import SqlStore, open_store, stored_bundles
from adapter.store.feedback import SqliteFeedbackStore
from tests.cdshooks.helpers import BASE, Signer, config, request
from tests.conftest import ROOT
from tests.protocol.conftest import protocols
from tests.report.htmlcheck import Page

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

EXAMPLES = ROOT / "examples"
#: the example patient P-0001's files that map without context Bundles, by source kind
#: (examples/manifest.yaml; infusions need the measurements as context, which intake lacks)
FILES = (
    ("events", "events/events.csv"),
    ("measurements", "measurements/measurements.csv"),
    ("apheresis", "apheresis/apheresis.csv"),
    ("intrathecal", "intrathecal/intrathecal.csv"),
    ("lymphocytes", "lymphocytes/lymphocytes.csv"),
    ("lab", "course-lab/day29-marrow.csv"),
)
MARROW = EXAMPLES / "course-lab" / "day29-marrow.csv"
AS_OF = "2024-12-01"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlStore]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv(STORE_SETTING, url)
    opened = open_store(url)
    yield opened
    opened.close()


def app_with(store: SqlStore) -> FastAPI:
    app = create_app()
    app.dependency_overrides[get_store] = lambda: store
    app.dependency_overrides[get_protocols] = protocols
    return app


def ingest(client: TestClient, kind: str, content: bytes) -> None:
    r = client.post(f"/ingest/{kind}?site=default", content=content)
    assert r.status_code == 202, r.text


def ingested(app: FastAPI) -> TestClient:
    client = TestClient(app)
    for kind, name in FILES:
        ingest(client, kind, (EXAMPLES / name).read_bytes())
    return client


def stored_patient_id(store: SqlStore) -> str:
    """The deterministic id of P-0001 (its fullUrl's uuid in every mapped Bundle)."""
    record = patient_record(stored_bundles(store), "P-0001")
    assert record is not None
    [patient] = [e for e in record["entry"] if e["resource"]["resourceType"] == "Patient"]
    return str(patient["resource"]["id"])


def test_timeline_from_the_store_by_identifier_and_by_deterministic_id(store: SqlStore) -> None:
    client = ingested(app_with(store))
    for key in ("P-0001", stored_patient_id(store)):
        r = client.get(f"/patients/{key}/timeline?asOf={AS_OF}")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
        page = Page(r.text)
        assert "Course of P-0001" in page.text
        assert f"as of {AS_OF}" in page.text
        assert "From the relapse diagnosis 2024-09-02 to 2024-12-01" in page.text
        labs = [
            (g.attrs["data-series"], g.attrs["data-value"], g.attrs["data-below-lod"])
            for g in page.find("g", class_="lab")
        ]
        assert labs == [
            ("mrd", "5e-05", "true"),
            ("marrow-blasts", "0.68", "false"),
            ("marrow-blasts", "0.005", "false"),
        ]
        kinds = {g.attrs["data-kind"] for g in page.find("g", class_="event")}
        assert {"apheresis", "intrathecal", "cd3-infusion"} <= kinds


def test_a_later_item_replaces_the_earlier_version_of_a_resource(store: SqlStore) -> None:
    client = ingested(app_with(store))
    corrected = MARROW.read_bytes().replace(b",blasts-marrow,0.5,%", b",blasts-marrow,0.7,%")
    assert corrected != MARROW.read_bytes()
    ingest(client, "lab", corrected)
    page = Page(client.get(f"/patients/P-0001/timeline?asOf={AS_OF}").text)
    blasts = page.find("g", class_="lab", data_series="marrow-blasts")
    assert [g.attrs["data-value"] for g in blasts] == ["0.68", "0.007"]


def test_unknown_patient_is_404_operation_outcome(store: SqlStore) -> None:
    client = ingested(app_with(store))
    r = client.get(f"/patients/nobody/timeline?asOf={AS_OF}")
    assert r.status_code == 404
    assert r.json()["resourceType"] == "OperationOutcome"
    assert "'nobody' in the item store" in r.json()["issue"][0]["diagnostics"]
    bad = client.get("/patients/P-0001/timeline?asOf=01.12.2024")
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["expression"] == ["asOf"]


def test_no_store_set_up_is_503_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STORE_SETTING, raising=False)
    monkeypatch.chdir(tmp_path)
    app = create_app()
    app.dependency_overrides[get_protocols] = protocols
    r = TestClient(app).get("/patients/P-0001/timeline")
    assert r.status_code == 503
    assert r.json()["resourceType"] == "OperationOutcome"
    assert "$BALL_FHIR_STORE" in r.json()["issue"][0]["diagnostics"]
    assert not list(tmp_path.iterdir())  # no empty store was made on the way


def test_a_store_that_cannot_be_opened_is_503_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(STORE_SETTING, "sqlite:relative.db")
    ingest_routes._default_store.cache_clear()
    try:
        r = TestClient(create_app()).get("/patients/P-0001/timeline")
    finally:
        ingest_routes._default_store.cache_clear()
    assert r.status_code == 503
    message = r.json()["issue"][0]["diagnostics"]
    assert "$BALL_FHIR_STORE" in message
    assert "sqlite:///relative.db" in message


def test_a_patient_view_card_link_opens_the_page_on_the_same_app(
    store: SqlStore, tmp_path: Path
) -> None:
    app = app_with(store)
    client = ingested(app)
    signer = Signer()
    cfg = config(signer, course_page_base_url=BASE)
    feedback = SqliteFeedbackStore(tmp_path / "fb.sqlite")
    today = dt.date.fromisoformat(AS_OF)
    app.state.cds = CdsState(cfg, protocols(), store=feedback, clock=lambda: today)
    record = patient_record(stored_bundles(store), "P-0001")
    assert record is not None
    resources: dict[str, list[dict[str, Any]]] = {}
    for entry in record["entry"]:
        resources.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    url = f"{BASE}/cds-services/ball-patient-view"
    r = client.post(
        url,
        json=request("ball-patient-view", resources),
        headers={"Authorization": f"Bearer {signer.token(url)}"},
    )
    assert r.status_code == 200, r.text
    links = {link["url"] for card in r.json()["cards"] for link in card.get("links", [])}
    assert links == {f"{BASE}/patients/P-0001/timeline"}  # by the Patient's identifier
    page = client.get(urlsplit(links.pop()).path)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "Course of P-0001" in Page(page.text).text
