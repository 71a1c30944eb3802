"""HTTP $validate and metadata (FastAPI TestClient)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from adapter.api import create_app
from adapter.fhir import PROFILE_LAB

with warnings.catch_warnings():
    # starlette 1.10 deprecates httpx for its TestClient in favour of httpx2 (not installed).
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = json.loads((ROOT / "tests" / "validation" / "resources" / "bundle-tx.json").read_text())
ANC = json.loads((ROOT / "tests" / "validation" / "resources" / "obs-anc.json").read_text())


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def _rules(body: dict[str, Any]) -> set[str]:
    return {i.get("details", {}).get("text", "") for i in body["issue"]}


def test_valid_bundle(client: TestClient) -> None:
    response = client.post("/fhir/$validate", json=BUNDLE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert not [i for i in body["issue"] if i["severity"] in ("error", "fatal")]


def test_invalid_resource_is_200_with_errors(client: TestClient) -> None:
    response = client.post("/fhir/Observation/$validate", json={**ANC, "status": "done"})
    assert response.status_code == 200
    assert "binding-required" in _rules(response.json())


def test_parameters_wrapper_with_profile(client: TestClient) -> None:
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": ANC},
            {"name": "profile", "valueUri": PROFILE_LAB},
        ],
    }
    response = client.post("/fhir/$validate", json=parameters)
    assert response.status_code == 200
    assert "binding-required" in _rules(response.json())


def test_profile_query_parameter(client: TestClient) -> None:
    response = client.post("/fhir/Observation/$validate", params={"profile": PROFILE_LAB}, json=ANC)
    assert "binding-required" in _rules(response.json())


def test_unparsable_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/fhir/$validate", content=b"{nope", headers={"content-type": "application/fhir+json"}
    )
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "body",
    [[1, 2], {"no": "resourceType"}, {"resourceType": "Parameters", "parameter": []}],
)
def test_wrong_content_is_400(client: TestClient, body: Any) -> None:
    response = client.post("/fhir/$validate", json=body)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_type_mismatch_is_400(client: TestClient) -> None:
    response = client.post("/fhir/Patient/$validate", json=ANC)
    assert response.status_code == 400


def test_unknown_type_is_404(client: TestClient) -> None:
    response = client.post("/fhir/Nonsense/$validate", json=ANC)
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_unknown_profile_is_400(client: TestClient) -> None:
    response = client.post("/fhir/$validate", params={"profile": "https://x.org/nope"}, json=ANC)
    assert response.status_code == 400


def test_metadata(client: TestClient) -> None:
    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    body = response.json()
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"
    rest = body["rest"][0]
    assert rest["operation"][0]["name"] == "validate"
    observation = next(r for r in rest["resource"] if r["type"] == "Observation")
    assert PROFILE_LAB in observation["supportedProfile"]
    plan = next(r for r in rest["resource"] if r["type"] == "PlanDefinition")
    assert {o["name"] for o in plan["operation"]} == {"validate", "apply"}


def test_apply_route_is_joined(client: TestClient) -> None:
    response = client.post("/fhir/PlanDefinition/nope/$apply", content=b"{bad")
    assert response.status_code in (400, 404)
    assert response.json()["resourceType"] == "OperationOutcome"


def test_capability_statement_is_valid_r4(client: TestClient) -> None:
    body = client.get("/fhir/metadata").json()
    response = client.post("/fhir/$validate", json=body)
    errors = [i for i in response.json()["issue"] if i["severity"] == "error"]
    assert not errors


def _errors(body: dict[str, Any]) -> list[str]:
    return [i["diagnostics"] for i in body["issue"] if i["severity"] in ("error", "fatal")]


@pytest.mark.parametrize("mode", ["create", "update", "profile"])
def test_modes_in_the_query_and_in_parameters(client: TestClient, mode: str) -> None:
    anc = {**ANC, "id": "anc-1"}
    by_query = client.post("/fhir/Observation/anc-1/$validate", params={"mode": mode}, json=anc)
    parameters = {
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": anc}, {"name": "mode", "valueCode": mode}],
    }
    by_body = client.post("/fhir/Observation/anc-1/$validate", json=parameters)
    for response in (by_query, by_body):
        assert response.status_code == 200
        assert response.json()["resourceType"] == "OperationOutcome"
        assert _errors(response.json()) == []


def test_unknown_mode_is_400(client: TestClient) -> None:
    response = client.post("/fhir/Observation/$validate", params={"mode": "upsert"}, json=ANC)
    assert response.status_code == 400
    assert "unknown mode 'upsert'" in response.json()["issue"][0]["diagnostics"]
    parameters = {
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": ANC}, {"name": "mode", "valueCode": "x"}],
    }
    assert client.post("/fhir/Observation/$validate", json=parameters).status_code == 400


def test_update_needs_the_id_of_the_url(client: TestClient) -> None:
    url = "/fhir/Observation/anc-2/$validate"
    other = client.post(url, params={"mode": "update"}, json={**ANC, "id": "anc-1"})
    assert any("is not the id 'anc-2'" in e for e in _errors(other.json()))
    no_id = {k: v for k, v in ANC.items() if k != "id"}
    missing = client.post(url, params={"mode": "update"}, json=no_id)
    assert any("needs an id" in e for e in _errors(missing.json()))


def test_instance_level_validates_the_posted_resource(client: TestClient) -> None:
    response = client.post("/fhir/Observation/anc-1/$validate", json={**ANC, "status": "done"})
    assert response.status_code == 200
    assert "binding-required" in _rules(response.json())
    wrong = client.post("/fhir/Patient/anc-1/$validate", json=ANC)
    assert wrong.status_code == 400


def test_get_only_for_delete_of_an_instance(client: TestClient) -> None:
    deleted = client.get("/fhir/Patient/p1/$validate", params={"mode": "delete"})
    assert deleted.status_code == 200
    assert deleted.json()["issue"][0]["severity"] == "information"
    no_resource = client.get("/fhir/Patient/$validate", params={"profile": PROFILE_LAB})
    assert no_resource.status_code == 400
    assert "no resource to validate" in no_resource.json()["issue"][0]["diagnostics"]
