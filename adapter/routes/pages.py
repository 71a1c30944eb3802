"""HTTP edge of the pictures (issue 20): the course page at ``/patients/{id}/timeline``.

``POST``: the body is the patient's FHIR Bundle (JSON).  ``GET`` (what a CDS card's link opens):
the patient's resources are read from the item store the ingest routes fill
(``$BALL_FHIR_STORE``, :mod:`adapter.routes.ingest`): the mapped Bundles of every stored item,
whatever its delivery state, the latest version of each resource
(:func:`adapter.report.record.patient_record`).  Both take ``asOf`` (query, YYYY-MM-DD, default
today) and ``protocol`` (query, a protocol id) as for ``ball-fhir evaluate``; ``{id}`` is the
Patient's resource id (for stored data: its deterministic id) or an identifier value.  Answers the
self-contained HTML page (text/html, with the page's Content-Security-Policy also as a header);
errors are OperationOutcomes: 400 not a Bundle or a bad parameter, 404 no such patient (in the
posted Bundle or the store), 503 no item store to read (``$BALL_FHIR_STORE`` unset and no store at
the default place, or a store that cannot be opened).
"""

from __future__ import annotations

import datetime as dt
import os

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from adapter.fhir import Resource
from adapter.http_edge import json_body
from adapter.issues import Issue, IssueCode, UsageError
from adapter.protocol import Protocol
from adapter.report.course import course_pages
from adapter.report.course_html import render_course_page
from adapter.report.html import CSP
from adapter.report.record import patient_record
from adapter.routes.ingest import STORE_SETTING, StoreDep, store_url
from adapter.routes.protocol import Protocols
from adapter.routes.validate import outcome_response
from adapter.store import sqlite_path, stored_bundles

router = APIRouter(tags=["pages"])
FROM_STORE = "the item store"


def outcome(status: int, code: IssueCode, message: str, expression: str | None = None) -> Response:
    where = (expression,) if expression else ()
    return outcome_response([Issue("error", code, message, expression=where)], status)


def store_set_up() -> None:
    """A page from the store needs a store: 503 naming ``$BALL_FHIR_STORE`` when it is unset and
    no store exists at the default place (rather than answering from a new, empty one)."""
    if STORE_SETTING in os.environ:
        return
    path = sqlite_path(store_url())
    if path is not None and not path.exists():
        raise HTTPException(
            503,
            f"no item store to read patients from: set ${STORE_SETTING} to the store the "
            f"ingest routes and the MLLP listener fill (sqlite:///FILE or postgresql://...); "
            f"the default {store_url()} does not exist",
        )


def _page(
    bundle: Resource,
    patient_id: str,
    protocols: dict[str, Protocol],
    as_of: dt.date,
    protocol: str | None,
    where: str,
    first: bool = False,
) -> Response:
    """The course page of the patient of the Bundle known as ``patient_id`` (its id or first
    identifier value); with ``first``, of its first patient (a record read from the store holds
    only the patient asked for)."""
    try:
        pages = course_pages(bundle, protocols, as_of, protocol)
    except UsageError as exc:
        return outcome(400, "invalid", str(exc))
    hit = next((p for p in pages if first or patient_id in (p.patient_id, p.name)), None)
    if hit is None:
        return outcome(404, "not-found", f"no Patient {patient_id!r} in {where}")
    return HTMLResponse(render_course_page(hit), headers={"Content-Security-Policy": CSP})


def _as_of(text: str | None) -> dt.date | Response:
    """The evaluation date (``asOf``, default today), or the 400 when it is not a date."""
    try:
        return dt.date.fromisoformat(text) if text else dt.date.today()
    except ValueError:
        return outcome(400, "invalid", "asOf must be a date YYYY-MM-DD", "asOf")


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
        bundle = await json_body(request)
    except ValueError:
        bundle = None
    if bundle is None:
        return outcome(400, "structure", "the body is not JSON")
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return outcome(400, "invalid", "the body must be a FHIR Bundle")
    as_of = _as_of(asOf)
    if isinstance(as_of, Response):
        return as_of
    return _page(bundle, patient_id, protocols, as_of, protocol, "the posted Bundle")


@router.get(
    "/patients/{patient_id}/timeline",
    response_class=HTMLResponse,
    dependencies=[Depends(store_set_up)],
)
async def stored_patient_timeline(
    patient_id: str,
    protocols: Protocols,
    store: StoreDep,
    asOf: str | None = None,
    protocol: str | None = None,
) -> Response:
    """The course page of one patient, from the items in the store."""
    as_of = _as_of(asOf)
    if isinstance(as_of, Response):
        return as_of

    def work() -> Response:
        record = patient_record(stored_bundles(store), patient_id)
        if record is None:
            return outcome(404, "not-found", f"no Patient {patient_id!r} in {FROM_STORE}")
        return _page(record, patient_id, protocols, as_of, protocol, FROM_STORE, first=True)

    return await run_in_threadpool(work)
