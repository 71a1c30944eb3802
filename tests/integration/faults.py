"""A loopback HTTP proxy in front of the loopback FHIR server that injects faults on request.

Each request takes the next fault of :attr:`FaultProxy.faults` (none left: forwarded as is):

- ``"500"``, ``"503"``, ``"409"``, ``"412"``, ``"400"``: answered with that status and an
  OperationOutcome, not forwarded;
- ``"429"``: answered 429 with ``Retry-After: <FaultProxy.retry_after>``, not forwarded;
- ``"reset"``: the connection is reset (RST) before anything is forwarded;
- ``"reset-after"``: forwarded (the server did the work), then the connection is reset, so the
  client never sees the answer;
- ``"timeout"``: forwarded, then the answer is held back longer than the client waits;
- ``"slow"``: forwarded after :attr:`FaultProxy.delay` seconds, unless the client has gone
  meanwhile (a killed client's request never reaches the server).

:attr:`FaultProxy.log` records (method, path, fault) per request.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import threading
import time
from collections import deque

import requests

from tests.loopback_http import LoopbackHttp, QuietHandler

STATUS_FAULTS = {"400", "409", "412", "429", "500", "503"}


class FaultProxy(LoopbackHttp):
    def __init__(self, upstream: str, port: int = 0) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults: deque[str] = deque()
        self.log: list[tuple[str, str, str]] = []
        self.retry_after = 1
        self.hold = 3.0
        self.delay = 0.0
        self.always_slow = False
        self._lock = threading.Lock()
        proxy = self

        class Handler(QuietHandler):
            def _handle(self) -> None:
                body = self.body()
                with proxy._lock:
                    fault = proxy.faults.popleft() if proxy.faults else ""
                    if not fault and proxy.always_slow:
                        fault = "slow"
                    proxy.log.append((self.command, self.path, fault))
                if fault in STATUS_FAULTS:
                    outcome = {
                        "resourceType": "OperationOutcome",
                        "issue": [
                            {"severity": "error", "code": "exception", "diagnostics": f"{fault}!"}
                        ],
                    }
                    self._answer(int(fault), json.dumps(outcome).encode(), fault == "429")
                    return
                if fault == "reset":
                    self._reset()
                    return
                if fault == "slow":
                    time.sleep(proxy.delay)
                    if self._client_gone():
                        return  # a killed client's request never reaches the server
                answer = requests.request(
                    self.command,
                    proxy.upstream + self.path,
                    data=body or None,
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                    timeout=60,
                )
                if fault == "reset-after":
                    self._reset()
                    return
                if fault == "timeout":
                    time.sleep(proxy.hold)
                self._answer(answer.status_code, answer.content, False)

            def _answer(self, status: int, body: bytes, retry_after: bool) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/fhir+json")
                    self.send_header("Content-Length", str(len(body)))
                    if retry_after:
                        self.send_header("Retry-After", str(proxy.retry_after))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    self.close_connection = True

            def _client_gone(self) -> bool:
                ready, _, _ = select.select([self.connection], [], [], 0)
                try:
                    return bool(ready) and not self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    return True

            def _reset(self) -> None:
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
                self.close_connection = True

            do_GET = _handle
            do_POST = _handle
            do_PUT = _handle

        self.serve(Handler, port)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
