"""The protocol rules 1-8 of issue 7, each citing protocol.md, over :class:`PatientFacts`.

One module per rule (relapse, eligibility, apheresis, dosing, schedule, response, prognosis,
outcome), the courses they read (courses) and what every rule sees (context); :data:`RULES`
runs them in order.

Why named rules and not FHIRPath conditions: the recommendation PlanDefinitions reference their
conditions by name (``condition.expression.language = text/x-ball-fhir-rule``, the way CPG
content names a CQL ``define`` with ``text/cql-identifier``), and the names are implemented here.
The decisions join several resources (relapse Condition, end-of-therapy Procedure, MRD and
marrow Observations), do calendar-month arithmetic with a stated fallback, normalise units with
exact factors and must *explain what is missing* when a fact is absent; FHIRPath over a Bundle
would express little of that, fhirpathpy mutates its input, and it would dominate the cost of
evaluating 10,000 patients.  The numbers stay in the content: every threshold is read from the
loaded :class:`~adapter.protocol.content.Protocol`.
"""

from collections.abc import Callable

from adapter.protocol.rules.apheresis import rule_apheresis
from adapter.protocol.rules.context import CourseRun, Ctx
from adapter.protocol.rules.courses import find_courses
from adapter.protocol.rules.dosing import plan_course, rule_dose
from adapter.protocol.rules.eligibility import rule_eligibility
from adapter.protocol.rules.outcome import rule_outcome
from adapter.protocol.rules.prognosis import TABLE1_TRANSLOCATIONS, rule_prognostic
from adapter.protocol.rules.relapse import rule_relapse
from adapter.protocol.rules.response import rule_response
from adapter.protocol.rules.schedule import rule_schedule

RULES: tuple[Callable[[Ctx], None], ...] = (
    rule_relapse,
    rule_eligibility,
    rule_apheresis,
    rule_dose,
    rule_schedule,
    rule_response,
    rule_prognostic,
    rule_outcome,
)

#: The named rules the recommendation content may reference (content.RULE_LANGUAGE).
NAMED_RULES = ("mrd-negative", "mrd-positive-after-course-1", "non-responder")

__all__ = [
    "NAMED_RULES",
    "RULES",
    "TABLE1_TRANSLOCATIONS",
    "CourseRun",
    "Ctx",
    "find_courses",
    "plan_course",
]
