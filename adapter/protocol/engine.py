"""Evaluate a Bundle against the protocol content: findings per patient (issue 7, rules 1-8).

Pure: takes the Bundle dict, the as-of date and the loaded protocols; reads no files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping

from adapter.fhir import Resource
from adapter.issues import UsageError
from adapter.protocol.bundle import BundleIndex
from adapter.protocol.content import DEFAULT_PROTOCOL, Protocol
from adapter.protocol.facts import PatientFacts, collect
from adapter.protocol.model import (
    MISSING_DATA,
    UNKNOWN_PROTOCOL,
    Finding,
    FindingSeverity,
    PatientEvaluation,
)
from adapter.protocol.rules import RULES, Ctx, find_courses


def protocol_for(
    facts: PatientFacts, protocols: Mapping[str, Protocol], requested: str | None = None
) -> Protocol:
    """The requested protocol, else the one a CarePlan instantiates, else ALL-REZ 2016.

    Raises :class:`UsageError` for a requested protocol we do not have, and for a CarePlan that
    names only PlanDefinitions we do not have (:func:`unknown_protocol`): never a silent
    fallback to another protocol (issue 14).
    """
    if requested is not None:
        if requested not in protocols:
            raise UsageError(
                f"unknown protocol {requested!r}; known: {', '.join(sorted(protocols))}"
            )
        return protocols[requested]
    by_url = {p.url: p for p in protocols.values()}
    named: list[str] = []
    for cp in facts.careplans:
        for canonical in cp.get("instantiatesCanonical", []) or []:
            url = str(canonical).split("|")[0]
            hit = by_url.get(url)
            if hit is not None:
                return hit
            if "/PlanDefinition/" in url:
                named.append(url)
    if named:
        raise UsageError(
            f"the patient's CarePlan names PlanDefinition {', '.join(named)}, which is not "
            f"loaded; known: {', '.join(sorted(by_url))}"
        )
    if DEFAULT_PROTOCOL not in protocols:
        raise UsageError(f"default protocol {DEFAULT_PROTOCOL} not loaded")
    return protocols[DEFAULT_PROTOCOL]


def unknown_protocol(index: BundleIndex, facts: PatientFacts, why: str) -> PatientEvaluation:
    """The evaluation of a patient whose protocol we do not have: one error finding, no rules."""
    finding = Finding(
        code="unknown-protocol",
        severity="error",
        message=f"Not evaluated: {why}.",
        source='contract.md "treatment protocol" (CarePlan.instantiatesCanonical)',
        rule=0,
        patient=facts.ref,
        evidence=index.refs(facts.careplans),
    )
    return PatientEvaluation(facts.ref, UNKNOWN_PROTOCOL, [finding], {"protocol": UNKNOWN_PROTOCOL})


def evaluate_patient(
    index: BundleIndex,
    facts: PatientFacts,
    protocol: Protocol,
    as_of: dt.date,
    apheresis_date: dt.date | None = None,
) -> tuple[PatientEvaluation, Ctx]:
    ctx = Ctx(
        protocol=protocol, index=index, facts=facts, as_of=as_of, apheresis_date=apheresis_date
    )
    find_courses(ctx)
    ctx.summary.update(
        {"protocol": protocol.id, "gender": facts.gender, "courses": len(ctx.courses)}
    )
    for rule in RULES:
        rule(ctx)
    evaluation = PatientEvaluation(facts.ref, protocol.id, ctx.findings, ctx.summary)
    fold_missing(evaluation)
    return evaluation, ctx


def fold_missing(evaluation: PatientEvaluation) -> None:
    """Sum up the findings of a patient that only say data is missing (``*-not-derivable``,
    :data:`~adapter.protocol.model.NOT_EVALUATED`) in one ``missing-data`` finding, appended
    (issue 14, "Findings stay readable"): its message joins theirs, its severity is their
    highest, its evidence and parameters are theirs, and ``data.items`` holds each of them
    (code, severity, rule, message, evidence, data).  They stay in ``evaluation.findings`` for
    clients that match on their codes; :meth:`PatientEvaluation.ordered` is the readable view
    that leaves them out."""
    folded = evaluation.folded
    if not folded:
        return
    severity: FindingSeverity = min(
        (f.severity for f in folded), key=("error", "warning", "information").index
    )
    evaluation.findings.append(
        Finding(
            code=MISSING_DATA,
            severity=severity,
            message=f"Not derivable for missing data ({len(folded)}): "
            + " | ".join(f.message.rstrip(".") for f in folded)
            + ".",
            source="; ".join(dict.fromkeys(f.source for f in folded)),
            rule=0,
            patient=evaluation.patient,
            evidence=tuple(dict.fromkeys(e for f in folded for e in f.evidence)),
            parameters={k: v for f in folded for k, v in f.parameters.items()},
            data={
                "items": [
                    {
                        "code": f.code,
                        "severity": f.severity,
                        "rule": f.rule,
                        "message": f.message,
                        "evidence": list(f.evidence),
                        "data": dict(f.data),
                    }
                    for f in folded
                ],
                "codes": [f.code for f in folded],
            },
        )
    )


def evaluate_each(
    bundle: Resource | BundleIndex,
    protocols: Mapping[str, Protocol],
    as_of: dt.date | None = None,
    protocol_id: str | None = None,
    apheresis_date: dt.date | None = None,
) -> Iterator[tuple[PatientEvaluation, Ctx | None]]:
    """Every Patient of the Bundle (or of resources already indexed: the CDS Hooks prefetch)
    evaluated as of a date (default: today), with the rules' context (the course page and the
    survival figures read it); the context is None for a patient whose CarePlan names a
    PlanDefinition we do not have: that patient gets one ``unknown-protocol`` error finding
    (rule 0) and is not evaluated under any other protocol.  An unknown ``protocol_id`` raises
    :class:`UsageError`.
    """
    if isinstance(bundle, BundleIndex):
        index = bundle
    elif bundle.get("resourceType") != "Bundle":
        raise UsageError("input is not a FHIR Bundle")
    else:
        index = BundleIndex(bundle)
    day = as_of or dt.date.today()
    if protocol_id is not None and protocol_id not in protocols:
        raise UsageError(f"unknown protocol {protocol_id!r}; known: {', '.join(sorted(protocols))}")
    for facts in collect(index, day):
        try:
            protocol = protocol_for(facts, protocols, protocol_id)
        except UsageError as exc:
            yield unknown_protocol(index, facts, str(exc)), None
            continue
        yield evaluate_patient(index, facts, protocol, day, apheresis_date)


def evaluate(
    bundle: Resource,
    protocols: Mapping[str, Protocol],
    as_of: dt.date | None = None,
    protocol_id: str | None = None,
    apheresis_date: dt.date | None = None,
) -> list[PatientEvaluation]:
    """Findings for every Patient of the Bundle, as of a date (:func:`evaluate_each`)."""
    return [ev for ev, _ in evaluate_each(bundle, protocols, as_of, protocol_id, apheresis_date)]
