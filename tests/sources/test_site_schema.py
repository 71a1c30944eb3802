"""The published JSON Schema of the site configuration (mappings/sites/site.schema.json).

Generated from the pydantic models (:class:`adapter.sources.site.SiteConfig`), so it cannot
drift from what ``load_site`` accepts: this test fails when the models change until the file is
regenerated (``BALL_FHIR_REGEN_GOLDEN=1``, then review the diff).  Every site file names it on
its first line (``# yaml-language-server: $schema=site.schema.json``), so editors with the YAML
language server check a site file as it is typed; here jsonschema checks the shipped ones.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from adapter.datafiles import mappings_dir
from adapter.sources.site import SiteConfig

SITES = mappings_dir() / "sites"
SCHEMA = SITES / "site.schema.json"
MODELINE = "# yaml-language-server: $schema=site.schema.json"


def _generated() -> dict[str, Any]:
    schema = SiteConfig.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://ball-fhir.org/schemas/site.schema.json",
        **schema,
        "title": "ball-fhir site configuration",
    }


def test_the_published_schema_is_the_one_the_models_generate() -> None:
    generated = _generated()
    if os.environ.get("BALL_FHIR_REGEN_GOLDEN"):
        SCHEMA.write_text(json.dumps(generated, indent=2, ensure_ascii=False) + "\n")
    assert json.loads(SCHEMA.read_text(encoding="utf-8")) == generated


def _sites() -> list[Path]:
    return sorted(SITES.glob("*.yaml"))


@pytest.mark.parametrize("site", _sites(), ids=lambda p: p.name)
def test_every_site_file_names_the_schema_and_passes_it(site: Path) -> None:
    text = site.read_text(encoding="utf-8")
    assert text.splitlines()[0] == MODELINE
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(text), schema, cls=jsonschema.Draft202012Validator)


def test_the_schema_refuses_what_load_site_refuses() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    good = yaml.safe_load((SITES / "default.yaml").read_text(encoding="utf-8"))
    for bad in ({**good, "colums": {}}, {**good, "decimal_separator": ";"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema, cls=jsonschema.Draft202012Validator)
        with pytest.raises(ValueError, match="validation error"):
            SiteConfig.model_validate(bad)
