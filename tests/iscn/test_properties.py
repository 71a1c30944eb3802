"""Property tests (hypothesis): canonical rendering round-trips, and no input crashes the parser.

The generators build karyotypes and FISH results from the ISCN 2020 rules (chapters 8, 9, 11, 13);
``parse(render(tree)) == tree`` (spans are excluded from equality, see ``adapter.iscn.model``).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from adapter.iscn import analyse, load_knowledge, parse, render
from adapter.iscn.normalise import normalise
from adapter.iscn.parser import IscnError, IscnSyntaxError, parse_normalised, parse_recovering

CHROMS = [str(n) for n in range(1, 23)] + ["X", "Y"]
# bands that exist on every chromosome arm of the 850-band ideogram (mappings/iscn/
# ideogram-850.yaml: 4p11, 1q11 and 19q11 have no sub-bands, 21q has no q12)
bands = st.sampled_from(["p11", "p1", "q11", "q1", "cen", "?", "p1?", "q1?"])
chromosomes = st.sampled_from(CHROMS)


@st.composite
def translocation(draw: st.DrawFn) -> str:
    n = draw(st.integers(2, 3))
    cs = draw(st.lists(chromosomes, min_size=n, max_size=n))
    bs = draw(st.lists(bands, min_size=n, max_size=n))
    return f"t({';'.join(cs)})({';'.join(bs)})"


@st.composite
def one_chromosome(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["del", "dup", "add", "inv", "i", "r", "hsr"]))
    c = draw(chromosomes)
    nb = 1 if kind in ("add", "i", "hsr") else draw(st.integers(1, 2))
    bs = "".join(draw(st.lists(bands, min_size=nb, max_size=nb)))
    return f"{kind}({c})({bs})"


@st.composite
def derivative(draw: st.DrawFn) -> str:
    return f"der({draw(chromosomes)}){draw(translocation())}"


structural = st.one_of(translocation(), one_chromosome(), derivative())

aberration = st.one_of(
    st.builds(lambda s, c: f"{s}{c}", st.sampled_from(["+", "-"]), chromosomes),
    structural,
    st.builds(lambda s: f"+{s}", derivative()),
    st.builds(lambda s: f"{s}x2", structural),
    st.sampled_from(["+mar", "+2mar", "+1~3mar", "+mar1", "2~6dmin", "+r", "+21c", "?del(9)(p13)"]),
)


@st.composite
def clone(draw: st.DrawFn, index: int) -> str:
    low = draw(st.integers(23, 95))
    modal = str(low)
    if draw(st.booleans()):
        modal = f"{low}~{low + draw(st.integers(1, 5))}"
    if draw(st.integers(0, 5)) == 0:
        modal += draw(st.sampled_from(["<2n>", "<3n>", "<4n>"]))
    fields = [modal]
    if index > 0 and draw(st.booleans()):
        fields.append(draw(st.sampled_from(["idem", "sl"] + (["sdl"] if index > 1 else []))))
    else:
        fields.append(draw(st.sampled_from(["XX", "XY", "X", "XXY", "XYc"])))
    fields.extend(draw(st.lists(aberration, max_size=6)))
    cells = draw(st.sampled_from(["", "[20]", "[cp10]", "[1]"]))
    return ",".join(fields) + cells


@st.composite
def karyotype(draw: st.DrawFn) -> str:
    n = draw(st.integers(1, 4))
    return "/".join(draw(clone(k)) for k in range(n))


probe = st.sampled_from(["ETV6", "RUNX1", "BCR", "ABL1", "KMT2A", "CEP4", "D7S486", "5'KMT2A"])
count = st.sampled_from(["", "x0", "x1", "x2", "x3", "x1~2"])


@st.composite
def fish(draw: st.DrawFn) -> str:
    groups = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 2))
        if kind == 0:
            ps = draw(st.lists(probe, min_size=1, max_size=3))
            groups.append(f"({','.join(ps)})" + draw(st.sampled_from(["x2", "x3", "amp"])))
        elif kind == 1:
            a, b = draw(probe), draw(probe)
            rel = draw(st.sampled_from(["con", "sep"]))
            groups.append(f"({a} {rel} {b}{draw(count)})")
        else:
            groups.append(f"({draw(probe)}{draw(count)})")
    cells = draw(st.sampled_from(["", "[200]", "[180/200]"]))
    return "nuc ish" + "".join(groups) + cells


iscn = st.one_of(
    karyotype(),
    fish(),
    st.builds(lambda k, f: f"{k}.{f}", karyotype(), fish()),
)


@settings(max_examples=400, deadline=None)
@given(iscn)
def test_generated_strings_parse_and_round_trip(text: str) -> None:
    result = parse(text)
    assert result.error is None, (text, result.error.message)
    tree = result.tree
    assert tree is not None
    canonical = render(tree)
    again = parse(canonical)
    assert again.tree == tree, (text, canonical)
    assert render(again.tree) == canonical


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_garbage_never_crashes(text: str) -> None:
    result = analyse(text, load_knowledge())
    assert (result.result.tree is None) != (result.result.error is None)
    if result.result.error is not None:
        assert 0 <= result.result.error.position <= len(result.result.text)


ALPHABET = "0123456789XYpqtderlinsvupacm(),;[]/.~?+-x<>n'ETVRUNABLCK "


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=60))
def test_iscn_like_garbage_never_crashes(text: str) -> None:
    result = parse(text)
    if result.tree is not None:
        assert parse(render(result.tree)).tree == result.tree
    else:
        assert result.error is not None
        assert 0 <= result.error.position <= len(result.text)


@settings(max_examples=200, deadline=None)
@given(karyotype(), st.integers(0, 200))
def test_mutations_never_crash(text: str, cut: int) -> None:
    for variant in (text[: cut % (len(text) + 1)], text.replace(";", " ", 1), text + ")"):
        result = parse(variant)
        assert (result.tree is None) != (result.error is None)


@given(st.text(max_size=40))
def test_normalise_is_idempotent(text: str) -> None:
    once, _ = normalise(text)
    twice, changes = normalise(once)
    assert twice == once
    assert changes == ()


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=60))
def test_recovering_parser_reports_the_strict_error_first(text: str) -> None:
    normalised, _ = normalise(text)
    recovered = parse_recovering(normalised)
    strict: IscnError | None = None
    tree = None
    try:
        tree = parse_normalised(normalised)
    except IscnSyntaxError as exc:
        strict = exc.error
    if strict is not None:
        assert recovered.errors[0] == strict
        assert all(0 <= e.position <= len(normalised) for e in recovered.errors)
    else:
        assert recovered.errors == ()
        assert recovered.tree == tree
