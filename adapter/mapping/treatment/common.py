"""Row handling shared by the treatment sources, following the pattern of ``adapter.mapping.lab``.

Each source checks a row whole (:class:`RowCheck` collects every issue of the row), then runs the
checks across rows and against the context (overlaps, gaps, impossible order), and only then
decides: a row with an error issue is rejected with its raw text kept in ``source_record``; the
other rows map.  Profiles and extensions named here are in profiles/input/fsh (SD_BallTreatment*).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, Generic, TypeVar

from adapter.fhir import Resource, deterministic_id, sd_url
from adapter.issues import Issue, IssueCode, UsageError
from adapter.mapping.bundle import BundleBuilder, MapResult
from adapter.mapping.quantities import quantity
from adapter.sources.delimited import Row, required_present
from adapter.sources.site import DelimitedSource, SiteConfig
from adapter.sources.values import ValueProblem, parse_datetime, parse_decimal

# Profiles (profiles/input/fsh/SD_BallTreatment.fsh, SD_BallCourse.fsh)
PROFILE_BLINATUMOMAB = sd_url("ball-blinatumomab-administration")
PROFILE_INTRATHECAL = sd_url("ball-intrathecal-administration")
PROFILE_APHERESIS = sd_url("ball-cd3-apheresis")
PROFILE_CD3_PRODUCT = sd_url("ball-cd3-product")
PROFILE_CD3_INFUSION = sd_url("ball-cd3-infusion")
PROFILE_HSCT = sd_url("ball-hsct")
PROFILE_FRONTLINE = sd_url("ball-frontline-therapy")
PROFILE_WEIGHT = sd_url("ball-body-weight")
PROFILE_HEIGHT = sd_url("ball-body-height")
PROFILE_BSA = sd_url("ball-body-surface-area")
PROFILE_CONDITION = sd_url("ball-b-all-condition")
PROFILE_RISK_GROUP = sd_url("ball-relapse-risk-group")
PROFILE_CAREPLAN = sd_url("ball-treatment-protocol")
PROFILE_FOLLOW_UP = sd_url("ball-follow-up")

# Extensions (profiles/input/fsh/EXT_BallTreatment.fsh)
EXT_COURSE_NUMBER = sd_url("ball-course-number")
EXT_COURSE_DAY = sd_url("ball-course-day")
EXT_PRESCRIBED_RATE = sd_url("ball-prescribed-rate-per-m2")
EXT_CELL_COUNT = sd_url("ball-cell-count")
EXT_CD3_SHARE = sd_url("ball-cd3-share")
EXT_DONOR_TYPE = sd_url("ball-hsct-donor-type")
#: R4 Procedure.usedReference cannot target BiologicallyDerivedProduct (contract.md asks for it)
EXT_USED_PRODUCT = sd_url("ball-used-product")
#: mCODE STU4 NormalizationBasis extension (terminology.md 1.2, V-HL7).
EXT_NORMALIZATION_BASIS = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-normalization-basis"
)
#: NCI Thesaurus, as aliased in mCODE (terminology.md 1.1, ALLRiskAssessment code C167435).
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"

R = TypeVar("R")
#: cells holding numbers of 10^10 or more are rejected: no quantity of these sources comes near,
#: and it keeps Decimal arithmetic within its 28-digit context (a technical limit).
MAX_EXPONENT = 9
_INTEGER = re.compile(r"-?[0-9]{1,9}")


def section_of(site: SiteConfig, kind: str) -> Any:
    """The site's section for a source kind, or a UsageError naming it."""
    section = getattr(site, kind)
    if section is None:
        raise UsageError(f"site {site.site!r} has no {kind!r} section")
    return section


