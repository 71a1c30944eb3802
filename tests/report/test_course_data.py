"""What the course page draws (adapter.report.course), tested apart from the rendering."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest

from adapter.report.course import CoursePage, course_pages
from tests.protocol.conftest import ROOT, protocols

EXAMPLE = ROOT / "examples" / "protocol" / "course-bundle.json"
PATIENT = "urn:uuid:6a431e8c-bb1a-5e4a-b671-3493d8e5fa07"
BALL = "https://ball-fhir.org/fhir/CodeSystem/ball-concepts"
AS_OF = dt.date(2022, 4, 20)


def example() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def with_resources(
    *resources: dict[str, Any], bundle: dict[str, Any] | None = None
) -> dict[str, Any]:
    bundle = bundle or example()
    for i, r in enumerate(resources):
        r = {"subject": {"reference": PATIENT}, "status": "final", "id": f"extra{i}", **r}
        bundle["entry"].append({"fullUrl": f"urn:uuid:extra-{i}", "resource": r})
    return bundle


def page_of(bundle: dict[str, Any], as_of: dt.date = AS_OF) -> CoursePage:
    pages = course_pages(bundle, protocols(), as_of)
    assert len(pages) == 1
    return pages[0]


def mrd(day: str, value: float, comparator: str | None = None) -> dict[str, Any]:
    q: dict[str, Any] = {"value": value, "unit": "%", "system": "http://unitsofmeasure.org",
                         "code": "%"}  # fmt: skip
    if comparator:
        q["comparator"] = comparator
    return {
        "resourceType": "Observation",
        "code": {"coding": [{"system": BALL, "code": "mrd-flow"}]},
        "effectiveDateTime": day,
        "valueQuantity": q,
    }


def test_axis_runs_from_relapse_diagnosis_to_as_of() -> None:
    page = page_of(example())
    assert page.start == dt.date(2022, 1, 10)  # the relapse Condition's onset
    assert page.end == AS_OF
    assert page.name == "EX-0001"
    assert page.protocol == "all-rez-2016"


def test_phases_cytoreduction_block_and_course_with_step_up_day() -> None:
    page = page_of(example())
    kinds = [(p.kind, p.start.isoformat(), p.end.isoformat()) for p in page.phases]
    assert kinds == [
        ("cytoreduction", "2022-01-10", "2022-02-09"),
        ("block", "2022-02-10", "2022-02-28"),
        ("course", "2022-03-01", "2022-03-28"),
    ]
    course = page.phases[2]
    assert course.marker == dt.date(2022, 3, 8)
    assert course.marker_label == "step-up day 8"


def test_dose_days_planned_vs_given_with_the_engines_deviation_marks() -> None:
    page = page_of(example())
    days = {d.day: d for d in page.doses if d.course == 1}
    assert sorted(days) == list(range(1, 29))
    assert days[1].planned == pytest.approx(4.56)
    assert days[8].planned == pytest.approx(13.69)
    assert days[1].given == pytest.approx(4.56)
    # course days 15-21 ran at 12 ug/d: the engine's dose-deviation finding marks them
    deviating = [d.day for d in days.values() if "deviation" in d.marks]
    assert deviating == list(range(15, 22))
    assert days[15].given == pytest.approx(12.0)
    assert days[22].marks == ()
    assert days[28].date == dt.date(2022, 3, 28)


def test_interrupted_bag_and_missed_days_are_marked() -> None:
    bundle = example()
    for e in bundle["entry"]:
        r = e["resource"]
        period = r.get("effectivePeriod") or {}
        if r["resourceType"] == "MedicationAdministration" and period.get("start", "").startswith(
            "2022-03-15"
        ):
            r["status"] = "stopped"
            period["end"] = "2022-03-17T10:00:00+03:00"
    page = page_of(bundle)
    days = {d.day: d for d in page.doses}
    # the bag ran course days 15-16 (day boundaries at 10:00, the first bag's start)
    assert days[16].marks == ("deviation", "interrupted")
    assert days[16].given == pytest.approx(12.0)
    missed = [d.day for d in days.values() if "missed" in d.marks]
    assert missed == [17, 18, 19, 20, 21]
    assert all(days[d].given is None for d in missed)


def test_events_apheresis_infusions_intrathecal() -> None:
    bundle = with_resources(
        {
            "resourceType": "Procedure",
            "status": "completed",
            "code": {"coding": [{"system": BALL, "code": "cd3-apheresis"}]},
            "performedDateTime": "2022-01-20",
        }
    )
    page = page_of(bundle)
    seen = [(e.kind, e.date.isoformat()) for e in page.events]
    assert ("apheresis", "2022-01-20") in seen
    assert [d for k, d in seen if k == "cd3-infusion"] == ["2022-03-01", "2022-03-08", "2022-03-15"]
    assert [d for k, d in seen if k == "intrathecal"] == ["2022-03-01", "2022-03-28"]
    assert all(e.evidence.split("/")[0] in ("Procedure", "MedicationAdministration")
               for e in page.events)  # fmt: skip


def test_mrd_below_the_limit_of_detection_is_kept_as_such_not_zero() -> None:
    page = page_of(with_resources(mrd("2022-04-15", 0.005, "<")), AS_OF)
    points = [p for p in page.labs if p.series == "mrd"]
    assert [(p.date.isoformat(), p.fraction, p.below_lod) for p in points] == [
        ("2022-03-29", 1e-4, False),
        ("2022-04-15", 5e-5, True),
    ]
    assert "below the limit of detection" in points[1].text


def test_a_result_after_the_as_of_date_is_not_on_the_page() -> None:
    # issue 14: the evaluation date cuts the data; the page is drawn from the same facts
    page = page_of(with_resources(mrd("2022-04-15", 0.005, "<"), mrd("2022-05-02", 0.2)), AS_OF)
    dates = [p.date.isoformat() for p in page.labs if p.series == "mrd"]
    assert dates == ["2022-03-29", "2022-04-15"]


def test_mrd_without_a_readable_unit_is_not_drawn_and_says_why() -> None:
    bad = mrd("2022-04-15", 0.01)
    bad["valueQuantity"] = {"value": 0.01}
    page = page_of(with_resources(bad))
    assert len([p for p in page.labs if p.series == "mrd"]) == 1
    assert any("not drawn" in n and "extra0" in n for n in page.notes)


def test_marrow_blasts_as_fractions_and_reference_lines() -> None:
    page = page_of(example())
    blasts = [(p.date.isoformat(), p.fraction) for p in page.labs if p.series == "marrow-blasts"]
    assert blasts[0] == ("2022-01-10", 0.78)
    assert [(line.fraction, line.source.split(" ")[0]) for line in page.lines] == [
        (1e-4, "protocol.md"),
        (1e-3, "protocol.md"),
    ]


def test_second_course_gap_and_hsct_phases() -> None:
    bundle = example()
    extra = []
    for e in bundle["entry"]:
        r = e["resource"]
        if r["resourceType"] == "MedicationAdministration" and "effectivePeriod" in r:
            if not r["effectivePeriod"]["start"].startswith("2022-03-22"):
                continue
            second = copy.deepcopy(r)
            second["id"] = "course2"
            second["effectivePeriod"] = {"start": "2022-04-11T10:00:00+03:00",
                                         "end": "2022-04-18T10:00:00+03:00"}  # fmt: skip
            for ext in second["extension"]:
                if ext["url"].endswith("course-number"):
                    ext["valuePositiveInt"] = 2
            extra.append({"fullUrl": "urn:uuid:course2", "resource": second})
    bundle["entry"] += extra
    hsct = {
        "resourceType": "Procedure",
        "status": "completed",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "234336002"}]},
        "performedDateTime": "2022-06-01",
    }
    bundle = with_resources(hsct, bundle=bundle)
    page = page_of(bundle, dt.date(2022, 7, 1))
    kinds = [(p.kind, p.label, p.start.isoformat(), p.end.isoformat()) for p in page.phases]
    assert ("gap", "gap", "2022-03-29", "2022-04-10") in kinds
    assert ("course", "blinatumomab course 2", "2022-04-11", "2022-05-08") in kinds
    assert ("hsct", "allogeneic HSCT", "2022-06-01", "2022-07-01") in kinds
    assert {d.course for d in page.doses} == {1, 2}


def test_badges_classification_cytogenetics_and_risk_signals() -> None:
    page = page_of(example())
    labels = [(b.kind, b.label, b.severity) for b in page.badges]
    assert ("classification", "time point: early", "information") in labels
    assert ("classification", "site: BM+CNS", "information") in labels
    assert ("cytogenetics", "cytogenetics: t(4;11)", "information") in labels
    assert ("risk", "adverse cytogenetics", "warning") in labels
    risk = next(b for b in page.badges if b.kind == "risk")
    assert "KMT2A::AFF1" in risk.detail
    assert risk.source.startswith("protocol.md §6")


def test_every_finding_is_on_the_page_with_its_source() -> None:
    page = page_of(example())
    assert "mrd-positive" in [f.code for f in page.findings]
    assert "efs-censored" in [f.code for f in page.findings]
    assert all(f.source.startswith("protocol.md") for f in page.findings)
