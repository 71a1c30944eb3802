"""Findings stay readable (issue 14): what is missing is one finding per patient, listed last."""

from __future__ import annotations

import datetime as dt

from adapter.protocol import evaluate
from tests.protocol.conftest import bundle_of, protocols


def test_not_derivable_findings_fold_into_one_missing_data_finding() -> None:
    # a patient with a blinatumomab bag and nothing else: no relapse date, weight, marrow, ...
    bundle = bundle_of(
        [
            {
                "resourceType": "Condition",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "relapse",
                        }
                    ]
                },
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "277571004"}]},
            },
            {
                "resourceType": "MedicationAdministration",
                "status": "completed",
                "medicationCodeableConcept": {
                    "coding": [
                        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1597258"}
                    ]
                },
                "effectivePeriod": {"start": "2021-01-01T09:00:00Z", "end": "2021-01-29T09:00:00Z"},
            },
        ]
    )
    [ev] = evaluate(bundle, protocols(), dt.date(2021, 1, 10))
    missing = [f for f in ev.findings if f.code == "missing-data"]
    assert len(missing) == 1
    [m] = missing
    # the readable view leaves the summed-up findings out; they stay for clients matching codes
    assert not [f for f in ev.ordered() if f.code.endswith("-not-derivable")]
    assert [f.code for f in ev.folded] == m.data["codes"]
    folded = m.data["codes"]
    assert "dose-plan-not-derivable" in folded
    assert "relapse-time-point-not-derivable" in folded
    assert "eligibility-b-lineage-unknown" not in folded  # the relapse Condition is B-ALL
    assert [i["code"] for i in m.data["items"]] == folded
    assert "body weight (29463-7, kg)" in m.message
    assert m.kind == "data"
    assert ev.first("dose-plan-not-derivable") is not None
    ordered = ev.ordered()
    assert ordered[-1].code == "missing-data"
    kinds = [f.kind for f in ordered]
    assert kinds == sorted(kinds)  # every clinical finding before every data finding


def test_not_evaluated_for_want_of_a_relapse_is_folded_too() -> None:
    [ev] = evaluate(bundle_of([]), protocols(), dt.date(2021, 1, 10))
    [m] = [f for f in ev.findings if f.code == "missing-data"]
    assert {"relapse-none", "eligibility-b-lineage-unknown"} <= set(m.data["codes"])
    assert "relapse-none" not in [f.code for f in ev.ordered()]
