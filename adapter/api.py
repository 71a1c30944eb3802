"""The HTTP edge (FastAPI): ``create_app()`` joins the routers; ``ball-fhir serve`` runs it.

Routers live in :mod:`adapter.routes` (one module per concern, full-stack-fastapi-template
layout).  :func:`adapter.http_edge.install` gives every router the same edges: body and depth
limits, strict JSON, content negotiation under ``/fhir``, every error an OperationOutcome,
access logs without patient data, ``GET /health`` and the OpenAPI error responses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from adapter import __version__
from adapter.http_edge import Limits, install, server_lifespan
from adapter.routes import cdshooks as cdshooks_routes
from adapter.routes import ingest as ingest_routes
from adapter.routes import pages as pages_routes
from adapter.routes import protocol as protocol_routes
from adapter.routes import validate as validate_routes
from adapter.validation import Validator


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Each worker process at start: the CDS Hooks protocol content read (before the server's
    GC settings freeze what is loaded), then :func:`adapter.http_edge.server_lifespan`."""
    await run_in_threadpool(cdshooks_routes.preload, app)
    async with server_lifespan(app):
        yield


def create_app(validator: Validator | None = None, limits: Limits | None = None) -> FastAPI:
    """The FastAPI application; ``validator`` replaces the default (core + profiles/package),
    ``limits`` those of the environment (:meth:`Limits.from_environment`)."""
    app = FastAPI(title="ball-fhir", version=__version__, lifespan=_lifespan)
    install(app, limits or Limits.from_environment())
    app.include_router(validate_routes.router)
    app.include_router(protocol_routes.router)
    app.include_router(pages_routes.router)
    cdshooks_routes.install(app)
    app.include_router(ingest_routes.router)
    if validator is not None:
        app.dependency_overrides[validate_routes.get_validator] = lambda: validator
    return app
