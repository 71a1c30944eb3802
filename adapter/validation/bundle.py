"""Bundle rules beyond the bdl-* invariants (https://hl7.org/fhir/R4/bundle.html).

- fullUrl values are unique per ``meta.versionId`` (bdl-7; this issue names the duplicate entry)
  and agree with the resource's type and id (https://hl7.org/fhir/R4/bundle.html#bundle-unique);
- transaction / batch entries follow https://hl7.org/fhir/R4/http.html#transaction: POST carries a
  resource and a type url, or invokes an operation (``[Type/[id/]]$name`` with its Parameters,
  https://hl7.org/fhir/R4/operations.html#executing); PUT a resource and ``Type/id`` (or a
  conditional ``Type?query``) whose id matches the resource id, DELETE no resource.  A url is
  read relative to the server base; an absolute url is judged by its ``Type/id`` tail.

The index built here lets references resolve inside the Bundle (urn:uuid fullUrls and relative
``Type/id``).
"""

from __future__ import annotations

import re
from typing import Any

from adapter.validation.checker import BundleContext, Run

_TYPE_ID = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")
_TYPE_QUERY = re.compile(r"^([A-Z][A-Za-z]+)(\?.*)?$")
_OPERATION = re.compile(r"^(?:[A-Z][A-Za-z]+/(?:[A-Za-z0-9\-.]{1,64}/)?)?\$[A-Za-z][\w\-]*(\?.*)?$")
_ABSOLUTE_TAIL = re.compile(r"^[a-z][a-z0-9+.\-]*://.*/([A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64})$")


def bundle_context(bundle: dict[str, Any]) -> BundleContext:
    by_url: dict[str, dict[str, Any]] = {}
    by_type_id: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in bundle.get("entry", []) if isinstance(bundle.get("entry"), list) else []:
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str):
            by_url.setdefault(full_url, resource)
        rtype, rid = resource.get("resourceType"), resource.get("id")
        if isinstance(rtype, str) and isinstance(rid, str):
            by_type_id.setdefault((rtype, rid), resource)
    btype = bundle.get("type")
    return BundleContext(by_url, by_type_id, btype if isinstance(btype, str) else None)


def check_bundle_rules(bundle: dict[str, Any], expr: str, run: Run) -> None:
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return
    btype = bundle.get("type")
    seen: dict[tuple[str, Any], int] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        where = f"{expr}.entry[{i}]"
        resource = entry.get("resource")
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str):
            key = (full_url, _version_id(resource))
            if key in seen and btype != "history":
                version = f" (meta.versionId {key[1]})" if key[1] is not None else ""
                run.add(
                    "error",
                    "duplicate",
                    "bundle-fullurl-unique",
                    f"{where}.fullUrl",
                    f"fullUrl {full_url}{version} is also used by entry[{seen[key]}]",
                )
            seen.setdefault(key, i)
            if isinstance(resource, dict):
                _full_url_matches(full_url, resource, where, run)
        if btype in ("transaction", "batch"):
            _request_rules(entry, resource, where, run)


def _version_id(resource: Any) -> Any:
    meta = resource.get("meta") if isinstance(resource, dict) else None
    return meta.get("versionId") if isinstance(meta, dict) else None


def _full_url_matches(full_url: str, resource: dict[str, Any], where: str, run: Run) -> None:
    if full_url.startswith("urn:uuid:"):
        rid = resource.get("id")
        if not re.fullmatch(
            r"urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
            r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            full_url,
        ):
            run.add(
                "error",
                "value",
                "bundle-fullurl",
                f"{where}.fullUrl",
                f"{full_url} is not a valid urn:uuid",
            )
        elif isinstance(rid, str) and _is_uuid(rid) and rid.lower() != full_url[9:].lower():
            run.add(
                "warning",
                "value",
                "bundle-fullurl",
                f"{where}.fullUrl",
                f"fullUrl {full_url} and resource id {rid} name different uuids",
            )
        return
    if full_url.startswith("urn:oid:"):
        return
    parts = full_url.split("/")
    if len(parts) >= 2 and "://" in full_url:
        rtype, rid = resource.get("resourceType"), resource.get("id")
        if (parts[-2], parts[-1]) != (rtype, rid):
            run.add(
                "error",
                "value",
                "bundle-fullurl",
                f"{where}.fullUrl",
                f"fullUrl {full_url} does not end with the resource's {rtype}/{rid}",
            )


def _is_uuid(text: str) -> bool:
    return bool(
        re.fullmatch(
            r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
            r"[0-9a-fA-F]{12}",
            text,
        )
    )


def _request_rules(entry: dict[str, Any], resource: Any, where: str, run: Run) -> None:
    request = entry.get("request")
    if not isinstance(request, dict):
        return  # bdl-3 reports the missing request
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or not isinstance(url, str):
        return  # cardinality / binding report these
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    absolute = _ABSOLUTE_TAIL.match(url)
    if absolute is not None:
        url = absolute.group(1)
    if method == "POST" and _OPERATION.match(url):
        return  # an operation: its input is a Parameters (or a resource), checked as such
    if method in ("POST", "PUT") and not isinstance(resource, dict):
        run.add(
            "error",
            "required",
            "bundle-request",
            f"{where}.resource",
            f"a {method} entry needs a resource",
        )
        return
    if method == "POST":
        match = _TYPE_QUERY.match(url)
        if match is None or match.group(2):
            run.add(
                "error",
                "value",
                "bundle-request",
                f"{where}.request.url",
                f"POST url must be the resource type, got {url!r}",
            )
        elif match.group(1) != rtype:
            run.add(
                "error",
                "value",
                "bundle-request",
                f"{where}.request.url",
                f"POST url {url!r} does not match the resource type {rtype}",
            )
    elif method in ("PUT", "PATCH", "DELETE"):
        match = _TYPE_ID.match(url)
        query = _TYPE_QUERY.match(url)
        if match is None and (query is None or not query.group(2)):
            run.add(
                "error",
                "value",
                "bundle-request",
                f"{where}.request.url",
                f"{method} url must be Type/id or a conditional Type?query, got {url!r}",
            )
            return
        if method == "DELETE" and isinstance(resource, dict):
            run.add(
                "warning",
                "business-rule",
                "bundle-request",
                f"{where}.resource",
                "a DELETE entry should not carry a resource",
            )
        if method == "PUT" and isinstance(resource, dict):
            want_type = match.group(1) if match else (query.group(1) if query else None)
            if want_type != rtype:
                run.add(
                    "error",
                    "value",
                    "bundle-request",
                    f"{where}.request.url",
                    f"PUT url {url!r} does not match the resource type {rtype}",
                )
            elif match and resource.get("id") != match.group(2):
                run.add(
                    "error",
                    "value",
                    "bundle-request",
                    f"{where}.request.url",
                    f"PUT url {url!r} does not match the resource id {resource.get('id')!r}",
                )
    elif method in ("GET", "HEAD") and isinstance(resource, dict):
        run.add(
            "warning",
            "business-rule",
            "bundle-request",
            f"{where}.resource",
            f"a {method} entry should not carry a resource",
        )
