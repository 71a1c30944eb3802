"""The card table on the corrected engine (issue 14): every finding code the engine emits has a
card or a stated reason for none, and the cards read the readable view (``missing-data``
instead of the folded ``*-not-derivable`` findings)."""

from __future__ import annotations

import ast
import copy
from typing import Any

import yaml

from adapter.cdshooks.cards import NO_CARD, ORDER_TOPIC, TOPICS
from adapter.protocol import evaluate
from adapter.protocol.model import MISSING_DATA, is_missing_data
from tests.cdshooks.helpers import (
    Signer,
    TestClient,
    blinatumomab_order,
    course_resources,
    draft_bundle,
    hook_cards,
    request,
    with_karyotype,
)
from tests.conftest import ROOT
from tests.protocol.conftest import _date, bundle_of, protocols

PV = "ball-patient-view"
SIGN = "ball-order-sign"
TOPIC_CODES = {c for t in TOPICS for c in t.codes}


def _literal_codes() -> set[str]:
    """Finding codes written as literals in the engine: ``ctx.add(rule, "code", ...)`` and
    ``Finding(code="code", ...)``."""
    codes: set[str] = set()
    for path in (ROOT / "adapter" / "protocol").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            args: list[ast.expr] = []
            if isinstance(node.func, ast.Attribute) and node.func.attr == "add":
                args = node.args[1:2]
            elif isinstance(node.func, ast.Name) and node.func.id == "Finding":
                args = [k.value for k in node.keywords if k.arg == "code"] + node.args[:1]
            codes.update(
                a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)
            )
    return codes


def _emitted_codes() -> set[str]:
    """Every code the engine gives over the rule cases (tests/protocol/cases) and the example."""
    codes: set[str] = set()
    for path in sorted((ROOT / "tests" / "protocol" / "cases").glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]:
            if "bundle" in case:
                continue
            for ev in evaluate(
                bundle_of(case.get("resources", [])),
                protocols(),
                as_of=_date(case.get("as_of")),
                protocol_id=case.get("protocol"),
                apheresis_date=_date(case.get("apheresis_date")),
            ):
                codes.update(ev.codes())
    return codes


def test_every_finding_code_has_a_card_or_a_reason_for_none() -> None:
    codes = _literal_codes() | _emitted_codes()
    assert {"course-no-remission", "unknown-protocol", "dose-far-above-plan"} <= codes
    uncovered = sorted(
        c for c in codes if c not in TOPIC_CODES and c not in NO_CARD and not is_missing_data(c)
    )
    assert uncovered == []
    assert TOPIC_CODES.isdisjoint(NO_CARD)
    # the folded findings never reach patient-view; the one that sums them up does
    assert not any(is_missing_data(c) for c in TOPIC_CODES)
    assert MISSING_DATA in TOPIC_CODES


def test_issue_14_codes_join_the_topics_they_belong_to() -> None:
    topic_of = {c: t.id for t in TOPICS for c in t.codes}
    assert {
        c: topic_of[c]
        for c in (
            "course-no-remission",
            "hsct-performed",
            "next-step-hsct-superseded",
            "measurement-implausible",
            "cytogenetics-fusion-present",
            "cytogenetics-no-named-fusion",
            "unknown-protocol",
            "missing-data",
        )
    } == {
        "course-no-remission": "next-step",
        "hsct-performed": "next-step",
        "next-step-hsct-superseded": "next-step",
        "measurement-implausible": "dose",
        "cytogenetics-fusion-present": "adverse-cytogenetics",
        "cytogenetics-no-named-fusion": "adverse-cytogenetics",
        "unknown-protocol": "protocol",
        "missing-data": "missing-data",
    }
    assert {"measurement-implausible", "unknown-protocol", "dose-measurement-stale"} <= set(
        ORDER_TOPIC.codes
    )


def _types(cards: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["extension"]["org.ball-fhir.card-type"]: c for c in cards}


def _without(resources: dict[str, Any], loinc: str) -> dict[str, Any]:
    out = copy.deepcopy(resources)
    out["Observation"] = [o for o in out["Observation"] if o["code"]["coding"][0]["code"] != loinc]
    return out


def test_patient_view_shows_missing_data_once_not_the_folded_findings(
    client: TestClient, signer: Signer
) -> None:
    resources = _without(course_resources(), "29463-7")  # no body weight
    cards = hook_cards(client, signer, PV, request(PV, resources))
    by_type = _types(cards)
    missing = by_type["missing-data"]
    assert missing["indicator"] == "warning"
    assert "`missing-data`" in missing["detail"]
    assert "Course 1 dose plan not derivable" in missing["detail"]
    assert "body weight" in missing["detail"]
    # the folded finding is not shown on its own anywhere
    assert all("`dose-plan-not-derivable`" not in c["detail"] for c in cards)
    assert "course-status" not in by_type  # no plan, no dose step


def test_unknown_protocol_is_a_card_without_a_protocol_link(
    client: TestClient, signer: Signer
) -> None:
    resources = copy.deepcopy(course_resources())
    for cp in resources["CarePlan"]:
        if cp.get("instantiatesCanonical"):
            cp["instantiatesCanonical"] = ["https://example.org/PlanDefinition/other-protocol"]
    cards = hook_cards(client, signer, PV, request(PV, resources))
    [card] = cards
    assert card["extension"]["org.ball-fhir.card-type"] == "protocol"
    assert card["indicator"] == "warning"
    assert "other-protocol" in card["summary"]
    assert card["source"] == {"label": "ball-fhir protocol logic (no protocol evaluated)"}
    # a blinatumomab order is then not checked, and the card says why
    body = request(SIGN, resources, draftOrders=draft_bundle(blinatumomab_order("u", 28)))
    [order] = hook_cards(client, signer, SIGN, body)
    assert "`unknown-protocol`" in order["detail"]
    assert "Not evaluated" in order["summary"]
    assert "suggestions" not in order


def _karyotype(text: str) -> dict[str, Any]:
    return with_karyotype(course_resources(), text, only=True)


def test_a_fusion_off_the_adverse_list_alone_gives_no_cytogenetics_card(
    client: TestClient, signer: Signer
) -> None:
    resources = _karyotype("46,XY,t(12;21)(p13;q22)[20]")
    by_type = _types(hook_cards(client, signer, PV, request(PV, resources)))
    assert "adverse-cytogenetics" not in by_type  # information only: nothing to act on


def test_an_unreadable_karyotype_is_a_cytogenetics_warning(
    client: TestClient, signer: Signer
) -> None:
    resources = _karyotype("46,XY,t(4;11)(q21;q23),foo(3)[20]")
    card = _types(hook_cards(client, signer, PV, request(PV, resources)))["adverse-cytogenetics"]
    # the adverse fusion of the valid part comes first, marked partial (issue 21)
    assert card["summary"].startswith("Cytogenetics: t(4;11) KMT2A::AFF1 (karyotype")
    assert "(from a partly valid string)" in card["detail"]
    assert card["indicator"] == "warning"
    assert "`cytogenetics-not-read`" in card["detail"]


def test_the_reciprocal_derivative_of_an_adverse_fusion_alone_is_a_card(
    client: TestClient, signer: Signer
) -> None:
    resources = _karyotype("46,XY,der(4)t(4;11)(q21;q23)[10]")
    card = _types(hook_cards(client, signer, PV, request(PV, resources)))["adverse-cytogenetics"]
    assert card["indicator"] == "warning"
    assert "`cytogenetics-fusion-not-shown`" in card["detail"]
    assert "KMT2A::AFF1" in card["summary"]
