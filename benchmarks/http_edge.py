"""Benchmark: does one large request hold up small ones? (issue 16, the HTTP edge)

Run: ``.venv/bin/python benchmarks/http_edge.py [ROWS]``.  Starts ``ball-fhir serve`` (one
worker) on a free port, measures the latency of ``GET /health`` alone (baseline), then again
while a ``POST /fhir/$validate`` of a large transaction Bundle (ROWS lab rows mapped, default
5,000) is being parsed and validated, and prints the median and worst latency of each and their
ratio.  Parsing, the JSON check and validation run in the thread pool; were they on the event
loop, every /health request would wait for the whole validation.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from adapter.cli.mapcmd import bundle_json, map_file
from adapter.sources.site import load_site
from benchmarks.map_lab import generate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _latencies(client: httpx.Client, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        client.get("/health").raise_for_status()
        out.append(time.perf_counter() - start)
        time.sleep(0.01)
    return out


def _show(name: str, values: list[float]) -> str:
    median, worst = statistics.median(values) * 1000, max(values) * 1000
    return f"{name:<28}: median {median:7.1f} ms, worst {worst:7.1f} ms ({len(values)} requests)"


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    path = Path(tempfile.mkdtemp()) / "bench.csv"
    path.write_bytes(generate(rows))
    body = bundle_json(map_file("lab", path, load_site("default")).bundle)
    port = _free_port()
    env = {**os.environ, "BALL_FHIR_PORT": str(port), "BALL_FHIR_MAX_BODY": str(len(body) * 2)}
    server = subprocess.Popen(
        [sys.executable, "-c", "from adapter.cli import main; raise SystemExit(main())", "serve"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            for _ in range(100):
                try:
                    client.get("/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            headers = {"content-type": "application/fhir+json"}
            client.post("/fhir/$validate", content=b'{"resourceType": "Patient"}', headers=headers)
            alone = _latencies(client, 50)
            done = threading.Event()
            took: list[float] = []

            def big() -> None:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as other:
                    start = time.perf_counter()
                    other.post("/fhir/$validate", content=body, headers=headers).raise_for_status()
                    took.append(time.perf_counter() - start)
                done.set()

            worker = threading.Thread(target=big)
            worker.start()
            during: list[float] = []
            while not done.is_set():
                during.extend(_latencies(client, 1))
            worker.join()
    finally:
        server.terminate()
        server.wait()
    print(f"large request: {len(body):,} bytes ({rows:,} lab rows), validated in {took[0]:.1f} s")
    print(_show("GET /health alone", alone))
    print(_show("GET /health during it", during))
    ratio = statistics.median(during) / statistics.median(alone)
    print(
        f"ratio (during / alone)      : median {ratio:.1f}x, worst {max(during) / max(alone):.1f}x"
    )


if __name__ == "__main__":
    main()
