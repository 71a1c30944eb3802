"""Cohort tables over patient evaluations, in the layout of protocol.md §8 [V23].

Table 1 (cohort characteristics), Table 2 (relapse risk strata S1-S5 by protocol group, the view
of [V23] Table 2; protocol.md does not quote its figures) and Table 3 (outcomes by protocol) are
counts with percentages of the column total.  Patients in a second or later relapse form their
own group, as in [V23] Table 1 ("second relapses"); the others are grouped by the protocol they
were evaluated under.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from adapter.protocol.model import PatientEvaluation
from adapter.protocol.rules import TABLE1_TRANSLOCATIONS

GROUPS = ("ALL-REZ 2014", "ALL-REZ 2016", "second relapses")
_PROTOCOL_GROUP = {
    "all-rez-mb-2014": "ALL-REZ 2014",
    "all-rez-2016": "ALL-REZ 2016",
    "all-rez-2016-blokhin": "ALL-REZ 2016",
}
TIME_POINTS = (("very-early", "very early"), ("early", "early"), ("late", "late"))
SITES = (
    "isolated BM",
    "isolated CNS",
    "testicular",
    "BM+CNS",
    "BM+testicular",
    "BM+extramedullary+CNS",
)
OUTCOMES = (
    ("death-in-induction", "death in induction"),
    ("non-responder", "non-responder"),
    ("cr", "CR"),
    ("death-in-remission", "  death in remission"),
    ("relapse", "  relapse"),
    ("long-term-cr", "  long-term CR"),
)


@dataclass(frozen=True, slots=True)
class Row:
    section: str
    label: str
    counts: tuple[int | str, ...]
    percents: tuple[float | None, ...]

    def to_json(self, columns: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"section": self.section, "label": self.label}
        for col, n, pct in zip(columns, self.counts, self.percents, strict=True):
            out[col] = {"n": n, "percent": pct}
        return out


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    columns: tuple[str, ...]
    totals: tuple[int, ...]
    rows: tuple[Row, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "columns": [
                {"name": c, "n": n} for c, n in zip(self.columns, self.totals, strict=True)
            ],
            "rows": [r.to_json(self.columns) for r in self.rows],
        }


def group_of(ev: PatientEvaluation) -> str:
    n = ev.summary.get("relapse_number")
    if isinstance(n, int) and n >= 2:
        return "second relapses"
    return _PROTOCOL_GROUP.get(ev.protocol, ev.protocol)


def _pct(n: int, total: int) -> float | None:
    return None if total == 0 else round(100 * n / total, 1)


def _count_row(section: str, label: str, n: int, total: int) -> Row:
    return Row(section, label, (n,), (_pct(n, total),))


def patients_table(evaluations: Iterable[PatientEvaluation]) -> Table:
    """Table 1: protocol group, sex, age, time point, site and cytogenetics."""
    evs = list(evaluations)
    total = len(evs)
    rows: list[Row] = []
    groups = [group_of(e) for e in evs]
    for g in (*GROUPS, *sorted(set(groups) - set(GROUPS))):
        if g in GROUPS or groups.count(g):
            rows.append(_count_row("protocol", g, groups.count(g), total))
    sexes = [e.summary.get("gender") for e in evs]
    for code, label in (("male", "boys"), ("female", "girls")):
        rows.append(_count_row("sex", label, sexes.count(code), total))
    other = sum(1 for s in sexes if s not in ("male", "female"))
    if other:
        rows.append(_count_row("sex", "other or unknown", other, total))
    ages = [float(e.summary["age_years"]) for e in evs if "age_years" in e.summary]
    if ages:
        text = f"{statistics.median(ages):.2f} ({min(ages):.2f}-{max(ages):.2f})"
        rows.append(Row("age", "median age, years (range)", (text,), (None,)))
    tps = [e.summary.get("time_point") for e in evs]
    for code, label in TIME_POINTS:
        rows.append(_count_row("time point", label, tps.count(code), total))
    if tps.count(None):
        rows.append(_count_row("time point", "not derivable", tps.count(None), total))
    sites = [e.summary.get("site_label") for e in evs]
    extra = sorted({s for s in sites if s is not None and s not in SITES})
    for label in (*SITES, *extra):
        rows.append(_count_row("site", label, sites.count(label), total))
    if sites.count(None):
        rows.append(_count_row("site", "not derivable", sites.count(None), total))
    trans = [e.summary.get("translocation", "unknown") for e in evs]
    others = sorted({t for t in trans if t not in (*TABLE1_TRANSLOCATIONS, "none", "unknown")})
    for t in (*TABLE1_TRANSLOCATIONS, *others):
        rows.append(_count_row("cytogenetics", t, trans.count(t), total))
    rows.append(
        _count_row("cytogenetics", "no significant translocation", trans.count("none"), total)
    )
    rows.append(_count_row("cytogenetics", "unknown", trans.count("unknown"), total))
    return Table("Table 1. Patient characteristics", ("all",), (total,), tuple(rows))


def _group_columns(
    evs: list[PatientEvaluation],
) -> list[tuple[str, list[PatientEvaluation]]]:
    """All patients, then one column per protocol group (and any other protocol seen)."""
    groups = [group_of(e) for e in evs]
    extra = sorted(set(groups) - set(GROUPS))
    return [("all", evs)] + [
        (g, [e for e, eg in zip(evs, groups, strict=True) if eg == g]) for g in (*GROUPS, *extra)
    ]


def _table(
    title: str,
    section: str,
    cols: list[tuple[str, list[PatientEvaluation]]],
    rows_of: Iterable[tuple[str, Callable[[PatientEvaluation], bool]]],
) -> Table:
    rows = []
    for label, hit in rows_of:
        counts = [sum(1 for e in members if hit(e)) for _, members in cols]
        rows.append(
            Row(
                section,
                label,
                tuple(counts),
                tuple(_pct(n, len(m)) for n, (_, m) in zip(counts, cols, strict=True)),
            )
        )
    return Table(title, tuple(c for c, _ in cols), tuple(len(m) for _, m in cols), tuple(rows))


#: Table 2 rows: the strata of protocol.md §2 (S5 only as recorded, never derived).
STRATA = ("S1", "S2", "S3", "S4", "S5")


def strata_table(evaluations: Iterable[PatientEvaluation]) -> Table:
    """Table 2: relapse risk strata (derived S1-S4, or as recorded) per protocol group; patients
    whose stratum is neither derivable nor recorded (second relapses: the BFM strata are
    defined for first relapses) form the "not derivable" row."""
    evs = list(evaluations)

    def is_(stratum: str | None) -> Callable[[PatientEvaluation], bool]:
        return lambda e: e.summary.get("stratum") == stratum

    return _table(
        "Table 2. Relapse risk strata by protocol",
        "stratum",
        _group_columns(evs),
        [*((s, is_(s)) for s in STRATA), ("not derivable", is_(None))],
    )


def outcomes_table(evaluations: Iterable[PatientEvaluation]) -> Table:
    """Table 3: outcome categories of protocol.md §7, for all patients and per protocol group."""
    evs = list(evaluations)

    def is_(code: str) -> Callable[[PatientEvaluation], bool]:
        if code == "cr":
            return lambda e: (
                bool(e.summary.get("cr"))
                and e.summary.get("outcome")
                in (
                    "death-in-remission",
                    "relapse",
                    "long-term-cr",
                )
            )
        return lambda e: e.summary.get("outcome") == code

    rows = [(label, is_(code)) for code, label in OUTCOMES]
    if any(e.summary.get("outcome") == "not-assessable" for e in evs):
        rows.append(("not yet assessable", is_("not-assessable")))
    return _table("Table 3. Outcomes by protocol", "outcome", _group_columns(evs)[:4], rows)


def render_text(table: Table) -> str:
    head = ["", *[f"{c} (n={n})" for c, n in zip(table.columns, table.totals, strict=True)]]
    body: list[list[str]] = []
    section = None
    for r in table.rows:
        if r.section != section:
            body.append([r.section.capitalize() + ":"] + [""] * len(table.columns))
            section = r.section
        cells = [f"  {r.label}"]
        for n, pct in zip(r.counts, r.percents, strict=True):
            cells.append(str(n) if pct is None else f"{n} ({pct:.1f}%)")
        body.append(cells)
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    out = [table.title]
    for row in [head, *body]:
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                             enumerate(zip(row, widths, strict=True))).rstrip())  # fmt: skip
    return "\n".join(out) + "\n"


def render_csv_rows(table: Table) -> list[list[str]]:
    header = ["section", "label"]
    for c in table.columns:
        header += [f"{c} n", f"{c} %"]
    rows = [header]
    for r in table.rows:
        cells = [r.section, r.label]
        for n, pct in zip(r.counts, r.percents, strict=True):
            cells += [str(n), "" if pct is None else f"{pct:.1f}"]
        rows.append(cells)
    return rows
