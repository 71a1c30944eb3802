"""Rebuild the ball-fhir profile package (``profiles/package/``) from FSH, offline.

Run through ``scripts/build-profiles [OUT_DIR]``.  The steps (profiles/README.md):

1. SUSHI (``.npm-tools``, installed by ``scripts/setup-npm``) compiles ``profiles/input/fsh/*.fsh``
   with ``HOME`` pointed at a temporary home whose ``.fhir/packages`` holds a copy of the verified
   official ``hl7.fhir.r4.core#4.0.1`` (adapter.packagecache).  Registries are made unreachable
   (a dead proxy, npm offline) so nothing is fetched and nothing waits on a network.
2. The Outburn ``fhir-snapshot-generator`` (``profiles/tools/snapshots.cjs``) adds a snapshot to
   every StructureDefinition, from its OWN package cache: SUSHI's loader leaves ``.index.json``
   files without ``derivation`` that the generator would trust (validation-tools.md section 3).
3. The package is written deterministically: SUSHI's key order, two-space JSON, one file per
   resource named ``<resourceType>-<id>.json``, examples in ``example/``, sorted ``.index.json``
   files, no timestamps (sushi-config.yaml sets no ``date``).  Hand-written resources from
   ``profiles/input/resources/*.json`` and ``mappings/conceptmaps/*.json`` are copied in as-is.
   The ImplementationGuide resource (dependsOn mCODE, GR, THO; every resource listed) is written
   here, and the folder is packed as ``ball-fhir.profiles-<version>.tgz`` next to it.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from adapter.issues import UsageError
from adapter.packagecache import (
    CORE_PACKAGE,
    PROFILE_DEPENDENCIES,
    core_package_dir,
    npm_package_dir,
)

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "profiles"
NODE_MODULES = ROOT / ".npm-tools" / "node_modules"
SUSHI = NODE_MODULES / ".bin" / "sushi"
SNAPSHOTS_JS = PROFILES / "tools" / "snapshots.cjs"
DEFAULT_OUT = PROFILES / "package"

PACKAGE_NAME = "ball-fhir.profiles"
PACKAGE_VERSION = "0.1.0"
CANONICAL = "https://ball-fhir.org/fhir"
#: package.json of the published package (FHIR NPM package spec).
PACKAGE_JSON: dict[str, Any] = {
    "name": PACKAGE_NAME,
    "version": PACKAGE_VERSION,
    "type": "fhir.ig",
    "canonical": CANONICAL,
    "title": "ball-fhir foundation profiles for relapsed pediatric B-ALL",
    "description": (
        "Profiles, extensions, value sets and code system of the ball-fhir adapter "
        "(FHIR R4 4.0.1), with snapshots. Built by scripts/build-profiles from profiles/input."
    ),
    "fhirVersions": ["4.0.1"],
    "dependencies": {
        "hl7.fhir.r4.core": "4.0.1",
        **dict(p.split("#", 1) for p in PROFILE_DEPENDENCIES),
    },
    "license": "Apache-2.0",
    "author": "ball-fhir contributors",
}
#: The ImplementationGuide resource of the package (its id is the package id, as SUSHI does).
IG_ID = PACKAGE_NAME
#: Implicit dependencies the snapshot generator resolves; stubs with only a package.json suffice.
#: The dependencies of mCODE 4.0.0, GR 3.0.0 and THO 7.0.1 that are not on npm here (US Core
#: 6.1.0, GR 2.0.0, older THO and extensions) are stubbed the same way (:func:`_stub_names`).
STUB_PACKAGES = (("hl7.terminology.r4", "6.0.2"), ("hl7.fhir.uv.extensions.r4", "5.2.0"))
#: Resource types that are conformance/knowledge artefacts; every other resource is an example.
CONFORMANCE_TYPES = frozenset(
    {
        "StructureDefinition",
        "ValueSet",
        "CodeSystem",
        "ConceptMap",
        "NamingSystem",
        "SearchParameter",
        "OperationDefinition",
        "CapabilityStatement",
        "ImplementationGuide",
        "PlanDefinition",
        "ActivityDefinition",
        "Library",
        "Questionnaire",
    }
)
#: SUSHI warnings that are expected offline (validation-tools.md section 3) and harmless.
_BENIGN_WARNINGS = (
    re.compile(r"Failed to load automatically-provided "),
    re.compile(r"Unable to determine the latest version of sushi"),
)
#: Environment that keeps SUSHI and npm from reaching any registry (the build is offline).
_OFFLINE_ENV = {
    "npm_config_offline": "true",
    "npm_config_update_notifier": "false",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "no_proxy": "",
}


class BuildError(Exception):
    """The package cannot be built; the message says why and what to do."""


def _dump(resource: Any) -> str:
    return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "resourceType" not in data or "id" not in data:
        raise BuildError(f"{path}: not a FHIR resource with resourceType and id")
    return data


def _check_tools() -> str:
    if not SUSHI.exists() or not (NODE_MODULES / "fhir-snapshot-generator").is_dir():
        raise BuildError(
            f"the npm tools are not installed in {NODE_MODULES.parent}; run ./scripts/setup-npm"
        )
    node = shutil.which("node")
    if node is None:
        raise BuildError("node (Node.js >= 20) is not on PATH; it runs SUSHI and the snapshots")
    return node


def _copy_core(packages: Path, *, drop_index: bool) -> None:
    """Copy the verified core package into a private package cache (never touch the user's)."""
    try:
        core = core_package_dir()
    except UsageError as exc:
        raise BuildError(str(exc)) from exc
    target = packages / CORE_PACKAGE / "package"
    ignore = shutil.ignore_patterns(".index.json") if drop_index else None
    shutil.copytree(core, target, ignore=ignore)


def _copy_dependencies(packages: Path) -> list[dict[str, Any]]:
    """Copy the verified npm dependencies (mCODE, GR, THO) into a private package cache, without
    the ``.index.json`` our cache wrote (each tool indexes them itself); their manifests."""
    manifests = []
    for name_version in PROFILE_DEPENDENCIES:
        try:
            source = npm_package_dir(name_version)
        except UsageError as exc:
            raise BuildError(str(exc)) from exc
        target = packages / name_version / "package"
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(".index.json"))
        manifests.append(json.loads((target / "package.json").read_text(encoding="utf-8")))
    return manifests


