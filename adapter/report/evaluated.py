"""A Bundle evaluated per patient, keeping what the engine worked out on the way.

The course page and the survival figures need more than the findings: the courses as given,
the relapse the rules chose, the patient's facts.  :func:`evaluated_patients` runs the engine's
loop over the patients (:func:`adapter.protocol.engine.evaluate_each`, the one behind
``evaluate``) and hands back each evaluation with that context.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from adapter.fhir import Resource
from adapter.issues import UsageError
from adapter.protocol import PatientEvaluation, Protocol
from adapter.protocol.engine import evaluate_each
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
    """Every Patient of the Bundle, evaluated by :func:`adapter.protocol.engine.evaluate_each`
    (so only facts known on ``as_of`` count); a patient whose protocol we do not have has no
    course to draw: :class:`UsageError` with the engine's reason."""
    for evaluation, ctx in evaluate_each(bundle, protocols, as_of, protocol_id):
        if ctx is None:
            raise UsageError(evaluation.findings[0].message)
        yield Evaluated(evaluation, ctx)
