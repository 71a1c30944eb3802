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

from collections.abc import Callable
from dataclasses import dataclass, replace
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
from adapter.issues import Issue, UsageError
from adapter.mapping.bundle import BundleBuilder, MapResult
from adapter.mapping.mrd import MrdValue, mrd_value
from adapter.mapping.quantities import (
    LabTest,
    ResultValue,
    convert,
    parse_result,
    problem,
    quantity,
)
from adapter.sources.delimited import Fields, Row, read_rows, required_present, vocabulary
from adapter.sources.site import LabSource, SiteConfig
from adapter.sources.values import ValueProblem, parse_datetime, parse_decimal
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
    section = site.lab
    if section is None:
        raise UsageError(f"site {site.site!r} has no 'lab' section")
    issues: list[Issue] = []
    builder = BundleBuilder()
    reports: dict[str, list[tuple[LabRecord, str]]] = {}
    seen: dict[str, int] = {}
    specimens: dict[str, tuple[str, str, str]] = {}
    read = rejected = 0
    for row in read_rows(data, source_name, site, section, FIELDS, issues):
        read += 1
        if progress and read % 1000 == 0:
            progress(read)
        where = f"{source_name}:row {row.number}"
        record, row_issues = check_lab_row(row, site, section, ctx)
        obs_id = _observation_id(site, record) if record else None
        if record and obs_id in seen:
            row_issues.append(
                Issue(
                    "error",
                    "duplicate",
                    f"same specimen and test as row {seen[obs_id]}",
                    rule="duplicate-record",
                    location=("test",),
                )
            )
        elif record and (
            conflict := _specimen_conflict(
                specimens, _specimen_id(site, record.specimen_id), record
            )
        ):
            row_issues.append(conflict)
        located = [_locate(i, where) for i in row_issues]
        if record is None or obs_id is None or any(i.is_error for i in located):
            rejected += 1
            issues.extend(
                replace(i, source_record=row.raw(site.delimiter)) if i.is_error else i
                for i in located
            )
            continue
        issues.extend(located)
        seen[obs_id] = row.number
        _add_record(builder, site, record, obs_id)
        reports.setdefault(_specimen_id(site, record.specimen_id), []).append((record, obs_id))
    for spec_id, results in reports.items():
        builder.put(to_fhir_diagnostic_report(site, spec_id, results), [r.row for r, _ in results])
    # keep rows of rejected records for the read count only; other rows already counted
    rejected_rows = sum(1 for i in issues if i.rule == "row-shape")
    return MapResult(
        builder.build(source_name, data, recorded),
        issues,
        read + rejected_rows,
        rejected + rejected_rows,
    )


def _locate(issue: Issue, where: str) -> Issue:
    columns = [f"{where}:column {c}" for c in issue.location] or [where]
    return replace(issue, location=tuple(columns))


def check_lab_row(
    row: Row, site: SiteConfig, section: LabSource, ctx: LabContext
) -> tuple[LabRecord | None, list[Issue]]:
    """Check one row against every lab rule; a record only when nothing is wrong."""
    issues: list[Issue] = []

    def bad(rule: str, field: str, message: str, code: Any = "value") -> None:
        issues.append(Issue("error", code, message, rule=rule, location=(field,)))

    for name in required_present(row, _NEEDED_CELLS):
        bad("required-cell", name, f"{name} is empty", "required")
    specimen = vocabulary(section, "specimen", row.values.get("specimen", ""))
    if specimen and specimen not in SPECIMEN_KINDS:
        bad(
            "specimen-unknown",
            "specimen",
            f"specimen {specimen!r} is not one of {', '.join(SPECIMEN_KINDS)}",
            "code-invalid",
        )
    status = vocabulary(section, "status", row.values.get("status", ""))
    if status and status not in STATUSES:
        bad(
            "status-unknown",
            "status",
            f"status {status!r} is not one of {', '.join(STATUSES)}",
            "code-invalid",
        )
    test: LabTest | None = None
    local_test = vocabulary(section, "test", row.values.get("test", ""))
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
    collected = ""
    if row.values.get("collected_at"):
        try:
            collected = parse_datetime(row.values["collected_at"], site)
        except ValueProblem as exc:
            bad(exc.rule, "collected_at", str(exc))

    def number(field: str) -> Decimal | None:
        text = row.values.get(field, "")
        if not text:
            return None
        try:
            return parse_decimal(text, site)
        except ValueProblem as exc:
            issues.append(replace(problem(exc), location=(field,)))
            return None

    lod = number("lod")
    events: int | None = None
    if row.values.get("events_analyzed"):
        events_text = row.values["events_analyzed"]
        if events_text.isdigit():
            events = int(events_text)
        else:
            bad("events-format", "events_analyzed", f"{events_text!r} is not a whole number")
    raw_value = vocabulary(section, "value", row.values.get("value", ""))
    result: ResultValue | None = None
    if raw_value:
        try:
            result = parse_result(raw_value, lambda t: parse_decimal(t, site))
        except ValueProblem as exc:
            issues.append(replace(problem(exc), location=("value",)))
    elif status and status != "cancelled":
        bad(
            "required-cell",
            "value",
            "value is empty (only a cancelled result may have none)",
            "required",
        )
    unit_text = row.values.get("unit", "")
    unit = section.units.get(unit_text, unit_text) or None
    if issues or test is None:
        return None, issues
    value: Decimal | None = None
    comparator: str | None = None
    interpretation: str | None = None
    lod_out: Decimal | None = None
    original: str | None = None
    if result is not None and test.kind == "mrd":
        mrd, mrd_issues = mrd_value(result, unit, lod, test, section.mrd_unit)
        issues.extend(mrd_issues)
        if mrd is None:
            return None, issues
        value, comparator, lod_out, interpretation = _unpack(mrd)
        if unit == "fraction":
            original = f"{raw_value} (fraction)"
    elif result is not None:
        if result.number is None:
            bad(
                "value-negative-word",
                "value",
                f"'negative' is only a result of MRD, not {test.display}",
            )
            return None, issues
        if unit is None:
            bad(
                "unit-missing",
                "unit",
                f"{test.display} needs a unit ({', '.join(test.accepted)})",
                "required",
            )
            return None, issues
        try:
            value = convert(result.number, unit, test)
        except ValueProblem as exc:
            issues.append(replace(problem(exc), location=("unit",)))
            return None, issues
        comparator = result.comparator
        if unit != test.unit:
            original = f"{raw_value} {unit}"
    return LabRecord(
        row=row.number,
        patient_id=row.values["patient_id"],
        specimen_id=row.values["specimen_id"],
        collected_at=collected,
        specimen=specimen,
        test=test,
        status=STATUSES[status],
        value=value,
        comparator=comparator,
        lod=lod_out,
        interpretation=interpretation,
        events_analyzed=events,
        original=original,
        method=row.values.get("method") or None,
        instrument=row.values.get("instrument") or None,
        comment=row.values.get("comment") or None,
    ), issues


