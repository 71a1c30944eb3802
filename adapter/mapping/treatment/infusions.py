"""Blinatumomab bags or segments -> MedicationAdministration.

mCODE CancerRelatedMedicationAdministration shape (terminology.md 1.2).

Canonical fields (default site reads exactly these headers): ``patient_id, order_id, drug, bag_id,
start, end, dose, dose_unit, rate_ml_h, bag_volume_ml, concentration_ug_ml, course, course_day,
status, status_reason, bsa``.

Shape (contract.md "blinatumomab infusion"; terminology.md 1.2): effectivePeriod = the bag;
dosage.rateQuantity = delivered dose rate in ``ug/d``; route 47625008 IV; mCODE
normalizationBasis 301898006 BSA (dose in ``ug/m2/d``) or 1157245009 fixed dose (``ug/d``); the
prescribed ``ug/m2/d`` rate in extension ball-prescribed-rate-per-m2; course number and day in
ball-course-number / ball-course-day.  The delivered rate is ``rate_ml_h x 24 x
concentration_ug_ml`` (exact Decimal, ``ug/d``).  The prescribed ``ug/d`` rate is the per-m2 dose
times the BSA (the row's ``bsa`` column, else the latest context BSA), rounded to 0.01 ug/d, or
the flat dose; a delivered rate that differs from it by more than the site's
``dose_rate_tolerance_pct`` (default 10 %, a placeholder to be confirmed clinically) is a warning
(``delivered-rate-deviation``).  Without a pump rate or a concentration the rateQuantity falls back
to the prescribed rate, said in an information issue (``delivered-rate-unknown``).
Status (issue 5): ``completed`` / ``in-progress`` as such; ``stopped`` and ``interrupted`` become
``stopped`` with statusReason (the source word and reason as text, coded only when the reason is
in the table's mCODE TreatmentTerminationReasonVS codes), so mCODE's termination-reason invariants
hold.

Checks: dose units only ``ug/d`` / ``ug/m2/d`` or through the site's ``units`` table; ``ug/m2/day``
and ``mcg/d`` (not UCUM) and ``ug/m2.d`` (UCUM, wrong dimension) are named traps (contract.md
"Units traps"); overlapping bags of one patient; a gap between bags of one course; a per-m2 dose
without a usable BSA or with BSA inputs older than ``bsa_max_age_days``; a per-m2 dose over the
weight boundary or a flat dose under it (protocol.md 4); an infusion after the death date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from itertools import pairwise
from typing import Any

from adapter.fhir import RXNORM, SNOMED, Resource, coding, concept, deterministic_id, ref
from adapter.issues import Issue
from adapter.mapping.bundle import MapResult
from adapter.mapping.treatment.common import (
    EXT_NORMALIZATION_BASIS,
    EXT_PRESCRIBED_RATE,
    PROFILE_BLINATUMOMAB,
    Checked,
    FirstRows,
    RowCheck,
    check_file,
    course_extensions,
    day,
    live,
    patient_key,
    ucum,
)
from adapter.mapping.treatment.context import TreatmentContext, context_notice, latest
from adapter.mapping.treatment.tables import TreatmentTables
from adapter.sources.delimited import Fields, Row
from adapter.sources.site import InfusionsSource, SiteConfig

REQUIRED = ("patient_id", "order_id", "drug", "bag_id", "start", "dose", "dose_unit", "status")
FIELDS = Fields(
    kind="infusions",
    required=frozenset(REQUIRED),
    optional=frozenset(
        {
            "end",
            "rate_ml_h",
            "bag_volume_ml",
            "concentration_ug_ml",
            "course",
            "course_day",
            "status_reason",
            "bsa",
        }
    ),
)
DOSE_UNITS = ("ug/d", "ug/m2/d")
#: contract.md "Units traps": spellings that must never be taken as a dose unit by themselves.
UNIT_TRAPS = {
    "ug/m2/day": "'ug/m2/day' is not UCUM (the UCUM day is 'd'); map it in the site's units table",
    "mcg/d": "'mcg/d' is not UCUM (microgram is 'ug'); map it in the site's units table",
    "ug/m2.d": "'ug/m2.d' is valid UCUM but means ug.d/m2, a wrong dimension for a dose rate",
}
STATUSES = {
    "completed": "completed",
    "in-progress": "in-progress",
    "stopped": "stopped",
    "interrupted": "stopped",
}


@dataclass(frozen=True, slots=True)
class Infusion:
    row: int
    patient_id: str
    order_id: str
    bag_id: str
    drug: str
    start: str
    end: str | None
    dose: Decimal
    dose_unit: str  # ug/d or ug/m2/d
    source_status: str
    status_reason: str | None  # as written in the source
    reason_key: str | None  # after the site vocabulary: a key of the table's termination_reasons
    rate_ml_h: Decimal | None
    bag_volume_ml: Decimal | None
    concentration: Decimal | None
    course: int | None
    course_day: int | None
    bsa: Decimal | None  # from the row
    original_unit: str


@dataclass(frozen=True, slots=True)
class Dosing:
    """What the mapper decided about a checked infusion.

    ``rate_ug_d`` is the ``dosage.rateQuantity``: the delivered rate when ``delivered`` (pump
    rate x 24 h x concentration, exact), else the prescribed rate; ``prescribed_ug_d`` is the
    per-m2 dose x BSA (0.01 ug/d) or the flat dose.
    """

    rate_ug_d: Decimal
    prescribed_ug_d: Decimal
    delivered: bool
    bsa: Decimal | None
    bsa_source: str | None


#: hours of a day: a pump rate in mL/h delivers rate x 24 mL a day (contract.md: ``ug/d``)
HOURS_PER_DAY = Decimal(24)


def delivered_rate(inf: Infusion) -> Decimal | None:
    """contract.md "blinatumomab infusion": the delivered dose rate in ug/d, from the pump rate
    (mL/h) and the concentration (ug/mL): ``rate x 24 x concentration``, exact; ``None`` when
    either is missing."""
    if inf.rate_ml_h is None or inf.concentration is None:
        return None
    return inf.rate_ml_h * HOURS_PER_DAY * inf.concentration


def _instant(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _bound(text: str, upper: bool) -> datetime:
    """A dateTime, or a date widened to the start (or end) of its day (taken in UTC)."""
    exact = _instant(text)
    if exact is not None:
        return exact
    d = date.fromisoformat(text[:10])
    base = datetime(d.year, d.month, d.day, tzinfo=UTC)
    return base + timedelta(days=1) if upper else base


def check_infusion_row(
    row: Row, site: SiteConfig, section: InfusionsSource, tables: TreatmentTables
) -> Checked[Infusion]:
    """Check one bag row: codes, units, dates, numbers, status."""
    check = RowCheck.start(row, site, section, REQUIRED)
    drug = check.choice("drug", tables.blinatumomab_drugs, "drug-unknown")
    start = check.when("start")
    end = check.when("end")
    dose = check.number("dose", positive=True)
    unit_text, unit = check.dose_unit(DOSE_UNITS, UNIT_TRAPS)
    status = check.choice("status", STATUSES, "status-unknown")
    reason = row.values.get("status_reason") or None
    if status in ("completed", "in-progress") and reason:
        check.error(
            "status-reason-unexpected",
            "status_reason",
            f"a {status} bag has no stop reason (mCODE termination-reason invariant: a "
            "termination reason requires status stopped)",
        )
    if status and status != "in-progress" and not row.values.get("end"):
        check.error("required-cell", "end", f"a {status} bag needs an end", "required")
    if start and end:
        s, e = _bound(start, False), _bound(end, True)
        if e <= s:
            check.error("period-order", "end", f"end {end} is not after start {start}")
    course = check.whole("course")
    course_day = check.whole("course_day")
    bsa = check.number("bsa", positive=True)
    rate = check.number("rate_ml_h")
    volume = check.number("bag_volume_ml")
    conc = check.number("concentration_ug_ml")
    if check.failed or drug is None or start is None or dose is None or status is None:
        return Checked(check, None)
    return Checked(
        check,
        Infusion(
            row.number,
            row.values["patient_id"],
            row.values["order_id"],
            row.values["bag_id"],
            drug,
            start,
            end,
            dose,
            unit,
            status,
            reason,
            check.text("status_reason") or None,
            rate,
            volume,
            conc,
            course,
            course_day,
            bsa,
            unit_text,
        ),
    )


def map_infusions(
    data: bytes,
    source_name: str,
    site: SiteConfig,
    recorded: str,
    tables: TreatmentTables,
    context: TreatmentContext,
) -> MapResult:
    """Map an infusion export; cross-row and cross-file checks run before anything maps."""
    notices = context_notice(
        context, "BSA and weight for dosing (protocol.md 4), infusion after death"
    )
    batch = check_file(
        data, source_name, site, recorded, FIELDS, notices, check_infusion_row, tables
    )
    _check_duplicates(batch.checked)
    _check_overlaps(batch.checked)
    _check_gaps(batch.checked, batch.section)
    dosing = _check_context(batch.checked, site, batch.section, tables, context)
    return batch.finish(lambda inf: [to_fhir_infusion(site, tables, inf, dosing[inf.row])])


def _check_duplicates(checked: list[Checked[Infusion]]) -> None:
    seen = FirstRows[tuple[str, str, str]]()
    for item, inf in live(checked):
        if (first := seen.repeat((inf.patient_id, inf.order_id, inf.bag_id), inf.row)) is not None:
            item.repeats("same patient, order and bag", first, "bag_id")


def _period(inf: Infusion) -> tuple[datetime, datetime | None]:
    return _bound(inf.start, False), _bound(inf.end, True) if inf.end else None


def _check_overlaps(checked: list[Checked[Infusion]]) -> None:
    """Two bags of one patient running at the same time: the later row is rejected."""
    by_patient: dict[str, list[tuple[Checked[Infusion], Infusion]]] = {}
    for item, inf in live(checked):
        by_patient.setdefault(inf.patient_id, []).append((item, inf))
    for items in by_patient.values():
        for i, (item, inf) in enumerate(items):
            start, end = _period(inf)
            for _, other in items[:i]:
                o_start, o_end = _period(other)
                overlaps = (o_end is None or start < o_end) and (end is None or o_start < end)
                if overlaps:
                    item.error(
                        "infusion-overlap",
                        "start",
                        f"bag {inf.bag_id} ({inf.start} - {inf.end or 'running'}) overlaps bag "
                        f"{other.bag_id} of row {other.row} ({other.start} - "
                        f"{other.end or 'running'}) of the same patient",
                    )
                    break


def _check_gaps(checked: list[Checked[Infusion]], section: InfusionsSource) -> None:
    """A pause between consecutive bags of one course (flagged, the bags still map)."""
    courses: dict[tuple[str, int], list[tuple[Checked[Infusion], Infusion]]] = {}
    for item, inf in live(checked):
        if inf.course is not None:
            courses.setdefault((inf.patient_id, inf.course), []).append((item, inf))
    tolerance = timedelta(minutes=section.gap_tolerance_minutes)
    for items in courses.values():
        items.sort(key=lambda p: _period(p[1])[0])
        for (_, before), (item, after) in pairwise(items):
            end = _period(before)[1]
            if end is None:
                continue
            gap = _period(after)[0] - end
            if gap > tolerance:
                item.warn(
                    "infusion-gap",
                    "start",
                    f"course {after.course}: bag {after.bag_id} starts {after.start}, "
                    f"{gap} after bag {before.bag_id} (row {before.row}) ended {before.end} "
                    f"(gap_tolerance_minutes {section.gap_tolerance_minutes})",
                )


def _check_context(
    checked: list[Checked[Infusion]],
    site: SiteConfig,
    section: InfusionsSource,
    tables: TreatmentTables,
    context: TreatmentContext,
) -> dict[int, Dosing]:
    """BSA for per-m2 doses, weight boundary, death date: facts from the context Bundles."""
    out: dict[int, Dosing] = {}
    max_age = section.bsa_max_age_days
    for item, inf in live(checked):
        facts = context.of(patient_key(site, inf.patient_id))
        start = day(inf.start)
        item.after_death(facts.death, inf.start, "start", f"infusion starts {inf.start}")
        weight = latest(facts.weights, start)
        if weight is not None and (start - weight.when).days <= max_age:
            _check_boundary(item, inf, weight.value, tables)
        elif context.given:
            item.check.issues.append(
                Issue(
                    "information",
                    "informational",
                    f"weight-boundary check (protocol.md 4) not run: no body weight within "
                    f"bsa_max_age_days {max_age} before {start} in the context",
                    rule="weight-unknown",
                    location=("start",),
                )
            )
        bsa, bsa_source = inf.bsa, "bsa column" if inf.bsa is not None else None
        if inf.dose_unit == "ug/m2/d" and bsa is None:
            found = latest(facts.bsas, start)
            if found is None:
                where = "in the context" if context.given else "(no --context Bundle given)"
                item.error(
                    "per-m2-without-bsa",
                    "dose_unit",
                    f"a per-m2 dose needs a BSA: none in the row and none on or before "
                    f"{start} {where}",
                )
            elif (start - found.oldest_input).days > max_age:
                item.error(
                    "bsa-too-old",
                    "dose_unit",
                    f"the latest BSA ({found.value} m2 of {found.when}) comes from "
                    f"measurements of {found.oldest_input}, more than bsa_max_age_days "
                    f"{max_age} before {start}",
                )
            else:
                bsa, bsa_source = found.value, f"BSA of {found.when}"
        if item.check.failed:
            continue
        if inf.dose_unit == "ug/m2/d" and bsa is not None:
            exact = inf.dose * bsa
            prescribed = exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
        else:
            exact = prescribed = inf.dose
        delivered = delivered_rate(inf)
        if delivered is None:
            _note_prescribed_rate(item, inf, prescribed)
            out[inf.row] = Dosing(prescribed, prescribed, False, bsa, bsa_source)
            continue
        _check_delivered(item, inf, delivered, exact, bsa, section.dose_rate_tolerance_pct)
        out[inf.row] = Dosing(delivered, prescribed, True, bsa, bsa_source)
    return out


def _note_prescribed_rate(item: Checked[Infusion], inf: Infusion, prescribed: Decimal) -> None:
    """No pump rate or concentration: rateQuantity falls back to the prescribed ug/d (said)."""
    missing = [
        column
        for column, value in (
            ("rate_ml_h", inf.rate_ml_h),
            ("concentration_ug_ml", inf.concentration),
        )
        if value is None
    ]
    how = "dose x BSA" if inf.dose_unit == "ug/m2/d" else "the flat dose"
    item.check.issues.append(
        Issue(
            "information",
            "informational",
            f"no {' and no '.join(missing)}: dosage.rateQuantity is the prescribed rate "
            f"{_fmt(prescribed)} ug/d ({how}), not the delivered rate (contract.md: delivered "
            "= pump rate x 24 h x concentration)",
            rule="delivered-rate-unknown",
            location=(missing[0],),
        )
    )


def _check_delivered(
    item: Checked[Infusion],
    inf: Infusion,
    delivered: Decimal,
    prescribed: Decimal,
    bsa: Decimal | None,
    tolerance_pct: Decimal,
) -> None:
    """A delivered rate off the prescribed ug/d by more than the site's tolerance (warning)."""
    if prescribed == 0:
        return
    off = (delivered - prescribed) / prescribed * 100
    if abs(off) <= tolerance_pct:
        return
    how = (
        f"{_fmt(inf.dose)} ug/m2/d x BSA {_fmt(bsa)} m2"
        if inf.dose_unit == "ug/m2/d"
        else f"flat {_fmt(inf.dose)} ug/d"
    )
    item.warn(
        "delivered-rate-deviation",
        "rate_ml_h",
        f"delivered {_fmt(delivered)} ug/d (pump {_fmt(inf.rate_ml_h)} mL/h x 24 h x "
        f"{_fmt(inf.concentration)} ug/mL) differs from the prescribed "
        f"{_fmt(prescribed.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN))} ug/d ({how}) "
        f"by {off.quantize(Decimal('0.1'), rounding=ROUND_HALF_EVEN):+}%, more than the site's "
        f"dose_rate_tolerance_pct {_fmt(tolerance_pct)}",
    )


