"""Benchmark of the CDS Hooks service: patient-view latency and throughput over loopback.

A patient of 300 resources (the example course, examples/protocol/course-bundle.json, plus
blood-count Observations through the course) is sent with full prefetch to
``POST /cds-services/ball-patient-view`` of the application ``ball-fhir serve`` runs
(:func:`adapter.api.create_app`: the HTTP edge's body limit, JSON check and access log
included; JWT verification on: every request carries its own ES384 token, signed before
timing), served as ``serve`` serves it (:func:`adapter.workers.serve`, same settings) in a
process this script starts.  In the same run, the same body goes to the baseline: a trivial
FastAPI endpoint (reads the body, answers ``{"cards": []}``) served the same way with the same
number of worker processes, measured while the first idles.  At concurrency 1, 8 and 32
(asyncio + httpx, one keep-alive connection per client), each timed 3 times (the round of
median throughput is shown), the script prints p50/p95/p99 latency, requests/s and the
throughput ratio to the baseline, for each ``--workers`` setting (default: 1, then 2).

Target (issue 15): p99 under 50 ms at concurrency 8, and at least a third of the baseline's
throughput there; the script says for each worker count whether it is met.
Run: ``.venv/bin/python -m benchmarks.cds_latency [--requests 300] [--rounds 3] [--workers 1,2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from adapter.api import create_app
from adapter.cdshooks.config import CdsConfig, TrustedClient
from adapter.routes.cdshooks import CdsState
from tests.cdshooks.helpers import (
    COURSE1_DAY20,
    ISS,
    Signer,
    course_resources,
    patient_id,
    request,
)

PV_PATH = "/cds-services/ball-patient-view"
BASELINE_PATH = "/baseline"
RESOURCES = 300
LEVELS = (1, 8, 32)
#: issue 15: p99 under 50 ms at concurrency 8 and at least a third of the baseline's throughput
TARGET_LEVEL, TARGET_P99_MS, TARGET_RATIO = 8, 50.0, 1 / 3


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


def baseline_app() -> FastAPI:
    """The baseline: a trivial FastAPI endpoint, alone in its app."""
    app = FastAPI()

    @app.post(BASELINE_PATH)
    async def baseline(req: Request) -> JSONResponse:
        await req.body()
        return JSONResponse({"cards": []})

    return app


def cds_app() -> FastAPI:
    """The application of ``ball-fhir serve``, its CDS Hooks service trusting the script's key
    (``$BENCH_JWK``), storing feedback and JWT ids in ``$BENCH_DB`` (shared by the workers) and
    evaluating on the example course's day 20."""
    app = create_app()
    cfg = CdsConfig(
        clients=[TrustedClient(iss=ISS, jwks={"keys": [json.loads(os.environ["BENCH_JWK"])]})],
        feedback_db=os.environ["BENCH_DB"],
        public_base_url=os.environ["BENCH_BASE"],
    )
    app.state.cds = CdsState(cfg, clock=lambda: COURSE1_DAY20)
    return app


