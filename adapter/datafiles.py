"""Where the package's data lives: the one seam every reader of ``mappings/``, ``profiles/`` and
``examples/`` goes through (core; imports nothing of the project).

The top-level ``mappings/``, ``profiles/`` and ``examples/`` folders of the repository are the
source of truth.  The wheel carries copies of them as package data under ``adapter/data/``
(``[tool.hatch.build.targets.wheel.force-include]`` in ``pyproject.toml``), found here with
:mod:`importlib.resources`; a checkout (or an editable install of one) has no ``adapter/data/``
and reads the top-level folders.  ``$BALL_FHIR_MAPPINGS`` points the mappings elsewhere (a
site's own tables).
"""

from __future__ import annotations

import os
from functools import cache
from importlib.resources import files
from pathlib import Path


@cache
def data_root() -> Path:
    """The folder holding ``mappings/``, ``profiles/`` and ``examples/``: ``adapter/data`` of
    an installed wheel, else the checkout the package was imported from."""
    bundled = files("adapter").joinpath("data")
    if isinstance(bundled, Path) and bundled.is_dir():
        return bundled
    checkout = Path(str(files("adapter"))).parent
    if (checkout / "mappings").is_dir():
        return checkout
    raise RuntimeError(
        f"ball-fhir is installed without its data files (no {bundled} and no {checkout}/mappings):"
        " reinstall it from the wheel or the repository"
    )


def mappings_dir() -> Path:
    """The ``mappings/`` folder: ``$BALL_FHIR_MAPPINGS`` or the one shipped with the package."""
    env = os.environ.get("BALL_FHIR_MAPPINGS")
    return Path(env) if env else data_root() / "mappings"


def profiles_dir() -> Path:
    """The ``profiles/`` folder (the published ``package/``; in a checkout also the FSH sources
    and authored resources)."""
    return data_root() / "profiles"


def examples_dir() -> Path:
    """The bundled examples (``examples/manifest.yaml`` and its inputs): ``ball-fhir run``
    without arguments runs them."""
    return data_root() / "examples"
