"""Checks of FHIR primitive values in JSON (https://hl7.org/fhir/R4/datatypes.html#primitive).

The lexical regexes come from the ``regex`` extension of each primitive StructureDefinition in the
core package (handed in by the caller); this module adds what a regex cannot say: the JSON type
(decimal and integer as JSON numbers, boolean as true/false), integer ranges, calendar validity of
dates, and that empty strings are not values (https://hl7.org/fhir/R4/json.html#primitive).
"""

from __future__ import annotations

import datetime as dt
import re

_NUMBER_TYPES = frozenset({"decimal"})
_INTEGER_TYPES = frozenset({"integer", "positiveInt", "unsignedInt"})
_DATE_PREFIX = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_INT32 = (-(2**31), 2**31 - 1)

PRIMITIVE_TYPES = frozenset(
    {
        "boolean",
        "integer",
        "string",
        "decimal",
        "uri",
        "url",
        "canonical",
        "base64Binary",
        "instant",
        "date",
        "dateTime",
        "time",
        "code",
        "oid",
        "id",
        "markdown",
        "unsignedInt",
        "positiveInt",
        "uuid",
        "xhtml",
    }
)


def primitive_error(type_code: str, value: object, regex: re.Pattern[str] | None) -> str | None:
    """None when ``value`` is a valid JSON form of ``type_code``, else why not."""
    if type_code == "boolean":
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if type_code in _INTEGER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"expected a JSON integer for {type_code}, got {value!r}"
        if not _INT32[0] <= value <= _INT32[1]:
            return f"integer {value} out of the 32-bit range"
        if type_code == "positiveInt" and value < 1:
            return f"positiveInt must be >= 1, got {value}"
        if type_code == "unsignedInt" and value < 0:
            return f"unsignedInt must be >= 0, got {value}"
        return None
    if type_code in _NUMBER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected a JSON number for decimal, got {value!r}"
        if value != value or value in (float("inf"), float("-inf")):
            return "decimal must be finite"
        return None
    if not isinstance(value, str):
        return f"expected a JSON string for {type_code}, got {type(value).__name__} {value!r}"
    if value == "":
        return "empty string (omit the element instead)"
    if type_code == "xhtml":
        stripped = value.lstrip()
        if not stripped.startswith("<div") or 'xmlns="http://www.w3.org/1999/xhtml"' not in value:
            return 'narrative must be a <div xmlns="http://www.w3.org/1999/xhtml"> element'
        return None
    if regex is not None and regex.fullmatch(value) is None:
        return f"{value!r} is not a valid {type_code}"
    if type_code in ("date", "dateTime", "instant"):
        match = _DATE_PREFIX.match(value)
        if match:
            try:
                dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            except ValueError:
                return f"{value!r} is not a calendar date"
    return None
