"""Site configuration: how one hospital's exports are written, as a validated, typed model.

A site file (``mappings/sites/<name>.yaml``, documented in ``mappings/README.md``) declares the
text encoding, delimiter, decimal separator, date and datetime formats, the time zone to assume
when a timestamp carries none, the patient and specimen identifier systems, and one section per
source kind (``lab``, ...) with the header -> canonical field map, value vocabularies and code
maps.  Loading is safe (``yaml.safe_load``) and strict: an unknown key, a missing mapping or a bad
format string is a :class:`~adapter.issues.UsageError` that names the key.
"""

from __future__ import annotations

import codecs
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from adapter.datafiles import mappings_dir
from adapter.issues import UsageError

_SAMPLE = datetime(2024, 11, 23, 14, 5, 9)  # a date whose fields are all distinct


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DelimitedSource(_Strict):
    """The part every delimited (CSV-like) source section has.

    ``columns`` maps a header as written in the file to a canonical field of the source kind;
    ``vocabularies`` maps, per canonical field, local values to canonical ones (e.g. specimen
    ``КМ`` -> ``bone-marrow``).
    """

    columns: dict[str, str]
    vocabularies: dict[str, dict[str, str]] = Field(default_factory=dict)


class LabSource(DelimitedSource):
    """The ``lab`` section: lab results (MRD by flow cytometry, blasts, counts).

    ``test_code_map`` is the canonical URL of a ConceptMap in ``mappings/conceptmaps`` from the
    site's local test codes to contract.md codes.  ``mrd_unit`` is the MRD unit to assume when a
    row has none: only a site that declares it gets it (contract.md "Units traps").
    ``units`` maps local unit spellings to the unit names the lab tables accept.
    """

    test_code_map: str
    mrd_unit: Literal["%", "fraction"] | None = None
    units: dict[str, str] = Field(default_factory=dict)


class CytogeneticsSource(DelimitedSource):
    """The ``cytogenetics`` section: karyotypes, FISH and RT-PCR fusion results (issue 4 item 3).

    Only columns and vocabularies (e.g. ``method``: ``G-banding`` -> ``karyotype``; ``target``:
    ``TEL-AML1`` -> ``ETV6::RUNX1``; ``result``: ``positive`` -> ``detected``); the mapping is
    ``adapter.mapping.cytogenetics``.
    """


class InfusionsSource(DelimitedSource):
    """The ``infusions`` section: blinatumomab bags or segments (adapter.mapping.treatment).

    ``units`` maps a local dose-unit spelling (``mcg/day``) to ``ug/d`` or ``ug/m2/d``: sloppy
    forms are accepted only through it (contract.md "Units traps").  ``bsa_max_age_days``: a BSA
    (or weight) older than this at the start of a bag is not usable for dosing.
    ``gap_tolerance_minutes``: a pause between consecutive bags of one course longer than this is
    flagged as an infusion gap.  ``dose_rate_tolerance_pct``: a delivered dose rate (pump rate x
    24 h x concentration) differing from the prescribed ug/d (per-m2 dose x BSA, or the flat
    dose) by more than this percentage of the prescribed rate is flagged (default 10: a
    placeholder, to be confirmed clinically; the sources give no tolerance).
    """

    units: dict[str, str] = Field(default_factory=dict)
    bsa_max_age_days: int = Field(ge=0)
    gap_tolerance_minutes: int = Field(default=0, ge=0)
    dose_rate_tolerance_pct: Decimal = Field(default=Decimal("10"), ge=0)


class IntrathecalSource(DelimitedSource):
    """The ``intrathecal`` section: one row per intrathecal drug given (issue 5)."""

    units: dict[str, str] = Field(default_factory=dict)


class ApheresisSource(DelimitedSource):
    """The ``apheresis`` section: CD3+ lymphocyte collections (protocol.md section 3).

    ``product_identifier_system`` names the identifiers of the collected product portions;
    ``default_portions`` is used when a row gives no number of portions (protocol.md: 4).
    """

    product_identifier_system: str
    default_portions: int = Field(default=4, ge=1)
    units: dict[str, str] = Field(default_factory=dict)


class LymphocytesSource(DelimitedSource):
    """The ``lymphocytes`` section: autologous CD3+ infusions (protocol.md section 4)."""

    product_identifier_system: str
    units: dict[str, str] = Field(default_factory=dict)


class MeasurementsSource(DelimitedSource):
    """The ``measurements`` section: body weight and height; BSA is computed.

    ``bsa_formula`` names the formula (adapter.mapping.treatment.measurements.BSA_FORMULAS);
    ``bsa_max_days_apart``: weight and height further apart than this never make a BSA;
    ``bsa_decimals``: decimals of the emitted BSA in m2.
    """

    units: dict[str, str] = Field(default_factory=dict)
    bsa_formula: Literal["mosteller", "dubois", "haycock"] = "mosteller"
    bsa_max_days_apart: int = Field(ge=0)
    bsa_decimals: int = Field(default=2, ge=0, le=6)


