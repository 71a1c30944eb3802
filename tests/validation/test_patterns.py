"""The compiled pattern matchers agree with the reference definition of FHIR pattern matching."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapter.validation.checker import compile_pattern, matches_pattern

keys = st.sampled_from(["system", "code", "coding", "text", "value"])
scalars = st.sampled_from(["a", "b", "http://x", 1, True])
json_like = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=500, deadline=None)
@given(json_like, json_like)
def test_compiled_equals_reference(pattern: Any, value: Any) -> None:
    assert compile_pattern(pattern)(value) == matches_pattern(value, pattern)


def test_scalar_pattern_against_a_list() -> None:
    assert compile_pattern({"code": "a"})({"code": ["b", "a"]})
    assert matches_pattern({"code": ["b", "a"]}, {"code": "a"})


def test_codeable_concept_pattern() -> None:
    pattern = {"coding": [{"system": "s", "code": "c"}]}
    match = compile_pattern(pattern)
    assert match(
        {"coding": [{"system": "x", "code": "y"}, {"system": "s", "code": "c", "display": "d"}]}
    )
    assert not match({"coding": [{"system": "s", "code": "other"}]})
    assert not match({"text": "c"})
