"""A FHIR consumer loads our package .tgz: Medplum 4.5.2 (``scripts/setup-npm``) unpacks it,
indexes its StructureDefinitions and validates every example against the profile it claims
(``medplum_load_package.cjs``).

Medplum 4.5.2 cannot index a slicing with a ``profile`` discriminator: Genomics Reporting 3.0.0's
own ``variant`` (derivedFrom) and ``genomic-report`` (result) have one, so our profiles derived
from them are the exact, expected exceptions (profiles/README.md "Derivation").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.validation.medplum import medplum_installed, run_node

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().parent / "medplum_load_package.cjs"
TGZ = ROOT / "profiles" / "ball-fhir.profiles-0.1.0.tgz"
BASE = "https://ball-fhir.org/fhir/StructureDefinition/"

#: Profiles Medplum 4.5.2 cannot index, and why (their GR parents' ``profile`` discriminator).
UNINDEXABLE = {
    BASE + "ball-fusion-variant": "Unsupported slicing discriminator type: profile",
    BASE + "ball-cytogenetics-report": "Unsupported slicing discriminator type: profile",
}
#: Examples Medplum rejects while our validator accepts them, and why.
MEDPLUM_DIFFERENCES = {
    # The required extension slice usedProduct (ball-used-product, valueReference to a
    # BiologicallyDerivedProduct) is present; Medplum 4.5.2 does not count it into the slice
    # (its other extension slices match). Present before the derivation work; not investigated.
    "Procedure/ball-cd3-infusion-example": [
        "Procedure.extension: Incorrect number of values provided for slice 'usedProduct': "
        "expected 1..1, but found 0"
    ],
}

pytestmark = pytest.mark.npm


def test_medplum_loads_the_package_tgz() -> None:
    if not medplum_installed():
        pytest.fail("node and @medplum/core are needed: run ./scripts/setup-npm")
    result = run_node(SCRIPT, {}, str(ROOT / ".npm-tools"), str(TGZ), timeout=120)
    manifest = json.loads((ROOT / "profiles" / "package" / "package.json").read_text())
    assert (result["name"], result["version"]) == (manifest["name"], manifest["version"])
    assert result["unindexable"] == UNINDEXABLE
    sds = list((ROOT / "profiles" / "package").glob("StructureDefinition-*.json"))
    assert result["profiles"] == len(sds) - len(UNINDEXABLE)
    errors = {e["id"]: e["errors"] for e in result["examples"] if e["errors"]}
    assert errors == MEDPLUM_DIFFERENCES
    assert len(result["examples"]) >= 20
