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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

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
    IdSpace,
    Resource,
    deterministic_id,
    ref,
    unique_id,
)
from adapter.issues import Issue
from adapter.mapping.bundle import (
    BundleBuilder,
    MapResult,
    Part,
    SharedParts,
    Target,
    patient_id,
    source_row,
)
from adapter.mapping.mrd import mrd_value
from adapter.mapping.quantities import (
    LabTest,
    ResultValue,
    convert,
    parse_result,
    quantity,
)
from adapter.mapping.rows import RowCheck, duplicate, map_rows, section_of
from adapter.sources.delimited import CellGetter, Fields, Layout, Row, vocabulary
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

#: Specimen kinds with their ball-concepts display (SNOMED specimen codes are not verified,
#: terminology.md §9) and the collection body site where one is verified (SNOMED 14016003 bone
#: marrow structure, §5.2).
SPECIMEN_KINDS: dict[str, tuple[str, str | None]] = {
    "bone-marrow": ("Bone marrow specimen", "14016003"),
    "peripheral-blood": ("Peripheral blood specimen", None),
    "csf": ("Cerebrospinal fluid specimen", None),
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


class LabResult(NamedTuple):
    """What a lab row reports, apart from whose specimen and when: the test and its value.

    Records of the hot paths are NamedTuples (as :class:`Row`): immutable, and built at a fifth
    of the cost of a frozen dataclass.
    """

    specimen: str  # the specimen kind (SPECIMEN_KINDS)
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


class LabRecord(NamedTuple):
    """A checked lab row, ready to become FHIR: whose specimen, when, and its result."""

    row: int
    patient_id: str
    specimen_id: str
    collected_at: str
    result: LabResult

    @property
    def specimen(self) -> str:
        return self.result.specimen


def map_lab(
    data: bytes,
    source_name: str,
    site: SiteConfig,
    ctx: LabContext,
    recorded: str,
    progress: Callable[[int], None] | None = None,
    part: Part | None = None,
) -> MapResult:
    """Map a lab export to one transaction Bundle; rejected rows are kept in the issues.

    ``part``: ``data`` is one part of a larger export (the streaming map,
    adapter.sources.partition): its rows keep their numbers in the file, and the Bundle and
    its Provenance are named after the file and the part."""
    section: LabSource = section_of(site, "lab")
    builder = BundleBuilder()
    parts = builder.parts
    patient_system = site.patient_identifier_system
    # by the site's patient id: the builder knows them too, but by a hashed id (one per row)
    patients: dict[str, Target] = {}
    reports: dict[str, SpecimenReport] = {}  # by the site's specimen id
    specimens: dict[str, tuple[str, str, str]] = {}
    put_so_far = builder.targets  # by id; an Observation id found here is an accepted row's

    check = LabRowChecker(site, section, ctx)
    shapes = ObservationShapes(parts)
    shape_of = shapes.by_id
    observation_id = IdSpace("Observation", site.specimen_identifier_system)

    def across(record: LabRecord, row_issues: list[Issue]) -> tuple[LabRecord, str]:
        test = record.result.test
        obs_id = observation_id(record.specimen_id, test.system, test.code)
        earlier = put_so_far.get(obs_id)
        if earlier is not None:  # name the accepted row
            row_issues.append(duplicate("same specimen and test", earlier.first_row, "test"))
        elif conflict := specimen_conflict(specimens, record):
            row_issues.append(conflict)
        return record, obs_id

    def accept(placed: tuple[LabRecord, str]) -> None:
        record, obs_id = placed
        # the row's one extension, appended to each of its four targets: each is new to the row,
        # so Target.note's check for a repeated row is skipped on this path (2 % of the mapping)
        extension = source_row(record.row)
        patient = patients.get(record.patient_id)
        if patient is None:
            patient = patients[record.patient_id] = builder.add_patient(
                patient_system, record.patient_id
            )
        patient.rows.append(extension)
        report = reports.get(record.specimen_id)
        if report is None:
            spec_id = specimen_id(site, record.specimen_id)
            report = reports[record.specimen_id] = SpecimenReport(
                builder.add(to_fhir_specimen(site, record, parts)),
                builder.add(to_fhir_diagnostic_report(site, spec_id, record, parts)),
            )
        report.specimen.rows.append(extension)
        report.target.rows.append(extension)
        result = record.result
        shape = shape_of.get(id(result)) or shapes.add(result)
        target = builder.add(
            _observation(shape, record, obs_id, patient.reference, report.specimen.reference)
        )
        target.rows.append(extension)
        report.add(result.status, target.reference)

    numbers = None if part is None else part.numbers
    done = map_rows(
        data, source_name, site, section, FIELDS, check, across, accept, progress, numbers
    )
    return done.result(builder, source_name, data, recorded, part)


#: the cells of a row's :class:`ResultTerms`: all but its identity cells and its value
TERMS_CELLS = (
    "specimen",
    "test",
    "status",
    "unit",
    "lod",
    "events_analyzed",
    "method",
    "instrument",
    "comment",
)
_IDENTITY_CELLS = ("patient_id", "specimen_id", "collected_at")
_ROW_CELLS = (*_IDENTITY_CELLS, "value")

#: the outcome of a row's result cells: its result (only when none is wrong) and their issues
Outcome = tuple[LabResult | None, tuple[Issue, ...]]


class LabRowChecker:
    """Checks lab rows against every lab rule, each row whole (every issue of the row).

    A row's result is a pure function of its :data:`TERMS_CELLS` and its value cell, and an
    export repeats the same terms (a test, its unit, status, LOD, method) on thousands of rows
    and the same collection times on every row of a specimen, while the values of a numeric
    test mostly differ from row to row.  So each distinct combination of terms is checked once
    per file (:func:`check_terms`), each distinct value once under its terms
    (:meth:`ResultTerms.outcome`), each distinct time once, and their outcomes reused
    (benchmarks/map_lab.py).  The memos are keyed by the cells as written (read through
    :meth:`Layout.getter`, with no per-row dict): cells that differ only in padding are checked
    apart, with equal outcomes.  Issues are immutable and located by column, so they are shared
    as they are; each row gets its own list.
    """

    def __init__(self, site: SiteConfig, section: LabSource, ctx: LabContext) -> None:
        self.site, self.section, self.ctx = site, section, ctx
        self._terms: dict[tuple[str, ...], ResultTerms] = {}
        self._times: dict[str, str] = {}
        # the getters of the file's layout, set by its first row (a file has one layout)
        self._layout: Layout | None = None
        self._terms_cells: CellGetter = _no_layout
        self._row_cells: CellGetter = _no_layout

    def __call__(self, row: Row) -> tuple[LabRecord | None, list[Issue]]:
        """The record of a row (only when it has no error) and the row's issues."""
        if row.layout is not self._layout:  # the first row of a file
            self._layout = row.layout
            self._terms_cells = row.layout.getter(TERMS_CELLS)
            self._row_cells = row.layout.getter(_ROW_CELLS)
        cells = row.cells
        key = self._terms_cells(cells)  # as written: equal cells, equal outcome
        terms = self._terms.get(key)
        if terms is None:
            terms = self._terms[key] = check_terms(row, self.site, self.section, self.ctx)
        patient, specimen, when, value = self._row_cells(cells)
        found = terms.outcomes.get(value)
        if found is None:
            found = terms.outcomes[value] = terms.outcome(value.strip(), self.site, self.section)
        result, result_issues = found
        patient, specimen, when = patient.strip(), specimen.strip(), when.strip()
        collected = self._times.get(when)
        if result is not None and patient and specimen and collected is not None:
            return LabRecord(row.number, patient, specimen, collected, result), list(result_issues)
        check = RowCheck(row, self.site, self.section)
        check.require(_IDENTITY_CELLS)
        check.issues += result_issues
        if collected is None and (collected := check.when("collected_at")) is not None:
            self._times[when] = collected
        if result is None or collected is None or check.failed:
            return None, check.issues
        return LabRecord(row.number, patient, specimen, collected, result), check.issues


def _no_layout(cells: Sequence[str]) -> tuple[str, ...]:
    raise AssertionError("a checker reads cells only after it has seen a row's layout")


@dataclass(slots=True)
class ResultTerms:
    """What a lab row says of its result apart from the value, checked (:func:`check_terms`):
    the specimen kind, test (None when unknown), status, unit, LOD, events analyzed, method,
    instrument and comment as the row gives them, their ``issues``, and the :data:`Outcome` of
    each value met under them so far (``outcomes``, by the value cell as written)."""

    specimen: str
    test: LabTest | None
    status: str  # the status cell after the site vocabulary (STATUSES when it is known)
    unit: str | None
    lod: Decimal | None
    events: int | None
    method: str | None
    instrument: str | None
    comment: str | None
    issues: tuple[Issue, ...]
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def outcome(self, cell: str, site: SiteConfig, section: LabSource) -> Outcome:
        """Check a value cell (stripped) under these terms: its form, and the value rules of
        :func:`measure` when neither the terms nor the value have an error."""
        issues = list(self.issues)
        raw_value = vocabulary(section, "value", cell)
        value: ResultValue | None = None
        if raw_value:
            try:
                value = parse_result(raw_value, lambda t: parse_decimal(t, site))
            except ValueProblem as exc:
                issues.append(Issue("error", "value", str(exc), rule=exc.rule, location=("value",)))
        elif self.status and self.status != "cancelled":
            message = "value is empty (only a cancelled result may have none)"
            issues.append(
                Issue("error", "required", message, rule="required-cell", location=("value",))
            )
        test = self.test
        if issues or test is None:
            return None, tuple(issues)
        measured = NOT_MEASURED
        if value is not None:
            found, value_issues = measure(value, self.unit, self.lod, test, section.mrd_unit)
            issues += value_issues
            if found is None:
                return None, tuple(issues)
            measured = found
        return LabResult(
            self.specimen,
            test,
            STATUSES[self.status],
            measured.value,
            measured.comparator,
            measured.lod,
            measured.interpretation,
            self.events,
            f"{raw_value} {measured.reported}" if measured.reported else None,
            self.method,
            self.instrument,
            self.comment,
        ), tuple(issues)


def check_terms(row: Row, site: SiteConfig, section: LabSource, ctx: LabContext) -> ResultTerms:
    """Check the :data:`TERMS_CELLS` of a row: specimen kind, test, status, LOD, events (the
    unit is checked with the value, by :func:`measure`)."""
    check = RowCheck(row, site, section)
    check.require(("specimen", "test", "status"))
    specimen = check.one_of("specimen", SPECIMEN_KINDS, "specimen-unknown")
    status = check.one_of("status", STATUSES, "status-unknown")
    test: LabTest | None = None
    local_test = check.text("test")
    if local_test:
        target = ctx.test_codes.translate(local_test)
        test = ctx.tests.get((target.system, target.code)) if target else None
        if test is None:
            check.error(
                "test-code-unknown",
                "test",
                f"test code {local_test!r} has no mapping in ConceptMap {ctx.test_codes.url}",
                "code-invalid",
            )
    lod = check.decimal("lod")
    events: int | None = None
    events_text = check.cell("events_analyzed")
    if events_text:
        if events_text.isdigit():
            events = int(events_text)
        else:
            check.error(
                "events-format", "events_analyzed", f"{events_text!r} is not a whole number"
            )
    unit_text = check.cell("unit")
    return ResultTerms(
        specimen,
        test,
        status,
        section.units.get(unit_text, unit_text) or None,
        lod,
        events,
        check.cell("method") or None,
        check.cell("instrument") or None,
        check.cell("comment") or None,
        tuple(check.issues),
    )


class Measured(NamedTuple):
    """A result in its test's unit (:data:`NOT_MEASURED`: no value, as for a cancelled result)."""

    value: Decimal | None = None
    comparator: str | None = None
    lod: Decimal | None = None  # MRD only, in percent
    interpretation: str | None = None  # MRD only (v3 ObservationInterpretation)
    #: what follows the value as written in "Reported as ...": ``(fraction)`` for an MRD
    #: fraction, else the unit written when the value was converted; ``None`` when unchanged
    reported: str | None = None


NOT_MEASURED = Measured()


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
    return Measured(value, result.comparator, None, None, unit if unit != test.unit else None), []


def specimen_id(site: SiteConfig, local_id: str) -> str:
    """The Specimen id of a local specimen (sample) id; shared by every source of specimens."""
    return deterministic_id("Specimen", site.specimen_identifier_system, local_id)


_SPECIMEN_FACTS = ("patient_id", "specimen", "collected_at")


def specimen_conflict(
    known: dict[str, tuple[str, str, str]],
    record: SpecimenRecord,
    *,
    noun: str = "specimen",
    values: bool = True,
) -> Issue | None:
    """A specimen id seen before must keep its patient, kind and collection time.

    ``known`` holds the facts of each (site) specimen id accepted so far (this call adds the
    record's when its id is new).  ``noun`` names the id in the message (cytogenetics says
    ``sample``); ``values`` adds the earlier and the new value to it.
    """
    facts = (record.patient_id, record.specimen, record.collected_at)
    earlier = known.setdefault(record.specimen_id, facts)
    if earlier == facts:
        return None
    for name, old, new in zip(_SPECIMEN_FACTS, earlier, facts, strict=True):
        if old != new:
            message = f"{noun} {record.specimen_id!r} was given another {name} on an earlier row"
            return Issue(
                "error",
                "business-rule",
                f"{message} ({old!r}, here {new!r})" if values else message,
                rule="specimen-conflict",
                location=(name,),
            )
    return None


def to_fhir_specimen(site: SiteConfig, record: SpecimenRecord, parts: SharedParts) -> Resource:
    """Specimen (profile ball-specimen); ``parts``: the Bundle's shared parts."""
    display, body_site = SPECIMEN_KINDS[record.specimen]
    collection: dict[str, Any] = {"collectedDateTime": record.collected_at}
    if body_site:
        collection["bodySite"] = parts.concept(SNOMED, body_site, "Bone marrow structure")
    return {
        "resourceType": "Specimen",
        "id": specimen_id(site, record.specimen_id),
        "meta": parts.meta(PROFILE_SPECIMEN),
        "accessionIdentifier": {
            "system": site.specimen_identifier_system,
            "value": record.specimen_id,
        },
        "type": parts.concept(BALL_CONCEPTS, record.specimen, display),
        "subject": parts.ref(patient_id(site.patient_identifier_system, record.patient_id)),
        "collection": collection,
    }


def to_fhir_observation(site: SiteConfig, record: LabRecord, obs_id: str) -> Resource:
    """Observation (profile ball-mrd-observation or ball-lab-observation), with parts of its own
    (the HL7 v2 mapper edits them)."""
    patient = patient_id(site.patient_identifier_system, record.patient_id)
    spec_id = specimen_id(site, record.specimen_id)
    shape = _observation_shape(record.result, SharedParts())
    return _observation(shape, record, obs_id, ref(patient), ref(spec_id))


def _observation(
    shape: Resource,
    record: LabRecord,
    obs_id: str,
    subject: dict[str, Any],
    specimen: dict[str, Any],
) -> Resource:
    """The Observation of a record: its result's :func:`_observation_shape` (copied: the
    shape's own parts are shared, as :class:`SharedParts`) with the record's id, subject,
    collection time and specimen."""
    obs = shape.copy()
    obs["id"] = obs_id
    obs["subject"] = subject
    obs["effectiveDateTime"] = record.collected_at
    obs["specimen"] = specimen
    return obs


def _observation_shape(result: LabResult, parts: SharedParts) -> Resource:
    """What an Observation takes from its :class:`LabResult` alone, in element order, with
    ``None`` where :func:`_observation` puts the record's id, subject, time and specimen.

    A file repeats the same result on many rows, and the checker gives them one LabResult, so
    the lab mapper builds each distinct shape once (:class:`ObservationShapes`)."""
    test = result.test
    obs: Resource = {
        "resourceType": "Observation",
        "id": None,
        "meta": parts.meta(PROFILE_MRD if test.kind == "mrd" else PROFILE_LAB),
        "status": result.status,
        "category": parts.concepts(OBSERVATION_CATEGORY, "laboratory", "Laboratory"),
        "code": parts.concept(test.system, test.code, test.display),
        "subject": None,
        "effectiveDateTime": None,
    }
    if result.value is not None:
        obs["valueQuantity"] = quantity(result.value, test.unit, result.comparator)
    else:
        obs["dataAbsentReason"] = parts.concept(DATA_ABSENT, "not-performed", "Not Performed")
    if result.interpretation:
        obs["interpretation"] = parts.concepts(V3_INTERPRETATION, result.interpretation)
    if result.comment or result.original:
        notes = [{"text": result.comment}] if result.comment else []
        if result.original:
            notes.append({"text": f"Reported as {result.original}"})
        obs["note"] = notes
    if result.method:
        obs["method"] = parts.text(result.method)
    obs["specimen"] = None
    if result.instrument:
        obs["device"] = parts.display(result.instrument)
    components: list[dict[str, Any]] = []
    if result.events_analyzed is not None:
        components.append(
            {
                "code": parts.concept(BALL_CONCEPTS, "events-analyzed", "Events analyzed"),
                "valueInteger": result.events_analyzed,
            }
        )
    if result.lod is not None:
        components.append(
            {
                "code": parts.concept(BALL_CONCEPTS, "mrd-lod", "MRD limit of detection"),
                "valueQuantity": quantity(result.lod, "%"),
            }
        )
    if components:
        obs["component"] = components
    return obs


class ObservationShapes:
    """The :func:`_observation_shape` of each distinct :class:`LabResult` of one Bundle.

    ``by_id`` is keyed by the identity of the result object (``id(result)``): the
    :class:`LabRowChecker` hands out one LabResult per distinct result cells, and hashing the
    result's twelve fields on every row would cost more than the shape saves.  :meth:`add`
    keeps each result alive with its shape, so an identity is never reused for another result
    while the Bundle is built.  On the hot path: ``by_id.get(id(result)) or add(result)``.
    """

    __slots__ = ("_parts", "_results", "by_id")

    def __init__(self, parts: SharedParts) -> None:
        self._parts = parts
        self._results: list[LabResult] = []
        self.by_id: dict[int, Resource] = {}

    def add(self, result: LabResult) -> Resource:
        self._results.append(result)
        shape = self.by_id[id(result)] = _observation_shape(result, self._parts)
        return shape


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


@dataclass(slots=True)
class SpecimenReport:
    """A Specimen and its DiagnosticReport, completed row by row: each accepted result adds its
    reference and its status (the report's status follows :func:`report_status`)."""

    specimen: Target
    target: Target  # the DiagnosticReport's
    statuses: set[str] = field(default_factory=set)

    def add(self, status: str, result: dict[str, Any]) -> None:
        """Add the Reference to one more result, with its status."""
        report = self.target.entry["resource"]
        report["result"].append(result)
        if status not in self.statuses:
            self.statuses.add(status)
            report["status"] = report_status(self.statuses)


def to_fhir_diagnostic_report(
    site: SiteConfig, spec_id: str, first: LabRecord, parts: SharedParts
) -> Resource:
    """DiagnosticReport of a specimen (profile ball-diagnostic-report) as its first result
    ``first`` opens it, with no result yet (:class:`SpecimenReport` adds them)."""
    return {
        "resourceType": "DiagnosticReport",
        "id": unique_id("DiagnosticReport", spec_id),
        "meta": parts.meta(PROFILE_DIAGNOSTIC_REPORT),
        "status": "final",
        "category": parts.concepts(V2_0074, "LAB", "Laboratory"),
        "code": parts.concept(BALL_CONCEPTS, "lab-results-report", "Laboratory results report"),
        "subject": parts.ref(patient_id(site.patient_identifier_system, first.patient_id)),
        "effectiveDateTime": first.collected_at,
        "specimen": [parts.ref(spec_id)],
        "result": [],
    }
