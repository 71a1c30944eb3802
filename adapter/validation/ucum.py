"""UCUM validity of unit codes (https://ucum.org/ucum), with ucumvert's grammar, cached per unit.

ucumvert parses about 600 units/s (../shared/reference/validation-tools.md section 5); bundles
repeat a handful of units, so each distinct string is parsed once per process.
"""

from __future__ import annotations

from functools import cache
from typing import Any

_PARSER: Any = None


def _parser() -> Any:
    global _PARSER
    if _PARSER is None:
        from ucumvert import get_ucum_parser

        _PARSER = get_ucum_parser()
    return _PARSER


@cache
def ucum_error(unit: str) -> str | None:
    """None when ``unit`` is a valid UCUM expression, else a short reason."""
    if not unit or unit != unit.strip():
        return "empty or padded unit"
    try:
        _parser().parse(unit)
    except Exception as exc:  # lark raises several unrelated exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return first[:160]
    return None
