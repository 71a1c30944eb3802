"""The FHIR client of the delivery worker (``requests``): transactions, reads and updates,
with timeouts and authentication (a bearer token, or SMART Backend Services client credentials).

Every failure is a :class:`DeliveryFailed` saying whether another attempt may succeed
(:mod:`adapter.delivery.policy`) and, for an HTTP answer, the server's text (its
OperationOutcome) and ``Retry-After``.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
import orjson
import requests

from adapter.delivery.config import ServerConfig, SmartBackend
from adapter.delivery.policy import is_retried, retry_after
from adapter.fhir import Resource
from adapter.issues import UsageError

FHIR_JSON = "application/fhir+json"
#: how much of a server's answer a last error keeps
ERROR_TEXT = 2000


class DeliveryFailed(Exception):
    """An attempt failed: ``retry`` says whether another may pass; ``wait`` is the server's
    ``Retry-After`` in seconds, if it gave one."""

    def __init__(self, message: str, retry: bool, wait: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.wait = wait


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any
    etag: str | None


def _failed(what: str, response: requests.Response) -> DeliveryFailed:
    text = response.text[:ERROR_TEXT]
    wait = retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
    return DeliveryFailed(
        f"{what}: HTTP {response.status_code}: {text}", is_retried(response.status_code), wait
    )


class SmartToken:
    """Access tokens from a SMART Backend Services token endpoint, kept until shortly before
    they expire (the assertion: iss = sub = client id, aud = token URL, exp <= 5 minutes, a new
    jti each time; signed RS384 or ES384)."""

    def __init__(self, smart: SmartBackend, session: requests.Session, timeout: float) -> None:
        self._smart = smart
        self._session = session
        self._timeout = timeout
        self._token: str | None = None
        self._expires = 0.0
        try:
            self._key = smart.private_key_file.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {smart.private_key_file}: {exc.strerror}") from None

    def assertion(self, now: float) -> str:
        smart = self._smart
        claims = {
            "iss": smart.client_id,
            "sub": smart.client_id,
            "aud": smart.token_url,
            "exp": int(now) + 300,
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": smart.key_id} if smart.key_id else None
        return jwt.encode(claims, self._key, algorithm=smart.algorithm, headers=headers)

    def token(self, renew: bool = False) -> str:
        now = time.time()
        if self._token is not None and not renew and now < self._expires - 30:
            return self._token
        try:
            response = self._session.post(
                self._smart.token_url,
                data={
                    "grant_type": "client_credentials",
                    "scope": self._smart.scope,
                    "client_assertion_type": (
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                    ),
                    "client_assertion": self.assertion(now),
                },
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise DeliveryFailed(f"token endpoint: {exc}", retry=True) from None
        if response.status_code != 200:
            raise _failed("token endpoint", response)
        body = response.json()
        self._token = str(body["access_token"])
        self._expires = now + float(body.get("expires_in", 300))
        return self._token


class FhirClient:
    """Talks to one FHIR server (``ServerConfig``)."""

    def __init__(self, server: ServerConfig, session: requests.Session | None = None) -> None:
        self.server = server
        self.base = server.base_url.rstrip("/")
        self.session = session or requests.Session()
        self._smart = (
            SmartToken(server.smart, self.session, server.timeout) if server.smart else None
        )
        self._bearer: str | None = None
        if server.bearer_token_env:
            self._bearer = os.environ.get(server.bearer_token_env)
            if not self._bearer:
                raise UsageError(f"${server.bearer_token_env} (bearer_token_env) is not set")

    def _auth(self, renew: bool = False) -> dict[str, str]:
        if self._smart is not None:
            return {"Authorization": f"Bearer {self._smart.token(renew)}"}
        if self._bearer is not None:
            return {"Authorization": f"Bearer {self._bearer}"}
        return {}

    def _send(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        headers = {"Accept": FHIR_JSON, **kwargs.pop("headers", {})}
        for renew in (False, True):
            try:
                response = self.session.request(
                    method,
                    f"{self.base}/{path}".rstrip("/") if path else self.base,
                    headers={**headers, **self._auth(renew)},
                    timeout=self.server.timeout,
                    **kwargs,
                )
            except requests.Timeout as exc:
                raise DeliveryFailed(f"{what}: timed out: {exc}", retry=True) from None
            except requests.RequestException as exc:
                raise DeliveryFailed(f"{what}: {type(exc).__name__}: {exc}", retry=True) from None
            if response.status_code != 401 or self._smart is None or renew:
                return response
        raise AssertionError("unreachable")  # pragma: no cover

    def transaction(self, bundle: Resource) -> Resource:
        """POST a transaction Bundle; the transaction-response (DeliveryFailed otherwise)."""
        response = self._send(
            "POST",
            "",
            "transaction",
            data=orjson.dumps(bundle),
            # the found Patients come back whole (the update policy needs no read)
            headers={"Content-Type": FHIR_JSON, "Prefer": "return=representation"},
        )
        if not 200 <= response.status_code < 300:
            raise _failed("transaction", response)
        body: Resource = response.json()
        return body

    def read(self, reference: str) -> Answer:
        """GET ``Type/id``: the resource and its ETag (DeliveryFailed when not 200)."""
        response = self._send("GET", reference, f"read {reference}")
        if response.status_code != 200:
            raise _failed(f"read {reference}", response)
        return Answer(200, response.json(), response.headers.get("ETag"))

    def update(self, resource: Resource, if_match: str | None) -> int:
        """PUT a resource (``If-Match`` when given): the status of a 2xx, 409 or 412 answer
        (the caller reads again and retries on those), DeliveryFailed otherwise."""
        reference = f"{resource['resourceType']}/{resource['id']}"
        headers = {"Content-Type": FHIR_JSON}
        if if_match:
            headers["If-Match"] = if_match
        response = self._send(
            "PUT", reference, f"update {reference}", data=orjson.dumps(resource), headers=headers
        )
        if 200 <= response.status_code < 300 or response.status_code in (409, 412):
            return response.status_code
        raise _failed(f"update {reference}", response)
