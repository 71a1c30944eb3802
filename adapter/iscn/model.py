"""The typed ISCN tree: frozen dataclasses, each node with its span in the normalised text.

The node kinds follow the chapters of ISCN 2020 (An International System for Human Cytogenomic
Nomenclature, Karger 2020) they come from; ISCN 2024 gathers 8, 9 and the karyotype part of 11
into its chapter 5 "Karyotype":

* bands    chromosome bands of the ideograms and 9.1 (``p13.3``, ``q22``, ``cen``, ``pter``, ``?``);
* 8        numerical abnormalities, the modal number and ploidy levels (``45~48``, ``<3n>``),
           sex chromosomes, constitutional ``c``;
* 9        structural abnormalities (``t``, ``der``, ``dic``, ``i``, ``del``, ``add``, ...),
           markers ``mar`` and double minutes ``dmin``;
* 11       clones: stemline and sidelines (``idem``, ``sl``, ``sdl``), cell counts ``[20]``,
           composite karyotypes ``[cp10]``, mosaics and chimeras (``/``, ``//``);
* 13       in situ hybridisation: ``ish`` (metaphase) and ``nuc ish`` (interphase), probe
           lists, signal counts ``x``, ``con``/``sep``, scored nuclei ``[180/200]``.

Spans are half-open ``(start, end)`` offsets into the *normalised* text
(:attr:`adapter.iscn.parse.ParseResult.text`).  They are excluded from equality, so two
trees compare equal when they say the same thing, wherever it was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class Span:
    """Half-open character range ``[start, end)`` in the normalised text."""

    start: int
    end: int


NO_SPAN = Span(0, 0)


@dataclass(frozen=True, slots=True)
class Range:
    """A count or number that may be a range ``low~high`` (ISCN 2020 ch. 8, 9)."""

    low: int
    high: int | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Band:
    """One breakpoint (ISCN 2020 band nomenclature; 9.1).

    ``kind`` is ``band`` (``arm`` + ``designation`` such as ``p`` + ``13.3``; the designation
    may hold ``?`` for an uncertain digit, ``p1?3``, or be ``?`` alone, ``q?``), ``cen``,
    ``pter``, ``qter`` or ``unknown`` (a bare ``?``).  ``until`` is the far end of an
    uncertain interval written ``q21~q23`` (ISCN 2020 9.1: ``~`` for intervals).
    """

    kind: Literal["band", "cen", "pter", "qter", "unknown"]
    arm: Literal["p", "q"] | None = None
    designation: str = ""
    until: Band | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Chromosome:
    """A chromosome named in a structural abnormality or gained/lost (ISCN 2020 ch. 8, 9).

    ``name`` is ``1``..``22``, ``X``, ``Y`` or ``?`` (unknown).  ``arm`` is set for the short
    arm-only form ``i(17q)``.  ``uncertain`` is a leading ``?`` (``?9``).
    """

    name: str
    uncertain: bool = False
    arm: Literal["p", "q"] | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Structural:
    """A structural rearrangement (ISCN 2020 ch. 9).

    ``breakpoints`` has one group per chromosome, in the same order as ``chromosomes``; a group
    holds one band (``t(9;22)(q34;q11.2)``) or two (interstitial ``del(9)(p21p13)``,
    ``inv(16)(p13q22)``).  ``parts`` are the rearrangements that built a derivative
    (``der(22)t(9;22)(q34;q11.2)``), empty for every other kind.
    """

    kind: str
    chromosomes: tuple[Chromosome, ...]
    breakpoints: tuple[tuple[Band, ...], ...] | None = None
    parts: tuple[Structural, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class WholeChromosome:
    """A whole chromosome gained or lost: ``+21``, ``-7``, ``+X`` (ISCN 2020 ch. 8)."""

    chromosome: Chromosome
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Marker:
    """Marker chromosomes: ``+mar``, ``+2mar``, ``+1~4mar``, ``+mar1`` (ISCN 2020 ch. 9)."""

    count: Range | None = None
    number: int | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class DoubleMinute:
    """Double minutes ``dmin``, optionally counted ``6~30dmin`` (ISCN 2020 ch. 9)."""

    count: Range | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Incomplete:
    """``inc``: the karyotype is incomplete (ISCN 2020 ch. 11)."""

    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class UnknownRing:
    """A ring of unknown origin written ``+r`` (ISCN 2020 ch. 9)."""

    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Alternatives:
    """``or``: two or more readings of one abnormality (ISCN 2020 ch. 3, ``or`` = alternative
    interpretation), ``del(8)(q21.2) or i(8)(p10)``.  Breakpoint alternatives written inside one
    abnormality, ``add(19)(p13 or q13)``, are kept as one full reading per alternative band.
    Every reading is kept; what is recognised must hold for all of them."""

    readings: tuple[Aberration, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


Item = (
    Structural | WholeChromosome | Marker | DoubleMinute | Incomplete | UnknownRing | Alternatives
)


@dataclass(frozen=True, slots=True)
class Aberration:
    """One comma-separated abnormality of a clone (ISCN 2020 ch. 8, 9).

    ``sign`` is ``+`` (gain), ``-`` (loss) or ``None`` (a structural change in place);
    ``uncertain`` is a ``?`` before the item; ``copies`` the multiplication ``x2``
    (ISCN 2020 ch. 9); ``constitutional`` a trailing ``c`` and ``inheritance`` a trailing ``dn``,
    ``inh``, ``mat`` or ``pat`` (ISCN 2020 ch. 8).
    """

    item: Item
    sign: Literal["+", "-"] | None = None
    uncertain: bool = False
    copies: Range | None = None
    constitutional: bool = False
    inheritance: Literal["dn", "inh", "mat", "pat"] | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Modal:
    """Chromosome number of a clone: ``46``, ``45~48``, ``69<3n>``, ``<2n>`` (ISCN 2020 ch. 8)."""

    number: Range | None
    ploidy: str | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Sex:
    """Sex chromosomes ``XX``, ``XY``, ``XXY``; ``c`` for constitutional (ISCN 2020 ch. 8)."""

    chromosomes: str
    constitutional: bool = False
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class CloneRef:
    """``idem``, ``sl``, ``sdl`` or ``sdlN``: an earlier clone's abnormalities (ISCN 2020 ch. 11).

    ``refers_to`` is the 0-based index of the clone referred to (resolved by the parser);
    ``copies`` is ``2`` for ``idemx2`` (doubled stemline).
    """

    word: str
    refers_to: int = field(default=0, compare=False)
    copies: int | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class CellCount:
    """Metaphases in a clone: ``[20]``; composite ``[cp10]`` (ISCN 2020 ch. 11)."""

    count: int
    composite: bool = False
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Clone:
    """One cell line: modal number, sex or clone reference, abnormalities, cells (ch. 11)."""

    modal: Modal
    #: ``None`` with ``reference`` set, or when both sex chromosomes are rearranged (ch. 8)
    sex: Sex | None
    reference: CloneRef | None
    aberrations: tuple[Aberration, ...]
    cells: CellCount | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Karyotype:
    """A G-banded karyotype: clones separated by ``/`` (``//`` for chimeras), ISCN 2020 ch. 11.

    ``prefix`` is ``mos`` or ``chi`` when written (ISCN 2020 ch. 11).
    """

    clones: tuple[Clone, ...]
    separators: tuple[Literal["/", "//"], ...] = ()
    prefix: Literal["mos", "chi"] | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class SignalCount:
    """A FISH signal count ``x3``, ``x1~2`` or amplification ``amp`` (ISCN 2020 ch. 13)."""

    number: Range | None
    amplified: bool = False
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ProbeSignal:
    """One probe, or probes joined by ``con`` (fused) or ``sep`` (split), with a count.

    ``(ETV6 con RUNX1x1)`` is ``probes=("ETV6", "RUNX1"), relation="con", count=x1``;
    ``(5'KMT2A sep 3'KMT2Ax1)`` uses ``sep`` (ISCN 2020 ch. 13).
    """

    probes: tuple[str, ...]
    relation: Literal["con", "sep"] | None = None
    count: SignalCount | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ProbeGroup:
    """A parenthesised probe list with an optional shared count: ``(ETV6,RUNX1)x3``.

    ``locus`` is the older band prefix ``12p13`` of ``12p13(ETV6x2)`` (ISCN 2009-2013 style,
    still common in reports).
    """

    entries: tuple[ProbeSignal, ...]
    count: SignalCount | None = None
    locus: str | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ProbeMark:
    """A probe present or absent on an abnormal metaphase chromosome: ``ETV6+``, ``HIRA-``."""

    probe: str
    mark: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class FishAbnormality:
    """A metaphase ``ish`` result on a structural abnormality (ISCN 2020 ch. 13).

    ``ish t(12;21)(p13;q22)(ETV6+,RUNX1+;RUNX1+)``: the rearrangement, then per-derivative
    groups (separated by ``;``) of probe marks.
    """

    structural: Structural
    marks: tuple[tuple[ProbeMark, ...], ...] = ()
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


FishItem = ProbeGroup | FishAbnormality


@dataclass(frozen=True, slots=True)
class NucleiCount:
    """Scored nuclei or metaphases ``[200]`` or ``[180/200]`` (ISCN 2020 ch. 13)."""

    count: int
    total: int | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class FishClone:
    """One FISH pattern: items and scored cells."""

    items: tuple[FishItem, ...]
    cells: NucleiCount | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class FishResult:
    """``nuc ish`` (interphase) or ``ish`` (metaphase) result, ISCN 2020 ch. 13."""

    method: Literal["ish", "nuc ish"]
    clones: tuple[FishClone, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


Part = Karyotype | FishResult


@dataclass(frozen=True, slots=True)
class IscnString:
    """The whole string: a karyotype and/or FISH results joined by ``.`` (ISCN 2020 ch. 13)."""

    parts: tuple[Part, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
