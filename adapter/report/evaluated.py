"""A Bundle evaluated per patient, keeping what the engine worked out on the way.

The course page and the survival figures need more than the findings: the courses as given,
the relapse the rules chose, the patient's facts.  :func:`evaluated_patients` runs the engine's
public per-patient entry point (:func:`adapter.protocol.engine.evaluate_patient`, the one the
$apply operation uses) and hands back its evaluation with that context.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from adapter.fhir import Resource
from adapter.issues import UsageError
from adapter.protocol import PatientEvaluation, Protocol
from adapter.protocol.bundle import BundleIndex
from adapter.protocol.engine import evaluate_patient, protocol_for
from adapter.protocol.facts import collect
from adapter.protocol.rules import Ctx


@dataclass(frozen=True)
class Evaluated:
    """One patient's findings (``evaluation``) and the rules' context (``ctx``)."""

    evaluation: PatientEvaluation
    ctx: Ctx


def evaluated_patients(
    bundle: Resource,
    protocols: Mapping[str, Protocol],
    as_of: dt.date,
    protocol_id: str | None = None,
) -> Iterator[Evaluated]:
    """Every Patient of the Bundle, evaluated as ``adapter.protocol.evaluate`` does."""
    if bundle.get("resourceType") != "Bundle":
        raise UsageError("input is not a FHIR Bundle")
    index = BundleIndex(bundle)
    for facts in collect(index):
        protocol = protocol_for(facts, protocols, protocol_id)
        yield Evaluated(*evaluate_patient(index, facts, protocol, as_of))
