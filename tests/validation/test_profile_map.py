"""The profile map (mappings/profile-map.yaml): every example of profiles/package, stripped of its
meta.profile, is assigned the profile it declares whenever the map has a rule for its type, but
only when asked (``infer``): by default a resource is checked against what it claims."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapter.issues import UsageError
from adapter.validation import PROFILES_PACKAGE, default_validator, load_profile_map
from adapter.validation.profilemap import DEFAULT_MAP

EXAMPLES = sorted(p for p in (PROFILES_PACKAGE / "example").glob("*.json") if p.name[0] != ".")
MAPPED_TYPES = {r.resource_type for r in load_profile_map().rules}
#: types with several profiles that no code tells apart: the map leaves them to meta.profile
UNMAPPED_TYPES = {"BiologicallyDerivedProduct", "CarePlan", "MedicationAdministration"}
MAPPED_EXAMPLES = [p for p in EXAMPLES if json.loads(p.read_text())["resourceType"] in MAPPED_TYPES]


@pytest.mark.parametrize("path", MAPPED_EXAMPLES, ids=[p.name for p in MAPPED_EXAMPLES])
def test_map_assigns_the_declared_profile(path: Path) -> None:
    resource = json.loads(path.read_text())
    declared = resource.pop("meta")["profile"]
    assert default_validator().profiles_for(resource, infer=True) == declared
    assert default_validator().profiles_for(resource) == []


def test_only_the_known_ambiguous_types_are_left_to_meta_profile() -> None:
    types = {json.loads(p.read_text())["resourceType"] for p in EXAMPLES}
    assert types - MAPPED_TYPES == UNMAPPED_TYPES


def test_every_rule_names_a_loaded_profile() -> None:
    registry = default_validator().registry
    for rule in load_profile_map(DEFAULT_MAP).rules:
        assert registry.structure_definition(rule.profile) is not None, rule.profile


def test_bad_map_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "map.yaml"
    bad.write_text("rules:\n  - {resourceType: Patient}\n")
    with pytest.raises(UsageError):
        load_profile_map(bad)
