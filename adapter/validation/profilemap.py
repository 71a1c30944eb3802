"""The configurable map from a resource (type and code) to the profile it is validated against.

Used for resources that carry no ``meta.profile``; the default map is the data file
``mappings/profile-map.yaml`` (its header cites the sources).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from adapter.datafiles import mappings_dir
from adapter.issues import UsageError
from adapter.validation.registry import Registry

DEFAULT_MAP = mappings_dir() / "profile-map.yaml"


@dataclass(frozen=True, slots=True)
class ProfileRule:
    resource_type: str
    profile: str
    system: str | None = None
    code: str | None = None
    value_set: str | None = None

    def matches(self, resource: dict[str, Any], registry: Registry) -> bool:
        if resource.get("resourceType") != self.resource_type:
            return False
        if self.code is None and self.value_set is None:
            return True
        concept = resource.get("code")
        codings = concept.get("coding") if isinstance(concept, dict) else None
        if not isinstance(codings, list):
            return False
        for coding in codings:
            if not isinstance(coding, dict):
                continue
            system, code = coding.get("system"), coding.get("code")
            if not isinstance(code, str):
                continue
            if self.code is not None and code == self.code and system == self.system:
                return True
            if self.value_set is not None:
                expansion = registry.expand(self.value_set)
                if expansion is not None and expansion.contains(
                    system if isinstance(system, str) else None, code
                ):
                    return True
        return False


@dataclass(frozen=True, slots=True)
class ProfileMap:
    rules: tuple[ProfileRule, ...]

    def profiles_for(self, resource: dict[str, Any], registry: Registry) -> list[str]:
        for rule in self.rules:
            if registry.structure_definition(rule.profile) is not None and rule.matches(
                resource, registry
            ):
                return [rule.profile]
        return []


def load_profile_map(path: Path = DEFAULT_MAP) -> ProfileMap:
    """Read a profile map YAML file (see ``mappings/profile-map.yaml``)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: cannot read the profile map: {exc}") from exc
    rules = []
    for i, raw in enumerate((data or {}).get("rules", [])):
        if not isinstance(raw, dict) or "resourceType" not in raw or "profile" not in raw:
            raise UsageError(f"{path}: rule {i} needs resourceType and profile")
        code = raw.get("code") or {}
        rules.append(
            ProfileRule(
                resource_type=str(raw["resourceType"]),
                profile=str(raw["profile"]),
                system=code.get("system"),
                code=code.get("code"),
                value_set=raw.get("valueSet"),
            )
        )
    return ProfileMap(tuple(rules))
