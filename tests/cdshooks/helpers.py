"""Shared by the CDS Hooks tests: real ES384 keys and JWTs, the example patient as prefetch,
draft blinatumomab orders, and an app serving the CDS routes with a test configuration."""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI

from adapter.cdshooks.config import CdsConfig, TrustedClient
from adapter.cdshooks.services import SERVICES
from adapter.routes.cdshooks import CdsState, install
from adapter.routes.protocol import get_protocols
from adapter.store.feedback import SqliteFeedbackStore
from tests.conftest import ROOT

with warnings.catch_warnings():
    # starlette 1.10 deprecates httpx for its TestClient in favour of httpx2 (not installed).
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

__all__ = ["TestClient"]

ISS = "https://ehr.example.org"
BASE = "http://testserver"
COURSE = ROOT / "examples" / "protocol" / "course-bundle.json"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
#: course 1 of the example patient started on 2022-03-01 (examples/protocol/course-bundle.json)
COURSE1_DAY20 = dt.date(2022, 3, 20)


@dataclass
class Signer:
    """An ES384 key pair of a CDS client and the JWTs it signs."""

    kid: str = field(default_factory=lambda: str(uuid.uuid4()))
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )

    def jwk(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        return {**out, "kid": self.kid, "alg": "ES384", "use": "sig"}

    def token(
        self, aud: str | list[str], header: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        now = int(time.time())
        payload = {
            "iss": ISS,
            "aud": aud,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        head = {"kid": self.kid, "typ": "JWT", **(header or {})}
        return jwt.encode(payload, self.key, algorithm="ES384", headers=head)


def config(signer: Signer, **over: Any) -> CdsConfig:
    fields: dict[str, Any] = {
        "clients": [TrustedClient(iss=ISS, jwks={"keys": [signer.jwk()]})],
        "fhir_server_allowlist": [],
        "order_cache_seconds": 0,
        **over,
    }
    return CdsConfig(**fields)


def app_for(cfg: CdsConfig, db: Path, today: dt.date = COURSE1_DAY20) -> TestClient:
    app = FastAPI()
    state = CdsState(cfg, get_protocols(), store=SqliteFeedbackStore(db), clock=lambda: today)
    install(app, state)
    return TestClient(app)


#: weight and height measured again before course 2 (orders start 2022-04-11): within the
#: protocol's dosing-measurement-max-age-days (placeholder 7) of course day 1
REMEASURED = "2022-04-08"
LOINC_WEIGHT_HEIGHT = ("29463-7", "8302-2")


def course_resources(remeasured: bool = True) -> dict[str, list[dict[str, Any]]]:
    """The example patient's resources by type; ``remeasured``: plus copies of the weight and
    height dated :data:`REMEASURED` (the example's are of 2022-02-27, before course 1)."""
    bundle = json.loads(COURSE.read_text(encoding="utf-8"))
    out: dict[str, list[dict[str, Any]]] = {}
    for e in bundle["entry"]:
        out.setdefault(e["resource"]["resourceType"], []).append(e["resource"])
    if remeasured:
        for obs in list(out["Observation"]):
            if obs["code"]["coding"][0]["code"] in LOINC_WEIGHT_HEIGHT:
                again = {**copy.deepcopy(obs), "id": f"{obs['id']}-again"}
                again["effectiveDateTime"] = REMEASURED
                out["Observation"].append(again)
    return out


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }


def prefetch_for(service_id: str, resources: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Every prefetch key of the service, filled from the resources as a server would."""
    out: dict[str, Any] = {}
    for key, template in SERVICES[service_id].prefetch.items():
        rtype = template.split("?")[0].split("/")[0]
        found = resources.get(rtype, [])
        if "/" in template.split("?")[0]:
            out[key] = found[0] if found else None
            continue
        if "code=" in template:
            codes = template.split("code=")[1].split("&")[0].replace("http://loinc.org|", "")
            found = [
                r for r in found if any(c["code"] in codes.split(",") for c in r["code"]["coding"])
            ]
        out[key] = searchset(found)
    return out


def patient_id(resources: dict[str, list[dict[str, Any]]]) -> str:
    return str(resources["Patient"][0]["id"])


def request(
    service_id: str,
    resources: dict[str, list[dict[str, Any]]],
    prefetch: dict[str, Any] | None = None,
    **context: Any,
) -> dict[str, Any]:
    hook = SERVICES[service_id].hook
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/p1", "patientId": patient_id(resources), **context},
    }
    body["prefetch"] = prefetch_for(service_id, resources) if prefetch is None else prefetch
    return body


def with_weight(resources: dict[str, list[dict[str, Any]]], kg: float) -> dict[str, Any]:
    """A copy with every body weight set to ``kg``."""
    out = copy.deepcopy(resources)
    for obs in out["Observation"]:
        if any(c["code"] == "29463-7" for c in obs["code"]["coding"]):
            obs["valueQuantity"]["value"] = kg
    return out


def with_karyotype(
    resources: dict[str, list[dict[str, Any]]], iscn: str, only: bool = False
) -> dict[str, Any]:
    """A copy with a karyotype Observation (62356-1) of ``iscn``; ``only``: without the
    example's fusion finding (69548-6, KMT2A::AFF1), so the karyotype alone speaks."""
    out = copy.deepcopy(resources)
    if only:
        out["Observation"] = [
            o for o in out["Observation"] if o["code"]["coding"][0]["code"] != "69548-6"
        ]
    out["Observation"].append(
        {
            "resourceType": "Observation",
            "id": "karyotype-1",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "62356-1"}]},
            "subject": {"reference": f"Patient/{patient_id(resources)}"},
            "effectiveDateTime": "2022-01-12",
            "valueString": iscn,
        }
    )
    return out


