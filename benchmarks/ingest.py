"""Benchmark: intake over MLLP, delivery to a FHIR server, and the streamed lab mapping.

Run: ``.venv/bin/python benchmarks/ingest.py [--messages N] [--rows N] [--no-whole]``
(needs node and ``scripts/setup-npm``: the loopback Medplum server of the integration tests).

1. Intake: ``ball-fhir listen-mllp`` (its own process, SQLite store) receives N generated
   ORU^R01 messages (default 10,000; benchmarks/map_hl7v2.py's generator) pipelined on one
   connection, 50 frames in flight; messages/s until the last ACK (each ACK after its commit).
2. Delivery: ``ball-fhir deliver --until-idle`` posts the stored Bundles to a fresh loopback
   server, unsplit (``--max-entries 0``); messages/s, and the ratio to posting the same Bundles
   directly with ``requests`` (one Session, one after the other) to another fresh server in the
   same run.  A second delivery run with the Medplum-safe split (8 entries) is timed too.
3. Streamed mapping: ``ball-fhir map lab --split patient`` of a generated lab CSV (default
   1,000,000 rows, benchmarks/map_lab.py's generator) in its own process: peak RSS, CPU time and
   wall time; and the same for today's whole-file ``map lab -o`` (unless ``--no-whole``), with
   the ratios.  Wall times move with the machine's other load; the CPU times less so.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from adapter.store import Mapped, open_store
from benchmarks.map_hl7v2 import generate as generate_messages
from benchmarks.map_lab import generate as generate_rows
from tests.integration.conftest import loopback_server

BALL_FHIR = str(Path(sys.executable).parent / "ball-fhir")
WINDOW = 50


def _option(name: str, default: int) -> int:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def _frames(n: int) -> list[bytes]:
    data, _ = generate_messages(n, 11)
    return [b"\x0bMSH" + m + b"\x1c\r" for m in data.split(b"MSH")[1:]]


def intake(frames: list[bytes], store_url: str) -> float:
    """Seconds to get every frame acknowledged by ``listen-mllp``."""
    proc = subprocess.Popen(
        [BALL_FHIR, "listen-mllp", "--port", "0", "--store", store_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        with socket.create_connection(("127.0.0.1", port)) as sock:
            start = time.perf_counter()
            sent = acked = 0
            buffer = b""
            codes: list[bytes] = []
            while acked < len(frames):
                while sent < len(frames) and sent - acked < WINDOW:
                    sock.sendall(frames[sent])
                    sent += 1
                buffer += sock.recv(65536)
                *done, buffer = buffer.split(b"\x1c\r")
                for ack in done:
                    codes.append(ack.split(b"MSA|", 1)[1][:2])
                acked += len(done)
            elapsed = time.perf_counter() - start
        assert set(codes) == {b"AA"}, set(codes)
        return elapsed
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _bundle(mapped: Mapped | None) -> bytes:
    assert mapped is not None
    assert mapped.bundle is not None
    return mapped.bundle


def deliver(store_url: str, base: str, max_entries: int) -> float:
    command = [BALL_FHIR, "deliver", "--until-idle", "--store", store_url, "--server", base]
    start = time.perf_counter()
    subprocess.run(
        [*command, "--max-entries", str(max_entries)], check=True, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def post_directly(bundles: list[bytes], base: str) -> float:
    start = time.perf_counter()
    with requests.Session() as session:
        for body in bundles:
            answer = session.post(
                base, data=body, headers={"Content-Type": "application/fhir+json"}, timeout=60
            )
            assert answer.status_code == 200, answer.text[:500]
    return time.perf_counter() - start


#: runs a command and prints its peak RSS (kB) and CPU seconds: measured from a small parent, as
#: a child forked from this process would count this process's pages until it execs
_MEASURE = (
    "import resource, subprocess, sys; "
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, "
    "stderr=subprocess.DEVNULL); "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(u.ru_maxrss, u.ru_utime + u.ru_stime)"
)


def measured(command: list[str]) -> tuple[float, float, float]:
    """Peak RSS (MB), CPU seconds (user + system) and wall seconds of a command."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command], check=True, capture_output=True, text=True
    ).stdout.split()
    wall = time.perf_counter() - start
    return int(out[0]) / 1024, float(out[1]), wall


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="ball-fhir-bench-"))
    try:
        run(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(folder: Path) -> None:
    n = _option("--messages", 10_000)
    rows = _option("--rows", 1_000_000)
    for name in "abc":
        (folder / name).mkdir()
    store_url = f"sqlite:///{folder / 'store.db'}"
    frames = _frames(n)

    t_intake = intake(frames, store_url)
    store = open_store(store_url)
    ids = [i.id for i in store.items("pending", limit=n)]
    bundles = [_bundle(store.raw(i)[1]) for i in ids]
    store.close()
    print(f"messages: {n:,} ORU^R01, {len(bundles):,} stored items")
    print(f"intake over MLLP (ACK after commit)  : {n / t_intake:10,.0f} messages/s")

    with loopback_server(folder / "a") as worker_base, loopback_server(folder / "b") as direct:
        t_worker = deliver(store_url, worker_base, 0)
        t_direct = post_directly(bundles, direct)
    print(f"delivery worker (unsplit)             : {n / t_worker:10,.0f} messages/s")
    print(f"requests, the same Bundles directly   : {n / t_direct:10,.0f} messages/s")
    print(f"ratio (worker / direct)               : {t_worker / t_direct:10.2f}x the time")
    replay = [BALL_FHIR, "replay", "--store", store_url, *map(str, ids)]
    subprocess.run(replay, check=True, stdout=subprocess.DEVNULL)
    with loopback_server(folder / "c") as split_base:
        t_split = deliver(store_url, split_base, 8)
    print(f"delivery worker (split, 8 entries)    : {n / t_split:10,.0f} messages/s")

    csv_path = folder / "lab.csv"
    csv_path.write_bytes(generate_rows(rows))
    stream = measured(
        [BALL_FHIR, "map", "lab", str(csv_path), "--split", "patient", "-o", str(folder / "out")]
    )
    print(f"\nlab rows: {rows:,}")
    print(
        f"map lab --split patient : peak RSS {stream[0]:8,.0f} MB  "
        f"{rows / stream[1]:8,.0f} rows/s CPU  {rows / stream[2]:8,.0f} rows/s wall"
    )
    if "--no-whole" not in sys.argv:
        whole = measured([BALL_FHIR, "map", "lab", str(csv_path), "-o", str(folder / "w.json")])
        print(
            f"map lab (whole file)    : peak RSS {whole[0]:8,.0f} MB  "
            f"{rows / whole[1]:8,.0f} rows/s CPU  {rows / whole[2]:8,.0f} rows/s wall"
        )
        print(
            f"ratio (streamed / whole): RSS {stream[0] / whole[0]:.3f}x, "
            f"CPU time {stream[1] / whole[1]:.2f}x, wall time {stream[2] / whole[2]:.2f}x"
        )


if __name__ == "__main__":
    main()
