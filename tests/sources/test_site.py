"""Site configurations are validated strictly; every error names the key."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from adapter.issues import UsageError
from adapter.mapping.lab import FIELDS
from adapter.sources.delimited import check_section
from adapter.sources.site import load_site, parse_site
from tests.conftest import ROOT


def base() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "mappings" / "sites" / "default.yaml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"colour": "blue"}, "colour: unknown key"),
        ({"encoding": "klingon-8"}, "encoding"),
        ({"delimiter": ";;"}, "delimiter"),
        ({"decimal_separator": "·"}, "decimal_separator"),
        ({"date_formats": ["%d.%Y"]}, "date_formats: .*'%d.%Y' lacks %m"),
        ({"datetime_formats": ["%d.%m.%Y"]}, "datetime_formats: .*'%d.%m.%Y' lacks %H"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"patient_identifier_system": "not a uri"}, "patient_identifier_system"),
        ({"patient_identifier_system": None}, "patient_identifier_system"),
    ],
)
def test_bad_top_level_keys_are_named(change: dict[str, Any], named: str) -> None:
    data = base() | change
    if change.get("patient_identifier_system", "x") is None:
        del data["patient_identifier_system"]
    with pytest.raises(UsageError, match=named):
        parse_site(data, "site.yaml")


def test_unknown_key_inside_a_section_is_named() -> None:
    data = base()
    data["lab"]["mrd_units"] = "%"
    with pytest.raises(UsageError, match=r"lab\.mrd_units: unknown key"):
        parse_site(data, "site.yaml")


def test_missing_test_code_map_is_named() -> None:
    data = base()
    del data["lab"]["test_code_map"]
    with pytest.raises(UsageError, match=r"lab\.test_code_map: required key is missing"):
        parse_site(data, "site.yaml")


def test_column_map_to_unknown_field_and_missing_required_field() -> None:
    site = load_site("default")
    assert site.lab is not None
    wrong = site.lab.model_copy(update={"columns": {**site.lab.columns, "Foo": "foo"}})
    with pytest.raises(UsageError, match=r"lab\.columns\.Foo: unknown canonical field 'foo'"):
        check_section(wrong, FIELDS)
    columns = {h: f for h, f in site.lab.columns.items() if f != "status"}
    with pytest.raises(UsageError, match=r"no mapping for required field\(s\) \['status'\]"):
        check_section(site.lab.model_copy(update={"columns": columns}), FIELDS)


def test_unsafe_yaml_is_refused(tmp_path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("site: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_site(str(path))


def test_shipped_sites_load() -> None:
    for path in sorted((ROOT / "mappings" / "sites").glob("*.yaml")):
        assert load_site(str(path)).site == path.stem
