"""The EFS censoring date is the content parameter ``efs-censor-at`` (protocol.md §7 gives none).

A CR patient without an event (relapse 2020-12-01, MRD-negative 2021-01-29), last follow-up
2022-06-01, evaluated as of 2023-01-01: censored at the follow-up (day 547) by default, at the
as-of date (day 761) with ``as-of``; any other value is refused at load time.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from adapter.iscn import load_knowledge
from adapter.issues import UsageError
from adapter.protocol import evaluate, load_protocols, read_content_folder
from tests.protocol.conftest import CONTENT, bundle_of, protocols
from tests.protocol.test_content_and_example import _with_param

BALL = "https://ball-fhir.org/fhir/CodeSystem/ball-concepts"
AS_OF = dt.date(2023, 1, 1)


def _resources() -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "Condition",
            "id": "rel1",
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "relapse",
                    }
                ]
            },
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "277571004"}]},
            "onsetDateTime": "2020-12-01",
        },
        {
            "resourceType": "MedicationAdministration",
            "status": "completed",
            "medicationCodeableConcept": {
                "coding": [
                    {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1597258"}
                ]
            },
            "effectivePeriod": {"start": "2021-01-01T09:00:00Z", "end": "2021-01-29T00:00:00Z"},
            "dosage": {
                "rateQuantity": {"value": 9, "system": "http://unitsofmeasure.org", "code": "ug/d"}
            },
        },
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": BALL, "code": "mrd-flow"}]},
            "effectiveDateTime": "2021-01-29",
            "valueQuantity": {"value": 0.001, "system": "http://unitsofmeasure.org", "code": "%"},
        },
        {
            "resourceType": "Observation",
            "id": "fu",
            "status": "final",
            "code": {"coding": [{"system": BALL, "code": "follow-up"}]},
            "effectiveDateTime": "2022-06-01",
        },
    ]


def _censored(protocols_: Any) -> dict[str, Any]:
    [ev] = evaluate(bundle_of(_resources()), protocols_, as_of=AS_OF)
    finding = ev.first("efs-censored")
    assert finding is not None, ev.codes()
    return {**finding.data, "parameters": dict(finding.parameters)}


def test_default_censors_at_the_last_follow_up() -> None:
    data = _censored(protocols())
    assert data["date"] == "2022-06-01"
    assert data["censor_basis"] == "last-follow-up"
    assert data["days_from_relapse"] == 547
    assert data["parameters"] == {"efs-censor-at": "last-follow-up"}


def test_as_of_censors_at_the_evaluation_date() -> None:
    resources = copy.deepcopy(read_content_folder(CONTENT))
    _with_param(resources, "all-rez-2016", "efs-censor-at", "as-of")
    data = _censored(load_protocols(resources, load_knowledge()))
    assert data["date"] == "2023-01-01"
    assert data["censor_basis"] == "as-of"
    assert data["days_from_relapse"] == 761


def test_an_unknown_censoring_choice_is_a_usage_error() -> None:
    resources = copy.deepcopy(read_content_folder(CONTENT))
    _with_param(resources, "all-rez-2016", "efs-censor-at", "last-visit")
    with pytest.raises(UsageError, match="efs-censor-at"):
        load_protocols(resources, load_knowledge())
