"""A faithful synthetic cohort of the seed paper [V23]: 109 patients built from its tables.

Every count comes from protocol.md §8 (Table 1 and the "all" column of Table 3) or from §7 (the
outcome definitions and "7 non-responders who died of progression, 0 deaths in induction"):

* protocol groups 43 ALL-REZ 2014 / 57 ALL-REZ 2016 / 9 second relapses;
* 70 boys, 39 girls (the 7 testicular relapses are boys); median age 7.9 (1.34-17.8) years;
* time point 40 very early / 43 early / 26 late; sites 85 isolated BM, 2 isolated CNS,
  1 testicular, 14 BM+CNS, 6 BM+testicular, 1 BM+extramedullary+CNS;
* cytogenetics 14 t(12;21), 8 t(4;11), 4 t(1;19), 1 t(11;19), 1 t(9;11), 61 none, 20 unknown;
* outcomes 0 death in induction, 17 non-responders (7 of them die of progression later),
  92 CR = 6 death in remission + 34 relapse + 52 long-term CR.

protocol.md does not quote how Table 3 splits by protocol group, nor Table 2 (risk strata by
group), so those splits are ours (spread over the groups by the fixed permutations below) and
the tests compare them with what this generator intended, not with the paper.  The ways to
reach a category vary so the engine's rules are exercised: CR after course 1 (MRD-negative),
stable disease after course 1 then CR after course 2, progression during course 1, HSCT in CR,
death after HSCT in remission.  Every dimension is laid out as a list with the paper's counts
and mixed by a multiplicative permutation modulo 109 (a prime), so the cohort is deterministic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from tests.protocol.synthetic import Spec

N = 109
T = TypeVar("T")
AS_OF = dt.date(2023, 1, 1)

GROUPS = (("ALL-REZ 2014", 43), ("ALL-REZ 2016", 57), ("second relapses", 9))
SEXES = (("male", 70), ("female", 39))
TIME_POINTS = (("very-early", 40), ("early", 43), ("late", 26))
SITES = (
    (("BM",), 85),
    (("CNS",), 2),
    (("testis",), 1),
    (("BM", "CNS"), 14),
    (("BM", "testis"), 6),
    (("BM", "EM", "CNS"), 1),
)
TRANSLOCATIONS = (
    ("t(12;21)", 14),
    ("t(4;11)", 8),
    ("t(1;19)", 4),
    ("t(11;19)", 1),
    ("t(9;11)", 1),
    ("none", 61),
    (None, 20),
)
#: Table 3 "all": outcome category -> count; the paths to each are in :func:`_course`.
OUTCOMES = (
    ("non-responder", 17),
    ("death-in-remission", 6),
    ("relapse", 34),
    ("long-term-cr", 52),
)
#: The Table-1 labels of the site tuples (adapter/protocol/cohort.py SITES).
SITE_LABELS = {
    ("BM",): "isolated BM",
    ("CNS",): "isolated CNS",
    ("testis",): "testicular",
    ("BM", "CNS"): "BM+CNS",
    ("BM", "testis"): "BM+testicular",
    ("BM", "EM", "CNS"): "BM+extramedullary+CNS",
}
#: BFM stratum of a first relapse by time point and site class (terminology.md §8, as in the
#: content's bfm-stratum rows): the generator's own expectation for the Table 2 view.
_SITE_CLASS: dict[tuple[str, ...], str] = {
    ("BM",): "isolated-marrow",
    ("CNS",): "isolated-extramedullary",
    ("testis",): "isolated-extramedullary",
}
_STRATUM = {
    ("late", "isolated-extramedullary"): "S1",
    ("very-early", "isolated-extramedullary"): "S2",
    ("early", "isolated-extramedullary"): "S2",
    ("late", "isolated-marrow"): "S2",
    ("early", "combined"): "S2",
    ("late", "combined"): "S2",
    ("early", "isolated-marrow"): "S3",
    ("very-early", "isolated-marrow"): "S4",
    ("very-early", "combined"): "S4",
}


@dataclass(frozen=True)
class Patient:
    """One generated patient: its Spec and what the generator intends the engine to find."""

    spec: Spec
    group: str
    outcome: str
    stratum: str | None


def _layout(counts: Sequence[tuple[T, int]]) -> list[T]:
    out: list[T] = []
    for value, n in counts:
        out += [value] * n
    assert len(out) == N, counts
    return out


def _mix(values: list[T], k: int) -> list[T]:
    """values permuted by i -> i * k mod 109 (k coprime to the prime 109)."""
    return [values[(i * k) % N] for i in range(N)]


def _ages() -> list[float]:
    """109 ages with minimum 1.34, median 7.9 and maximum 17.8 years."""
    low = [round(1.34 + (7.9 - 1.34) * i / 54, 2) for i in range(54)]
    high = [round(7.9 + (17.8 - 7.9) * i / 54, 2) for i in range(1, 55)]
    return [*low, 7.9, *high]


def _months(day: dt.date, months: float) -> dt.date:
    return day + dt.timedelta(days=round(months * 30.44))


def _course(spec: Spec, outcome: str, i: int) -> Spec:
    """The course and what follows it, by outcome category and a path chosen by ``i``."""
    c1 = spec.course_start
    day29 = c1 + dt.timedelta(days=28)
    after = day29 + dt.timedelta(days=42)  # after a possible course 2
    spec.mrd_pct, spec.response = None, "none"
    if outcome == "non-responder":
        path = i % 3
        if path == 0:  # stable/worse disease after course 1
            spec.response = "nr"
        elif path == 1:  # no remission after course 1 nor course 2
            spec.response, spec.mrd_pct = "nr", 1.5
            spec.course2, spec.mrd2_pct = "nr", 2.0
        else:  # progression documented on course day 12
            spec.progression_day = 12
        return spec
    # CR: after course 1 (MRD-negative) or after course 2 following stable disease
    if i % 4 == 0:
        spec.response = "nr"
        spec.course2, spec.mrd2_pct = "cr", 0.005
    else:
        spec.response, spec.mrd_pct = "cr", 0.005
    if i % 2 == 0:
        spec.hsct = after + dt.timedelta(days=30)
    if outcome == "death-in-remission":
        spec.death = after + dt.timedelta(days=120)
    elif outcome == "relapse":
        spec.later_relapse = after + dt.timedelta(days=200 + i)
    return spec


def cohort() -> list[Patient]:
    """The 109 patients, in a fixed order."""
    groups = _layout(GROUPS)  # grouped in order: ALL-REZ 2014, ALL-REZ 2016, second relapses
    sites = _mix(_layout(SITES), 37)
    testis = [i for i in range(N) if "testis" in sites[i]]
    others = [i for i in range(N) if i not in testis]
    sex = ["male"] * N
    girls = others[::2][:39]  # all 39 girls among the non-testicular relapses
    for i in girls:
        sex[i] = "female"
    tps = _mix(_layout(TIME_POINTS), 23)
    trans = _mix(_layout(TRANSLOCATIONS), 53)
    outcomes = _mix(_layout(OUTCOMES), 71)
    ages = _mix(_ages(), 89)
    nr_seen = 0
    out: list[Patient] = []
    for i in range(N):
        group = groups[i]
        diagnosis = dt.date(2012, 1, 1) + dt.timedelta(days=17 * i)
        months = {"very-early": 12, "early": 26, "late": 40}[tps[i]]
        relapse = _months(diagnosis, months)
        relapses = [relapse]
        if group == "second relapses":
            relapses = [_months(diagnosis, months / 2), relapse]
        site = sites[i]
        marrow = "BM" in site
        stratum = None
        if group != "second relapses":
            stratum = _STRATUM[(tps[i], _SITE_CLASS.get(site, "combined"))]
        spec = Spec(
            key=f"v{i:03d}",
            gender=sex[i],
            birth=relapse - dt.timedelta(days=round(ages[i] * 365.25)),
            diagnosis=diagnosis,
            end_of_therapy=None if tps[i] == "very-early" else _months(diagnosis, 24),
            relapses=relapses,
            sites=site,
            marrow_blasts=80.0 if marrow else 1.0,
            protocol="all-rez-2016" if group == "ALL-REZ 2016" else "all-rez-mb-2014",
            course_start=relapse + dt.timedelta(days=60),
            weight_kg=round(12 + 2.5 * ages[i], 1),
            height_cm=round(80 + 5.5 * ages[i], 1),
            translocation=trans[i],
            stratum=stratum,
        )
        spec = _course(spec, outcomes[i], i)
        if outcomes[i] == "non-responder":
            if nr_seen < 7:  # 7 non-responders died of progression (protocol.md §7)
                spec.death = spec.course_start + dt.timedelta(days=120)
            nr_seen += 1
        out.append(Patient(spec, group, outcomes[i], stratum))
    return out
