"""Zero false positives on official content (issue 18): every resource of hl7.fhir.r4.core#4.0.1
(its 4,500 conformance resources) and every example of hl7.fhir.r4.examples#4.0.1 that the core
package lacks is validated as the HL7 validator would (base R4 plus meta.profile, no profile map);
the errors must be exactly the real defects listed, with their reasons, in official-defects.yaml.

The examples package is fetched and verified by scripts/setup-npm (adapter/packagecache.py); the
test fails, not skips, without it.  It takes about a minute on the 2-core machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from adapter.packagecache import EXAMPLES_PACKAGE, core_package_dir, npm_package_dir
from adapter.validation import Validator

from .conftest import HERE

pytestmark = pytest.mark.npm

DEFECTS = HERE / "official-defects.yaml"


def _resource_files(folder: Path, skip: Path | None = None) -> list[Path]:
    return sorted(
        p
        for p in folder.glob("*.json")
        if p.name[0] != "." and p.name != "package.json" and not (skip and (skip / p.name).exists())
    )


def _listed() -> set[tuple[str, str, str]]:
    data = yaml.safe_load(DEFECTS.read_text(encoding="utf-8"))
    found = set()
    for defect in data["defects"]:
        assert defect["reason"].strip(), defect["rule"]
        for file, expressions in defect["found"].items():
            found |= {(defect["rule"], file, e) for e in expressions}
    return found


def test_official_r4_content_has_only_its_listed_defects() -> None:
    core = core_package_dir()
    examples = npm_package_dir(EXAMPLES_PACKAGE)
    files = _resource_files(core) + _resource_files(examples, skip=core)
    assert len(files) > 5000
    validator = Validator.load([], profile_map=None)
    errors: set[tuple[str, str, str]] = set()
    for path in files:
        for issue in validator.validate(json.loads(path.read_text(encoding="utf-8"))):
            if issue.is_error:
                errors.add((issue.rule or issue.code, path.name, issue.expression[0]))
    listed = _listed()
    assert sorted(errors - listed) == [], "errors on official content not listed as defects"
    assert sorted(listed - errors) == [], "listed defects the validator no longer reports"
