"""Running the peer validators in node: Medplum 4.5.2 (``peer/medplum_validate.js``, from
``.npm-tools``, filled by ``scripts/setup-npm``) for the cross-check test and the benchmark, and
any other node script that reads a JSON request on stdin and writes JSON on stdout."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MEDPLUM_SCRIPT = Path(__file__).resolve().parent / "peer" / "medplum_validate.js"
MEDPLUM_CORE = ROOT / ".npm-tools" / "node_modules" / "@medplum" / "core"


def medplum_installed() -> bool:
    """Whether node and ``@medplum/core`` are there to run :func:`run_medplum`."""
    return shutil.which("node") is not None and MEDPLUM_CORE.is_dir()


def run_node(
    script: Path, request: dict[str, Any], *args: str, timeout: float | None = None
) -> Any:
    """The parsed JSON that ``node script args...`` writes for ``request`` (fails on exit != 0)."""
    done = subprocess.run(
        ["node", str(script), *args],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    )
    return json.loads(done.stdout)


def run_medplum(
    mode: str, resources: list[dict[str, Any]], *, timeout: float | None = None, **request: Any
) -> Any:
    """Medplum ``validateResource`` over ``resources``: ``mode`` "validate" gives one
    ``{"ok", "issues"}`` per resource, "bench" the best time of ``repeat`` runs."""
    payload = {"mode": mode, "resources": resources, **request}
    return run_node(MEDPLUM_SCRIPT, payload, timeout=timeout)
