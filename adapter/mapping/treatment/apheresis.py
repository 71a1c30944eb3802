"""CD3+ lymphocyte apheresis -> Procedure + one BiologicallyDerivedProduct per portion.

Canonical fields (default site reads exactly these headers): ``patient_id, collection_id,
collected_at, cd3_count, cd3_unit, blood_blasts, hemoglobin, hemoglobin_unit, platelets,
platelets_unit, portions, cells_per_portion, cells_unit, cd3_share``.

contract.md "CD3+ lymphocyte apheresis": Procedure ``cd3-apheresis`` (ball-concepts),
``performedDateTime``; the product split into ``portions`` portions (site ``default_portions``
when the row gives none; protocol.md 3: 4), each a BiologicallyDerivedProduct (productCategory
``cells``) identified by ``<collection_id>-<n>`` in the site's ``product_identifier_system``, with
cells per portion in ``10*6`` (extension ball-cell-count) and the CD3+ share in % (ball-cd3-share).
The pre-collection values (protocol.md 3: CD3+ count, blood blasts, hemoglobin, platelets) are
laboratory Observations (8122-4, 26446-5, 718-7, 777-3 per contract.md) on a peripheral-blood
Specimen taken at collection, ``partOf`` the Procedure, converted with the factors of
``mappings/tables/lab-tests.yaml``; a count without its unit is an error (contract.md "Units traps":
CD3+ 10^6/mL vs /uL).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from adapter.fhir import (
    BALL_CONCEPTS,
    LOINC,
    OBSERVATION_CATEGORY,
    PROFILE_LAB,
    PROFILE_SPECIMEN,
    Resource,
    concept,
    deterministic_id,
    ref,
)
from adapter.mapping.bundle import MapResult
from adapter.mapping.quantities import LabTest, convert
from adapter.mapping.treatment.common import (
    EXT_CD3_SHARE,
    EXT_CELL_COUNT,
    PROFILE_APHERESIS,
    PROFILE_CD3_PRODUCT,
    Checked,
    FirstRows,
    RowCheck,
    check_file,
    patient_key,
    ucum,
)
from adapter.mapping.treatment.context import TreatmentContext, context_notice
from adapter.sources.delimited import Fields, Row
from adapter.sources.site import ApheresisSource, SiteConfig
from adapter.sources.values import ValueProblem

REQUIRED = ("patient_id", "collection_id", "collected_at")
FIELDS = Fields(
    kind="apheresis",
    required=frozenset(REQUIRED),
    optional=frozenset(
        {
            "cd3_count",
            "cd3_unit",
            "blood_blasts",
            "hemoglobin",
            "hemoglobin_unit",
            "platelets",
            "platelets_unit",
            "portions",
            "cells_per_portion",
            "cells_unit",
            "cd3_share",
        }
    ),
)
#: value column -> (unit column or None for %, LOINC code of lab-tests.yaml)
PRE_COLLECTION = {
    "cd3_count": ("cd3_unit", "8122-4"),
    "blood_blasts": (None, "26446-5"),
    "hemoglobin": ("hemoglobin_unit", "718-7"),
    "platelets": ("platelets_unit", "777-3"),
}
CELL_UNITS = ("10*6",)


def check_cells_unit(check: RowCheck, name: str, mapped_by: str) -> None:
    """The ``cells_unit`` of a cell count ``name`` must be 10*6 (after the site's units table)."""
    text, unit = check.unit("cells_unit")
    if unit not in CELL_UNITS:
        check.error(
            "unit-unknown" if unit else "unit-missing",
            "cells_unit",
            f"{name} unit {text!r} is not 10*6 (nor mapped to it by the {mapped_by})",
        )


@dataclass(frozen=True, slots=True)
class Apheresis:
    row: int
    patient_id: str
    collection_id: str
    collected_at: str
    portions: int
    cells_per_portion: Decimal | None
    cd3_share: Decimal | None
    #: LOINC code -> (value in the emitted unit, the test)
    labs: dict[str, tuple[Decimal, LabTest]]


def check_apheresis_row(
    row: Row, site: SiteConfig, section: ApheresisSource, lab_tests: dict[tuple[str, str], LabTest]
) -> Checked[Apheresis]:
    check = RowCheck.start(row, site, section, REQUIRED)
    when = check.when("collected_at")
    labs: dict[str, tuple[Decimal, LabTest]] = {}
    for column, (unit_column, code) in PRE_COLLECTION.items():
        test = lab_tests[(LOINC, code)]
        value = check.percent(column) if unit_column is None else check.number(column)
        if value is None:
            continue
        unit = check.unit(unit_column)[1] if unit_column else section.units.get("%", "%")
        if not unit:
            check.error(
                "unit-missing",
                unit_column or column,
                f"{column} needs a unit ({', '.join(test.accepted)}): never assumed",
                "required",
            )
            continue
        try:
            labs[code] = (convert(value, unit, test), test)
        except ValueProblem as exc:
            check.error(exc.rule, unit_column or column, str(exc))
    portions = check.whole("portions") or section.default_portions
    cells = check.number("cells_per_portion", positive=True)
    if cells is not None:
        check_cells_unit(check, "cells_per_portion", "site's units table")
    share = check.percent("cd3_share")
    if check.failed or when is None:
        return Checked(check, None)
    return Checked(
        check,
        Apheresis(
            row.number,
            row.values["patient_id"],
            row.values["collection_id"],
            when,
            portions,
            cells,
            share,
            labs,
        ),
    )


def map_apheresis(
    data: bytes,
    source_name: str,
    site: SiteConfig,
    recorded: str,
    lab_tests: dict[tuple[str, str], LabTest],
    context: TreatmentContext,
) -> MapResult:
    notices = context_notice(context, "collection after death")
    batch = check_file(
        data, source_name, site, recorded, FIELDS, notices, check_apheresis_row, lab_tests
    )
    seen = FirstRows[str]()
    for item, a in batch.live():
        if (first := seen.repeat(a.collection_id, a.row)) is not None:
            item.duplicate("collection_id", f"collection {a.collection_id} already on row {first}")
        death = context.of(patient_key(site, a.patient_id)).death
        item.after_death(death, a.collected_at, "collected_at", f"apheresis on {a.collected_at}")
    return batch.finish(lambda a: to_fhir_apheresis(site, batch.section, a))


def product_id(site_system: str, collection_id: str, portion: int) -> str:
    """Deterministic id of a portion (shared with the lymphocytes mapper)."""
    return deterministic_id(
        "BiologicallyDerivedProduct", site_system, portion_identifier(collection_id, portion)
    )


def portion_identifier(collection_id: str, portion: int) -> str:
    return f"{collection_id}-{portion}"


def to_fhir_apheresis(site: SiteConfig, section: ApheresisSource, a: Apheresis) -> list[Resource]:
    """Procedure (ball-cd3-apheresis), its portions (ball-cd3-product) and pre-collection labs."""
    subject = ref(patient_key(site, a.patient_id))
    proc_id = deterministic_id(
        "Procedure", section.product_identifier_system, a.collection_id, "cd3-apheresis"
    )
    out: list[Resource] = [
        {
            "resourceType": "Procedure",
            "id": proc_id,
            "meta": {"profile": [PROFILE_APHERESIS]},
            "identifier": [{"system": section.product_identifier_system, "value": a.collection_id}],
            "status": "completed",
            "code": concept(BALL_CONCEPTS, "cd3-apheresis", "CD3+ lymphocyte apheresis"),
            "subject": subject,
            "performedDateTime": a.collected_at,
            "note": [{"text": f"Product split into {a.portions} portions"}],
        }
    ]
    for n in range(1, a.portions + 1):
        extensions: list[dict[str, Any]] = []
        if a.cells_per_portion is not None:
            extensions.append(
                {"url": EXT_CELL_COUNT, "valueQuantity": ucum(a.cells_per_portion, "10*6")}
            )
        if a.cd3_share is not None:
            extensions.append({"url": EXT_CD3_SHARE, "valueQuantity": ucum(a.cd3_share, "%")})
        bdp: Resource = {
            "resourceType": "BiologicallyDerivedProduct",
            "id": product_id(section.product_identifier_system, a.collection_id, n),
            "meta": {"profile": [PROFILE_CD3_PRODUCT]},
        }
        if extensions:
            bdp["extension"] = extensions
        bdp.update(
            {
                "identifier": [
                    {
                        "system": section.product_identifier_system,
                        "value": portion_identifier(a.collection_id, n),
                    }
                ],
                "productCategory": "cells",
                "quantity": 1,
                "collection": {"source": subject, "collectedDateTime": a.collected_at},
            }
        )
        out.append(bdp)
    if a.labs:
        spec_id = deterministic_id(
            "Specimen", section.product_identifier_system, a.collection_id, "pre-collection"
        )
        out.append(
            {
                "resourceType": "Specimen",
                "id": spec_id,
                "meta": {"profile": [PROFILE_SPECIMEN]},
                "type": concept(BALL_CONCEPTS, "peripheral-blood", "Peripheral blood specimen"),
                "subject": subject,
                "collection": {"collectedDateTime": a.collected_at},
            }
        )
        for code, (value, test) in a.labs.items():
            out.append(
                {
                    "resourceType": "Observation",
                    "id": deterministic_id("Observation", spec_id, LOINC, code),
                    "meta": {"profile": [PROFILE_LAB]},
                    "partOf": [ref(proc_id)],
                    "status": "final",
                    "category": [concept(OBSERVATION_CATEGORY, "laboratory", "Laboratory")],
                    "code": concept(LOINC, code, test.display),
                    "subject": subject,
                    "effectiveDateTime": a.collected_at,
                    "valueQuantity": ucum(value, test.unit),
                    "specimen": ref(spec_id),
                }
            )
    return out
