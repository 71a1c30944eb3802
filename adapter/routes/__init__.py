"""HTTP routers (FastAPI ``APIRouter``s) joined by :func:`adapter.api.create_app`."""
