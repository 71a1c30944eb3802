"""Feedback (CDS Hooks 2.0 §Feedback): stored durably in SQLite, the same entry once, counted per
card type and override reason by ``GET /cds-feedback/summary`` and ``ball-fhir feedback``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapter.cdshooks.cards import OVERRIDE_SYSTEM
from adapter.cli import main
from adapter.store.feedback import SqliteFeedbackStore
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
    with_weight,
)

SIGN = "ball-order-sign"
PV = "ball-patient-view"


def send(client: TestClient, signer: Signer, service: str, feedback: list[Any]) -> Any:
    url = f"/cds-services/{service}/feedback"
    return client.post(url, json={"feedback": feedback}, headers=auth(signer, url))


def test_feedback_is_stored_once_and_summarised(
    signer: Signer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "feedback.sqlite"
    client = app_for(config(signer), db)
    body = request(
        SIGN,
        with_weight(course_resources(), 60),
        draftOrders=draft_bundle(blinatumomab_order("c", 9)),
    )
    [order_card] = hook_cards(client, signer, SIGN, body)
    pv_cards = hook_cards(client, signer, PV, request(PV, course_resources()))
    dose_card = next(c for c in pv_cards if c["extension"]["org.ball-fhir.card-type"] == "dose")
    accepted = {
        "card": order_card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": order_card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": "2026-12-06T01:00:00Z",
    }
    # the sandbox sends the reason Coding without display and no userComment
    overridden = {
        "card": dose_card["uuid"],
        "outcome": "overridden",
        "overrideReason": {"reason": {"system": OVERRIDE_SYSTEM, "code": "data-outdated"}},
        "outcomeTimestamp": "2026-12-06T01:01:00Z",
    }
    assert send(client, signer, SIGN, [accepted]).json() == {"stored": 1}
    assert send(client, signer, SIGN, [accepted]).json() == {"stored": 0}  # sent again
    assert send(client, signer, PV, [overridden]).json() == {"stored": 1}
    summary = client.get("/cds-feedback/summary", headers=auth(signer, "/cds-feedback/summary"))
    expected = [
        {
            "service": SIGN,
            "cardType": "order-dose",
            "outcome": "accepted",
            "reason": None,
            "count": 1,
        },
        {
            "service": PV,
            "cardType": "dose",
            "outcome": "overridden",
            "reason": "data-outdated",
            "count": 1,
        },
    ]
    assert summary.json() == {"summary": expected}
    # durable: a new store on the same file, and the CLI, see the same
    assert [r.to_json() for r in SqliteFeedbackStore(db).summary()] == expected
    capsys.readouterr()
    assert main(["feedback", "--db", str(db), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"summary": expected}
    assert main(["feedback", "--db", str(db)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].split() == ["service", "card", "type", "outcome", "reason", "count"]
    assert text[1].split() == [SIGN, "order-dose", "accepted", "-", "1"]
    assert text[2].split() == [PV, "dose", "overridden", "data-outdated", "1"]


def test_feedback_for_an_unknown_card_counts_as_unknown(signer: Signer, tmp_path: Path) -> None:
    client = app_for(config(signer), tmp_path / "fb.sqlite")
    entry = {
        "card": "not-issued-here",
        "outcome": "overridden",
        "overrideReason": {"userComment": "n/a"},
        "outcomeTimestamp": "2026-12-06T01:01:00Z",
    }
    assert send(client, signer, PV, [entry]).status_code == 200
    summary = client.get("/cds-feedback/summary", headers=auth(signer, "/cds-feedback/summary"))
    assert summary.json()["summary"][0]["cardType"] == "unknown"


def test_malformed_feedback_is_400_naming_every_entry(signer: Signer, tmp_path: Path) -> None:
    client = app_for(config(signer), tmp_path / "fb.sqlite")
    good = {"card": "u", "outcome": "overridden", "outcomeTimestamp": "2026-12-06T01:01:00Z"}
    bad = [
        good,
        {"card": "u", "outcome": "accepted", "outcomeTimestamp": "2026-12-06T01:01:00Z"},
        {"outcome": "ignored"},
        {**good, "overrideReason": {}},
    ]
    answer = send(client, signer, PV, bad)
    assert answer.status_code == 400
    where = [i["expression"][0] for i in answer.json()["issue"]]
    assert where == [
        "feedback[1].acceptedSuggestions",
        "feedback[2].card",
        "feedback[2].outcome",
        "feedback[2].outcomeTimestamp",
        "feedback[3].overrideReason",
    ]
    # nothing of a rejected batch is stored
    assert SqliteFeedbackStore(tmp_path / "fb.sqlite").summary() == []
    assert send(client, signer, "no-such-service", [good]).status_code == 404


def test_cli_without_a_store_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["feedback", "--db", str(tmp_path / "missing.sqlite")]) == 2
    assert "no feedback store" in capsys.readouterr().err
