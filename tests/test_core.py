"""The shared core: deterministic ids, Issue rendering, the verified core package."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import uuid
from pathlib import Path

import pytest

from adapter.fhir import _NAMESPACE, IdSpace, deterministic_id, unique_id
from adapter.issues import (
    EXT_REJECTED_RECORD,
    Issue,
    UsageError,
    sort_issues,
    to_operation_outcome,
)
from adapter.packagecache import CORE_PACKAGE, _extract_verified, core_package_dir


@pytest.mark.parametrize(
    "keys",
    [("Patient", "https://x/sid", "P1"), ("Observation", "a|b", "c\\d"), ("Bundle",)],
)
def test_deterministic_id_is_rfc4122_uuid5_of_the_escaped_name(keys: tuple[str, ...]) -> None:
    escaped = [k.replace("\\", "\\\\").replace("|", "\\|") for k in keys[1:]]
    expected = uuid.uuid5(_NAMESPACE, "|".join([keys[0], *escaped]))
    assert deterministic_id(*keys) == str(expected)
    assert unique_id(*keys) == str(expected)  # the same id, uncached
    assert uuid.UUID(deterministic_id(*keys)).version == 5


@pytest.mark.parametrize(
    ("leading", "keys"),
    [
        (("https://x/sid",), ("S1", "https://ball", "mrd-flow")),
        (("a|b",), ("c\\d", "e|f")),  # escaping is per key, on both sides of the split
        ((), ("P1",)),
    ],
)
def test_an_id_space_gives_the_unique_id_of_its_leading_and_own_keys(
    leading: tuple[str, ...], keys: tuple[str, ...]
) -> None:
    space = IdSpace("Observation", *leading)
    assert space(*keys) == unique_id("Observation", *leading, *keys)
    assert space(*keys) == space(*keys)  # hashing a copy leaves the shared prefix as it was


def test_keys_containing_the_separator_do_not_collide() -> None:
    assert deterministic_id("Observation", "a|b", "c") != deterministic_id(
        "Observation", "a", "b|c"
    )


def test_issue_renders_as_operation_outcome_with_the_rejected_record() -> None:
    issue = Issue(
        "error",
        "value",
        "MRD 120 % exceeds 100 %",
        rule="mrd-over-100-percent",
        location=("lab.csv:row 5:column value",),
        source_record="P1,S1,...",
    )
    outcome = to_operation_outcome([issue])
    rendered = outcome["issue"][0]
    assert rendered["details"] == {"text": "mrd-over-100-percent"}
    assert rendered["extension"] == [{"url": EXT_REJECTED_RECORD, "valueString": "P1,S1,..."}]
    assert issue.to_text() == (
        "error [mrd-over-100-percent] lab.csv:row 5:column value: MRD 120 % exceeds 100 %"
    )


def test_empty_issue_list_is_still_a_valid_operation_outcome() -> None:
    assert to_operation_outcome([])["issue"][0]["severity"] == "information"


def test_sort_issues_puts_errors_first_and_keeps_order_within_a_severity() -> None:
    w1, e1, w2 = (
        Issue("warning", "value", "1"),
        Issue("error", "value", "2"),
        Issue("warning", "value", "3"),
    )
    assert sort_issues([w1, e1, w2]) == [e1, w1, w2]


def test_core_package_with_a_wrong_hash_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.addfile(tarfile.TarInfo("package/package.json"), io.BytesIO(b""))
    with pytest.raises(UsageError, match="is not the pinned"):
        _extract_verified(buffer.getvalue(), tmp_path / CORE_PACKAGE)
    with pytest.raises(UsageError, match="not in the FHIR package cache"):
        core_package_dir(tmp_path)


def test_a_package_without_index_gets_one_on_unpack(tmp_path: Path) -> None:
    """npm packages built by the IG publisher (mCODE, THO) carry no .index.json; unpacking one
    writes it, so the validator's registry reads the index instead of every file."""
    files = {
        "package/package.json": b'{"name": "x", "version": "1"}',
        "package/ValueSet-a.json": b'{"resourceType": "ValueSet", "id": "a", "url": "http://x/a"}',
        "package/broken.json": b"{",
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    tgz = buffer.getvalue()
    target = tmp_path / "x#1"
    _extract_verified(tgz, target, hashlib.sha256(tgz).hexdigest())
    index = json.loads((target / "package" / ".index.json").read_text())
    assert index == {
        "index-version": 1,
        "files": [
            {
                "filename": "ValueSet-a.json",
                "resourceType": "ValueSet",
                "id": "a",
                "url": "http://x/a",
            }
        ],
    }


def test_the_installed_core_package_is_verified() -> None:
    folder = core_package_dir()
    assert (folder / "StructureDefinition-Observation.json").is_file()
