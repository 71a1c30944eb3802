"""One call of a CDS service: the request checked, the data resolved, the protocol evaluated, the
cards built (CDS Hooks 2.0 §Calling a CDS Service, §CDS Service Response).

Malformed or incomplete requests raise :class:`BadRequest` (the route answers 400 with an
OperationOutcome naming each field); required data that cannot be had raises
:class:`~adapter.cdshooks.prefetch.PrefetchUnavailable` (412).  Sandbox quirks tolerated
(cds-hooks.md section 3.1): ``draftOrders`` without ``type``, ``category`` as an object, orders
without medication or dosage (not ours: no card), bursts of identical order calls (answered from
a short cache).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from adapter.cdshooks.cards import (
    ORDER_TOPIC,
    CardContext,
    build_card,
    in_topic_order,
    page_key,
    patient_cards,
)
from adapter.cdshooks.config import CdsConfig
from adapter.cdshooks.fhirfetch import Deadline, FhirFetcher
from adapter.cdshooks.orders import OrderCheck, check_orders, draft_orders, patient_evaluation
from adapter.cdshooks.prefetch import FhirAccess, record_index, resolve
from adapter.cdshooks.services import Service
from adapter.fhir import Resource, unique_id
from adapter.issues import Issue
from adapter.protocol import Finding, Protocol
from adapter.protocol.model import UNKNOWN_PROTOCOL

#: FHIR id (R4 §2.24.0.1 id datatype)
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
#: extension key under which a card names its type (CDS Hooks 2.0 §Extensions: reverse DNS)
CARD_TYPE_KEY = "org.ball-fhir.card-type"


class BadRequest(Exception):
    """The request is malformed or incomplete (HTTP 400)."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(i.diagnostics for i in issues))
        self.issues = issues


def _bad(path: str, message: str) -> Issue:
    return Issue("error", "invalid", message, rule="cds-request", expression=(path,))


class ResponseCache:
    """Identical order calls (the sandbox fires order-select on every form change) within
    ``seconds`` get the same answer; bounded LRU, thread-safe."""

    def __init__(self, seconds: float, size: int = 256) -> None:
        self.seconds = seconds
        self.size = size
        self._items: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None or time.monotonic() - hit[0] > self.seconds:
                return None
            return hit[1]

    def put(self, key: str, value: dict[str, Any]) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


@dataclass
class Runtime:
    """What every call shares: configuration, protocol content, the FHIR fetcher, the cache."""

    config: CdsConfig
    protocols: Mapping[str, Protocol]
    fetcher: FhirFetcher
    #: today's date (tests fix it)
    clock: Callable[[], dt.date] = dt.date.today
    cache: ResponseCache = field(init=False)

    def __post_init__(self) -> None:
        self.cache = ResponseCache(self.config.order_cache_seconds)


@dataclass(frozen=True)
class HookRequest:
    """The parts of a hook request we use, checked."""

    context: dict[str, Any]
    patient_id: str
    prefetch: dict[str, Any]
    access: FhirAccess


