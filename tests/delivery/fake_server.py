"""A small loopback FHIR endpoint for worker unit tests: answers each request with the next
scripted answer, or accepts a transaction (every entry ``201 Created``); serves a SMART token
endpoint at ``/token``.  Records every request."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from tests.loopback_http import LoopbackHttp, QuietHandler


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeFhir(LoopbackHttp):
    answers: deque[tuple[int, Any, dict[str, str]]] = field(default_factory=deque)
    seen: list[Seen] = field(default_factory=list)
    token_answers: deque[tuple[int, Any]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        fake = self

        class Handler(QuietHandler):
            def _handle(self) -> None:
                body = self.body()
                fake.seen.append(Seen(self.command, self.path, dict(self.headers), body))
                headers: dict[str, str] = {}
                if self.path == "/token":
                    status, answer = (
                        fake.token_answers.popleft()
                        if fake.token_answers
                        else (200, {"access_token": "t", "expires_in": 300})
                    )
                    answer = answer if not callable(answer) else answer(parse_qs(body.decode()))
                elif fake.answers:
                    status, answer, headers = fake.answers.popleft()
                else:
                    status, answer = 200, accept(json.loads(body))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = _handle
            do_POST = _handle
            do_PUT = _handle

        self.serve(Handler)

    @property
    def transactions(self) -> list[dict[str, Any]]:
        return [json.loads(s.body) for s in self.seen if s.method == "POST" and s.path == "/"]


def accept(bundle: dict[str, Any]) -> dict[str, Any]:
    """A transaction-response creating every entry."""
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [{"response": {"status": "201 Created"}} for _ in bundle.get("entry", [])],
    }
