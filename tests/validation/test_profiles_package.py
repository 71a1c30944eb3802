"""Every example of profiles/package is valid, and every top-level constraint of every profile in
the package has a valid case (the example) and an invalid one (the example, mutated).

The invalid cases are generated from the snapshots, so profiles added to the package are covered
without new test code: for each profile and each example claiming it, every top-level element the
profile requires (min >= 1) is removed, and every top-level fixed or pattern value is replaced;
the validator must then report an error at that element.  Hand-written cases for the same
profiles (including slices, bindings, target profiles and invariants) are in cases/profiles.yaml.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from adapter.validation import PROFILES_PACKAGE, default_validator

EXAMPLES = sorted(p for p in (PROFILES_PACKAGE / "example").glob("*.json") if p.name[0] != ".")

#: Examples that carry a warning on purpose, and why.
EXPECTED_WARNINGS = {
    # vitalsigns (the parent) binds code extensibly to observation-vitalsignresult, which has no
    # BSA code; 8277-6 is the contract's BSA code (contract.md "Concepts").
    "Observation-ball-body-surface-area-example.json": {"binding-extensible"},
    # mCODE CancerRelatedMedicationAdministration (the parent, profiles/README.md "Derivation")
    # warns without reasonCode/reasonReference (mcode-reason-required, severity warning): infusion
    # and intrathecal records do not name the condition treated, and we do not invent one.
    **{
        name: {"mcode-reason-required"}
        for name in (
            "MedicationAdministration-ball-blinatumomab-administration-example.json",
            "MedicationAdministration-ball-blinatumomab-administration-stopped-example.json",
            "MedicationAdministration-ball-intrathecal-administration-example.json",
        )
    },
}


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_is_valid(path: Path) -> None:
    resource = _load(path)
    assert resource.get("meta", {}).get("profile"), "examples declare their profile"
    issues = default_validator().validate(resource)
    assert not [i.to_text() for i in issues if i.is_error]
    warnings = {i.rule for i in issues if i.severity == "warning"}
    assert warnings == EXPECTED_WARNINGS.get(path.name, set())


def _mutations() -> list[tuple[str, str, dict[str, Any], str]]:
    """(case id, profile, mutated resource, element expression that must carry an error)."""
    registry = default_validator().registry
    out = []
    for path in EXAMPLES:
        example = _load(path)
        rtype = example["resourceType"]
        for url in example.get("meta", {}).get("profile", []):
            sd = registry.structure_definition(url)
            if sd is None:
                continue
            for element in sd["snapshot"]["element"]:
                eid = element["id"]
                if eid.count(".") != 1 or ":" in eid:
                    continue
                name = eid.split(".", 1)[1]
                choice = name.endswith("[x]")
                stem = name.removesuffix("[x]")
                keys = [
                    k
                    for k in example
                    if k == stem or (choice and k.startswith(stem) and k[len(stem) :][:1].isupper())
                ]
                if not keys:
                    continue
                short = url.rsplit("/", 1)[-1]
                if element.get("min", 0) >= 1:
                    mutated = copy.deepcopy(example)
                    for key in keys:
                        del mutated[key]
                    out.append((f"{path.stem}|{short}|{name} min", url, mutated, f"{rtype}.{stem}"))
                fixed = [k for k in element if k.startswith(("fixed", "pattern"))]
                if fixed:
                    mutated = copy.deepcopy(example)
                    mutated[keys[0]] = _other(mutated[keys[0]])
                    out.append(
                        (
                            f"{path.stem}|{short}|{name} {fixed[0]}",
                            url,
                            mutated,
                            f"{rtype}.{keys[0]}",
                        )
                    )
    return out


def _other(value: Any) -> Any:
    if isinstance(value, str):
        return value + "-mutated"
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, list):
        return [_other(v) for v in value]
    if isinstance(value, dict):
        if "coding" in value:
            return {
                **value,
                "coding": [{**c, "code": f"{c.get('code')}-mutated"} for c in value["coding"]],
            }
        return {k: _other(v) for k, v in value.items()}
    return value


MUTATIONS = _mutations()


def test_every_profile_has_an_example() -> None:
    registry = default_validator().registry
    claimed = {u for p in EXAMPLES for u in _load(p).get("meta", {}).get("profile", [])}
    profiles = [
        u
        for u in registry.urls()
        if u.startswith("https://ball-fhir.org/fhir/StructureDefinition/")
        and (sd := registry.structure_definition(u)) is not None
        and sd.get("kind") == "resource"
    ]
    assert profiles
    assert set(profiles) <= claimed, sorted(set(profiles) - claimed)


def test_mutations_exist() -> None:
    assert len(MUTATIONS) > 20


@pytest.mark.parametrize("case", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_mutated_example_is_invalid(case: tuple[str, str, dict[str, Any], str]) -> None:
    _name, url, resource, where = case
    issues = default_validator().validate(resource, [url])
    hits = [i for i in issues if i.is_error and any(e.startswith(where) for e in i.expression)]
    assert hits, "\n".join(i.to_text() for i in issues) or "no issues"
