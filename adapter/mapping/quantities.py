"""Result values and units: the grammar of a result cell and exact unit conversion.

A result cell is a number, ``<number`` / ``>number`` (and ``<=``/``>=``), or ``negative``.
Units are converted to the unit a test is emitted in with exact Decimal factors from
``mappings/tables/lab-tests.yaml`` (sources cited there); an unknown unit is an error, never a
guess (contract.md "Units traps").
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict

from adapter.fhir import UCUM
from adapter.issues import Issue
from adapter.sources.values import ValueProblem, decimal_json

Comparator = Literal["<", "<=", ">", ">="]


class LabTest(BaseModel):
    """One row of ``lab-tests.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str
    code: str
    display: str
    kind: Literal["mrd", "lab"]
    unit: str
    accepted: dict[str, Decimal]


class _LabTestTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tests: list[LabTest]


def load_lab_tests(path: Path) -> dict[tuple[str, str], LabTest]:
    """The lab-test table keyed by (system, code)."""
    table = _LabTestTable.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    return {(t.system, t.code): t for t in table.tests}


class ResultValue(NamedTuple):
    """A parsed result cell: ``number`` with an optional comparator, or ``negative``."""

    number: Decimal | None
    comparator: Comparator | None = None
    negative: bool = False
    #: the number was written with an exponent (``1e-4``): a sign of a fraction, not a percent
    exponent_written: bool = False


def parse_result(text: str, parse_number: Callable[[str], Decimal]) -> ResultValue:
    """Parse a result cell; :class:`ValueProblem` when it is none of the accepted forms."""
    if text.lower() == "negative":
        return ResultValue(None, negative=True)
    comparator: Comparator | None = None
    if text.startswith(("<", ">")):
        for symbol in ("<=", ">=", "<", ">"):
            if text.startswith(symbol):
                comparator = symbol
                text = text[len(symbol) :].strip()
                break
    number = parse_number(text)
    if number < 0:
        raise ValueProblem("value-negative", f"{text!r}: a result cannot be negative")
    return ResultValue(number, comparator, False, "e" in text or "E" in text)


def convert(value: Decimal, unit: str, test: LabTest) -> Decimal:
    """``value`` in ``unit`` expressed in the test's emitted unit (exact)."""
    factor = test.accepted.get(unit)
    if factor is None:
        raise ValueProblem(
            "unit-unknown",
            f"unit {unit!r} is not accepted for {test.display} "
            f"(accepted: {', '.join(test.accepted)})",
        )
    return value * factor


def quantity(value: Decimal, unit: str, comparator: str | None = None) -> dict[str, object]:
    """An R4 Quantity in UCUM (https://hl7.org/fhir/R4/datatypes.html#Quantity)."""
    if comparator:
        return {
            "value": decimal_json(value),
            "comparator": comparator,
            "unit": unit,
            "system": UCUM,
            "code": unit,
        }
    return {"value": decimal_json(value), "unit": unit, "system": UCUM, "code": unit}


def problem(exc: ValueProblem, severity: Literal["error", "warning"] = "error") -> Issue:
    """An Issue (without location) from a value problem."""
    return Issue(severity, "value", str(exc), rule=exc.rule)
