"""The generic edges of the HTTP API, applied to every router :func:`adapter.api.create_app`
joins (those added later included): limits, safe JSON, content negotiation, errors as
OperationOutcome, access logs, ``GET /health`` and the OpenAPI description of bodies and errors.

:class:`EdgeMiddleware` (pure ASGI, so it sees every request before routing):

- a request body is read whole, at most ``max_body`` bytes (413) within ``body_timeout``
  seconds (408), and handed on to the route unchanged;
- under ``/fhir`` (FHIR RESTful API, https://hl7.org/fhir/R4/http.html#mime-type): a body
  whose Content-Type is not JSON gets 415; ``Accept`` or ``_format`` asking only for another
  format (XML, Turtle) gets 406.  ``/cds-services`` (CDS Hooks, plain ``application/json``) and
  other paths are not negotiated;
- a JSON body is parsed once, strictly, before any route sees it: not UTF-8, lone surrogates,
  NaN/Infinity, numbers too large for a double, nesting deeper than ``max_depth`` -> 400.  A
  body of at most ``inline_json`` bytes is parsed on the event loop (under a millisecond); a
  larger one in the thread pool, so that it does not hold up small requests.  Routes read the
  parsed value with :func:`json_body` (or :func:`parsed_json`, with its size);
- one JSON log line per request (method, route path without query, status, duration): never
  a header, a query string or a body, which may hold patient data.

:func:`install` adds the exception handlers (every error, 404 and 405 included, is an
OperationOutcome with ``application/fhir+json``), ``GET /health`` and the OpenAPI additions; the
middleware turns an unexpected exception into a 500 OperationOutcome without details, logged by
type and route only.
Settings come from :class:`Limits` (environment variables ``BALL_FHIR_MAX_BODY``,
``BALL_FHIR_MAX_DEPTH``, ``BALL_FHIR_BODY_TIMEOUT``).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import anyio
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapter.issues import Issue, IssueCode, to_operation_outcome

FHIR_JSON = "application/fhir+json"
#: media types a JSON body may be declared as (FHIR R4 http.html#mime-type; RFC 8259)
JSON_TYPES = frozenset({FHIR_JSON, "application/json", "application/json+fhir", "text/json"})
#: ``Accept`` entries a JSON answer satisfies
ACCEPTABLE = JSON_TYPES | {"*/*", "application/*"}
#: ``_format`` values meaning JSON (FHIR R4 http.html#parameters)
JSON_FORMATS = JSON_TYPES | {"json"}
NEGOTIATED_PREFIX = "/fhir"

access_log = logging.getLogger("ball_fhir.access")
error_log = logging.getLogger("ball_fhir.error")


#: Young-generation threshold of a server process (CPython's default is 700): one CDS Hooks or
#: $validate request allocates tens of thousands of short-lived dicts and lists, which would
#: otherwise trigger dozens of collections per request (benchmarks/cds_latency.py: p99 at
#: concurrency 8 went from 78-81 ms to 48 ms with this and the freeze below).
GC_GEN0_THRESHOLD = 50_000


@asynccontextmanager
async def server_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Garbage-collector settings of a long-running server process (each uvicorn worker runs
    this at start): what is loaded by then (modules, routes, tables) is frozen out of the
    collector's scans, and the young generation collects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 50, 100)
    yield


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"${name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"${name} must be positive, not {raw!r}")
    return value


@dataclass(frozen=True)
class Limits:
    """What one request may cost."""

    #: largest request body in bytes (default 20 MB)
    max_body: int = 20 * 1024 * 1024
    #: deepest nesting of objects and arrays in a JSON body
    max_depth: int = 100
    #: seconds a client may take to send its body (slow uploads)
    body_timeout: float = 60.0
    #: largest JSON body parsed on the event loop (larger ones: in the thread pool); 256 KiB
    #: parse in well under a millisecond, less than the hand-off to a thread costs the others
    inline_json: int = 256 * 1024

    @classmethod
    def from_environment(cls) -> Limits:
        """``$BALL_FHIR_MAX_BODY`` (bytes), ``$BALL_FHIR_MAX_DEPTH``,
        ``$BALL_FHIR_BODY_TIMEOUT`` (seconds), each defaulting to the class default."""
        return cls(
            int(_env_number("BALL_FHIR_MAX_BODY", cls.max_body)),
            int(_env_number("BALL_FHIR_MAX_DEPTH", cls.max_depth)),
            _env_number("BALL_FHIR_BODY_TIMEOUT", cls.body_timeout),
        )


def outcome(status: int, code: IssueCode, message: str) -> JSONResponse:
    """An error answer: an OperationOutcome with one error issue, ``application/fhir+json``."""
    issue = Issue("error", code, message)
    return JSONResponse(to_operation_outcome([issue]), status_code=status, media_type=FHIR_JSON)


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _nesting_over(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest deeper than ``limit``.  Fast path: orjson's indented
    form puts each member of a container at depth d on a line of its own indented 2*d spaces,
    so without a line indented 2*limit spaces no container at depth ``limit`` has members and
    nothing is deeper.  Only when there is one (or orjson refuses to write a value nested
    over 255 levels) are the levels walked (iteratively)."""
    try:
        if b"\n" + b" " * (2 * limit) not in orjson.dumps(value, option=orjson.OPT_INDENT_2):
            return False
    except orjson.JSONEncodeError:
        pass  # nested over 255 levels: walked below
    level, depth = [value], 1
    while level:
        if depth > limit:
            return True
        deeper: list[Any] = []
        for node in level:
            children = node.values() if isinstance(node, dict) else node
            deeper += [c for c in children if isinstance(c, dict | list)]
        level, depth = deeper, depth + 1
    return False


