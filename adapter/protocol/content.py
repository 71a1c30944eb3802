"""Load the protocol content (CPG-style PlanDefinition / ActivityDefinition JSON) into parameters.

The course is published as FHIR content in ``profiles/input/resources/`` (HL7 CPG pattern: a
``clinical-protocol`` pathway -> ``workflow-definition`` course strategies -> an ``eca-rule``
recommendation).  Every number the engine uses is read here, once, from that content:

* scalar parameters are ``protocol-parameter`` extensions (``name`` code, ``value[x]``, ``source``
  citation) on the pathway PlanDefinition;
* per-step doses are ``protocol-parameter`` extensions on the course actions, and the course days of
  every action come from the ``timing-daysOfCycle`` extension (FHIR core KDN5 chemotherapy pattern).

Nothing numeric is a constant in the engine: a protocol variant is a different set of resources.

The gene/fusion knowledge of :mod:`adapter.iscn` (``mappings/iscn/gene-loci.yaml``) is loaded with
the content and carried by every :class:`Protocol` (``knowledge``): the fusion names of
``adverse-fusions`` / ``exclusion-fusions`` are checked against it at load time, and the rules name
fusions in karyotypes and fusion findings with it (adapter/protocol/cytogenetics.py), so the engine
reads no file and keeps no second table.  This module does no I/O except
:func:`read_content_folder` (a folder the caller names) and :func:`load_protocols_from_folder`,
which also reads the default knowledge file when the caller passes none.

The ``protocol-parameter`` extension (``https://ball-fhir.org/fhir/StructureDefinition/
protocol-parameter``; complex: ``name`` valueCode 1..1, ``value`` value[x] 1..1 of decimal,
integer, boolean or string, ``source`` valueString 1..1 citing protocol.md) carries:

=====================================================  ===========================================
pathway parameter                                      meaning (protocol.md section)
=====================================================  ===========================================
weight-boundary-kg, weight-boundary-comparison         flat dose when weight <cmp> boundary (§4)
course-length-days, second-course-gap-days             28-day course; course 2 N days after (§4)
mrd-threshold, mrd-response-earliest-course-day        MRD-negative below it, as a fraction (§5)
relapse-very-early-months                              very early < N months after diagnosis (§2)
relapse-late-after-eot-months/-comparison              late when relapse <cmp> EOT + N months (§2)
relapse-fallback-late-months                           cut from diagnosis when EOT unknown (§2)
site-isolated-marrow-min-blasts-pct                    isolated BM relapse: blasts >= N % (§2)
site-combined-marrow-min-blasts-pct                    combined: EM site and blasts > N % (§2)
relapse-marrow-window-days                             marrow count within N days of relapse (ours)
bfm-stratum (repeated, "timepoint|site|Sx")            BFM stratum table (§2, terminology.md §8)
age-min-years, age-max-years                           completed years, inclusive (§1)
apheresis-cd3-min-{no,moderate,high}-blasts-per-ul     CD3+ thresholds 300/500/1000 per uL (§3)
apheresis-moderate-blasts-{lower,upper}-pct            "moderate" = > lower and < upper (§3)
apheresis-blasts-nogo-pct                              no apheresis at or above (§3)
apheresis-blood-counts-required, -hb-min-g-l,          Blokhin Hb > 90 g/L, platelets > 50e9/L
apheresis-platelets-min-10e9-l                         (§3 [S22])
cd3-lymphocytes                                        protocol has CD3+ lymphocytes (§3)
pre-course-blasts-cut-pct, day15-blasts-cut-pct,       prognostic cuts and their cohort figures
*-figures-below / *-figures-above                      (§6)
adverse-fusions, exclusion-fusions                     named fusions (§6, §1)
early-death-days                                       death in induction window (§7)
schedule-tolerance-days                                +-N days for scheduled items (placeholder: 2)
response-window-courses                                best response within courses 1..N (§4-§5: 2)
pre-course-blasts-window-days                          marrow <= N days before day 1 (placeholder)
pre-course-blasts-signal, day15-blasts-signal          show the signal whose figures come from
                                                       this protocol's cohort (§6)
{weight,height,bsa}-plausible-{min,max}-*              physiological ranges before dosing
                                                       (placeholders: > min and <= max)
dose-deviation-tolerance-pct                           delivered vs planned ug/d (ours: 10 %)
dose-critical-above-plan-factor                        dose >= N x plan is an error (placeholder 2)
dosing-measurement-max-age-days                        weight/height/BSA <= N days before course
                                                       day 1, else a warning (placeholder: 7)
efs-censor-at                                          ``last-follow-up`` | ``as-of`` (ours, §7)
=====================================================  ===========================================

A parameter whose ``source`` starts with ``PLACEHOLDER`` is a ball-fhir choice where
protocol.md is silent (:attr:`Protocol.placeholders`); findings that use one carry its value
like any other.

Per course action: ``dose-bsa-ug-m2-d``, ``dose-flat-ug-d``, ``dose-cap-ug-d`` on each dose step;
``cd3-infusion-days``, ``intrathecal-days``, ``response-assessment-days`` repeat (for readers) the
``timing-daysOfCycle`` days the engine reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from adapter.datafiles import profiles_dir
from adapter.fhir import CANONICAL, Resource, sd_url
from adapter.iscn import Knowledge, load_knowledge
from adapter.issues import UsageError

#: Extension carrying one named protocol parameter (name, value[x], source).
EXT_PROTOCOL_PARAMETER = sd_url("protocol-parameter")
#: FHIR core extension for day timing within a cycle (used by the KDN5 example PlanDefinition).
EXT_DAYS_OF_CYCLE = "http://hl7.org/fhir/StructureDefinition/timing-daysOfCycle"
#: Expression language of our named rules (see the docstring of adapter/protocol/rules/).
RULE_LANGUAGE = "text/x-ball-fhir-rule"
PLAN_DEFINITION_TYPE = "http://terminology.hl7.org/CodeSystem/plan-definition-type"
DEFAULT_PROTOCOL = "all-rez-2016"

ParamValue = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Param:
    """One protocol parameter as published: its value and the source it cites."""

    name: str
    value: ParamValue
    source: str


@dataclass(frozen=True, slots=True)
class DoseStep:
    """One blinatumomab dose step of a course (protocol.md §4)."""

    action_id: str
    first_day: int
    last_day: int
    bsa_ug_m2_d: float
    flat_ug_d: float
    cap_ug_d: float


@dataclass(frozen=True, slots=True)
class Course:
    """One course strategy: dose steps and the course days of the other actions."""

    number: int
    url: str
    steps: tuple[DoseStep, ...]
    cd3_days: tuple[int, ...]
    intrathecal_days: tuple[int, ...]
    assessment_days: tuple[int, ...]

    def step_for_day(self, day: int) -> DoseStep | None:
        for step in self.steps:
            if step.first_day <= day <= step.last_day:
                return step
        return None


@dataclass(frozen=True)
class Protocol:
    """A loaded protocol: the pathway's parameters plus its courses, all read from content."""

    id: str
    url: str
    title: str
    params: Mapping[str, Param]
    courses: Mapping[int, Course]
    #: gene loci and named fusions (adapter.iscn) the cytogenetics rules read with
    knowledge: Knowledge
    recommendation_rules: tuple[str, ...] = ()
    strata: tuple[tuple[str, str, str], ...] = field(default=())
    _decimals: dict[str, Decimal] = field(default_factory=dict, compare=False, repr=False)
    _numbers: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    def num(self, name: str) -> float:
        """A number parameter (read once per protocol)."""
        cached = self._numbers.get(name)
        if cached is not None:
            return cached
        value = self._get(name).value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"protocol {self.id}: parameter {name} is not a number")
        self._numbers[name] = float(value)
        return float(value)

    def dec(self, name: str) -> Decimal:
        """A number parameter as an exact Decimal (read once per protocol)."""
        value = self._decimals.get(name)
        if value is None:
            value = self._decimals[name] = Decimal(str(self.num(name)))
        return value

    def int_(self, name: str) -> int:
        return int(self.num(name))

    def text(self, name: str) -> str:
        return str(self._get(name).value)

    def flag(self, name: str) -> bool:
        value = self._get(name).value
        return value if isinstance(value, bool) else str(value).lower() == "true"

    @property
    def placeholders(self) -> tuple[str, ...]:
        """Names of the parameters marked as placeholders (source starts with PLACEHOLDER)."""
        return tuple(n for n, p in self.params.items() if p.source.startswith("PLACEHOLDER"))

    def used(self, *names: str) -> dict[str, ParamValue]:
        """The values of the named parameters, for a finding's ``parameters``."""
        return {n: self.params[n].value for n in names if n in self.params}

    def _get(self, name: str) -> Param:
        try:
            return self.params[name]
        except KeyError:
            raise UsageError(f"protocol {self.id}: parameter {name} missing from content") from None


