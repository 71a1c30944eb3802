"""Prefetch: check what the client sent against our templates, fetch what it left out.

CDS Hooks 2.0 §Prefetch, per key: a resource (or searchset Bundle) -> used; ``null`` -> no data;
an OperationOutcome (the client could not get it) or a resource of the wrong type -> not usable;
absent -> not sent.  A key that is not usable is fetched from ``fhirServer`` with the
``fhirAuthorization`` bearer token (:mod:`adapter.cdshooks.fhirfetch`), all keys in parallel
under one time budget; when that is impossible or fails, :class:`PrefetchUnavailable` (the route
answers 412 with an OperationOutcome naming each key and why).  The usable data is joined into
one collection Bundle for the protocol engine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from adapter.cdshooks.fhirfetch import Deadline, FetchError, FhirFetcher
from adapter.fhir import Resource
from adapter.issues import Issue
from adapter.protocol.bundle import BundleIndex, Entry

_TOKEN = re.compile(r"\{\{\s*([A-Za-z.]+)\s*\}\}")
#: user tokens of 2.0, each the id of ``context.userId`` when it has that type
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="cds-fetch")


class WouldFetch(Exception):
    """:func:`resolve` was told not to touch the network and a key would have to be fetched."""


class PrefetchUnavailable(Exception):
    """Required data could neither be taken from the prefetch nor fetched (HTTP 412)."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(i.diagnostics for i in issues))
        self.issues = issues


@dataclass(frozen=True)
class FhirAccess:
    """Where missing data can be read: the request's ``fhirServer`` and bearer token."""

    server: str | None
    token: str | None


def fill_template(template: str, context: Mapping[str, Any]) -> str | None:
    """The template with its 2.0 tokens replaced, or None when a token has no value."""
    missing = False

    def value(m: re.Match[str]) -> str:
        nonlocal missing
        name = m.group(1)
        if name.startswith("context."):
            v = context.get(name.removeprefix("context."))
        elif name in _USER_TOKENS:
            user = str(context.get("userId") or "")
            kind, _, uid = user.partition("/")
            v = uid if kind == _USER_TOKENS[name] else None
        else:
            v = None
        if not isinstance(v, str) or not v:
            missing = True
            return ""
        return v

    filled = _TOKEN.sub(value, template)
    return None if missing else filled


def _expected_type(template: str) -> str:
    """``Patient`` for ``Patient/{{..}}`` (a read), ``Bundle`` for a search."""
    return "Bundle" if "?" in template else template.split("/", 1)[0]


def _usable(key: str, template: str, value: Any, context: Mapping[str, Any]) -> tuple[bool, str]:
    if not isinstance(value, dict):
        return False, f"prefetch '{key}' is not a resource"
    rtype = value.get("resourceType")
    if rtype == "OperationOutcome":
        texts = [
            str(i.get("diagnostics", "")) for i in value.get("issue") or [] if isinstance(i, dict)
        ]
        return (
            False,
            f"prefetch '{key}' is an OperationOutcome "
            f"({'; '.join(t for t in texts if t) or 'no detail'})",
        )
    expected = _expected_type(template)
    if rtype != expected:
        return False, f"prefetch '{key}' is a {rtype}, not a {expected} (template {template})"
    filled = fill_template(template, context)
    if expected != "Bundle" and filled is not None and f"{rtype}/{value.get('id')}" != filled:
        return False, f"prefetch '{key}' is {rtype}/{value.get('id')}, not {filled}"
    return True, ""


def _from_prefetch(
    templates: Mapping[str, str], context: Mapping[str, Any], prefetch: Mapping[str, Any]
) -> tuple[dict[str, Resource | None], dict[str, tuple[str, str]]]:
    """The keys the prefetch answers (their data), and the others (template, why not)."""
    out: dict[str, Resource | None] = {}
    todo: dict[str, tuple[str, str]] = {}
    for key, template in templates.items():
        if key in prefetch and prefetch[key] is None:
            out[key] = None
            continue
        if key in prefetch:
            ok, why = _usable(key, template, prefetch[key], context)
            if ok:
                out[key] = prefetch[key]
                continue
        else:
            why = f"prefetch '{key}' was not sent"
        todo[key] = (template, why)
    return out, todo


def resolve(
    templates: Mapping[str, str],
    context: Mapping[str, Any],
    prefetch: Mapping[str, Any],
    access: FhirAccess,
    fetcher: FhirFetcher,
    deadline: Deadline,
    offline: bool = False,
) -> dict[str, Resource | None]:
    """Every template key's data (None: no data); raises :class:`PrefetchUnavailable`, and
    :class:`WouldFetch` when ``offline`` and a key is to be fetched."""
    out, todo = _from_prefetch(templates, context, prefetch)
    if not todo:
        return out
    if offline:
        raise WouldFetch(", ".join(todo))
    problems: list[Issue] = []
    jobs = {}
    for key, (template, why) in todo.items():
        relative = fill_template(template, context)
        if access.server is None or relative is None:
            reason = "no fhirServer in the request" if relative else "a template token has no value"
            problems.append(_issue(key, f"{why}, and it cannot be fetched: {reason}"))
            continue
        jobs[key] = (
            _POOL.submit(fetcher.fetch, access.server, relative, access.token, deadline),
            why,
        )
    for key, (future, why) in jobs.items():
        try:
            out[key] = future.result()
        except FetchError as exc:
            problems.append(_issue(key, f"{why}, and fetching it failed: {exc}"))
    if problems:
        raise PrefetchUnavailable(problems)
    return out


def _issue(key: str, message: str) -> Issue:
    return Issue(
        "error", "incomplete", message, rule="cds-prefetch", expression=(f"prefetch.{key}",)
    )


def _names_other_patient(target: str, patient_id: str) -> bool:
    """True when a reference naming a Patient (``...Patient/{id}[/_history/..]``) is not ours."""
    return target.rsplit("Patient/", 1)[1].split("/")[0] != patient_id


def record_index(data: Mapping[str, Resource | None], patient_id: str) -> BundleIndex:
    """The patient's resources read, indexed for the protocol engine (searchset entries
    unpacked, one per ``Type/id``, the first kept; OperationOutcome entries of a search and
    anything of another patient dropped: a Patient of another id, a resource whose ``subject``
    or ``patient`` names another Patient; the engine gives a resource it cannot place to the
    only patient).  One pass, no Bundle in between: it runs on every CDS call."""
    kept: list[Entry] = []
    seen: set[str] = set()
    verdicts: dict[str, bool] = {}  # per reference: a record names its patient 300 times
    for value in data.values():
        if value is None:
            continue
        entries = value.get("entry") or () if value.get("resourceType") == "Bundle" else None
        for entry in entries if entries is not None else ({"resource": value},):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            rtype = resource.get("resourceType")
            if rtype is None or rtype == "OperationOutcome":
                continue
            rid = resource.get("id")
            if rtype == "Patient":
                if rid != patient_id:
                    continue
            else:
                for key in ("subject", "patient"):
                    ref = resource.get(key)
                    target = ref.get("reference") if isinstance(ref, dict) else None
                    if isinstance(target, str) and "Patient/" in target:
                        other = verdicts.get(target)
                        if other is None:
                            other = verdicts[target] = _names_other_patient(target, patient_id)
                        break
                else:
                    other = False
                if other:
                    continue
            if rid is not None:
                typed = f"{rtype}/{rid}"
                if typed in seen:
                    continue
                seen.add(typed)
            full = entry.get("fullUrl")
            kept.append((resource, full if isinstance(full, str) else None))
    return BundleIndex.of(kept)
