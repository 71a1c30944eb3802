"""The HTTP edge (FastAPI): ``create_app()`` joins the routers; ``ball-fhir serve`` runs it.

Routers live in :mod:`adapter.routes` (one module per concern, full-stack-fastapi-template
layout).  Errors in requests are answered with an OperationOutcome, never a stack trace.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from adapter import __version__
from adapter.issues import Issue
from adapter.routes import ingest as ingest_routes
from adapter.routes import protocol as protocol_routes
from adapter.routes import validate as validate_routes
from adapter.validation import Validator


def create_app(validator: Validator | None = None) -> FastAPI:
    """The FastAPI application; ``validator`` replaces the default (core + profiles/package)."""
    app = FastAPI(title="ball-fhir", version=__version__)
    app.include_router(validate_routes.router)
    app.include_router(protocol_routes.router)
    app.include_router(ingest_routes.router)
    if validator is not None:
        app.dependency_overrides[validate_routes.get_validator] = lambda: validator

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        issue = Issue("error", "invalid", f"bad request: {exc.errors()}"[:500], "request")
        return validate_routes.outcome_response([issue], 400)

    return app
