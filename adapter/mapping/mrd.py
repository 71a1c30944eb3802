"""MRD-by-flow-cytometry value rules, shared by every source (CSV, HL7 v2).

contract.md "Units traps" and protocol.md section 5 ("0.01 % == 1e-4; a value of 0.01 is ambiguous
without its unit; the adapter must never guess"):

- ``<0.01`` keeps its comparator;
- ``negative`` with a limit of detection (LOD) becomes ``< LOD`` with interpretation NEG;
  without an LOD it is rejected (its sensitivity, hence its meaning at 1e-4, is unknown);
- a fraction is converted to percent exactly (Decimal, x100);
- a missing unit is rejected unless the site declared its MRD unit (``lab.mrd_unit``);
- a value written with an exponent but labelled ``%`` is rejected as a fraction labelled percent;
- more than 100 % is rejected;
- a plain number below the stated LOD is accepted with a warning.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from adapter.issues import Issue
from adapter.mapping.quantities import LabTest, ResultValue, convert
from adapter.sources.values import ValueProblem

HUNDRED = Decimal(100)


class MrdValue(NamedTuple):
    """An MRD result in percent of nucleated cells."""

    percent: Decimal
    comparator: str | None
    lod_percent: Decimal | None
    interpretation: str | None  # v3-ObservationInterpretation code


def _err(rule: str, message: str, field: str) -> Issue:
    return Issue("error", "value", message, rule=rule, location=(field,))


def mrd_value(
    result: ResultValue,
    unit: str | None,
    lod: Decimal | None,
    test: LabTest,
    declared_unit: str | None,
) -> tuple[MrdValue | None, list[Issue]]:
    """Apply the MRD rules; the issues' ``location`` holds the field name only (callers prefix)."""
    issues: list[Issue] = []
    if unit is None:
        if declared_unit is None:
            shown = "negative" if result.negative else str(result.number)
            return None, [
                _err(
                    "mrd-unit-missing",
                    f"MRD value {shown!r} has no unit and the site declares no MRD unit: "
                    "0.01 could be a percent or a fraction, it is never guessed",
                    "unit",
                )
            ]
        unit = declared_unit
        issues.append(
            Issue(
                "information",
                "informational",
                f"MRD unit {unit!r} taken from the site configuration (lab.mrd_unit)",
                rule="mrd-unit-site-default",
                location=("unit",),
            )
        )
    if unit == "%" and result.exponent_written:
        return None, [
            _err(
                "mrd-fraction-labelled-percent",
                f"MRD {result.number} is written as a fraction (exponent) but labelled '%'",
                "value",
            )
        ]
    try:
        lod_percent = convert(lod, unit, test) if lod is not None else None
        if result.number is None:  # 'negative'
            if lod_percent is None:
                return None, [
                    _err(
                        "mrd-negative-without-lod",
                        "MRD reported 'negative' without a limit of detection: its sensitivity "
                        "is unknown, so it cannot be stated against the 1e-4 threshold",
                        "lod",
                    )
                ]
            value = MrdValue(lod_percent, "<", lod_percent, "NEG")
        else:
            percent = convert(result.number, unit, test)
            value = MrdValue(percent, result.comparator, lod_percent, None)
    except ValueProblem as exc:
        return None, [_err(exc.rule, str(exc), "unit")]
    if value.percent > HUNDRED:
        return None, [_err("mrd-over-100-percent", f"MRD {value.percent} % exceeds 100 %", "value")]
    if lod_percent is not None and lod_percent > HUNDRED:
        return None, [_err("mrd-over-100-percent", f"MRD LOD {lod_percent} % exceeds 100 %", "lod")]
    if (
        lod_percent is not None
        and value.comparator is None
        and value.percent < lod_percent
        and value.percent != 0
    ):
        issues.append(
            Issue(
                "warning",
                "value",
                f"MRD {value.percent} % is below the stated LOD {lod_percent} % without '<'",
                rule="mrd-below-lod",
                location=("value",),
            )
        )
    return value, issues
