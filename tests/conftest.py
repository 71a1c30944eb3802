"""Shared fixtures: the repository paths and the loaded site configurations."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter.sources.site import SiteConfig, load_site

ROOT = Path(__file__).resolve().parents[1]

#: Provenance.recorded used by every golden test (the CLI takes it from the file's mtime).
RECORDED = "2024-06-01T12:00:00Z"


@pytest.fixture(scope="session")
def default_site() -> SiteConfig:
    return load_site("default")
