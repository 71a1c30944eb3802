"""The validator never raises on odd input: random JSON values grafted into valid resources."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapter.issues import Issue
from adapter.validation import PROFILES_PACKAGE, default_validator

from .conftest import HERE

EXAMPLES = [
    json.loads(p.read_text())
    for p in sorted((PROFILES_PACKAGE / "example").glob("*.json"))
    if p.name[0] != "."
]
EXAMPLES.append(json.loads((HERE / "resources" / "bundle-tx.json").read_text()))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(EXAMPLES))), st.integers(min_value=0), json_values)
def test_graft_never_raises(index: int, where: int, graft: Any) -> None:
    resource = copy.deepcopy(EXAMPLES[index])
    paths = [p for p in _paths(resource) if p]
    path = paths[where % len(paths)]
    target: Any = resource
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = graft
    issues = default_validator().validate(resource)
    assert all(isinstance(i, Issue) for i in issues)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_any_json_never_raises(value: Any) -> None:
    issues = default_validator().validate(value)
    assert all(isinstance(i, Issue) for i in issues)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": value}
    assert all(isinstance(i, Issue) for i in default_validator().validate(bundle))
