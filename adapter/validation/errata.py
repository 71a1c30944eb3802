"""Corrections to hl7.fhir.r4.core#4.0.1 definitions that the official content contradicts.

The data file ``mappings/core-errata.yaml`` cites, per correction, the later official definition
it takes over (today: extension contexts from hl7.fhir.uv.extensions.r4).  Without them every
StructureDefinition, CodeSystem and ValueSet of the core package would fail ``extension-context``.
"""

from __future__ import annotations

from functools import cache

import yaml

from adapter.datafiles import mappings_dir
from adapter.issues import UsageError


@cache
def extension_contexts() -> dict[str, tuple[str, ...]]:
    """Extension URL -> the context expressions that replace its R4 ``context`` list."""
    path = mappings_dir() / "core-errata.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: cannot read the core errata: {exc}") from exc
    raw = data.get("extension-contexts") or {}
    return {str(url): tuple(str(c) for c in contexts) for url, contexts in raw.items()}
