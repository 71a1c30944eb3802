"""Lab results from delimited exports -> Patient, Specimen, Observation, DiagnosticReport.

Canonical fields of the ``lab`` source (the ``default`` site reads exactly these headers):
``patient_id, specimen_id, collected_at, specimen, test, value, unit, events_analyzed, lod,
status, method, instrument, comment``.  Test codes reach contract.md codes through the site's
ConceptMap; units and conversion factors come from ``mappings/tables/lab-tests.yaml``; MRD values
follow :mod:`adapter.mapping.mrd`.  Each record is checked whole: every problem of a rejected
record is reported (file, row, column, rule) and the other records still map.

Profiles: ball-patient, ball-specimen, ball-mrd-observation, ball-lab-observation,
ball-diagnostic-report, ball-provenance (profiles/input/fsh).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from adapter.fhir import (
    BALL_CONCEPTS,
    OBSERVATION_CATEGORY,
    PROFILE_DIAGNOSTIC_REPORT,
    PROFILE_LAB,
    PROFILE_MRD,
    PROFILE_SPECIMEN,
    SNOMED,
    V2_0074,
    V3_INTERPRETATION,
    Resource,
    coding,
    concept,
    deterministic_id,
    ref,
)
from adapter.issues import Issue
from adapter.mapping.bundle import BundleBuilder, MapResult
from adapter.mapping.mrd import mrd_value
from adapter.mapping.quantities import (
    LabTest,
    ResultValue,
    convert,
    parse_result,
    quantity,
)
from adapter.mapping.rows import RowCheck, duplicate, map_rows, section_of
from adapter.sources.delimited import Fields, Row
from adapter.sources.site import LabSource, SiteConfig
from adapter.sources.values import ValueProblem, parse_decimal
from adapter.terminology import ConceptMapIndex

FIELDS = Fields(
    kind="lab",
    required=frozenset(
        {"patient_id", "specimen_id", "collected_at", "specimen", "test", "value", "status"}
    ),
    optional=frozenset({"unit", "events_analyzed", "lod", "method", "instrument", "comment"}),
)
_NEEDED_CELLS = ("patient_id", "specimen_id", "collected_at", "specimen", "test", "status")

#: Specimen kinds (ball-concepts; SNOMED specimen codes are not verified, terminology.md §9) and
#: the collection body site where one is verified (SNOMED 14016003 bone marrow structure, §5.2).
SPECIMEN_KINDS: dict[str, tuple[str, str | None]] = {
    "bone-marrow": ("Bone marrow", "14016003"),
    "peripheral-blood": ("Peripheral blood", None),
    "csf": ("Cerebrospinal fluid", None),
}
#: Row status -> Observation.status (https://hl7.org/fhir/R4/valueset-observation-status.html).
STATUSES = {
    "final": "final",
    "preliminary": "preliminary",
    "corrected": "corrected",
    "cancelled": "cancelled",
}
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


@dataclass(frozen=True, slots=True)
class LabContext:
    """The tables a lab mapping needs, loaded by the edge."""

    tests: dict[tuple[str, str], LabTest]
    test_codes: ConceptMapIndex


class SpecimenRecord(Protocol):
    """What a Specimen is built from: a lab record or another source's (cytogenetics) record."""

    @property
    def patient_id(self) -> str: ...
    @property
    def specimen_id(self) -> str: ...
    @property
    def collected_at(self) -> str: ...
    @property
    def specimen(self) -> str: ...


@dataclass(frozen=True, slots=True)
class LabRecord:
    """A checked lab row, ready to become FHIR."""

    row: int
    patient_id: str
    specimen_id: str
    collected_at: str
    specimen: str
    test: LabTest
    status: str
    value: Decimal | None
    comparator: str | None
    lod: Decimal | None
    interpretation: str | None
    events_analyzed: int | None
    original: str | None  # the value as reported, when it was converted
    method: str | None
    instrument: str | None
    comment: str | None


