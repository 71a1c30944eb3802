"""FHIR ``$validate`` over HTTP (https://hl7.org/fhir/R4/resource-operation-validate.html).

``POST /fhir/{type}/$validate`` and ``POST /fhir/{type}/{id}/$validate`` (and, as an extension,
``POST /fhir/$validate``) accept a resource, a Bundle, or a ``Parameters`` with ``resource``,
``mode`` and ``profile``; ``mode`` and ``profile`` may also be query parameters.  ``mode`` is one
of create, update, delete, profile (https://hl7.org/fhir/R4/valueset-resource-validation-mode.html);
another value is a 400.  A GET carries only primitive parameters
(https://hl7.org/fhir/R4/operations.html#request), so it can ask only ``mode=delete`` of an
instance.  The answer is an OperationOutcome: 200 whatever the validation found (FHIR $validate
semantics), 4xx with an OperationOutcome when the request itself is unusable.  The validator is
stateless: it holds no stored resources, so ``update`` checks the ids and ``delete`` has nothing
that could prevent it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from adapter.http_edge import json_body
from adapter.issues import Issue, IssueCode, to_operation_outcome
from adapter.validation import Validator, default_validator

FHIR_JSON = "application/fhir+json"
#: https://hl7.org/fhir/R4/valueset-resource-validation-mode.html
MODES = ("create", "update", "delete", "profile")

router = APIRouter(prefix="/fhir", tags=["validation"])


def get_validator() -> Validator:
    """The validator used by the routes (overridden by ``create_app(validator=...)``)."""
    return default_validator()


ValidatorDep = Annotated[Validator, Depends(get_validator)]
ProfileQuery = Annotated[list[str] | None, Query(alias="profile")]
ModeQuery = Annotated[str | None, Query(alias="mode")]


def outcome_response(issues: list[Issue], status: int = 200) -> JSONResponse:
    return JSONResponse(to_operation_outcome(issues), status_code=status, media_type=FHIR_JSON)


def _problem(status: int, code: IssueCode, message: str) -> JSONResponse:
    return outcome_response([Issue("error", code, message, "request")], status)


@dataclass(slots=True)
class Call:
    """The parameters of one $validate call, from the query and a Parameters body."""

    resource: Any = None
    profiles: list[str] = field(default_factory=list)
    mode: str | None = None


def _unwrap(body: dict[str, Any], call: Call) -> str | None:
    """Read a Parameters body into ``call``; why it is unusable, or None."""
    resources: list[Any] = []
    for parameter in body.get("parameter") or []:
        if not isinstance(parameter, dict):
            continue
        name = parameter.get("name")
        if name == "resource" and "resource" in parameter:
            resources.append(parameter["resource"])
        elif name == "profile":
            for key in ("valueUri", "valueCanonical", "valueString"):
                if isinstance(parameter.get(key), str):
                    call.profiles.append(parameter[key])
        elif name == "mode":
            for key in ("valueCode", "valueString"):
                if isinstance(parameter.get(key), str):
                    call.mode = parameter[key]
    if len(resources) > 1:
        return f"a Parameters body takes at most one 'resource' parameter, found {len(resources)}"
    call.resource = resources[0] if resources else None
    return None


async def _read_body(request: Request, call: Call, type_: str | None) -> JSONResponse | None:
    try:
        body = await json_body(request)
    except ValueError as exc:
        return _problem(400, "structure", f"the body is not valid JSON: {exc}")
    if body is None:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        return _problem(400, "structure", "the body must be a FHIR resource (a JSON object)")
    if body["resourceType"] == "Parameters" and type_ != "Parameters":
        why = _unwrap(body, call)
        if why is not None:
            return _problem(400, "required", why)
        if call.resource is not None and not isinstance(call.resource, dict):
            return _problem(400, "structure", "the 'resource' parameter is not a resource")
    else:
        call.resource = body
    return None


def _mode_issues(call: Call, id_: str | None) -> list[Issue]:
    """What ``mode`` adds to the validation of a stateless server."""
    resource = call.resource if isinstance(call.resource, dict) else {}
    if call.mode == "update":
        rid = resource.get("id")
        if not isinstance(rid, str):
            return [Issue("error", "required", "mode update: the resource needs an id", "mode")]
        if id_ is not None and rid != id_:
            return [
                Issue(
                    "error",
                    "value",
                    f"mode update: the resource id {rid!r} is not the id {id_!r} of the URL",
                    "mode",
                )
            ]
    if call.mode == "delete":
        return [
            Issue(
                "information",
                "informational",
                "mode delete: this validator stores no resources, so nothing prevents the deletion",
                "mode",
            )
        ]
    return []


async def _validate(
    request: Request,
    validator: Validator,
    call: Call,
    type_: str | None,
    id_: str | None = None,
) -> JSONResponse:
    if request.method == "POST":
        problem = await _read_body(request, call, type_)
        if problem is not None:
            return problem
    if call.mode is not None and call.mode not in MODES:
        return _problem(400, "value", f"unknown mode {call.mode!r}: use one of {', '.join(MODES)}")
    if call.resource is None:
        if call.mode == "delete" and id_ is not None:
            return outcome_response(_mode_issues(call, id_))
        return _problem(
            400,
            "required",
            "no resource to validate: POST the resource or a Parameters with 'resource' "
            "(only mode=delete of an instance needs none)",
        )
    resource: dict[str, Any] = call.resource
    if type_ is not None and resource.get("resourceType") != type_:
        return _problem(
            400,
            "invalid",
            f"the resource is a {resource.get('resourceType')}, not a {type_}",
        )
    unknown = [p for p in call.profiles if validator.registry.structure_definition(p) is None]
    if unknown:
        return _problem(400, "not-found", f"unknown profile(s): {', '.join(unknown)}")
    issues = await run_in_threadpool(validator.validate, resource, call.profiles or None)
    return outcome_response([*_mode_issues(call, id_), *issues])


async def _validate_as(
    request: Request,
    validator: Validator,
    call: Call,
    resource_type: str,
    resource_id: str | None = None,
) -> JSONResponse:
    """Type and instance level: ``resource_type`` must be a concrete R4 resource type."""
    plan = validator.checker.type_plan(resource_type)
    if plan is None or plan.kind != "resource" or plan.abstract:
        return _problem(404, "not-supported", f"{resource_type} is not an R4 resource type")
    return await _validate(request, validator, call, resource_type, resource_id)


@router.post("/$validate", response_class=JSONResponse)
async def validate_any(
    request: Request, validator: ValidatorDep, profile: ProfileQuery = None, mode: ModeQuery = None
) -> JSONResponse:
    """Validate a resource, a Bundle or a Parameters wrapper (any type)."""
    return await _validate(request, validator, Call(profiles=list(profile or []), mode=mode), None)


@router.post("/{resource_type}/$validate", response_class=JSONResponse)
@router.get(
    "/{resource_type}/$validate", response_class=JSONResponse
)  # a route per method: distinct OpenAPI operation ids
async def validate_type(
    resource_type: str,
    request: Request,
    validator: ValidatorDep,
    profile: ProfileQuery = None,
    mode: ModeQuery = None,
) -> JSONResponse:
    """Validate a resource that must be of ``resource_type``."""
    call = Call(profiles=list(profile or []), mode=mode)
    return await _validate_as(request, validator, call, resource_type)


@router.post("/{resource_type}/{resource_id}/$validate", response_class=JSONResponse)
@router.get("/{resource_type}/{resource_id}/$validate", response_class=JSONResponse)
async def validate_instance(
    resource_type: str,
    resource_id: str,
    request: Request,
    validator: ValidatorDep,
    profile: ProfileQuery = None,
    mode: ModeQuery = None,
) -> JSONResponse:
    """Validate a posted resource as the instance ``resource_type/resource_id``."""
    call = Call(profiles=list(profile or []), mode=mode)
    return await _validate_as(request, validator, call, resource_type, resource_id)


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
                "documentation": "POST [base]/[type]/$validate, [base]/[type]/[id]/$validate (and "
                "[base]/$validate) accept a resource, a Bundle or a Parameters (resource, mode, "
                "profile); "
                "POST [base]/PlanDefinition/[id]/$apply (CPG) evaluates a protocol.",
                "resource": resources,
                "operation": [operation],
            }
        ],
    }
