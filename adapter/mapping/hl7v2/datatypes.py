"""HL7 v2 data types for the ORU^R01 mapping: field access, escapes, DTM, CWE, SN.

Sources: HL7 v2.5.1 chapter 2 (2.7 escape sequences, 2.A data types DTM/CWE/SN/CX/EI/XPN) and
the HL7 v2-to-FHIR IG 1.0.0 data-type tables (../shared/reference/inputs-and-corpora.md section
1.3): CWE.1-3 -> coding[0], CWE.4-6 -> coding[1], CWE.7 -> version, CWE.9 (else CWE.2) -> text;
SN: ``<>`` or separator ``+`` -> string, ``:``/``/`` -> Ratio, ``-`` -> Range, ``.`` -> a decimal
point, else Quantity with comparator (only R4 Quantity.comparator codes), anything else -> string;
TM -> time.

Field text comes from python-hl7's parse (``str(segment[n])``, still escaped); components,
repetitions and subcomponents are split here and each leaf is unescaped after splitting, so an
escaped separator (``\\S\\``) never splits a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import hl7

from adapter.fhir import LOINC, SNOMED, UCUM
from adapter.sources.values import ValueProblem

#: HL7 table 0396 coding-system names -> FHIR system URIs (HL7 v2-to-FHIR IG, coding system
#: vocabulary; ``HL7nnnn`` -> ``http://terminology.hl7.org/CodeSystem/v2-nnnn``).
STANDARD_CODING_SYSTEMS = {"LN": LOINC, "SCT": SNOMED, "UCUM": UCUM}
_HL7_TABLE = re.compile(r"HL7(\d{4})")
_FORMATTING = re.compile(r"\.(fi|nf|in|ti|ce|sk)([+-]?\d*)")
_SPACE = re.compile(r"\.sp([+-]?\d*)")
_HEX = re.compile(r"X([0-9A-Fa-f]{2})+")
_DTM = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,4})?([+-]\d{4})?")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass(slots=True)
class Encoding:
    """The delimiters of one message (MSH-1, MSH-2 of 4 or 5 characters) and its text encoding."""

    field: str
    component: str
    repetition: str
    escape: str
    subcomponent: str
    truncation: str
    charset: str
    unknown_escapes: set[str] = dc_field(default_factory=set)

    @classmethod
    def of(cls, message: hl7.Message, charset: str) -> Encoding:
        msh2 = str(message.segments("MSH")[0][2])
        seps = message.separators  # segment, field, repetition, component, subcomponent
        return cls(
            field=seps[1],
            component=seps[3],
            repetition=seps[2],
            escape=message.esc,
            subcomponent=seps[4],
            truncation=msh2[4] if len(msh2) > 4 else "",
            charset=charset,
        )

    def unescape(self, text: str) -> str:
        """Decode escape sequences of one leaf; unknown ones are kept literally and remembered."""
        esc = self.escape
        if not esc or esc not in text:
            return text
        out: list[str] = []
        i = 0
        while True:
            j = text.find(esc, i)
            k = text.find(esc, j + 1) if j >= 0 else -1
            if j < 0 or k < 0:
                if j >= 0:
                    self.unknown_escapes.add(text[j:])
                out.append(text[i:])
                break
            out.append(text[i:j])
            out.append(self._sequence(text[j + 1 : k]))
            i = k + 1
        return "".join(out)

    def _sequence(self, seq: str) -> str:
        simple = {
            "F": self.field,
            "S": self.component,
            "T": self.subcomponent,
            "R": self.repetition,
            "E": self.escape,
            "P": self.truncation,
            "H": "",
            "N": "",
            ".br": "\n",
        }
        if seq in simple and (seq != "P" or self.truncation):
            return simple[seq]
        if (m := _SPACE.fullmatch(seq)) is not None:
            return "\n" * max(1, int(m.group(1) or 1))
        if _FORMATTING.fullmatch(seq):
            return ""
        if _HEX.fullmatch(seq):
            raw = bytes.fromhex(seq[1:])
            text = raw.decode(self.charset, errors="replace")
            return text.replace("\r\n", "\n").replace("\r", "\n")
        self.unknown_escapes.add(f"{self.escape}{seq}{self.escape}")
        return f"{self.escape}{seq}{self.escape}"


@dataclass(slots=True)
class Seg:
    """One parsed segment with its line in the file and the message's delimiters."""

    line: int
    name: str
    segment: hl7.Segment
    enc: Encoding
    text: str
    parts: list[str] | None = None

    def raw(self, n: int) -> str:
        """The raw (escaped) text of field ``n`` (HL7 numbering, also for MSH); '' if absent.

        The same text as ``str(segment[n])`` of python-hl7 (its parse round-trips), read from
        the segment text split once on the message's field separator, which is much cheaper.
        """
        parts = self.parts
        if parts is None:
            parts = self.parts = self.text.split(self.enc.field)
        if self.name == "MSH":
            if n == 1:
                return self.enc.field
            n -= 1
        return parts[n] if n < len(parts) else ""

    def reps(self, n: int) -> list[str]:
        raw = self.raw(n)
        return raw.split(self.enc.repetition) if raw else []

    def comps(self, n: int, rep: int = 0) -> list[str]:
        """Unescaped components of repetition ``rep`` (0-based) of field ``n``."""
        reps = self.reps(n)
        if rep >= len(reps):
            return []
        return [self.leaf(c) for c in reps[rep].split(self.enc.component)]

    def leaf(self, text: str) -> str:
        """The first subcomponent of a component, unescaped."""
        enc = self.enc
        if enc.subcomponent in text:
            text = text.split(enc.subcomponent, 1)[0]
        return enc.unescape(text)

    def subs(self, n: int, comp: int, rep: int = 0) -> list[str]:
        """Unescaped subcomponents of component ``comp`` (1-based) of field ``n``."""
        reps = self.reps(n)
        if rep >= len(reps):
            return []
        comps = reps[rep].split(self.enc.component)
        if comp > len(comps):
            return []
        return [self.enc.unescape(s) for s in comps[comp - 1].split(self.enc.subcomponent)]

    def get(self, n: int, comp: int = 1, rep: int = 0) -> str:
        """Component ``comp`` (1-based) of repetition ``rep`` of field ``n``, unescaped."""
        comps = self.comps(n, rep)
        return comps[comp - 1].strip() if comp <= len(comps) else ""

    def text_value(self, n: int) -> str:
        """A text field (ST/TX/FT) whole: repetitions are lines; components stay as written."""
        enc = self.enc
        return "\n".join(enc.unescape(r) for r in self.reps(n))


