"""Invariants over many inputs (style anchor: FHIR-Converter rule-based checks): evaluation never
raises on partial bundles, every finding cites protocol.md/contract.md, and every evidence
reference resolves to an entry of the evaluated Bundle."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapter.protocol import evaluate
from tests.protocol.conftest import ROOT, protocols
from tests.protocol.synthetic import bundle_for, random_spec

EXAMPLE: dict[str, Any] = json.loads(
    (ROOT / "examples" / "protocol" / "course-bundle.json").read_text(encoding="utf-8")
)


def _check(bundle: dict[str, Any], as_of: dt.date) -> None:
    known = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    for ev in evaluate(bundle, protocols(), as_of):
        codes = ev.codes()
        assert "outcome" in codes or "relapse-none" in codes
        for f in ev.findings:
            assert f.source.startswith(("protocol.md", "contract.md")), f
            assert set(f.evidence) <= known, f


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    keep=st.lists(st.booleans(), min_size=len(EXAMPLE["entry"]), max_size=len(EXAMPLE["entry"])),
    days=st.integers(min_value=-400, max_value=900),
)
def test_partial_example_bundles_evaluate(keep: list[bool], days: int) -> None:
    entries = [
        e
        for e, k in zip(EXAMPLE["entry"], keep, strict=True)
        if k or e["resource"]["resourceType"] == "Patient"
    ]
    bundle = {**EXAMPLE, "entry": entries}
    _check(bundle, dt.date(2022, 3, 15) + dt.timedelta(days=days))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_synthetic_patients_evaluate(seed: int) -> None:
    bundle = bundle_for(random_spec(seed, random.Random(seed)))
    _check(bundle, dt.date(2026, 1, 1))