async def run_level(
    url: str, body: bytes, warm_up: list[str], tokens: list[str], concurrency: int
) -> tuple[list[float], float]:
    """``concurrency`` clients on their own keep-alive connections: a warm-up round (opens the
    connections), then the timed one; the latencies and the wall time of the timed round."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker(queue: list[str], latencies: list[float]) -> None:
            while queue:
                token = queue.pop()
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                t0 = time.perf_counter()
                answer = await client.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - t0)
                if answer.status_code != 200:
                    raise RuntimeError(f"{url}: HTTP {answer.status_code} {answer.text[:300]}")

        first = list(warm_up)
        await asyncio.gather(*(worker(first, []) for _ in range(concurrency)))
        queue, latencies = list(tokens), list[float]()
        began = time.perf_counter()
        await asyncio.gather(*(worker(queue, latencies) for _ in range(concurrency)))
        wall = time.perf_counter() - began
    return latencies, wall


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


class Server:
    """A server of this script with ``ball-fhir serve``'s settings (JSON log on stderr, which
    goes to a file), in its own process with ``workers`` worker processes."""

    def __init__(self, factory: str, port: int, workers: int, env: dict[str, str]) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        code = (
            "from adapter.cli.serve import server_settings; from adapter.workers import serve; "
            f"serve('benchmarks.cds_latency:{factory}', host='127.0.0.1', port={port}, "
            f"workers={workers}, **server_settings())"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code],
            stderr=self.log,
            env={**os.environ, **env, "BENCH_BASE": self.base},
        )

    def wait_ready(self, workers: int) -> None:
        """Until every worker has started (read the protocol content) and answers."""
        deadline = time.monotonic() + 120
        while True:
            self.log.seek(0)
            log = self.log.read().decode(errors="replace")
            if log.count("Application startup complete") >= workers:
                try:
                    httpx.get(self.base + "/health", timeout=5)
                    return
                except httpx.TransportError:
                    pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"the server did not start:\n{log}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()


def measure(
    workers: int, port: int, requests: int, rounds: int, signer: Signer, body: bytes
) -> None:
    """Both servers with ``workers`` worker processes, each measured while the other idles,
    ``rounds`` times per level (the round of median throughput is shown, so that one stalled
    round favours neither): the table rows and the throughput ratio per concurrency level."""
    db = os.path.join(tempfile.mkdtemp(prefix="cds-bench-"), "cds.sqlite")
    env = {"BENCH_JWK": json.dumps(signer.jwk()), "BENCH_DB": db}
    servers = {
        "baseline": (Server("baseline_app", port + 1, workers, env), BASELINE_PATH),
        "cds": (Server("cds_app", port, workers, env), PV_PATH),
    }
    try:
        for server, _ in servers.values():
            server.wait_ready(workers)
        print(f"\n{workers} worker process(es) per server")
        print(f"{'':10} {'conc':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8}")
        for level in LEVELS:
            rates, p99 = {}, {}
            for name, (server, path) in servers.items():
                url = server.base + path
                runs = []
                for _ in range(rounds):
                    tokens = [signer.token(url) for _ in range(requests + 4 * level)]
                    runs.append(
                        asyncio.run(
                            run_level(url, body, tokens[: 4 * level], tokens[4 * level :], level)
                        )
                    )
                lat, wall = sorted(runs, key=lambda run: run[1])[rounds // 2]
                rates[name], p99[name] = requests / wall, pct(lat, 99)
                print(
                    f"{name:10} {level:>4} {pct(lat, 50):8.1f} {pct(lat, 95):8.1f} "
                    f"{p99[name]:8.1f} {rates[name]:8.0f}"
                    + (f"   mean {statistics.fmean(lat) * 1000:.1f} ms" if name == "cds" else "")
                )
            ratio = rates["cds"] / rates["baseline"]
            print(f"{'':10} {level:>4} throughput cds / baseline = {ratio:.2f}")
            if level == TARGET_LEVEL:
                met = p99["cds"] < TARGET_P99_MS and ratio >= TARGET_RATIO
                print(
                    f"target at concurrency {level} (p99 < {TARGET_P99_MS:.0f} ms, throughput >= "
                    f"{TARGET_RATIO:.2f} of the baseline) with {workers} worker(s): "
                    + ("met" if met else "NOT met")
                )
    finally:
        for server, _ in servers.values():
            server.stop()
        shutil.rmtree(os.path.dirname(db), ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per level and path")
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed rounds per level and path (median shown)"
    )
    parser.add_argument("--port", type=int, default=8731, help="the CDS server's (baseline: +1)")
    parser.add_argument(
        "--workers",
        default="1,2",
        help="worker processes per server (serve --workers), comma-separated for one run each",
    )
    args = parser.parse_args()
    signer = Signer()
    resources = big_patient()
    body = json.dumps(request("ball-patient-view", resources)).encode()
    print(
        f"patient-view, {sum(len(v) for v in resources.values())} resources in the prefetch, "
        f"body {len(body) / 1024:.0f} KiB, {args.requests} requests per level"
    )
    for workers in dict.fromkeys(int(w) for w in args.workers.split(",")):
        measure(workers, args.port, args.requests, args.rounds, signer, body)


if __name__ == "__main__":
    main()