#: the key under which the edge leaves a request's parsed JSON body in the ASGI scope's
#: ``state`` (:func:`parsed_json`)
PARSED_JSON = "ball_fhir.parsed_json"


def parse_json(body: bytes, max_depth: int) -> tuple[Any, str | None]:
    """The parsed body and None, or None and why it is not acceptable JSON.  orjson is strict
    where the standard parser is lenient: it refuses invalid UTF-8, lone surrogates, NaN and
    Infinity, numbers beyond a double and nesting deeper than 1024, each with a message."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return None, f"the body is not valid JSON: {exc}"
    if isinstance(parsed, dict | list) and _nesting_over(parsed, max_depth):
        return None, f"the body nests objects and arrays deeper than {max_depth} levels"
    return parsed, None


async def json_body(request: Request) -> Any:
    """The request's JSON body: the edge's parse when it made one, else the bytes parsed here
    in the thread pool (ValueError when they are not JSON); None for an empty body."""
    parsed = parsed_json(request)
    if parsed is not None:
        return parsed[0]
    raw = await request.body()
    if not raw.strip():
        return None
    return await anyio.to_thread.run_sync(json.loads, raw)


def parsed_json(request: Request) -> tuple[Any, int] | None:
    """The JSON body the edge parsed for this request and its size in bytes (None: the edge
    did not parse one, e.g. the route runs without :class:`EdgeMiddleware`)."""
    found: tuple[Any, int] | None = request.scope.get("state", {}).get(PARSED_JSON)
    return found


def negotiation_problem(scope: Scope, has_body: bool) -> tuple[int, str] | None:
    """415 or 406 with the reason, for a FHIR request asking for a format we do not speak."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    content_type = headers.get("content-type")
    if has_body and content_type is not None and _media_type(content_type) not in JSON_TYPES:
        return 415, (
            f"Content-Type {content_type!r} is not supported: send FHIR JSON "
            f"({FHIR_JSON} or application/json)"
        )
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    fmt = query.get("_format")
    # an unescaped "+" (application/fhir+json) arrives as a space
    if fmt is not None and _media_type(fmt.replace(" ", "+")) not in JSON_FORMATS:
        return 406, f"_format={fmt} is not supported: this server speaks FHIR JSON only"
    accept = headers.get("accept")
    if accept and not {_media_type(a) for a in accept.split(",")} & ACCEPTABLE:
        return 406, f"Accept {accept!r} is not supported: this server speaks FHIR JSON only"
    return None


