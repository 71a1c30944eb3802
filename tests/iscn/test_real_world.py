"""Real-world report strings (issue 21): partial results, recovery, the ideogram and knowledge
checks, 'or' readings and count arithmetic.  Every string is written here."""

from __future__ import annotations

import pytest

from adapter.iscn import Knowledge, analyse, knowledge_from_data, load_knowledge, parse
from adapter.iscn.ideogram import ideogram_from_data, load_ideogram
from adapter.iscn.model import Karyotype
from adapter.iscn.parser import IscnSyntaxError, parse_normalised, parse_recovering


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge()


def _clones(text: str) -> list[str]:
    """Canonical clones of the (partial) tree of ``text``."""
    from adapter.iscn.render import render_clone

    result = parse(text)
    tree = result.tree or result.partial
    assert tree is not None
    return [render_clone(c) for p in tree.parts if isinstance(p, Karyotype) for c in p.clones]


# -- partial results ---------------------------------------------------------------------------


def test_the_issue_string_still_yields_etv6_runx1(knowledge: Knowledge) -> None:
    a = analyse("51,X,+X,...,t(12;21)(p13;q22),...,+der(21)t(12;21)[3]/46,XY[4]", knowledge)
    assert a.result.tree is None  # still not valid ISCN
    assert [e.position for e in a.result.errors] == [8, 30]
    assert a.result.error == a.result.errors[0]
    assert a.partial
    assert a.fusions == ("ETV6::RUNX1",)
    (r,) = a.rearrangements
    assert r.partial
    assert r.also == ("+der(21)t(12;21)",)
    assert _clones(a.result.original) == [
        "51,X,+X,t(12;21)(p13;q22),+der(21)t(12;21)[3]",
        "46,XY[4]",
    ]


def test_a_partial_string_counts_no_chromosomes() -> None:
    # the unreadable abnormality might be a gain: no count warning for that clone
    result = parse("47,XY,+8,+21,foo[10]")
    assert result.partial is not None
    assert [w.rule for w in result.warnings] == []


def test_unbalanced_parenthesis_skips_to_the_next_abnormality() -> None:
    result = parse("46,XY,t(12;21(p13;q22),+21[10]")
    assert result.error is not None
    assert result.error.position == 13
    assert _clones(result.original) == ["46,XY,+21[10]"]


def test_unreadable_cell_count_keeps_the_clone() -> None:
    result = parse("47,XY,+21[2O]/46,XY[18]")
    assert result.error is not None
    assert result.error.expected.startswith("']' closing the cell count")
    assert _clones(result.original) == ["47,XY,+21", "46,XY[18]"]


def test_an_unreadable_clone_takes_the_clones_that_refer_to_it(knowledge: Knowledge) -> None:
    a = analyse("46,XY,t(4;11)(q21;q23)[5]/4?,XY[3]/47,idem,+8[2]/46,XY[10]", knowledge)
    assert len(a.result.errors) == 2
    assert "refers to a clone that could not be read" in a.result.errors[1].expected
    assert _clones(a.result.original) == ["46,XY,t(4;11)(q21;q23)[5]", "46,XY[10]"]
    assert a.fusions == ("KMT2A::AFF1",)


def test_unreadable_fish_item_keeps_the_others(knowledge: Knowledge) -> None:
    a = analyse("46,XX[20].nuc ish(ETV6 con RUNX1x1),(BCR con)[180/200]", knowledge)
    assert a.result.error is not None
    assert a.result.error.position == 40
    assert a.result.error.expected.startswith("',' and another probe")
    assert a.fusions == ("ETV6::RUNX1",)
    assert all(r.partial and r.cells == (180, 200) for r in a.rearrangements)


def test_nothing_readable_gives_no_partial_tree(knowledge: Knowledge) -> None:
    a = analyse("t(12;21)(p13;q22)", knowledge)
    assert a.result.partial is None
    assert not a.partial
    assert a.rearrangements == ()


@pytest.mark.parametrize(
    "text",
    [
        "46,XY,t(12 21)(p13;q22)",
        "46,XY,,+21",
        "47,XY,+21[20]x",
        "46,XY,t(9;22)(q34;q11.2)[10]/47,sdl,+8[4]",
        "46,t(1;18)(p13;q11.2)[10]",
        "nuc ish(ETV6 con)x2[200]",
        "46,XY[20].nuc",
    ],
)
def test_the_first_recovered_error_is_the_strict_error(text: str) -> None:
    with pytest.raises(IscnSyntaxError) as strict:
        parse_normalised(text)
    assert parse_recovering(text).errors[0] == strict.value.error


# -- breakpoint-less, orientation, 'or' ----------------------------------------------------------