@dataclass(slots=True)
class RowCheck:
    """Issues of one row (locations are column names until :func:`finish` places them)."""

    row: Row
    site: SiteConfig
    section: DelimitedSource
    issues: list[Issue] = field(default_factory=list)

    def error(self, rule: str, column: str, message: str, code: IssueCode = "value") -> None:
        self.issues.append(Issue("error", code, message, rule=rule, location=(column,)))

    def warn(self, rule: str, column: str, message: str, code: IssueCode = "business-rule") -> None:
        self.issues.append(Issue("warning", code, message, rule=rule, location=(column,)))

    @property
    def failed(self) -> bool:
        return any(i.is_error for i in self.issues)

    def text(self, name: str) -> str:
        """The cell after the site vocabulary of the field ('' when absent)."""
        value = self.row.values.get(name, "")
        table = self.section.vocabularies.get(name)
        return table.get(value, value) if table else value

    def require(self, names: Iterable[str]) -> None:
        for name in required_present(self.row, list(names)):
            self.error("required-cell", name, f"{name} is empty", "required")

    def when(self, name: str) -> str | None:
        """A date or dateTime cell as an R4 dateTime string."""
        raw = self.row.values.get(name, "")
        if not raw:
            return None
        try:
            return parse_datetime(raw, self.site)
        except ValueProblem as exc:
            self.error(exc.rule, name, str(exc))
            return None

    def number(self, name: str, *, positive: bool = False) -> Decimal | None:
        raw = self.row.values.get(name, "")
        if not raw:
            return None
        try:
            value = parse_decimal(raw, self.site)
        except ValueProblem as exc:
            self.error(exc.rule, name, str(exc))
            return None
        if value != 0 and value.adjusted() > MAX_EXPONENT:
            self.error(
                "number-too-large",
                name,
                f"{name} {raw!r} is not below 10^{MAX_EXPONENT + 1} (technical limit, not a "
                "clinical rule)",
            )
            return None
        if value < 0 or (positive and value == 0):
            self.error(
                "value-out-of-range",
                name,
                f"{name} {raw!r} must be {'greater than 0' if positive else 'at least 0'}",
            )
            return None
        return value

    def whole(self, name: str, *, minimum: int = 1) -> int | None:
        raw = self.row.values.get(name, "")
        if not raw:
            return None
        if not _INTEGER.fullmatch(raw) or int(raw) < minimum:
            self.error("integer-format", name, f"{name} {raw!r} is not a whole number >= {minimum}")
            return None
        return int(raw)

    def percent(self, name: str) -> Decimal | None:
        value = self.number(name)
        if value is not None and value > 100:
            self.error("percent-over-100", name, f"{name} {value} % is over 100 %")
            return None
        return value

    def choice(self, name: str, allowed: Iterable[str], rule: str) -> str | None:
        value = self.text(name)
        if not value:
            return None
        options = list(allowed)
        if value not in options:
            self.error(
                rule, name, f"{name} {value!r} is not one of {', '.join(options)}", "code-invalid"
            )
            return None
        return value


@dataclass(slots=True)
class Checked(Generic[R]):
    """A row after its own checks: the record when the row itself is sound."""

    check: RowCheck
    record: R | None

    @property
    def row(self) -> Row:
        return self.check.row

    def error(
        self, rule: str, column: str, message: str, code: IssueCode = "business-rule"
    ) -> None:
        self.check.error(rule, column, message, code)

    def warn(self, rule: str, column: str, message: str) -> None:
        self.check.warn(rule, column, message)


def live(rows: Iterable[Checked[R]]) -> list[tuple[Checked[R], R]]:
    """Rows whose record exists and that have no error so far."""
    return [(c, c.record) for c in rows if c.record is not None and not c.check.failed]


def locate(issue: Issue, where: str) -> Issue:
    columns = [f"{where}:column {c}" for c in issue.location] or [where]
    return replace(issue, location=tuple(columns))


def finish(
    checked: list[Checked[R]],
    source_name: str,
    site: SiteConfig,
    read_issues: list[Issue],
    add: Callable[[BundleBuilder, R], None],
    data: bytes,
    recorded: str,
    extra: Callable[[BundleBuilder], None] | None = None,
) -> MapResult:
    """Place the issues, reject rows with errors (keeping the raw text), build the Bundle."""
    issues = list(read_issues)
    builder = BundleBuilder()
    rejected = 0
    for item in checked:
        where = f"{source_name}:row {item.row.number}"
        located = [locate(i, where) for i in item.check.issues]
        if item.record is None or any(i.is_error for i in located):
            rejected += 1
            raw = item.row.raw(site.delimiter)
            issues.extend(replace(i, source_record=raw) if i.is_error else i for i in located)
            continue
        issues.extend(located)
        add(builder, item.record)
    if extra is not None:
        extra(builder)
    shape = sum(1 for i in read_issues if i.rule == "row-shape")
    return MapResult(
        builder.build(source_name, data, recorded), issues, len(checked) + shape, rejected + shape
    )


def day(when: str) -> date:
    """The calendar date of an R4 date/dateTime string (its local date as written)."""
    return date.fromisoformat(when[:10])


def patient_key(site: SiteConfig, local_id: str) -> str:
    """The deterministic Patient id of a local patient identifier (bundle.patient_id)."""
    return deterministic_id("Patient", site.patient_identifier_system, local_id)


def course_extensions(course: int | None, course_day: int | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if course is not None:
        out.append({"url": EXT_COURSE_NUMBER, "valuePositiveInt": course})
    if course_day is not None:
        out.append({"url": EXT_COURSE_DAY, "valuePositiveInt": course_day})
    return out


def ucum(value: Decimal, unit: str) -> dict[str, object]:
    """A UCUM Quantity (adapter.mapping.quantities.quantity)."""
    return quantity(value, unit)


def put_all(builder: BundleBuilder, resources: Iterable[Resource], row: int) -> None:
    for resource in resources:
        builder.put(resource, [row])
