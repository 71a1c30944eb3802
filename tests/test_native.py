"""The guard against compiled modules older than their sources (adapter/native.py)."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import pytest

import adapter.native
from adapter.native import compiled, refuse_stale, stale_extensions

EXTENSION = "rows.cpython-311-x86_64-linux-gnu.so"


def _package(tmp_path: Path, source_age: int, extension_age: int) -> Path:
    """A package holding mapping/rows.py and its extension, aged (seconds before now)."""
    mapping = tmp_path / "adapter" / "mapping"
    mapping.mkdir(parents=True)
    now = 1_800_000_000
    for name, age in (("rows.py", source_age), (EXTENSION, extension_age)):
        (mapping / name).write_text("")
        os.utime(mapping / name, (now - age, now - age))
    return tmp_path / "adapter"


def test_an_extension_newer_than_its_source_is_used(tmp_path: Path) -> None:
    package = _package(tmp_path, source_age=60, extension_age=30)
    assert stale_extensions(package) == []
    refuse_stale(package)


def test_an_extension_older_than_its_source_is_refused_with_the_fix(tmp_path: Path) -> None:
    package = _package(tmp_path, source_age=30, extension_age=60)
    assert stale_extensions(package) == [
        (package / "mapping" / EXTENSION, package / "mapping" / "rows.py")
    ]
    with pytest.raises(ImportError, match=r"\(adapter/mapping/rows\.py\): run \./scripts/compile"):
        refuse_stale(package)


def test_an_extension_whose_source_is_gone_is_refused(tmp_path: Path) -> None:
    package = _package(tmp_path, source_age=60, extension_age=30)
    (package / "mapping" / "rows.py").unlink()
    with pytest.raises(ImportError, match=r"rows\.py"):
        refuse_stale(package)


def test_a_module_is_compiled_when_imported_from_an_extension() -> None:
    assert not compiled(adapter.native)  # never compiled: it runs before anything else
    module = ModuleType("adapter.mapping.rows")
    module.__file__ = f"/src/adapter/mapping/{EXTENSION}"
    assert compiled(module)
    module.__file__ = "/src/adapter/mapping/rows.py"
    assert not compiled(module)
