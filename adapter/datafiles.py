"""Where the package's data lives: the one seam every reader of ``mappings/`` and ``profiles/``
goes through (core; imports nothing of the project).

In a checkout the data is the top-level ``mappings/`` and ``profiles/`` folders, the source of
truth. ``$BALL_FHIR_MAPPINGS`` points the mappings elsewhere (a site's own tables).
"""

from __future__ import annotations

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]


def mappings_dir() -> Path:
    """The ``mappings/`` folder: ``$BALL_FHIR_MAPPINGS`` or the one shipped with the package."""
    env = os.environ.get("BALL_FHIR_MAPPINGS")
    return Path(env) if env else _ROOT / "mappings"


def profiles_dir() -> Path:
    """The ``profiles/`` folder (FSH sources, authored resources, the published ``package/``)."""
    return _ROOT / "profiles"
