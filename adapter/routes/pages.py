"""HTTP edge of the pictures (issue 20): ``POST /patients/{id}/timeline``, the course page.

The body is the patient's FHIR Bundle (JSON); ``asOf`` (query, YYYY-MM-DD, default today) and
``protocol`` (query, a protocol id) as for ``ball-fhir evaluate``.  ``{id}`` is the Patient's
resource id or its identifier value.  Answers the self-contained HTML page (text/html, with the
page's Content-Security-Policy also as a header); errors are OperationOutcomes: 400 not a Bundle
or a bad parameter, 404 no such patient in the Bundle.  Serving a page from the store (GET) waits
for the delivery issue's store.
"""

from __future__ import annotations

import datetime as dt
import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from adapter.issues import Issue, IssueCode, UsageError
from adapter.report.course import course_pages
from adapter.report.course_html import render_course_page
from adapter.report.html import CSP
from adapter.routes.protocol import Protocols
from adapter.routes.validate import outcome_response

router = APIRouter(tags=["pages"])


def outcome(status: int, code: IssueCode, message: str, expression: str | None = None) -> Response:
    where = (expression,) if expression else ()
    return outcome_response([Issue("error", code, message, expression=where)], status)


@router.post("/patients/{patient_id}/timeline", response_class=HTMLResponse)
async def patient_timeline(
    patient_id: str,
    request: Request,
    protocols: Protocols,
    asOf: str | None = None,
    protocol: str | None = None,
) -> Response:
    """The course page of one patient of the posted Bundle."""
    try:
        bundle = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return outcome(400, "structure", "the body is not JSON")
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return outcome(400, "invalid", "the body must be a FHIR Bundle")
    try:
        as_of = dt.date.fromisoformat(asOf) if asOf else dt.date.today()
    except ValueError:
        return outcome(400, "invalid", "asOf must be a date YYYY-MM-DD", "asOf")
    try:
        pages = course_pages(bundle, protocols, as_of, protocol)
    except UsageError as exc:
        return outcome(400, "invalid", str(exc))
    hit = next((p for p in pages if patient_id in (p.patient_id, p.name)), None)
    if hit is None:
        return outcome(404, "not-found", f"no Patient {patient_id!r} in the posted Bundle")
    return HTMLResponse(render_course_page(hit), headers={"Content-Security-Policy": CSP})
