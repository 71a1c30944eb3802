"""Unit tests of the pieces around the grammar: normalisation report, spans, knowledge data,
band matching, partners and the ``ball-fhir iscn`` command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from adapter.cli import iscn as iscn_cli
from adapter.iscn import (
    Knowledge,
    analyse,
    band_matches,
    knowledge_from_data,
    load_knowledge,
    parse,
)
from adapter.iscn.knowledge import DEFAULT_PATH, Locus
from adapter.iscn.model import Aberration, Band, Karyotype, Span, Structural


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge()


def test_knowledge_file_has_the_contract_fusions_and_hgnc_ids(knowledge: Knowledge) -> None:
    # contract.md "Fusions the adapter must name"; terminology.md section 4
    assert [f.name for f in knowledge.fusions] == [
        "ETV6::RUNX1",
        "KMT2A::AFF1",
        "TCF3::PBX1",
        "KMT2A::MLLT1",
        "KMT2A::MLLT3",
        "BCR::ABL1",
    ]
    ids = {g.symbol: g.hgnc for g in knowledge.genes.values()}
    assert ids == {
        "ETV6": "HGNC:3495",
        "RUNX1": "HGNC:10471",
        "BCR": "HGNC:1014",
        "ABL1": "HGNC:76",
        "KMT2A": "HGNC:7132",
        "AFF1": "HGNC:7135",
        "TCF3": "HGNC:11633",
        "PBX1": "HGNC:8632",
        "MLLT1": "HGNC:7134",
        "MLLT3": "HGNC:7136",
    }
    assert "Sources" in DEFAULT_PATH.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected a mapping"),
        ({"genes": [{"symbol": "X1", "hgnc": "7132", "loci": ["11q23"]}]}, "not an HGNC id"),
        ({"genes": [{"symbol": "X1", "hgnc": "HGNC:1", "loci": ["11z23"]}]}, "not a locus"),
        ({"genes": [{"symbol": "X1", "hgnc": "HGNC:1", "loci": []}]}, "no loci"),
        (
            {
                "genes": [{"symbol": "X1", "hgnc": "HGNC:1", "loci": ["1q23"]}],
                "fusions": [{"genes": ["X1", "X2"]}],
            },
            "unknown gene X2",
        ),
        (
            {
                "genes": [
                    {"symbol": "X1", "hgnc": "HGNC:1", "loci": ["1q23"], "aliases": ["A"]},
                    {"symbol": "X2", "hgnc": "HGNC:2", "loci": ["2q23"], "aliases": ["A"]},
                ]
            },
            "names two genes",
        ),
    ],
)
def test_knowledge_rejects_malformed_data(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        knowledge_from_data(data)


def test_knowledge_from_other_data_is_used(tmp_path: Path) -> None:
    path = tmp_path / "loci.yaml"
    path.write_text(
        "genes:\n"
        "  - {symbol: CRLF2, hgnc: 'HGNC:14281', loci: [Xp22.3]}\n"
        "  - {symbol: IGH, hgnc: 'HGNC:5477', loci: [14q32]}\n"
        "fusions:\n  - {name: 'IGH::CRLF2', genes: [IGH, CRLF2]}\n",
        encoding="utf-8",
    )
    custom = load_knowledge(path)
    assert analyse("46,XY,t(X;14)(p22;q32)[20]", custom).fusions == ("IGH::CRLF2",)
    assert analyse("46,XY,t(12;21)(p13;q22)[20]", custom).fusions == ()


@pytest.mark.parametrize(
    ("written", "locus", "expected"),
    [
        ("q22", "q22", True),
        ("q22.3", "q22", True),
        ("q2", "q22", True),
        ("q11", "q11.23", True),
        ("q11.2", "q11.23", True),
        ("q11.1", "q11.23", False),
        ("p13.1", "p13.3", False),
        ("p13", "p13.3", True),
        ("p1?", "p13.3", True),
        ("p?", "p13.3", False),
        ("q13", "p13.3", False),
        ("q31", "q21", False),
    ],
)
def test_band_matches_at_the_written_precision(written: str, locus: str, expected: bool) -> None:
    band = Band("band", "p" if written[0] == "p" else "q", written[1:])
    loc = Locus("1", "p" if locus[0] == "p" else "q", locus[1:])
    assert band_matches(band, loc) is expected


def test_band_interval_matches_either_end() -> None:
    band = Band("band", "q", "21", until=Band("band", "q", "23"))
    assert band_matches(band, Locus("11", "q", "23"))
    assert not band_matches(Band("unknown"), Locus("11", "q", "23"))
    assert not band_matches(Band("cen"), Locus("11", "q", "23"))


def test_partners_carry_hgnc_and_the_written_bands(knowledge: Knowledge) -> None:
    a = analyse("46,XY,t(9;22)(q34.1;q11.2)[20]", knowledge)
    (r,) = a.rearrangements
    assert r.kind == "translocation"
    assert r.iscn == "t(9;22)(q34.1;q11.2)"
    assert [(p.symbol, p.hgnc, p.chromosome, p.band) for p in r.partners] == [
        ("BCR", "HGNC:1014", "22", "q11.2"),
        ("ABL1", "HGNC:76", "9", "q34.1"),
    ]
    assert [(b.chromosome, b.bands) for b in r.breakpoints] == [
        ("9", ("q34.1",)),
        ("22", ("q11.2",)),
    ]


def test_unknown_translocation_names_no_gene(knowledge: Knowledge) -> None:
    (r,) = analyse("46,XY,t(11;17)(q23;q21)[20]", knowledge).rearrangements
    assert r.fusion is None
    assert r.partners == ()
    assert [(b.chromosome, b.bands) for b in r.breakpoints] == [("11", ("q23",)), ("17", ("q21",))]


def test_same_fusion_in_t_and_der_is_reported_once_per_clone(knowledge: Knowledge) -> None:
    a = analyse(
        "47,XY,t(9;22)(q34;q11.2),+der(22)t(9;22)(q34;q11.2)[14]/48,idem,+8[3]/46,XY[6]", knowledge
    )
    assert [(r.clone, r.inherited, r.iscn, r.also) for r in a.rearrangements] == [
        (0, False, "t(9;22)(q34;q11.2)", ("+der(22)t(9;22)(q34;q11.2)",)),
        (1, True, "t(9;22)(q34;q11.2)", ("+der(22)t(9;22)(q34;q11.2)",)),
    ]
    assert a.fusions == ("BCR::ABL1",)


def test_spans_point_into_the_normalised_text() -> None:
    r = parse("ISCN: 46,XY,t(12;21)(p13;q22)[20].")
    assert r.text == "46,XY,t(12;21)(p13;q22)[20]"
    assert r.tree is not None
    k = r.tree.parts[0]
    assert isinstance(k, Karyotype)
    ab = k.clones[0].aberrations[0]
    assert isinstance(ab, Aberration)
    assert ab.span == Span(6, 23)
    item = ab.item
    assert isinstance(item, Structural)
    assert item.breakpoints is not None
    band = item.breakpoints[1][0]
    assert r.text[band.span.start : band.span.end] == "q22"
    assert [n.kind for n in r.normalisations] == ["label prefix", "trailing full stop"]


def test_error_reports_position_expected_and_found() -> None:
    r = parse("46,XY,t(12;21)(p13;q22)[20]/47,XY,+21[x]")
    assert r.tree is None
    assert r.error is not None
    assert r.error.position == 38
    assert r.error.found == "'x'"
    assert "cell count" in r.error.expected


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    iscn_cli.register(parser.add_subparsers())
    args = parser.parse_args(["iscn", *argv])
    code: int = args.handler(args)
    return code


def test_cli_text_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("ISCN: 46,XY,t(12;21)(p13;q22)[20]/46,XY[5]") == 0
    out = capsys.readouterr().out
    assert "valid ISCN" in out
    assert "label prefix" in out
    assert "ETV6::RUNX1" in out
    assert "HGNC:3495" in out
    assert "Structural [6:23] t(12;21)(p13;q22)" in out


def test_cli_text_invalid_puts_a_caret_under_the_position(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run("46,XY,t(12 21)(p13;q22)") == 1
    lines = capsys.readouterr().out.splitlines()
    at = lines.index("  46,XY,t(12 21)(p13;q22)")
    assert lines[at + 1] == "  " + " " * 10 + "^"
    assert "position 10" in lines[at - 1]
    # what could be read (46,XY) is shown, marked partial
    assert lines[at + 2] == "partial: what could be read of the rest of the string"
    assert lines[-1] == "  (none)"


def test_cli_text_shows_every_error_warnings_and_partial_fusions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = "47,XY,t(12;21)(p13;q22),blah,+der(21)t(12;21),foo[10]"
    assert _run(text) == 1
    out = capsys.readouterr().out
    assert out.count("INVALID at position") == 2
    assert "INVALID at position 24: expected an abnormality" in out
    assert "INVALID at position 46: expected an abnormality" in out
    assert "warning at position 37 (breakpoints-missing)" in out
    assert "ETV6::RUNX1: translocation t(12;21)(p13;q22)  [part 1, clone 1 (partial)]" in out


def test_cli_json_of_a_partial_string(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("46,XX,t(9;22)(q34;q11.2),??,der(12)t(12;21)(p13;q22)", "--format", "json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] is False
    assert data["partial"] is True
    assert [e["position"] for e in data["errors"]] == [26]
    fusions = [r.get("fusion") for r in data["rearrangements"]]
    assert fusions == ["BCR::ABL1", None]
    assert data["rearrangements"][1]["reciprocal_of"] == "ETV6::RUNX1"
    assert all(r["partial"] for r in data["rearrangements"])


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("nuc ish(ABL1,BCR)x3(ABL1 con BCRx2)[100/200]", "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] is True
    assert data["tree"]["type"] == "IscnString"
    (r,) = data["rearrangements"]
    assert r["fusion"] == "BCR::ABL1"
    assert r["cells"] == [100, 200]
    assert _run("46,XY,+25", "--format", "json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] is False
    assert data["error"]["position"] == 7


def test_question_mark_before_the_sign_is_read_as_uncertain() -> None:
    r = parse("47,XX,?+8[4]/46,XX[16]")
    assert r.tree is not None
    k = r.tree.parts[0]
    assert isinstance(k, Karyotype)
    (ab,) = k.clones[0].aberrations
    assert (ab.sign, ab.uncertain) == ("+", True)
    assert parse("47,XX,+?8[4]/46,XX[16]").tree == r.tree


def test_a_late_error_keeps_the_earlier_clone_marked_partial(knowledge: Knowledge) -> None:
    a = analyse("46,XY,t(12;21)(p13;q22)[20]/46,XY,t(9;22)(q34;q11.2[5]", knowledge)
    assert a.result.tree is None  # the string is still invalid
    assert a.result.error is not None
    assert a.result.error.position == 51
    assert a.partial
    assert a.fusions == ("ETV6::RUNX1",)  # the unreadable t(9;22) names nothing
    assert all(r.partial for r in a.rearrangements)


def test_fish_tested_genes_tell_a_negative_test(knowledge: Knowledge) -> None:
    from adapter.iscn import fish_tested_genes

    a = analyse("46,XX[20].nuc ish(ETV6,RUNX1)x2[200].nuc ish(5'MLL,3'MLL)x2[200]", knowledge)
    assert a.result.tree is not None
    assert a.rearrangements == ()
    assert fish_tested_genes(a.result.tree, knowledge) == ("ETV6", "RUNX1", "KMT2A")


def test_questionable_rearrangement_is_flagged(knowledge: Knowledge) -> None:
    (r,) = analyse("46,XX,?t(12;21)(p13;q22)[2]/46,XX[18]", knowledge).rearrangements
    assert (r.fusion, r.uncertain) == ("ETV6::RUNX1", True)
    (r,) = analyse("46,XX,t(12;21)(p13;q22)[2]/46,XX[18]", knowledge).rearrangements
    assert r.uncertain is False
