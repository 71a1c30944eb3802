"""HTTP edge of the protocol logic: ``POST /fhir/PlanDefinition/{id}/$apply`` (CPG STU2 $apply),
and the content it runs: ``GET /fhir/PlanDefinition[/{id}]`` and
``GET /fhir/ActivityDefinition[/{id}]`` (FHIR read, and a search without parameters answered with
a ``searchset`` Bundle).

Input: a FHIR ``Parameters`` body with ``subject`` (valueString/valueReference, ``Patient/id``)
and ``data`` (resource: the patient's Bundle), per the CPG $apply OperationDefinition
(terminology.md §7.2); optional ball-fhir parameters ``asOf`` (valueDate, default today) and
``courseStart`` (valueDate, when no course has been given yet), accepted at the top level or
inside the CPG ``parameters`` resource.  Output: the result Bundle (application/fhir+json).
Errors are OperationOutcomes: 400 bad input, 404 unknown PlanDefinition, 422 subject not in data.

Include with ``app.include_router(router)``; override :func:`get_protocols` in tests or to serve
other content (``app.dependency_overrides[get_protocols] = ...``).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from adapter.datafiles import mappings_dir
from adapter.fhir import Resource
from adapter.http_edge import json_body
from adapter.iscn import load_knowledge
from adapter.issues import Issue, IssueCode, UsageError, to_operation_outcome
from adapter.protocol import Protocol, load_protocols_from_folder
from adapter.protocol.apply import apply_plan
from adapter.protocol.content import default_content_dir, read_content_folder

FHIR_JSON = "application/fhir+json"

router = APIRouter(tags=["protocol"])


@functools.cache
def _content() -> dict[str, Protocol]:
    """The content, carrying the gene knowledge the cytogenetics mapping also uses."""
    knowledge = load_knowledge(mappings_dir() / "iscn" / "gene-loci.yaml")
    return load_protocols_from_folder(default_content_dir(), knowledge)


def get_protocols() -> dict[str, Protocol]:
    """The loaded protocol content (cached), as a FastAPI dependency."""
    return _content()


Protocols = Annotated[dict[str, Protocol], Depends(get_protocols)]


def _outcome(
    status: int, code: IssueCode, message: str, expression: str | None = None
) -> JSONResponse:
    issue = Issue("error", code, message, expression=(expression,) if expression else ())
    return JSONResponse(to_operation_outcome([issue]), status_code=status, media_type=FHIR_JSON)


class _BadInput(Exception):
    def __init__(self, message: str, expression: str | None = None) -> None:
        super().__init__(message)
        self.expression = expression


def _params(body: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise _BadInput("the body must be a FHIR Parameters resource")
    out: dict[str, dict[str, Any]] = {}
    for p in body.get("parameter", []) or []:
        if isinstance(p, dict) and isinstance(p.get("name"), str):
            out.setdefault(p["name"], p)
    nested = out.get("parameters", {}).get("resource")
    if isinstance(nested, dict) and nested.get("resourceType") == "Parameters":
        for p in nested.get("parameter", []) or []:
            if isinstance(p, dict) and isinstance(p.get("name"), str):
                out.setdefault(p["name"], p)
    return out


def _subject(params: dict[str, dict[str, Any]]) -> str:
    p = params.get("subject")
    if p is None:
        raise _BadInput("parameter 'subject' is required", "Parameters.parameter")
    value = p.get("valueString") or (p.get("valueReference") or {}).get("reference")
    if not isinstance(value, str) or not value:
        raise _BadInput("parameter 'subject' needs valueString or valueReference", "subject")
    return value


def _date(params: dict[str, dict[str, Any]], name: str) -> dt.date | None:
    p = params.get(name)
    if p is None:
        return None
    raw = p.get("valueDate") or p.get("valueDateTime")
    try:
        return dt.date.fromisoformat(str(raw)[:10])
    except ValueError:
        raise _BadInput(f"parameter '{name}' must be a valueDate YYYY-MM-DD", name) from None


@functools.cache
def _content_resources() -> tuple[Resource, ...]:
    return tuple(read_content_folder(default_content_dir()))


def get_content() -> tuple[Resource, ...]:
    """The PlanDefinition/ActivityDefinition resources the protocols are loaded from (cached)."""
    return _content_resources()


Content = Annotated[tuple[Resource, ...], Depends(get_content)]


def _of_type(content: tuple[Resource, ...], rtype: str) -> list[Resource]:
    return [r for r in content if r.get("resourceType") == rtype]


def _search(rtype: str, request: Request, content: tuple[Resource, ...]) -> JSONResponse:
    base = str(request.base_url).rstrip("/")
    found = _of_type(content, rtype)
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(found),
        "link": [{"relation": "self", "url": str(request.url)}],
    }
    if found:
        bundle["entry"] = [
            {
                "fullUrl": f"{base}/fhir/{rtype}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in found
        ]
    return JSONResponse(bundle, media_type=FHIR_JSON)


def _read(rtype: str, rid: str, content: tuple[Resource, ...]) -> JSONResponse:
    hit = next((r for r in _of_type(content, rtype) if r.get("id") == rid), None)
    if hit is None:
        return _outcome(404, "not-found", f"{rtype}/{rid} is not content we run")
    return JSONResponse(hit, media_type=FHIR_JSON)


def _content_routes(rtype: str) -> None:
    """``GET /fhir/{rtype}`` (a searchset of all) and ``GET /fhir/{rtype}/{id}`` (a read)."""

    async def search(request: Request, content: Content) -> JSONResponse:
        return _search(rtype, request, content)

    async def read(rid: str, content: Content) -> JSONResponse:
        return _read(rtype, rid, content)

    for path, endpoint, summary in (
        (f"/fhir/{rtype}", search, f"Every {rtype} we run, as a searchset Bundle"),
        (f"/fhir/{rtype}/{{rid}}", read, f"One {rtype} we run, by id (404 otherwise)"),
    ):
        router.add_api_route(
            path, endpoint, methods=["GET"], response_class=JSONResponse, summary=summary
        )


for _rtype in ("PlanDefinition", "ActivityDefinition"):
    _content_routes(_rtype)


@router.post("/fhir/PlanDefinition/{plan_id}/$apply", response_class=JSONResponse)
async def plan_definition_apply(
    plan_id: str, request: Request, protocols: Protocols
) -> JSONResponse:
    """Apply one of our protocol PlanDefinitions to a patient's data Bundle."""
    protocol = protocols.get(plan_id)
    if protocol is None:
        return _outcome(404, "not-found", f"PlanDefinition/{plan_id} is not a protocol we serve")
    try:
        body = await json_body(request)
    except ValueError:
        body = None
    if body is None:
        return _outcome(400, "structure", "the body is not JSON")
    try:
        params = _params(body)
        subject = _subject(params)
        data = params.get("data", {}).get("resource")
        if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
            raise _BadInput("parameter 'data' must hold a Bundle resource", "data")
        as_of = _date(params, "asOf") or dt.date.today()
        course_start = _date(params, "courseStart")
    except _BadInput as exc:
        return _outcome(400, "invalid", str(exc), exc.expression)
    try:
        result, _ = await run_in_threadpool(
            apply_plan, data, protocol, subject, as_of, course_start
        )
    except UsageError as exc:
        return _outcome(422, "not-found", str(exc), "subject")
    return JSONResponse(result, media_type=FHIR_JSON)
