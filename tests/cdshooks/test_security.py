"""JWT security of every CDS Hooks call (2.0 §Trusting CDS Clients), each rule with a negative
test, using real ES384 (and RS384) keys generated here; CORS; dev mode; closed by default."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapter.api import create_app
from adapter.cdshooks.config import TrustedClient
from adapter.store.feedback import SqliteFeedbackStore
from tests.cdshooks.helpers import (
    BASE,
    ISS,
    LoopbackServer,
    Signer,
    TestClient,
    app_for,
    config,
    course_resources,
    request,
)

PV = "ball-patient-view"
PV_URL = f"/cds-services/{PV}"
UNAUTHORIZED = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "login", "diagnostics": "unauthorized"}],
}


def post(client: TestClient, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(PV_URL, json=request(PV, course_resources()), headers=headers)


def refused(answer: Any) -> bool:
    return bool(answer.status_code == 401 and answer.json() == UNAUTHORIZED)


def test_valid_es384_token_is_accepted(client: TestClient, signer: Signer) -> None:
    assert post(client, signer.token(BASE + PV_URL)).status_code == 200


def test_no_token_or_not_bearer_is_401_without_detail(client: TestClient) -> None:
    assert refused(post(client, None))
    answer = client.post(PV_URL, json={}, headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert refused(answer)
    assert answer.headers["www-authenticate"] == "Bearer"


def test_alg_none_is_refused(client: TestClient, signer: Signer) -> None:
    now = int(time.time())
    claims = {"iss": ISS, "aud": BASE + PV_URL, "iat": now, "exp": now + 60, "jti": "n1"}
    token = jwt.encode(claims, "", algorithm="none", headers={"kid": signer.kid, "typ": "JWT"})
    assert refused(post(client, token))


def test_hmac_with_the_public_key_as_secret_is_refused(client: TestClient, signer: Signer) -> None:
    public_pem = signer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    claims = {"iss": ISS, "aud": BASE + PV_URL, "iat": now, "exp": now + 60, "jti": "h1"}
    # PyJWT refuses to HMAC-sign with a PEM key, so the token is built by hand
    header = jwt.utils.base64url_encode(
        json.dumps({"alg": "HS384", "typ": "JWT", "kid": signer.kid}).encode()
    )
    payload = jwt.utils.base64url_encode(json.dumps(claims).encode())
    signing_input = header + b"." + payload
    mac = hmac.new(public_pem, signing_input, hashlib.sha384).digest()
    token = (signing_input + b"." + jwt.utils.base64url_encode(mac)).decode()
    assert refused(post(client, token))


def test_signature_by_another_key_with_the_same_kid_is_refused(
    client: TestClient, signer: Signer
) -> None:
    forger = Signer(kid=signer.kid)
    assert refused(post(client, forger.token(BASE + PV_URL)))


@pytest.mark.parametrize(
    "token",
    [
        "abc",
        "a.b",
        "a.b.c.d",
        "e30.e30.",  # {} and {}: no alg, no kid
        "W10.e30.sig",  # header is a JSON array
        "bm90IGpzb24.e30.sig",  # header "not json"
    ],
)
def test_unreadable_tokens_are_refused(client: TestClient, token: str) -> None:
    assert refused(post(client, token))


def test_a_token_strict_base64url_refuses_is_refused_though_its_claims_read(
    client: TestClient, signer: Signer
) -> None:
    """The issuer and key are chosen from a lenient read; PyJWT's strict decode still runs."""
    header, claims, signature = signer.token(BASE + PV_URL).split(".")
    assert refused(post(client, f"{header}.{claims[:5]}!{claims[5:]}.{signature}"))


def test_issuer_not_allowlisted_is_refused(client: TestClient, signer: Signer) -> None:
    assert refused(post(client, signer.token(BASE + PV_URL, iss="https://evil.example")))


def test_wrong_audience_is_refused(client: TestClient, signer: Signer) -> None:
    assert refused(post(client, signer.token(BASE + "/cds-services")))
    assert refused(post(client, signer.token("https://other.example/cds-services/" + PV)))
    # an aud list holding the endpoint URL is fine (2.0: string or array)
    assert post(client, signer.token([BASE + PV_URL, "x"])).status_code == 200


def test_public_base_url_is_the_audience_behind_a_proxy(signer: Signer, tmp_path: Path) -> None:
    public = "https://cds.example.org/ball"
    client = app_for(config(signer, public_base_url=public), tmp_path / "fb.sqlite")
    assert post(client, signer.token(public + PV_URL)).status_code == 200
    assert refused(post(client, signer.token(BASE + PV_URL)))


