"""Synthetic patient courses in contract.md shapes, for the cohort tests and the benchmark.

Every patient is one collection Bundle with urn:uuid references: diagnosis and relapse
Conditions, end of front-line therapy, marrow blasts, weight/height, one or two blinatumomab
courses, CD3+ infusions, intrathecal therapy, MRD, disease status, cytogenetics, death.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

BALL = "https://ball-fhir.org/fhir/CodeSystem/ball-concepts"
SCT = "http://snomed.info/sct"
LNC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
SITE_CODES = {"BM": "14016003", "CNS": "21483005", "testis": "40689003", "EM": "1231004"}
KARYOTYPES = {
    "t(12;21)": "46,XY,t(12;21)(p13;q22)[20]",
    "t(4;11)": "46,XX,t(4;11)(q21;q23)[20]",
    "t(1;19)": "46,XY,der(19)t(1;19)(q23;p13.3)[20]",
    "t(11;19)": "46,XY,t(11;19)(q23;p13.3)[20]",
    "t(9;11)": "46,XX,t(9;11)(p22;q23)[20]",
    "none": "46,XY[20]",
}


@dataclass
class Spec:
    """One synthetic patient."""

    key: str
    gender: str = "male"
    birth: dt.date = dt.date(2012, 1, 1)
    diagnosis: dt.date = dt.date(2018, 1, 1)
    end_of_therapy: dt.date | None = dt.date(2020, 3, 1)
    relapses: list[dt.date] = field(default_factory=lambda: [dt.date(2020, 5, 1)])
    sites: tuple[str, ...] = ("BM",)
    marrow_blasts: float = 80.0
    protocol: str = "all-rez-2016"
    course_start: dt.date = dt.date(2020, 7, 1)
    weight_kg: float = 30.0
    height_cm: float = 135.0
    response: str = "cr"  # cr | nr | none
    mrd_pct: float | None = 0.001
    death: dt.date | None = None
    later_relapse: dt.date | None = None
    translocation: str | None = "none"  # a KARYOTYPES key, or None for unknown
    #: course 2 (full dose, 14 days after course 1 ends) and its day-29 status: cr | nr
    course2: str | None = None
    mrd2_pct: float | None = None
    #: disease status "worsened" on this course-1 day (< 28): progression during the course
    progression_day: int | None = None
    hsct: dt.date | None = None
    #: the relapse risk group as recorded (S1..S5; protocol.md §2 keeps S5 as input)
    stratum: str | None = None


def bundle_for(s: Spec) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    n = 0

    def add(resource: dict[str, Any]) -> dict[str, str]:
        nonlocal n
        n += 1
        rid = f"{s.key}-{n}"
        resource["id"] = rid
        entries.append({"fullUrl": f"urn:uuid:{rid}", "resource": resource})
        return {"reference": f"urn:uuid:{rid}"}

    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "gender": s.gender,
        "birthDate": s.birth.isoformat(),
    }
    if s.death:
        patient["deceasedDateTime"] = s.death.isoformat()
    subj = add(patient)
    ball_code = {"coding": [{"system": SCT, "code": "277571004"}]}

    def status(code: str) -> dict[str, Any]:
        return {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": code}
            ]
        }

    add(
        {
            "resourceType": "Condition",
            "subject": subj,
            "clinicalStatus": status("remission"),
            "code": ball_code,
            "onsetDateTime": s.diagnosis.isoformat(),
        }
    )
    relapse_ref = None
    for i, r in enumerate([*s.relapses, *([s.later_relapse] if s.later_relapse else [])]):
        cond: dict[str, Any] = {
            "resourceType": "Condition",
            "subject": subj,
            "clinicalStatus": status("relapse"),
            "code": ball_code,
            "onsetDateTime": r.isoformat(),
        }
        if i < len(s.relapses):
            cond["bodySite"] = [
                {"coding": [{"system": SCT, "code": SITE_CODES[x]}]} for x in s.sites
            ]
        ref = add(cond)
        if i == len(s.relapses) - 1:
            relapse_ref = ref
    if s.end_of_therapy:
        add(
            {
                "resourceType": "Procedure",
                "status": "completed",
                "subject": subj,
                "code": {"coding": [{"system": BALL, "code": "frontline-therapy"}]},
                "performedPeriod": {
                    "start": s.diagnosis.isoformat(),
                    "end": s.end_of_therapy.isoformat(),
                },
            }
        )

    def obs(code: str, day: dt.date, value: float, unit: str, system: str = LNC) -> None:
        add(
            {
                "resourceType": "Observation",
                "status": "final",
                "subject": subj,
                "code": {"coding": [{"system": system, "code": code}]},
                "effectiveDateTime": day.isoformat(),
                "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
            }
        )

    obs("11150-0", s.relapses[-1], s.marrow_blasts, "%")
    obs("29463-7", s.course_start - dt.timedelta(days=1), s.weight_kg, "kg")
    obs("8302-2", s.course_start - dt.timedelta(days=1), s.height_cm, "cm")
    obs("11150-0", s.course_start - dt.timedelta(days=2), 3.0, "%")
    obs("8122-4", s.course_start - dt.timedelta(days=30), 600, "/uL")
    obs("26446-5", s.course_start - dt.timedelta(days=30), 10, "%")
    if s.translocation is not None:
        add(
            {
                "resourceType": "Observation",
                "status": "final",
                "subject": subj,
                "code": {"coding": [{"system": LNC, "code": "62356-1"}]},
                "valueString": KARYOTYPES[s.translocation],
            }
        )
    add(
        {
            "resourceType": "CarePlan",
            "status": "active",
            "intent": "plan",
            "subject": subj,
            "instantiatesCanonical": [f"https://ball-fhir.org/fhir/PlanDefinition/{s.protocol}"],
            "period": {"start": (s.course_start - dt.timedelta(days=40)).isoformat()},
        }
    )
    flat = s.weight_kg > 45
    bsa = (s.height_cm * s.weight_kg / 3600) ** 0.5

    def bag(start: dt.date, end: dt.date, dose_m2: float, dose_flat: float) -> None:
        """A blinatumomab bag from ``start`` to ``end`` at the flat or the (capped) BSA rate."""
        add(
            {
                "resourceType": "MedicationAdministration",
                "status": "completed",
                "subject": subj,
                "medicationCodeableConcept": {"coding": [{"system": RX, "code": "1597258"}]},
                "effectivePeriod": {
                    "start": f"{start.isoformat()}T00:00:00Z",
                    "end": f"{end.isoformat()}T00:00:00Z",
                },
                "reasonReference": [relapse_ref],
                "dosage": {
                    "route": {"coding": [{"system": SCT, "code": "47625008"}]},
                    "rateQuantity": {
                        "value": dose_flat if flat else round(min(dose_m2 * bsa, dose_flat), 2),
                        "unit": "ug/d",
                        "system": UCUM,
                        "code": "ug/d",
                    },
                },
            }
        )

    for first, last, dose_m2, dose_flat in ((1, 7, 5, 9), (8, 28, 15, 28)):
        bag(
            s.course_start + dt.timedelta(days=first - 1),
            s.course_start + dt.timedelta(days=last),
            dose_m2,
            dose_flat,
        )
    if s.protocol != "all-rez-mb-2014":
        for day in (1, 8, 15, 22):
            add(
                {
                    "resourceType": "Procedure",
                    "status": "completed",
                    "subject": subj,
                    "code": {"coding": [{"system": BALL, "code": "cd3-autologous-infusion"}]},
                    "performedDateTime": (s.course_start + dt.timedelta(days=day - 1)).isoformat(),
                }
            )
    for day in (1, 28):
        add(
            {
                "resourceType": "MedicationAdministration",
                "status": "completed",
                "subject": subj,
                "medicationCodeableConcept": {"coding": [{"system": RX, "code": "6851"}]},
                "effectiveDateTime": (s.course_start + dt.timedelta(days=day - 1)).isoformat(),
                "dosage": {"route": {"coding": [{"system": SCT, "code": "72607000"}]}},
            }
        )

    def disease_status(day: dt.date, code: str) -> None:
        add(
            {
                "resourceType": "Observation",
                "status": "final",
                "subject": subj,
                "focus": [relapse_ref],
                "code": {"coding": [{"system": LNC, "code": "97509-4"}]},
                "effectiveDateTime": day.isoformat(),
                "valueCodeableConcept": {"coding": [{"system": SCT, "code": code}]},
            }
        )

    status_code = {"cr": "550991000124107", "nr": "359746009"}
    day29 = s.course_start + dt.timedelta(days=28)
    if s.mrd_pct is not None:
        obs("mrd-flow", day29, s.mrd_pct, "%", BALL)
    if s.progression_day is not None:
        disease_status(s.course_start + dt.timedelta(days=s.progression_day - 1), "271299001")
    if s.response != "none":
        disease_status(day29, "550991000124107" if s.response == "cr" else "271299001")
    if s.course2 is not None:
        start2 = day29 + dt.timedelta(days=14)
        bag(start2, start2 + dt.timedelta(days=28), 15, 28)  # full dose from day 1 (§4)
        end2 = start2 + dt.timedelta(days=28)
        if s.mrd2_pct is not None:
            obs("mrd-flow", end2, s.mrd2_pct, "%", BALL)
        disease_status(end2, status_code[s.course2])
    if s.hsct is not None:
        add(
            {
                "resourceType": "Procedure",
                "status": "completed",
                "subject": subj,
                "code": {"coding": [{"system": SCT, "code": "234336002"}]},
                "performedDateTime": s.hsct.isoformat(),
            }
        )
    if s.stratum is not None:
        add(
            {
                "resourceType": "Observation",
                "status": "final",
                "subject": subj,
                "code": {
                    "coding": [
                        {
                            "system": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
                            "code": "C167435",
                        }
                    ]
                },
                "effectiveDateTime": s.relapses[-1].isoformat(),
                "valueCodeableConcept": {"coding": [{"system": BALL, "code": s.stratum}]},
            }
        )
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def random_spec(i: int, rng: random.Random) -> Spec:
    """A plausible patient; the mix loosely follows protocol.md §8 proportions."""
    birth = dt.date(2004, 1, 1) + dt.timedelta(days=rng.randrange(0, 14 * 365))
    diagnosis = birth + dt.timedelta(days=rng.randrange(400, 2000))
    eot = diagnosis + dt.timedelta(days=rng.randrange(700, 800))
    tp = rng.choices(["very-early", "early", "late"], [40, 43, 26])[0]
    months = {
        "very-early": rng.randrange(5, 17),
        "early": rng.randrange(18, 28),
        "late": rng.randrange(34, 70),
    }[tp]
    relapse = diagnosis + dt.timedelta(days=int(months * 30.5))
    relapses = [relapse] if rng.random() > 0.08 else [relapse - dt.timedelta(days=500), relapse]
    sites = rng.choices(
        [("BM",), ("CNS",), ("testis",), ("BM", "CNS"), ("BM", "testis"), ("BM", "EM", "CNS")],
        [85, 2, 1, 14, 6, 1],
    )[0]
    blasts = rng.uniform(30, 95) if "BM" in sites else rng.uniform(0, 4)
    course = relapse + dt.timedelta(days=rng.randrange(50, 90))
    weight = rng.uniform(10, 70)
    response = rng.choices(["cr", "nr", "none"], [92, 17, 3])[0]
    death = None
    later = None
    if response == "nr" and rng.random() < 0.5:
        death = course + dt.timedelta(days=rng.randrange(60, 300))
    elif response == "cr":
        r = rng.random()
        if r < 0.07:
            death = course + dt.timedelta(days=rng.randrange(90, 600))
        elif r < 0.43:
            later = course + dt.timedelta(days=rng.randrange(90, 900))
    return Spec(
        key=f"p{i}",
        gender=rng.choices(["male", "female"], [70, 39])[0],
        birth=birth,
        diagnosis=diagnosis,
        end_of_therapy=eot if rng.random() > 0.1 else None,
        relapses=relapses,
        sites=sites,
        marrow_blasts=round(blasts, 1),
        protocol=rng.choices(
            ["all-rez-mb-2014", "all-rez-2016", "all-rez-2016-blokhin"], [43, 50, 7]
        )[0],
        course_start=course,
        weight_kg=round(weight, 1),
        height_cm=round(60 + weight * 1.6, 1),
        response=response,
        mrd_pct=rng.choice([0.001, 0.005, 0.01, 0.05, 1.2]) if response == "cr" else None,
        death=death,
        later_relapse=later,
        translocation=rng.choices([*KARYOTYPES, None], [14, 8, 4, 1, 1, 61, 20])[0],
    )
