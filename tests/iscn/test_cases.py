"""The YAML cases: every valid string parses, round-trips and yields the expected recognitions
and tree facts; every malformed one is rejected at the expected position."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from adapter.iscn import Analysis, Knowledge, analyse, load_knowledge, parse, render
from adapter.iscn.model import (
    Aberration,
    Alternatives,
    FishResult,
    IscnString,
    Karyotype,
    Structural,
)
from adapter.iscn.render import render_aberration, render_modal, render_structural
from tests.iscn.cases import ErrorCase, ValidCase, error_cases, valid_cases

VALID = valid_cases()
ERRORS = error_cases()


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge()


def test_corpus_size() -> None:
    assert len(VALID) >= 200
    assert len(ERRORS) >= 50
    assert len({c.iscn for c in VALID}) == len(VALID), "duplicate valid cases"


def _nodes(node: object) -> Iterator[object]:
    yield node
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            yield from _nodes(getattr(node, f.name))
    elif isinstance(node, tuple):
        for x in node:
            yield from _nodes(x)


def _karyotype(tree: IscnString) -> Karyotype:
    return next(p for p in tree.parts if isinstance(p, Karyotype))


def _breakpoints(r: Any) -> str:
    return ";".join(f"{b.chromosome}{''.join(b.bands)}" for b in r.breakpoints)


def _check_fact(name: str, want: Any, a: Analysis) -> None:
    tree = a.result.tree
    assert tree is not None
    rs = a.rearrangements
    if name == "canonical":
        assert render(tree) == want
    elif name == "parts":
        got = ["karyotype" if isinstance(p, Karyotype) else p.method for p in tree.parts]
        assert got == want
    elif name == "clones":
        assert len(_karyotype(tree).clones) == want
    elif name == "modal":
        modals = [render_modal(c.modal) for c in _karyotype(tree).clones][: len(want)]
        assert modals == [str(x) for x in want]
    elif name == "ploidy":
        assert [c.modal.ploidy for c in _karyotype(tree).clones] == want
    elif name == "sex":
        sex = _karyotype(tree).clones[0].sex
        assert sex is not None
        assert sex.chromosomes + ("c" if sex.constitutional else "") == want
    elif name == "aberrations":
        got = [render_aberration(x) for x in _karyotype(tree).clones[0].aberrations]
        assert got == want
    elif name == "kinds":
        items = [x.item for x in _karyotype(tree).clones[0].aberrations]
        assert [i.kind for i in items if isinstance(i, Structural)] == want
    elif name == "cells":
        assert [c.cells.count if c.cells else None for c in _karyotype(tree).clones] == want
    elif name == "composite":
        assert [bool(c.cells and c.cells.composite) for c in _karyotype(tree).clones] == want
    elif name == "refs":
        refs = [c.reference.word if c.reference else None for c in _karyotype(tree).clones]
        assert refs == want
    elif name == "prefix":
        assert _karyotype(tree).prefix == want
    elif name == "separators":
        assert list(_karyotype(tree).separators) == want
    elif name == "rearrangements":
        assert len(rs) == want
    elif name == "inherited":
        assert [r.inherited for r in rs] == want
    elif name == "also":
        assert [list(r.also) for r in rs] == want
    elif name == "unnamed":
        got = [_breakpoints(r) for r in rs if r.method == "karyotype" and r.fusion is None]
        assert got == want
    elif name == "reciprocal":
        assert [r.reciprocal_of for r in rs if r.reciprocal_of] == want
    elif name == "evidence":
        assert [r.evidence for r in rs if r.fusion] == want
    elif name == "readings":
        assert [r.readings for r in rs] == want
    elif name == "warnings":
        pass  # checked for every case in test_valid
    elif name == "fish_cells":
        fish = next(p for p in tree.parts if isinstance(p, FishResult))
        counts = [[c.cells.count, c.cells.total] if c.cells else None for c in fish.clones]
        assert counts == want
    elif name == "break_apart":
        got = [r.partners[0].symbol for r in rs if r.kind == "fish-break-apart"]
        assert got == want
    elif name == "unnamed_fish":
        probes = [list(r.probes) for r in rs if r.kind == "fish-fusion" and r.fusion is None]
        assert probes == want
    elif name == "normalised":
        kinds = [n.kind for n in a.result.normalisations]
        if not want:
            assert kinds == []
        for kind in want:
            assert kind in kinds
    else:  # pragma: no cover - a typo in a case file
        pytest.fail(f"unknown fact {name!r}")


@pytest.mark.parametrize("case", VALID, ids=[c.id for c in VALID])
def test_valid(case: ValidCase, knowledge: Knowledge) -> None:
    a = analyse(case.iscn, knowledge)
    result = a.result
    assert result.error is None, result.error.message
    tree = result.tree
    assert tree is not None
    # recognitions
    assert list(a.fusions) == case.fusions
    for r in a.rearrangements:
        if r.fusion is None and r.kind != "fish-break-apart":
            assert r.partners == (), "no gene named without a named fusion"
        assert result.text[r.span.start : r.span.end]
    # spans: inside the text, and each abnormality's span covers exactly its canonical text
    # 'or' readings (band alternatives such as add(19)(p13 or q13) are kept as full readings):
    # their spans cover the abnormality as written, which reads back to the same readings
    inside = {id(n) for a in _nodes(tree) if isinstance(a, Alternatives) for n in _nodes(a)}
    for node in _nodes(tree):
        if isinstance(node, Aberration) and isinstance(node.item, Alternatives):
            written = result.text[node.span.start : node.span.end]
            reread = parse(f"46,XX,{written}").tree
            assert reread is not None
            assert _karyotype(reread).clones[0].aberrations == (node,)
    for node in _nodes(tree):
        if id(node) in inside:
            continue
        span = getattr(node, "span", None)
        if span is not None and dataclasses.is_dataclass(node):
            assert 0 <= span.start <= span.end <= len(result.text)
        if isinstance(node, Aberration) and not isinstance(node.item, Alternatives):
            assert result.text[node.span.start : node.span.end] == render_aberration(node)
        if isinstance(node, Structural):
            assert result.text[node.span.start : node.span.end] == render_structural(node)
    # canonical round trip
    again = parse(render(tree))
    assert again.tree == tree
    assert render(again.tree) == render(tree)
    for name, want in case.facts.items():
        _check_fact(name, want, a)
    # a valid string warns only where its case says so (rule names, in order)
    assert [w.rule for w in result.warnings] == case.facts.get("warnings", []), [
        w.message for w in result.warnings
    ]


@pytest.mark.parametrize("case", ERRORS, ids=[c.id for c in ERRORS])
def test_error(case: ErrorCase, knowledge: Knowledge) -> None:
    a = analyse(case.iscn, knowledge)
    assert a.result.tree is None
    # what could still be read is reported, and marked partial
    assert all(r.partial for r in a.rearrangements)
    assert a.result.errors[0] == a.result.error
    error = a.result.error
    assert error is not None
    assert error.position == case.position, error.message
    assert error.expected.startswith(case.expected), error.message
