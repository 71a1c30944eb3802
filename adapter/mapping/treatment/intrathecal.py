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
from adapter.mapping.bundle import MapResult
from adapter.mapping.treatment.common import (
    PROFILE_INTRATHECAL,
    Checked,
    FirstRows,
    RowCheck,
    check_file,
    course_extensions,
    day,
    patient_key,
    ucum,
)
from adapter.mapping.treatment.context import TreatmentContext, context_notice
from adapter.mapping.treatment.tables import TreatmentTables
from adapter.sources.delimited import Fields, Row
from adapter.sources.site import IntrathecalSource, SiteConfig

REQUIRED = ("patient_id", "given_at", "drug", "dose", "dose_unit")
FIELDS = Fields(
    kind="intrathecal",
    required=frozenset(REQUIRED),
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
    check = RowCheck.start(row, site, section, REQUIRED)
    given = check.when("given_at")
    drug = check.choice("drug", tables.intrathecal_drugs, "drug-unknown")
    dose = check.number("dose", positive=True)
    unit = check.dose_unit(DOSE_UNITS)[1]
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
    notices = context_notice(context, "administration after death")
    batch = check_file(
        data, source_name, site, recorded, FIELDS, notices, check_intrathecal_row, tables
    )
    seen = FirstRows[tuple[str, str, str]]()
    for item, it in batch.live():
        key = (it.patient_id, str(day(it.given_at)), it.drug)
        if (first := seen.repeat(key, it.row)) is not None:
            item.duplicate("drug", f"{it.drug} given twice on {key[1]} (row {first})")
        death = context.of(patient_key(site, it.patient_id)).death
        item.after_death(death, it.given_at, "given_at", f"intrathecal {it.drug} on {it.given_at}")
    return batch.finish(lambda it: [to_fhir_intrathecal(site, tables, it)])


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
