"""Survival figures (adapter.report.survival) against small cases computed by hand."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest

from adapter.cli import main
from adapter.report.survival import (
    Estimate,
    cohort_survival,
    cumulative_incidence,
    kaplan_meier,
)
from tests.protocol.conftest import protocols
from tests.protocol.synthetic import Spec, bundle_for

D = dt.date


def test_kaplan_meier_and_greenwood_by_hand() -> None:
    # n=5: deaths on days 1, 3, 4; censored on days 2 and 5
    est = kaplan_meier("os", "all", [(1, True), (2, False), (3, True), (4, True), (5, False)])
    # S(1) = 4/5; S(3) = 4/5 * 2/3; S(4) = S(3) * 1/2
    assert est.at(0) == (1.0, 0.0)
    assert est.at(2)[0] == pytest.approx(0.8)
    assert est.at(3)[0] == pytest.approx(8 / 15)
    assert est.at(4)[0] == pytest.approx(4 / 15)
    # Greenwood: SE(3) = S(3) * sqrt(1/(5*4) + 1/(3*2)); SE(4) adds 1/(2*1)
    assert est.at(3)[1] == pytest.approx(8 / 15 * math.sqrt(1 / 20 + 1 / 6))
    assert est.at(4)[1] == pytest.approx(4 / 15 * math.sqrt(1 / 20 + 1 / 6 + 1 / 2))
    assert (est.n, est.events) == (5, 3)


def test_aalen_johansen_with_a_competing_death_by_hand() -> None:
    # n=9; code 1 relapse, 2 death, 0 censored; ties on day 0 and on day 6
    data = [(0, 1), (0, 2), (1, 1), (2, 2), (3, 1), (4, 0), (5, 2), (6, 0), (6, 1)]
    est = cumulative_incidence("all", data)
    # day 0: 1/9 relapse (and 1/9 death): S = 7/9; day 1: + 7/9 * 1/7; day 2 death: S = 5/9;
    # day 3: + 5/9 * 1/5; day 5 death: S = 5/9 * 4/5 * 2/3 = 8/27; day 6: + 8/27 * 1/2
    assert est.at(0)[0] == pytest.approx(1 / 9)
    assert est.at(1)[0] == pytest.approx(2 / 9)
    assert est.at(3)[0] == pytest.approx(3 / 9)
    assert est.at(5)[0] == pytest.approx(3 / 9)
    assert est.at(6)[0] == pytest.approx(3 / 9 + 4 / 27)
    assert est.events == 4


def test_many_relapse_events_on_day_zero_are_all_counted() -> None:
    # non-responders enter the CIR at day 0: five tied events at the time origin (n=9)
    est = cumulative_incidence("all", [(0, 1)] * 5 + [(10, 2), (20, 1), (30, 0), (40, 1)])
    # day 0: F = 5/9, S = 4/9; day 10 death (n=4): S = 1/3; day 20 (n=3): F += 1/3 * 1/3;
    # day 40 (n=1): F += 2/9
    assert est.at(0)[0] == pytest.approx(5 / 9)
    assert est.at(20)[0] == pytest.approx(6 / 9)
    assert est.at(40)[0] == pytest.approx(8 / 9)


def test_cumulative_incidence_without_competing_events_is_one_minus_km_with_its_se() -> None:
    est = cumulative_incidence("all", [(1, 1), (2, 0), (3, 1), (4, 1), (5, 0)])
    assert est.at(3)[0] == pytest.approx(1 - 8 / 15)
    assert est.at(3)[1] == pytest.approx(8 / 15 * math.sqrt(1 / 20 + 1 / 6))


def test_landmark_printed_like_the_paper() -> None:
    steps = ((0.0, 1.0, 0.0), (900.0, 0.451, 0.0804))
    assert Estimate("os", "all", 109, 50, steps, (109,) * 6, 1100.0).landmark() == "45±8 %"
    assert Estimate("os", "all", 1, 0, ((0.0, 1.0, 0.0),), (1,) * 6, 1096).landmark() == "100±0 %"
    # nobody followed up to 3 years: no 3-year figure rather than the last value carried on
    short = Estimate("os", "all", 109, 50, steps, (109,) * 6, 1000.0)
    assert short.landmark() == "– (follow-up < 3 y)"


def cohort() -> list[Spec]:
    return [
        Spec("a"),  # CR, no event: censored at the evaluation date
        Spec("b", response="nr", mrd_pct=None, death=D(2021, 5, 1)),  # non-responder
        Spec("c", later_relapse=D(2021, 11, 1)),
        Spec("d", death=D(2022, 5, 1)),  # death in remission
        Spec("e", protocol="all-rez-mb-2014", end_of_therapy=D(2019, 3, 1)),
    ]


def test_cohort_subjects_follow_the_engines_events() -> None:
    cs = cohort_survival([bundle_for(s) for s in cohort()], protocols(), D(2024, 5, 1))
    got = {s.patient.split("/")[1][0]: (s.os, s.efs, s.cir, s.group, s.time_point)
           for s in cs.subjects}  # fmt: skip
    # relapse diagnosed 2020-05-01 for all: day 365 = 2021-05-01, 549 = 2021-11-01, ...
    assert got["a"][:3] == ((1461, False), (1461, False), (1461, 0))
    assert got["b"][0] == (365, True)
    assert got["c"][:3] == ((1461, False), (549, True), (549, 1))
    assert got["d"][:3] == ((730, True), (730, True), (730, 2))
    assert got["e"][3:] == ("ALL-REZ 2014", "late")
    all_os = cs.estimate("os", "all")
    assert all_os is not None
    # deaths on days 365 (n=5) and 730 (n=4): 4/5 * 3/4
    assert all_os.at(3 * 365.25)[0] == pytest.approx(0.6)
    assert all_os.landmark() == "60±22 %"
    assert all_os.at_risk == (5, 4, 3, 3, 3, 0)


def test_non_responders_in_the_cir_as_chosen() -> None:
    nr = Spec("n", response="nr", mrd_pct=None)
    bundle = bundle_for(nr)
    subjects = {
        choice: cohort_survival([bundle], protocols(), D(2024, 5, 1), None, choice).subjects
        for choice in ("event", "competing", "excluded")
    }
    efs = subjects["event"][0].efs
    assert efs == (0, True)  # the engine: non-response is an EFS event at day 0
    assert subjects["event"][0].cir == (0, 1)
    assert subjects["competing"][0].cir == (0, 2)
    assert subjects["excluded"][0].cir is None


def test_cli_survival_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for s in cohort():
        (tmp_path / f"{s.key}.json").write_text(json.dumps(bundle_for(s)), encoding="utf-8")
    code = main(["cohort", str(tmp_path), "--as-of", "2024-05-01", "--table", "survival"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Overall survival:" in out
    assert "Cumulative incidence of relapse:" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("3-year ±SE"))
    assert line.split()[2] == "60±22"
