"""OBX with a code outside the contract -> a plain Observation (no ball profile), value[x] by OBX-2.

HL7 v2-to-FHIR IG 1.0.0 segment table OBX[Observation] (OBX-5 by OBX-2) and data-type tables
NM[Quantity], SN[Quantity], SN[Range], SN[Ratio], CWE[CodeableConcept], ST[string] and
DTM[dateTime] (../shared/reference/inputs-and-corpora.md section 1.3): SN ``-`` -> valueRange and
``:`` ``/`` -> valueRatio (OBX-6 on both ends; a comparator that is not an R4 Quantity.comparator
rejects the OBX), SN ``.`` -> valueQuantity with the decimal point (else text, warning), NR ->
valueRange, DR -> valuePeriod, TM -> valueTime (a zone is reported, R4 time has none); OBX-6 ->
unit (the site's units, else UCUM when named).  Other value types, and values that do not
parse, are kept as text with a warning; further OBX-5 repetitions go to a note.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from adapter.fhir import OBSERVATION_CATEGORY, UCUM, Resource
from adapter.issues import Issue
from adapter.mapping.hl7v2.code_maps import ABSENT_REASONS, CodeMapping
from adapter.mapping.hl7v2.datatypes import (
    Seg,
    StructuredNumeric,
    cwe_concept,
    hl7_datetime,
    hl7_number,
    hl7_time,
    pad,
    structured_numeric,
)
from adapter.mapping.hl7v2.obx_fields import TEXT_TYPES, ObxCandidate
from adapter.mapping.hl7v2.specimen import MappedSpecimen
from adapter.mapping.lab import DATA_ABSENT
from adapter.sources.values import ValueProblem, decimal_json

#: The base R4 Observation: what a contract result with a range or ratio conforms to.
BASE_OBSERVATION = "http://hl7.org/fhir/StructureDefinition/Observation"
_CODED_TYPES = frozenset({"CWE", "CE", "CNE", "CF", "IS", "ID"})
_DATE_TYPES = frozenset({"DT", "DTM", "TS"})


class PlainObservations(CodeMapping):
    """OBX with a code outside the contract -> an Observation with value[x] by OBX-2."""

    def _plain_observation(
        self,
        obs: ObxCandidate,
        oid: str,
        status: str,
        value_type: str,
        empty: bool,
        spec: MappedSpecimen | None,
    ) -> Resource | None:
        """An Observation without a ball profile, or None when its SN comparator is not a FHIR
        one (the OBX is rejected: error).  A contract test (``obs.test``) gets here only with a
        range or ratio value (SN ``-`` ``:`` ``/``, NR): kept with its contract code and flagged
        as not usable for protocol rules, whose profiles need a quantity."""
        obx = obs.group.obx
        if value_type == "SN" and not empty:
            problem = structured_numeric(obx.comps(5)).comparator_problem
            if problem is not None:
                self._reject_obx(
                    obs, [self.issue("error", "value", problem, "sn-comparator", obx, 5)]
                )
                return None
        test = obs.test
        code = self._cwe(obx, 3) if test is None else self._contract_code(obx, test)
        resource: Resource = {"resourceType": "Observation", "id": oid}
        if test is not None:
            # declared, so that no profile map holds it to the ball profile of its code
            resource["meta"] = self.parts.meta(BASE_OBSERVATION)
        resource |= {
            "status": status,
            "category": self.parts.concepts(OBSERVATION_CATEGORY, "laboratory", "Laboratory"),
            "code": code,
            "subject": self._patient_ref(obs.order.pid),
        }
        if test is not None:
            written = obx.raw(5) if value_type == "NR" else self._sn_text(obx)
            self.issue(
                "warning",
                "business-rule",
                f"{test.display}: OBX-5 {written!r} is a range or ratio: mapped without a "
                "ball profile (they need a quantity), not usable for protocol rules",
                "value-not-for-protocol",
                obx,
                5,
            )
        else:
            shown = (code or {}).get("text") or obx.get(3)
            self.issue(
                "information",
                "informational",
                f"OBX-3 {shown!r} is not a contract code: Observation without a ball profile",
                "observation-unprofiled",
                obx,
                3,
            )
        effective_errors: list[Issue] = []
        effective = self._effective(obs, spec, effective_errors)
        for found in effective_errors:
            self.issues.remove(found)
            self.issues.append(replace(found, severity="warning"))
        if effective:
            resource["effectiveDateTime"] = effective
        if empty:
            reason, display = ABSENT_REASONS.get(status, ("unknown", "Unknown"))
            if obx.get(11) == "N":
                reason, display = "not-asked", "Not Asked"
            resource["dataAbsentReason"] = self.parts.concept(DATA_ABSENT, reason, display)
        else:
            self._plain_value(obx, value_type, resource)
        self._interpretation(obs, resource, mrd=False)
        notes = self._notes(obs)
        if notes:
            resource["note"] = notes
        method = self._method_text(obx)
        if method:
            resource["method"] = self.parts.text(method)
        if spec is not None and spec.resource is not None:
            resource["specimen"] = self.parts.ref(spec.id)
        device = self._device(obx)
        if device:
            resource["device"] = self.parts.display(device)
        self._reference_range(obx, resource)
        return resource

    def _unit(self, obx: Seg) -> dict[str, Any]:
        comps = obx.comps(6)
        if not comps or not any(c.strip() for c in comps):
            return {}
        code = comps[0].strip()
        text = comps[1].strip() if len(comps) > 1 else ""
        system = comps[2].strip() if len(comps) > 2 else ""
        mapped = self.section.units.get(code) or self.section.units.get(text)
        if mapped:
            return {"unit": mapped, "system": UCUM, "code": mapped}
        if system == "UCUM" and code:
            return {"unit": text or code, "system": UCUM, "code": code}
        return {"unit": text or code}

    def _quantity(self, obx: Seg, number: str, comparator: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"value": decimal_json(hl7_number(number))}
        if comparator:
            out["comparator"] = comparator
        out.update(self._unit(obx))
        return out

    def _plain_value(self, obx: Seg, value_type: str, resource: Resource) -> None:
        extra = len(obx.reps(5)) > 1 and value_type not in TEXT_TYPES
        try:
            if value_type == "NM":
                resource["valueQuantity"] = self._quantity(obx, obx.get(5))
            elif value_type == "SN":
                self._sn_value(obx, structured_numeric(obx.comps(5)), resource)
            elif value_type in TEXT_TYPES:
                resource["valueString"] = obx.text_value(5)
            elif value_type in _CODED_TYPES:
                cc = cwe_concept(obx.comps(5), self.section.coding_systems, self.unknown_systems)
                resource["valueCodeableConcept"] = cc or {"text": obx.get(5)}
            elif value_type in _DATE_TYPES:
                resource["valueDateTime"] = hl7_datetime(obx.get(5), self.site.time_zone)
            elif value_type == "NR":
                low, high = pad(obx.comps(5), 2)
                resource["valueRange"] = self._range(obx, low, high)
            elif value_type == "DR":
                start, end = pad(obx.comps(5), 2)
                period = {
                    k: hl7_datetime(v, self.site.time_zone)
                    for k, v in (("start", start), ("end", end))
                    if v.strip()
                }
                if not period:
                    raise ValueProblem("period-empty", f"DR {obx.raw(5)!r} has no start or end")
                resource["valuePeriod"] = period
            elif value_type == "TM":
                resource["valueTime"], zoned = hl7_time(obx.get(5))
                if zoned:
                    self.issue(
                        "warning",
                        "value",
                        f"TM {obx.get(5)!r}: its zone offset is not kept (R4 time has no zone)",
                        "time-zone-dropped",
                        obx,
                        5,
                    )
            else:
                resource["valueString"] = obx.text_value(5)
                self.issue(
                    "warning",
                    "not-supported",
                    f"OBX-2 {value_type or '(empty)'!r} has no value mapping here: "
                    "OBX-5 kept as text",
                    "value-type-unsupported",
                    obx,
                    2,
                )
                extra = False
        except ValueProblem as exc:
            resource.pop("valueQuantity", None)
            resource["valueString"] = obx.text_value(5)
            self.issue("warning", "value", f"{exc}: OBX-5 kept as text", exc.rule, obx, 5)
        if extra:
            rest = obx.reps(5)[1:]
            resource.setdefault("note", []).append(
                {
                    "text": "Further OBX-5 repetitions: "
                    + " ~ ".join(obx.enc.unescape(r) for r in rest)
                }
            )
            self.issue(
                "warning",
                "structure",
                f"OBX-5 repeats ({len(rest) + 1}); the first is the value, "
                "the others are kept in a note",
                "value-repeats",
                obx,
                5,
            )

    def _sn_text(self, obx: Seg) -> str:
        return structured_numeric(obx.comps(5)).text

    def _range(self, obx: Seg, low: str, high: str) -> dict[str, Any]:
        """A Range with OBX-6 on both ends (an empty end is left out)."""
        unit = self._unit(obx)
        out = {
            end: {"value": decimal_json(hl7_number(text)), **unit}
            for end, text in (("low", low), ("high", high))
            if text.strip()
        }
        if not out:
            raise ValueProblem("range-empty", f"{obx.raw(5)!r} has no low or high value")
        return out

    def _sn_value(self, obx: Seg, sn: StructuredNumeric, resource: Resource) -> None:
        """SN by its form (IG SN tables); the comparator was checked by the caller."""
        form = sn.form
        comparator = None if sn.comparator in ("", "=") else sn.comparator
        if form == "quantity":
            resource["valueQuantity"] = self._quantity(obx, sn.num1, comparator)
        elif form == "decimal" and sn.decimal is not None:
            resource["valueQuantity"] = self._quantity(obx, sn.decimal, comparator)
            self.issue(
                "information",
                "informational",
                f"SN {sn.text!r}: SN.3 '.' read as the decimal point of {sn.decimal}",
                "sn-decimal",
                obx,
                5,
            )
        elif form == "ratio":
            unit = self._unit(obx)
            numerator: dict[str, Any] = {"value": decimal_json(hl7_number(sn.num1))}
            if comparator:
                numerator["comparator"] = comparator
            resource["valueRatio"] = {
                "numerator": {**numerator, **unit},
                "denominator": {"value": decimal_json(hl7_number(sn.num2)), **unit},
            }
        elif form == "range":
            resource["valueRange"] = self._range(obx, sn.num1, sn.num2)
        else:
            unit_text = obx.get(6, 2) or obx.get(6)
            resource["valueString"] = f"{sn.text} {unit_text}" if unit_text else sn.text
            if form == "decimal" or sn.separator not in ("", "+"):
                self.issue(
                    "warning",
                    "value",
                    f"SN {sn.text!r} has no numeric reading (SN.3 {sn.separator!r}): kept as text",
                    "sn-text",
                    obx,
                    5,
                )