def test_breakpointless_pair_naming_two_fusions_names_none() -> None:
    data = {
        "genes": [
            {"symbol": "KMT2A", "hgnc": "HGNC:7132", "loci": ["11q23"]},
            {"symbol": "MLLT1", "hgnc": "HGNC:7134", "loci": ["19p13.3"]},
            {"symbol": "ELL", "hgnc": "HGNC:23114", "loci": ["19p13.1"]},
        ],
        "fusions": [{"genes": ["KMT2A", "MLLT1"]}, {"genes": ["KMT2A", "ELL"]}],
    }
    two = knowledge_from_data(data)
    a = analyse("46,XY,t(11;19)[20]", two)
    assert a.fusions == ()  # 11;19 names both: the pair alone names neither
    assert analyse("46,XY,t(11;19)(q23;p13.3)[20]", two).fusions == ("KMT2A::MLLT1",)


def test_carrier_must_be_a_partner_chromosome() -> None:
    data = {
        "genes": [
            {"symbol": "ETV6", "hgnc": "HGNC:3495", "loci": ["12p13"]},
            {"symbol": "RUNX1", "hgnc": "HGNC:10471", "loci": ["21q22"]},
        ],
        "fusions": [{"genes": ["ETV6", "RUNX1"], "carrier": "9"}],
    }
    with pytest.raises(ValueError, match="carrier 9 is not a partner's"):
        knowledge_from_data(data)


def test_fusion_carriers_of_the_knowledge(knowledge: Knowledge) -> None:
    carriers = {f.name: f.carrier for f in knowledge.fusions}
    assert carriers == {
        "ETV6::RUNX1": "21",
        "KMT2A::AFF1": "11",
        "TCF3::PBX1": "19",
        "KMT2A::MLLT1": "11",
        "KMT2A::MLLT3": "11",
        "BCR::ABL1": "22",
    }


def test_idem_inherits_the_reciprocal_only_finding(knowledge: Knowledge) -> None:
    a = analyse("46,XX,der(12)t(12;21)(p13;q22)[5]/47,idem,+21[5]", knowledge)
    assert a.fusions == ()
    assert [(r.clone, r.reciprocal_of, r.inherited) for r in a.rearrangements] == [
        (0, "ETV6::RUNX1", False),
        (1, "ETV6::RUNX1", True),
    ]


def test_or_readings_that_disagree_name_nothing_and_say_why(knowledge: Knowledge) -> None:
    a = analyse("46,XY,t(4;11)(q21;q23) or t(4;11)(q21;q13)[10]", knowledge)
    assert a.fusions == ()
    first, second = a.rearrangements
    assert (first.readings, second.readings) == (2, 2)
    assert first.notes == ("KMT2A::AFF1 is named by only some of the 2 readings of 'or'",)
    assert first.partners == ()


# -- meaning checks ----------------------------------------------------------------------------


def test_count_warning_gives_the_arithmetic() -> None:
    assert parse("48,XY,+8,-7,+2mar[10]").warnings == ()
    (w,) = parse("49,XY,+8,-7,+2mar[10]").warnings
    assert w.rule == "chromosome-count"
    assert w.position == 0
    assert w.message == (
        "clone 1: chromosome number 49 but 44 + 2 (XY) + 3 gained - 1 lost = 48 (ISCN 2020 ch. 8)"
    )


def test_count_warning_with_a_range_and_a_sideline() -> None:
    assert parse("47~48,XY,+8,+1~2mar[cp10]").warnings == ()
    (w,) = parse("47,XY,+8[5]/49,idem,+21[5]").warnings
    assert (
        w.message == "clone 2: chromosome number 49 but idem (47) + 1 gained = 48 (ISCN 2020 ch. 8)"
    )


def test_ideogram_knows_sub_bands() -> None:
    ideogram = load_ideogram()
    assert ideogram.exists("12", "p", "13.3")
    assert ideogram.exists("12", "p", "13.31")
    assert ideogram.exists("12", "p", "1")
    assert not ideogram.exists("12", "p", "13.4")
    assert not ideogram.exists("21", "q", "12")
    assert ideogram.exists("21", "q", "10")  # the centromere
    assert ideogram.sub_bands("19", "p", "13") == ("13.3", "13.2", "13.13", "13.12", "13.11")
    assert sum(len(b) for b in ideogram.bands.values()) == 862


def test_ideogram_data_is_checked() -> None:
    with pytest.raises(ValueError, match="expected a mapping with 'bands'"):
        ideogram_from_data([])
    with pytest.raises(ValueError, match="chromosome 1q: no bands"):
        ideogram_from_data({"bands": {"1": {"p": "36.33"}}})
