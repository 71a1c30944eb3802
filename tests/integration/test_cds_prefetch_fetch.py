"""CDS Hooks prefetch fetched from a real FHIR server (the loopback Medplum server of
``fhir_server.cjs``): absent keys are read from ``fhirServer`` with requests and give the same
cards as a full prefetch; unreachable, silent or disallowed servers give 412
(CDS Hooks 2.0 §Prefetch, cds-hooks.md sections 1.3 and 4)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cdshooks.helpers import (
    Signer,
    TestClient,
    app_for,
    blinatumomab_order,
    config,
    course_resources,
    draft_bundle,
    request,
)

pytestmark = pytest.mark.npm
PV = "ball-patient-view"


#: our copy of the example course lives under its own ids on the shared server, so the other
#: tests of the session (the delivery test counts every Patient) never meet it
PREFIX = "cds-"


def stored_course() -> dict[str, list[dict[str, Any]]]:
    """The example course as the server holds it: ids prefixed, references ``Type/id``."""
    resources = course_resources()
    text = json.dumps(resources)
    for rtype, items in resources.items():
        for r in items:
            text = text.replace(f'"urn:uuid:{r["id"]}"', f'"{rtype}/{PREFIX}{r["id"]}"')
            text = text.replace(f'"id": "{r["id"]}"', f'"id": "{PREFIX}{r["id"]}"')
    stored: dict[str, list[dict[str, Any]]] = json.loads(text)
    return stored


@pytest.fixture(scope="module")
def loaded_server(fhir_server: str) -> Iterator[str]:
    """The course stored on the server for this module (PUT Type/id), deleted afterwards."""
    resources = [r for items in stored_course().values() for r in items]
    entries = [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
        for r in resources
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    with httpx.Client(base_url=fhir_server, timeout=60) as client:
        answer = client.post("/", json=bundle, headers={"content-type": "application/fhir+json"})
        assert answer.status_code == 200, answer.text[:2000]
        yield fhir_server
        for r in reversed(resources):
            gone = client.delete(f"/{r['resourceType']}/{r['id']}")
            assert gone.status_code in (200, 204), gone.text[:500]


def client_for(server: str, tmp_path: Path, **over: Any) -> TestClient:
    # dev mode: the loopback server speaks http (no JWT checked; see test_security for JWTs)
    # generous timeouts: the shared test machine is slow; the budget test sets its own
    fields = {
        "dev_mode": True,
        "fhir_server_allowlist": [server],
        "fetch_budget_seconds": 5.0,
        "fetch_connect_timeout_seconds": 2.0,
        "fetch_read_timeout_seconds": 2.0,
    }
    return app_for(config(Signer(), **{**fields, **over}), tmp_path / "fb.sqlite")


def summaries(answer: Any) -> list[tuple[str, str, str]]:
    assert answer.status_code == 200, answer.text
    return [(c["uuid"], c["indicator"], c["summary"]) for c in answer.json()["cards"]]


def test_absent_prefetch_is_fetched_and_gives_the_same_cards(
    loaded_server: str, tmp_path: Path
) -> None:
    client = client_for(loaded_server, tmp_path)
    resources = stored_course()
    full = summaries(client.post(f"/cds-services/{PV}", json=request(PV, resources)))
    assert full
    nothing = request(PV, resources, prefetch={})
    nothing["fhirServer"] = loaded_server
    nothing["fhirAuthorization"] = {
        "access_token": "opaque-test-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "ball-fhir",
    }
    assert summaries(client.post(f"/cds-services/{PV}", json=nothing)) == full
    partial = request(PV, resources)
    for key in ("observations", "administrations"):
        del partial["prefetch"][key]
    partial["fhirServer"] = loaded_server
    assert summaries(client.post(f"/cds-services/{PV}", json=partial)) == full


def test_order_sign_fetches_what_it_needs(loaded_server: str, tmp_path: Path) -> None:
    client = client_for(loaded_server, tmp_path)
    body = request(
        "ball-order-sign",
        stored_course(),
        prefetch={},
        draftOrders=draft_bundle(blinatumomab_order("mr-2", 5, "ug/m2/d")),
    )
    body["fhirServer"] = loaded_server
    answer = client.post("/cds-services/ball-order-sign", json=body)
    [card] = answer.json()["cards"]
    assert "5 ug/m2/d prescribed vs 15 ug/m2/d" in card["summary"]


def test_read_of_a_missing_patient_is_no_data(loaded_server: str, tmp_path: Path) -> None:
    client = client_for(loaded_server, tmp_path)
    body = request(PV, stored_course(), prefetch={})
    body["context"]["patientId"] = "no-such-patient"
    body["fhirServer"] = loaded_server
    answer = client.post(f"/cds-services/{PV}", json=body)
    assert answer.status_code == 200
    assert answer.json() == {"cards": []}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/fhir"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_unreachable_server_is_412(tmp_path: Path) -> None:
    server = f"http://127.0.0.1:{_closed_port()}/fhir"
    client = client_for(server, tmp_path)
    body = request(PV, stored_course(), prefetch={})
    body["fhirServer"] = server
    answer = client.post(f"/cds-services/{PV}", json=body)
    assert answer.status_code == 412
    assert "could not be reached" in answer.json()["issue"][0]["diagnostics"]


def test_silent_server_is_cut_by_the_budget(silent_server: str, tmp_path: Path) -> None:
    client = client_for(silent_server, tmp_path, fetch_budget_seconds=0.3)
    body = request(PV, stored_course(), prefetch={})
    body["fhirServer"] = silent_server
    began = time.monotonic()
    answer = client.post(f"/cds-services/{PV}", json=body)
    elapsed = time.monotonic() - began
    assert answer.status_code == 412
    assert "did not answer in time" in answer.json()["issue"][0]["diagnostics"]
    assert elapsed < 3.0  # one budget (0.3 s) for all keys, not one read timeout per key


def test_server_not_on_the_allowlist_is_never_called(loaded_server: str, tmp_path: Path) -> None:
    client = client_for("https://fhir.example.org", tmp_path)
    body = request(PV, stored_course(), prefetch={})
    body["fhirServer"] = loaded_server
    answer = client.post(f"/cds-services/{PV}", json=body)
    assert answer.status_code == 412
    assert "not on the configured allowlist" in answer.json()["issue"][0]["diagnostics"]


def test_http_server_outside_dev_mode_is_refused(loaded_server: str, tmp_path: Path) -> None:
    signer = Signer()
    cfg = config(signer, fhir_server_allowlist=[loaded_server])
    client = app_for(cfg, tmp_path / "fb.sqlite")
    body = request(PV, stored_course(), prefetch={})
    body["fhirServer"] = loaded_server
    url = f"/cds-services/{PV}"
    headers = {"Authorization": f"Bearer {signer.token('http://testserver' + url)}"}
    answer = client.post(url, json=body, headers=headers)
    assert answer.status_code == 412
    assert "must use https" in answer.json()["issue"][0]["diagnostics"]
