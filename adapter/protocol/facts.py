"""Per-patient facts read from a Bundle, with the codes of contract.md "Concepts".

Each fact keeps the resource it came from so every finding can cite its evidence.  Code tables
here cite contract.md (and terminology.md for the V-src RxNorm rows); gene and fusion codes are
the knowledge of adapter.iscn, read in adapter/protocol/cytogenetics.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapter.fhir import BALL_CONCEPTS, LOINC, RXNORM, SNOMED, Resource
from adapter.protocol.bundle import (
    BundleIndex,
    Date,
    codings,
    effective_date,
    has_code,
    onset_date,
    parse_date,
    period_dates,
)

# contract.md "Concepts"
SCT_B_ALL = "277571004"
SCT_BONE_MARROW = "14016003"
SCT_CNS = ("21483005", "12738006", "2748008")  # CNS; brain and spinal cord (terminology.md §5.2)
SCT_TESTIS = "40689003"
SCT_INTRATHECAL = "72607000"
EDQM = "http://standardterms.edqm.eu"
EDQM_INTRATHECAL = "20042000"  # terminology.md §5.3 (V-src)
LOINC_MARROW_BLASTS = "11150-0"
LOINC_BLOOD_BLASTS = "26446-5"
LOINC_CD3 = "8122-4"
LOINC_HB = "718-7"
LOINC_PLATELETS = "777-3"
LOINC_WEIGHT = "29463-7"
LOINC_HEIGHT = "8302-2"
LOINC_BSA = "8277-6"
LOINC_KARYOTYPE = "62356-1"
LOINC_VARIANT = "69548-6"
LOINC_GENE_STUDIED = "48018-6"
LOINC_PRESENT = "LA9633-4"
LOINC_ABSENT = "LA9634-2"
LOINC_DISEASE_STATUS = "97509-4"
SCT_FULL_REMISSION = "550991000124107"
#: CancerDiseaseStatus values meaning "no remission" (contract.md: improved, stable, worsened).
SCT_NOT_IN_REMISSION = ("268910001", "359746009", "271299001")
NCIT_LEUKEMIA_FINDING = "C167435"
BALL_MRD = "mrd-flow"
BALL_FRONTLINE = "frontline-therapy"
BALL_CD3_INFUSION = "cd3-autologous-infusion"
BALL_CD3_APHERESIS = "cd3-apheresis"
#: the last follow-up contact (ball-concepts; adapter/mapping/treatment/events.py)
BALL_FOLLOW_UP = "follow-up"
SCT_HSCT = "234336002"
#: RxNorm blinatumomab concepts: contract.md (1597258, 1597267) + terminology.md §5.4 (V-src).
RX_BLINATUMOMAB = (
    "1597258",
    "1597267",
    "1597260",
    "1597262",
    "1597263",
    "1597266",
    "1651249",
    "1651250",
    "1651252",
    "1651253",
)
MCODE_NORMALIZATION_BASIS = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-normalization-basis"
)
SCT_BASIS_BSA = "301898006"
SCT_BASIS_FIXED = "1157245009"


@dataclass(slots=True)
class Dated:
    resource: Resource
    date: Date | None


@dataclass
class PatientFacts:
    """Everything the rules read for one patient."""

    patient: Resource
    ref: str
    birth_date: Date | None = None
    gender: str | None = None
    deceased: Date | None = None
    diagnosis: Dated | None = None
    relapses: list[Dated] = field(default_factory=list)
    end_of_therapy: Dated | None = None
    obs: dict[str, list[Dated]] = field(default_factory=dict)
    mrd: list[Dated] = field(default_factory=list)
    fusions: list[Dated] = field(default_factory=list)
    karyotypes: list[Dated] = field(default_factory=list)
    disease_status: list[Dated] = field(default_factory=list)
    risk: list[Dated] = field(default_factory=list)
    blinatumomab: list[Resource] = field(default_factory=list)
    intrathecal: list[Dated] = field(default_factory=list)
    cd3_infusions: list[Dated] = field(default_factory=list)
    #: CD3+ apheresis Procedures (contract.md "CD3+ lymphocyte apheresis"), by date
    apheresis: list[Dated] = field(default_factory=list)
    #: follow-up contact Observations (ball-concepts ``follow-up``), by date
    follow_ups: list[Dated] = field(default_factory=list)
    hsct: list[Dated] = field(default_factory=list)
    careplans: list[Resource] = field(default_factory=list)

    def observations(self, loinc: str) -> list[Dated]:
        return self.obs.get(loinc, [])

    def latest(self, loinc: str, on_or_before: Date | None) -> Dated | None:
        """The latest Observation with this code dated on or before the day (any day if None)."""
        best: Dated | None = None
        for d in self.observations(loinc):
            if d.date is None or (on_or_before is not None and d.date > on_or_before):
                continue
            if best is None or (best.date is not None and d.date >= best.date):
                best = d
        return best


_OBS_CODES = (
    LOINC_MARROW_BLASTS,
    LOINC_BLOOD_BLASTS,
    LOINC_CD3,
    LOINC_HB,
    LOINC_PLATELETS,
    LOINC_WEIGHT,
    LOINC_HEIGHT,
    LOINC_BSA,
)


_OBS_CODE_SET = frozenset(_OBS_CODES)

#: Observation codes -> the PatientFacts list they go to (a LOINC of _OBS_CODES: ``obs[code]``)
_OBS_KINDS: dict[tuple[str, str], str] = {
    (BALL_CONCEPTS, BALL_MRD): "mrd",
    (BALL_CONCEPTS, BALL_FOLLOW_UP): "follow_ups",
    (LOINC, LOINC_VARIANT): "fusions",
    (LOINC, LOINC_KARYOTYPE): "karyotypes",
    (LOINC, LOINC_DISEASE_STATUS): "disease_status",
    **{(LOINC, c): c for c in _OBS_CODES},
}


def _observation_kind(code: object) -> str | None:
    """Where an Observation goes, by its first coding we know (None: not read).  Fast path for
    the usual CodeableConcept whose codings have string codes and systems without a trailing
    ``/``; anything else is read by :func:`codings`, which normalises both."""
    if not isinstance(code, dict):
        return _observation_kind_normalised(code)
    for c in code.get("coding") or ():
        if not isinstance(c, dict) or c.get("code") is None:
            continue
        system, value = c.get("system") or "", c["code"]
        if not isinstance(value, str) or system.endswith("/"):
            return _observation_kind_normalised(code)
        kind = _OBS_KINDS.get((system, value))
        if kind is not None:
            return kind
        if value == NCIT_LEUKEMIA_FINDING:
            return "risk"
    return None


def _observation_kind_normalised(code: object) -> str | None:
    for pair in codings(code):
        kind = _OBS_KINDS.get(pair)
        if kind is not None:
            return kind
        if pair[1] == NCIT_LEUKEMIA_FINDING:
            return "risk"
    return None


def _is_relapse(condition: Resource) -> bool:
    return has_code(
        condition.get("clinicalStatus"),
        "http://terminology.hl7.org/CodeSystem/condition-clinical",
        "relapse",
    )


def medication_codes(index: BundleIndex, ma: Resource) -> list[tuple[str, str]]:
    if "medicationCodeableConcept" in ma:
        return list(codings(ma["medicationCodeableConcept"]))
    med = index.resolve(ma.get("medicationReference"))
    return list(codings(med.get("code"))) if med else []


def is_intrathecal(ma: Resource) -> bool:
    route = (ma.get("dosage") or {}).get("route")
    return has_code(route, SNOMED, SCT_INTRATHECAL) or has_code(route, EDQM, EDQM_INTRATHECAL)


def known_after(resource: Resource, day: Date | None, as_of: Date | None) -> bool:
    """Whether a result dated ``day`` (its clinically relevant time) became known only after
    ``as_of``: its day, or the day it was ``issued``, is later (Conditions, Procedures and
    MedicationAdministrations have no ``issued``: :func:`collect` compares their day alone).
    A marrow sampled on day 29 but reported on day 31 was not known on day 30: evaluating "as
    of" a date must not see it (issue 14, "Evaluation date cuts the data")."""
    if as_of is None:
        return False
    if day is not None and day > as_of:
        return True
    issued = resource.get("issued")
    if issued is None:
        return False
    reported = parse_date(issued)
    return reported is not None and reported > as_of


