"""Trusting CDS clients: the JWT of every call checked with PyJWT (CDS Hooks 2.0 §Trusting CDS
Clients; the checklist of cds-hooks/docs best-practices.md, cds-hooks.md section 2.1).

In order: a Bearer token; header ``typ`` JWT, ``kid`` present, ``alg`` asymmetric and configured
(ES384/RS384 by default; ``none`` and HS* never); ``iss`` of an allowlisted client; ``jku``, when
given, on that client's allowlist (else the client's configured JWK Set URL or inline keys);
the key found by ``kid`` (the JWK Set is cached and refetched once on an unknown ``kid``, at most
every ``jwks_min_refresh_seconds``); the signature; ``aud`` equal to the endpoint URL; ``exp``,
``iat`` and ``nbf`` with the configured leeway; ``tenant`` when the client lists tenants; ``jti``
not seen before (by any worker: the feedback store remembers it until the token expires;
tokens living longer than ``max_token_lifetime_seconds`` are refused).  Any failure is
:class:`Unauthorized`, whose reason is for the server log only: the client gets 401 without
detail.  Tokens are never logged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
import requests

from adapter.cdshooks.config import CdsConfig, TrustedClient

#: asymmetric algorithms only (2.0: SHALL NOT be none, SHALL NOT be symmetric)
ASYMMETRIC = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]

JwksFetch = Callable[[str], dict[str, Any]]


class Unauthorized(Exception):
    """The call is not authenticated; the message is for the log, never for the client."""


def fetch_jwks(url: str) -> dict[str, Any]:
    """A JWK Set over HTTP(S) with short timeouts (the URL is allowlisted by the caller)."""
    try:
        answer = requests.get(url, timeout=(1.0, 2.0), allow_redirects=False)
    except requests.RequestException as exc:
        raise Unauthorized(f"JWK Set {url} unreachable ({type(exc).__name__})") from None
    if answer.status_code != 200:
        raise Unauthorized(f"JWK Set {url}: HTTP {answer.status_code}")
    try:
        body = answer.json()
    except ValueError:
        raise Unauthorized(f"JWK Set {url}: not JSON") from None
    if not isinstance(body, dict):
        raise Unauthorized(f"JWK Set {url}: not a JWK Set")
    return body


class JwksCache:
    """JWK Sets by URL; an unknown ``kid`` refetches the set (rate-limited per URL)."""

    def __init__(self, min_refresh: float, fetch: JwksFetch = fetch_jwks) -> None:
        self.min_refresh = min_refresh
        self.fetch = fetch
        self._sets: dict[str, tuple[float, dict[str, jwt.PyJWK]]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(jwks: dict[str, Any]) -> dict[str, jwt.PyJWK]:
        """The usable keys of a JWK Set by kid."""
        out: dict[str, jwt.PyJWK] = {}
        for raw in jwks.get("keys") or []:
            if not isinstance(raw, dict) or not isinstance(raw.get("kid"), str):
                continue
            try:
                out[raw["kid"]] = jwt.PyJWK(raw)
            except jwt.PyJWTError:
                continue  # unusable key (e.g. symmetric, unknown curve): never selected
        return out

    def key(self, url: str, kid: str) -> jwt.PyJWK:
        with self._lock:
            cached = self._sets.get(url)
        if cached is not None and kid in cached[1]:
            return cached[1][kid]
        if cached is not None and time.monotonic() - cached[0] < self.min_refresh:
            raise Unauthorized(f"kid {kid!r} not in {url} (refreshed too recently)")
        keys = self._keys(self.fetch(url))
        with self._lock:
            self._sets[url] = (time.monotonic(), keys)
        if kid not in keys:
            raise Unauthorized(f"kid {kid!r} not in {url}")
        return keys[kid]


#: ``first_use(issuer, jti, expires)``: True the first time (a FeedbackStore's)
FirstUse = Callable[[str, str, float], bool]


class Verifier:
    """Checks the ``Authorization`` header of a call for an endpoint URL.  ``first_use`` says
    whether a ``jti`` is new: the server passes its feedback store's, which every worker
    process shares."""

    def __init__(
        self, config: CdsConfig, first_use: FirstUse, fetch: JwksFetch = fetch_jwks
    ) -> None:
        self.config = config
        self.jwks = JwksCache(config.jwks_min_refresh_seconds, fetch)
        self.first_use = first_use
        self.clients = {c.iss: c for c in config.clients}
        self.algorithms = [a for a in config.algorithms if a in ASYMMETRIC]
        self.inline = {c.iss: JwksCache._keys(c.jwks) for c in config.clients if c.jwks}

    def _key(self, client: TrustedClient, header: dict[str, Any]) -> jwt.PyJWK:
        kid = header["kid"]
        jku = header.get("jku")
        if jku is not None:
            if jku not in client.jku:
                raise Unauthorized(f"jku {jku!r} not allowlisted for {client.iss}")
            return self.jwks.key(str(jku), kid)
        if client.jwks_url:
            return self.jwks.key(client.jwks_url, kid)
        inline = self.inline.get(client.iss, {})
        if kid in inline:
            return inline[kid]
        raise Unauthorized(f"no key {kid!r} for {client.iss}")

    def verify(self, authorization: str | None, audience: str) -> dict[str, Any]:
        """The verified claims; raises :class:`Unauthorized`.  In dev mode: nothing checked."""
        if self.config.dev_mode:
            return {}
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("no Bearer token")
        try:
            # header and claims read in one pass (each pass decodes every segment)
            peek = jwt.decode_complete(token, options={"verify_signature": False})
            header, unverified = peek["header"], peek["payload"]
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"unreadable JWT ({type(exc).__name__})") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise Unauthorized(f"algorithm {alg!r} not accepted")
        if header.get("typ") != "JWT" or not isinstance(header.get("kid"), str):
            raise Unauthorized("JWT header needs typ JWT and kid")
        client = self.clients.get(str(unverified.get("iss")))
        if client is None:
            raise Unauthorized("issuer not allowlisted")
        key = self._key(client, header)
        aud = audience.rstrip("/")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[str(alg)],
                audience=[aud, aud + "/"],
                issuer=client.iss,
                leeway=self.config.leeway_seconds,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"JWT rejected ({type(exc).__name__})") from None
        if client.tenant and claims.get("tenant") not in client.tenant:
            raise Unauthorized("tenant not allowlisted")
        until = float(claims["exp"]) + self.config.leeway_seconds
        if (
            until
            > time.time() + self.config.max_token_lifetime_seconds + self.config.leeway_seconds
        ):
            raise Unauthorized("token lifetime longer than allowed")
        if not self.first_use(client.iss, str(claims["jti"]), until):
            raise Unauthorized("jti replayed")
        return claims