def test_expiry_and_issued_at_with_leeway(client: TestClient, signer: Signer) -> None:
    now = int(time.time())
    aud = BASE + PV_URL
    # leeway 30 s (the default; the sandbox needs about that much)
    assert post(client, signer.token(aud, exp=now - 10)).status_code == 200
    assert refused(post(client, signer.token(aud, exp=now - 120)))
    assert refused(post(client, signer.token(aud, iat=now + 120, exp=now + 300)))
    assert refused(post(client, signer.token(aud, nbf=now + 120)))


def test_missing_required_claims_are_refused(client: TestClient, signer: Signer) -> None:
    aud = BASE + PV_URL
    for claim in ("jti", "iat", "exp"):
        assert refused(post(client, signer.token(aud, **{claim: None}))), claim


def test_header_needs_typ_and_kid(client: TestClient, signer: Signer) -> None:
    assert refused(post(client, signer.token(BASE + PV_URL, header={"typ": "at+jwt"})))
    assert refused(post(client, signer.token(BASE + PV_URL, header={"kid": "unknown-kid"})))


def test_replayed_jti_is_refused(client: TestClient, signer: Signer) -> None:
    token = signer.token(BASE + PV_URL)
    assert post(client, token).status_code == 200
    assert refused(post(client, token))


def test_replayed_jti_is_refused_by_another_worker(signer: Signer, tmp_path: Path) -> None:
    """Two apps on one feedback store stand for two worker processes of ``serve --workers``:
    the second refuses a token the first accepted."""
    first = app_for(config(signer), tmp_path / "fb.sqlite")
    second = app_for(config(signer), tmp_path / "fb.sqlite")
    token = signer.token(BASE + PV_URL)
    assert post(first, token).status_code == 200
    assert refused(post(second, token))
    assert post(second, signer.token(BASE + PV_URL)).status_code == 200


def test_store_forgets_a_jti_once_its_token_expired(tmp_path: Path) -> None:
    store = SqliteFeedbackStore(tmp_path / "fb.sqlite")
    now = time.time()
    assert store.first_use(ISS, "j1", now + 60)
    assert not store.first_use(ISS, "j1", now + 60)
    assert store.first_use("https://other.example.org", "j1", now + 60)  # per issuer
    assert store.first_use(ISS, "j2", now - 1)  # its token has expired already
    assert store.first_use(ISS, "j2", now + 60)  # so the id may come again
    assert not store.first_use(ISS, "j2", now + 60)


def test_token_living_too_long_is_refused(client: TestClient, signer: Signer) -> None:
    assert refused(post(client, signer.token(BASE + PV_URL, exp=int(time.time()) + 86400)))


def test_tenant_allowlist(signer: Signer, tmp_path: Path) -> None:
    client_cfg = TrustedClient(iss=ISS, jwks={"keys": [signer.jwk()]}, tenant=["site-a"])
    client = app_for(config(signer, clients=[client_cfg]), tmp_path / "fb.sqlite")
    assert post(client, signer.token(BASE + PV_URL, tenant="site-a")).status_code == 200
    assert refused(post(client, signer.token(BASE + PV_URL, tenant="site-b")))
    assert refused(post(client, signer.token(BASE + PV_URL)))


