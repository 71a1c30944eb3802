"""The Patient update policy: where our source is authoritative, a Patient the server already
had is brought up to date.

Our Bundles create a Patient conditionally (``POST`` with ``ifNoneExist`` on the site's
identifier, contract.md), so a Patient the server already has (the hospital's own record, or
ours from an earlier item) is *found*, not changed.  The source systems we map are
authoritative for two facts only, and only for them we update a found Patient:

- ``birthDate`` (PID-7 of the HL7 v2 feed, the ``birth`` event of the clinical events export):
  set to ours when it differs;
- ``deceased[x]`` (the ``death`` event): set to ours when we carry one (``deceasedDateTime``
  replaces a ``deceasedBoolean`` and the reverse); a deceased Patient is never made alive again
  by a source that simply does not mention death.

Nothing else of the server's Patient is touched (names, identifiers, links, extensions stay as
the server has them).  The update starts from the Patient the transaction answered with (``Prefer:
return=representation``; read when the server leaves it out), then ``PUT`` with ``If-Match`` on
its version;
when someone else changed the Patient in between (409/412) it is read and tried again, up to
:data:`ATTEMPTS` times, then the delivery attempt fails and is retried later.
"""

from __future__ import annotations

from typing import Any

from adapter.delivery.client import DeliveryFailed, FhirClient
from adapter.fhir import Resource

DECEASED = ("deceasedBoolean", "deceasedDateTime")
#: read-and-update rounds before the attempt is given up as a conflict
ATTEMPTS = 3


def authoritative_update(ours: Resource, theirs: Resource) -> Resource | None:
    """The server's Patient with our authoritative elements, or None when it has them already."""
    updated = dict(theirs)
    if "birthDate" in ours and theirs.get("birthDate") != ours["birthDate"]:
        updated["birthDate"] = ours["birthDate"]
    for key in DECEASED:
        if key in ours and theirs.get(key) != ours[key]:
            for other in DECEASED:
                updated.pop(other, None)
            updated[key] = ours[key]
    return None if updated == theirs else updated


def _found_patients(
    chunk: Resource, answer: Resource
) -> list[tuple[Resource, str, Resource | None]]:
    """Our Patients with an authoritative element that the server found (status 200, not
    201 Created), with the reference of the server's Patient and the Patient itself when the
    answer holds it (``Prefer: return=representation``)."""
    found = []
    for sent, got in zip(chunk["entry"], answer.get("entry", []), strict=False):
        resource = sent["resource"]
        if resource["resourceType"] != "Patient" or not sent["request"].get("ifNoneExist"):
            continue
        if not any(k in resource for k in ("birthDate", *DECEASED)):
            continue
        response = got.get("response", {})
        if str(response.get("status", "")).split(" ")[0] != "200":
            continue
        location = str(response.get("location", ""))
        parts = location.split("/")
        theirs = got.get("resource") if isinstance(got.get("resource"), dict) else None
        if len(parts) >= 2 and parts[-2] != "_history":
            found.append((resource, f"{parts[-2]}/{parts[-1]}", theirs))
        elif len(parts) >= 4:
            found.append((resource, f"{parts[-4]}/{parts[-3]}", theirs))
    return found


def update_found_patients(client: FhirClient, chunk: Resource, answer: Resource) -> int:
    """Apply the policy to the Patients of one delivered chunk; how many were updated."""
    updated = 0
    for ours, reference, theirs in _found_patients(chunk, answer):
        if _update_one(client, ours, reference, theirs):
            updated += 1
    return updated


def _update_one(client: FhirClient, ours: Resource, reference: str, known: Resource | None) -> bool:
    """Update one Patient; ``known``: the server's Patient as the transaction answered it (read
    only when absent, and again after a conflict)."""
    for _ in range(ATTEMPTS):
        etag = None
        if known is None:
            current = client.read(reference)
            known, etag = current.body, current.etag
        theirs: dict[str, Any] = known
        known = None
        change = authoritative_update(ours, theirs)
        if change is None:
            return False
        version = theirs.get("meta", {}).get("versionId")
        if_match = etag or (f'W/"{version}"' if version else None)
        if client.update(change, if_match) < 300:
            return True
    raise DeliveryFailed(f"update {reference}: changed on the server {ATTEMPTS} times", retry=True)