def collect(index: BundleIndex, as_of: Date | None = None) -> list[PatientFacts]:
    """Facts per Patient of the bundle, in bundle order, as they were known on ``as_of``.

    A resource belongs to the patient its ``subject``/``patient`` resolves to.  When the bundle
    holds exactly one Patient, resources without a resolvable subject are given to it.  With an
    ``as_of`` date, every dated fact known only after it (:func:`known_after`) is left out, and a
    death after it is not seen: nothing from the future changes a finding.  A blinatumomab bag
    that started on or before the date stays (the courses rule cuts its span at the date).
    """
    patients = index.resources("Patient")
    facts = [PatientFacts(p, index.ref(p)) for p in patients]
    by_id = {id(p): f for p, f in zip(patients, facts, strict=True)}
    for pf in facts:
        p = pf.patient
        pf.birth_date = parse_date(p.get("birthDate"))
        pf.gender = p.get("gender")
        pf.deceased = parse_date(p.get("deceasedDateTime"))
        if pf.deceased is not None and as_of is not None and pf.deceased > as_of:
            pf.deceased = None

    sole = facts[0] if len(facts) == 1 else None
    owners: dict[str, PatientFacts | None] = {}  # per reference string: resolved once

    def owner(resource: Resource) -> PatientFacts | None:
        subject = resource.get("subject") or resource.get("patient")
        ref = subject.get("reference") if isinstance(subject, dict) else None
        if not isinstance(ref, str):
            return sole
        if ref not in owners:
            target = index.resolve_reference(ref)
            owners[ref] = sole if target is None else by_id.get(id(target))
        return owners[ref]

    for cond in index.resources("Condition"):
        f = owner(cond)
        if f is None or not has_code(cond.get("code"), SNOMED, SCT_B_ALL):
            continue
        dated = Dated(cond, onset_date(cond))
        if as_of is not None and dated.date is not None and dated.date > as_of:
            continue
        if _is_relapse(cond):
            f.relapses.append(dated)
        elif f.diagnosis is None or (
            dated.date is not None and (f.diagnosis.date is None or dated.date < f.diagnosis.date)
        ):
            f.diagnosis = dated
    for proc in index.resources("Procedure"):
        f = owner(proc)
        day = effective_date(proc)
        if f is None or (as_of is not None and day is not None and day > as_of):
            continue
        code = proc.get("code")
        if has_code(code, BALL_CONCEPTS, BALL_FRONTLINE):
            end = period_dates(proc, "performedPeriod")[1]
            if end is None or as_of is None or end <= as_of:
                f.end_of_therapy = Dated(proc, end)
        elif has_code(code, BALL_CONCEPTS, BALL_CD3_INFUSION):
            f.cd3_infusions.append(Dated(proc, day))
        elif has_code(code, BALL_CONCEPTS, BALL_CD3_APHERESIS):
            if proc.get("status") not in ("entered-in-error", "not-done"):
                f.apheresis.append(Dated(proc, day))
        elif has_code(code, SNOMED, SCT_HSCT) and proc.get("status") not in (
            "entered-in-error",
            "not-done",
            "preparation",
        ):
            f.hsct.append(Dated(proc, day))
    dates: dict[str, Date | None] = {}  # a record dates many results the same day
    for obs in index.resources("Observation"):
        f = owner(obs)
        if f is None or obs.get("status") in ("entered-in-error", "cancelled"):
            continue
        kind = _observation_kind(obs.get("code"))
        if kind is None:
            continue
        when = obs.get("effectiveDateTime")
        if isinstance(when, str):
            if when not in dates:
                dates[when] = parse_date(when)
            day = dates[when]
        else:
            day = effective_date(obs)
        if known_after(obs, day, as_of):
            continue
        if kind in _OBS_CODE_SET:
            f.obs.setdefault(kind, []).append(Dated(obs, day))
        else:
            getattr(f, kind).append(Dated(obs, day))
    for ma in index.resources("MedicationAdministration"):
        f = owner(ma)
        if f is None or ma.get("status") in ("entered-in-error", "not-done"):
            continue
        day = effective_date(ma)
        if as_of is not None and day is not None and day > as_of:
            continue
        meds = medication_codes(index, ma)
        if is_intrathecal(ma):
            f.intrathecal.append(Dated(ma, day))
        elif any(s == RXNORM and c in RX_BLINATUMOMAB for s, c in meds):
            f.blinatumomab.append(ma)
    for cp in index.resources("CarePlan"):
        f = owner(cp)
        if f is not None:
            f.careplans.append(cp)
    for pf in facts:
        pf.relapses.sort(key=lambda d: (d.date is None, d.date))
        for lst in (
            *pf.obs.values(),
            pf.mrd,
            pf.disease_status,
            pf.risk,
            pf.fusions,
            pf.karyotypes,
            pf.apheresis,
            pf.follow_ups,
            pf.hsct,
        ):
            lst.sort(key=lambda d: (d.date is None, d.date))
    return facts