def test_rs384_is_accepted(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": "rsa-1"}
    signer = Signer()
    client = app_for(
        config(signer, clients=[TrustedClient(iss=ISS, jwks={"keys": [jwk]})]),
        tmp_path / "fb.sqlite",
    )
    now = int(time.time())
    claims = {"iss": ISS, "aud": BASE + PV_URL, "iat": now, "exp": now + 60, "jti": "r1"}
    token = jwt.encode(claims, key, algorithm="RS384", headers={"kid": "rsa-1", "typ": "JWT"})
    assert post(client, token).status_code == 200
    rs256 = jwt.encode(
        {**claims, "jti": "r2"}, key, algorithm="RS256", headers={"kid": "rsa-1", "typ": "JWT"}
    )
    assert refused(post(client, rs256))  # not configured (ES384, RS384)


class _Jwks(LoopbackServer):
    """A JWK Set server whose keys can be rotated; counts its fetches."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        super().__init__(lambda _path: (200, {"keys": self.keys}))
        self.url = self.base + "/jwks.json"

    @property
    def fetches(self) -> int:
        return len(self.seen)


@pytest.fixture
def jwks_server(signer: Signer) -> Iterator[_Jwks]:
    server = _Jwks([signer.jwk()])
    yield server
    server.close()


def test_jku_allowlisted_keys_are_cached_and_refreshed_on_unknown_kid(
    signer: Signer, jwks_server: _Jwks, tmp_path: Path
) -> None:
    trusted = TrustedClient(iss=ISS, jku=[jwks_server.url])
    cfg = config(signer, clients=[trusted], jwks_min_refresh_seconds=0)
    client = app_for(cfg, tmp_path / "fb.sqlite")
    jku = {"jku": jwks_server.url}
    assert post(client, signer.token(BASE + PV_URL, header=jku)).status_code == 200
    assert post(client, signer.token(BASE + PV_URL, header=jku)).status_code == 200
    assert jwks_server.fetches == 1  # cached
    rotated = Signer()
    jwks_server.keys = [signer.jwk(), rotated.jwk()]
    assert post(client, rotated.token(BASE + PV_URL, header=jku)).status_code == 200
    assert jwks_server.fetches == 2  # refreshed once for the unknown kid
    assert refused(post(client, Signer().token(BASE + PV_URL, header=jku)))


def test_jku_not_on_the_allowlist_is_refused_without_fetching(
    signer: Signer, jwks_server: _Jwks, tmp_path: Path
) -> None:
    trusted = TrustedClient(iss=ISS, jku=["https://keys.example.org/jwks.json"])
    client = app_for(config(signer, clients=[trusted]), tmp_path / "fb.sqlite")
    assert refused(post(client, signer.token(BASE + PV_URL, header={"jku": jwks_server.url})))
    assert jwks_server.fetches == 0


def test_unknown_kid_refresh_is_rate_limited(
    signer: Signer, jwks_server: _Jwks, tmp_path: Path
) -> None:
    trusted = TrustedClient(iss=ISS, jwks_url=jwks_server.url)
    client = app_for(
        config(signer, clients=[trusted], jwks_min_refresh_seconds=600), tmp_path / "f"
    )
    assert post(client, signer.token(BASE + PV_URL)).status_code == 200
    for _ in range(3):
        assert refused(post(client, Signer().token(BASE + PV_URL)))
    assert jwks_server.fetches == 1


def test_discovery_and_feedback_need_a_token_too(client: TestClient, signer: Signer) -> None:
    assert refused(client.get("/cds-services"))
    assert refused(client.post(PV_URL + "/feedback", json={"feedback": []}))
    assert refused(client.get("/cds-feedback/summary"))
    # the feedback endpoint's own URL is its audience
    assert refused(
        client.post(
            PV_URL + "/feedback",
            json={"feedback": []},
            headers={"Authorization": f"Bearer {signer.token(BASE + PV_URL)}"},
        )
    )


def test_the_default_app_is_closed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BALL_FHIR_CDS_CONFIG", raising=False)
    monkeypatch.setenv("BALL_FHIR_CDS_FEEDBACK_DB", str(tmp_path / "fb.sqlite"))
    client = TestClient(create_app())
    assert refused(client.get("/cds-services"))


def test_dev_mode_is_off_by_default_and_loud_when_on(
    signer: Signer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert config(signer).dev_mode is False
    client = app_for(config(signer), tmp_path / "fb.sqlite")
    assert "DEV MODE" not in caplog.text
    client = app_for(config(signer, dev_mode=True), tmp_path / "fb.sqlite")
    assert [r.levelname for r in caplog.records if "DEV MODE" in r.getMessage()] == ["WARNING"]
    answer = client.get("/cds-services")
    assert answer.status_code == 200
    assert all(s["description"].startswith("[DEV MODE") for s in answer.json()["services"])
    assert post(client, None).status_code == 200


def test_cors_for_the_cds_paths_only(signer: Signer, tmp_path: Path) -> None:
    origin = "https://sandbox.cds-hooks.org"
    client = app_for(config(signer, cors_origins=[origin]), tmp_path / "fb.sqlite")
    preflight = client.options(
        "/cds-services",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    other = client.options(
        "/cds-services",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in other.headers
    token = signer.token(BASE + "/cds-services")
    simple = client.get(
        "/cds-services", headers={"Origin": origin, "Authorization": f"Bearer {token}"}
    )
    assert simple.headers["access-control-allow-origin"] == origin