def _stub_names(manifests: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The packages to stub: the implicit ones and every dependency of the real packages that
    is not itself one of them (nothing is downloaded; the stubs are written here)."""
    real = {CORE_PACKAGE, *PROFILE_DEPENDENCIES}
    wanted = dict.fromkeys(STUB_PACKAGES)
    for manifest in manifests:
        for name, version in sorted(manifest.get("dependencies", {}).items()):
            if f"{name}#{version}" not in real:
                wanted[(name, version)] = None
    return list(wanted)


def _run(cmd: list[str], *, env: dict[str, str], what: str) -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"{what} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr


def run_sushi(tmp: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    """Compile the FSH project offline; return SUSHI's resources in file-name order."""
    home = tmp / "sushi-home"
    _copy_core(home / ".fhir" / "packages", drop_index=False)
    _copy_dependencies(home / ".fhir" / "packages")
    project = tmp / "project"
    project.mkdir()
    shutil.copy2(PROFILES / "sushi-config.yaml", project / "sushi-config.yaml")
    shutil.copytree(PROFILES / "input" / "fsh", project / "input" / "fsh")
    out = tmp / "sushi-out"
    log = _run(
        [str(SUSHI), "build", str(project), "-o", str(out)],
        env={**env, "HOME": str(home)},
        what="SUSHI",
    )
    unexpected = [
        line
        for line in log.splitlines()
        if line.startswith("warn") and not any(p.search(line) for p in _BENIGN_WARNINGS)
    ]
    if unexpected:
        raise BuildError("SUSHI warnings (fix the FSH):\n" + "\n".join(unexpected) + "\n" + log)
    return [_load(p) for p in sorted((out / "fsh-generated" / "resources").glob("*.json"))]


def add_snapshots(
    tmp: Path, env: dict[str, str], node: str, conformance: list[dict[str, Any]]
) -> None:
    """Add a snapshot to every StructureDefinition in ``conformance`` (in place)."""
    cache = tmp / "fsg-cache"
    _copy_core(cache, drop_index=True)
    for name, version in _stub_names(_copy_dependencies(cache)):
        stub = cache / f"{name}#{version}" / "package"
        stub.mkdir(parents=True)
        manifest = {
            "name": name,
            "version": version,
            "fhirVersions": ["4.0.1"],
            "dependencies": {"hl7.fhir.r4.core": "4.0.1"},
        }
        (stub / "package.json").write_text(_dump(manifest), encoding="utf-8")
    ours = cache / f"{PACKAGE_NAME}#{PACKAGE_VERSION}" / "package"
    ours.mkdir(parents=True)
    (ours / "package.json").write_text(_dump(PACKAGE_JSON), encoding="utf-8")
    sds = [r for r in conformance if r["resourceType"] == "StructureDefinition"]
    for res in conformance:
        (ours / f"{res['resourceType']}-{res['id']}.json").write_text(_dump(res), encoding="utf-8")
    snap_dir = tmp / "snapshots"
    cmd = [node, str(SNAPSHOTS_JS), str(NODE_MODULES), str(cache), PACKAGE_NAME, PACKAGE_VERSION]
    _run([*cmd, str(snap_dir)], env={**env, "HOME": str(tmp / "fsg-home")}, what="snapshots")
    for sd in sds:
        generated = json.loads((snap_dir / f"StructureDefinition-{sd['id']}.json").read_text())
        if generated.get("differential") != sd.get("differential"):
            raise BuildError(f"the snapshot generator changed the differential of {sd['url']}")
        # Conventional R4 element order: snapshot before differential.
        differential = sd.pop("differential", None)
        sd["snapshot"] = generated["snapshot"]
        if differential is not None:
            sd["differential"] = differential


def _index(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    files = []
    for filename in sorted(resources):
        res = resources[filename]
        entry: dict[str, Any] = {
            "filename": filename,
            "resourceType": res["resourceType"],
            "id": res["id"],
        }
        keys = ["url", "version"]
        if res["resourceType"] == "StructureDefinition":
            keys += ["kind", "type", "derivation"]
        for key in keys:
            if isinstance(res.get(key), str):
                entry[key] = res[key]
        files.append(entry)
    return {"index-version": 1, "files": files}


def _extra_resources() -> list[dict[str, Any]]:
    paths = sorted((PROFILES / "input" / "resources").glob("*.json"))
    paths += sorted((ROOT / "mappings" / "conceptmaps").glob("*.json"))
    return [_load(p) for p in paths]


def _depends_on() -> list[dict[str, Any]]:
    """``ImplementationGuide.dependsOn``: each dependency's own IG canonical (read from its
    ImplementationGuide resource), its npm package id and version."""
    entries = []
    for name_version in PROFILE_DEPENDENCIES:
        name, version = name_version.split("#", 1)
        folder = npm_package_dir(name_version)
        guides = sorted(folder.glob("ImplementationGuide-*.json"))
        if len(guides) != 1:
            raise BuildError(f"{name_version}: expected one ImplementationGuide, found {guides}")
        uri = _load(guides[0])["url"]
        entries.append(
            {
                "id": re.sub(r"[^A-Za-z0-9]", "_", name),
                "uri": uri,
                "packageId": name,
                "version": version,
            }
        )
    return entries


def implementation_guide(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """The ImplementationGuide of the package: metadata, ``dependsOn`` (mCODE, GR, THO) and every
    resource; an example names the profile it conforms to (``exampleCanonical``)."""
    listed = []
    for res in sorted(resources, key=lambda r: (r["resourceType"], r["id"])):
        entry: dict[str, Any] = {
            "reference": {"reference": f"{res['resourceType']}/{res['id']}"},
        }
        if isinstance(res.get("name"), str):
            entry["name"] = res["name"]
        if res["resourceType"] in CONFORMANCE_TYPES:
            entry["exampleBoolean"] = False
        else:
            profiles = res.get("meta", {}).get("profile", [])
            if profiles:
                entry["exampleCanonical"] = profiles[0]
            else:
                entry["exampleBoolean"] = True
        listed.append(entry)
    return {
        "resourceType": "ImplementationGuide",
        "id": IG_ID,
        "url": f"{CANONICAL}/ImplementationGuide/{IG_ID}",
        "version": PACKAGE_VERSION,
        "name": "BallFhirProfiles",
        "title": PACKAGE_JSON["title"],
        "status": "draft",
        "publisher": PACKAGE_JSON["author"],
        "description": PACKAGE_JSON["description"],
        "packageId": PACKAGE_NAME,
        "license": PACKAGE_JSON["license"],
        "fhirVersion": PACKAGE_JSON["fhirVersions"],
        "dependsOn": _depends_on(),
        "definition": {"resource": listed},
    }


def write_tgz(folder: Path, target: Path) -> None:
    """Pack ``folder`` as an NPM package ``.tgz`` (members under ``package/``, as HAPI, Firely
    and Medplum load them), deterministically: sorted members, no owner, mtime 0."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            data = file.read_bytes()
            info = tarfile.TarInfo("package/" + file.relative_to(folder).as_posix())
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    target.write_bytes(buffer.getvalue())


def tgz_path(out: Path) -> Path:
    """Where the ``.tgz`` of the package folder ``out`` is written: next to it."""
    return out.parent / f"{PACKAGE_NAME}-{PACKAGE_VERSION}.tgz"


def write_package(out: Path, resources: list[dict[str, Any]]) -> None:
    """Replace ``out`` with the package: package.json, .index.json, resources, example/."""
    main: dict[str, dict[str, Any]] = {}
    examples: dict[str, dict[str, Any]] = {}
    for res in resources:
        filename = f"{res['resourceType']}-{res['id']}.json"
        bucket = main if res["resourceType"] in CONFORMANCE_TYPES else examples
        if filename in main or filename in examples:
            raise BuildError(f"two resources would be written to {filename}")
        bucket[filename] = res
    guide = implementation_guide(resources)
    main[f"ImplementationGuide-{guide['id']}.json"] = guide
    if out.exists():
        if any(out.iterdir()) and not (out / "package.json").is_file():
            raise BuildError(f"{out} exists and is not a package folder; refusing to replace it")
        shutil.rmtree(out)
    (out / "example").mkdir(parents=True)
    (out / "package.json").write_text(_dump(PACKAGE_JSON), encoding="utf-8")
    (out / ".index.json").write_text(_dump(_index(main)), encoding="utf-8")
    (out / "example" / ".index.json").write_text(_dump(_index(examples)), encoding="utf-8")
    for filename, res in main.items():
        (out / filename).write_text(_dump(res), encoding="utf-8")
    for filename, res in examples.items():
        (out / "example" / filename).write_text(_dump(res), encoding="utf-8")
    write_tgz(out, tgz_path(out))


def build(out: Path = DEFAULT_OUT) -> None:
    """Rebuild the package into ``out`` (replacing what is there)."""
    node = _check_tools()
    env = {**os.environ, **_OFFLINE_ENV}
    with tempfile.TemporaryDirectory(prefix="ball-fhir-profiles-") as name:
        tmp = Path(name)
        generated = run_sushi(tmp, env)
        resources = generated + _extra_resources()
        conformance = [r for r in resources if r["resourceType"] in CONFORMANCE_TYPES]
        add_snapshots(tmp, env, node, conformance)
    write_package(out, resources)


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        sys.stderr.write("usage: scripts/build-profiles [OUT_DIR]\n")
        return 2
    out = Path(argv[0]).resolve() if argv else DEFAULT_OUT
    try:
        build(out)
    except BuildError as exc:
        sys.stderr.write(f"build-profiles: {exc}\n")
        return 1
    sys.stdout.write(f"build-profiles: wrote {out} and {tgz_path(out)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
