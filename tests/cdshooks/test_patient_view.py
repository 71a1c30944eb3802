"""Discovery and patient-view: cards as views of the protocol findings, prefetch handling, and
the 400/404/412 OperationOutcomes (CDS Hooks 2.0 §Discovery, §Prefetch, §Response)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from adapter.cdshooks.cards import OVERRIDE_SYSTEM, TOPICS, override_codes
from tests.cdshooks.helpers import (
    Signer,
    TestClient,
    app_for,
    auth,
    config,
    course_resources,
    patient_id,
    post_hook,
    request,
    with_ph_positive_karyotype,
)

PV = "ball-patient-view"


def test_discovery_lists_three_services_with_prefetch(client: TestClient, signer: Signer) -> None:
    answer = client.get("/cds-services", headers=auth(signer, "/cds-services"))
    assert answer.status_code == 200
    services = {s["id"]: s for s in answer.json()["services"]}
    assert {s: services[s]["hook"] for s in services} == {
        "ball-patient-view": "patient-view",
        "ball-order-select": "order-select",
        "ball-order-sign": "order-sign",
    }
    assert services[PV]["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    assert all("DEV MODE" not in s["description"] for s in services.values())


def test_patient_view_cards_are_views_of_findings(client: TestClient, signer: Signer) -> None:
    resources = course_resources()
    answer = post_hook(client, signer, PV, request(PV, resources))
    assert answer.status_code == 200, answer.text
    cards = answer.json()["cards"]
    by_type = {c["extension"]["org.ball-fhir.card-type"]: c for c in cards}
    # day 20 of course 1 (started 2022-03-01): days 8-28 are 15 ug/m2/d at BSA 0.91 m2
    assert by_type["course-status"]["summary"] == (
        "Blinatumomab course 1 day 20: 13.69 ug/d (15.0 ug/m2/d)."
    )
    assert by_type["course-status"]["indicator"] == "info"
    assert by_type["dose"]["indicator"] == "warning"
    assert "`dose-deviation`" in by_type["dose"]["detail"]
    assert "protocol.md §4" in by_type["dose"]["detail"]
    assert by_type["adverse-cytogenetics"]["indicator"] == "warning"
    assert "KMT2A::AFF1" in by_type["adverse-cytogenetics"]["summary"]
    assert "relapse-classification" in by_type
    # the course page finds the patient by the Patient's identifier (the EHR's patientId is
    # the id the hospital server gave it, which our store does not know)
    mrn = resources["Patient"][0]["identifier"][0]["value"]
    assert mrn != patient_id(resources)
    for card in cards:
        assert len(card["summary"]) < 140
        assert card["source"]["label"] == "ball-fhir protocol logic (all-rez-2016)"
        assert card["links"] == [
            {
                "label": "Patient course (ball-fhir)",
                "url": f"https://ehr.example.org/ball/patients/{mrn}/timeline",
                "type": "absolute",
            }
        ]
        assert card["overrideReasons"]
        for reason in card["overrideReasons"]:
            assert reason["system"] == OVERRIDE_SYSTEM
            assert reason["display"] == override_codes()[reason["code"]]
    assert [c["indicator"] for c in cards] == sorted(
        (c["indicator"] for c in cards), key=["critical", "warning", "info"].index
    )
    # the same request gives the same card uuids (feedback joins on them)
    again = post_hook(client, signer, PV, request(PV, resources)).json()["cards"]
    assert [c["uuid"] for c in again] == [c["uuid"] for c in cards]


def test_ph_positive_on_a_blinatumomab_course_is_critical(
    client: TestClient, signer: Signer
) -> None:
    resources = with_ph_positive_karyotype(course_resources())
    cards = post_hook(client, signer, PV, request(PV, resources)).json()["cards"]
    assert cards[0]["indicator"] == "critical"
    assert cards[0]["extension"]["org.ball-fhir.card-type"] == "eligibility-cytogenetics"
    # before any blinatumomab: a warning (not in the cohort), not a safety alert
    del resources["MedicationAdministration"]
    cards = post_hook(client, signer, PV, request(PV, resources)).json()["cards"]
    ph = next(
        c for c in cards if c["extension"]["org.ball-fhir.card-type"] == "eligibility-cytogenetics"
    )
    assert ph["indicator"] == "warning"
    assert all(c["indicator"] != "critical" for c in cards)


def test_infusion_due_today_is_a_warning(signer: Signer, tmp_path: Path) -> None:
    # course 1 started 2022-03-01: CD3+ infusion day 22 is due on 2022-03-22 (protocol.md §4)
    client = app_for(config(signer), tmp_path / "fb.sqlite", today=dt.date(2022, 3, 22))
    cards = post_hook(client, signer, PV, request(PV, course_resources())).json()["cards"]
    cd3 = next(c for c in cards if c["extension"]["org.ball-fhir.card-type"] == "cd3-infusions")
    assert cd3["indicator"] == "warning"
    assert cd3["summary"] == "CD3+ infusions: course 1 day 22 (2022-03-22) due."
    # three days earlier, outside the schedule tolerance (schedule-tolerance-days, 2), it is
    # only planned: no card
    early = app_for(config(signer), tmp_path / "fb2.sqlite", today=dt.date(2022, 3, 19))
    cards = post_hook(early, signer, PV, request(PV, course_resources())).json()["cards"]
    assert "cd3-infusions" not in {c["extension"]["org.ball-fhir.card-type"] for c in cards}


def test_no_card_for_topics_without_a_warning(client: TestClient, signer: Signer) -> None:
    cards = post_hook(client, signer, PV, request(PV, course_resources())).json()["cards"]
    types = {c["extension"]["org.ball-fhir.card-type"] for c in cards}
    quiet = {t.id for t in TOPICS if t.min_severity == "warning"} - types
    # intrathecal therapy on days 1 and 28 is on time on day 20: nothing to act on
    assert "intrathecal" in quiet


def test_null_patient_means_no_data_no_cards(client: TestClient, signer: Signer) -> None:
    body = request(PV, course_resources())
    body["prefetch"]["patient"] = None
    answer = post_hook(client, signer, PV, body)
    assert answer.status_code == 200
    assert answer.json() == {"cards": []}


def test_missing_prefetch_without_fhir_server_is_412(client: TestClient, signer: Signer) -> None:
    body = request(PV, course_resources())
    del body["prefetch"]["observations"]
    answer = post_hook(client, signer, PV, body)
    assert answer.status_code == 412
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == ["prefetch.observations"]
    assert "not sent" in outcome["issue"][0]["diagnostics"]


def test_operation_outcome_prefetch_is_412_naming_it(client: TestClient, signer: Signer) -> None:
    body = request(PV, course_resources())
    body["prefetch"]["procedures"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout", "diagnostics": "upstream timeout"}],
    }
    answer = post_hook(client, signer, PV, body)
    assert answer.status_code == 412
    assert "upstream timeout" in answer.json()["issue"][0]["diagnostics"]


def test_wrong_resource_type_in_prefetch_is_not_used(client: TestClient, signer: Signer) -> None:
    body = request(PV, course_resources())
    body["prefetch"]["patient"] = body["prefetch"]["conditions"]
    answer = post_hook(client, signer, PV, body)
    assert answer.status_code == 412
    assert "not a Patient" in answer.json()["issue"][0]["diagnostics"]


def test_malformed_requests_are_400_naming_every_field(client: TestClient, signer: Signer) -> None:
    body = {"hook": "order-sign", "context": {"patientId": "bad id!"}, "prefetch": []}
    answer = post_hook(client, signer, PV, body)
    assert answer.status_code == 400
    where = [i["expression"][0] for i in answer.json()["issue"]]
    assert where == ["hook", "hookInstance", "context.patientId", "context.userId", "prefetch"]
    not_json = client.post(
        f"/cds-services/{PV}",
        content=b"{not json",
        headers=auth(signer, f"/cds-services/{PV}"),
    )
    assert not_json.status_code == 400
    assert not_json.json()["resourceType"] == "OperationOutcome"


def test_unknown_service_is_404(client: TestClient, signer: Signer) -> None:
    answer = post_hook(client, signer, "no-such-service", {})
    assert answer.status_code == 404
    assert answer.json()["issue"][0]["code"] == "not-found"


def test_body_over_the_limit_is_413(signer: Signer, tmp_path: Path) -> None:
    client = app_for(config(signer, max_body_bytes=1000), tmp_path / "fb.sqlite")
    answer = post_hook(client, signer, PV, request(PV, course_resources()))
    assert answer.status_code == 413
    assert answer.json()["resourceType"] == "OperationOutcome"


def test_prefetch_of_another_patient_is_not_used(client: TestClient, signer: Signer) -> None:
    body = request(PV, course_resources())
    body["prefetch"]["patient"] = {**body["prefetch"]["patient"], "id": "someone-else"}
    answer = post_hook(client, signer, PV, body)
    assert answer.status_code == 412
    assert "is Patient/someone-else, not Patient/" in answer.json()["issue"][0]["diagnostics"]


def test_the_course_link_names_the_patient_id_when_the_patient_has_no_identifier(
    client: TestClient, signer: Signer
) -> None:
    resources = course_resources()
    del resources["Patient"][0]["identifier"]
    cards = post_hook(client, signer, PV, request(PV, resources)).json()["cards"]
    assert cards
    pid = patient_id(resources)
    for card in cards:
        assert card["links"][0]["url"] == f"https://ehr.example.org/ball/patients/{pid}/timeline"