def with_ph_positive_karyotype(resources: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """A copy with a karyotype Observation showing t(9;22) (Ph-positive, protocol.md §1)."""
    return with_karyotype(resources, "46,XY,t(9;22)(q34;q11.2)[20]")


def blinatumomab_order(
    order_id: str,
    rate: float | None,
    unit: str = "ug/d",
    start: str = "2022-04-11",
    days: int = 28,
    **extra: Any,
) -> dict[str, Any]:
    """A draft blinatumomab MedicationRequest (continuous infusion, rate per day)."""
    mr: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": order_id,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/x"},
        "medicationCodeableConcept": {"coding": [{"system": RX, "code": "1597258"}]},
        **extra,
    }
    if rate is not None:
        end = (dt.date.fromisoformat(start) + dt.timedelta(days=days)).isoformat()
        mr["dosageInstruction"] = [
            {
                "timing": {"repeat": {"boundsPeriod": {"start": start, "end": end}}},
                "doseAndRate": [
                    {"rateQuantity": {"value": rate, "unit": unit, "system": UCUM, "code": unit}}
                ],
            }
        ]
    return mr


def draft_bundle(*orders: dict[str, Any]) -> dict[str, Any]:
    """draftOrders as the sandbox sends it: no ``type``."""
    return {"resourceType": "Bundle", "entry": [{"resource": o} for o in orders]}


def auth(signer: Signer, path: str) -> dict[str, str]:
    """The Authorization header of a call to ``path`` of the test server."""
    return {"Authorization": f"Bearer {signer.token(BASE + path)}"}


def post_hook(client: TestClient, signer: Signer, service: str, body: Any) -> Any:
    """POST a hook request with a valid JWT; the HTTP answer."""
    url = f"/cds-services/{service}"
    return client.post(url, json=body, headers=auth(signer, url))


def hook_cards(client: TestClient, signer: Signer, service: str, body: Any) -> list[dict[str, Any]]:
    """The cards of a hook call that must succeed."""
    answer = post_hook(client, signer, service, body)
    assert answer.status_code == 200, answer.text
    cards: list[dict[str, Any]] = answer.json()["cards"]
    return cards


Reply = Callable[[str], tuple[int, Any]]


class LoopbackServer:
    """A loopback HTTP server answering GETs with JSON from ``reply(path)``; records each
    request's path and Authorization header."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.seen: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.seen.append((self.path, self.headers.get("Authorization")))
                status, doc = outer.reply(self.path)
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
