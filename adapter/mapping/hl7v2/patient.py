"""PID -> Patient: HL7 v2-to-FHIR IG 1.0.0 segment table PID[Patient], data types CX and XPN, and
the AdministrativeSex map (../shared/reference/inputs-and-corpora.md section 1.4).

PID-3 repetitions whose assigning authority (CX.4) the site maps (``hl7v2.assigning_authorities``)
give identifiers with that system; if none maps, the first value takes
``patient_identifier_system``.  The first identifier keys the conditional create.  PID-5 -> name
(every repetition, with prefix, suffix, degree and name use), PID-7 -> birthDate, PID-8 ->
gender.  A PID without a PID-3 value rejects the whole message.
"""

from __future__ import annotations

from typing import Any

from adapter.fhir import Resource
from adapter.mapping.hl7v2.datatypes import Seg, hl7_date, pad
from adapter.mapping.hl7v2.state import MessageRejected, MessageState
from adapter.sources.values import ValueProblem

#: v2 table 0001 AdministrativeSex -> FHIR administrative-gender (IG Gender table).
GENDERS = {"M": "male", "F": "female", "O": "other", "U": "unknown", "A": "other", "N": "unknown"}


#: HL7 table 0200 name type (XPN.7) -> FHIR name-use, as the HL7 v2-to-FHIR IG 1.0.0 NameType
#: concept map has it (mappings/codesystems "HL7 Concept Map - FHIR E2_ NameType"); the codes it
#: leaves unmapped (A, B, C, F, I, K, NB, NOUSE, P, REL, S, T, U) give no use.
NAME_USES = {
    "BAD": "old",
    "D": "usual",
    "L": "official",
    "M": "maiden",
    "MSK": "anonymous",
    "N": "nickname",
    "NAV": "temp",
    "R": "official",
    "TEMP": "temp",
}


class PatientMapping(MessageState):
    """PID -> Patient."""

    def _name(self, pid: Seg, rep: int) -> dict[str, Any] | None:
        """One PID-5 repetition (XPN) -> HumanName: XPN.1.1 family, XPN.2 and XPN.3 given,
        XPN.4 suffix, XPN.5 prefix, XPN.6 (degree) suffix, XPN.7 use (IG table NameType)."""
        parts = [c.strip() for c in pad(pid.comps(5, rep), 7)]
        family = (pid.subs(5, 1, rep) or [""])[0].strip()
        human: dict[str, Any] = {}
        use = NAME_USES.get(parts[6])
        if use:
            human["use"] = use
        if family:
            human["family"] = family
        given = [g for g in parts[1:3] if g]
        if given:
            human["given"] = given
        if parts[4]:
            human["prefix"] = [parts[4]]
        suffixes = [x for x in (parts[3], parts[5]) if x]
        if suffixes:
            human["suffix"] = suffixes
        if not (family or given):
            return None
        return human

    def _patient(self, pid: Seg) -> None:
        identifiers: list[dict[str, str]] = []
        first_value = ""
        first_authority = ""
        for rep in range(len(pid.reps(3))):
            comps = pid.comps(3, rep)
            value = comps[0].strip() if comps else ""
            if not value:
                continue
            authority = (pid.subs(3, 4, rep) or [""])[0].strip()
            if not first_value:
                first_value, first_authority = value, authority
            system = self.section.assigning_authorities.get(authority) if authority else None
            if system:
                identifiers.append({"system": system, "value": value})
            elif authority:
                self.issue(
                    "information",
                    "informational",
                    f"PID-3 identifier with assigning authority {authority!r} not mapped "
                    "(hl7v2.assigning_authorities)",
                    "patient-identifier-unmapped",
                    pid,
                    3,
                )
        if not first_value:
            raise MessageRejected(f"PID at line {pid.line} has no PID-3 patient identifier")
        if not identifiers:
            identifiers.append(
                {"system": self.site.patient_identifier_system, "value": first_value}
            )
            if first_authority:
                self.issue(
                    "information",
                    "informational",
                    f"PID-3 {first_value!r} takes patient_identifier_system",
                    "patient-identifier-default",
                    pid,
                    3,
                )
        resource: Resource = {"resourceType": "Patient", "identifier": identifiers}
        names = [n for rep in range(len(pid.reps(5))) if (n := self._name(pid, rep))]
        if names:
            resource["name"] = names
        birth = pid.get(7)
        if birth:
            try:
                resource["birthDate"] = hl7_date(birth)
            except ValueProblem as exc:
                self.issue("warning", "value", str(exc), exc.rule, pid, 7)
        sex = pid.get(8)
        if sex:
            if sex in GENDERS:
                resource["gender"] = GENDERS[sex]
            else:
                self.issue(
                    "warning",
                    "code-invalid",
                    f"PID-8 {sex!r} is not in table 0001",
                    "gender-unknown",
                    pid,
                    8,
                )
        self.patients[pid.line] = (
            identifiers[0]["system"],
            identifiers[0]["value"],
            resource,
            [self.msh.line, pid.line],
        )