class EventsSource(DelimitedSource):
    """The ``events`` section: diagnosis, relapses, front-line end, protocol, risk group, HSCT,
    death and follow-up, one row per event (issue 5)."""


class Hl7v2Source(_Strict):
    """The ``hl7v2`` section: HL7 v2 ORU^R01 lab results (adapter.mapping.hl7v2, issue 3).

    ``test_code_map`` / ``specimen_type_map``: canonical URLs of ConceptMaps in
    ``mappings/conceptmaps`` from OBX-3 local codes to contract.md codes and from SPM-4 / OBR-15
    specimen codes (HL7 table 0487 or local) to ball-specimen-type kinds.
    ``assigning_authorities`` maps a PID-3 assigning authority (CX.4 namespace id) to the
    Patient.identifier system; without a match ``patient_identifier_system`` is used.
    ``coding_systems`` maps local coding-system names (CWE.3, e.g. ``99LAB``) to URIs.
    ``units`` maps local OBX-6 unit spellings to UCUM / lab-table unit names; ``mrd_unit`` as in
    ``lab`` (only a site that declares it gets a unit for an MRD result without one).
    """

    test_code_map: str
    specimen_type_map: str
    assigning_authorities: dict[str, str] = Field(default_factory=dict)
    coding_systems: dict[str, str] = Field(default_factory=dict)
    units: dict[str, str] = Field(default_factory=dict)
    mrd_unit: Literal["%", "fraction"] | None = None


class SiteConfig(_Strict):
    """One site's configuration (see ``mappings/README.md``)."""

    site: str
    encoding: str = "utf-8"
    delimiter: str = ","
    decimal_separator: Literal[".", ","] = "."
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    datetime_formats: tuple[str, ...] = ("%Y-%m-%dT%H:%M:%S%z",)
    time_zone: str | None = None
    patient_identifier_system: str
    specimen_identifier_system: str
    lab: LabSource | None = None
    hl7v2: Hl7v2Source | None = None
    cytogenetics: CytogeneticsSource | None = None
    infusions: InfusionsSource | None = None
    intrathecal: IntrathecalSource | None = None
    apheresis: ApheresisSource | None = None
    lymphocytes: LymphocytesSource | None = None
    measurements: MeasurementsSource | None = None
    events: EventsSource | None = None

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}") from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError(f"delimiter must be one character, got {value!r}")
        return value

    @field_validator("date_formats")
    @classmethod
    def _date_formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_format(f, with_time=False) for f in value)

    @field_validator("datetime_formats")
    @classmethod
    def _datetime_formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_format(f, with_time=True) for f in value)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("patient_identifier_system", "specimen_identifier_system")
    @classmethod
    def _uri(cls, value: str) -> str:
        if ":" not in value or any(c.isspace() for c in value):
            raise ValueError(f"{value!r} is not an absolute URI")
        return value


def _check_format(fmt: str, *, with_time: bool) -> str:
    """A strptime format must round-trip a sample date and hold a day, month and year."""
    needed = ["%d", "%m", "%Y"] if "%y" not in fmt else ["%d", "%m", "%y"]
    if with_time:
        needed.append("%H")
    missing = [d for d in needed if d not in fmt and not (d == "%m" and "%b" in fmt)]
    if missing:
        raise ValueError(f"format {fmt!r} lacks {', '.join(missing)}")
    sample = _SAMPLE.astimezone() if "%z" in fmt else _SAMPLE
    try:
        text = sample.strftime(fmt)
        parsed = datetime.strptime(text, fmt)
    except ValueError as exc:
        raise ValueError(f"format {fmt!r} does not parse its own output: {exc}") from None
    expected: date | datetime = _SAMPLE if with_time else _SAMPLE.date()
    got: date | datetime = parsed.replace(tzinfo=None) if with_time else parsed.date()
    if with_time and "%S" not in fmt:
        got = got.replace(second=_SAMPLE.second)  # type: ignore[call-arg]
    if got != expected:
        raise ValueError(f"format {fmt!r} does not round-trip a date")
    return fmt


def parse_site(data: Any, origin: str) -> SiteConfig:
    """Validate parsed YAML as a site configuration; errors name the key."""
    if not isinstance(data, dict):
        raise UsageError(f"{origin}: a site configuration is a mapping of keys, got {type(data)}")
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {_explain(err)}"
            for err in exc.errors()
        )
        raise UsageError(f"{origin}: invalid site configuration: {problems}") from None


def _explain(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "missing":
        return "required key is missing"
    return str(err["msg"])


def load_site(name_or_path: str) -> SiteConfig:
    """Load a site by file path or by name from ``mappings/sites/<name>.yaml``."""
    path = Path(name_or_path)
    if not path.is_file():
        path = mappings_dir() / "sites" / f"{name_or_path}.yaml"
    if not path.is_file():
        raise UsageError(f"no site configuration {name_or_path!r} (looked for {path})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML: {exc}") from None
    return parse_site(data, str(path))
