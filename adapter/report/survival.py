"""Survival figures of a cohort (issue 20): OS, EFS and the cumulative incidence of relapse.

Time origin and events follow protocol.md §7 [V23], read from what the engine worked out per
patient (:mod:`adapter.report.evaluated`):

- time zero is the date the relapse was diagnosed (the relapse the engine's rules chose);
- **OS**: death (``Patient.deceasedDateTime``) is the event; a living patient is censored where the
  engine censors EFS (``efs_censor_date``: the last follow-up contact, content parameter
  ``efs-censor-at``), or at a later EFS event (a relapse: alive then);
- **EFS**: the engine's ``efs-event`` finding (death in induction, death in remission, relapse,
  non-response at day 0) or its ``efs-censored`` finding; a patient the engine could not yet
  assess (no ``efs-*`` finding) is left out of EFS and CIR and counted as such;
- **CIR**: relapse is the event of interest, death (in induction or in remission) competes.
  protocol.md is silent on non-responders in the CIR; the report parameter
  :data:`CIR_NON_RESPONSE` (ball-fhir choice, placeholder until the study group says) counts
  them as an event of interest at day 0 (``event``, as EFS does), or as competing (``competing``),
  or leaves them out (``excluded``).

Estimators come from lifelines: Kaplan-Meier (``KaplanMeierFitter``) for OS and EFS with
Greenwood's standard error computed from its event table, and Aalen-Johansen
(``AalenJohansenFitter``, with its Greenwood-type variance) for the CIR.  lifelines breaks tied
event times of the Aalen-Johansen fit by a tiny random jitter; we seed it, so figures are
repeatable, and put each step back on its whole day: with day-resolution times the estimate at
the end of a day does not depend on the order of that day's events.  Figures at
:data:`HORIZON_YEARS` are printed as the paper prints them ("45±8 %"), and not at all when nobody
of the group is followed up that long.  lifelines (with pandas and scipy) takes seconds to import
(2.5 s measured with ``python -c "import lifelines"``), so it is imported where a fit runs, not
when the command line starts.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from adapter.fhir import Resource
from adapter.protocol import PatientEvaluation, Protocol
from adapter.protocol.cohort import GROUPS, TIME_POINTS, Row, Table, group_of
from adapter.protocol.rules.outcome import efs_censor_date
from adapter.report.evaluated import Evaluated, evaluated_patients

YEAR_DAYS = 365.25
#: the landmark the paper reports (protocol.md §8 context: [V23] gives 3-year OS/EFS/CIR)
HORIZON_YEARS = 3
#: years at which the number at risk is shown
AT_RISK_YEARS = (0, 1, 2, 3, 4, 5)
NonResponse = Literal["event", "competing", "excluded"]
#: ball-fhir choice (protocol.md §7 is silent): how non-responders enter the CIR
CIR_NON_RESPONSE: NonResponse = "event"
#: seed of lifelines' tie-breaking jitter in the Aalen-Johansen fit (repeatable figures)
AJ_SEED = 20
ENDPOINTS = (("os", "Overall survival"), ("efs", "Event-free survival"),
             ("cir", "Cumulative incidence of relapse"))  # fmt: skip
DEATHS = ("death-in-induction", "death-in-remission")


@dataclass(frozen=True)
class Subject:
    """One patient's times (days from the relapse diagnosis) and events."""

    patient: str
    group: str
    time_point: str | None
    os: tuple[int, bool] | None
    efs: tuple[int, bool] | None
    #: 0 censored, 1 relapse (the event of interest), 2 competing death
    cir: tuple[int, int] | None


@dataclass(frozen=True)
class Estimate:
    """One curve: the estimate (survival for OS/EFS, cumulative incidence for CIR) and its SE."""

    endpoint: str
    group: str
    n: int
    events: int
    #: (day, estimate, standard error) at every change of the curve, from day 0
    steps: tuple[tuple[float, float, float], ...]
    at_risk: tuple[int, ...]
    #: the last day anyone of the group is known about (where the curve ends)
    last_day: float = 0.0

    def at(self, day: float) -> tuple[float, float]:
        """The estimate and its SE on a day (the last step on or before it)."""
        value, se = self.steps[0][1], self.steps[0][2]
        for t, v, s in self.steps:
            if t > day:
                break
            value, se = v, s
        return value, se

    def reaches(self, years: float = HORIZON_YEARS) -> bool:
        """Whether anyone of the group is followed up to the landmark (else no estimate there)."""
        return self.last_day >= years * YEAR_DAYS

    def landmark(self, years: float = HORIZON_YEARS) -> str:
        """``45±8 %`` at the landmark, as [V23] prints it; ``–`` when follow-up ends before."""
        if not self.reaches(years):
            return f"– (follow-up < {years:g} y)"
        value, se = self.at(years * YEAR_DAYS)
        return f"{round(value * 100)}±{round(se * 100)} %"


