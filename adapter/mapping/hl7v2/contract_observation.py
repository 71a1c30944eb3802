"""OBX with a contract code -> ball-mrd-observation / ball-lab-observation, or rejected alone.

HL7 v2-to-FHIR IG 1.0.0 segment tables OBX[Observation] and OBX[Observation-Component], data-type
tables NM[Quantity] and SN[Quantity] (../shared/reference/inputs-and-corpora.md section 1.3).
A contract code must have a quantity (NM, SN quantity form, or ST/TX/FT in the result grammar of
the CSV path), a specimen of a known kind and an effective time; values pass
:func:`adapter.mapping.lab.measure` (MRD values :func:`adapter.mapping.mrd.mrd_value`); event
count and LOD OBX are components of their MRD Observation.  An OBX breaking a rule is rejected
alone (error with its raw segments); the resource is built by the CSV path's
:func:`adapter.mapping.lab.to_fhir_observation`.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from adapter.fhir import OBSERVATION_CATEGORY, V3_INTERPRETATION, Resource
from adapter.issues import Issue, IssueCode
from adapter.mapping.hl7v2.code_maps import ABSENT_REASONS, CodeMapping
from adapter.mapping.hl7v2.datatypes import Seg, hl7_number, structured_numeric
from adapter.mapping.hl7v2.obx_fields import TEXT_TYPES, ObxCandidate
from adapter.mapping.hl7v2.specimen import MappedSpecimen
from adapter.mapping.lab import (
    DATA_ABSENT,
    NOT_MEASURED,
    LabRecord,
    LabResult,
    measure,
    to_fhir_observation,
)
from adapter.mapping.quantities import LabTest, ResultValue, convert, parse_result
from adapter.sources.values import ValueProblem

_QUANTITY_TYPES = frozenset({"NM", "SN", "ST", "TX", "FT"})


class ContractObservations(CodeMapping):
    """OBX with a contract code -> a ball-profiled Observation, or rejected alone."""

    def _contract_observation(
        self,
        obs: ObxCandidate,
        oid: str,
        status: str,
        value_type: str,
        empty: bool,
        spec: MappedSpecimen | None,
    ) -> Resource | None:
        obx = obs.group.obx
        test = obs.test
        if test is None:  # pragma: no cover - only called for contract codes
            return None
        errors: list[Issue] = []

        def err(rule: str, message: str, field_no: int, code: IssueCode = "value") -> None:
            errors.append(self.issue("error", code, message, rule, obx, field_no))

        if spec is None or spec.kind is None:
            err(
                "specimen-unknown",
                f"{test.display} needs a specimen of a known kind (SPM-4 / OBR-15 through "
                f"ConceptMap {self.ctx.specimen_types.url}) with a collection time",
                3,
                "required",
            )
        effective = self._effective(obs, spec, errors)
        result: ResultValue | None = None
        if empty:
            if status not in ABSENT_REASONS:
                err(
                    "required-cell",
                    f"OBX-5 is empty (status {status} needs a value)",
                    5,
                    "required",
                )
        elif value_type in _QUANTITY_TYPES:
            result = self._result_value(obs, value_type, errors)
        else:
            err(
                "value-type-not-allowed",
                f"OBX-2 {value_type!r} cannot carry {test.display} (a quantity is required)",
                2,
            )
        unit_text = obx.get(6) or obx.get(6, 2)
        unit = self.section.units.get(unit_text, unit_text) or None
        lod: Decimal | None = None
        events: int | None = None
        for comp in obs.components:
            c_obx = comp.group.obx
            component = comp.target[1] if comp.target else ""
            text = c_obx.get(5)
            try:
                number = hl7_number(text)
            except ValueProblem as exc:
                errors.append(
                    self.issue("error", "value", f"{component}: {exc}", exc.rule, c_obx, 5)
                )
                continue
            if component == "events-analyzed":
                if number != number.to_integral_value() or number < 0:
                    errors.append(
                        self.issue(
                            "error",
                            "value",
                            f"events {text!r} is not a whole number",
                            "events-format",
                            c_obx,
                            5,
                        )
                    )
                else:
                    events = int(number)
            else:
                lod = self._lod_in_unit(number, c_obx, unit, test, errors)
        measured = NOT_MEASURED
        if not errors and result is not None:
            found_value, value_issues = measure(result, unit, lod, test, self.section.mrd_unit)
            for found in value_issues:
                field_no = 5 if found.location in (("value",), ("lod",)) else 6
                located = replace(found, location=(self.where(obx, field_no),))
                self.issues.append(located)
                if located.is_error:
                    errors.append(located)
            if found_value is not None:
                measured = found_value
        original: str | None = None
        if measured.reported:
            written = obx.get(5) if test.kind == "mrd" else self._value_text(obx, value_type)
            original = f"{written} {measured.reported}"
        if errors or effective is None or spec is None or spec.resource is None:
            self._reject_obx(obs, errors)
            return None
        lab_result = LabResult(
            specimen=spec.kind or "",
            test=test,
            status=status,
            value=measured.value,
            comparator=measured.comparator,
            lod=measured.lod,
            interpretation=measured.interpretation,
            events_analyzed=events,
            original=original,
            method=self._method_text(obx),
            instrument=self._device(obx),
            comment=None,
        )
        record = LabRecord(obx.line, "", "", effective, lab_result)
        resource = to_fhir_observation(self.site, record, oid)
        resource["meta"] = self.parts.meta(resource["meta"]["profile"][0])
        resource["category"] = self.parts.concepts(OBSERVATION_CATEGORY, "laboratory", "Laboratory")
        resource["code"] = self._contract_code(obx, test)
        resource["subject"] = self._patient_ref(obs.order.pid)
        resource["specimen"] = self.parts.ref(spec.id)
        if lab_result.method:
            resource["method"] = self.parts.text(lab_result.method)
        if lab_result.instrument:
            resource["device"] = self.parts.display(lab_result.instrument)
        if measured.interpretation:
            resource["interpretation"] = self.parts.concepts(
                V3_INTERPRETATION, measured.interpretation
            )
        if measured.value is None:
            reason, display = ABSENT_REASONS.get(status, ABSENT_REASONS["cancelled"])
            if obx.get(11) == "N":
                reason, display = "not-asked", "Not Asked"
            resource["dataAbsentReason"] = self.parts.concept(DATA_ABSENT, reason, display)
        notes = self._notes(obs)
        if original:
            notes.append({"text": f"Reported as {original}"})
        if notes:
            resource["note"] = notes
        else:
            resource.pop("note", None)
        self._interpretation(obs, resource, mrd=test.kind == "mrd")
        self._reference_range(obx, resource)
        return resource

    def _lod_in_unit(
        self, number: Decimal, c_obx: Seg, unit: str | None, test: LabTest, errors: list[Issue]
    ) -> Decimal | None:
        lod_unit_text = c_obx.get(6) or c_obx.get(6, 2)
        lod_unit = self.section.units.get(lod_unit_text, lod_unit_text) or None
        if lod_unit is None or lod_unit == unit or unit is None:
            return number
        try:
            return convert(number, lod_unit, test) / convert(Decimal(1), unit, test)
        except ValueProblem as exc:
            errors.append(self.issue("error", "value", f"LOD: {exc}", exc.rule, c_obx, 6))
            return None

    def _result_value(
        self, obs: ObxCandidate, value_type: str, errors: list[Issue]
    ) -> ResultValue | None:
        obx = obs.group.obx
        try:
            if value_type == "SN":
                sn = structured_numeric(obx.comps(5))
                written = sn.decimal or sn.num1
                problem = sn.comparator_problem
                if problem is not None or sn.form not in ("quantity", "decimal"):
                    errors.append(
                        self.issue(
                            "error",
                            "value",
                            problem
                            or f"SN {sn.text!r} is a {sn.form}: "
                            f"{obs.test.display if obs.test else ''} needs a quantity",
                            "sn-comparator" if problem else "value-type-not-allowed",
                            obx,
                            5,
                        )
                    )
                    return None
                comparator = None if sn.comparator in ("", "=") else sn.comparator
                number = hl7_number(written)
                return ResultValue(number, comparator, exponent_written="e" in written.lower())  # type: ignore[arg-type]
            text = obx.text_value(5).strip() if value_type in TEXT_TYPES else obx.get(5)
            return parse_result(text, hl7_number)
        except ValueProblem as exc:
            errors.append(self.issue("error", "value", str(exc), exc.rule, obx, 5))
            return None

    def _value_text(self, obx: Seg, value_type: str) -> str:
        if value_type == "SN":
            return structured_numeric(obx.comps(5)).text
        return obx.text_value(5).strip()
