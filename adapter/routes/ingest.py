"""Intake over HTTP: ``POST /ingest/{kind}`` and ``GET /status``.

``POST /ingest/{kind}?site=NAME`` takes a source file of that kind (``lab``, ``hl7v2``, ...; as
for ``ball-fhir map``) as the request body, or as one or more file parts of a
``multipart/form-data`` body, and stores each durably before answering
(:func:`adapter.intake.ingest`).  ``site`` names a site configuration (``mappings/sites/``);
files are not accepted from the network.  The answer (202 when anything new was stored, 200
when every file was a duplicate of an item stored before) lists, per file, the stored item
(``id``, ``new``, ``state``, counts) with its OperationOutcome.  Errors are OperationOutcomes:
404 unknown kind, 400 unknown site, empty or unreadable body.

``GET /status``: counts of items by delivery state and the age of the oldest one waiting.

The store is the one ``$BALL_FHIR_STORE`` names (default ``sqlite:///ball-fhir-store.db``);
override :func:`get_store` to use another.  A store that cannot be opened is a 503 naming the
setting.
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from adapter.cli.delivery import item_mapper, status_json
from adapter.cli.mapcmd import SOURCE_KINDS
from adapter.intake import Ingested, ingest
from adapter.issues import Issue, IssueCode, UsageError, to_operation_outcome
from adapter.store import DEFAULT_URL, Store, open_store

router = APIRouter(tags=["intake"])

_SITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
#: the environment variable naming the item store
STORE_SETTING = "BALL_FHIR_STORE"


def store_url() -> str:
    """The URL of the item store (``$BALL_FHIR_STORE``, else the default SQLite file)."""
    return os.environ.get(STORE_SETTING, DEFAULT_URL)


@functools.cache
def _default_store() -> Store:
    return open_store(store_url())


def get_store() -> Store:
    """The store the routes use (a FastAPI dependency; override it in tests); 503 naming
    ``$BALL_FHIR_STORE`` when it cannot be opened."""
    try:
        return _default_store()
    except (UsageError, OSError, sqlite3.Error) as exc:
        raise HTTPException(
            503, f"the item store (${STORE_SETTING}) cannot be opened: {exc}"
        ) from None


StoreDep = Annotated[Store, Depends(get_store)]


def _problem(status: int, code: IssueCode, message: str) -> JSONResponse:
    issue = Issue("error", code, message, location=("request",))
    return JSONResponse(to_operation_outcome([issue]), status_code=status)


def files_of(content_type: str, body: bytes, default_name: str) -> list[tuple[str, bytes]]:
    """The files of a request: each file part of a ``multipart/form-data`` body, or the whole
    body as one file."""
    if not content_type.lower().startswith("multipart/form-data"):
        return [(default_name, body)] if body else []
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    files = []
    for part in message.iter_parts():
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and data:
            files.append((part.get_filename() or default_name, data))
    return files


def _item(done: Ingested) -> dict[str, Any]:
    return {
        "id": done.item_id,
        "new": done.new,
        "state": done.state,
        "read": done.read,
        "mapped": done.mapped,
        "rejected": done.rejected,
        "outcome": done.outcome,
    }


@router.post("/ingest/{kind}")
async def ingest_files(
    kind: str,
    request: Request,
    store: StoreDep,
    site: Annotated[str, Query(description="site configuration name")] = "default",
) -> JSONResponse:
    """Store, map and queue for delivery the source file(s) of the body."""
    if kind not in SOURCE_KINDS:
        return _problem(
            404, "not-supported", f"unknown source kind {kind!r} (known: {', '.join(SOURCE_KINDS)})"
        )
    if not _SITE_NAME.fullmatch(site):
        return _problem(400, "value", f"site {site!r} is not a site configuration name")
    try:
        mapper = item_mapper(kind, site)
    except UsageError as exc:
        return _problem(400, "not-found", str(exc))
    files = files_of(request.headers.get("content-type", ""), await request.body(), kind)
    if not files:
        return _problem(400, "required", "the body holds no file (empty body or no file part)")
    received = datetime.now(UTC)
    done = [
        await run_in_threadpool(ingest, store, kind, site, name, data, mapper, received)
        for name, data in files
    ]
    status = 202 if any(d.new for d in done) else 200
    return JSONResponse({"items": [_item(d) for d in done]}, status_code=status)


@router.get("/status")
async def status(store: StoreDep) -> JSONResponse:
    """Items by delivery state and the oldest waiting item's age in seconds."""
    return JSONResponse(status_json(await run_in_threadpool(store.status), datetime.now(UTC)))
