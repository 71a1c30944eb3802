"""``ball-fhir serve --workers N`` (adapter.workers): worker processes with a socket each, on
loopback, as real processes: connections spread over the workers, a dead worker is replaced,
SIGTERM stops them all, a taken port and a crashing app are refused."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapter.issues import UsageError
from adapter.workers import MAX_EARLY_DEATHS, check_port_free, serve
from tests.integration.faults import free_port

ROOT = Path(__file__).resolve().parents[2]


def supervisor(app: str, port: int, workers: int = 2) -> subprocess.Popen[bytes]:
    code = (
        "import sys; from adapter.workers import serve; "
        f"sys.exit(serve({app!r}, host='127.0.0.1', port={port}, workers={workers}, "
        "timeout_graceful_shutdown=2))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )


def answering_pid(base: str) -> int:
    """The pid of the worker that answers a request on a new connection."""
    with httpx.Client(timeout=5) as client:
        answer = client.get(base + "/pid")
    assert answer.status_code == 200
    pid: int = answer.json()["pid"]
    return pid


def pids_seen(base: str, calls: int) -> set[int]:
    seen = set()
    for _ in range(calls):
        try:
            seen.add(answering_pid(base))
        except httpx.TransportError:  # a connection queued at a worker that just died
            time.sleep(0.05)
    return seen


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    process = supervisor("tests.api.pid_app:create", port)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while len(pids_seen(base, 1)) == 0:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.2)
    try:
        yield process, base
    finally:
        process.terminate()
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def wait_for_both(base: str) -> set[int]:
    """Both workers' pids (a second worker may still be starting)."""
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    while len(seen) < 2:
        assert time.monotonic() < deadline, f"only workers {seen} answered"
        seen |= pids_seen(base, 20)
    return seen


def test_new_connections_are_spread_over_the_workers(
    served: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, base = served
    pids = wait_for_both(base)
    assert len(pids) == 2
    assert {parent_of(pid) for pid in pids} == {process.pid}
    # a socket each: 40 new connections reach both (all on one: probability 2 * 2**-40)
    assert pids_seen(base, 40) == pids


def test_a_worker_that_dies_is_replaced(served: tuple[subprocess.Popen[bytes], str]) -> None:
    process, base = served
    first, second = sorted(wait_for_both(base))
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, "the dead worker was not replaced"
        seen = pids_seen(base, 20)
        if len(seen) == 2 and first not in seen:
            break
        time.sleep(0.2)
    assert second in seen
    assert {parent_of(pid) for pid in seen} == {process.pid}


def test_sigterm_stops_every_worker(served: tuple[subprocess.Popen[bytes], str]) -> None:
    process, base = served
    pids = wait_for_both(base)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert all(gone(pid) for pid in pids)
    with pytest.raises(httpx.TransportError):
        answering_pid(base)


def gone(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_workers_stop_when_the_supervisor_is_killed(
    served: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, base = served
    pids = wait_for_both(base)
    process.kill()
    process.wait()
    deadline = time.monotonic() + 30
    while not all(gone(pid) for pid in pids):
        assert time.monotonic() < deadline, "a worker outlived its supervisor"
        time.sleep(0.1)


def test_a_port_another_program_holds_is_refused_before_any_worker_starts() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(UsageError, match=f"cannot listen on 127.0.0.1:{port}: in use"):
            check_port_free("127.0.0.1", port)
        with pytest.raises(UsageError, match="in use"):
            serve("tests.api.pid_app:create", host="127.0.0.1", port=port, workers=2)


def test_workers_that_keep_dying_at_start_stop_the_service_with_status_1() -> None:
    process = supervisor("tests.api.pid_app:broken", free_port())
    _, log = process.communicate(timeout=240)
    assert process.returncode == 1
    assert log.decode().count("this app cannot start") >= MAX_EARLY_DEATHS


def test_more_than_one_worker_needs_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(UsageError, match="needs Linux"):
        serve("tests.api.pid_app:create", host="127.0.0.1", port=free_port(), workers=2)
