"""Recognise translocations and named fusions in a parsed ISCN tree.

Rules (ISCN 2020 chapter numbers in brackets):

* Karyotypes: every ``t``, two-chromosome ``ins`` and ``dic`` [ch. 9], alone or inside a
  derivative ``der(22)t(9;22)(q34;q11.2)`` [9.2.3], is a rearrangement with its
  breakpoints.  It names a fusion when, for two *different* chromosomes of it, one breakpoint
  matches a locus of the 5' gene and the other a locus of the 3' gene, at the precision written
  (``q22`` matches ``q22.3`` and the reverse; see :func:`band_matches`).  Three-way translocations
  are checked pair by pair.  Otherwise no gene is named.
* Breakpoint-less rearrangements (``t(9;22)``, ``der(22)t(9;22)``, accepted by the parser with a
  warning) name a fusion only when their two chromosomes are the partner chromosomes of exactly
  one fusion of the knowledge; ``evidence`` is then ``chromosome pair only``.
* Orientation: a derivative shows only the product it carries.  A fusion whose data names its
  ``carrier`` (the chromosome whose derivative carries the 5'::3' gene) is named from ``t()``,
  from ``der(carrier)`` and from derivatives of other chromosomes never: ``der(12)t(12;21)`` alone
  gives an unnamed rearrangement with ``reciprocal_of`` ``ETV6::RUNX1`` and a note saying the
  5'/3' fusion is not shown.  Next to the named fusion in the same clone it is folded into it.
* ``or`` readings [ch. 3]: a fusion is named only when every reading names it; otherwise each
  reading's rearrangement is reported unnamed, with a note.
* Clones written with ``idem``/``sl``/``sdl`` [ch. 11] inherit the rearrangements of the clone
  referred to (flagged ``inherited``).
* Within one clone the same finding (same fusion, or for unnamed ones the same chromosomes and
  breakpoints) seen in ``t()`` and in ``der()`` is reported once, the other texts in ``also``.
* FISH [ch. 13]: probes joined by ``con`` that designate the two genes of a named fusion
  (``ETV6 con RUNX1``, ``ABL1 con BCR``) name it; ``5'X sep 3'X`` is a break-apart of gene X.
  A count of ``x0`` means the signal pattern is absent and is not reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Literal

from adapter.iscn.knowledge import FusionDef, Gene, Knowledge, Locus
from adapter.iscn.model import (
    Aberration,
    Alternatives,
    Band,
    FishAbnormality,
    FishResult,
    IscnString,
    Karyotype,
    ProbeSignal,
    Span,
    Structural,
)
from adapter.iscn.render import (
    render_aberration,
    render_band,
    render_fish,
)

RearrangementKind = Literal[
    "translocation", "insertion", "dicentric", "fish-fusion", "fish-break-apart"
]

Evidence = Literal["breakpoints", "chromosome pair only", "probes"]

_KIND_OF: dict[str, RearrangementKind] = {
    "t": "translocation",
    "ins": "insertion",
    "dic": "dicentric",
    "psu dic": "dicentric",
}


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """A chromosome and its breakpoint band(s) in one rearrangement."""

    chromosome: str
    bands: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Partner:
    """A gene named by a recognised fusion, with where it was found."""

    symbol: str
    hgnc: str
    chromosome: str
    band: str


@dataclass(frozen=True, slots=True)
class Rearrangement:
    """One recognised rearrangement of one clone.

    ``iscn`` is the canonical text of the abnormality (``der(22)t(9;22)(q34;q11.2)``) or, for
    FISH, of the FISH pattern with its method; ``span`` is where it was written in the normalised
    text.  ``fusion`` and ``partners`` are set only for a named fusion (or the one gene of a
    break-apart); ``probes`` are the FISH probes as written.  ``part`` indexes the karyotype/FISH
    parts of the string and ``clone`` the clone inside it.
    """

    kind: RearrangementKind
    method: Literal["karyotype", "fish"]
    iscn: str
    span: Span
    part: int
    clone: int
    breakpoints: tuple[Breakpoint, ...] = ()
    fusion: str | None = None
    partners: tuple[Partner, ...] = ()
    probes: tuple[str, ...] = ()
    inherited: bool = False
    also: tuple[str, ...] = ()
    #: written as questionable, ``?t(12;21)(p13;q22)`` (ISCN 2020 ch. 3: ``?``)
    uncertain: bool = False
    #: FISH scored cells (count, total) when written.
    cells: tuple[int, int | None] | None = None
    #: what named the fusion: ``breakpoints`` (bands at the gene loci), ``chromosome pair only``
    #: (no breakpoints written), ``probes`` (FISH signals); meaningful when ``fusion`` is set
    evidence: Evidence = "breakpoints"
    #: read from the partial tree of a string that is not wholly valid ISCN
    #: (:func:`adapter.iscn.analyse`)
    partial: bool = False
    #: the named fusion whose *reciprocal* derivative alone this is (``der(12)t(12;21)``)
    reciprocal_of: str | None = None
    #: readings of an abnormality written with ``or`` (1 when written once)
    readings: int = 1
    #: plain-language notes on the evidence (reciprocal derivative only, readings disagree)
    notes: tuple[str, ...] = ()


def band_matches(band: Band, locus: Locus) -> bool:
    """Whether a written breakpoint falls in ``locus`` at the precision written (ISCN bands).

    ``q22`` matches ``q22.3`` and ``q22.3`` matches ``q22``; ``p13.1`` does not match ``p13.3``;
    a ``?`` digit (``p1?``) matches any digit; a wholly unknown band (``?``, ``q?``) matches
    nothing.  An interval ``q21~q23`` matches when either end does.
    """
    if band.until is not None and band_matches(band.until, locus):
        return True
    if band.kind != "band" or band.arm != locus.arm:
        return False
    written = band.designation.replace(".", "")
    if not written or not written[0].isdigit():
        return False
    known = locus.designation.replace(".", "")
    return all(a == b or a == "?" for a, b in zip(written, known, strict=False))


def _breakpoints(s: Structural) -> tuple[Breakpoint, ...]:
    """One entry per chromosome; ``bands`` is empty when no breakpoints were written."""
    groups = s.breakpoints or ()
    return tuple(
        Breakpoint(c.name, tuple(render_band(b) for b in groups[k]) if k < len(groups) else ())
        for k, c in enumerate(s.chromosomes)
    )


def _gene_hits(s: Structural, knowledge: Knowledge) -> dict[str, list[tuple[int, Partner]]]:
    """Genes whose locus a breakpoint of ``s`` matches: symbol -> [(chromosome index, partner)]."""
    hits: dict[str, list[tuple[int, Partner]]] = {}
    for idx, (chrom, group) in enumerate(zip(s.chromosomes, s.breakpoints or (), strict=False)):
        for gene, locus in knowledge.loci_on(chrom.name):
            for band in group:
                if band_matches(band, locus):
                    partner = Partner(gene.symbol, gene.hgnc, chrom.name, render_band(band))
                    hits.setdefault(gene.symbol, []).append((idx, partner))
                    break
    return hits


def _match(
    fusion: FusionDef, hits: dict[str, list[tuple[int, Partner]]]
) -> tuple[Partner, Partner] | None:
    """The partners of ``fusion`` when its two genes are hit on two different chromosomes."""
    for i, five in hits.get(fusion.five_prime.symbol, ()):
        for j, three in hits.get(fusion.three_prime.symbol, ()):
            if i != j:
                return five, three
    return None


def _candidates(item: Structural) -> Iterator[Structural]:
    if item.kind in _KIND_OF and len(item.chromosomes) >= 2:
        yield item
    for part in item.parts:
        yield from _candidates(part)


def _has_candidates(item: Structural) -> bool:
    """Whether ``item`` holds a rearrangement of two or more chromosomes."""
    if item.kind in _KIND_OF and len(item.chromosomes) >= 2:
        return True
    return any(_has_candidates(p) for p in item.parts)


def _named(
    cand: Structural, knowledge: Knowledge, method: Literal["karyotype", "fish"]
) -> list[tuple[FusionDef, tuple[Partner, ...], Evidence]]:
    """The fusions ``cand`` names: by breakpoints, or in a karyotype by its chromosome pair when
    it has none (a metaphase FISH abnormality without breakpoints is named by its probes)."""
    if cand.breakpoints is None:
        if method == "fish":
            return []
        pair = frozenset(c.name for c in cand.chromosomes)
        if len(cand.chromosomes) != 2 or len(pair) != 2:
            return []
        fits = [f for f in knowledge.fusions if f.chromosomes == pair]
        if len(fits) != 1:
            return []
        f = fits[0]
        return [
            (f, (_gene_partner(f.five_prime), _gene_partner(f.three_prime)), "chromosome pair only")
        ]
    hits = _gene_hits(cand, knowledge)
    out: list[tuple[FusionDef, tuple[Partner, ...], Evidence]] = []
    for fusion in knowledge.fusions if len(hits) >= 2 else ():
        partners = _match(fusion, hits)
        if partners is not None:
            out.append((fusion, partners, "breakpoints"))
    return out


def _derivative(s: Structural, cand: Structural) -> str | None:
    """The chromosome of the derivative ``cand`` builds (``der(12)t(12;21)`` -> ``12``), if any."""
    if cand is s or s.kind not in ("der", "ider") or len(s.chromosomes) != 1:
        return None
    return s.chromosomes[0].name


def _structural_findings(
    s: Structural,
    text: str,
    span: Span,
    knowledge: Knowledge,
    part: int,
    clone: int,
    inherited: bool,
    method: Literal["karyotype", "fish"],
) -> Iterator[Rearrangement]:
    for cand in _candidates(s):
        kind = _KIND_OF[cand.kind]
        bps = _breakpoints(cand)
        head = (kind, method, text, span, part, clone, bps)
        named = False
        derivative = _derivative(s, cand)
        for fusion, partners, evidence in _named(cand, knowledge, method):
            named = True
            if derivative is None or fusion.carrier in (None, derivative):
                yield Rearrangement(
                    *head, fusion.name, partners, inherited=inherited, evidence=evidence
                )
                continue
            five, three = fusion.five_prime.symbol, fusion.three_prime.symbol
            note = (
                f"der({derivative}) carries the reciprocal {three}::{five} product; "
                f"{fusion.name} lies on der({fusion.carrier}), which is not shown: the 5' "
                f"{five} / 3' {three} fusion is not named from this derivative alone"
            )
            yield Rearrangement(
                *head, inherited=inherited, reciprocal_of=fusion.name, notes=(note,)
            )
        if not named:
            yield Rearrangement(*head, inherited=inherited)


def _key(r: Rearrangement) -> tuple[object, ...]:
    if r.fusion is not None or r.reciprocal_of is not None:
        return ("fusion", r.kind if r.method == "fish" else "", r.fusion or r.reciprocal_of)
    if r.kind == "fish-break-apart":
        return ("break-apart", tuple(p.symbol for p in r.partners), r.probes)
    if r.kind == "fish-fusion":
        return ("fish-fusion", r.probes)
    return ("unnamed", r.kind, r.breakpoints)


def _dedupe(found: Iterable[Rearrangement]) -> list[Rearrangement]:
    out: dict[tuple[object, ...], Rearrangement] = {}
    for r in found:
        key = _key(r)
        first = out.get(key)
        if first is None:
            out[key] = r
        elif first.fusion is None and r.fusion is not None:  # named: replaces a reciprocal-only
            also = first.also if first.iscn == r.iscn else (first.iscn, *first.also)
            out[key] = replace(r, also=(*r.also, *also), inherited=first.inherited and r.inherited)
        elif r.iscn != first.iscn and r.iscn not in first.also:
            out[key] = replace(
                first, also=(*first.also, r.iscn), inherited=first.inherited and r.inherited
            )
    return list(out.values())


def _karyotype(k: Karyotype, knowledge: Knowledge, part: int) -> Iterator[Rearrangement]:
    own: list[list[Aberration]] = []
    effective: list[list[tuple[Aberration, bool]]] = []
    for clone in k.clones:
        mine = list(clone.aberrations)
        own.append(mine)
        inherited: list[tuple[Aberration, bool]] = []
        if clone.reference is not None:
            inherited = [(a, True) for a, _ in effective[clone.reference.refers_to]]
        effective.append(inherited + [(a, False) for a in mine])
    for idx, items in enumerate(effective):
        found: list[Rearrangement] = []
        # own abnormalities first so that a re-written inherited one is reported as own
        ordered = [x for x in items if not x[1]] + [x for x in items if x[1]]
        for aberration, inh in ordered:
            text = render_aberration(aberration)
            if isinstance(aberration.item, Alternatives):
                found.extend(_alternatives(aberration.item, text, knowledge, part, idx, inh))
                continue
            found.extend(_aberration_findings(aberration, text, knowledge, part, idx, inh))
        yield from _dedupe(found)


def _aberration_findings(
    aberration: Aberration, text: str, knowledge: Knowledge, part: int, clone: int, inh: bool
) -> list[Rearrangement]:
    item = aberration.item
    if not isinstance(item, Structural) or not _has_candidates(item):
        return []
    found = _structural_findings(
        item, text, aberration.span, knowledge, part, clone, inh, "karyotype"
    )
    return [replace(r, uncertain=True) if aberration.uncertain else r for r in found]


def _alternatives(
    alt: Alternatives, text: str, knowledge: Knowledge, part: int, clone: int, inh: bool
) -> list[Rearrangement]:
    """Findings of an ``or`` abnormality: a fusion only when every reading names it."""
    per_reading = [
        [replace(r, iscn=text, span=alt.span, readings=len(alt.readings)) for r in found]
        for found in (
            _aberration_findings(a, text, knowledge, part, clone, inh) for a in alt.readings
        )
    ]
    common = set.intersection(*({r.fusion for r in rs if r.fusion} for rs in per_reading))
    out: list[Rearrangement] = []
    for rs in per_reading:
        for r in rs:
            if r.fusion is not None and r.fusion not in common:
                note = f"{r.fusion} is named by only some of the {r.readings} readings of 'or'"
                r = replace(r, fusion=None, partners=(), notes=(*r.notes, note))
            out.append(r)
    return out


def _fish(f: FishResult, knowledge: Knowledge, part: int) -> Iterator[Rearrangement]:
    for idx, clone in enumerate(f.clones):
        text = render_fish(FishResult(f.method, (clone,)))
        cells = (clone.cells.count, clone.cells.total) if clone.cells else None
        found: list[Rearrangement] = []
        for item in clone.items:
            if isinstance(item, FishAbnormality):
                for r in _structural_findings(
                    item.structural, text, item.span, knowledge, part, idx, False, "fish"
                ):
                    if r.fusion is None and not any(b.bands for b in r.breakpoints):
                        r = _named_by_probes(r, item, knowledge)
                    found.append(replace(r, cells=cells))
                continue
            for entry in item.entries:
                count = entry.count or item.count
                if entry.relation is None or (
                    count is not None
                    and count.number is not None
                    and count.number.low == 0
                    and count.number.high is None
                ):
                    continue
                genes = [knowledge.gene_for_probe(p) for p in entry.probes]
                symbols = {g.symbol for g in genes if g is not None}
                # loci named by the probes: the gene symbol when known, else the probe name
                # without its 5'/3' end marker
                loci = {
                    g.symbol if g is not None else p.removeprefix("5'").removeprefix("3'").upper()
                    for g, p in zip(genes, entry.probes, strict=True)
                }
                if entry.relation == "sep":
                    if len(symbols) == 1 and None not in genes:
                        gene = next(g for g in genes if g is not None)
                        partners: tuple[Partner, ...] = (_gene_partner(gene),)
                        found.append(
                            _fish_signal(
                                "fish-break-apart", text, entry, part, idx, cells, None, partners
                            )
                        )
                    continue
                if len(loci) < 2:
                    continue  # con of the two ends of one gene: intact, not a fusion
                named = False
                for fusion in knowledge.fusions:
                    if {fusion.five_prime.symbol, fusion.three_prime.symbol} <= symbols:
                        named = True
                        partners = (
                            _gene_partner(fusion.five_prime),
                            _gene_partner(fusion.three_prime),
                        )
                        found.append(
                            _fish_signal(
                                "fish-fusion", text, entry, part, idx, cells, fusion.name, partners
                            )
                        )
                if not named:
                    found.append(_fish_signal("fish-fusion", text, entry, part, idx, cells))
        yield from _dedupe(found)


def _fish_signal(
    kind: RearrangementKind,
    text: str,
    entry: ProbeSignal,
    part: int,
    clone: int,
    cells: tuple[int, int | None] | None,
    fusion: str | None = None,
    partners: tuple[Partner, ...] = (),
) -> Rearrangement:
    """A rearrangement read from the signal pattern of one FISH probe entry (``con``/``sep``)."""
    return Rearrangement(
        kind,
        "fish",
        text,
        entry.span,
        part,
        clone,
        fusion=fusion,
        partners=partners,
        probes=entry.probes,
        cells=cells,
        evidence="probes",
    )


def _named_by_probes(
    r: Rearrangement, item: FishAbnormality, knowledge: Knowledge
) -> Rearrangement:
    """A metaphase ``ish t(12;21)(ETV6+,RUNX1+;RUNX1+)`` written without breakpoints (ISCN 2020
    ch. 13): name the fusion when one derivative (one ``;``-separated group) carries both of its
    genes marked present and the rearrangement joins the chromosomes those genes lie on."""
    together = [
        {
            g.symbol
            for m in group
            if "+" in m.mark and (g := knowledge.gene_for_probe(m.probe)) is not None
        }
        for group in item.marks
    ]
    chromosomes = {b.chromosome for b in r.breakpoints}
    for fusion in knowledge.fusions:
        genes = (fusion.five_prime, fusion.three_prime)
        on_one = any(all(g.symbol in present for g in genes) for present in together)
        if on_one and all(any(locus.chromosome in chromosomes for locus in g.loci) for g in genes):
            partners = (_gene_partner(fusion.five_prime), _gene_partner(fusion.three_prime))
            return replace(r, fusion=fusion.name, partners=partners, evidence="probes")
    return r


def _gene_partner(gene: Gene) -> Partner:
    """A FISH partner: the probe names the gene; its first locus gives chromosome and band."""
    locus = gene.loci[0]
    return Partner(gene.symbol, gene.hgnc, locus.chromosome, f"{locus.arm}{locus.designation}")


def recognise(tree: IscnString, knowledge: Knowledge) -> tuple[Rearrangement, ...]:
    """All rearrangements of ``tree``, per part and clone, in order of appearance."""
    out: list[Rearrangement] = []
    for idx, part in enumerate(tree.parts):
        if isinstance(part, Karyotype):
            out.extend(_karyotype(part, knowledge, idx))
        else:
            out.extend(_fish(part, knowledge, idx))
    return tuple(out)


def fish_tested_genes(tree: IscnString, knowledge: Knowledge) -> tuple[str, ...]:
    """Symbols of the known genes that a FISH result of ``tree`` probed, in order of appearance.

    With :func:`recognise` this tells a negative targeted test (``nuc ish(ETV6,RUNX1)x2[200]``:
    ETV6 and RUNX1 probed, no fusion found) from an untested fusion (ISCN 2020 ch. 13).
    """
    seen: dict[str, None] = {}
    for part in tree.parts:
        if not isinstance(part, FishResult):
            continue
        for clone in part.clones:
            for item in clone.items:
                if isinstance(item, FishAbnormality):
                    probes = [m.probe for group in item.marks for m in group]
                else:
                    probes = [p for entry in item.entries for p in entry.probes]
                for probe in probes:
                    gene = knowledge.gene_for_probe(probe)
                    if gene is not None:
                        seen.setdefault(gene.symbol, None)
    return tuple(seen)