def subject_of(e: Evaluated, non_response: NonResponse = CIR_NON_RESPONSE) -> Subject | None:
    """The survival times of an evaluated patient; None without a relapse diagnosis date."""
    ctx, ev = e.ctx, e.evaluation
    origin = ctx.relapse.date if ctx.relapse else None
    if origin is None:
        return None
    efs: tuple[int, bool] | None = None
    cir: tuple[int, int] | None = None
    event = ev.first("efs-event")
    censored = ev.first("efs-censored")
    if event is not None and event.data.get("days_from_relapse") is not None:
        days = int(event.data["days_from_relapse"])
        kind = event.data.get("event")
        efs = (days, True)
        if kind == "relapse":
            cir = (days, 1)
        elif kind in DEATHS:
            cir = (days, 2)
        elif kind == "non-response" and non_response != "excluded":
            cir = (0, 1 if non_response == "event" else 2)
    elif censored is not None:
        efs = (int(censored.data["days_from_relapse"]), False)
        cir = (efs[0], 0)
    deceased = ctx.facts.deceased
    if deceased is not None:
        os: tuple[int, bool] = ((deceased - origin).days, True)
    else:
        # alive: censored at the last contact, or at a later EFS event (known alive then)
        alive = [(efs_censor_date(ctx)[0] - origin).days, *([efs[0]] if efs else [])]
        os = (max(alive), False)
    return Subject(ev.patient, group_of(ev), ctx.summary.get("time_point"), os, efs, cir)


def _at_risk(times: Sequence[int]) -> tuple[int, ...]:
    return tuple(sum(1 for t in times if t >= y * YEAR_DAYS) for y in AT_RISK_YEARS)


def kaplan_meier(endpoint: str, group: str, data: Sequence[tuple[int, bool]]) -> Estimate:
    """Kaplan-Meier (lifelines) with Greenwood's SE: SE(t) = S(t) sqrt(sum d / (n (n - d)))."""
    from lifelines import KaplanMeierFitter

    times = [t for t, _ in data]
    kmf = KaplanMeierFitter().fit(times, [e for _, e in data])
    table = kmf.event_table
    steps: list[tuple[float, float, float]] = []
    greenwood = 0.0
    for t, row in table.iterrows():
        d, n = float(row["observed"]), float(row["at_risk"])
        if d and n > d:
            greenwood += d / (n * (n - d))
        s = float(kmf.survival_function_.loc[t].iloc[0])
        se = 0.0 if s == 0 else s * math.sqrt(greenwood)
        if not steps or d:
            steps.append((float(t), s, se))
    events = sum(1 for _, e in data if e)
    return Estimate(endpoint, group, len(data), events, tuple(steps), _at_risk(times), max(times))


def cumulative_incidence(group: str, data: Sequence[tuple[int, int]]) -> Estimate:
    """Aalen-Johansen (lifelines) cumulative incidence of code 1, code 2 competing."""
    from lifelines import AalenJohansenFitter

    times = [t for t, _ in data]
    events = sum(1 for _, c in data if c == 1)
    if events == 0:
        return Estimate("cir", group, len(data), 0, ((0.0, 0.0, 0.0),), _at_risk(times), max(times))
    aj = AalenJohansenFitter(calculate_variance=True, seed=AJ_SEED)
    with warnings.catch_warnings():
        # "Tied event times were detected ... randomly jittered": expected with day data (module
        # docstring); the jitter is seeded
        warnings.filterwarnings("ignore", message=".*[Tt]ied event times.*")
        # the jitter moves an event by up to its jitter_level (1e-4 day) either way: one on day 0
        # could land before the time origin, where the fit loses it; so fit on days + 1 and shift
        # back below
        aj.fit([t + 1 for t in times], [c for _, c in data], event_of_interest=1)
    cif = aj.cumulative_density_.iloc[:, 0]
    var = aj.variance_
    # times are whole days moved by the jitter (1e-4 day at most): back to their day, last value
    # kept
    by_day: dict[int, tuple[float, float]] = {}
    for t, v in cif.items():
        by_day[max(round(float(t)) - 1, 0)] = (float(v), math.sqrt(max(float(var.loc[t]), 0.0)))
    steps = [(float(day), v, se) for day, (v, se) in sorted(by_day.items())]
    return Estimate("cir", group, len(data), events, tuple(steps), _at_risk(times), max(times))


