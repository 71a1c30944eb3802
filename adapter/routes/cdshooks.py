"""HTTP edge of the CDS Hooks service (CDS Hooks 2.0): discovery, service calls, feedback.

``GET /cds-services``, ``POST /cds-services/{id}``, ``POST /cds-services/{id}/feedback`` and
``GET /cds-feedback/summary``.  Every call carries a JWT checked for the exact endpoint URL
(``public_base_url`` + path, else the request URL); 401 without detail when it fails.  Answers:
400 malformed request, 404 unknown service, 412 required data unobtainable, 413 body too large,
500 without a stack trace; all with an OperationOutcome.  :func:`install` adds the router and
CORS for these paths only (configured origins; ``Authorization`` and ``Content-Type`` allowed).
Configuration: :func:`adapter.cdshooks.config.load_config` ($BALL_FHIR_CDS_CONFIG and
``BALL_FHIR_CDS_*``); tests pass a :class:`CdsState` of their own.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from adapter.cdshooks.config import CdsConfig, load_config
from adapter.cdshooks.feedback import parse_feedback
from adapter.cdshooks.fhirfetch import FhirFetcher
from adapter.cdshooks.hooks import CARD_TYPE_KEY, BadRequest, Runtime, call_service
from adapter.cdshooks.prefetch import PrefetchUnavailable, WouldFetch
from adapter.cdshooks.security import Unauthorized, Verifier
from adapter.cdshooks.services import SERVICES, discovery_document
from adapter.http_edge import parsed_json
from adapter.issues import Issue, to_operation_outcome
from adapter.protocol import Protocol
from adapter.routes.protocol import get_protocols
from adapter.store.feedback import FeedbackStore, SqliteFeedbackStore

log = logging.getLogger("ball_fhir.cdshooks")
PATHS = ("/cds-services", "/cds-feedback")
DEV_MODE_WARNING = (
    "CDS Hooks DEV MODE: JWTs are NOT verified and http fhirServer URLs are allowed. "
    "Never use it with patient data."
)

router = APIRouter(tags=["cds-hooks"])


class CdsState:
    """Configuration and the parts built from it (store opened on first use)."""

    def __init__(
        self,
        config: CdsConfig,
        protocols: dict[str, Protocol] | None = None,
        store: FeedbackStore | None = None,
        clock: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.config = config
        self._protocols = protocols
        # JWT ids are checked against the store: shared by every worker process
        self.verifier = Verifier(
            config, lambda iss, jti, until: self.store.first_use(iss, jti, until)
        )
        self._store = store
        self._runtime: Runtime | None = None
        self.clock = clock

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            protocols = self._protocols if self._protocols is not None else get_protocols()
            self._runtime = Runtime(self.config, protocols, FhirFetcher(self.config), self.clock)
        return self._runtime

    @property
    def built(self) -> bool:
        """Whether the runtime and the store exist (their first use reads files)."""
        return self._runtime is not None and self._store is not None

    @property
    def store(self) -> FeedbackStore:
        if self._store is None:
            self._store = SqliteFeedbackStore(self.config.feedback_db)
        return self._store


def _state(request: Request) -> CdsState:
    return _state_of(request.app)


def _outcome(status: int, issues: list[Issue]) -> JSONResponse:
    return JSONResponse(
        to_operation_outcome(issues), status_code=status, media_type="application/fhir+json"
    )


def _error(status: int, code: Any, message: str) -> JSONResponse:
    return _outcome(status, [Issue("error", code, message)])


UNAUTHORIZED_BODY = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "login", "diagnostics": "unauthorized"}],
}


def _audience(state: CdsState, request: Request) -> str:
    base = state.config.public_base_url
    if base:
        return base.rstrip("/") + request.url.path
    return str(request.url.replace(query="", fragment=""))


def _authenticate(state: CdsState, request: Request) -> JSONResponse | None:
    try:
        state.verifier.verify(request.headers.get("authorization"), _audience(state, request))
    except Unauthorized as exc:
        log.info("CDS Hooks call to %s refused: %s", request.url.path, exc)
        return JSONResponse(
            UNAUTHORIZED_BODY,
            status_code=401,
            media_type="application/fhir+json",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return None


class _TooLarge(Exception):
    """The body is over ``max_body_bytes`` (413)."""


async def _json_body(state: CdsState, request: Request) -> tuple[Any, int]:
    """The parsed body and its size in bytes (the one the HTTP edge parsed, when it did)."""
    limit = state.config.max_body_bytes
    parsed = parsed_json(request)
    if parsed is not None:
        if parsed[1] > limit:
            raise _TooLarge
        return parsed
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise _TooLarge
    try:
        return orjson.loads(raw), len(raw)
    except orjson.JSONDecodeError:
        raise BadRequest([Issue("error", "structure", "the body is not JSON")]) from None


async def _read(request: Request, produce: Callable[[CdsState], Any]) -> JSONResponse:
    """A GET: authenticate, then ``produce(state)`` in the thread pool, as JSON."""
    state = _state(request)
    refused = _authenticate(state, request)
    if refused is not None:
        return refused
    return JSONResponse(await run_in_threadpool(produce, state))


@router.get("/cds-services")
async def discovery(request: Request) -> JSONResponse:
    """CDS Hooks 2.0 §Discovery."""
    return await _read(request, lambda state: discovery_document(state.config.dev_mode))


#: largest body whose CPU-only work runs on the event loop (about 6 ms of patient-view work);
#: a larger one goes to the thread pool so that it does not hold up small requests (README)
INLINE_MAX_BYTES = 256 * 1024


async def _guarded(
    state: CdsState,
    request: Request,
    work: Callable[[Any], Response],
    offline: Callable[[Any], Response] | None = None,
) -> Response:
    """Authenticate, read the body, run ``work(body)`` in the thread pool, map failures.
    ``offline(body)``, which does not wait on the network (it raises
    :class:`~adapter.cdshooks.prefetch.WouldFetch` instead), runs first on the event loop when
    the body is at most :data:`INLINE_MAX_BYTES` and the state is built (the first call loads
    protocols and opens the store): a few milliseconds of CPU-only work gain nothing from a
    thread in one process (the GIL serialises it), and the hand-offs cost about a fifth of the
    throughput (benchmarks/cds_latency.py)."""
    refused = _authenticate(state, request)
    if refused is not None:
        return refused
    try:
        body, size = await _json_body(state, request)
        if offline is not None and size <= INLINE_MAX_BYTES and state.built:
            try:
                return offline(body)
            except WouldFetch:
                pass
        result: Response = await run_in_threadpool(work, body)
        return result
    except _TooLarge:
        return _error(413, "too-costly", f"the body is over {state.config.max_body_bytes} bytes")
    except BadRequest as exc:
        return _outcome(400, exc.issues)
    except PrefetchUnavailable as exc:
        return _outcome(412, exc.issues)
    except Exception:
        log.exception("CDS Hooks call to %s failed", request.url.path)
        return _error(500, "exception", "internal error (logged on the server)")


@router.post("/cds-services/{service_id}")
async def service_call(service_id: str, request: Request) -> Response:
    """CDS Hooks 2.0 §Calling a CDS Service."""
    state = _state(request)
    service = SERVICES.get(service_id)
    if service is None:
        refused = _authenticate(state, request)
        return refused or _error(404, "not-found", f"no CDS service '{service_id}'")
    found = service

    def work(body: Any, offline: bool = False) -> Response:
        response = call_service(found, body, state.runtime, offline=offline)
        state.store.record_cards(
            service_id, [(c["uuid"], c["extension"][CARD_TYPE_KEY]) for c in response["cards"]]
        )
        return Response(orjson.dumps(response), media_type="application/json")

    return await _guarded(state, request, work, lambda body: work(body, offline=True))


@router.post("/cds-services/{service_id}/feedback")
async def feedback(service_id: str, request: Request) -> Response:
    """CDS Hooks 2.0 §Feedback: stored durably, the same entry once."""
    state = _state(request)

    def work(body: Any) -> Response:
        added = state.store.add_feedback(service_id, parse_feedback(body))
        return JSONResponse({"stored": added})

    if service_id not in SERVICES:
        refused = _authenticate(state, request)
        return refused or _error(404, "not-found", f"no CDS service '{service_id}'")
    return await _guarded(state, request, work)


@router.get("/cds-feedback/summary")
async def feedback_summary(request: Request) -> JSONResponse:
    """Accepted/overridden counts per service, card type and override reason."""
    return await _read(
        request, lambda state: {"summary": [r.to_json() for r in state.store.summary()]}
    )


class ScopedCors:
    """Starlette's CORS middleware, applied to the CDS Hooks paths only."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and path.startswith(PATHS):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def preload(app: FastAPI) -> None:
    """Read the protocol content the services evaluate with, at a worker's start: its first
    call would otherwise wait for it (the feedback store is opened on first use, so a server
    that answers no CDS call writes no file)."""
    _state_of(app).runtime  # noqa: B018 (the property builds the runtime)


def _state_of(app: FastAPI) -> CdsState:
    state: CdsState = app.state.cds
    return state


def install(app: FastAPI, state: CdsState | None = None) -> None:
    """Serve CDS Hooks on ``app``: the router, CORS for its paths, the dev-mode warning."""
    state = state or CdsState(load_config())
    app.state.cds = state
    app.include_router(router)
    if state.config.cors_origins:
        app.add_middleware(ScopedCors, origins=state.config.cors_origins)
    if state.config.dev_mode:
        log.warning(DEV_MODE_WARNING)