def parse_request(service: Service, body: Any) -> HookRequest:
    """The request envelope and context checked against 2.0 and the hook library."""
    if not isinstance(body, dict):
        raise BadRequest([_bad("request", "the body must be a JSON object (CDS Hooks request)")])
    problems: list[Issue] = []
    if body.get("hook") != service.hook:
        problems.append(_bad("hook", f"service {service.id} answers hook '{service.hook}'"))
    if not isinstance(body.get("hookInstance"), str) or not body["hookInstance"]:
        problems.append(_bad("hookInstance", "hookInstance (a UUID string) is required"))
    context = body.get("context")
    if not isinstance(context, dict):
        raise BadRequest([*problems, _bad("context", "context (an object) is required")])
    patient_id = context.get("patientId")
    if not isinstance(patient_id, str) or not _FHIR_ID.fullmatch(patient_id):
        problems.append(_bad("context.patientId", "context.patientId must be a FHIR id"))
    if not isinstance(context.get("userId"), str):
        problems.append(_bad("context.userId", "context.userId (Type/id) is required"))
    if service.hook in ("order-select", "order-sign"):
        draft = context.get("draftOrders")
        if not isinstance(draft, dict) or draft.get("resourceType") != "Bundle":
            problems.append(_bad("context.draftOrders", "context.draftOrders must be a Bundle"))
    if service.hook == "order-select":
        sel = context.get("selections")
        if not isinstance(sel, list) or not all(isinstance(s, str) for s in sel):
            problems.append(_bad("context.selections", "context.selections must list Type/id"))
    server = body.get("fhirServer")
    auth = body.get("fhirAuthorization")
    if server is not None and not isinstance(server, str):
        problems.append(_bad("fhirServer", "fhirServer must be a URL string"))
    token = None
    if auth is not None:
        token = auth.get("access_token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            problems.append(_bad("fhirAuthorization", "fhirAuthorization needs access_token"))
        if server is None:
            problems.append(_bad("fhirServer", "fhirServer is required with fhirAuthorization"))
    prefetch = body.get("prefetch", {})
    if prefetch is None:
        prefetch = {}
    if not isinstance(prefetch, dict):
        problems.append(_bad("prefetch", "prefetch must be an object"))
    if problems:
        raise BadRequest(problems)
    return HookRequest(context, str(patient_id), prefetch, FhirAccess(server, token))


def _order_card(check: OrderCheck, ctx: CardContext) -> dict[str, Any]:
    mr = check.order.request
    findings = in_topic_order(check.findings, ORDER_TOPIC)
    suggestions = []
    if check.corrected is not None:
        suggestions.append(
            {
                "label": f"Change the order to {check.correction}"[:140],
                "uuid": unique_id(
                    "cds-suggestion", ctx.patient_id, json.dumps(check.corrected, sort_keys=True)
                ),
                "isRecommended": True,
                "actions": [
                    {
                        "type": "update",
                        "description": f"Set the blinatumomab rate to {check.correction}.",
                        "resource": check.corrected,
                    }
                ],
            }
        )
    summary = f"Blinatumomab order {mr.get('id')}: {findings[0].message}"
    return build_card(ORDER_TOPIC, findings, ctx, summary, suggestions, key=str(mr.get("id")))


def _not_readable(mr: Resource, patient_id: str) -> Finding:
    return Finding(
        "dose-not-readable",
        "warning",
        f"Blinatumomab order {mr.get('id')} has no dose rate (doseAndRate.rateQuantity in ug/d "
        "or ug/m2/d, or a once-daily doseQuantity) to check: not checked.",
        'contract.md "blinatumomab infusion" (dosage rate in ug/d)',
        4,
        f"Patient/{patient_id}",
        (f"MedicationRequest/{mr.get('id')}",),
    )


def _known(protocol: str) -> str:
    """The protocol id a card may cite and link to ("" for none, and for the engine's
    ``unknown`` of a patient whose PlanDefinition we do not have)."""
    return "" if protocol == UNKNOWN_PROTOCOL else protocol


def _with_type(card: dict[str, Any], card_type: str) -> dict[str, Any]:
    card["extension"] = {CARD_TYPE_KEY: card_type}
    return card


def call_service(
    service: Service, body: Any, rt: Runtime, today: dt.date | None = None, offline: bool = False
) -> dict[str, Any]:
    """The response of ``service`` to a request body: ``{"cards": [...]}``.  With ``offline``,
    :class:`~adapter.cdshooks.prefetch.WouldFetch` instead of waiting on the FHIR server."""
    req = parse_request(service, body)
    day = today or rt.clock()
    orders_hook = service.hook in ("order-select", "order-sign")
    cache_key = ""
    if orders_hook:
        digest = hashlib.sha256(
            json.dumps(
                [service.id, req.context, req.prefetch, req.access.server, str(day)],
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()
        cache_key = digest
        cached = rt.cache.get(cache_key)
        if cached is not None:
            return cached
    deadline = Deadline(rt.config.fetch_budget_seconds)
    data = resolve(
        service.prefetch, req.context, req.prefetch, req.access, rt.fetcher, deadline, offline
    )
    record = record_index(data, req.patient_id)
    base = rt.config.course_page_base_url
    key = page_key(record, req.patient_id)
    if not orders_hook:
        evaluation = patient_evaluation(record, rt.protocols, req.patient_id, day)
        protocol = evaluation.protocol if evaluation else ""
        findings = evaluation.ordered() if evaluation else []
        on_course = bool(evaluation and evaluation.summary.get("courses"))
        ctx = CardContext(service.id, req.patient_id, _known(protocol), base, on_course, key)
        cards = [_with_type(c, t) for t, c in patient_cards(findings, ctx, day)]
        return {"cards": cards}
    selections = req.context.get("selections") if service.hook == "order-select" else None
    orders, unreadable = draft_orders(req.context["draftOrders"], req.patient_id, day, selections)
    protocol, checks = "", list[OrderCheck]()
    if orders or unreadable:
        protocol, checks = check_orders(record, orders, rt.protocols, req.patient_id, day)
    ctx = CardContext(service.id, req.patient_id, _known(protocol), base, page_key=key)
    cards = [_with_type(_order_card(c, ctx), ORDER_TOPIC.id) for c in checks if c.findings]
    for mr in unreadable:
        finding = _not_readable(mr, req.patient_id)
        cards.append(
            _with_type(
                build_card(ORDER_TOPIC, [finding], ctx, finding.message, key=str(mr.get("id"))),
                ORDER_TOPIC.id,
            )
        )
    response = {"cards": cards}
    rt.cache.put(cache_key, response)
    return response
