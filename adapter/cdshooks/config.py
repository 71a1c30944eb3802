"""Configuration of the CDS Hooks service: a pydantic model read from YAML and the environment.

``$BALL_FHIR_CDS_CONFIG`` names a YAML file (schema: ``CdsConfig.model_json_schema()``, published
as examples/cds-hooks/config.schema.json); the
variables ``BALL_FHIR_CDS_<FIELD>`` (upper-case field name) override single top-level scalar
fields, e.g. ``BALL_FHIR_CDS_DEV_MODE=1`` or ``BALL_FHIR_CDS_FEEDBACK_DB=/var/lib/cds.sqlite``.
Lists take comma-separated values (``BALL_FHIR_CDS_FHIR_SERVER_ALLOWLIST=https://a,https://b``).
Everything security-related defaults to closed: dev mode off, no trusted client, no FHIR
server allowed, no CORS origin.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapter.issues import UsageError

ENV_FILE = "BALL_FHIR_CDS_CONFIG"
ENV_PREFIX = "BALL_FHIR_CDS_"


class TrustedClient(BaseModel):
    """A CDS client (EHR) allowed to call us (CDS Hooks 2.0 "Trusting CDS Clients")."""

    model_config = ConfigDict(extra="forbid")

    iss: str = Field(description="the client's `iss` claim, exactly")
    jku: list[str] = Field(
        default_factory=list,
        description="JWK Set URLs this client may name in the JWT `jku` header (allowlist)",
    )
    jwks_url: str | None = Field(
        default=None, description="JWK Set URL used when the JWT has no `jku` (out of band)"
    )
    jwks: dict[str, Any] | None = Field(
        default=None, description="an inline JWK Set (keys exchanged out of band)"
    )
    tenant: list[str] = Field(
        default_factory=list, description="allowed `tenant` claims; empty: any or none"
    )


class CdsConfig(BaseModel):
    """Everything ``ball-fhir serve`` needs to serve CDS Hooks."""

    model_config = ConfigDict(extra="forbid")

    dev_mode: bool = Field(
        default=False,
        description="NO JWT verification and http fhirServer allowed: for the local sandbox only",
    )
    public_base_url: str | None = Field(
        default=None,
        description="the base URL clients call (e.g. https://cds.example.org), used for the JWT "
        "`aud` check behind a proxy; default: the URL of the request",
    )
    clients: list[TrustedClient] = Field(default_factory=list)
    algorithms: list[str] = Field(
        default_factory=lambda: ["ES384", "RS384"],
        description="accepted JWT algorithms (asymmetric only; `none` and HS* are always refused)",
    )
    leeway_seconds: float = Field(
        default=30.0, ge=0, description="clock skew allowed for exp/iat/nbf"
    )
    max_token_lifetime_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="longest accepted token lifetime; a `jti` is remembered until its `exp`",
    )
    jwks_min_refresh_seconds: float = Field(
        default=10.0,
        ge=0,
        description="a JWK Set is refetched for an unknown kid at most this often",
    )
    fhir_server_allowlist: list[str] = Field(
        default_factory=list,
        description="base URLs (prefixes) of FHIR servers we may fetch from (no SSRF)",
    )
    fetch_connect_timeout_seconds: float = Field(default=0.1, gt=0)
    fetch_read_timeout_seconds: float = Field(default=0.25, gt=0)
    fetch_budget_seconds: float = Field(
        default=0.35, gt=0, description="all FHIR fetches of one hook call together"
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="browser origins allowed (`*` for the sandbox only)"
    )
    course_page_base_url: str | None = Field(
        default=None,
        description="base URL of the patient course page; cards link to "
        "{base}/patients/{id}/timeline (no link when unset)",
    )
    feedback_db: str = Field(default="cds-feedback.sqlite", description="SQLite file")
    max_body_bytes: int = Field(default=2_000_000, gt=0)
    order_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="identical order-select/order-sign calls within this "
        "time are answered from a cache (the sandbox sends bursts)",
    )


def _env_overrides() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, info in CdsConfig.model_fields.items():
        raw = os.environ.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        annotation = str(info.annotation)
        out[name] = (
            [v.strip() for v in raw.split(",") if v.strip()] if "list" in annotation else raw
        )
    return out


def load_config(path: str | Path | None = None) -> CdsConfig:
    """The configuration: the YAML file (``path`` or ``$BALL_FHIR_CDS_CONFIG``), then the
    environment variables; a bad file or value is a :class:`UsageError` naming it."""
    source = path or os.environ.get(ENV_FILE)
    data: dict[str, Any] = {}
    if source:
        try:
            loaded = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read CDS Hooks config {source}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise UsageError(f"CDS Hooks config {source}: not YAML ({exc})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise UsageError(f"CDS Hooks config {source}: expected a mapping at the top")
        data = loaded or {}
    data.update(_env_overrides())
    try:
        return CdsConfig.model_validate(data)
    except ValidationError as exc:
        where = source or "environment"
        raise UsageError(f"CDS Hooks config ({where}): {exc}") from None
