"""$apply: the proposed, dated actions as a RequestGroup Bundle, in Python and over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from adapter.cli import main
from adapter.protocol.apply import apply_plan
from adapter.protocol.content import read_content_folder
from adapter.routes.protocol import get_protocols, router
from adapter.validation import default_validator
from tests.protocol.conftest import CONTENT, ROOT, bundle_of, protocols

EXAMPLE = ROOT / "examples" / "protocol" / "course-bundle.json"


def _example() -> dict[str, Any]:
    return dict(json.loads(EXAMPLE.read_text(encoding="utf-8")))


def _patient_ref(bundle: dict[str, Any]) -> str:
    p = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    return f"Patient/{p['id']}"


def _requests(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The proposed requests of a result Bundle, after checking it is a valid R4 Bundle."""
    _assert_valid(result)
    return [
        e["resource"]
        for e in result["entry"]
        if e["resource"]["resourceType"] in ("MedicationRequest", "ServiceRequest")
    ]


def _patient(birth: str) -> dict[str, Any]:
    """A Patient with the identifier ball-patient asks for (so the $apply result validates)."""
    return {
        "resourceType": "Patient",
        "id": "p",
        "identifier": [{"system": "urn:test:mrn", "value": "p"}],
        "birthDate": birth,
    }


def _assert_valid(result: dict[str, Any]) -> None:
    """What ``ball-fhir validate`` says of an $apply result: no error, every reference resolves
    inside the Bundle, no empty array anywhere."""
    issues = default_validator().validate(result)
    bad = [i.to_text() for i in issues if i.is_error or i.rule == "bundle-reference"]
    assert not bad, bad

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{where}.{k}")
        elif isinstance(value, list):
            assert value, f"empty array at {where}"
            for i, v in enumerate(value):
                walk(v, f"{where}[{i}]")

    walk(result, "Bundle")


def test_apply_after_mrd_positive_course_proposes_course_two() -> None:
    bundle = _example()
    result, evaluation = apply_plan(
        bundle, protocols()["all-rez-2016"], _patient_ref(bundle), dt.date(2022, 4, 5)
    )
    group = result["entry"][0]["resource"]
    assert group["resourceType"] == "RequestGroup"
    assert group["intent"] == "proposal"
    assert group["instantiatesCanonical"] == [
        "https://ball-fhir.org/fhir/PlanDefinition/all-rez-2016"
    ]
    urls = {e["fullUrl"] for e in result["entry"]}
    for action in group["action"]:
        assert action["resource"]["reference"] in urls
    reqs = _requests(result)
    assert all(r["intent"] == "option" for r in reqs)
    [blina] = [r for r in reqs if r["resourceType"] == "MedicationRequest"]
    dosage = blina["dosageInstruction"][0]
    assert dosage["timing"]["repeat"]["boundsPeriod"] == {
        "start": "2022-04-11",
        "end": "2022-05-08",
    }
    assert dosage["doseAndRate"][0]["rateQuantity"]["value"] == 13.69
    cd3 = sorted(
        r["occurrenceDateTime"]
        for r in reqs
        if r["resourceType"] == "ServiceRequest" and "cd3" in r["instantiatesCanonical"][0]
    )
    assert cd3 == ["2022-04-11", "2022-04-18", "2022-04-25", "2022-05-02"]
    assert "next-step-second-course" in evaluation.codes()


def test_apply_new_patient_proposes_course_one_from_start_date() -> None:
    bundle = bundle_of(
        [
            _patient("2014-01-01"),
            {
                "resourceType": "Observation",
                "status": "final",
                "subject": {"reference": "Patient/p"},
                "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                "effectiveDateTime": "2022-01-01",
                "valueQuantity": {"value": 50, "unit": "kg", "code": "kg"},
            },
        ]
    )
    result, _ = apply_plan(
        bundle,
        protocols()["all-rez-mb-2014"],
        "Patient/p",
        dt.date(2022, 1, 2),
        dt.date(2022, 1, 5),
    )
    reqs = _requests(result)
    meds = [r for r in reqs if r["resourceType"] == "MedicationRequest"]
    assert [m["dosageInstruction"][0]["doseAndRate"][0]["rateQuantity"]["value"] for m in meds] == [
        9.0,
        28.0,
    ]
    services = [r for r in reqs if r["resourceType"] == "ServiceRequest"]
    assert not any("cd3" in r["instantiatesCanonical"][0] for r in services)  # MB 2014: none
    assert sorted(r["occurrenceDateTime"] for r in services) == [
        "2022-01-05",
        "2022-02-01",
        "2022-02-02",
    ]


class _Client:
    """Calls the ASGI app in-process through httpx (starlette's TestClient warns on this httpx)."""

    def __init__(self) -> None:
        self.app = FastAPI()
        self.app.include_router(router)
        self.app.dependency_overrides[get_protocols] = protocols

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                return await c.post(url, **kwargs)

        return asyncio.run(go())


def _client() -> _Client:
    return _Client()


def _parameters(subject: str | None, data: dict[str, Any] | None, **extra: str) -> dict[str, Any]:
    params: list[dict[str, Any]] = []
    if subject is not None:
        params.append({"name": "subject", "valueString": subject})
    if data is not None:
        params.append({"name": "data", "resource": data})
    params += [{"name": k, "valueDate": v} for k, v in extra.items()]
    return {"resourceType": "Parameters", "parameter": params}


