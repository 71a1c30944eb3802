"""``ball-fhir cohort`` on the faithful synthetic cohort of [V23] reproduces its tables.

The cohort (tests/protocol/cohort_v23.py) is built from the figures protocol.md §8 quotes; the
tables are produced by the ``cohort`` command over an NDJSON file of the 109 patient Bundles and
compared with the paper's Table 1 and Table 3 ("all") exactly.  protocol.md does not quote the
per-group split of Table 3 nor Table 2; those columns are compared with what the generator
intended for each patient (its own BFM expectation, its own outcome split), and must add up to
the "all" column.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from adapter.cli.protocol import register
from tests.protocol.cohort_v23 import AS_OF, SITE_LABELS, cohort
from tests.protocol.synthetic import bundle_for

#: protocol.md §8, Table 1 (n=109) as quoted.
TABLE1 = {
    ("protocol", "ALL-REZ 2014"): 43,
    ("protocol", "ALL-REZ 2016"): 57,
    ("protocol", "second relapses"): 9,
    ("sex", "boys"): 70,
    ("sex", "girls"): 39,
    ("time point", "very early"): 40,
    ("time point", "early"): 43,
    ("time point", "late"): 26,
    ("site", "isolated BM"): 85,
    ("site", "isolated CNS"): 2,
    ("site", "testicular"): 1,
    ("site", "BM+CNS"): 14,
    ("site", "BM+testicular"): 6,
    ("site", "BM+extramedullary+CNS"): 1,
    ("cytogenetics", "t(12;21)"): 14,
    ("cytogenetics", "t(4;11)"): 8,
    ("cytogenetics", "t(1;19)"): 4,
    ("cytogenetics", "t(11;19)"): 1,
    ("cytogenetics", "t(9;11)"): 1,
    ("cytogenetics", "no significant translocation"): 61,
    ("cytogenetics", "unknown"): 20,
}
#: protocol.md §8, Table 3, all 109.
TABLE3_ALL = {
    "death in induction": 0,
    "non-responder": 17,
    "CR": 92,
    "death in remission": 6,
    "relapse": 34,
    "long-term CR": 52,
}
GROUP_COLUMNS = ("ALL-REZ 2014", "ALL-REZ 2016", "second relapses")


@pytest.fixture(scope="module")
def ndjson(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("v23") / "cohort.ndjson"
    lines = [json.dumps(bundle_for(p.spec)) for p in cohort()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _table(path: Path, table: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="ball-fhir")
    register(parser.add_subparsers())
    args = parser.parse_args(["cohort", str(path), "--as-of", AS_OF.isoformat(), "--table",
                              table, "--format", "json"])  # fmt: skip
    assert args.handler(args) == 0
    return dict(json.loads(capsys.readouterr().out))


def _rows(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["section"], r["label"].strip()): r for r in doc["rows"]}


def test_table1_is_reproduced_exactly(ndjson: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _table(ndjson, "patients", capsys)
    assert doc["columns"] == [{"name": "all", "n": 109}]
    rows = _rows(doc)
    got = {key: rows[key]["all"]["n"] for key in TABLE1}
    assert got == TABLE1
    assert rows[("age", "median age, years (range)")]["all"]["n"] == "7.90 (1.34-17.80)"
    assert ("time point", "not derivable") not in rows
    assert ("site", "not derivable") not in rows


def test_table3_is_reproduced_exactly(ndjson: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _table(ndjson, "outcomes", capsys)
    assert [(c["name"], c["n"]) for c in doc["columns"]] == [
        ("all", 109),
        ("ALL-REZ 2014", 43),
        ("ALL-REZ 2016", 57),
        ("second relapses", 9),
    ]
    rows = {label: r for (_, label), r in _rows(doc).items()}
    assert {label: rows[label]["all"]["n"] for label in TABLE3_ALL} == TABLE3_ALL
    assert rows["non-responder"]["all"]["percent"] == 15.6
    assert "not yet assessable" not in rows
    intended = Counter((p.group, p.outcome) for p in cohort())
    labels = {"non-responder": "non-responder", "death-in-remission": "death in remission",
              "relapse": "relapse", "long-term-cr": "long-term CR"}  # fmt: skip
    for group in GROUP_COLUMNS:
        for code, label in labels.items():
            assert rows[label][group]["n"] == intended[(group, code)], (group, label)
        assert rows["CR"][group]["n"] == sum(
            intended[(group, c)] for c in ("death-in-remission", "relapse", "long-term-cr")
        )
    for label in TABLE3_ALL:
        assert sum(rows[label][g]["n"] for g in GROUP_COLUMNS) == rows[label]["all"]["n"]


def test_table2_strata_per_protocol_group(ndjson: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _table(ndjson, "strata", capsys)
    assert doc["title"] == "Table 2. Relapse risk strata by protocol"
    rows = {label: r for (_, label), r in _rows(doc).items()}
    intended = Counter((p.group, p.stratum or "not derivable") for p in cohort())
    for label in ("S1", "S2", "S3", "S4", "S5", "not derivable"):
        for group in GROUP_COLUMNS:
            assert rows[label][group]["n"] == intended[(group, label)], (group, label)
        assert rows[label]["all"]["n"] == sum(intended[(g, label)] for g in GROUP_COLUMNS)
    # second relapses: the BFM strata are defined for first relapses
    assert rows["not derivable"]["second relapses"]["n"] == 9
    assert rows["S4"]["all"]["n"] > 0
    assert rows["S2"]["all"]["n"] > 0


def test_generator_follows_the_quoted_constraints() -> None:
    patients = cohort()
    # the 7 testicular relapses are boys; 7 non-responders die later (of progression)
    assert all(p.spec.gender == "male" for p in patients if "testis" in p.spec.sites)
    assert sum(1 for p in patients if p.outcome == "non-responder" and p.spec.death) == 7
    assert Counter(SITE_LABELS[p.spec.sites] for p in patients)["isolated BM"] == 85