def _check_boundary(
    item: Checked[Infusion], inf: Infusion, weight: Decimal, tables: TreatmentTables
) -> None:
    """protocol.md 4: per-m2 at or under the boundary, flat above it ([V23] > 45 kg)."""
    limit = tables.weight_boundary_kg
    rule = (
        f"protocol.md 4 [V23]: flat dose above {limit} kg, per-m2 at or below"
        if not tables.weight_boundary_inclusive
        else f"US label: flat dose at or above {limit} kg, per-m2 below"
    )
    if weight == limit:
        item.warn(
            "weight-at-boundary",
            "dose_unit",
            f"weight {weight} kg is exactly the boundary {limit} kg: [V23] (> 45 kg flat) "
            f"and the US label (>= 45 kg flat) differ; applied: {rule}",
        )
    flat = weight > limit or (tables.weight_boundary_inclusive and weight == limit)
    if flat and inf.dose_unit == "ug/m2/d":
        item.error(
            "dose-unit-weight-mismatch",
            "dose_unit",
            f"per-m2 dose {inf.dose} ug/m2/d for a patient of {weight} kg ({rule})",
        )
    elif not flat and inf.dose_unit == "ug/d":
        item.error(
            "dose-unit-weight-mismatch",
            "dose_unit",
            f"flat dose {inf.dose} ug/d for a patient of {weight} kg ({rule})",
        )