def test_http_apply() -> None:
    bundle = _example()
    body = _parameters(_patient_ref(bundle), bundle, asOf="2022-04-05")
    r = _client().post("/fhir/PlanDefinition/all-rez-2016/$apply", json=body)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/fhir+json")
    assert r.json()["entry"][0]["resource"]["resourceType"] == "RequestGroup"
    _assert_valid(r.json())


def test_http_apply_errors() -> None:
    client = _client()
    bundle = _example()
    r = client.post("/fhir/PlanDefinition/nope/$apply", json=_parameters("Patient/x", bundle))
    assert r.status_code == 404
    assert r.json()["resourceType"] == "OperationOutcome"
    r = client.post("/fhir/PlanDefinition/all-rez-2016/$apply", json=_parameters(None, bundle))
    assert r.status_code == 400
    assert "subject" in r.json()["issue"][0]["diagnostics"]
    r = client.post("/fhir/PlanDefinition/all-rez-2016/$apply", json=_parameters("Patient/x", None))
    assert r.status_code == 400
    r = client.post(
        "/fhir/PlanDefinition/all-rez-2016/$apply", json=_parameters("Patient/unknown", bundle)
    )
    assert r.status_code == 422
    r = client.post("/fhir/PlanDefinition/all-rez-2016/$apply", content=b"{not json")
    assert r.status_code == 400
    r = client.post(
        "/fhir/PlanDefinition/all-rez-2016/$apply",
        json=_parameters(_patient_ref(bundle), bundle, asOf="yesterday"),
    )
    assert r.status_code == 400


def test_apply_carries_findings_as_detected_issues() -> None:
    """A per-m2 dose recorded for a 60 kg patient (protocol.md §4: a unit/dose mismatch) travels
    with the proposal of the rest of the course as a DetectedIssue the MedicationRequest links."""
    ext = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-normalization-basis"
    bundle = bundle_of(
        [
            _patient("2010-01-01"),
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                "effectiveDateTime": "2020-12-30",
                "valueQuantity": {"value": 60, "unit": "kg", "code": "kg"},
            },
            {
                "resourceType": "MedicationAdministration",
                "status": "in-progress",
                "extension": [
                    {
                        "url": ext,
                        "valueCodeableConcept": {
                            "coding": [{"system": "http://snomed.info/sct", "code": "301898006"}]
                        },
                    }
                ],
                "medicationCodeableConcept": {
                    "coding": [
                        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1597258"}
                    ]
                },
                "effectivePeriod": {"start": "2021-01-01T09:00:00Z"},
                "dosage": {"rateQuantity": {"value": 9, "unit": "ug/m2/d", "code": "ug/m2/d"}},
            },
        ]
    )
    result, evaluation = apply_plan(
        bundle, protocols()["all-rez-2016"], "Patient/p", dt.date(2021, 1, 4)
    )
    assert "dose-unit-mismatch" in evaluation.codes()
    by_url = {e["fullUrl"]: e["resource"] for e in result["entry"] if "fullUrl" in e}
    issues = [r for r in by_url.values() if r["resourceType"] == "DetectedIssue"]
    [mismatch] = [i for i in issues if i["code"]["text"] == "dose-unit-mismatch"]
    assert mismatch["severity"] == "high"
    assert "9 ug/m2/d recorded" in mismatch["detail"]
    meds = [r for r in _requests(result) if r["resourceType"] == "MedicationRequest"]
    assert meds
    for med in meds:
        linked = [by_url[d["reference"]] for d in med["detectedIssue"]]
        assert mismatch in linked
    patient = result["entry"][-1]["resource"]
    assert patient["resourceType"] == "Patient"
    assert med["subject"] == {"reference": "Patient/p"}


def _get(url: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=_client().app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.get(url)

    return asyncio.run(go())


def test_http_plan_definition_read_and_search_return_the_content_we_run() -> None:
    content = {r["id"]: r for r in read_content_folder(CONTENT)}
    r = _get("/fhir/PlanDefinition/all-rez-2016")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/fhir+json")
    assert r.json() == content["all-rez-2016"]
    assert r.json()["url"] == protocols()["all-rez-2016"].url
    r = _get("/fhir/PlanDefinition")
    bundle = r.json()
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "searchset")
    ids = sorted(e["resource"]["id"] for e in bundle["entry"])
    assert ids == sorted(i for i, res in content.items() if res["resourceType"] == "PlanDefinition")
    assert bundle["total"] == len(ids)
    assert bundle["entry"][0]["fullUrl"].startswith("http://test/fhir/PlanDefinition/")
    assert not [i.to_text() for i in default_validator().validate(bundle) if i.is_error]
    r = _get("/fhir/ActivityDefinition/blinatumomab-continuous-infusion")
    assert r.json()["resourceType"] == "ActivityDefinition"
    r = _get("/fhir/PlanDefinition/nope")
    assert r.status_code == 404
    assert r.json()["resourceType"] == "OperationOutcome"


def test_apply_result_passes_ball_fhir_validate_and_cuts_at_as_of(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _example()
    # as of the day before the course-1 MRD result, the second course is not proposed yet
    early, evaluation = apply_plan(
        bundle, protocols()["all-rez-2016"], _patient_ref(bundle), dt.date(2022, 3, 20)
    )
    assert "next-step-second-course" not in evaluation.codes()
    late, _ = apply_plan(
        bundle, protocols()["all-rez-2016"], _patient_ref(bundle), dt.date(2022, 4, 5)
    )
    for name, result in (("early", early), ("late", late)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(result), encoding="utf-8")
        assert main(["validate", str(path)]) == 0, capsys.readouterr().out
