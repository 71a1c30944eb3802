"""``ball-fhir serve``: run the HTTP API (adapter.api) with uvicorn."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn  # imported here: only this command needs the server

    from adapter.api import create_app

    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info")
    return 0


def register(commands: Any) -> None:
    """Add the ``serve`` command."""
    serve = commands.add_parser("serve", help="serve $validate, $apply and metadata over HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    serve.set_defaults(handler=cmd_serve)
