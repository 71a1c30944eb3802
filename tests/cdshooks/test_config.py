"""CDS Hooks configuration: YAML file, environment overrides, clear errors, closed defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapter.api import create_app
from adapter.cdshooks.config import CdsConfig, load_config
from adapter.issues import UsageError
from adapter.protocol import Protocol
from adapter.routes import cdshooks as cdshooks_routes
from adapter.routes.protocol import get_protocols
from tests.cdshooks.helpers import TestClient, request
from tests.cdshooks.helpers import course_resources as course
from tests.conftest import ROOT

PV = "ball-patient-view"


def test_defaults_are_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CdsConfig.model_fields:
        monkeypatch.delenv(f"BALL_FHIR_CDS_{name.upper()}", raising=False)
    monkeypatch.delenv("BALL_FHIR_CDS_CONFIG", raising=False)
    cfg = load_config()
    assert cfg.dev_mode is False
    assert cfg.clients == []
    assert cfg.fhir_server_allowlist == []
    assert cfg.cors_origins == []
    assert cfg.algorithms == ["ES384", "RS384"]
    assert cfg.fetch_budget_seconds < 0.5  # "well under 500 ms" (2.0 §Providing FHIR Resources)


def test_example_file_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    example = ROOT / "examples" / "cds-hooks" / "config.yaml"
    monkeypatch.setenv("BALL_FHIR_CDS_CONFIG", str(example))
    monkeypatch.setenv("BALL_FHIR_CDS_LEEWAY_SECONDS", "45")
    monkeypatch.setenv("BALL_FHIR_CDS_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("BALL_FHIR_CDS_DEV_MODE", "1")
    cfg = load_config()
    assert cfg.clients[0].iss == "https://sandbox.cds-hooks.org"
    assert cfg.leeway_seconds == 45
    assert cfg.cors_origins == ["https://a.example", "https://b.example"]
    assert cfg.dev_mode is True


def test_bad_files_and_values_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read CDS Hooks config"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("dev_mode: true\nno_such_field: 1\n", encoding="utf-8")
    with pytest.raises(UsageError, match="no_such_field"):
        load_config(bad)
    bad.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(UsageError, match="expected a mapping"):
        load_config(bad)


def test_published_json_schema_is_current() -> None:
    published = ROOT / "examples" / "cds-hooks" / "config.schema.json"
    schema = CdsConfig.model_json_schema()
    assert json.loads(published.read_text(encoding="utf-8")) == schema, (
        "regenerate examples/cds-hooks/config.schema.json from CdsConfig.model_json_schema()"
    )
    assert schema["properties"]["dev_mode"]["default"] is False


def test_a_worker_reads_the_protocol_content_at_start_and_writes_no_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``serve``'s app reads the content once, at start (a worker's first call does not wait
    for it), and opens the feedback store only on the first call that needs it."""
    reads: list[int] = []

    def counting() -> dict[str, Protocol]:
        reads.append(1)
        return get_protocols()

    monkeypatch.setattr(cdshooks_routes, "get_protocols", counting)
    monkeypatch.setenv("BALL_FHIR_CDS_FEEDBACK_DB", str(tmp_path / "fb.sqlite"))
    monkeypatch.setenv("BALL_FHIR_CDS_DEV_MODE", "1")
    app = create_app()
    assert reads == []
    with TestClient(app) as client:
        assert reads == [1]
        assert not (tmp_path / "fb.sqlite").exists()
        assert client.get("/cds-services").status_code == 200
        answer = client.post("/cds-services/ball-patient-view", json=request(PV, course()))
        assert answer.status_code == 200, answer.text
    assert reads == [1]
    assert (tmp_path / "fb.sqlite").exists()