class EdgeMiddleware:
    """The per-request edge (see the module docstring)."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500, "started": 0}

        async def logged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], 1
            await send(message)

        try:
            await self._handle(scope, receive, logged_send)
        except Exception as exc:
            # logged by type and route only: the message may quote the request's (patient) data
            error_log.error(
                "unhandled exception",
                extra={"exception": type(exc).__name__, "path": _route_path(scope)},
            )
            if not status["started"]:
                message = "internal error; the server log names the exception type"
                await outcome(500, "exception", message)(scope, receive, logged_send)
        finally:
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": _route_path(scope),
                    "status": status["code"],
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        has_body = scope["method"] in ("POST", "PUT", "PATCH")
        path = scope["path"]
        negotiated = path == NEGOTIATED_PREFIX or path.startswith(NEGOTIATED_PREFIX + "/")
        if negotiated:
            problem = negotiation_problem(scope, has_body)
            if problem is not None:
                await outcome(problem[0], "not-supported", problem[1])(scope, receive, send)
                return
        if not has_body:
            await self.app(scope, receive, send)
            return
        body = await self._read_body(scope, receive, send)
        if body is None:
            return
        headers = dict(scope["headers"])
        content_type = _media_type(headers.get(b"content-type", b"").decode("latin-1"))
        if body and (negotiated or content_type in JSON_TYPES):
            depth = self.limits.max_depth
            if len(body) <= self.limits.inline_json:
                parsed, problem_text = parse_json(body, depth)
            else:
                parsed, problem_text = await anyio.to_thread.run_sync(parse_json, body, depth)
            if problem_text is not None:
                await outcome(400, "structure", problem_text)(scope, receive, send)
                return
            scope.setdefault("state", {})[PARSED_JSON] = (parsed, len(body))
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None when an error answer was sent (413, 408)."""
        limit = self.limits.max_body
        too_large = f"the request body is larger than the limit of {limit} bytes"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await outcome(413, "too-costly", too_large)(scope, receive, send)
            return None
        chunks: list[bytes] = []
        size = 0
        with anyio.move_on_after(self.limits.body_timeout) as timer:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    await outcome(413, "too-costly", too_large)(scope, receive, send)
                    return None
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        if timer.cancelled_caught:
            late = f"the request body did not arrive within {self.limits.body_timeout:g} s"
            await outcome(408, "timeout", late)(scope, receive, send)
            return None
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` handing the buffered body to the app once, then the client's own messages
    (the disconnect a streaming response listens for)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _route_path(scope: Scope) -> str:
    """The path template of the matched route (``/fhir/{resource_type}/$validate``), never the
    raw path: ids in a path can identify a patient."""
    template = getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) else "(no route)"


# -- exception handlers, /health, OpenAPI -----------------------------------------------------

_STATUS_CODES: dict[int, IssueCode] = {
    400: "invalid",
    401: "security",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    408: "timeout",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
}


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # noqa: S101 (registered for HTTPException only)
    code = _STATUS_CODES.get(exc.status_code, "processing")
    response = outcome(exc.status_code, code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _bad_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 (registered for it only)
    places = "; ".join(
        f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg')}"
        for error in exc.errors()
    )
    return outcome(400, "invalid", f"bad request: {places}"[:500])


_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": text,
        "content": {FHIR_JSON: {"schema": {"$ref": "#/components/schemas/OperationOutcome"}}},
    }
    for status, text in (
        (400, "Bad request: not JSON, not FHIR, nested too deeply, wrong parameters"),
        (404, "Not found"),
        (405, "Method not allowed"),
        (406, "Not acceptable: only FHIR JSON is produced"),
        (408, "The request body did not arrive in time"),
        (413, "The request body is too large"),
        (415, "Unsupported Content-Type: send FHIR JSON"),
        (500, "Internal error"),
    )
}

_OPERATION_OUTCOME_SCHEMA = {
    "type": "object",
    "description": "FHIR R4 OperationOutcome (https://hl7.org/fhir/R4/operationoutcome.html)",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"const": "OperationOutcome"},
        "issue": {"type": "array", "items": {"type": "object"}},
    },
}

_FHIR_BODY = {
    "required": True,
    "content": {
        FHIR_JSON: {
            "schema": {
                "type": "object",
                "description": "A FHIR R4 resource as JSON (https://hl7.org/fhir/R4/json.html)",
                "required": ["resourceType"],
                "properties": {"resourceType": {"type": "string"}},
            }
        }
    },
}


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` with FHIR JSON request bodies on the ``/fhir`` POST operations that
    read their body themselves and the real error responses on every operation."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {})["OperationOutcome"] = (
                _OPERATION_OUTCOME_SCHEMA
            )
            for path, operations in schema.get("paths", {}).items():
                for method, operation in operations.items():
                    if method in ("post", "put") and path.startswith(NEGOTIATED_PREFIX + "/"):
                        operation.setdefault("requestBody", _FHIR_BODY)
                    responses = operation.setdefault("responses", {})
                    responses.pop("422", None)  # FastAPI's default: we answer 400
                    for status, response in _ERROR_RESPONSES.items():
                        responses.setdefault(str(status), response)
            app.openapi_schema = schema
        return app.openapi_schema

    return build


def install(app: FastAPI, limits: Limits) -> None:
    """Add the middleware, the exception handlers, ``GET /health`` and the OpenAPI additions."""
    app.add_middleware(EdgeMiddleware, limits=limits)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _bad_request)

    @app.get("/health", tags=["operations"], summary="liveness: 200 while the server runs")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.openapi = _openapi(app)  # type: ignore[method-assign]


class JsonLogFormatter(logging.Formatter):
    """One JSON object per log line: time, level, logger, message and the record's extras."""

    _PLAIN = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "color_message"}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in self._PLAIN})
        return json.dumps(line, default=str, ensure_ascii=False)


def log_config() -> dict[str, Any]:
    """``logging.config`` for ``ball-fhir serve``: JSON lines on stderr for our loggers and
    uvicorn's (uvicorn's own access log is off: :class:`EdgeMiddleware` writes one without
    query strings)."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonLogFormatter}},
        "handlers": {"stderr": handler},
        "loggers": {
            name: {"handlers": ["stderr"], "level": "INFO", "propagate": False}
            for name in ("ball_fhir", "uvicorn", "uvicorn.error")
        },
    }