def map_lab(
    data: bytes,
    source_name: str,
    site: SiteConfig,
    ctx: LabContext,
    recorded: str,
    progress: Callable[[int], None] | None = None,
) -> MapResult:
    """Map a lab export to one transaction Bundle; rejected rows are kept in the issues."""
    section: LabSource = section_of(site, "lab")
    builder = BundleBuilder()
    reports: dict[str, list[tuple[LabRecord, str]]] = {}
    seen: dict[str, int] = {}
    specimens: dict[str, tuple[str, str, str]] = {}

    def check(row: Row) -> tuple[LabRecord | None, list[Issue]]:
        return check_lab_row(row, site, section, ctx)

    #: row -> (Observation id, Specimen id), computed once per row
    ids: dict[int, tuple[str, str]] = {}

    def across(record: LabRecord, row_issues: list[Issue]) -> None:
        spec_id = specimen_id(site, record.specimen_id)
        obs_id = _observation_id(site, record)
        ids[record.row] = (obs_id, spec_id)
        if obs_id in seen:
            row_issues.append(duplicate("same specimen and test", seen[obs_id], "test"))
        elif conflict := specimen_conflict(specimens, spec_id, record):
            row_issues.append(conflict)

    def accept(record: LabRecord) -> None:
        obs_id, spec_id = ids.pop(record.row)
        seen[obs_id] = record.row
        _add_record(builder, site, record, obs_id, spec_id)
        results = reports.get(spec_id)
        if results is None:
            results = reports[spec_id] = []
        results.append((record, obs_id))

    done = map_rows(data, source_name, site, section, FIELDS, check, across, accept, progress)
    for spec_id, results in reports.items():
        builder.put(to_fhir_diagnostic_report(site, spec_id, results), [r.row for r, _ in results])
    return done.result(builder, source_name, data, recorded)


def check_lab_row(
    row: Row, site: SiteConfig, section: LabSource, ctx: LabContext
) -> tuple[LabRecord | None, list[Issue]]:
    """Check one row against every lab rule; a record only when nothing is wrong."""
    check = RowCheck.start(row, site, section, _NEEDED_CELLS)
    issues, bad = check.issues, check.error  # bad(rule, column, message, code="value")
    specimen = check.one_of("specimen", SPECIMEN_KINDS, "specimen-unknown")
    status = check.one_of("status", STATUSES, "status-unknown")
    test: LabTest | None = None
    local_test = check.text("test")
    if local_test:
        target = ctx.test_codes.translate(local_test)
        test = ctx.tests.get((target.system, target.code)) if target else None
        if test is None:
            bad(
                "test-code-unknown",
                "test",
                f"test code {local_test!r} has no mapping in ConceptMap {ctx.test_codes.url}",
                "code-invalid",
            )
    collected = check.when("collected_at") or ""
    lod = check.decimal("lod")
    values = row.values
    events: int | None = None
    events_text = values.get("events_analyzed")
    if events_text:
        if events_text.isdigit():
            events = int(events_text)
        else:
            bad("events-format", "events_analyzed", f"{events_text!r} is not a whole number")
    raw_value = check.text("value")
    result: ResultValue | None = None
    if raw_value:
        try:
            result = parse_result(raw_value, lambda t: parse_decimal(t, site))
        except ValueProblem as exc:
            bad(exc.rule, "value", str(exc))
    elif status and status != "cancelled":
        bad(
            "required-cell",
            "value",
            "value is empty (only a cancelled result may have none)",
            "required",
        )
    unit_text = values.get("unit", "")
    unit = section.units.get(unit_text, unit_text) or None
    if issues or test is None:
        return None, issues
    measured = Measured()
    if result is not None:
        found, value_issues = measure(result, unit, lod, test, section.mrd_unit)
        issues.extend(value_issues)
        if found is None:
            return None, issues
        measured = found
    return LabRecord(
        row=row.number,
        patient_id=values["patient_id"],
        specimen_id=values["specimen_id"],
        collected_at=collected,
        specimen=specimen,
        test=test,
        status=STATUSES[status],
        value=measured.value,
        comparator=measured.comparator,
        lod=measured.lod,
        interpretation=measured.interpretation,
        events_analyzed=events,
        original=f"{raw_value} {measured.reported}" if measured.reported else None,
        method=values.get("method") or None,
        instrument=values.get("instrument") or None,
        comment=values.get("comment") or None,
    ), issues


@dataclass(frozen=True, slots=True)
class Measured:
    """A result in its test's unit (all ``None``: no value, as for a cancelled result)."""

    value: Decimal | None = None
    comparator: str | None = None
    lod: Decimal | None = None  # MRD only, in percent
    interpretation: str | None = None  # MRD only (v3 ObservationInterpretation)
    #: what follows the value as written in "Reported as ...": ``(fraction)`` for an MRD
    #: fraction, else the unit written when the value was converted; ``None`` when unchanged
    reported: str | None = None


