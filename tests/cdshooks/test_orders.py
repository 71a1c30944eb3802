"""order-select and order-sign: blinatumomab dose checks of draft orders through the protocol's
dose rule (protocol.md §4), update suggestions with the full corrected resource, override
reasons, stable uuids, and the sandbox's quirks (cds-hooks.md section 3.1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapter.cdshooks import orders as orders_module
from adapter.cdshooks.cards import OVERRIDE_SYSTEM
from tests.cdshooks.helpers import (
    Signer,
    TestClient,
    app_for,
    auth,
    blinatumomab_order,
    config,
    course_resources,
    draft_bundle,
    hook_cards,
    request,
    with_ph_positive_karyotype,
    with_weight,
)

SIGN = "ball-order-sign"
SELECT = "ball-order-select"


def sign(client: TestClient, signer: Signer, resources: Any, *orders: Any) -> list[dict[str, Any]]:
    body = request(SIGN, resources, draftOrders=draft_bundle(*orders))
    return hook_cards(client, signer, SIGN, body)


def only_action(card: dict[str, Any]) -> dict[str, Any]:
    assert card["selectionBehavior"] == "at-most-one"
    [suggestion] = card["suggestions"]
    [action] = suggestion["actions"]
    assert suggestion["isRecommended"] is True
    assert suggestion["uuid"]
    return dict(action)


def test_second_course_at_step_up_dose_gets_the_full_dose(
    client: TestClient, signer: Signer
) -> None:
    # 24 kg: per-m2 dosing; course 2 runs at full dose (15 ug/m2/d) from day 1 (protocol.md §4)
    order = blinatumomab_order("mr-2", 5, "ug/m2/d", start="2022-04-11")
    [card] = sign(client, signer, course_resources(), order)
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Blinatumomab order mr-2: Course 2 days 1-28: 5 ug/m2/d")
    action = only_action(card)
    assert action["type"] == "update"
    corrected = action["resource"]
    # the full resource, unchanged but for the rate
    assert {k: v for k, v in corrected.items() if k != "dosageInstruction"} == {
        k: v for k, v in order.items() if k != "dosageInstruction"
    }
    dosage = corrected["dosageInstruction"][0]
    assert dosage["timing"] == order["dosageInstruction"][0]["timing"]
    assert dosage["doseAndRate"][0]["rateQuantity"]["value"] == 15
    assert dosage["doseAndRate"][0]["rateQuantity"]["code"] == "ug/m2/d"
    assert {r["system"] for r in card["overrideReasons"]} == {OVERRIDE_SYSTEM}
    assert all(r["display"] for r in card["overrideReasons"])


def test_per_m2_dose_over_the_weight_boundary_is_critical(
    client: TestClient, signer: Signer
) -> None:
    order = blinatumomab_order("mr-3", 15, "ug/m2/d")
    [card] = sign(client, signer, with_weight(course_resources(), 60), order)
    assert card["indicator"] == "critical"
    assert "`dose-unit-mismatch`" in card["detail"]
    assert "evidence: MedicationRequest/mr-3" in card["detail"]  # the order, not its stand-in
    rate = only_action(card)["resource"]["dosageInstruction"][0]["doseAndRate"][0]
    assert rate["rateQuantity"] == {
        "value": 28.0,
        "unit": "ug/d",
        "system": "http://unitsofmeasure.org",
        "code": "ug/d",
    }


def test_order_at_plan_dose_gives_no_card(client: TestClient, signer: Signer) -> None:
    assert (
        sign(client, signer, with_weight(course_resources(), 60), blinatumomab_order("a", 28)) == []
    )
    assert sign(client, signer, course_resources(), blinatumomab_order("b", 15, "ug/m2/d")) == []


def test_flat_dose_too_low_is_corrected(client: TestClient, signer: Signer) -> None:
    [card] = sign(client, signer, with_weight(course_resources(), 60), blinatumomab_order("c", 9))
    assert "9 ug/d given vs 28 ug/d planned" in card["summary"]
    assert (
        only_action(card)["resource"]["dosageInstruction"][0]["doseAndRate"][0]["rateQuantity"][
            "value"
        ]
        == 28
    )


def test_weight_exactly_at_the_boundary_warns_without_a_correction(
    client: TestClient, signer: Signer
) -> None:
    [card] = sign(client, signer, with_weight(course_resources(), 45), blinatumomab_order("d", 28))
    assert "`dose-weight-at-boundary`" in card["detail"]
    assert "suggestions" not in card


def test_step_up_over_a_whole_first_course_is_ambiguous(client: TestClient, signer: Signer) -> None:
    # a first course ordered at 15 ug/m2/d for days 1-28: days 1-7 should be 5 (step-up);
    # no single corrected rate exists, so the card warns without a suggestion
    resources = course_resources()
    del resources["MedicationAdministration"]
    [card] = sign(client, signer, resources, blinatumomab_order("e", 15, "ug/m2/d", "2022-03-01"))
    assert "Course 1 days 1-7: 15 ug/m2/d prescribed vs 5 ug/m2/d" in card["summary"]
    assert "suggestions" not in card


def test_no_weight_means_the_dose_cannot_be_checked(client: TestClient, signer: Signer) -> None:
    resources = course_resources()
    resources["Observation"] = [
        o for o in resources["Observation"] if o["code"]["coding"][0]["code"] != "29463-7"
    ]
    [card] = sign(client, signer, resources, blinatumomab_order("f", 28))
    assert "`dose-plan-not-derivable`" in card["detail"]
    assert "body weight" in card["detail"]


def test_blinatumomab_order_without_a_rate_is_not_checked(
    client: TestClient, signer: Signer
) -> None:
    [card] = sign(client, signer, course_resources(), blinatumomab_order("g", None))
    assert card["summary"].startswith("Blinatumomab order g has no dose rate")
    assert card["indicator"] == "warning"


def test_sandbox_order_without_medication_or_dosage(client: TestClient, signer: Signer) -> None:
    sandbox_order = {
        "resourceType": "MedicationRequest",
        "id": "request-123",
        "status": "draft",
        "intent": "order",
        "category": {"coding": [{"code": "outpatient"}]},
        "subject": {"reference": "Patient/x"},
    }
    assert sign(client, signer, course_resources(), sandbox_order) == []


def test_order_select_checks_only_the_selections(client: TestClient, signer: Signer) -> None:
    resources = with_weight(course_resources(), 60)
    wrong, right = blinatumomab_order("w", 9), blinatumomab_order("r", 28)
    body = request(
        SELECT,
        resources,
        draftOrders=draft_bundle(wrong, right),
        selections=["MedicationRequest/r"],
    )
    assert hook_cards(client, signer, SELECT, body) == []
    body["context"]["selections"] = ["MedicationRequest/w"]
    [card] = hook_cards(client, signer, SELECT, body)
    assert "order w" in card["summary"]


def test_bursts_of_identical_order_select_calls_are_evaluated_once(
    signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app_for(config(signer, order_cache_seconds=60), tmp_path / "fb.sqlite")
    calls: list[int] = []
    real = orders_module.check_orders

    def counting(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr("adapter.cdshooks.hooks.check_orders", counting)
    body = request(
        SELECT,
        with_weight(course_resources(), 60),
        draftOrders=draft_bundle(blinatumomab_order("w", 9)),
        selections=["MedicationRequest/w"],
    )
    first = [hook_cards(client, signer, SELECT, {**body, "hookInstance": str(i)}) for i in range(3)]
    assert len(calls) == 1
    assert first[0] == first[1] == first[2]
    assert first[0][0]["uuid"]


def test_card_uuids_are_stable(client: TestClient, signer: Signer) -> None:
    resources = with_weight(course_resources(), 60)
    a = sign(client, signer, resources, blinatumomab_order("c", 9))
    b = sign(client, signer, resources, blinatumomab_order("c", 9))
    assert a[0]["uuid"] == b[0]["uuid"]
    assert a[0]["suggestions"][0]["uuid"] == b[0]["suggestions"][0]["uuid"]
    other = sign(client, signer, resources, blinatumomab_order("c", 10))
    assert other[0]["uuid"] != a[0]["uuid"]


def test_ordering_blinatumomab_for_ph_positive_disease_is_critical(
    client: TestClient, signer: Signer
) -> None:
    resources = with_ph_positive_karyotype(with_weight(course_resources(), 60))
    [card] = sign(client, signer, resources, blinatumomab_order("ph", 28))
    assert card["indicator"] == "critical"
    assert "`eligibility-ph-positive`" in card["detail"]


def test_a_searchset_entry_of_another_patient_is_dropped(
    client: TestClient, signer: Signer
) -> None:
    # a later 60 kg weight of someone else must not make our 24 kg patient's dose flat
    resources = course_resources()
    stranger = next(
        o for o in resources["Observation"] if o["code"]["coding"][0]["code"] == "29463-7"
    )
    resources["Observation"].append(
        {
            **stranger,
            "id": "stranger-weight",
            "subject": {"reference": "Patient/someone-else"},
            "effectiveDateTime": "2022-04-10",  # after the patient's own (REMEASURED)
            "valueQuantity": {**stranger["valueQuantity"], "value": 60},
        }
    )
    [card] = sign(client, signer, resources, blinatumomab_order("s", 28))
    assert "28 ug/d given vs 13.69 ug/d planned" in card["summary"]


@pytest.mark.parametrize("weight", [0, -3, 250, "NaN"])
def test_an_impossible_weight_proposes_no_dose(
    client: TestClient, signer: Signer, weight: Any
) -> None:
    # weight <= 0, > 200 kg (weight-plausible-min/max-kg, placeholders) or NaN (a decimal
    # string in the prefetch; a bare NaN is not JSON, below): no plan, no dose proposed, a
    # card saying why (issue 14 "Plausibility before dosing")
    order = blinatumomab_order("iw", 9)
    [card] = sign(client, signer, with_weight(course_resources(), weight), order)
    assert "suggestions" not in card
    assert "selectionBehavior" not in card
    assert card["indicator"] == "warning"
    assert card["summary"].startswith(f"Blinatumomab order iw: Body weight {weight} kg")
    assert "outside the plausible range (0, 200] kg: not used for dosing" in card["detail"]
    assert "`measurement-implausible`" in card["detail"]
    assert "`dose-plan-not-derivable`: Course 2 dose plan not derivable" in card["detail"]
    # the weight measured before course 2 (helpers.REMEASURED), not the one of course 1: the
    # draft joins course 2 though course 1 has no plan either (orders._course_spans)
    assert f"Body weight {weight} kg (Observation/" in card["detail"]
    assert "-again, 2022-04-08) outside" in card["detail"]
    assert "`dose-deviation`" not in card["detail"]


def test_a_bare_nan_in_the_prefetch_is_not_json(client: TestClient, signer: Signer) -> None:
    body = request(
        SIGN,
        with_weight(course_resources(), 24),
        draftOrders=draft_bundle(blinatumomab_order("n", 9)),
    )
    raw = json.dumps(body).replace('"value": 24', '"value": NaN', 1)
    assert '"value": NaN' in raw
    answer = client.post(
        f"/cds-services/{SIGN}",
        content=raw,
        headers={**auth(signer, f"/cds-services/{SIGN}"), "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["resourceType"] == "OperationOutcome"


def test_a_dose_far_above_plan_is_critical_with_its_correction(
    client: TestClient, signer: Signer
) -> None:
    # 24 kg child, course 2 at the adult flat 28 ug/d: 2.05 x the planned 13.69 ug/d, over
    # dose-critical-above-plan-factor (placeholder 2)
    [card] = sign(client, signer, course_resources(), blinatumomab_order("far", 28))
    assert card["indicator"] == "critical"
    assert "`dose-far-above-plan`" in card["detail"]
    assert "dose-critical-above-plan-factor=2.0" in card["detail"]
    assert "2.0 x the plan" in card["detail"]
    rate = only_action(card)["resource"]["dosageInstruction"][0]["doseAndRate"][0]
    assert rate["rateQuantity"]["value"] == 13.69
    # 1.5 x the plan is a deviation, a warning
    [mild] = sign(client, signer, course_resources(), blinatumomab_order("mild", 20))
    assert mild["indicator"] == "warning"
    assert "`dose-deviation`" in mild["detail"]


def test_a_stale_weight_and_height_are_shown_on_the_order(
    client: TestClient, signer: Signer
) -> None:
    # without the re-measurement before course 2, the plan of 2022-04-11 comes from the weight
    # and height of 2022-02-27: older than dosing-measurement-max-age-days (placeholder 7)
    order = blinatumomab_order("old", 15, "ug/m2/d")
    [card] = sign(client, signer, course_resources(remeasured=False), order)
    assert card["indicator"] == "warning"
    assert "`dose-measurement-stale`" in card["detail"]
    assert "body weight of 2022-02-27 (43 days before)" in card["summary"]
    assert "dosing-measurement-max-age-days=7" in card["detail"]
    assert "suggestions" not in card  # the order is at the plan dose: nothing to correct
    # measured again: no card
    assert sign(client, signer, course_resources(), order) == []
