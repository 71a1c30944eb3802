"""``ball-fhir serve``: run the HTTP API (adapter.api) with uvicorn, in one process or in
worker processes with a socket each (:mod:`adapter.workers`).

Every setting has an environment variable, for containers and process managers:
``BALL_FHIR_HOST``, ``BALL_FHIR_PORT``, ``WEB_CONCURRENCY`` (worker processes, the variable
uvicorn and gunicorn read) and the request limits of :class:`adapter.http_edge.Limits`
(``BALL_FHIR_MAX_BODY``, ``BALL_FHIR_MAX_DEPTH``, ``BALL_FHIR_BODY_TIMEOUT``).  Logs are JSON
lines on stderr without patient data (:func:`adapter.http_edge.log_config`).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from adapter.http_edge import Limits, log_config
from adapter.issues import UsageError
from adapter.workers import serve


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    if not raw.isdigit():
        raise UsageError(f"${name} must be a whole number, not {raw!r}")
    return int(raw)


def server_settings() -> dict[str, Any]:
    """uvicorn's settings for ``serve`` (and benchmarks/cds_latency.py, which measures it)."""
    return {
        "log_config": log_config(),
        "access_log": False,  # adapter.http_edge logs each request without its query string
        "timeout_keep_alive": 5,
        "timeout_graceful_shutdown": 30,
        # Python's own event loop, not uvloop: with uvloop, a worker busy with CPU-bound calls
        # on keep-alive connections served them unevenly (patient-view at concurrency 8, one
        # worker: p99 44-48 ms, twice the median; with asyncio 29 ms at the same throughput)
        "loop": "asyncio",
    }


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        Limits.from_environment()  # refuse bad limits before binding, not in each worker
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    return serve(
        "adapter.api:create_app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        **server_settings(),
    )


def register(commands: Any) -> None:
    """Add the ``serve`` command."""
    serve = commands.add_parser(
        "serve",
        help="serve $validate, $apply and metadata over HTTP",
        description=(
            "Run the HTTP API (FHIR JSON under /fhir, GET /health). No authentication: put it "
            "behind a reverse proxy that terminates TLS and authenticates (README, Deployment)."
        ),
    )
    serve.add_argument(
        "--host",
        default=os.environ.get("BALL_FHIR_HOST", "127.0.0.1"),
        help="address to bind (default: $BALL_FHIR_HOST or 127.0.0.1)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=_env_int("BALL_FHIR_PORT", 8080),
        help="port (default: $BALL_FHIR_PORT or 8080)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=_env_int("WEB_CONCURRENCY", 1),
        help="worker processes, each with its own validator (default: $WEB_CONCURRENCY or 1)",
    )
    serve.set_defaults(handler=cmd_serve)
