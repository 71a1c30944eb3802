"""Clinical events -> Conditions, Procedures, CarePlan, risk group, demographics, death, follow-up.

Canonical fields (default site reads exactly these headers): ``patient_id, event, date, sites,
marrow_blasts, immunophenotype, protocol, risk_group, donor_type, sex, note``; one row per event.
``event`` (after the site vocabulary) is one of :data:`EVENTS`:

- ``birth``: Patient.birthDate (an R4 ``date``: a time of day in the cell is dropped, with a
  warning) and, from the row's ``sex`` column (after the site's ``sex`` vocabulary), Patient.gender,
  a FHIR AdministrativeGender code (table ``administrative_genders``).  The demographics go on the
  Patient of this Bundle, the one POSTed with ``ifNoneExist``: a server that already holds the
  Patient keeps its own record (conditional create does not update it).  protocol.md §1: the age
  eligibility (1-18 years) needs the birth date.

- ``diagnosis``: Condition 277571004 (contract.md "B-ALL, initial diagnosis"), onsetDateTime; the
  immunophenotype as recorded goes to ``note`` (no verified code, terminology.md 9).
- ``relapse``: Condition 277571004 with clinicalStatus ``relapse``, onsetDateTime, bodySite per
  site in ``sites`` (``;``-separated keys of the table's ``relapse_sites``); ``marrow_blasts`` (%)
  becomes an Observation 11150-0 on a bone-marrow Specimen of that day, cited as evidence.
- ``frontline-end``: Procedure ``frontline-therapy`` (ball-concepts), performedPeriod.end.
- ``protocol``: CarePlan instantiatesCanonical our PlanDefinition (table ``protocols``),
  period.start; status ``unknown`` (the source records the assignment, not the plan's state).
- ``risk-group``: Observation C167435 NCIt (mCODE ALLRiskAssessment shape) valued S1..S5
  (ball-concepts) as recorded, never derived (protocol.md 2); focus -> the file's latest relapse.
- ``hsct``: Procedure 234336002 (contract.md, 2nd) with the donor type (table ``donor_types``,
  ball-concepts) in extension ball-hsct-donor-type.
- ``death``: Patient.deceasedDateTime.
- ``follow-up``: Observation ``follow-up`` (ball-concepts) dated at the last follow-up contact.

Checks (issue 5): a relapse or any other event before the initial diagnosis, any event after the
death date (dates from this file and the context Bundles), any event before the birth date, a
second diagnosis, death or birth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from adapter.fhir import (
    BALL_CONCEPTS,
    CONDITION_CATEGORY,
    CONDITION_CLINICAL,
    LOINC,
    OBSERVATION_CATEGORY,
    PROFILE_LAB,
    PROFILE_SPECIMEN,
    SNOMED,
    Resource,
    concept,
    deterministic_id,
    ref,
)
from adapter.mapping.bundle import BundleBuilder, MapResult
from adapter.mapping.treatment.common import (
    EXT_DONOR_TYPE,
    NCIT,
    PROFILE_CAREPLAN,
    PROFILE_CONDITION,
    PROFILE_FOLLOW_UP,
    PROFILE_FRONTLINE,
    PROFILE_HSCT,
    PROFILE_RISK_GROUP,
    Checked,
    RowCheck,
    check_file,
    day,
    live,
    patient_key,
    ucum,
)
from adapter.mapping.treatment.context import TreatmentContext
from adapter.mapping.treatment.tables import TreatmentTables
from adapter.sources.delimited import Fields, Row
from adapter.sources.site import EventsSource, SiteConfig

REQUIRED = ("patient_id", "event", "date")
FIELDS = Fields(
    kind="events",
    required=frozenset(REQUIRED),
    optional=frozenset(
        {
            "sites",
            "marrow_blasts",
            "immunophenotype",
            "protocol",
            "risk_group",
            "donor_type",
            "sex",
            "note",
        }
    ),
)
EVENTS = (
    "birth",
    "diagnosis",
    "relapse",
    "frontline-end",
    "protocol",
    "risk-group",
    "hsct",
    "death",
    "follow-up",
)
SCT_B_ALL = ("277571004", "B-cell acute lymphoblastic leukemia (disorder)")  # contract.md
#: Condition.category of the B-ALL condition: mCODE 4.0.0 mcode-primary-cancer-condition (our
#: parent) requires its slice ``category:us-core`` (1..*, required binding to US Core
#: problem-or-health-concern); mCODE's own B-ALL example
#: (Condition-primary-cancer-condition-brian-l) and our profile's pattern (SD_BallTreatment.fsh)
#: use condition-category#problem-list-item; the display is THO's (hl7.terminology.r4 7.0.1
#: CodeSystem condition-category).
CONDITION_PROBLEM_LIST_ITEM = ("problem-list-item", "Problem List Item")
SCT_HSCT = ("234336002", "Hemopoietic stem cell transplant")  # contract.md (2nd)
NCIT_LEUKEMIA_FINDING = ("C167435", "Leukemia Finding")  # mCODE ALLRiskAssessment


@dataclass(frozen=True, slots=True)
class Event:
    row: int
    patient_id: str
    event: str
    when: str
    sites: tuple[str, ...] = ()
    marrow_blasts: Decimal | None = None
    immunophenotype: str | None = None
    protocol: str | None = None
    risk_group: str | None = None
    donor_type: str | None = None
    note: str | None = None
    sex: str | None = None


def check_event_row(
    row: Row, site: SiteConfig, section: EventsSource, tables: TreatmentTables
) -> Checked[Event]:
    check = RowCheck.start(row, site, section, REQUIRED)
    event = check.choice("event", EVENTS, "event-unknown")
    when = check.when("date")
    sites: list[str] = []
    table = section.vocabularies.get("sites", {})
    for raw in (s.strip() for s in row.values.get("sites", "").split(";")):
        if not raw:
            continue
        key = table.get(raw, raw)
        if key not in tables.relapse_sites:
            check.error(
                "relapse-site-unknown",
                "sites",
                f"relapse site {raw!r} is not one of {', '.join(tables.relapse_sites)}",
                "code-invalid",
            )
        else:
            sites.append(key)
    blasts = check.percent("marrow_blasts")
    protocol = check.choice("protocol", tables.protocols, "protocol-unknown")
    risk = check.choice("risk_group", tables.risk_groups, "risk-group-unknown")
    donor = check.choice("donor_type", tables.donor_types, "donor-type-unknown")
    needs = {"protocol": protocol, "risk-group": risk}
    column = {"protocol": "protocol", "risk-group": "risk_group"}
    if event in needs and needs[event] is None and not check.failed:
        check.error(
            "required-cell", column[event], f"a {event} event needs {column[event]}", "required"
        )
    given = {n for n in ("sites", "marrow_blasts") if row.values.get(n)}
    if given and event not in (None, "relapse"):
        check.warn(
            "value-ignored",
            sorted(given)[0],
            f"{', '.join(sorted(given))} only belong to a relapse event; ignored",
        )
    sex = None
    if event == "birth":
        sex = check.choice("sex", tables.administrative_genders, "sex-unknown")
    elif row.values.get("sex") and event is not None:
        check.warn("value-ignored", "sex", "sex only belongs to a birth event; ignored")
    if event == "birth" and when is not None and len(when) > len("YYYY-MM-DD"):
        check.warn(
            "birth-time-dropped",
            "date",
            f"birth {when}: Patient.birthDate is a date, the time of day is not kept",
        )
    if check.failed or event is None or when is None:
        return Checked(check, None)
    return Checked(
        check,
        Event(
            row.number,
            row.values["patient_id"],
            event,
            when,
            tuple(sites),
            blasts if event == "relapse" else None,
            check.text("immunophenotype") or None,
            protocol,
            risk,
            donor,
            row.values.get("note") or None,
            sex,
        ),
    )


@dataclass(slots=True)
class _Timeline:
    diagnosis: date | None = None
    diagnosis_row: int | None = None
    death: date | None = None
    death_row: int | None = None
    birth: date | None = None
    birth_row: int | None = None
    relapses: list[tuple[date, Event]] = field(default_factory=list)


def map_events(
    data: bytes,
    source_name: str,
    site: SiteConfig,
    recorded: str,
    tables: TreatmentTables,
    context: TreatmentContext,
) -> MapResult:
    batch = check_file(data, source_name, site, recorded, FIELDS, (), check_event_row, tables)
    timelines = _check_order(batch.checked, site, context)

    def add(builder: BundleBuilder, ev: Event) -> None:
        patient = builder.add_patient(
            site.patient_identifier_system, ev.patient_id, [ev.row]
        ).resource
        if ev.event == "death":
            patient["deceasedDateTime"] = ev.when
            return
        if ev.event == "birth":
            patient["birthDate"] = day(ev.when).isoformat()
            if ev.sex:
                patient["gender"] = ev.sex
            return
        tl = timelines.get(ev.patient_id)
        for resource in to_fhir_event(site, tables, ev, tl.relapses if tl else []):
            builder.put(resource, [ev.row])

    return batch.build(add)


def _check_order(
    checked: list[Checked[Event]], site: SiteConfig, context: TreatmentContext
) -> dict[str, _Timeline]:
    """Events in impossible order: before birth or the initial diagnosis, after death; second
    ones."""
    timelines: dict[str, _Timeline] = {}
    for item, ev in live(checked):
        tl = timelines.setdefault(ev.patient_id, _Timeline())
        for kind in ("diagnosis", "death", "birth"):
            if ev.event != kind:
                continue
            known_row = getattr(tl, f"{kind}_row")
            if known_row is not None:
                item.error(
                    f"second-{kind}",
                    "event",
                    f"a second {kind} for this patient (first on row {known_row})",
                    "duplicate",
                )
            else:
                setattr(tl, kind, day(ev.when))
                setattr(tl, f"{kind}_row", ev.row)
    for pid, tl in timelines.items():
        facts = context.of(patient_key(site, pid))
        if tl.diagnosis is None:
            tl.diagnosis = facts.diagnosis
        if tl.death is None:
            tl.death = facts.death
    for item, ev in live(checked):
        tl = timelines[ev.patient_id]
        when = day(ev.when)
        if ev.event != "birth" and tl.birth is not None and when < tl.birth:
            item.error(
                "event-before-birth",
                "date",
                f"{ev.event} on {ev.when} is before the birth date {tl.birth}",
            )
        if (
            ev.event not in ("diagnosis", "birth")
            and tl.diagnosis is not None
            and when < tl.diagnosis
        ):
            rule = "relapse-before-diagnosis" if ev.event == "relapse" else "event-before-diagnosis"
            item.error(
                rule,
                "date",
                f"{ev.event} on {ev.when} is before the initial diagnosis {tl.diagnosis}",
            )
        elif ev.event == "relapse" and tl.diagnosis is None:
            item.warn(
                "diagnosis-unknown",
                "date",
                "no initial diagnosis in this file or the context: the order of relapse "
                "and diagnosis could not be checked",
            )
        if ev.event != "death" and tl.death is not None and when > tl.death:
            item.error(
                "event-after-death",
                "date",
                f"{ev.event} on {ev.when} is after the death date {tl.death}",
            )
    for _item, ev in live(checked):
        if ev.event == "relapse":
            timelines[ev.patient_id].relapses.append((day(ev.when), ev))
    for tl in timelines.values():
        tl.relapses.sort(key=lambda r: (r[0], r[1].row))
    return timelines


def _id(site: SiteConfig, rtype: str, ev: Event, *keys: str) -> str:
    return deterministic_id(rtype, site.patient_identifier_system, ev.patient_id, ev.event, *keys)


def _condition_id(site: SiteConfig, ev: Event) -> str:
    keys = () if ev.event == "diagnosis" else (ev.when,)
    return _id(site, "Condition", ev, *keys)


def to_fhir_event(
    site: SiteConfig, tables: TreatmentTables, ev: Event, relapses: list[tuple[date, Event]]
) -> list[Resource]:
    """The resources of one event (death is a Patient field, see map_events)."""
    subject = ref(patient_key(site, ev.patient_id))
    notes = [{"text": ev.note}] if ev.note else []
    if ev.event in ("diagnosis", "relapse"):
        return _condition(site, tables, ev, subject, notes)
    res: Resource
    if ev.event == "frontline-end":
        res = {
            "resourceType": "Procedure",
            "id": _id(site, "Procedure", ev),
            "meta": {"profile": [PROFILE_FRONTLINE]},
            "status": "completed",
            "code": concept(BALL_CONCEPTS, "frontline-therapy", "Front-line therapy"),
            "subject": subject,
            "performedPeriod": {"end": ev.when},
        }
    elif ev.event == "hsct":
        res = {
            "resourceType": "Procedure",
            "id": _id(site, "Procedure", ev, ev.when),
            "meta": {"profile": [PROFILE_HSCT]},
        }
        if ev.donor_type:
            res["extension"] = [
                {
                    "url": EXT_DONOR_TYPE,
                    "valueCodeableConcept": concept(
                        BALL_CONCEPTS, ev.donor_type, tables.donor_types[ev.donor_type]
                    ),
                }
            ]
        res.update(
            {
                "status": "completed",
                "code": concept(SNOMED, *SCT_HSCT),
                "subject": subject,
                "performedDateTime": ev.when,
            }
        )
    elif ev.event == "protocol" and ev.protocol is not None:
        res = {
            "resourceType": "CarePlan",
            "id": _id(site, "CarePlan", ev, ev.protocol, ev.when),
            "meta": {"profile": [PROFILE_CAREPLAN]},
            "instantiatesCanonical": [tables.protocols[ev.protocol]],
            "status": "unknown",
            "intent": "plan",
            "subject": subject,
            "period": {"start": ev.when},
        }
    elif ev.event == "risk-group" and ev.risk_group is not None:
        res = {
            "resourceType": "Observation",
            "id": _id(site, "Observation", ev, ev.when),
            "meta": {"profile": [PROFILE_RISK_GROUP]},
            "status": "final",
            "code": concept(NCIT, *NCIT_LEUKEMIA_FINDING),
            "subject": subject,
        }
        earlier = [e for d, e in relapses if d <= day(ev.when)]
        if earlier:
            res["focus"] = [ref(_condition_id(site, earlier[-1]))]
        res.update(
            {
                "effectiveDateTime": ev.when,
                "valueCodeableConcept": concept(
                    BALL_CONCEPTS, ev.risk_group, f"Relapse risk group {ev.risk_group}"
                ),
            }
        )
    else:  # follow-up
        res = {
            "resourceType": "Observation",
            "id": _id(site, "Observation", ev, ev.when),
            "meta": {"profile": [PROFILE_FOLLOW_UP]},
            "status": "final",
            "code": concept(BALL_CONCEPTS, "follow-up", "Follow-up contact"),
            "subject": subject,
            "effectiveDateTime": ev.when,
        }
    if notes:
        res["note"] = notes
    return [res]


def _condition(
    site: SiteConfig,
    tables: TreatmentTables,
    ev: Event,
    subject: dict[str, Any],
    notes: list[dict[str, str]],
) -> list[Resource]:
    cond: Resource = {
        "resourceType": "Condition",
        "id": _condition_id(site, ev),
        "meta": {"profile": [PROFILE_CONDITION]},
    }
    if ev.event == "relapse":
        cond["clinicalStatus"] = concept(CONDITION_CLINICAL, "relapse", "Relapse")
    cond["category"] = [concept(CONDITION_CATEGORY, *CONDITION_PROBLEM_LIST_ITEM)]
    cond["code"] = concept(SNOMED, *SCT_B_ALL)
    if ev.sites:
        cond["bodySite"] = [
            concept(SNOMED, tables.relapse_sites[s].code, tables.relapse_sites[s].display)
            for s in ev.sites
        ]
    cond.update({"subject": subject, "onsetDateTime": ev.when})
    if ev.immunophenotype:
        notes = [{"text": f"Immunophenotype: {ev.immunophenotype}"}, *notes]
    out = [cond]
    if ev.marrow_blasts is not None:
        spec_id = _id(site, "Specimen", ev, ev.when, "marrow")
        obs_id = _id(site, "Observation", ev, ev.when, "11150-0")
        out.append(
            {
                "resourceType": "Specimen",
                "id": spec_id,
                "meta": {"profile": [PROFILE_SPECIMEN]},
                "type": concept(BALL_CONCEPTS, "bone-marrow", "Bone marrow specimen"),
                "subject": subject,
                "collection": {
                    "collectedDateTime": ev.when,
                    "bodySite": concept(SNOMED, "14016003", "Bone marrow structure"),
                },
            }
        )
        out.append(
            {
                "resourceType": "Observation",
                "id": obs_id,
                "meta": {"profile": [PROFILE_LAB]},
                "status": "final",
                "category": [concept(OBSERVATION_CATEGORY, "laboratory", "Laboratory")],
                "code": concept(LOINC, "11150-0", "Blasts/100 cells in Bone marrow"),
                "subject": subject,
                "effectiveDateTime": ev.when,
                "valueQuantity": ucum(ev.marrow_blasts, "%"),
                "specimen": ref(spec_id),
            }
        )
        cond["evidence"] = [{"detail": [ref(obs_id)]}]
    if notes:
        cond["note"] = notes
    return out
