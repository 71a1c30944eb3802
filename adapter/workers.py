"""The processes of ``ball-fhir serve``: one uvicorn server, or several worker processes that
each listen on their own socket of the same port (``SO_REUSEPORT``, Linux 3.9+), supervised.

Why not uvicorn's own ``--workers``: its workers accept from one shared socket, and the first
to wake takes every connection waiting.  A client that opens a few keep-alive connections at
once (an EHR's pool, a reverse proxy's upstream keep-alive) then lands on one worker while the
others idle (benchmarks/cds_latency.py showed it: one run gained nothing from a second
worker).  With a socket per worker the kernel spreads new connections over the workers by a
hash of their addresses (socket(7), ``SO_REUSEPORT``), whichever is awake.

The supervisor (:func:`serve`) checks that the port is free before it starts a worker, starts
the workers (``spawn``: each imports the app itself), restarts one that dies, gives up when
workers keep dying right after their start, and on SIGTERM/SIGINT stops them all (each
finishes its requests: uvicorn's graceful shutdown) before it returns.  Caveats of the socket
option, in README "Deployment": connections waiting in the queue of a worker that dies are
reset, and only processes of the same user can join the port.
"""

from __future__ import annotations

import errno
import logging
import logging.config
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from adapter.issues import UsageError

log = logging.getLogger("ball_fhir.workers")

#: a worker that dies within this many seconds of its start counts as a crash at start
EARLY_DEATH_SECONDS = 10.0
#: that many early deaths in a row stop the service (a broken app or setting, not bad luck)
MAX_EARLY_DEATHS = 5
#: seconds a worker has after uvicorn's graceful shutdown timeout before it is killed
KILL_MARGIN_SECONDS = 5.0


def _address(host: str, port: int) -> tuple[socket.socket, tuple[str, int]]:
    """A new TCP socket for ``host``:``port`` with ``SO_REUSEADDR`` and ``SO_REUSEPORT`` set,
    and the address to bind it to (IPv6 when the host has a colon, as uvicorn does for one
    process)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock, (host, port)


def check_port_free(host: str, port: int) -> None:
    """Refuse, as a :class:`UsageError` naming the address, a port another program holds.
    The probe is bound (which fails when the port is taken) but never listens, so the kernel
    sends it no connection."""
    probe, address = _address(host, port)
    with probe:
        try:
            probe.bind(address)
        except OSError as exc:
            why = "in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise UsageError(f"cannot listen on {host}:{port}: {why}") from None


def _exit_with_parent() -> None:
    """Stop this worker (SIGTERM to itself: uvicorn's graceful shutdown) when the supervisor
    is gone, even killed with SIGKILL: no orphan keeps serving the port."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch(sentinel: int) -> None:
        wait([sentinel])
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, args=(parent.sentinel,), daemon=True).start()


def _worker(app: str, host: str, port: int, settings: dict[str, Any]) -> None:
    """One worker process: its own socket of the shared port, one uvicorn server on it."""
    import uvicorn

    _exit_with_parent()
    config = uvicorn.Config(app, host=host, port=port, **settings)
    sock, address = _address(host, port)
    sock.bind(address)
    sock.listen(config.backlog)
    uvicorn.Server(config).run(sockets=[sock])


@dataclass
class _Supervisor:
    app: str
    host: str
    port: int
    settings: dict[str, Any]
    stopping: bool = False
    early_deaths: int = 0
    started: dict[int, float] = field(default_factory=dict)  # per process sentinel

    def start(self) -> BaseProcess:
        process = multiprocessing.get_context("spawn").Process(
            target=_worker,
            args=(self.app, self.host, self.port, self.settings),
            name="ball-fhir-worker",
        )
        process.start()
        self.started[process.sentinel] = time.monotonic()
        log.info("worker started", extra={"pid": process.pid})
        return process

    def stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def replace(self, dead: BaseProcess) -> BaseProcess | None:
        """A new worker for one that died, or None when workers keep dying at start."""
        lived = time.monotonic() - self.started.pop(dead.sentinel)
        log.error("worker died", extra={"pid": dead.pid, "exitcode": dead.exitcode})
        self.early_deaths = self.early_deaths + 1 if lived < EARLY_DEATH_SECONDS else 0
        if self.early_deaths >= MAX_EARLY_DEATHS:
            log.error("workers keep dying at start: stopping", extra={"deaths": self.early_deaths})
            return None
        return self.start()


def serve(app: str, host: str, port: int, workers: int, **settings: Any) -> int:
    """Serve the ASGI app factory ``app`` (``module:function``) on ``host``:``port`` with
    ``workers`` processes; ``settings`` are uvicorn's (``uvicorn.Config``).  Returns when
    stopped: 0 after SIGTERM/SIGINT, 1 when workers kept dying at start."""
    import uvicorn

    if workers == 1:
        uvicorn.run(app, host=host, port=port, factory=True, **settings)
        return 0
    if sys.platform != "linux":
        raise UsageError("more than one worker needs Linux (a socket each, SO_REUSEPORT)")
    check_port_free(host, port)
    if isinstance(settings.get("log_config"), dict):
        logging.config.dictConfig(settings["log_config"])  # the supervisor's lines too
    settings = {**settings, "factory": True}
    supervisor = _Supervisor(app, host, port, settings)
    previous = {
        signum: signal.signal(signum, supervisor.stop) for signum in (signal.SIGTERM, signal.SIGINT)
    }
    processes = [supervisor.start() for _ in range(workers)]
    status = 0
    try:
        while not supervisor.stopping:
            for sentinel in wait([p.sentinel for p in processes], timeout=0.5):
                dead = next(p for p in processes if p.sentinel == sentinel)
                processes.remove(dead)
                dead.join()
                if supervisor.stopping:
                    break
                fresh = supervisor.replace(dead)
                if fresh is None:
                    supervisor.stopping, status = True, 1
                    break
                processes.append(fresh)
    finally:
        for process in processes:
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        grace = float(settings.get("timeout_graceful_shutdown") or 30) + KILL_MARGIN_SECONDS
        deadline = time.monotonic() + grace
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return status