def _param(ext: Resource) -> Param | None:
    if ext.get("url") != EXT_PROTOCOL_PARAMETER:
        return None
    name: str | None = None
    value: ParamValue | None = None
    source = ""
    for sub in ext.get("extension", []):
        if sub.get("url") == "name":
            name = sub.get("valueCode")
        elif sub.get("url") == "source":
            source = str(sub.get("valueString", ""))
        elif sub.get("url") == "value":
            for key in ("valueDecimal", "valueInteger", "valueBoolean", "valueString", "valueCode"):
                if key in sub:
                    value = sub[key]
                    break
    if name is None or value is None:
        return None
    return Param(name, value, source)


def _params(element: Resource) -> dict[str, Param]:
    out: dict[str, Param] = {}
    for ext in element.get("extension", []):
        p = _param(ext)
        if p is not None:
            out[p.name] = p
    return out


def _multi(element: Resource, name: str) -> list[Param]:
    return [p for e in element.get("extension", []) if (p := _param(e)) and p.name == name]


def _days(action: Resource) -> tuple[int, ...]:
    for ext in action.get("extension", []):
        if ext.get("url") == EXT_DAYS_OF_CYCLE:
            return tuple(
                int(sub["valueInteger"])
                for sub in ext.get("extension", [])
                if sub.get("url") == "day" and "valueInteger" in sub
            )
    return ()