def pad(values: list[str], size: int) -> list[str]:
    return [*values, *[""] * (size - len(values))][:size]


def coding_system(name: str, site_systems: dict[str, str]) -> str | None:
    """The FHIR system URI of a CWE coding-system name (HL7 table 0396 or the site's names)."""
    if not name:
        return None
    if name in site_systems:
        return site_systems[name]
    if name in STANDARD_CODING_SYSTEMS:
        return STANDARD_CODING_SYSTEMS[name]
    if (m := _HL7_TABLE.fullmatch(name)) is not None:
        return f"http://terminology.hl7.org/CodeSystem/v2-{m.group(1)}"
    return None


def cwe_concept(
    comps: list[str], site_systems: dict[str, str], unknown: set[str] | None = None
) -> dict[str, Any] | None:
    """A CodeableConcept from CWE/CE components (None when empty).

    A coding whose system name is unknown keeps its code and display without a system, and the
    name is added to ``unknown`` so that the caller can report it.
    """
    c = pad(comps, 9)
    codings: list[dict[str, Any]] = []
    for code, display, system_name in ((c[0], c[1], c[2]), (c[3], c[4], c[5])):
        if not code:
            continue
        coding: dict[str, Any] = {}
        system = coding_system(system_name, site_systems)
        if system:
            coding["system"] = system
        elif system_name and unknown is not None:
            unknown.add(system_name)
        if c[6] and code == c[0]:
            coding["version"] = c[6]
        coding["code"] = code
        if display:
            coding["display"] = display
        codings.append(coding)
    text = c[8] or c[1] or (c[4] if not c[0] else "")
    if not codings and not text:
        return None
    out: dict[str, Any] = {}
    if codings:
        out["coding"] = codings
    if text:
        out["text"] = text
    return out


