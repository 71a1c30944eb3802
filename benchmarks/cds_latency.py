"""Benchmark of the CDS Hooks service: patient-view latency and throughput over loopback.

A patient of 300 resources (the example course, examples/protocol/course-bundle.json, plus
blood-count Observations through the course) is sent with full prefetch to
``POST /cds-services/ball-patient-view`` of a server this script starts (uvicorn, one process,
JWT verification on: every request carries its own ES384 token, signed before timing).  In the
same run, the same body goes to a trivial FastAPI endpoint of the same server (reads the body,
answers ``{"cards": []}``): the baseline.  At concurrency 1, 8 and 32 (asyncio + httpx), the
script prints p50/p95/p99 latency, requests/s and the throughput ratio to the baseline.

Target (issue 15): p99 under 50 ms at concurrency 8, and at least a third of the baseline's
throughput.  Run: ``.venv/bin/python -m benchmarks.cds_latency [--requests 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from adapter.cdshooks.config import CdsConfig, TrustedClient
from adapter.http_edge import server_lifespan
from adapter.routes.cdshooks import CdsState, install
from tests.cdshooks.helpers import (
    COURSE1_DAY20,
    Signer,
    course_resources,
    patient_id,
    request,
)

PV_PATH = "/cds-services/ball-patient-view"
BASELINE_PATH = "/baseline"
RESOURCES = 300
LEVELS = (1, 8, 32)


def big_patient() -> dict[str, list[dict[str, Any]]]:
    """The example course plus daily blood counts until it holds ``RESOURCES`` resources."""
    resources = course_resources()
    pid = patient_id(resources)
    have = sum(len(v) for v in resources.values())
    codes = (("718-7", "g/L", 95.0), ("777-3", "10*9/L", 80.0), ("26446-5", "%", 2.0))
    start = dt.date(2022, 2, 1)
    for i in range(RESOURCES - have):
        code, unit, value = codes[i % len(codes)]
        resources["Observation"].append(
            {
                "resourceType": "Observation",
                "id": f"bench-{i}",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "subject": {"reference": f"Patient/{pid}"},
                "effectiveDateTime": (start + dt.timedelta(days=i // 3)).isoformat(),
                "valueQuantity": {
                    "value": value + i % 7,
                    "unit": unit,
                    "system": "http://unitsofmeasure.org",
                    "code": unit,
                },
            }
        )
    return resources


def serve(port: int, jwk: dict[str, Any], feedback_db: str) -> None:
    """The server process: CDS routes (JWT on) and the trivial baseline endpoint."""
    app = FastAPI(lifespan=server_lifespan)  # the GC settings of `ball-fhir serve`
    cfg = CdsConfig(
        clients=[TrustedClient(iss="https://ehr.example.org", jwks={"keys": [jwk]})],
        feedback_db=feedback_db,
        public_base_url=f"http://127.0.0.1:{port}",
    )
    install(app, CdsState(cfg, clock=lambda: COURSE1_DAY20))

    @app.post(BASELINE_PATH)
    async def baseline(req: Request) -> JSONResponse:
        await req.body()
        return JSONResponse({"cards": []})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


async def run_level(
    base: str, path: str, body: bytes, tokens: list[str], concurrency: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue = list(tokens)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            while queue:
                token = queue.pop()
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                t0 = time.perf_counter()
                answer = await client.post(path, content=body, headers=headers)
                latencies.append(time.perf_counter() - t0)
                if answer.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {answer.status_code} {answer.text[:300]}")

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    return latencies, wall


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300, help="requests per level and path")
    parser.add_argument("--port", type=int, default=8731)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--jwk", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.port, json.loads(args.jwk), args.db)
        return
    signer = Signer()
    resources = big_patient()
    body = json.dumps(request("ball-patient-view", resources)).encode()
    base = f"http://127.0.0.1:{args.port}"
    db = f"/tmp/cds-bench-{os.getpid()}.sqlite"
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.cds_latency", "--serve", "--port", str(args.port),
         "--jwk", json.dumps(signer.jwk()), "--db", db],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(base + BASELINE_PATH, content=b"{}", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.1)
        print(
            f"patient-view, {sum(len(v) for v in resources.values())} resources in the prefetch, "
            f"body {len(body) / 1024:.0f} KiB, {args.requests} requests per level"
        )
        print(f"{'':10} {'conc':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8}")
        for level in LEVELS:
            rates = {}
            for name, path in (("baseline", BASELINE_PATH), ("cds", PV_PATH)):
                n = args.requests
                tokens = [signer.token(base + path) for _ in range(n + level)]
                asyncio.run(run_level(base, path, body, tokens[:level], level))  # warm-up
                lat, wall = asyncio.run(run_level(base, path, body, tokens[level:], level))
                rates[name] = n / wall
                print(
                    f"{name:10} {level:>4} {pct(lat, 50):8.1f} {pct(lat, 95):8.1f} "
                    f"{pct(lat, 99):8.1f} {rates[name]:8.0f}"
                    + (f"   mean {statistics.fmean(lat) * 1000:.1f} ms" if name == "cds" else "")
                )
            ratio = rates["cds"] / rates["baseline"]
            print(f"{'':10} {level:>4} throughput cds / baseline = {ratio:.2f}")
    finally:
        server.terminate()
        server.wait(timeout=10)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)


if __name__ == "__main__":
    main()
