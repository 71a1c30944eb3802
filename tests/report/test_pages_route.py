"""``POST /patients/{id}/timeline``: the course page of a posted Bundle, through the whole app."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from adapter.api import create_app
from adapter.routes.protocol import get_protocols
from tests.protocol.conftest import protocols
from tests.report.htmlcheck import Page
from tests.report.test_course_data import example

PATIENT_ID = "6a431e8c-bb1a-5e4a-b671-3493d8e5fa07"


def post(url: str, content: bytes) -> httpx.Response:
    app = create_app()
    app.dependency_overrides[get_protocols] = protocols

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.post(url, content=content,
                                headers={"content-type": "application/fhir+json"})  # fmt: skip

    return asyncio.run(go())


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def test_timeline_by_resource_id_and_by_identifier() -> None:
    for key in (PATIENT_ID, "EX-0001"):
        r = post(f"/patients/{key}/timeline?asOf=2022-04-20", body(example()))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
        page = Page(r.text)
        assert "Course of EX-0001" in page.text
        assert "as of 2022-04-20" in page.text
        assert len(page.find("svg", id="timeline")) == 1


def test_unknown_patient_is_404_operation_outcome() -> None:
    r = post("/patients/nobody/timeline?asOf=2022-04-20", body(example()))
    assert r.status_code == 404
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "nobody" in outcome["issue"][0]["diagnostics"]


def test_bad_input_is_400() -> None:
    cases = [
        ("/patients/x/timeline", b"{not json"),
        ("/patients/x/timeline", body({"resourceType": "Patient"})),
        ("/patients/x/timeline?asOf=20-04-2022", body(example())),
        ("/patients/x/timeline?protocol=no-such", body(example())),
    ]
    for url, content in cases:
        r = post(url, content)
        assert r.status_code == 400, (url, r.text)
        assert r.json()["resourceType"] == "OperationOutcome"
