"""Autologous CD3+ lymphocyte infusions -> Procedure ``cd3-autologous-infusion``.

Canonical fields (default site reads exactly these headers): ``patient_id, infused_at,
collection_id, portion, cells, cells_unit, course, course_day``.

contract.md "autologous CD3+ infusion": Procedure (ball-concepts ``cd3-autologous-infusion``),
``performedDateTime``, ``usedReference`` -> the BiologicallyDerivedProduct of the portion (the
deterministic id the apheresis mapper gives ``<collection_id>-<portion>``; a literal
``BiologicallyDerivedProduct/<id>`` reference, since the product is PUT by the apheresis Bundle),
course number and day (ball-course-number / ball-course-day), cells infused in ``10*6``
(ball-cell-count).  Checks: a portion used twice; an infusion after the death date; with a
context, a portion that no apheresis Bundle produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from adapter.fhir import BALL_CONCEPTS, Resource, concept, deterministic_id, ref
from adapter.mapping.bundle import MapResult
from adapter.mapping.treatment.apheresis import check_cells_unit, portion_identifier, product_id
from adapter.mapping.treatment.common import (
    EXT_CELL_COUNT,
    EXT_USED_PRODUCT,
    PROFILE_CD3_INFUSION,
    Checked,
    FirstRows,
    RowCheck,
    check_file,
    course_extensions,
    patient_key,
    ucum,
)
from adapter.mapping.treatment.context import TreatmentContext, context_notice
from adapter.sources.delimited import Fields, Row
from adapter.sources.site import LymphocytesSource, SiteConfig

REQUIRED = ("patient_id", "infused_at", "collection_id", "portion")
FIELDS = Fields(
    kind="lymphocytes",
    required=frozenset(REQUIRED),
    optional=frozenset({"cells", "cells_unit", "course", "course_day"}),
)


@dataclass(frozen=True, slots=True)
class LymphocyteInfusion:
    row: int
    patient_id: str
    infused_at: str
    collection_id: str
    portion: int
    cells: Decimal | None
    course: int | None
    course_day: int | None


def check_lymphocyte_row(
    row: Row, site: SiteConfig, section: LymphocytesSource
) -> Checked[LymphocyteInfusion]:
    check = RowCheck.start(row, site, section, REQUIRED)
    when = check.when("infused_at")
    portion = check.whole("portion")
    cells = check.number("cells", positive=True)
    if cells is not None:
        check_cells_unit(check, "cells", "site")
    course = check.whole("course")
    course_day = check.whole("course_day")
    if check.failed or when is None or portion is None:
        return Checked(check, None)
    return Checked(
        check,
        LymphocyteInfusion(
            row.number,
            row.values["patient_id"],
            when,
            row.values["collection_id"],
            portion,
            cells,
            course,
            course_day,
        ),
    )


def map_lymphocytes(
    data: bytes,
    source_name: str,
    site: SiteConfig,
    recorded: str,
    context: TreatmentContext,
) -> MapResult:
    notices = context_notice(context, "infusion after death, portion produced by an apheresis")
    batch = check_file(data, source_name, site, recorded, FIELDS, notices, check_lymphocyte_row)
    section = batch.section
    used = FirstRows[str]()
    for item, li in batch.live():
        ident = portion_identifier(li.collection_id, li.portion)
        if (first := used.repeat(ident, li.row)) is not None:
            item.duplicate(
                "portion",
                f"portion {ident} was already infused on row {first}",
                "portion-used-twice",
            )
        facts = context.of(patient_key(site, li.patient_id))
        item.after_death(facts.death, li.infused_at, "infused_at", f"infusion on {li.infused_at}")
        if context.given and (section.product_identifier_system, ident) not in facts.products:
            item.error(
                "product-unknown",
                "portion",
                f"no apheresis product {ident} of this patient in the context",
                "not-found",
            )
    return batch.finish(lambda li: [to_fhir_lymphocyte_infusion(site, section, li)])


def to_fhir_lymphocyte_infusion(
    site: SiteConfig, section: LymphocytesSource, li: LymphocyteInfusion
) -> Resource:
    """Procedure (profile ball-cd3-infusion).

    R4 ``Procedure.usedReference`` may only target Device, Medication or Substance, so the portion
    is a logical reference (its identifier) there and the literal reference to the
    BiologicallyDerivedProduct is in extension ball-used-product.
    """
    ident = portion_identifier(li.collection_id, li.portion)
    bdp = product_id(section.product_identifier_system, li.collection_id, li.portion)
    extensions = [
        {
            "url": EXT_USED_PRODUCT,
            "valueReference": {"reference": f"BiologicallyDerivedProduct/{bdp}"},
        },
        *course_extensions(li.course, li.course_day),
    ]
    if li.cells is not None:
        extensions.append({"url": EXT_CELL_COUNT, "valueQuantity": ucum(li.cells, "10*6")})
    return {
        "resourceType": "Procedure",
        "id": deterministic_id(
            "Procedure", section.product_identifier_system, ident, "cd3-autologous-infusion"
        ),
        "meta": {"profile": [PROFILE_CD3_INFUSION]},
        "extension": extensions,
        "status": "completed",
        "code": concept(
            BALL_CONCEPTS, "cd3-autologous-infusion", "Autologous CD3+ lymphocyte infusion"
        ),
        "subject": ref(patient_key(site, li.patient_id)),
        "performedDateTime": li.infused_at,
        "usedReference": [
            {
                "identifier": {"system": section.product_identifier_system, "value": ident},
                "display": f"CD3+ portion {ident}",
            }
        ],
    }
