"""ASGI app factories for the worker-process tests: one that answers with its process id, one
that cannot start."""

from __future__ import annotations

import os

from fastapi import FastAPI


def create() -> FastAPI:
    app = FastAPI()

    @app.get("/pid")
    def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    return app


def broken() -> FastAPI:
    raise RuntimeError("this app cannot start")
