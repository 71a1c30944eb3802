"""The committed profile package (profiles/package/) is what scripts/build-profiles makes now.

Rebuilds the package into a temporary folder with the npm tools (SUSHI, snapshot generator) and
compares it with the committed one: the same files, equal as parsed JSON.  The npm tools are
installed by scripts/setup-npm before pytest in CI (scripts/test); when they are missing this
FAILS rather than skips, so a stale package can never pass unnoticed.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "profiles" / "package"
TGZ_NAME = "ball-fhir.profiles-0.1.0.tgz"
SUSHI = ROOT / ".npm-tools" / "node_modules" / ".bin" / "sushi"

pytestmark = pytest.mark.npm


def _files(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}


def _build(out: Path) -> None:
    if not SUSHI.exists():
        pytest.fail(
            f"the npm tools are missing ({SUSHI} not found): run ./scripts/setup-npm "
            "(scripts/test does) before pytest; the profile package cannot be checked without them"
        )
    proc = subprocess.run(
        [str(ROOT / "scripts" / "build-profiles"), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"scripts/build-profiles failed:\n{proc.stdout}\n{proc.stderr}")


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("profiles") / "package"
    _build(out)
    return out


def test_committed_package_is_fresh(rebuilt: Path) -> None:
    fix = "run ./scripts/build-profiles and commit profiles/package/"
    committed, fresh = _files(COMMITTED), _files(rebuilt)
    missing = sorted(fresh.keys() - committed.keys())
    extra = sorted(committed.keys() - fresh.keys())
    assert not missing, f"profiles/package/ lacks {missing}: {fix}"
    assert not extra, f"profiles/package/ has files the build no longer makes {extra}: {fix}"
    stale = [
        name
        for name in sorted(fresh)
        if json.loads(fresh[name].read_text(encoding="utf-8"))
        != json.loads(committed[name].read_text(encoding="utf-8"))
    ]
    assert not stale, f"profiles/package/ is stale in {stale}: {fix}"


def _tgz_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def test_tgz_is_the_package(rebuilt: Path) -> None:
    """The .tgz beside the package folder holds exactly its files under package/ (the NPM layout
    HAPI, Firely and Medplum load); the committed one is fresh too."""
    for tgz, folder in (
        (rebuilt.parent / TGZ_NAME, rebuilt),
        (COMMITTED.parent / TGZ_NAME, COMMITTED),
    ):
        members = _tgz_members(tgz)
        files = _files(folder)
        assert sorted(members) == sorted(f"package/{name}" for name in files)
        for name, path in files.items():
            assert json.loads(members[f"package/{name}"]) == json.loads(path.read_bytes()), name


def test_build_is_deterministic(rebuilt: Path, tmp_path: Path) -> None:
    again = tmp_path / "package"
    _build(again)
    first, second = _files(rebuilt), _files(again)
    assert first.keys() == second.keys()
    differ = [n for n in sorted(first) if first[n].read_bytes() != second[n].read_bytes()]
    assert not differ, f"two builds differ byte-wise in {differ}"
    tgzs = [(folder.parent / TGZ_NAME).read_bytes() for folder in (rebuilt, again)]
    assert tgzs[0] == tgzs[1], "two builds give different .tgz bytes"