def infusion_id(site: SiteConfig, inf: Infusion) -> str:
    return deterministic_id(
        "MedicationAdministration",
        site.patient_identifier_system,
        inf.patient_id,
        inf.order_id,
        inf.bag_id,
    )


def _fmt(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def to_fhir_infusion(
    site: SiteConfig, tables: TreatmentTables, inf: Infusion, dosing: Dosing
) -> Resource:
    """MedicationAdministration (profile ball-blinatumomab-administration)."""
    drug = tables.blinatumomab_drugs[inf.drug]
    per_m2 = inf.dose_unit == "ug/m2/d"
    basis = tables.basis_bsa if per_m2 else tables.basis_fixed
    extensions: list[dict[str, Any]] = [
        {
            "url": EXT_NORMALIZATION_BASIS,
            "valueCodeableConcept": concept(SNOMED, basis.code, basis.display),
        },
    ]
    if per_m2:
        extensions.append({"url": EXT_PRESCRIBED_RATE, "valueQuantity": ucum(inf.dose, "ug/m2/d")})
    extensions.extend(course_extensions(inf.course, inf.course_day))
    period: dict[str, str] = {"start": inf.start}
    if inf.end:
        period["end"] = inf.end
    text = [f"{_fmt(inf.dose)} {inf.dose_unit} continuous IV infusion"]
    if per_m2:
        text.append(
            f"BSA {_fmt(dosing.bsa)} m2 ({dosing.bsa_source}) -> "
            f"{_fmt(dosing.prescribed_ug_d)} ug/d prescribed"
        )
    if dosing.delivered:
        text.append(
            f"delivered {_fmt(inf.rate_ml_h)} mL/h x 24 h x {_fmt(inf.concentration)} ug/mL = "
            f"{_fmt(dosing.rate_ug_d)} ug/d"
        )
    else:
        text.append("rate = prescribed (no pump rate and concentration)")
    if inf.original_unit != inf.dose_unit:
        text.append(f"dose unit reported as {inf.original_unit!r}")
    pump = [
        f"{label} {_fmt(v)}"
        for label, v in (
            ("pump rate mL/h", inf.rate_ml_h),
            ("bag volume mL", inf.bag_volume_ml),
            ("concentration ug/mL", inf.concentration),
        )
        if v is not None
    ]
    text.extend(pump)
    ma: Resource = {
        "resourceType": "MedicationAdministration",
        "id": infusion_id(site, inf),
        "meta": {"profile": [PROFILE_BLINATUMOMAB]},
        "extension": extensions,
        "identifier": [{"value": f"{inf.order_id}/{inf.bag_id}"}],
        "status": STATUSES[inf.source_status],
    }
    if ma["status"] == "stopped":
        ma["statusReason"] = [_status_reason(tables, inf)]
    ma.update(
        {
            "medicationCodeableConcept": {"coding": [coding(RXNORM, drug.code, drug.display)]},
            "subject": ref(patient_key(site, inf.patient_id)),
            "effectivePeriod": period,
            "dosage": {
                "text": "; ".join(text),
                "route": concept(SNOMED, tables.route_iv.code, tables.route_iv.display),
                "rateQuantity": ucum(dosing.rate_ug_d, "ug/d"),
            },
        }
    )
    return ma


def _status_reason(tables: TreatmentTables, inf: Infusion) -> dict[str, Any]:
    """statusReason: the source status and reason as text; coded only from the table."""
    text = inf.source_status + (f": {inf.status_reason}" if inf.status_reason else "")
    code = tables.termination_reasons.get(inf.reason_key or "")
    if code is None:
        return {"text": text}
    return concept(SNOMED, code.code, code.display, text)
