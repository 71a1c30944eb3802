"""FHIR ``$validate`` over HTTP (https://hl7.org/fhir/R4/resource-operation-validate.html).

``POST /fhir/$validate`` and ``POST /fhir/{type}/$validate`` accept a resource, a Bundle, or a
``Parameters`` with ``resource`` (and optional ``profile``) parameters; ``profile`` may also be a
query parameter.  The answer is an OperationOutcome: 200 whatever the validation found (FHIR
$validate semantics), 4xx with an OperationOutcome when the request itself is unusable.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from adapter.issues import Issue, IssueCode, to_operation_outcome
from adapter.validation import Validator, default_validator

FHIR_JSON = "application/fhir+json"

router = APIRouter(prefix="/fhir", tags=["validation"])


def get_validator() -> Validator:
    """The validator used by the routes (overridden by ``create_app(validator=...)``)."""
    return default_validator()


ValidatorDep = Annotated[Validator, Depends(get_validator)]
ProfileQuery = Annotated[list[str] | None, Query(alias="profile")]


def outcome_response(issues: list[Issue], status: int = 200) -> JSONResponse:
    return JSONResponse(to_operation_outcome(issues), status_code=status, media_type=FHIR_JSON)


def _problem(status: int, code: IssueCode, message: str) -> JSONResponse:
    return outcome_response([Issue("error", code, message, "request")], status)


def _unwrap(body: dict[str, Any]) -> tuple[Any, list[str]] | str:
    """The resource and profiles of a Parameters wrapper, or why it is unusable."""
    resources: list[Any] = []
    profiles: list[str] = []
    for parameter in body.get("parameter") or []:
        if not isinstance(parameter, dict):
            continue
        name = parameter.get("name")
        if name == "resource" and "resource" in parameter:
            resources.append(parameter["resource"])
        elif name == "profile":
            for key in ("valueUri", "valueCanonical", "valueString"):
                if isinstance(parameter.get(key), str):
                    profiles.append(parameter[key])
    if len(resources) != 1:
        return f"a Parameters body needs exactly one 'resource' parameter, found {len(resources)}"
    return resources[0], profiles


async def _validate(
    request: Request, validator: Validator, profile: list[str] | None, type_: str | None
) -> JSONResponse:
    raw = await request.body()
    try:
        body = await run_in_threadpool(json.loads, raw)
    except (UnicodeDecodeError, ValueError) as exc:
        return _problem(400, "structure", f"the body is not valid JSON: {exc}")
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        return _problem(400, "structure", "the body must be a FHIR resource (a JSON object)")
    profiles = list(profile or [])
    resource: Any = body
    if body["resourceType"] == "Parameters" and type_ != "Parameters":
        unwrapped = _unwrap(body)
        if isinstance(unwrapped, str):
            return _problem(400, "required", unwrapped)
        resource, extra = unwrapped
        profiles += extra
        if not isinstance(resource, dict):
            return _problem(400, "structure", "the 'resource' parameter is not a resource")
    if type_ is not None and resource.get("resourceType") != type_:
        return _problem(
            400,
            "invalid",
            f"the resource is a {resource.get('resourceType')}, not a {type_}",
        )
    unknown = [p for p in profiles if validator.registry.structure_definition(p) is None]
    if unknown:
        return _problem(400, "not-found", f"unknown profile(s): {', '.join(unknown)}")
    issues = await run_in_threadpool(validator.validate, resource, profiles or None)
    return outcome_response(issues)


@router.post("/$validate", response_class=JSONResponse)
async def validate_any(
    request: Request, validator: ValidatorDep, profile: ProfileQuery = None
) -> JSONResponse:
    """Validate a resource, a Bundle or a Parameters wrapper."""
    return await _validate(request, validator, profile, None)


@router.post("/{resource_type}/$validate", response_class=JSONResponse)
async def validate_type(
    resource_type: str, request: Request, validator: ValidatorDep, profile: ProfileQuery = None
) -> JSONResponse:
    """Validate a resource that must be of ``resource_type``."""
    plan = validator.checker.type_plan(resource_type)
    if plan is None or plan.kind != "resource" or plan.abstract:
        return _problem(404, "not-supported", f"{resource_type} is not an R4 resource type")
    return await _validate(request, validator, profile, resource_type)


@router.get("/metadata", response_class=JSONResponse)
def metadata(validator: ValidatorDep) -> JSONResponse:
    """A CapabilityStatement listing $validate, $apply and the loaded profiles."""
    return JSONResponse(capability_statement(validator), media_type=FHIR_JSON)


def capability_statement(validator: Validator) -> dict[str, Any]:
    from adapter import __version__

    by_type: dict[str, list[str]] = {}
    for url in sorted(validator.registry.urls()):
        if url.startswith("http://hl7.org/fhir/"):
            continue
        sd = validator.registry.structure_definition(url)
        if sd is not None and sd.get("kind") == "resource" and sd.get("derivation") == "constraint":
            by_type.setdefault(str(sd.get("type")), []).append(url)
    operation = {
        "name": "validate",
        "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
    }
    apply = {
        "name": "apply",
        "definition": "http://hl7.org/fhir/uv/cpg/OperationDefinition/cpg-plandefinition-apply",
    }
    resources = [
        {"type": rtype, "supportedProfile": urls, "operation": [operation]}
        for rtype, urls in sorted(by_type.items())
    ]
    plan = next((r for r in resources if r["type"] == "PlanDefinition"), None)
    if plan is None:
        resources.append({"type": "PlanDefinition", "operation": [operation, apply]})
    else:
        plan["operation"] = [operation, apply]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-01-01",
        "kind": "instance",
        "software": {"name": "ball-fhir", "version": __version__},
        "implementation": {"description": "ball-fhir: $validate and PlanDefinition $apply"},
        "fhirVersion": "4.0.1",
        "format": ["json", FHIR_JSON],
        "rest": [
            {
                "mode": "server",
                "documentation": "POST [base]/$validate and POST [base]/[type]/$validate accept "
                "a resource, a Bundle or a Parameters (resource, profile); "
                "POST [base]/PlanDefinition/[id]/$apply (CPG) evaluates a protocol.",
                "resource": resources,
                "operation": [operation],
            }
        ],
    }
