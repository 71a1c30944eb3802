"""Golden files: compared as parsed JSON, regenerated only on request.

Set ``BALL_FHIR_REGEN_GOLDEN=1`` to rewrite the expected files from the current output (then
review the diff before committing).  Without it a missing or different file fails the test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REGENERATE = os.environ.get("BALL_FHIR_REGEN_GOLDEN") == "1"


def assert_golden(actual: Any, path: Path) -> None:
    """Assert ``actual`` equals the parsed JSON in ``path`` (or rewrite it when regenerating)."""
    if REGENERATE:
        path.write_text(json.dumps(actual, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return
    assert path.is_file(), f"missing golden file {path} (BALL_FHIR_REGEN_GOLDEN=1 writes it)"
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert json.loads(json.dumps(actual)) == expected, f"output differs from {path}"