def measure(
    result: ResultValue, unit: str | None, lod: Decimal | None, test: LabTest, mrd_unit: str | None
) -> tuple[Measured | None, list[Issue]]:
    """The value rules of a lab result, shared by the CSV and HL7 v2 sources.

    MRD follows :func:`adapter.mapping.mrd.mrd_value`; any other test needs a number (not the
    word 'negative') and a unit, converted to the test's unit (:func:`convert`).  The issues are
    located by field name (``value``, ``unit``, ``lod``); no ``Measured`` when one is an error.
    """
    if test.kind == "mrd":
        mrd, issues = mrd_value(result, unit, lod, test, mrd_unit)
        if mrd is None:
            return None, issues
        reported = "(fraction)" if unit == "fraction" else None
        return Measured(
            mrd.percent, mrd.comparator, mrd.lod_percent, mrd.interpretation, reported
        ), issues
    if result.number is None:
        message = f"'negative' is only a result of MRD, not {test.display}"
        return None, [
            Issue("error", "value", message, rule="value-negative-word", location=("value",))
        ]
    if unit is None:
        message = f"{test.display} needs a unit ({', '.join(test.accepted)})"
        return None, [Issue("error", "required", message, rule="unit-missing", location=("unit",))]
    try:
        value = convert(result.number, unit, test)
    except ValueProblem as exc:
        return None, [Issue("error", "value", str(exc), rule=exc.rule, location=("unit",))]
    return Measured(value, result.comparator, reported=unit if unit != test.unit else None), []


def specimen_id(site: SiteConfig, local_id: str) -> str:
    """The Specimen id of a local specimen (sample) id; shared by every source of specimens."""
    return deterministic_id("Specimen", site.specimen_identifier_system, local_id)


def _observation_id(site: SiteConfig, record: LabRecord) -> str:
    return deterministic_id(
        "Observation",
        site.specimen_identifier_system,
        record.specimen_id,
        record.test.system,
        record.test.code,
    )


_SPECIMEN_FACTS = ("patient_id", "specimen", "collected_at")


def specimen_conflict(
    known: dict[str, tuple[str, str, str]],
    spec_id: str,
    record: SpecimenRecord,
    *,
    noun: str = "specimen",
    values: bool = True,
) -> Issue | None:
    """A specimen id seen before must keep its patient, kind and collection time.

    ``known`` holds the facts of each specimen id accepted so far (this call adds the record's
    when its id is new).  ``noun`` names the id in the message (cytogenetics says ``sample``);
    ``values`` adds the earlier and the new value to it.
    """
    facts = (record.patient_id, record.specimen, record.collected_at)
    earlier = known.setdefault(spec_id, facts)
    if earlier == facts:
        return None
    for field, old, new in zip(_SPECIMEN_FACTS, earlier, facts, strict=True):
        if old != new:
            message = f"{noun} {record.specimen_id!r} was given another {field} on an earlier row"
            return Issue(
                "error",
                "business-rule",
                f"{message} ({old!r}, here {new!r})" if values else message,
                rule="specimen-conflict",
                location=(field,),
            )
    return None


def _add_record(
    builder: BundleBuilder, site: SiteConfig, record: LabRecord, obs_id: str, spec_id: str
) -> None:
    row = record.row
    patient = builder.add_patient(site.patient_identifier_system, record.patient_id, row)
    if spec_id in builder.entries:
        builder.note_row(spec_id, row)
    else:
        builder.put(to_fhir_specimen(site, record), (row,))
    builder.put(_observation(record, obs_id, spec_id, patient), (row,))


def _patient_ref(site: SiteConfig, record: SpecimenRecord) -> dict[str, Any]:
    return ref(deterministic_id("Patient", site.patient_identifier_system, record.patient_id))


