"""`ball-fhir map lab` and `ball-fhir run`: exit codes, outputs, nothing written on usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapter.cli import main
from adapter.cli.mapcmd import SOURCE_KINDS
from adapter.validation import default_validator
from tests.bundle_checks import assert_bundle_invariants, local_names
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "lab" / "lab-results.csv"
GOOD = ROOT / "tests" / "golden" / "lab" / "statuses" / "input.csv"


def test_all_mapped_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.csv"
    good.write_text("\n".join(GOOD.read_text().splitlines()[:5]) + "\n")
    out = tmp_path / "b.json"
    assert main(["map", "lab", str(good), "-o", str(out)]) == 0
    bundle = json.loads(out.read_text())
    assert bundle["type"] == "transaction"
    assert capsys.readouterr().err == ""


def test_without_output_the_bundle_goes_to_stdout(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    good = tmp_path / "good.csv"
    good.write_text("\n".join(GOOD.read_text().splitlines()[:5]) + "\n")
    out = tmp_path / "b.json"
    assert main(["map", "lab", str(good), "-o", str(out)]) == 0
    assert main(["map", "lab", str(good)]) == 0
    assert capsysbinary.readouterr().out == out.read_bytes()  # the same bytes, not re-encoded


def test_rejects_exit_1_with_outcome_and_stderr_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, rejects = tmp_path / "b.json", tmp_path / "r.json"
    code = main(["map", "lab", str(EXAMPLE), "-o", str(out), "--rejects", str(rejects)])
    assert code == 1
    outcome = json.loads(rejects.read_text())
    assert outcome["resourceType"] == "OperationOutcome"
    errors = [i for i in outcome["issue"] if i["severity"] == "error"]
    assert {e["details"]["text"] for e in errors} == {
        "mrd-unit-missing",
        "mrd-over-100-percent",
        "test-code-unknown",
        "date-format",
    }
    assert all(e["extension"][0]["valueString"].startswith("P003,") for e in errors)
    err = capsys.readouterr().err
    assert "read 16, mapped 12, rejected 4" in err
    assert "lab-results.csv:row 17:column collected_at" in err


def test_json_issue_format_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["map", "lab", str(EXAMPLE), "-o", str(tmp_path / "b.json"), "--format", "json"]) == 1
    )
    outcome = json.loads(capsys.readouterr().err)
    assert outcome["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "nowhere"], "no site configuration 'nowhere'"),
        (["--site", str(ROOT / "mappings" / "sites" / "ru-example.yaml")], "required column"),
    ],
)
def test_usage_errors_exit_2_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "b.json"
    assert main(["map", "lab", str(EXAMPLE), "-o", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["map", "lab", str(tmp_path / "none.csv"), "-o", str(tmp_path / "b")]) == 2


def test_wrong_encoding_is_a_usage_error_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ru = ROOT / "examples" / "lab-ru" / "lab-results-cp1251.csv"
    site = tmp_path / "site.yaml"
    site.write_text(
        (ROOT / "mappings" / "sites" / "ru-example.yaml")
        .read_text()
        .replace("encoding: cp1251", "encoding: utf-8")
    )
    assert main(["map", "lab", str(ru), "--site", str(site)]) == 2
    assert "not utf-8-sig text at byte 0 (line 1)" in capsys.readouterr().err


def test_main_job_maps_every_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(ROOT / "examples" / "manifest.yaml"), "--out", str(tmp_path)]) == 1
    output = capsys.readouterr().out
    table = {line.split()[0]: line.split()[1:] for line in output.splitlines() if line.strip()}
    assert table["lab-default"] == ["lab", "16", "12", "4", "32", "0"]
    assert table["lab-ru"] == ["lab", "8", "7", "1", "20", "0"]
    job_rows = [r for r in table.values() if len(r) == 6 and r[0] in SOURCE_KINDS]
    assert len(job_rows) >= 2
    assert all(r[5] == "0" for r in job_rows), "validation errors in a mapped example"
    assert "Protocol findings as of" in output
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())
    assert {p["patient"] for p in evaluation["patients"]} >= {
        e["fullUrl"]
        for e in json.loads((tmp_path / "all.bundle.json").read_text())["entry"]
        if e["resource"]["resourceType"] == "Patient"
    }
    ru = json.loads((tmp_path / "lab-ru.bundle.json").read_text())
    patients = [e["resource"] for e in ru["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert [p["identifier"][0]["value"] for p in patients] == ["Р-1001", "Р-1002"]


def test_every_bundle_of_the_main_job_is_valid(tmp_path: Path) -> None:
    assert main(["run", str(ROOT / "examples" / "manifest.yaml"), "--out", str(tmp_path)]) == 1
    bundles = sorted(tmp_path.glob("*.bundle.json"))
    assert len(bundles) >= 2
    validator = default_validator()
    loaded = {path.name: json.loads(path.read_text()) for path in bundles}
    everywhere = set().union(*(local_names(b) for b in loaded.values()))
    for name, bundle in loaded.items():
        assert_bundle_invariants(bundle, everywhere)
        errors = [i.to_text() for i in validator.validate(bundle) if i.is_error]
        assert errors == [], name
