"""The delivery configuration file: the example loads; mistakes are usage errors naming them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapter.delivery import DeliveryConfig, load_delivery_config
from adapter.issues import UsageError
from tests.conftest import ROOT


def test_the_example_loads() -> None:
    config = load_delivery_config(ROOT / "examples" / "delivery.yaml")
    assert config.server.max_entries == 8
    assert config.retry.policy().max_attempts == 10


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("server: {base_url: x, max_entries: 2}", "at least 3"),
        ("server: {base_url: x, colour: red}", "colour"),
        ("retry: {base: 1}", "server"),
        (
            "server: {base_url: x, bearer_token_env: T, smart: {token_url: t, client_id: c, "
            "private_key_file: k}}",
            "not both",
        ),
        ("server: [", "not valid YAML"),
    ],
)
def test_mistakes_are_usage_errors(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "delivery.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=says):
        load_delivery_config(path)


def test_the_published_schema_is_the_models() -> None:
    """examples/delivery.schema.json is DeliveryConfig's JSON Schema (regenerate it with
    ``DeliveryConfig.model_json_schema()`` after changing the model)."""
    published = json.loads((ROOT / "examples" / "delivery.schema.json").read_text())
    assert published == DeliveryConfig.model_json_schema()
