"""Reading from the FHIR server with stubs: the ``fhirAuthorization`` bearer token is sent and
never logged or returned (CDS Hooks 2.0 §FHIR Resource Access), a server error is a 412 naming
the key, searchset pages are followed on the same server only."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapter.cdshooks.fhirfetch import Deadline, FhirFetcher
from tests.cdshooks.helpers import (
    LoopbackServer,
    Signer,
    app_for,
    config,
    course_resources,
    request,
)

TOKEN = "secret-access-token-42"
PV = "ball-patient-view"


class _Recorder(LoopbackServer):
    """A FHIR stub answering every read with an empty searchset and ``status``."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(lambda _path: (status, {"resourceType": "Bundle", "type": "searchset"}))
        self.base += "/fhir"


@pytest.fixture(params=[200, 500])
def recorder(request: pytest.FixtureRequest) -> Iterator[_Recorder]:
    server = _Recorder(request.param)
    yield server
    server.close()


def test_bearer_token_is_sent_and_never_logged(
    recorder: _Recorder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(
        Signer(),
        dev_mode=True,
        fhir_server_allowlist=[recorder.base],
        fetch_read_timeout_seconds=2.0,
        fetch_budget_seconds=5.0,
    )
    client = app_for(cfg, tmp_path / "fb.sqlite")
    resources = course_resources()
    body = request(PV, resources)
    del body["prefetch"]["observations"]
    body["fhirServer"] = recorder.base
    body["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 60}
    with caplog.at_level(logging.DEBUG):
        answer = client.post(f"/cds-services/{PV}", json=body)
    pid = resources["Patient"][0]["id"]
    assert recorder.seen == [(f"/fhir/Observation?patient=Patient/{pid}", f"Bearer {TOKEN}")]
    assert TOKEN not in answer.text
    assert TOKEN not in caplog.text
    if recorder.status == 200:
        assert answer.status_code == 200
    else:
        assert answer.status_code == 412
        assert "HTTP 500" in answer.json()["issue"][0]["diagnostics"]


def test_a_call_that_must_fetch_is_fetched_after_calls_answered_from_the_prefetch(
    tmp_path: Path,
) -> None:
    """Once the state is built, a call whose prefetch answers every key runs on the event loop
    (routes/cdshooks.py ``_guarded``); a call that must fetch still reaches the FHIR server."""
    recorder = _Recorder(200)
    cfg = config(Signer(), dev_mode=True, fhir_server_allowlist=[recorder.base])
    client = app_for(cfg, tmp_path / "fb.sqlite")
    resources = course_resources()
    complete = client.post(f"/cds-services/{PV}", json=request(PV, resources))
    again = client.post(f"/cds-services/{PV}", json=request(PV, resources))
    assert complete.status_code == again.status_code == 200
    assert again.json() == complete.json()
    body = request(PV, resources)
    del body["prefetch"]["observations"]
    body["fhirServer"] = recorder.base
    fetched = client.post(f"/cds-services/{PV}", json=body)
    recorder.close()
    assert fetched.status_code == 200
    pid = resources["Patient"][0]["id"]
    assert [path for path, _ in recorder.seen] == [f"/fhir/Observation?patient=Patient/{pid}"]
    # the fetched searchset is empty: no blood counts, so the findings differ from the full call
    assert fetched.json() != complete.json()


def _paged(foreign_next: bool) -> LoopbackServer:
    def reply(path: str) -> tuple[int, Any]:
        page = 2 if "page=2" in path else 1
        entry = [{"resource": {"resourceType": "Observation", "id": f"o{page}"}}]
        doc: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "entry": entry}
        if page == 1:
            nxt = "https://elsewhere.example/fhir/Observation?page=2" if foreign_next else None
            doc["link"] = [
                {"relation": "next", "url": nxt or f"{server.base}/fhir/Observation?page=2"}
            ]
        return 200, doc

    server = LoopbackServer(reply)
    return server


@pytest.mark.parametrize("foreign_next", [False, True])
def test_searchset_pages_are_followed_on_the_same_server_only(foreign_next: bool) -> None:
    server = _paged(foreign_next)
    try:
        base = server.base + "/fhir"
        cfg = config(Signer(), dev_mode=True, fhir_server_allowlist=[base])
        got = FhirFetcher(cfg).fetch(base, "Observation?patient=Patient/p", None, Deadline(5))
    finally:
        server.close()
    assert got is not None
    ids = [e["resource"]["id"] for e in got["entry"]]
    assert ids == (["o1"] if foreign_next else ["o1", "o2"])
    assert len(server.seen) == (1 if foreign_next else 2)
    if not foreign_next:
        assert "link" not in got  # the joined pages are one result
