"""``ball-fhir validate``: exit codes, text grouping by entry, JSON OperationOutcome."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from adapter.cli.validate import register
from adapter.fhir import PROFILE_LAB
from adapter.issues import UsageError

from .conftest import HERE, ROOT

BUNDLE = HERE / "resources" / "bundle-tx.json"
MRD = ROOT / "profiles" / "package" / "example" / "Observation-ball-mrd-observation-example.json"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ball-fhir")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["validate", *argv])
    code: int = args.handler(args)
    return code


def _bad_bundle(tmp_path: Path) -> Path:
    bundle = json.loads(BUNDLE.read_text())
    del bundle["entry"][1]["resource"]["status"]
    bundle["entry"][1]["request"]["method"] = "FETCH"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bundle))
    return path


def test_valid_files_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(BUNDLE), str(MRD)]) == 0
    out = capsys.readouterr().out
    assert "Bundle (transaction, 2 entries): valid" in out
    assert "Observation/ball-mrd-observation-example (ball-mrd-observation): valid" in out


def test_errors_exit_1_grouped_by_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(_bad_bundle(tmp_path))]) == 1
    out = capsys.readouterr().out
    assert "2 error(s)" in out
    assert "  entry[1] Observation/3e2b7d4c-1a9f-4c0e-8b6d-5f4a3c2b1e0d" in out
    assert "    error [cardinality] status: " in out
    assert "    error [binding-required] request.method: " in out


def test_json_format_is_an_operation_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([str(_bad_bundle(tmp_path)), "--format", "json"]) == 1
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["resourceType"] == "OperationOutcome"
    assert {"Bundle.entry[1].resource.status"} <= {
        e for i in outcome["issue"] for e in i.get("expression", [])
    }


def test_profile_option(capsys: pytest.CaptureFixture[str]) -> None:
    anc = HERE / "resources" / "obs-anc.json"
    assert run([str(anc)]) == 0
    assert run([str(anc), "--profile", PROFILE_LAB]) == 1
    assert "binding-required" in capsys.readouterr().out


def test_invalid_json_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    assert run([str(path)]) == 1
    assert "fatal [json]" in capsys.readouterr().out


def test_usage_errors_exit_2() -> None:
    with pytest.raises(UsageError):
        run(["/nonexistent/file.json"])
    with pytest.raises(UsageError):
        run([str(BUNDLE), "--profile", "https://example.org/nope"])
    with pytest.raises(UsageError):
        run([str(BUNDLE), "--package", "/nonexistent/pkg"])
    with pytest.raises(SystemExit) as exc:
        run([str(BUNDLE), "--format", "xml"])
    assert exc.value.code == 2


def test_extra_package_tgz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import tarfile

    sd = json.loads(
        (ROOT / "profiles" / "package" / "StructureDefinition-ball-patient.json").read_text()
    )
    sd["url"] = "https://site.example.org/StructureDefinition/site-patient"
    sd["id"] = "site-patient"
    folder = tmp_path / "package"
    folder.mkdir()
    (folder / "package.json").write_text(json.dumps({"name": "site.pkg", "version": "1.0.0"}))
    (folder / "StructureDefinition-site-patient.json").write_text(json.dumps(sd))
    tgz = tmp_path / "site.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(folder, arcname="package")
    patient = tmp_path / "p.json"
    patient.write_text(json.dumps({"resourceType": "Patient"}))
    argv = [str(patient), "--package", str(tgz), "--profile", sd["url"]]
    assert run(argv) == 1
    assert "identifier" in capsys.readouterr().out


def test_profile_map_only_with_infer_profiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patient = tmp_path / "patient.json"
    patient.write_text(json.dumps({"resourceType": "Patient", "gender": "female"}))
    assert run([str(patient)]) == 0  # a plain Patient without identifier is valid R4
    assert "Patient: valid" in capsys.readouterr().out
    assert run([str(patient), "--infer-profiles"]) == 1  # ball-patient needs an identifier
    assert "error [cardinality] Patient.identifier: " in capsys.readouterr().out