@dataclass
class CohortSurvival:
    """The evaluations of a cohort, its survival subjects and the estimates per group."""

    evaluations: list[PatientEvaluation]
    subjects: list[Subject]
    #: patients without a relapse diagnosis date (no time zero), and not-yet-assessable ones
    no_origin: list[str] = field(default_factory=list)
    not_assessable: list[str] = field(default_factory=list)
    non_response: NonResponse = CIR_NON_RESPONSE
    estimates: dict[tuple[str, str], Estimate] = field(default_factory=dict)

    def groupings(self) -> list[tuple[str, list[str]]]:
        """The column groups: all, by protocol group, by relapse time point."""
        return [
            ("all", ["all"]),
            ("protocol", list(GROUPS)),
            ("time point", [label for _, label in TIME_POINTS]),
        ]

    def members(self, group: str) -> list[Subject]:
        if group == "all":
            return self.subjects
        codes = {label: code for code, label in TIME_POINTS}
        if group in codes:
            return [s for s in self.subjects if s.time_point == codes[group]]
        return [s for s in self.subjects if s.group == group]

    def estimate(self, endpoint: str, group: str) -> Estimate | None:
        key = (endpoint, group)
        if key not in self.estimates:
            members = self.members(group)
            if endpoint == "cir":
                cir = [s.cir for s in members if s.cir is not None]
                est = cumulative_incidence(group, cir) if cir else None
            else:
                km = [getattr(s, endpoint) for s in members if getattr(s, endpoint) is not None]
                est = kaplan_meier(endpoint, group, km) if km else None
            if est is None:
                return None
            self.estimates[key] = est
        return self.estimates[key]

    def table(self) -> Table:
        """The survival table in the layout of the cohort tables (adapter.protocol.cohort)."""
        columns = [g for _, gs in self.groupings() for g in gs]
        rows: list[Row] = []
        for endpoint, title in ENDPOINTS:
            ests = [self.estimate(endpoint, g) for g in columns]

            def row(
                label: str, cell: Any, ests: list[Estimate | None] = ests, title: str = title
            ) -> Row:
                cells = tuple("–" if e is None else cell(e) for e in ests)
                return Row(title, label, cells, (None,) * len(cells))

            rows.append(row(f"{HORIZON_YEARS}-year ±SE", lambda e: e.landmark()))
            rows.append(row("events / n", lambda e: f"{e.events}/{e.n}"))
            rows.append(
                row(
                    "at risk " + "/".join(f"{y}" for y in AT_RISK_YEARS) + " y",
                    lambda e: "/".join(str(n) for n in e.at_risk),
                )
            )
        totals = tuple(len(self.members(g)) for g in columns)
        return Table(
            f"Survival from the relapse diagnosis ({HORIZON_YEARS}-year estimates; CIR "
            f"non-responders: {self.non_response})",
            tuple(columns),
            totals,
            tuple(rows),
        )


def cohort_survival(
    bundles: Iterable[Resource],
    protocols: Mapping[str, Protocol],
    as_of: dt.date,
    protocol_id: str | None = None,
    non_response: NonResponse = CIR_NON_RESPONSE,
) -> CohortSurvival:
    """Evaluate every patient of the Bundles and gather their survival times."""
    out = CohortSurvival([], [], non_response=non_response)
    for bundle in bundles:
        for e in evaluated_patients(bundle, protocols, as_of, protocol_id):
            out.evaluations.append(e.evaluation)
            s = subject_of(e, non_response)
            if s is None:
                out.no_origin.append(e.evaluation.patient)
                continue
            if s.efs is None:
                out.not_assessable.append(e.evaluation.patient)
            out.subjects.append(s)
    return out
