"""Cell values: decimals with the site's separator and dates rendered as FHIR dateTime.

FHIR R4 dateTime (https://hl7.org/fhir/R4/datatypes.html#dateTime): when a time is given, seconds
and a time zone SHALL be present.  A timestamp without a zone takes the site's declared
``time_zone``; when the site declares none it is an error, never an invented zone.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo

from adapter.sources.site import SiteConfig


class ValueProblem(ValueError):
    """A cell value that does not parse; the message says which rule."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def parse_decimal(text: str, site: SiteConfig) -> Decimal:
    """A decimal written with the site's separator; no thousands separators, no exponent."""
    separator = site.decimal_separator
    candidate = text if separator == "." else text.replace(separator, ".")
    if separator == "," and "." in text:
        raise ValueProblem("number-format", f"{text!r}: this site writes decimals with ','")
    try:
        value = Decimal(candidate)
    except InvalidOperation:
        raise ValueProblem("number-format", f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValueProblem("number-format", f"{text!r} is not a finite number")
    return value


def decimal_json(value: Decimal) -> int | float:
    """A Decimal as a JSON number with no float noise in its shortest form.

    ``float(Decimal)`` is exact to the 17 significant digits JSON readers use; integers stay ints.
    """
    if value == value.to_integral_value() and abs(value) < 10**15:
        return int(value)
    return float(value)


def parse_datetime(text: str, site: SiteConfig) -> str:
    """A date or timestamp as an R4 dateTime string, keeping the precision of the source."""
    return _parse_datetime(
        text, site.datetime_formats, site.date_formats, site.time_zone, site.site
    )


@lru_cache(maxsize=1 << 14)
def _parse_datetime(
    text: str,
    datetime_formats: tuple[str, ...],
    date_formats: tuple[str, ...],
    time_zone: str | None,
    site_name: str,
) -> str:
    # cached: exports repeat the same timestamps on every row of a specimen, and strptime is slow
    for fmt in datetime_formats:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            if time_zone is None:
                raise ValueProblem(
                    "datetime-zone-missing",
                    f"{text!r} has a time but no zone and site {site_name!r} declares no time_zone",
                )
            parsed = parsed.replace(tzinfo=ZoneInfo(time_zone))
        return parsed.isoformat(timespec="seconds")
    for fmt in date_formats:
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    formats = ", ".join([*datetime_formats, *date_formats])
    raise ValueProblem("date-format", f"{text!r} matches none of the site's formats ({formats})")
