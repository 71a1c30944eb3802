"""The generated real-world corpus (tests/iscn/corpus.py, also measured by benchmarks/iscn.py):
every string is accepted and yields exactly its fusions; with one unreadable abnormality added,
the partial result still yields them."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from adapter.iscn import Knowledge, analyse, load_knowledge
from tests.iscn.corpus import damaged, generate


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge()


SAMPLES = generate(1500, seed=21)


def test_corpus_covers_every_class() -> None:
    kinds = Counter(s.kind for s in SAMPLES)
    assert set(kinds) == {"canonical", "breakpoint-less", "lab-dash", "or", "noise", "fish"}
    assert min(kinds.values()) > 100


def test_every_generated_string_is_accepted_with_its_fusions(knowledge: Knowledge) -> None:
    failures: list[object] = []
    for s in SAMPLES:
        a = analyse(s.text, knowledge)
        if not a.result.ok or frozenset(a.fusions) != s.fusions:
            failures.append((s.kind, s.text, a.result.error, a.fusions))
        elif any(w.rule != "breakpoints-missing" for w in a.result.warnings):
            failures.append((s.kind, s.text, a.result.warnings))
    assert failures == []


def test_one_unreadable_abnormality_hides_no_fusion(knowledge: Knowledge) -> None:
    rng = random.Random(21)
    for s in SAMPLES[:500]:
        d = damaged(rng, s)
        if d is s:
            continue
        a = analyse(d.text, knowledge)
        assert a.result.error is not None, d.text
        assert a.partial, d.text
        assert frozenset(a.fusions) == s.fusions, (d.text, a.fusions)
        assert all(r.partial for r in a.rearrangements)
