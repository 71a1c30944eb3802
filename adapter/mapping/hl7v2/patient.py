"""PID -> Patient: HL7 v2-to-FHIR IG 1.0.0 segment table PID[Patient], data types CX and XPN, and
the AdministrativeSex map (../shared/reference/inputs-and-corpora.md section 1.4).

PID-3 repetitions whose assigning authority (CX.4) the site maps (``hl7v2.assigning_authorities``)
give identifiers with that system; if none maps, the first value takes
``patient_identifier_system``.  The first identifier keys the conditional create.  PID-5 -> name,
PID-7 -> birthDate, PID-8 -> gender.  A PID without a PID-3 value rejects the whole message.
"""

from __future__ import annotations

from typing import Any

from adapter.fhir import Resource
from adapter.mapping.hl7v2.datatypes import Seg, hl7_date
from adapter.mapping.hl7v2.state import MessageRejected, MessageState
from adapter.sources.values import ValueProblem

#: v2 table 0001 AdministrativeSex -> FHIR administrative-gender (IG Gender table).
GENDERS = {"M": "male", "F": "female", "O": "other", "U": "unknown", "A": "other", "N": "unknown"}


class PatientMapping(MessageState):
    """PID -> Patient."""

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
        name = pid.comps(5)
        if name and any(n.strip() for n in name[:3]):
            human: dict[str, Any] = {}
            family = (pid.subs(5, 1) or [""])[0].strip()
            if family:
                human["family"] = family
            given = [g.strip() for g in name[1:3] if g.strip()]
            if given:
                human["given"] = given
            resource["name"] = [human]
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