def _walk(actions: Iterable[Resource]) -> Iterable[Resource]:
    for action in actions:
        yield action
        yield from _walk(action.get("action", []))


def _type(resource: Resource) -> str | None:
    for c in (resource.get("type") or {}).get("coding", []):
        if c.get("system") == PLAN_DEFINITION_TYPE:
            return str(c.get("code"))
    return None


def _course(number: int, pd: Resource) -> Course:
    steps: list[DoseStep] = []
    cd3: tuple[int, ...] = ()
    it: tuple[int, ...] = ()
    assess: tuple[int, ...] = ()
    for action in _walk(pd.get("action", [])):
        aid = action.get("id", "")
        days = _days(action)
        params = _params(action)
        if "dose-bsa-ug-m2-d" in params:
            if not days:
                raise UsageError(f"{pd.get('url')}: dose action {aid} has no daysOfCycle")
            steps.append(
                DoseStep(
                    aid,
                    min(days),
                    max(days),
                    float(params["dose-bsa-ug-m2-d"].value),
                    float(params["dose-flat-ug-d"].value),
                    float(params["dose-cap-ug-d"].value),
                )
            )
        elif aid == "cd3-infusion":
            cd3 = days
        elif aid == "intrathecal":
            it = days
        elif aid == "response-assessment":
            assess = days
    steps.sort(key=lambda s: s.first_day)
    return Course(number, str(pd.get("url")), tuple(steps), cd3, it, assess)


#: Parameters whose value is a comma-separated list of fusion names of the knowledge.
FUSION_LIST_PARAMETERS = ("adverse-fusions", "exclusion-fusions")


def fusion_names(value: ParamValue) -> list[str]:
    """The fusion names of an ``adverse-fusions`` / ``exclusion-fusions`` value."""
    return [n.strip() for n in str(value).split(",") if n.strip()]


#: Parameters whose value is one of a closed set of words.
CHOICE_PARAMETERS: Mapping[str, tuple[str, ...]] = {
    "efs-censor-at": ("last-follow-up", "as-of"),
}


def _check_choices(url: object, params: Mapping[str, Param]) -> None:
    for name, allowed in CHOICE_PARAMETERS.items():
        if name in params and params[name].value not in allowed:
            raise UsageError(
                f"{url}: {name} is {params[name].value!r}, not one of {', '.join(allowed)}"
            )