def _unpack(mrd: MrdValue) -> tuple[Decimal, str | None, Decimal | None, str | None]:
    return mrd.percent, mrd.comparator, mrd.lod_percent, mrd.interpretation


def _specimen_id(site: SiteConfig, specimen_id: str) -> str:
    return deterministic_id("Specimen", site.specimen_identifier_system, specimen_id)


def _observation_id(site: SiteConfig, record: LabRecord) -> str:
    return deterministic_id(
        "Observation",
        site.specimen_identifier_system,
        record.specimen_id,
        record.test.system,
        record.test.code,
    )


_SPECIMEN_FACTS = ("patient_id", "specimen", "collected_at")


def _specimen_conflict(
    known: dict[str, tuple[str, str, str]], spec_id: str, record: LabRecord
) -> Issue | None:
    """A specimen id seen before must keep its patient, kind and collection time."""
    facts = (record.patient_id, record.specimen, record.collected_at)
    earlier = known.setdefault(spec_id, facts)
    for field, old, new in zip(_SPECIMEN_FACTS, earlier, facts, strict=True):
        if old != new:
            return Issue(
                "error",
                "business-rule",
                f"specimen {record.specimen_id!r} was given another {field} on an earlier row "
                f"({old!r}, here {new!r})",
                rule="specimen-conflict",
                location=(field,),
            )
    return None


def _add_record(builder: BundleBuilder, site: SiteConfig, record: LabRecord, obs_id: str) -> None:
    builder.add_patient(site.patient_identifier_system, record.patient_id, record.row)
    spec_id = _specimen_id(site, record.specimen_id)
    if spec_id in builder:
        builder.note_row(spec_id, record.row)
    else:
        builder.put(to_fhir_specimen(site, record), [record.row])
    builder.put(to_fhir_observation(site, record, obs_id), [record.row])


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
        "id": _specimen_id(site, record.specimen_id),
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
    test = record.test
    obs: Resource = {
        "resourceType": "Observation",
        "id": obs_id,
        "meta": {"profile": [PROFILE_MRD if test.kind == "mrd" else PROFILE_LAB]},
        "status": record.status,
        "category": [concept(OBSERVATION_CATEGORY, "laboratory", "Laboratory")],
        "code": concept(test.system, test.code, test.display),
        "subject": _patient_ref(site, record),
        "effectiveDateTime": record.collected_at,
    }
    if record.value is not None:
        obs["valueQuantity"] = quantity(record.value, test.unit, record.comparator)
    else:
        obs["dataAbsentReason"] = concept(DATA_ABSENT, "not-performed", "Not Performed")
    if record.interpretation:
        obs["interpretation"] = [concept(V3_INTERPRETATION, record.interpretation)]
    notes = [
        n
        for n in (record.comment, f"Reported as {record.original}" if record.original else None)
        if n
    ]
    if notes:
        obs["note"] = [{"text": n} for n in notes]
    if record.method:
        obs["method"] = {"text": record.method}
    obs["specimen"] = ref(_specimen_id(site, record.specimen_id))
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


def _report_status(records: list[LabRecord]) -> str:
    """DiagnosticReport.status from its results (https://hl7.org/fhir/R4/valueset-diagnostic-report-status.html)."""
    statuses = {r.status for r in records}
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
    records = [r for r, _ in results]
    first = records[0]
    return {
        "resourceType": "DiagnosticReport",
        "id": deterministic_id("DiagnosticReport", spec_id),
        "meta": {"profile": [PROFILE_DIAGNOSTIC_REPORT]},
        "status": _report_status(records),
        "category": [{"coding": [coding(V2_0074, "LAB", "Laboratory")]}],
        "code": concept(BALL_CONCEPTS, "lab-results-report", "Laboratory results for one specimen"),
        "subject": _patient_ref(site, first),
        "effectiveDateTime": first.collected_at,
        "specimen": [ref(spec_id)],
        "result": [ref(obs_id) for _, obs_id in results],
    }
