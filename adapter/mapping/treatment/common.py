"""Row handling shared by the treatment sources, built on :mod:`adapter.mapping.rows`.

Each source checks a row whole (:class:`RowCheck` collects every issue of the row;
:func:`check_file` runs it over the file), then runs the checks across rows and against the
context (overlaps, gaps, impossible order: :class:`FirstRows`, :meth:`Checked.after_death`), and
only then decides (:meth:`Batch.finish`, through :func:`adapter.mapping.rows.decide`): a row with
an error issue is rejected with its raw text kept in ``source_record``; the other rows map.
Unlike lab and cytogenetics (:func:`adapter.mapping.rows.map_rows`), every row is checked before
the cross-row checks.  Profiles and extensions named here are in profiles/input/fsh
(SD_BallTreatment*).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar

from adapter.fhir import Resource, deterministic_id, sd_url
from adapter.issues import Issue, IssueCode
from adapter.mapping.bundle import BundleBuilder, MapResult
from adapter.mapping.quantities import quantity
from adapter.mapping.rows import RowCheck as CellCheck
from adapter.mapping.rows import decide, duplicate, section_of
from adapter.sources.delimited import Fields, Row, read_rows
from adapter.sources.site import DelimitedSource, SiteConfig

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


class Record(Protocol):
    """What the shared scaffolding reads of a checked record: its row and its patient."""

    @property
    def row(self) -> int: ...

    @property
    def patient_id(self) -> str: ...


R = TypeVar("R", bound=Record)
K = TypeVar("K", bound=Hashable)
S = TypeVar("S", bound=DelimitedSource)
P = ParamSpec("P")
#: cells holding numbers of 10^10 or more are rejected: no quantity of these sources comes near,
#: and it keeps Decimal arithmetic within its 28-digit context (a technical limit).
MAX_EXPONENT = 9
_INTEGER = re.compile(r"-?[0-9]{1,9}")


class RowCheck(CellCheck):
    """:class:`adapter.mapping.rows.RowCheck` with the cell readers of the treatment sources."""

    __slots__ = ()

    def unit(self, name: str) -> tuple[str, str]:
        """A unit cell as written and after the site's ``units`` table ('' when absent)."""
        text = self.cell(name)
        units: dict[str, str] = getattr(self.section, "units", {})
        return text, units.get(text, text)

    def dose_unit(
        self, allowed: Iterable[str], traps: dict[str, str] | None = None
    ) -> tuple[str, str]:
        """The ``dose_unit`` cell (as :meth:`unit`); an error when it is set and not ``allowed``:
        ``dose-unit-trap`` with the reason for a named trap, else ``dose-unit-unknown``."""
        text, unit = self.unit("dose_unit")
        options = list(allowed)
        if text and unit not in options:
            if traps and unit in traps:
                self.error("dose-unit-trap", "dose_unit", traps[unit])
            else:
                self.error(
                    "dose-unit-unknown",
                    "dose_unit",
                    f"dose unit {text!r} is not one of {', '.join(options)} "
                    "and not in the site's units table",
                )
        return text, unit

    def number(self, name: str, *, positive: bool = False) -> Decimal | None:
        """A decimal cell (:meth:`decimal`); an error when it is 10^10 or more, negative, or 0
        and ``positive``."""
        value = self.decimal(name)
        if value is None:
            return None
        raw = self.cell(name)
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
        raw = self.cell(name)
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
        """:meth:`one_of`, None when the cell is empty or not allowed."""
        options = list(allowed)
        value = self.one_of(name, options, rule)
        return value if value and value in options else None


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

    def duplicate(self, column: str, message: str, rule: str = "duplicate-record") -> None:
        """The row repeats a record of an earlier row (see :class:`FirstRows`)."""
        self.check.error(rule, column, message, "duplicate")

    def repeats(self, what: str, row: int, column: str) -> None:
        """The row repeats the record of ``row``: "<what> as row <row>"
        (:func:`adapter.mapping.rows.duplicate`)."""
        self.check.issues.append(duplicate(what, row, column))

    def after_death(self, death: date | None, when: str, column: str, what: str) -> None:
        """``after-death`` when the day of ``when`` is after the death date: "<what>, after the
        death date <death>"."""
        if death is not None and day(when) > death:
            self.error("after-death", column, f"{what}, after the death date {death}")


@dataclass(slots=True)
class FirstRows(Generic[K]):
    """The row each key was first seen on, to flag the later rows that repeat it."""

    rows: dict[K, int] = field(default_factory=dict)

    def repeat(self, key: K, row: int) -> int | None:
        """The row ``key`` was first seen on; None, noting ``row`` as its first, when it is new."""
        first = self.rows.get(key)
        if first is None:
            self.rows[key] = row
        return first


def live(rows: Iterable[Checked[R]]) -> list[tuple[Checked[R], R]]:
    """Rows whose record exists and that have no error so far."""
    return [(c, c.record) for c in rows if c.record is not None and not c.check.failed]


def check_file(
    data: bytes,
    source_name: str,
    site: SiteConfig,
    recorded: str,
    fields: Fields,
    notices: Iterable[Issue],
    check_row: Callable[Concatenate[Row, SiteConfig, S, P], Checked[R]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> Batch[S, R]:
    """Read a delimited source file of ``fields.kind`` (the site's section of that name) and
    check each row whole with ``check_row(row, site, section, *args, **kwargs)``; ``notices`` are
    reported first."""
    section: S = section_of(site, fields.kind)
    issues = list(notices)
    checked = [
        check_row(row, site, section, *args, **kwargs)
        for row in read_rows(data, source_name, site, section, fields, issues)
    ]
    return Batch(data, source_name, site, recorded, section, issues, checked)


@dataclass(slots=True)
class Batch(Generic[S, R]):
    """A source file after its row checks: the cross-row checks run on :meth:`live`, then
    :meth:`finish` (or :meth:`build`) decides and builds the Bundle."""

    data: bytes
    source_name: str
    site: SiteConfig
    recorded: str
    section: S
    #: issues of the file itself (notices, column and row-shape issues of the reader)
    issues: list[Issue]
    checked: list[Checked[R]]

    def live(self) -> list[tuple[Checked[R], R]]:
        return live(self.checked)

    def finish(
        self,
        resources: Callable[[R], Iterable[Resource]],
        extra: Callable[[BundleBuilder], None] | None = None,
    ) -> MapResult:
        """:meth:`build`, each accepted record giving its Patient and its ``resources``."""
        system = self.site.patient_identifier_system

        def add(builder: BundleBuilder, record: R) -> None:
            builder.add_patient(system, record.patient_id, [record.row])
            for resource in resources(record):
                builder.put(resource, [record.row])

        return self.build(add, extra)

    def build(
        self,
        add: Callable[[BundleBuilder, R], None],
        extra: Callable[[BundleBuilder], None] | None = None,
    ) -> MapResult:
        """Place the issues, reject rows with errors (keeping the raw text), build the Bundle."""
        builder = BundleBuilder()
        done = decide(
            ((c.row, c.record, c.check.issues) for c in self.checked),
            self.site,
            self.source_name,
            list(self.issues),
            lambda record: add(builder, record),
        )
        if extra is not None:
            extra(builder)
        return done.result(builder, self.source_name, self.data, self.recorded)


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