def hl7_number(text: str) -> Decimal:
    """An HL7 NM value (tolerating an exponent, which the MRD rules then judge)."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        raise ValueProblem("number-format", f"{text!r} is not a number")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise ValueProblem("number-format", f"{text!r} is not a number") from None


def hl7_datetime(text: str, time_zone: str | None) -> str:
    """An HL7 DTM/TS as an R4 dateTime keeping its precision and zone.

    Date-only values keep their precision (``2024``, ``2024-03``, ``2024-03-04``).  With a time,
    FHIR requires seconds and a zone: missing minutes/seconds are written as ``00`` (the only
    padding), fractional seconds are kept; a value without a zone takes the site's ``time_zone``
    and is an error when the site declares none (never an invented zone).
    """
    text = text.strip()
    m = _DTM.fullmatch(text)
    if m is None or (m.group(7) and not m.group(6)):
        raise ValueProblem(
            "datetime-format",
            f"{text!r} is not an HL7 date/time (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ])",
        )
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    try:
        moment = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
        )
    except ValueError as exc:
        raise ValueProblem("datetime-format", f"{text!r}: {exc}") from None
    if zone and (int(zone[1:3]) > 14 or int(zone[3:]) > 59):
        raise ValueProblem("datetime-format", f"{text!r}: zone offset {zone} is out of range")
    if hour is None:
        return "-".join(p for p in (year, month, day) if p)
    if zone:
        offset = f"{zone[:3]}:{zone[3:]}"
    elif time_zone:
        delta = moment.replace(tzinfo=ZoneInfo(time_zone)).utcoffset()
        minutes = int(delta.total_seconds() // 60) if delta is not None else 0
        sign = "-" if minutes < 0 else "+"
        offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    else:
        raise ValueProblem(
            "datetime-zone-missing",
            f"{text!r} has a time but no zone and the site declares no time_zone",
        )
    return f"{year}-{month}-{day}T{hour}:{minute or '00'}:{second or '00'}{fraction or ''}{offset}"


def hl7_date(text: str) -> str:
    """The date part of an HL7 DT/DTM (PID-7 birth date) with its precision."""
    m = _DTM.fullmatch(text.strip())
    if m is None:
        raise ValueProblem("date-format", f"{text!r} is not an HL7 date")
    year, month, day = m.group(1), m.group(2), m.group(3)
    try:
        datetime(int(year), int(month or 1), int(day or 1))
    except ValueError as exc:
        raise ValueProblem("date-format", f"{text!r}: {exc}") from None
    return "-".join(p for p in (year, month, day) if p)


#: R4 Quantity.comparator (https://hl7.org/fhir/R4/valueset-quantity-comparator.html).
QUANTITY_COMPARATORS = frozenset({"<", "<=", ">=", ">"})
_DIGITS = re.compile(r"\d+")
_TM = re.compile(r"(\d{2})(\d{2})?(\d{2})?(\.\d{1,4})?([+-]\d{4})?")


@dataclass(frozen=True, slots=True)
class StructuredNumeric:
    """An SN value: comparator, first number, separator/suffix, second number (SN.1-4)."""

    comparator: str
    num1: str
    separator: str
    num2: str

    @property
    def text(self) -> str:
        return "".join((self.comparator, self.num1, self.separator, self.num2))

    @property
    def form(self) -> str:
        """``quantity``, ``ratio``, ``range``, ``decimal`` or ``string`` (IG SN tables: ``<>``
        and ``+`` are strings; HL7 v2.5.1 2.A.74: SN.3 ``.`` is a decimal point)."""
        if self.comparator == "<>" or self.separator == "+":
            return "string"
        if self.separator in (":", "/"):
            return "ratio"
        if self.separator == "-":
            return "range"
        if self.separator == ".":
            return "decimal"
        if not self.separator and not self.num2:
            return "quantity"
        return "string"

    @property
    def comparator_problem(self) -> str | None:
        """Why SN.1 cannot be a FHIR comparator of this form (None when it can): a Range has
        none; a Quantity or a Ratio's numerator only the R4 Quantity.comparator codes."""
        form = self.form
        if form == "string" or self.comparator in ("", "="):
            return None
        if form != "range" and self.comparator in QUANTITY_COMPARATORS:
            return None
        allowed = "none" if form == "range" else ", ".join(sorted(QUANTITY_COMPARATORS))
        return (
            f"SN {self.text!r}: comparator {self.comparator!r} is not allowed on a {form} "
            f"(allowed: {allowed}; R4 Quantity.comparator)"
        )

    @property
    def decimal(self) -> str | None:
        """``num1.num2`` when SN.3 is a decimal point between two digit strings, else None."""
        whole = self.num1.lstrip("+-")
        if self.form != "decimal" or not _DIGITS.fullmatch(whole or "0"):
            return None
        if not _DIGITS.fullmatch(self.num2):
            return None
        return f"{self.num1}.{self.num2}"


def structured_numeric(comps: list[str]) -> StructuredNumeric:
    c = pad(comps, 4)
    return StructuredNumeric(c[0].strip(), c[1].strip(), c[2].strip(), c[3].strip())


def hl7_time(text: str) -> tuple[str, bool]:
    """An HL7 TM (``HH[MM[SS[.S]]][+/-ZZZZ]``) as an R4 time, and whether a zone was dropped
    (R4 ``time`` has none); missing minutes and seconds are ``00``."""
    m = _TM.fullmatch(text.strip())
    if m is None:
        raise ValueProblem("time-format", f"{text!r} is not an HL7 time (HH[MM[SS[.S]]])")
    hour, minute, second, fraction, zone = m.groups()
    if int(hour) > 23 or int(minute or 0) > 59 or int(second or 0) > 59:
        raise ValueProblem("time-format", f"{text!r} is not a time of day")
    return f"{hour}:{minute or '00'}:{second or '00'}{fraction or ''}", zone is not None
