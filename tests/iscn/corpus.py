"""Generator of valid ISCN strings as real reports write them, each with the fusions it must yield.

Shared by ``tests/iscn/test_corpus.py`` (every generated string must be accepted and yield exactly
its fusions) and ``benchmarks/iscn.py`` (strings/s and acceptance on the same corpus).  The
classes follow issue 21 and ISCN 2020 (chapters 3, 8, 9, 11, 13): canonical karyotypes of
paediatric ALL, breakpoint-less rearrangements, ``-`` for ``~`` in band intervals and counts,
``or`` alternatives, Unicode / full-width punctuation and other typing noise, sidelines and
composite karyotypes, and FISH results.  The chromosome number of every clone is the sum of its
gains and losses, so a valid string gives no count warning either.

:func:`damaged` puts one unreadable abnormality into a string, for the partial-result measure.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    """A generated string, the fusions it must yield and its class."""

    text: str
    fusions: frozenset[str]
    kind: str


#: (abnormality, fusion, chromosomes gained) in the forms reports write them
FUSION_FORMS: list[tuple[str, str, int]] = [
    ("t(12;21)(p13;q22)", "ETV6::RUNX1", 0),
    ("t(12;21)(p13.2;q22.1)", "ETV6::RUNX1", 0),
    ("der(21)t(12;21)(p13;q22)", "ETV6::RUNX1", 0),
    ("+der(21)t(12;21)(p13;q22)", "ETV6::RUNX1", 1),
    ("t(4;11)(q21;q23)", "KMT2A::AFF1", 0),
    ("t(4;11)(q21.3;q23.3)", "KMT2A::AFF1", 0),
    ("der(11)t(4;11)(q21;q23)", "KMT2A::AFF1", 0),
    ("t(1;19)(q23;p13.3)", "TCF3::PBX1", 0),
    ("der(19)t(1;19)(q23;p13.3)", "TCF3::PBX1", 0),
    ("t(11;19)(q23;p13.3)", "KMT2A::MLLT1", 0),
    ("t(9;11)(p22;q23)", "KMT2A::MLLT3", 0),
    ("t(9;11)(p21.3;q23.3)", "KMT2A::MLLT3", 0),
    ("t(9;22)(q34;q11.2)", "BCR::ABL1", 0),
    ("der(22)t(9;22)(q34.1;q11.2)", "BCR::ABL1", 0),
    ("+der(22)t(9;22)(q34;q11.2)", "BCR::ABL1", 1),
    ("t(4;11;19)(q21;q23;p13.3)", "KMT2A::AFF1", 0),  # and KMT2A::MLLT1, added below
]
#: breakpoint-less forms: the chromosome pair names one fusion
BANDLESS: list[tuple[str, str, int]] = [
    ("t(9;22)", "BCR::ABL1", 0),
    ("der(22)t(9;22)", "BCR::ABL1", 0),
    ("+der(22)t(9;22)", "BCR::ABL1", 1),
    ("t(12;21)", "ETV6::RUNX1", 0),
    ("+der(21)t(12;21)", "ETV6::RUNX1", 1),
    ("t(4;11)", "KMT2A::AFF1", 0),
    ("t(1;19)", "TCF3::PBX1", 0),
    ("der(19)t(1;19)", "TCF3::PBX1", 0),
    ("t(9;11)", "KMT2A::MLLT3", 0),
]
#: abnormalities naming no fusion, with chromosomes gained (negative: lost)
OTHER: list[tuple[str, int]] = [
    ("del(9)(p21p13)", 0),
    ("del(12)(p13p12)", 0),
    ("del(6)(q21q25)", 0),
    ("add(19)(p13)", 0),
    ("i(17)(q10)", 0),
    ("dup(1)(q21q32)", 0),
    ("inv(16)(p13.1q22)", 0),
    ("t(3;5)(q25;q35)", 0),
    ("der(12)t(12;17)(p13;q21)", 0),
    ("i(9)(q10)", 0),
    ("del(11)(q14q23)", 0),
    ("-7", -1),
    ("+8", 1),
    ("+mar", 1),
    ("+2mar", 2),
    ("-9", -1),
    ("+21", 1),
]
#: lab conventions: '-' for '~' (ISCN 2020 ch. 3), accepted with a normalisation
DASHED: list[tuple[str, int]] = [
    ("del(6)(q21-23)", 0),
    ("del(9)(p21-p13)", 0),
    ("add(11)(q23-25)", 0),
    ("del(13)(q12-q14)", 0),
]
#: 'or' alternatives (ISCN 2020 ch. 3)
ALTERNATIVES: list[tuple[str, int]] = [
    ("del(8)(q21.2) or i(8)(p10)", 0),
    ("add(19)(p13 or q13)", 0),
    ("del(6)(q21 or q23)", 0),
]
HYPERDIPLOID = ["+X", "+4", "+6", "+10", "+14", "+17", "+18", "+21", "+21"]
FISH: list[tuple[str, frozenset[str]]] = [
    ("nuc ish(ETV6,RUNX1)x3(ETV6 con RUNX1x1)[180/200]", frozenset({"ETV6::RUNX1"})),
    ("nuc ish(TEL,AML1)x3(TEL con AML1x1)[150/200]", frozenset({"ETV6::RUNX1"})),
    ("nuc ish(ABL1,BCR)x3(ABL1 con BCRx2)[100/200]", frozenset({"BCR::ABL1"})),
    ("nuc ish(KMT2Ax2)(5'KMT2A sep 3'KMT2Ax1)[150/200]", frozenset()),
    ("nuc ish(CEP4,CEP10)x3[160/200]", frozenset()),
    ("nuc ish 12p13(ETV6x2),21q22(RUNX1x3)[55/200]", frozenset()),
    ("nuc ish(ETV6,RUNX1)x2[200]", frozenset()),
    ("nuc ish(RUNX1x3-4)[120/200]", frozenset()),
]
#: full-width forms of ISCN punctuation and digits (U+FF01..U+FF5E mirror ASCII)
_FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789,;()[]/~+.XY"}


def _clone(rng: random.Random, sex: str, kind: str) -> tuple[str, set[str]]:
    abnormalities: list[str] = []
    gained = 0
    fusions: set[str] = set()
    if rng.random() < 0.3:
        gains = HYPERDIPLOID[: rng.randint(5, 9)]
        abnormalities.extend(gains)
        gained += len(gains)
    pool = BANDLESS if kind == "breakpoint-less" else FUSION_FORMS
    if kind == "breakpoint-less" or rng.random() < 0.6:
        text, fusion, delta = rng.choice(pool)
        abnormalities.append(text)
        gained += delta
        fusions.add(fusion)
        if text.startswith("t(4;11;19)"):
            fusions.add("KMT2A::MLLT1")
    extra = {"lab-dash": DASHED, "or": ALTERNATIVES}.get(kind)
    if extra is not None:
        text, delta = rng.choice(extra)
        abnormalities.append(text)
        gained += delta
    for _ in range(rng.randint(0, 3)):
        text, delta = rng.choice(OTHER)
        if text not in abnormalities:
            abnormalities.append(text)
            gained += delta
    cells = f"[cp{rng.randint(2, 20)}]" if rng.random() < 0.1 else f"[{rng.randint(2, 20)}]"
    return ",".join([str(46 + gained), sex, *abnormalities]) + cells, fusions


def _karyotype(rng: random.Random, kind: str) -> tuple[str, set[str]]:
    sex = rng.choice(["XX", "XY"])
    first, fusions = _clone(rng, sex, kind)
    clones = [first]
    if rng.random() < 0.3:  # a sideline: the stemline's abnormalities plus one gain
        stem = int(first.split(",", 1)[0])
        clones.append(f"{stem + 1},idem,+{rng.choice(['8', '10', '21'])}[{rng.randint(1, 9)}]")
    clones.append(f"46,{sex}[{rng.randint(1, 10)}]")
    return "/".join(clones), fusions


def _noisy(rng: random.Random, text: str) -> str:
    """One kind of typing noise a report adds (each removed by adapter.iscn.normalise)."""
    choice = rng.randrange(7)
    if choice == 0:
        return "".join(_FULL_WIDTH.get(c, c) for c in text)
    if choice == 1:
        return text.replace(",", "\u3001")
    if choice == 2:
        return "Karyotype: " + text + "."
    if choice == 3:
        return text.replace(",", ", ")
    if choice == 4:
        return text.replace(",XX", ",xx").replace(",XY", ",xy")
    if choice == 5:
        return text.replace(";", "\uff1b").replace("~", "\u223c")
    return "\ufeff" + text.replace("(", "\u200b(", 1)


def sample(rng: random.Random) -> Sample:
    """One valid string of a randomly chosen class."""
    kind = rng.choice(
        ["canonical", "canonical", "breakpoint-less", "lab-dash", "or", "noise", "fish"]
    )
    if kind == "fish":
        text, fish_fusions = rng.choice(FISH)
        return Sample(text, fish_fusions, kind)
    text, fusions = _karyotype(rng, kind)
    if rng.random() < 0.15:
        fish, fish_fusions = rng.choice(FISH)
        text += "." + fish
        fusions |= fish_fusions
    if kind == "noise":
        text = _noisy(rng, text)
    return Sample(text, frozenset(fusions), kind)


def generate(n: int, seed: int) -> list[Sample]:
    """``n`` valid samples, the same for the same seed."""
    rng = random.Random(seed)
    return [sample(rng) for _ in range(n)]


UNREADABLE = ["...", "blah", "t(3 5)(q25;q35)", "+?", "del(5)(q13.)", "der(7)t(7;12)(q36;p13"]


def damaged(rng: random.Random, s: Sample) -> Sample:
    """``s`` with one unreadable abnormality written after the first clone's sex field (a
    karyotype sample), for measuring what partial results keep; FISH samples are returned as
    they are."""
    head, sep, rest = s.text.partition(",")
    if not sep or "ish" in head:
        return s
    sex, sep2, tail = rest.partition(",")
    bad = rng.choice(UNREADABLE)
    text = f"{head},{sex},{bad}{sep2}{tail}" if sep2 else f"{head},{sex},{bad}"
    return Sample(text, s.fusions, "damaged " + s.kind)
