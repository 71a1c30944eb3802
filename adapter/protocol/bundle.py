"""Reading FHIR bundles robustly: an index by type and reference, dates, codes and quantities.

Written for bundles from any source that follows contract.md, not only our mappers: references as
``urn:uuid:``, ``Type/id`` or absolute URLs; ``onsetDateTime`` or ``onsetPeriod``; ``effective[x]``
as dateTime, instant or Period; HGNC with or without ``/geneId``.  Units are converted only where
UCUM makes the factor exact (contract.md "Units traps"); anything else is reported, never guessed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from adapter.fhir import Resource

Date = dt.date


def parse_date(value: Any) -> Date | None:
    """The calendar date of a FHIR date/dateTime/instant; partial dates give None (no guessing)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_instant(value: Any) -> dt.datetime | None:
    """A FHIR dateTime/instant as an aware datetime.  A date alone is its midnight; a time
    without an offset is read as UTC (FHIR requires the offset whenever a time is given)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        if len(value) == 10:
            return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def add_months(day: Date, months: int) -> Date:
    """Calendar-month arithmetic; the day is clamped to the end of a shorter month."""
    total = day.year * 12 + (day.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def months_between(start: Date, end: Date) -> float:
    """Elapsed calendar months (whole months plus the fraction of the next), for messages."""
    whole = (end.year - start.year) * 12 + (end.month - start.month)
    if add_months(start, whole) > end:
        whole -= 1
    base = add_months(start, whole)
    nxt = add_months(start, whole + 1)
    return whole + (end - base).days / max((nxt - base).days, 1)


def completed_years(birth: Date, on: Date) -> int:
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years


def codings(concept: Any) -> Iterator[tuple[str, str]]:
    """(system, code) pairs of a CodeableConcept (or a list of them); a trailing ``/`` of the
    system is dropped (contract.md accepts both spellings on input)."""
    items = concept if isinstance(concept, list) else (concept,)
    for cc in items:
        if not isinstance(cc, dict):
            continue
        for c in cc.get("coding") or ():
            if not isinstance(c, dict):
                continue
            code = c.get("code")
            if code is None:
                continue
            system = c.get("system") or ""
            if system.endswith("/"):
                system = system[:-1]
            yield system, code if isinstance(code, str) else str(code)


def has_code(concept: Any, system: str, *codes: str) -> bool:
    """True when the CodeableConcept (or list) has a coding of ``system`` with one of ``codes``."""
    system = system.rstrip("/")
    items = concept if isinstance(concept, list) else (concept,)
    for cc in items:
        if not isinstance(cc, dict):
            continue
        for c in cc.get("coding") or ():
            if isinstance(c, dict) and c.get("code") in codes:
                s = c.get("system") or ""
                if s == system or s == system + "/":
                    return True
    return False


def effective_date(resource: Resource) -> Date | None:
    """Date of an Observation/Procedure/MedicationAdministration, whatever the [x] choice."""
    for key in ("effectiveDateTime", "effectiveInstant", "performedDateTime", "issued"):
        if key in resource:
            return parse_date(resource[key])
    for key in ("effectivePeriod", "performedPeriod"):
        if key in resource:
            period = resource[key] or {}
            return parse_date(period.get("start")) or parse_date(period.get("end"))
    return None


def onset_date(condition: Resource) -> Date | None:
    """Condition onset from onsetDateTime or onsetPeriod.start (then .end)."""
    if "onsetDateTime" in condition:
        return parse_date(condition["onsetDateTime"])
    period = condition.get("onsetPeriod")
    if isinstance(period, dict):
        return parse_date(period.get("start")) or parse_date(period.get("end"))
    return None


def period_dates(resource: Resource, key: str) -> tuple[Date | None, Date | None]:
    period = resource.get(key) or {}
    return parse_date(period.get("start")), parse_date(period.get("end"))


def to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@dataclass(frozen=True, slots=True)
class Qty:
    """A quantity read from FHIR: exact decimal value, UCUM code (or unit text), comparator."""

    value: Decimal
    code: str | None
    comparator: str | None = None


def quantity(q: Any) -> Qty | None:
    if not isinstance(q, dict):
        return None
    value = to_decimal(q.get("value"))
    if value is None:
        return None
    code = q.get("code") if q.get("code") is not None else q.get("unit")
    return Qty(value, None if code is None else str(code), q.get("comparator"))


#: Exact UCUM factors to our working units, per contract.md "Concepts" and "Units traps".
UNIT_FACTORS: dict[str, dict[str, Decimal]] = {
    "kg": {"kg": Decimal(1), "g": Decimal("0.001")},
    "cm": {"cm": Decimal(1), "m": Decimal(100), "mm": Decimal("0.1")},
    "m2": {"m2": Decimal(1)},
    "%": {"%": Decimal(1)},
    "/uL": {
        "/uL": Decimal(1),
        "{cells}/uL": Decimal(1),
        "/mm3": Decimal(1),
        "10*3/uL": Decimal(1000),
        "10*6/mL": Decimal(1000),
        "10*9/L": Decimal(1000),
    },
    "g/L": {"g/L": Decimal(1), "g/dL": Decimal(10)},
    "10*9/L": {"10*9/L": Decimal(1), "10*3/uL": Decimal(1), "/uL": Decimal("0.001")},
    "ug/d": {"ug/d": Decimal(1), "mg/d": Decimal(1000)},
    "ug/m2/d": {"ug/m2/d": Decimal(1), "ug/(m2.d)": Decimal(1)},
}


def convert(q: Qty, target: str) -> Decimal | None:
    """The value in ``target`` units, or None when the unit is missing or not convertible."""
    if q.code is None:
        return None
    factor = UNIT_FACTORS[target].get(q.code)
    return None if factor is None else q.value * factor


#: a resource (a dict with a ``resourceType``) and the ``fullUrl`` of its entry
Entry = tuple[Resource, str | None]


class BundleIndex:
    """Resources of a Bundle by type and by every way they can be referenced.  Built from a
    Bundle, or from (resource, fullUrl) pairs (:meth:`of`: the CDS Hooks prefetch is indexed
    as it is read, without a Bundle in between)."""

    def __init__(self, bundle: Resource | None = None) -> None:
        self.by_type: dict[str, list[Resource]] = {}
        self._by_ref: dict[str, Resource] = {}
        #: how a resource without an id is cited (its fullUrl, else its type)
        self._ref_of_no_id: dict[int, str] = {}
        self._entries: list[Entry] = []
        if bundle is None:
            return
        entries: list[Entry] = []
        for entry in bundle.get("entry") or []:
            res = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(res, dict) and "resourceType" in res:
                full = entry.get("fullUrl")
                entries.append((res, full if isinstance(full, str) else None))
        self._index(entries)

    @classmethod
    def of(cls, entries: list[Entry]) -> BundleIndex:
        """An index of these resources, in this order."""
        index = cls()
        index._index(entries)
        return index

    def _index(self, entries: list[Entry]) -> None:
        self._entries = entries
        by_type, by_ref = self.by_type, self._by_ref
        for res, full in entries:
            rtype = res["resourceType"]
            if not isinstance(rtype, str):
                rtype = str(rtype)
            same_type = by_type.get(rtype)
            if same_type is None:
                same_type = by_type[rtype] = []
            same_type.append(res)
            # first entry wins for each key: fullUrl, Type/id, urn:uuid:id
            if full is not None and full not in by_ref:
                by_ref[full] = res
            rid = res.get("id")
            if rid:
                typed = f"{rtype}/{rid}"
                if typed not in by_ref:
                    by_ref[typed] = res
                urn = f"urn:uuid:{rid}"
                if urn not in by_ref:
                    by_ref[urn] = res
            else:
                self._ref_of_no_id[id(res)] = full or rtype

    def with_resources(self, extra: Iterable[Resource]) -> BundleIndex:
        """A new index of these resources followed by ``extra`` (entries without fullUrl)."""
        return BundleIndex.of([*self._entries, *((res, None) for res in extra)])

    def resources(self, rtype: str) -> list[Resource]:
        return self.by_type.get(rtype, [])

    def resolve(self, reference: Any) -> Resource | None:
        if not isinstance(reference, dict):
            return None
        ref = reference.get("reference")
        return self.resolve_reference(ref) if isinstance(ref, str) else None

    def resolve_reference(self, ref: str) -> Resource | None:
        """The resource a reference string names, or None."""
        if ref in self._by_ref:
            return self._by_ref[ref]
        # absolute URL ending in Type/id
        parts = ref.rstrip("/").split("/")
        if len(parts) >= 2:
            return self._by_ref.get(f"{parts[-2]}/{parts[-1]}")
        return None

    def full_url(self, resource: Resource | None) -> str | None:
        """The ``fullUrl`` of the resource's entry, if it has one (looked up when asked)."""
        for res, full in self._entries:
            if res is resource:
                return full
        return None

    def ref(self, resource: Resource) -> str:
        """How a finding cites a resource: ``Type/id`` (without an id: its entry's fullUrl,
        else its type)."""
        rid = resource.get("id")
        if rid:
            return f"{resource.get('resourceType')}/{rid}"
        return self._ref_of_no_id.get(id(resource), str(resource.get("resourceType")))

    def refs(self, resources: Iterable[Resource | None]) -> tuple[str, ...]:
        return tuple(self.ref(r) for r in resources if r is not None)
