"""Golden files: compared as parsed JSON, regenerated only on request.

Set ``BALL_FHIR_REGEN_GOLDEN=1`` to rewrite the expected files from the current output (then
review the diff before committing).  Without it a missing or different file fails the test.

Golden cases of a mapper are folders ``tests/golden/<kind>/<case>/`` holding the input, an
optional ``site.yaml`` (else the default site), ``expected.json`` (the Bundle) and
``outcome.json`` (the OperationOutcome of every issue): :func:`golden_cases`,
:func:`map_golden_case` and :func:`assert_golden_result` are their harness.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapter.issues import to_operation_outcome
from adapter.mapping.bundle import MapResult
from adapter.sources.site import SiteConfig, load_site
from tests.conftest import ROOT

REGENERATE = os.environ.get("BALL_FHIR_REGEN_GOLDEN") == "1"


def assert_golden(actual: Any, path: Path) -> None:
    """Assert ``actual`` equals the parsed JSON in ``path`` (or rewrite it when regenerating)."""
    if REGENERATE:
        path.write_text(json.dumps(actual, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return
    assert path.is_file(), f"missing golden file {path} (BALL_FHIR_REGEN_GOLDEN=1 writes it)"
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert json.loads(json.dumps(actual)) == expected, f"output differs from {path}"


def golden_cases(kind: str) -> list[Path]:
    """The case folders of ``tests/golden/<kind>``, sorted by name."""
    return sorted(p for p in (ROOT / "tests" / "golden" / kind).iterdir() if p.is_dir())


def case_site(case: Path) -> SiteConfig:
    """The case's own ``site.yaml``, else the default site."""
    site_file = case / "site.yaml"
    return load_site(str(site_file) if site_file.is_file() else "default")


def map_golden_case(
    case: Path, input_name: str, mapper: Callable[[bytes, str, SiteConfig], MapResult]
) -> MapResult:
    """Map the case's input file (named ``input_name`` in the result) with the case's site."""
    site = case_site(case)
    return mapper((case / input_name).read_bytes(), input_name, site)


def assert_golden_result(result: MapResult, case: Path) -> None:
    """The Bundle matches ``expected.json`` and the issues ``outcome.json``."""
    assert_golden(result.bundle, case / "expected.json")
    assert_golden(to_operation_outcome(result.issues), case / "outcome.json")
