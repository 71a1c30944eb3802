"""Body weight and height -> Observations 29463-7 / 8302-2, and a computed BSA 8277-6.

Canonical fields (default site reads exactly these headers): ``patient_id, measured_at, weight,
weight_unit, height, height_unit``; a row holds a weight, a height or both.  Units are converted
exactly (kg, g; cm, m, mm) after the site's ``units`` table; a missing unit is an error, never
assumed (contract.md "Units traps").

BSA (contract.md "body weight / height / BSA"; mCODE BodySurfaceArea 8277-6, terminology.md 1.1)
is computed with the formula the site names (``bsa_formula``, Mosteller by default) from a weight
and a height of the same patient measured at most ``bsa_max_days_apart`` days apart: for each
row, the row's own values plus the latest other measurement on or before it.  Inputs further apart
give no BSA and a warning ``bsa-inputs-too-old``.  The BSA is dated at the later input and names
the formula in ``method.text`` and its inputs in ``derivedFrom``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from adapter.fhir import LOINC, OBSERVATION_CATEGORY, Resource, concept, deterministic_id, ref
from adapter.mapping.bundle import BundleBuilder, MapResult
from adapter.mapping.treatment.common import (
    PROFILE_BSA,
    PROFILE_HEIGHT,
    PROFILE_WEIGHT,
    Checked,
    FirstRows,
    RowCheck,
    check_file,
    day,
    patient_key,
    ucum,
)
from adapter.sources.delimited import Fields, Row
from adapter.sources.site import MeasurementsSource, SiteConfig

REQUIRED = ("patient_id", "measured_at")
FIELDS = Fields(
    kind="measurements",
    required=frozenset(REQUIRED),
    optional=frozenset({"weight", "weight_unit", "height", "height_unit"}),
)

#: Exact factors to the emitted units (UCUM prefixes).
WEIGHT_UNITS = {"kg": Decimal(1), "g": Decimal("0.001")}
HEIGHT_UNITS = {"cm": Decimal(1), "m": Decimal(100), "mm": Decimal("0.1")}


def _mosteller(weight_kg: float, height_cm: float) -> float:
    """Mosteller RD. N Engl J Med 1987;317:1098: sqrt(height cm x weight kg / 3600)."""
    return math.sqrt(height_cm * weight_kg / 3600)


def _dubois(weight_kg: float, height_cm: float) -> float:
    """Du Bois D, Du Bois EF. Arch Intern Med 1916;17:863: 0.007184 x W^0.425 x H^0.725."""
    return float(0.007184 * weight_kg**0.425 * height_cm**0.725)


def _haycock(weight_kg: float, height_cm: float) -> float:
    """Haycock GB et al. J Pediatr 1978;93:62: 0.024265 x W^0.5378 x H^0.3964."""
    return float(0.024265 * weight_kg**0.5378 * height_cm**0.3964)


#: site ``bsa_formula`` -> (name shown in Observation.method.text, function kg, cm -> m2)
BSA_FORMULAS: dict[str, tuple[str, Callable[[float, float], float]]] = {
    "mosteller": ("Mosteller formula: sqrt(height[cm] x weight[kg] / 3600)", _mosteller),
    "dubois": ("Du Bois formula: 0.007184 x weight[kg]^0.425 x height[cm]^0.725", _dubois),
    "haycock": ("Haycock formula: 0.024265 x weight[kg]^0.5378 x height[cm]^0.3964", _haycock),
}


@dataclass(frozen=True, slots=True)
class Measurement:
    row: int
    patient_id: str
    measured_at: str
    weight_kg: Decimal | None
    height_cm: Decimal | None
    original: dict[str, str]  # "weight"/"height" -> value as reported when converted


@dataclass(frozen=True, slots=True)
class Bsa:
    patient_id: str
    when: str
    value: Decimal
    formula: str
    weight_obs: str
    height_obs: str
    rows: tuple[int, ...]


def _measure(
    check: RowCheck, field: str, units: dict[str, Decimal]
) -> tuple[Decimal | None, str | None]:
    value = check.number(field, positive=True)
    unit_text, unit = check.unit(f"{field}_unit")
    if value is None:
        if unit_text and not check.row.values.get(field):
            check.warn("unit-without-value", f"{field}_unit", f"{field}_unit given without {field}")
        return None, None
    if not unit:
        check.error(
            "unit-missing",
            f"{field}_unit",
            f"{field} needs a unit ({', '.join(units)})",
            "required",
        )
        return None, None
    if unit not in units:
        check.error(
            "unit-unknown",
            f"{field}_unit",
            f"{field} unit {unit_text!r} is not one of {', '.join(units)}",
        )
        return None, None
    converted = value * units[unit]
    return converted, (
        f"{check.row.values[field]} {unit_text}" if unit != next(iter(units)) else None
    )


def check_measurement_row(
    row: Row, site: SiteConfig, section: MeasurementsSource
) -> Checked[Measurement]:
    """Check one row: a patient, a date and at least one of weight and height with its unit."""
    check = RowCheck.start(row, site, section, REQUIRED)
    when = check.when("measured_at")
    weight, w_orig = _measure(check, "weight", WEIGHT_UNITS)
    height, h_orig = _measure(check, "height", HEIGHT_UNITS)
    if not row.values.get("weight") and not row.values.get("height"):
        check.error(
            "required-cell", "weight", "a measurement row needs a weight or a height", "required"
        )
    if check.failed or when is None:
        return Checked(check, None)
    original = {k: v for k, v in (("weight", w_orig), ("height", h_orig)) if v}
    return Checked(
        check,
        Measurement(row.number, row.values["patient_id"], when, weight, height, original),
    )


def map_measurements(
    data: bytes, source_name: str, site: SiteConfig, recorded: str, context: Any = None
) -> MapResult:
    """Map a measurements export; BSA is computed from weight and height close enough in time."""
    batch = check_file(data, source_name, site, recorded, FIELDS, (), check_measurement_row)
    seen = FirstRows[tuple[str, str]]()
    for item, m in batch.live():
        if (first := seen.repeat((m.patient_id, m.measured_at), m.row)) is not None:
            item.repeats("same patient and time", first, "measured_at")
    bsas = compute_bsas(site, batch.section, batch.live())

    def extra(builder: BundleBuilder) -> None:
        for bsa in bsas:
            builder.put(to_fhir_bsa(site, bsa), bsa.rows)

    return batch.finish(lambda m: to_fhir_measurements(site, m), extra)


def _obs_id(site: SiteConfig, patient_id: str, when: str, code: str) -> str:
    return deterministic_id("Observation", site.patient_identifier_system, patient_id, when, code)


def compute_bsas(
    site: SiteConfig,
    section: MeasurementsSource,
    rows: list[tuple[Checked[Measurement], Measurement]],
) -> list[Bsa]:
    """One BSA per row that completes a weight/height pair within ``bsa_max_days_apart``."""
    name, formula = BSA_FORMULAS[section.bsa_formula]
    by_patient: dict[str, list[tuple[Checked[Measurement], Measurement]]] = {}
    for item in rows:
        by_patient.setdefault(item[1].patient_id, []).append(item)
    out: list[Bsa] = []
    for patient, items in by_patient.items():
        items.sort(key=lambda cm: (day(cm[1].measured_at), cm[1].measured_at))
        last_w: Measurement | None = None
        last_h: Measurement | None = None
        for checked_row, m in items:
            if m.weight_kg is not None:
                last_w = m
            if m.height_cm is not None:
                last_h = m
            if last_w is None or last_h is None:
                continue
            if m is not last_w and m is not last_h:
                continue
            apart = abs((day(last_w.measured_at) - day(last_h.measured_at)).days)
            if apart > section.bsa_max_days_apart:
                checked_row.warn(
                    "bsa-inputs-too-old",
                    "measured_at",
                    f"no BSA: weight ({last_w.measured_at}) and height ({last_h.measured_at}) "
                    f"are {apart} days apart, more than bsa_max_days_apart "
                    f"{section.bsa_max_days_apart}",
                )
                continue
            if last_w.weight_kg is None or last_h.height_cm is None:
                continue
            raw = formula(float(last_w.weight_kg), float(last_h.height_cm))
            value = Decimal(repr(raw)).quantize(
                Decimal(1).scaleb(-section.bsa_decimals), rounding=ROUND_HALF_EVEN
            )
            when = max(last_w.measured_at, last_h.measured_at, key=lambda s: (day(s), s))
            out.append(
                Bsa(
                    patient,
                    when,
                    value,
                    name,
                    _obs_id(site, patient, last_w.measured_at, "29463-7"),
                    _obs_id(site, patient, last_h.measured_at, "8302-2"),
                    tuple(sorted({last_w.row, last_h.row})),
                )
            )
    return out


def _vital(
    site: SiteConfig, patient_id: str, when: str, code: str, display: str, profile: str
) -> Resource:
    return {
        "resourceType": "Observation",
        "id": _obs_id(site, patient_id, when, code),
        "meta": {"profile": [profile]},
        "status": "final",
        "category": [concept(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")],
        "code": concept(LOINC, code, display),
        "subject": ref(patient_key(site, patient_id)),
        "effectiveDateTime": when,
    }


def to_fhir_measurements(site: SiteConfig, m: Measurement) -> list[Resource]:
    """Body weight (29463-7, kg) and body height (8302-2, cm) Observations of one row."""
    out: list[Resource] = []
    for value, code, display, unit, profile, key in (
        (m.weight_kg, "29463-7", "Body weight", "kg", PROFILE_WEIGHT, "weight"),
        (m.height_cm, "8302-2", "Body height", "cm", PROFILE_HEIGHT, "height"),
    ):
        if value is None:
            continue
        obs = _vital(site, m.patient_id, m.measured_at, code, display, profile)
        obs["valueQuantity"] = ucum(value, unit)
        if key in m.original:
            obs["note"] = [{"text": f"Reported as {m.original[key]}"}]
        out.append(obs)
    return out


def to_fhir_bsa(site: SiteConfig, bsa: Bsa) -> Resource:
    """Body surface area (8277-6, m2), computed; the formula in method.text."""
    obs = _vital(site, bsa.patient_id, bsa.when, "8277-6", "Body surface area", PROFILE_BSA)
    obs["valueQuantity"] = ucum(bsa.value, "m2")
    obs["method"] = {"text": bsa.formula}
    obs["derivedFrom"] = [ref(bsa.weight_obs), ref(bsa.height_obs)]
    return obs
