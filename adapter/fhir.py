"""FHIR access shared by every layer: canonical URLs, code systems, deterministic ids, references.

Resources are built and read as plain JSON dicts (``dict[str, Any]``): the R4B ``fhir.resources``
models are not R4 and are too slow for 20,000 rows/s; R4 conformance is judged by our own
validator against the official 4.0.1 StructureDefinitions.  This module is the one place that
knows our canonical base and the systems of contract.md ("Identity", "Systems").
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

Resource = dict[str, Any]

#: contract.md "Identity": canonical base of our conformance resources.
CANONICAL = "https://ball-fhir.org/fhir"
BALL_CONCEPTS = f"{CANONICAL}/CodeSystem/ball-concepts"


def sd_url(sd_id: str) -> str:
    """Canonical URL of one of our StructureDefinitions (profile or extension)."""
    return f"{CANONICAL}/StructureDefinition/{sd_id}"


# contract.md "Systems"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HGNC = "http://www.genenames.org"
SEQUENCE_ONTOLOGY = "http://www.sequenceontology.org"
ISCN = "https://iscn.karger.com"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"

#: RFC 3986 URI system, used for the sha256 identifier of a source file in Provenance.
URI_SYSTEM = "urn:ietf:rfc:3986"

# Profiles of the foundation (profiles/input/fsh/SD_*.fsh)
PROFILE_PATIENT = sd_url("ball-patient")
PROFILE_SPECIMEN = sd_url("ball-specimen")
PROFILE_MRD = sd_url("ball-mrd-observation")
PROFILE_LAB = sd_url("ball-lab-observation")
PROFILE_DIAGNOSTIC_REPORT = sd_url("ball-diagnostic-report")
PROFILE_PROVENANCE = sd_url("ball-provenance")
EXT_SOURCE_ROW = sd_url("ball-source-row")

_NAMESPACE = uuid.UUID("6f1d3a52-5b0e-5c53-9a57-0b6a1f0e2c11")
_NAMESPACE_BYTES = _NAMESPACE.bytes
#: RFC 4122 section 4.1.1 variant: the first hex digit of the clock_seq_hi octet with its two
#: top bits set to ``10`` (digit ``d`` -> ``(d & 0x3) | 0x8``).
_VARIANT_DIGIT = {f"{d:x}": f"{(d & 0x3) | 0x8:x}" for d in range(16)}


def _escape(key: str) -> str:
    return key.replace("\\", "\\\\").replace("|", "\\|") if ("|" in key or "\\" in key) else key


def _name(keys: tuple[str, ...]) -> str:
    """Keys joined with ``|``, escaped inside keys."""
    joined = "|".join(keys)
    if joined.count("|") != len(keys) - 1 or "\\" in joined:  # a key holds '|' or '\\'
        joined = "|".join(map(_escape, keys))
    return joined


def _uuid_text(h: str) -> str:
    """The uuid of a sha1 hex digest: version digit ``5`` (RFC 4122 section 4.1.3) and the
    variant bits (section 4.1.1) set."""
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:32]}"


def unique_id(resource_type: str, *keys: str) -> str:
    """uuid5 of the resource type and the source business keys (contract.md "Identity").

    The same source record always yields the same id, so a re-sent record updates instead of
    duplicating.  Keys are joined with ``|``, escaped inside keys.  RFC 4122 section 4.3 name-based
    uuid, computed directly with hashlib (equal to ``uuid.uuid5``, without its overhead).
    Uncached: for keys met once per file; keys that recur (a patient, a specimen) go through
    :func:`deterministic_id`, and many ids under the same leading keys through :class:`IdSpace`.
    """
    name = f"{resource_type}|{_name(keys)}" if keys else resource_type
    return _uuid_text(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).hexdigest())  # noqa: S324


class IdSpace:
    """:func:`unique_id` of many records that share a resource type and leading keys: the
    shared part of the name is hashed once, and each id hashes only its own keys on a copy
    (``IdSpace("Observation", system)(specimen, code) == unique_id("Observation", system,
    specimen, code)``)."""

    __slots__ = ("_hash",)

    def __init__(self, resource_type: str, *leading: str) -> None:
        prefix = f"{resource_type}|{_name(leading)}|" if leading else f"{resource_type}|"
        self._hash = hashlib.sha1(_NAMESPACE_BYTES + prefix.encode())  # noqa: S324

    def __call__(self, *keys: str) -> str:
        h = self._hash.copy()
        h.update(_name(keys).encode())
        return _uuid_text(h.hexdigest())


#: :func:`unique_id`, cached: the same patient and specimen keys recur on many rows.
deterministic_id = lru_cache(maxsize=1 << 16)(unique_id)


def urn(resource_id: str) -> str:
    """The ``urn:uuid:`` fullUrl of a resource with a uuid id."""
    return f"urn:uuid:{resource_id}"


def references(node: Any) -> Iterator[str]:
    """Every ``reference`` string anywhere in a resource (or any JSON value)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def ref(resource_id: str, display: str | None = None) -> dict[str, Any]:
    """A Reference to a resource inside the same transaction Bundle, by its urn:uuid fullUrl."""
    out: dict[str, Any] = {"reference": urn(resource_id)}
    if display:
        out["display"] = display
    return out


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(
    system: str, code: str, display: str | None = None, text: str | None = None
) -> dict[str, Any]:
    """A CodeableConcept with one coding."""
    out: dict[str, Any] = {"coding": [coding(system, code, display)]}
    if text:
        out["text"] = text
    return out