def to_fhir_specimen(site: SiteConfig, record: SpecimenRecord) -> Resource:
    """Specimen (profile ball-specimen)."""
    display, body_site = SPECIMEN_KINDS[record.specimen]
    collection: dict[str, Any] = {"collectedDateTime": record.collected_at}
    if body_site:
        collection["bodySite"] = concept(SNOMED, body_site, "Bone marrow structure")
    return {
        "resourceType": "Specimen",
        "id": specimen_id(site, record.specimen_id),
        "meta": {"profile": [PROFILE_SPECIMEN]},
        "accessionIdentifier": {
            "system": site.specimen_identifier_system,
            "value": record.specimen_id,
        },
        "type": concept(BALL_CONCEPTS, record.specimen, display),
        "subject": _patient_ref(site, record),
        "collection": collection,
    }


def to_fhir_observation(site: SiteConfig, record: LabRecord, obs_id: str) -> Resource:
    """Observation (profile ball-mrd-observation or ball-lab-observation)."""
    patient = deterministic_id("Patient", site.patient_identifier_system, record.patient_id)
    return _observation(record, obs_id, specimen_id(site, record.specimen_id), patient)


def _observation(record: LabRecord, obs_id: str, spec_id: str, patient_id: str) -> Resource:
    """:func:`to_fhir_observation` with the Specimen and Patient ids already known.

    The category and the references are written out as the literals :func:`concept` and
    :func:`ref` would return (fewer calls per row); each Observation still gets its own dicts.
    """
    test = record.test
    obs: Resource = {
        "resourceType": "Observation",
        "id": obs_id,
        "meta": {"profile": [PROFILE_MRD if test.kind == "mrd" else PROFILE_LAB]},
        "status": record.status,
        "category": [
            {
                "coding": [
                    {"system": OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory"}
                ]
            }
        ],
        "code": concept(test.system, test.code, test.display),
        "subject": {"reference": f"urn:uuid:{patient_id}"},
        "effectiveDateTime": record.collected_at,
    }
    if record.value is not None:
        obs["valueQuantity"] = quantity(record.value, test.unit, record.comparator)
    else:
        obs["dataAbsentReason"] = concept(DATA_ABSENT, "not-performed", "Not Performed")
    if record.interpretation:
        obs["interpretation"] = [concept(V3_INTERPRETATION, record.interpretation)]
    if record.comment or record.original:
        notes = [{"text": record.comment}] if record.comment else []
        if record.original:
            notes.append({"text": f"Reported as {record.original}"})
        obs["note"] = notes
    if record.method:
        obs["method"] = {"text": record.method}
    obs["specimen"] = {"reference": f"urn:uuid:{spec_id}"}
    if record.instrument:
        obs["device"] = {"display": record.instrument}
    components: list[dict[str, Any]] = []
    if record.events_analyzed is not None:
        components.append(
            {
                "code": concept(BALL_CONCEPTS, "events-analyzed", "Events analyzed"),
                "valueInteger": record.events_analyzed,
            }
        )
    if record.lod is not None:
        components.append(
            {
                "code": concept(BALL_CONCEPTS, "mrd-lod", "MRD limit of detection"),
                "valueQuantity": quantity(record.lod, "%"),
            }
        )
    if components:
        obs["component"] = components
    return obs


def report_status(results: Iterable[str]) -> str:
    """DiagnosticReport.status from its results' statuses (https://hl7.org/fhir/R4/valueset-diagnostic-report-status.html)."""
    statuses = set(results)
    if statuses == {"cancelled"}:
        return "cancelled"
    if "preliminary" in statuses:
        return "partial"
    if "corrected" in statuses:
        return "corrected"
    return "final"


def to_fhir_diagnostic_report(
    site: SiteConfig, spec_id: str, results: list[tuple[LabRecord, str]]
) -> Resource:
    """DiagnosticReport per specimen (profile ball-diagnostic-report) from (record, id) results."""
    first = results[0][0]
    return {
        "resourceType": "DiagnosticReport",
        "id": deterministic_id("DiagnosticReport", spec_id),
        "meta": {"profile": [PROFILE_DIAGNOSTIC_REPORT]},
        "status": report_status({r.status for r, _ in results}),
        "category": [{"coding": [coding(V2_0074, "LAB", "Laboratory")]}],
        "code": concept(BALL_CONCEPTS, "lab-results-report", "Laboratory results for one specimen"),
        "subject": _patient_ref(site, first),
        "effectiveDateTime": first.collected_at,
        "specimen": [ref(spec_id)],
        "result": [{"reference": f"urn:uuid:{obs_id}"} for _, obs_id in results],
    }
