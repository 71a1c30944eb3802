"""Intrathecal therapy -> MedicationAdministration with the intrathecal route, one per drug given.

Canonical fields (default site reads exactly these headers): ``patient_id, given_at, drug, dose,
dose_unit, course, course_day``; one row per drug (triple therapy = three rows, protocol.md 4).
Drugs are the table's ``intrathecal_drugs`` (contract.md: methotrexate 6851, dexamethasone 3264,
cytarabine 3041 marked unverified, kept in mappings/tables/treatment.yaml with that note, which
each cytarabine administration repeats in ``note``).  Route 72607000 (contract.md, 2nd).
Doses in ``mg`` (UCUM) after the site's ``units`` table; a missing or unknown unit is an error.
Every row records a dose given, so the status is ``completed``.
Checks: duplicate drug on the same day, administration after the death date (context).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from adapter.fhir import RXNORM, SNOMED, Resource, coding, concept, deterministic_id, ref
from adapter.issues import Issue
from adapter.mapping.bundle import BundleBuilder, MapResult
from adapter.mapping.treatment.common import (
    PROFILE_INTRATHECAL,
    Checked,
    RowCheck,
    course_extensions,
    day,
    finish,
    live,
    patient_key,
    section_of,
    ucum,
)
from adapter.mapping.treatment.context import TreatmentContext, context_notice
from adapter.mapping.treatment.tables import TreatmentTables
from adapter.sources.delimited import Fields, Row, read_rows
from adapter.sources.site import IntrathecalSource, SiteConfig

FIELDS = Fields(
    kind="intrathecal",
    required=frozenset({"patient_id", "given_at", "drug", "dose", "dose_unit"}),
    optional=frozenset({"course", "course_day"}),
)
#: Dose units accepted (UCUM) and their exact factor to mg.
DOSE_UNITS = {"mg": Decimal(1), "ug": Decimal("0.001")}


@dataclass(frozen=True, slots=True)
class IntrathecalDose:
    row: int
    patient_id: str
    given_at: str
    drug: str
    dose_mg: Decimal
    course: int | None
    course_day: int | None


def check_intrathecal_row(
    row: Row, site: SiteConfig, section: IntrathecalSource, tables: TreatmentTables
) -> Checked[IntrathecalDose]:
    check = RowCheck(row, site, section)
    check.require(["patient_id", "given_at", "drug", "dose", "dose_unit"])
    given = check.when("given_at")
    drug = check.choice("drug", tables.intrathecal_drugs, "drug-unknown")
    dose = check.number("dose", positive=True)
    unit_text = row.values.get("dose_unit", "")
    unit = section.units.get(unit_text, unit_text)
    if unit_text and unit not in DOSE_UNITS:
        check.error(
            "dose-unit-unknown",
            "dose_unit",
            f"dose unit {unit_text!r} is not one of {', '.join(DOSE_UNITS)} "
            "and not in the site's units table",
        )
    course = check.whole("course")
    course_day = check.whole("course_day")
    if check.failed or given is None or drug is None or dose is None:
        return Checked(check, None)
    return Checked(
        check,
        IntrathecalDose(
            row.number,
            row.values["patient_id"],
            given,
            drug,
            dose * DOSE_UNITS[unit],
            course,
            course_day,
        ),
    )


def map_intrathecal(
    data: bytes,
    source_name: str,
    site: SiteConfig,
    recorded: str,
    tables: TreatmentTables,
    context: TreatmentContext,
) -> MapResult:
    section: IntrathecalSource = section_of(site, "intrathecal")
    issues: list[Issue] = context_notice(context, "administration after death")
    checked = [
        check_intrathecal_row(row, site, section, tables)
        for row in read_rows(data, source_name, site, section, FIELDS, issues)
    ]
    seen: dict[tuple[str, str, str], int] = {}
    for item, it in live(checked):
        key = (it.patient_id, str(day(it.given_at)), it.drug)
        if key in seen:
            item.error(
                "duplicate-record",
                "drug",
                f"{it.drug} given twice on {key[1]} (row {seen[key]})",
                "duplicate",
            )
        else:
            seen[key] = it.row
        death = context.of(patient_key(site, it.patient_id)).death
        if death is not None and day(it.given_at) > death:
            item.error(
                "after-death",
                "given_at",
                f"intrathecal {it.drug} on {it.given_at}, after the death date {death}",
            )

    def add(builder: BundleBuilder, it: IntrathecalDose) -> None:
        builder.add_patient(site.patient_identifier_system, it.patient_id, it.row)
        builder.put(to_fhir_intrathecal(site, tables, it), [it.row])

    return finish(checked, source_name, site, issues, add, data, recorded)


def to_fhir_intrathecal(site: SiteConfig, tables: TreatmentTables, it: IntrathecalDose) -> Resource:
    """MedicationAdministration (profile ball-intrathecal-administration)."""
    drug = tables.intrathecal_drugs[it.drug]
    ma: Resource = {
        "resourceType": "MedicationAdministration",
        "id": deterministic_id(
            "MedicationAdministration",
            site.patient_identifier_system,
            it.patient_id,
            "intrathecal",
            it.given_at,
            it.drug,
        ),
        "meta": {"profile": [PROFILE_INTRATHECAL]},
    }
    extensions = course_extensions(it.course, it.course_day)
    if extensions:
        ma["extension"] = extensions
    ma.update(
        {
            "status": "completed",
            "medicationCodeableConcept": {"coding": [coding(RXNORM, drug.code, drug.display)]},
            "subject": ref(patient_key(site, it.patient_id)),
            "effectiveDateTime": it.given_at,
        }
    )
    if drug.status and drug.status.startswith("UNVERIFIED"):
        ma["note"] = [{"text": f"RxNorm {drug.code} for {drug.display}: {drug.status}"}]
    ma["dosage"] = {
        "route": concept(SNOMED, tables.route_intrathecal.code, tables.route_intrathecal.display),
        "dose": ucum(it.dose_mg, "mg"),
    }
    return ma
