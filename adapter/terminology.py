"""ConceptMaps from ``mappings/conceptmaps`` indexed by canonical URL, and code translation.

Local codes reach contract.md codes only through a FHIR R4 ConceptMap
(https://hl7.org/fhir/R4/conceptmap.html), so the tables are data that a site can correct without
code changes.  Only ``equivalent``/``equal``/``wider``/``narrower``/``relatedto`` targets translate;
``unmatched`` and ``disjoint`` do not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from adapter.issues import UsageError

_TRANSLATING = frozenset(
    {"equivalent", "equal", "wider", "narrower", "relatedto", "subsumes", "specializes", "inexact"}
)


@dataclass(frozen=True, slots=True)
class Target:
    system: str
    code: str
    display: str | None


@dataclass(frozen=True, slots=True)
class ConceptMapIndex:
    """One ConceptMap as a lookup from source code to its target."""

    url: str
    targets: dict[str, Target]

    def translate(self, code: str) -> Target | None:
        return self.targets.get(code)


def index_concept_map(resource: dict[str, Any]) -> ConceptMapIndex:
    """Index a ConceptMap resource (first translating target of each source element)."""
    if resource.get("resourceType") != "ConceptMap" or not resource.get("url"):
        raise UsageError("not a ConceptMap with a url")
    targets: dict[str, Target] = {}
    for group in resource.get("group", []):
        system = group.get("target")
        for element in group.get("element", []):
            for target in element.get("target", []):
                if target.get("equivalence") in _TRANSLATING and system and target.get("code"):
                    targets.setdefault(
                        element["code"], Target(system, target["code"], target.get("display"))
                    )
                    break
    return ConceptMapIndex(resource["url"], targets)


@cache
def load_concept_maps(folder: Path) -> dict[str, ConceptMapIndex]:
    """Every ConceptMap JSON file in ``folder``, by canonical URL (loaded once per folder)."""
    maps: dict[str, ConceptMapIndex] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            cm = index_concept_map(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, UsageError) as exc:
            raise UsageError(f"{path}: not a usable ConceptMap: {exc}") from None
        maps[cm.url] = cm
    return maps


def concept_map(folder: Path, url: str) -> ConceptMapIndex:
    """The ConceptMap with canonical ``url``; :class:`UsageError` when there is none."""
    maps = load_concept_maps(folder)
    if url not in maps:
        raise UsageError(f"no ConceptMap {url} in {folder}")
    return maps[url]
