"""Evaluate a Bundle against the protocol content: findings per patient (issue 7, rules 1-8).

Pure: takes the Bundle dict, the as-of date and the loaded protocols; reads no files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from adapter.fhir import Resource
from adapter.issues import UsageError
from adapter.protocol.bundle import BundleIndex
from adapter.protocol.content import DEFAULT_PROTOCOL, Protocol
from adapter.protocol.facts import PatientFacts, collect
from adapter.protocol.model import PatientEvaluation
from adapter.protocol.rules import RULES, Ctx, find_courses


def protocol_for(
    facts: PatientFacts, protocols: Mapping[str, Protocol], requested: str | None = None
) -> Protocol:
    """The requested protocol, else the one a CarePlan instantiates, else ALL-REZ 2016."""
    if requested is not None:
        if requested not in protocols:
            raise UsageError(
                f"unknown protocol {requested!r}; known: {', '.join(sorted(protocols))}"
            )
        return protocols[requested]
    by_url = {p.url: p for p in protocols.values()}
    for cp in facts.careplans:
        for canonical in cp.get("instantiatesCanonical", []) or []:
            hit = by_url.get(str(canonical).split("|")[0])
            if hit is not None:
                return hit
    if DEFAULT_PROTOCOL not in protocols:
        raise UsageError(f"default protocol {DEFAULT_PROTOCOL} not loaded")
    return protocols[DEFAULT_PROTOCOL]


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
    return PatientEvaluation(facts.ref, protocol.id, ctx.findings, ctx.summary), ctx


def evaluate(
    bundle: Resource,
    protocols: Mapping[str, Protocol],
    as_of: dt.date | None = None,
    protocol_id: str | None = None,
    apheresis_date: dt.date | None = None,
) -> list[PatientEvaluation]:
    """Findings for every Patient of the Bundle, as of a date (default: today)."""
    if bundle.get("resourceType") != "Bundle":
        raise UsageError("input is not a FHIR Bundle")
    day = as_of or dt.date.today()
    index = BundleIndex(bundle)
    out: list[PatientEvaluation] = []
    for facts in collect(index, day):
        protocol = protocol_for(facts, protocols, protocol_id)
        out.append(evaluate_patient(index, facts, protocol, day, apheresis_date)[0])
    return out