def _check_fusions(url: object, params: Mapping[str, Param], knowledge: Knowledge) -> None:
    known = {f.name for f in knowledge.fusions}
    for name in FUSION_LIST_PARAMETERS:
        if name in params:
            unknown = [n for n in fusion_names(params[name].value) if n not in known]
            if unknown:
                raise UsageError(
                    f"{url}: {name} names {', '.join(unknown)}, not a fusion of the gene "
                    f"knowledge (mappings/iscn/gene-loci.yaml: {', '.join(sorted(known))})"
                )


def load_protocols(resources: Iterable[Resource], knowledge: Knowledge) -> dict[str, Protocol]:
    """Build every protocol found among the given content resources, keyed by pathway id.

    ``knowledge`` (:func:`adapter.iscn.load_knowledge`) is carried by every protocol.  Raises
    :class:`UsageError` when a pathway references content that is not there, a parameter cannot
    be read or names a fusion the knowledge does not know: the engine cannot start on broken
    content.
    """
    by_url: dict[str, Resource] = {}
    pathways: list[Resource] = []
    for r in resources:
        if r.get("resourceType") not in ("PlanDefinition", "ActivityDefinition"):
            continue
        if r.get("url"):
            by_url[str(r["url"])] = r
        if r.get("resourceType") == "PlanDefinition" and _type(r) == "clinical-protocol":
            pathways.append(r)
    out: dict[str, Protocol] = {}
    for pw in pathways:
        courses: dict[int, Course] = {}
        rules: list[str] = []
        for action in pw.get("action", []):
            target = by_url.get(str(action.get("definitionCanonical", "")))
            aid = str(action.get("id", ""))
            if target is None:
                raise UsageError(f"{pw.get('url')}: action {aid} references missing content")
            if aid.startswith("course-"):
                n = int(aid.removeprefix("course-"))
                courses[n] = _course(n, target)
            elif _type(target) == "eca-rule":
                for ra in _walk(target.get("action", [])):
                    for cond in ra.get("condition", []):
                        expr = cond.get("expression") or {}
                        if expr.get("language") == RULE_LANGUAGE:
                            rules.append(str(expr.get("expression")))
        strata = []
        for p in _multi(pw, "bfm-stratum"):
            parts = str(p.value).split("|")
            if len(parts) != 3:
                raise UsageError(f"{pw.get('url')}: bad bfm-stratum {p.value!r}")
            strata.append((parts[0], parts[1], parts[2]))
        params = _params(pw)
        params.pop("bfm-stratum", None)
        _check_fusions(pw.get("url"), params, knowledge)
        _check_choices(pw.get("url"), params)
        pid = str(pw["id"])
        out[pid] = Protocol(
            id=pid,
            url=str(pw.get("url", f"{CANONICAL}/PlanDefinition/{pid}")),
            title=str(pw.get("title", pid)),
            params=params,
            courses=courses,
            knowledge=knowledge,
            recommendation_rules=tuple(rules),
            strata=tuple(strata),
        )
    return out


def default_content_dir() -> Path:
    """Where the content lives: the authored ``profiles/input/resources`` in a checkout (the
    source of truth; the package may be stale until rebuilt), else the published package."""
    profiles = profiles_dir()
    for candidate in (profiles / "input" / "resources", profiles / "package"):
        if any(candidate.glob("PlanDefinition-*.json")):
            return candidate
    return profiles / "input" / "resources"


def read_content_folder(folder: Path) -> list[Resource]:
    """Read every ``PlanDefinition-*.json`` and ``ActivityDefinition-*.json`` of a folder."""
    paths = sorted(folder.glob("PlanDefinition-*.json")) + sorted(
        folder.glob("ActivityDefinition-*.json")
    )
    if not paths:
        raise UsageError(f"no protocol content in {folder}")
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]


def load_protocols_from_folder(
    folder: Path, knowledge: Knowledge | None = None
) -> dict[str, Protocol]:
    """:func:`load_protocols` over the content of a folder (``profiles/input/resources``).

    ``knowledge`` defaults to :func:`adapter.iscn.load_knowledge` (``mappings/iscn/
    gene-loci.yaml`` of the checkout); the edges pass the one of ``$BALL_FHIR_MAPPINGS``.
    """
    return load_protocols(
        read_content_folder(folder), load_knowledge() if knowledge is None else knowledge
    )
