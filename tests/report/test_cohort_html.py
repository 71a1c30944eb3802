"""The cohort report as HTML: curves per group with their landmark, numbers at risk, tables."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from adapter.cli import main
from adapter.report.cohort_html import render_cohort_report
from adapter.report.survival import cohort_survival
from tests.protocol.conftest import protocols
from tests.protocol.synthetic import bundle_for
from tests.report.htmlcheck import Page, external_references
from tests.report.test_survival import cohort

AS_OF = dt.date(2024, 5, 1)


def report() -> Page:
    cs = cohort_survival([bundle_for(s) for s in cohort()], protocols(), AS_OF)
    return Page(render_cohort_report(cs, AS_OF))


def test_report_is_self_contained_and_charts_have_text_alternatives() -> None:
    page = report()
    assert external_references(page) == []
    assert page.find("script") == []
    svgs = page.find("svg")
    assert [s.attrs["id"] for s in svgs] == [
        f"{e}-by-{g}" for e in ("os", "efs", "cir") for g in ("protocol", "time-point")
    ]
    assert all(s.attrs["role"] == "img" for s in svgs)
    assert "Overall survival by protocol: all 3-year 60±22 % (n=5)" in page.text


def test_curves_carry_group_and_landmark() -> None:
    page = report()
    curves = page.find("g", class_="curve", data_endpoint="os")
    by_group = {c.attrs["data-group"]: c.attrs["data-landmark"] for c in curves}
    assert by_group["all"] == "60±22 %"
    assert by_group["ALL-REZ 2014"] == "100±0 %"
    assert set(by_group) == {"all", "ALL-REZ 2014", "ALL-REZ 2016", "early", "late"}


def test_tables_1_3_and_survival_are_there() -> None:
    page = report()
    assert [t.attrs["id"] for t in page.find("table")] == [
        "survival-table",
        "table1",
        "table2",
        "table3",
    ]
    assert "Table 1. Patient characteristics" in page.text
    assert "Table 3. Outcomes by protocol" in page.text
    assert "non-responders: event" in page.text
    assert "at risk" in page.text


def test_cli_cohort_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for s in cohort():
        (tmp_path / f"{s.key}.json").write_text(json.dumps(bundle_for(s)), encoding="utf-8")
    out = tmp_path / "report" / "cohort.html"
    out.parent.mkdir()
    code = main(["cohort", str(tmp_path), "--as-of", "2024-05-01", "--table", "outcomes",
                 "--html", str(out)])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0
    assert "Table 3. Outcomes by protocol" in captured.out
    assert f"wrote {out}" in captured.err
    assert len(Page(out.read_text(encoding="utf-8")).find("g", class_="curve")) > 0
