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
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from adapter.issues import UsageError
from adapter.packagecache import CORE_PACKAGE, core_package_dir

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
    "dependencies": {"hl7.fhir.r4.core": "4.0.1"},
    "license": "Apache-2.0",
    "author": "ball-fhir contributors",
}
#: Implicit dependencies the snapshot generator resolves; stubs with only a package.json suffice.
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


def _run(cmd: list[str], *, env: dict[str, str], what: str) -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"{what} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr


def run_sushi(tmp: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    """Compile the FSH project offline; return SUSHI's resources in file-name order."""
    home = tmp / "sushi-home"
    _copy_core(home / ".fhir" / "packages", drop_index=False)
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
    for name, version in STUB_PACKAGES:
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
    sys.stdout.write(f"build-profiles: wrote {out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
