"""Fixtures of the CDS Hooks tests: a client key and an app that trusts it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cdshooks.helpers import Signer, TestClient, app_for, config


@pytest.fixture
def signer() -> Signer:
    return Signer()


@pytest.fixture
def client(signer: Signer, tmp_path: Path) -> TestClient:
    cfg = config(signer, course_page_base_url="https://ehr.example.org/ball")
    return app_for(cfg, tmp_path / "fb.sqlite")
