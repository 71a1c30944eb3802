"""The loopback FHIR server fixture: ``fhir_server.cjs`` (@medplum/fhir-router 4.5.2
MemoryRepository behind node:http, ../shared/reference/validation-tools.md section 4), started with
``node`` from PATH and the packages of ``.npm-tools`` (``scripts/setup-npm``), bound to 127.0.0.1
on a free port. Missing node or packages fail the tests: they are never skipped."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

SERVER_SCRIPT = Path(__file__).resolve().parent / "fhir_server.cjs"
NPM_TOOLS = ROOT / ".npm-tools"
PACKAGES = ("core", "definitions", "fhir-router")
#: seconds for the server to print its port, and then to answer GET /metadata
START_TIMEOUT = 30.0


def _node_or_fail() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: install Node.js >= 20, then run ./scripts/setup-npm")
    missing = [
        f"@medplum/{name}"
        for name in PACKAGES
        if not (NPM_TOOLS / "node_modules" / "@medplum" / name / "package.json").is_file()
    ]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed in {NPM_TOOLS}: run ./scripts/setup-npm")
    return node


def _read_port(proc: subprocess.Popen[str], log: Path, deadline: float) -> int:
    """The port the server prints as its first stdout line."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
    line = proc.stdout.readline() if ready else ""
    if not line.strip().isdigit():
        proc.poll()
        pytest.fail(
            f"the FHIR server did not print its port (exit code {proc.returncode}, "
            f"stdout {line!r}); stderr:\n{log.read_text(encoding='utf-8', errors='replace')}"
        )
    return int(line)


def _wait_for_metadata(base: str, proc: subprocess.Popen[str], deadline: float) -> None:
    """Polls ``GET /metadata`` (loopback only, bounded by ``deadline``) until it answers 200."""
    last = "no answer"
    with httpx.Client(base_url=base, timeout=5.0) as client:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = client.get("/metadata")
                if answer.status_code == 200:
                    return
                last = f"HTTP {answer.status_code}"
            except httpx.TransportError as exc:
                last = repr(exc)
            time.sleep(0.05)
    pytest.fail(f"the FHIR server at {base} did not answer GET /metadata: {last}")


@contextmanager
def loopback_server(folder: Path, *flags: str) -> Iterator[str]:
    """A fresh loopback FHIR server (``flags``: e.g. ``--strict-transactions``); its base URL.
    Killed when the block ends."""
    node = _node_or_fail()
    log = folder / "stderr.log"
    env = {
        **os.environ,
        "BALL_NPM_TOOLS": str(NPM_TOOLS),
        "NODE_PATH": str(NPM_TOOLS / "node_modules"),
    }
    with log.open("w", encoding="utf-8") as stderr:
        # --exit-with-stdin: the server also exits if this process dies without a teardown.
        proc = subprocess.Popen(
            [node, str(SERVER_SCRIPT), "0", "--exit-with-stdin", *flags],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        base = f"http://127.0.0.1:{_read_port(proc, log, deadline)}"
        _wait_for_metadata(base, proc, deadline)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a fresh loopback FHIR server; the server is killed at teardown."""
    with loopback_server(tmp_path_factory.mktemp("fhir-server")) as base:
        yield base
