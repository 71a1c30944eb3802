"""Cohort tables (protocol.md §8 layout) on a small synthetic cohort, and the CLI edge."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest

from adapter.cli.protocol import register
from adapter.protocol import evaluate
from adapter.protocol.cohort import Table, outcomes_table, patients_table
from tests.protocol.conftest import ROOT, protocols
from tests.protocol.synthetic import Spec, bundle_for

AS_OF = dt.date(2023, 1, 1)
D = dt.date

COHORT = [
    Spec(
        "a",
        "male",
        relapses=[D(2019, 3, 1)],
        course_start=D(2019, 5, 1),
        protocol="all-rez-mb-2014",
        translocation="t(4;11)",
        response="nr",
        mrd_pct=None,
    ),
    Spec("b", "female", sites=("BM", "CNS"), translocation="t(12;21)", later_relapse=D(2021, 3, 1)),
    Spec(
        "c",
        "male",
        relapses=[D(2021, 6, 1)],
        course_start=D(2021, 8, 1),
        sites=("CNS",),
        marrow_blasts=1.0,
    ),
    Spec(
        "d",
        "male",
        relapses=[D(2021, 6, 1)],
        course_start=D(2021, 8, 1),
        protocol="all-rez-2016-blokhin",
        translocation=None,
        death=D(2022, 6, 1),
    ),
    Spec(
        "e",
        "female",
        relapses=[D(2019, 3, 1), D(2021, 6, 1)],
        course_start=D(2021, 8, 1),
        protocol="all-rez-mb-2014",
        sites=("BM", "testis"),
        translocation="t(1;19)",
    ),
    Spec("f", "male", response="none", mrd_pct=None, death=D(2020, 7, 21)),
]


def _evaluations() -> list[Any]:
    out = []
    for s in COHORT:
        out += evaluate(bundle_for(s), protocols(), AS_OF)
    return out


def _cells(table: Table) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {(r.section, r.label.strip()): (*r.counts, *r.percents) for r in table.rows}


def test_patients_table_counts_and_percentages() -> None:
    t = _cells(patients_table(_evaluations()))
    assert t[("protocol", "ALL-REZ 2014")] == (1, 16.7)
    assert t[("protocol", "ALL-REZ 2016")] == (4, 66.7)
    assert t[("protocol", "second relapses")] == (1, 16.7)
    assert t[("sex", "boys")] == (4, 66.7)
    assert t[("sex", "girls")] == (2, 33.3)
    assert t[("time point", "very early")] == (1, 16.7)
    assert t[("time point", "early")] == (2, 33.3)
    assert t[("time point", "late")] == (3, 50.0)
    assert t[("site", "isolated BM")] == (3, 50.0)
    assert t[("site", "isolated CNS")] == (1, 16.7)
    assert t[("site", "BM+CNS")] == (1, 16.7)
    assert t[("site", "BM+testicular")] == (1, 16.7)
    assert t[("site", "testicular")] == (0, 0.0)
    assert t[("cytogenetics", "t(4;11)")] == (1, 16.7)
    assert t[("cytogenetics", "t(12;21)")] == (1, 16.7)
    assert t[("cytogenetics", "t(1;19)")] == (1, 16.7)
    assert t[("cytogenetics", "no significant translocation")] == (2, 33.3)
    assert t[("cytogenetics", "unknown")] == (1, 16.7)


def test_outcomes_table_by_protocol() -> None:
    table = outcomes_table(_evaluations())
    assert table.columns == ("all", "ALL-REZ 2014", "ALL-REZ 2016", "second relapses")
    assert table.totals == (6, 1, 4, 1)
    t = {label: counts for (_, label), counts in _cells(table).items()}
    assert t["death in induction"][:4] == (1, 0, 1, 0)
    assert t["non-responder"][:4] == (1, 1, 0, 0)
    assert t["CR"][:4] == (4, 0, 3, 1)
    assert t["CR"][4:] == (66.7, 0.0, 75.0, 100.0)
    assert t["death in remission"][:4] == (1, 0, 1, 0)
    assert t["relapse"][:4] == (1, 0, 1, 0)
    assert t["long-term CR"][:4] == (2, 0, 1, 1)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="ball-fhir")
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    code = args.handler(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_cohort_over_json_and_ndjson(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for s in COHORT[:5]:
        (tmp_path / f"{s.key}.json").write_text(json.dumps(bundle_for(s)), encoding="utf-8")
    loose = [e["resource"] for e in bundle_for(COHORT[5])["entry"]]
    (tmp_path / "f.ndjson").write_text(
        "\n".join(json.dumps(r) for r in loose) + "\n", encoding="utf-8"
    )
    code, out, _ = _run(["cohort", str(tmp_path), "--as-of", "2023-01-01", "--table", "outcomes",
                         "--format", "csv"], capsys)  # fmt: skip
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:4] == ["section", "label", "all n", "all %"]
    cr = next(r for r in rows if r[1] == "CR")
    assert cr[2:4] == ["4", "66.7"]
    code, out, _ = _run(["cohort", str(tmp_path), "--as-of", "2023-01-01"], capsys)
    assert code == 0
    assert "Table 1. Patient characteristics" in out
    assert "isolated BM" in out
    assert "3 (50.0%)" in out


def test_cli_evaluate_json_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    example = str(ROOT / "examples" / "protocol" / "course-bundle.json")
    code, out, _ = _run(["evaluate", example, "--as-of", "2022-04-05", "--format", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    codes = [f["code"] for f in doc["patients"][0]["findings"]]
    assert "mrd-positive" in codes
    code, out, _ = _run(["evaluate", example, "--as-of", "2022-04-05"], capsys)
    assert "[warning] mrd-positive" in out
    assert "source: protocol.md §5 [V23]" in out


def test_cli_evaluate_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["evaluate", str(tmp_path / "missing.json")], capsys)
    assert code == 2
    assert "cannot read" in err
    example = str(ROOT / "examples" / "protocol" / "course-bundle.json")
    code, _, err = _run(["evaluate", example, "--protocol", "nope"], capsys)
    assert code == 2
    assert "unknown protocol" in err


def test_cli_evaluate_exit_1_on_error_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = bundle_for(Spec("x", mrd_pct=None))
    bundle["entry"].append(
        {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "subject": {"reference": "urn:uuid:x-1"},
                "code": {
                    "coding": [
                        {
                            "system": "https://ball-fhir.org/fhir/CodeSystem/ball-concepts",
                            "code": "mrd-flow",
                        }
                    ]
                },
                "effectiveDateTime": "2020-07-29",
                "valueQuantity": {"value": 0.01},
            }
        }
    )
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    code, out, _ = _run(["evaluate", str(path), "--as-of", "2020-08-10"], capsys)
    assert code == 1
    assert "mrd-unreadable" in out


def test_cli_unknown_protocol_named_by_the_bundle_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = bundle_for(Spec("u", protocol="all-rez-2030"))
    path = tmp_path / "u.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    code, out, err = _run(["evaluate", str(path), "--as-of", "2021-01-01", "--format", "json"],
                          capsys)  # fmt: skip
    assert code == 2
    assert "protocol is not loaded" in err
    [patient] = json.loads(out)["patients"]
    [finding] = patient["findings"]
    assert (finding["code"], finding["severity"]) == ("unknown-protocol", "error")
    assert "PlanDefinition/all-rez-2030" in finding["message"]
    assert patient["protocol"] == "unknown"
    code, _, err = _run(["cohort", str(path), "--as-of", "2021-01-01"], capsys)
    assert code == 2
    assert "protocol not loaded" in err
