"""The course page as HTML: self-contained, accessible, and showing the prepared data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapter.cli import main
from adapter.report.course_html import course_html_files, render_course_page
from tests.protocol.conftest import ROOT, protocols
from tests.report.htmlcheck import Page, external_references
from tests.report.test_course_data import AS_OF, example, mrd, page_of, with_resources


def rendered(bundle: dict[str, Any] | None = None) -> Page:
    return Page(render_course_page(page_of(bundle or example())))


def test_page_is_self_contained() -> None:
    page = rendered()
    assert external_references(page) == []
    assert page.find("script") == []
    assert page.find("link") == []
    csp = page.find("meta", http_equiv="Content-Security-Policy")
    assert len(csp) == 1
    assert csp[0].attrs["content"].startswith("default-src 'none'")


def test_charts_have_text_alternatives() -> None:
    page = rendered()
    svgs = page.find("svg")
    assert [s.attrs["id"] for s in svgs] == ["timeline", "dose-chart-1"]
    for svg in svgs:
        assert svg.attrs["role"] == "img"
        named_by = [
            e.tag for e in page.elements if e.attrs.get("id") == svg.attrs["aria-labelledby"]
        ]
        described_by = [e.tag for e in page.elements
                        if e.attrs.get("id") == svg.attrs["aria-describedby"]]  # fmt: skip
        assert (named_by, described_by) == (["title"], ["desc"])
    assert "day 15 deviation" in page.text  # the dose chart's description names the flags
    assert page.find("html")[0].attrs["lang"] == "en"


def test_timeline_draws_phases_events_labs_and_lines() -> None:
    page = rendered(with_resources(mrd("2022-04-15", 0.005, "<")))
    assert [g.attrs["data-kind"] for g in page.find("g", class_="phase")] == [
        "cytoreduction",
        "block",
        "course",
    ]
    infusions = page.find("g", class_="event", data_kind="cd3-infusion")
    assert [g.attrs["data-date"] for g in infusions] == ["2022-03-01", "2022-03-08", "2022-03-15"]
    mrd_points = page.find("g", class_="lab", data_series="mrd")
    assert [(g.attrs["data-value"], g.attrs["data-below-lod"]) for g in mrd_points] == [
        ("0.0001", "false"),
        ("5e-05", "true"),
    ]
    assert [g.attrs["data-value"] for g in page.find("g", class_="threshold")] == [
        "0.0001",
        "0.001",
    ]
    assert "< LOD" in page.text
    assert "step-up day 8" in page.text


def test_dose_chart_marks_deviations_with_letters_not_colour_alone() -> None:
    page = rendered()
    given = page.find("g", class_="given")
    assert len(given) == 28
    assert page.find("g", class_="given", data_day="15")[0].attrs["data-given"] == "12"
    marks = page.find("g", class_="mark")
    assert [m.attrs["data-day"] for m in marks] == [str(d) for d in range(15, 22)]
    assert all(m.attrs["data-marks"] == "deviation" for m in marks)
    assert "D deviation" in page.text


def test_every_finding_with_rule_and_source() -> None:
    p = page_of(example())
    page = Page(render_course_page(p))
    for f in p.findings:
        assert f.code in page.text
        assert f.message.split(" ")[0] in page.text
    assert "▲ warning" in page.text  # severity as symbol and word
    assert "protocol.md §5 [V23]" in page.text


def test_badges_name_the_signal_in_words() -> None:
    page = rendered()
    risk = page.find("li", data_kind="risk")
    assert len(risk) == 1
    assert "KMT2A::AFF1" in risk[0].attrs["title"]
    assert "adverse cytogenetics" in page.text
    assert "time point: early" in page.text


def test_print_css() -> None:
    text = render_course_page(page_of(example()))
    assert "@media print" in text


def test_one_file_per_patient(tmp_path: Path) -> None:
    one = course_html_files(example(), protocols(), AS_OF, None, tmp_path / "c.html")
    assert list(one) == [tmp_path / "c.html"]
    in_folder = course_html_files(example(), protocols(), AS_OF, None, tmp_path)
    assert list(in_folder) == [tmp_path / "course-EX-0001.html"]


def test_cli_evaluate_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "course.html"
    bundle = ROOT / "examples" / "protocol" / "course-bundle.json"
    code = main(["evaluate", str(bundle), "--as-of", "2022-04-20", "--html", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"wrote {out}" in captured.err
    page = Page(out.read_text(encoding="utf-8"))
    assert "Course of EX-0001" in page.text
    assert "mrd-positive" in captured.out


def test_main_job_writes_a_course_page_per_patient(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["run", str(ROOT / "examples" / "manifest.yaml"), "--out", str(tmp_path)]) == 1
    )  # the examples hold broken records
    output = capsys.readouterr().out
    evaluation = json.loads((tmp_path / "evaluation.json").read_text(encoding="utf-8"))
    pages = sorted(tmp_path.glob("course-*.html"))
    assert len(pages) == len(evaluation["patients"])
    names = {p.name for p in pages}
    assert "course-P-0001.html" in names
    assert "course-Р-1001.html" in names  # the identifier as written (Cyrillic Р)
    treated = Page((tmp_path / "course-P-0001.html").read_text(encoding="utf-8"))
    assert "Course of P-0001" in treated.text
    assert len(treated.find("svg", id="dose-chart-1")) == 1
    assert f"{tmp_path}/course-P-0001.html" in output
    cohort = Page((tmp_path / "cohort.html").read_text(encoding="utf-8"))
    assert f"{len(pages)} patients" in cohort.text
    assert len(cohort.find("g", class_="curve", data_endpoint="os", data_group="all")) == 1


def test_a_patient_with_nothing_recorded_still_gets_a_page() -> None:
    bare = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "Patient/p", "resource": {"resourceType": "Patient", "id": "p"}}]}  # fmt: skip
    page = Page(render_course_page(page_of(bare)))
    assert "No blinatumomab course recorded." in page.text
    assert "no relapse diagnosis date" in page.text
    assert [s.attrs["id"] for s in page.find("svg")] == ["timeline"]
