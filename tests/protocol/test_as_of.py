"""Evaluation date cuts the data (issue 14): only facts known on or before ``--as-of`` count."""

from __future__ import annotations

import datetime as dt

from adapter.protocol import evaluate
from adapter.protocol.cohort import outcomes_table
from tests.protocol.conftest import protocols
from tests.protocol.synthetic import Spec, bundle_for

D = dt.date
SPEC = Spec(
    "t",
    relapses=[D(2014, 3, 1)],
    diagnosis=D(2012, 1, 1),
    end_of_therapy=D(2014, 1, 1),
    course_start=D(2014, 5, 1),
    later_relapse=D(2016, 2, 1),
    death=D(2016, 9, 1),
)


def _outcome(as_of: dt.date) -> str:
    [ev] = evaluate(bundle_for(SPEC), protocols(), as_of)
    return str(ev.summary["outcome"])


def test_relapse_and_death_after_the_date_are_not_seen() -> None:
    assert _outcome(D(2015, 1, 1)) == "long-term-cr"
    assert _outcome(D(2016, 3, 1)) == "relapse"


def test_cohort_as_of_does_not_count_future_relapses() -> None:
    evs = evaluate(bundle_for(SPEC), protocols(), D(2015, 1, 1))
    rows = {r.label.strip(): r.counts for r in outcomes_table(evs).rows}
    assert rows["relapse"][0] == 0
    assert rows["long-term CR"][0] == 1


def test_result_issued_after_the_date_is_not_known_yet() -> None:
    bundle = bundle_for(Spec("m", mrd_pct=0.001, response="none"))
    for e in bundle["entry"]:
        r = e["resource"]
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "mrd-flow":
            r["issued"] = "2020-08-03T10:00:00Z"  # sampled 2020-07-29, reported 2020-08-03
    [before] = evaluate(bundle, protocols(), D(2020, 8, 1))
    [after] = evaluate(bundle, protocols(), D(2020, 8, 3))
    assert "mrd-negative" not in before.codes()
    assert "mrd-negative" in after.codes()
