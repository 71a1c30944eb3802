"""Canonical ISCN text of a parsed tree (ISCN 2020 conventions: no spaces, ``~`` for ranges).

``parse(render(tree))`` gives back ``tree`` (spans aside); the property tests in
``tests/iscn`` check that.
"""

from __future__ import annotations

from adapter.iscn.model import (
    Aberration,
    Alternatives,
    Band,
    CellCount,
    Chromosome,
    Clone,
    CloneRef,
    DoubleMinute,
    FishAbnormality,
    FishClone,
    FishResult,
    Incomplete,
    IscnString,
    Item,
    Karyotype,
    Marker,
    Modal,
    NucleiCount,
    ProbeGroup,
    ProbeSignal,
    Range,
    SignalCount,
    Structural,
    UnknownRing,
    WholeChromosome,
)


def render(tree: IscnString) -> str:
    """The canonical ISCN string of a whole tree."""
    return ".".join(
        render_karyotype(p) if isinstance(p, Karyotype) else render_fish(p) for p in tree.parts
    )


def render_range(r: Range) -> str:
    return str(r.low) if r.high is None else f"{r.low}~{r.high}"


def render_band(b: Band) -> str:
    if b.kind == "band":
        text = f"{b.arm or ''}{b.designation}"
    elif b.kind == "unknown":
        text = "?"
    else:
        text = b.kind
    if b.until is not None:
        text += "~" + render_band(b.until)
    return text


def render_chromosome(c: Chromosome) -> str:
    return f"{'?' if c.uncertain else ''}{c.name}{c.arm or ''}"


def render_structural(s: Structural) -> str:
    text = f"{s.kind}({';'.join(render_chromosome(c) for c in s.chromosomes)})"
    if s.breakpoints is not None:
        text += "(" + ";".join("".join(render_band(b) for b in g) for g in s.breakpoints) + ")"
    return text + "".join(render_structural(p) for p in s.parts)


def render_item(item: Item) -> str:
    if isinstance(item, Structural):
        return render_structural(item)
    if isinstance(item, WholeChromosome):
        return render_chromosome(item.chromosome)
    if isinstance(item, Marker):
        count = render_range(item.count) if item.count else ""
        number = str(item.number) if item.number is not None else ""
        return f"{count}mar{number}"
    if isinstance(item, DoubleMinute):
        return f"{render_range(item.count) if item.count else ''}dmin"
    if isinstance(item, Incomplete):
        return "inc"
    if isinstance(item, UnknownRing):
        return "r"
    if isinstance(item, Alternatives):
        return " or ".join(render_aberration(r) for r in item.readings)
    raise TypeError(item)  # pragma: no cover - exhaustive


def render_aberration(a: Aberration) -> str:
    text = (a.sign or "") + ("?" if a.uncertain else "") + render_item(a.item)
    if a.copies is not None:
        text += "x" + render_range(a.copies)
    return text + ("c" if a.constitutional else "") + (a.inheritance or "")


def render_modal(m: Modal) -> str:
    return (render_range(m.number) if m.number else "") + (m.ploidy or "")


def render_ref(r: CloneRef) -> str:
    return r.word + (f"x{r.copies}" if r.copies is not None else "")


def render_cells(c: CellCount) -> str:
    return f"[{'cp' if c.composite else ''}{c.count}]"


def render_clone(c: Clone) -> str:
    fields = [render_modal(c.modal)]
    if c.reference is not None:
        fields.append(render_ref(c.reference))
    elif c.sex is not None:
        fields.append(c.sex.chromosomes + ("c" if c.sex.constitutional else ""))
    fields.extend(render_aberration(a) for a in c.aberrations)
    return ",".join(fields) + (render_cells(c.cells) if c.cells else "")


def render_karyotype(k: Karyotype) -> str:
    text = f"{k.prefix} " if k.prefix else ""
    text += render_clone(k.clones[0])
    for sep, clone in zip(k.separators, k.clones[1:], strict=True):
        text += sep + render_clone(clone)
    return text


def render_count(c: SignalCount) -> str:
    return "amp" if c.amplified or c.number is None else "x" + render_range(c.number)


def render_signal(p: ProbeSignal) -> str:
    text = f" {p.relation} ".join(p.probes) if p.relation else p.probes[0]
    return text + (render_count(p.count) if p.count else "")


def render_group(g: ProbeGroup) -> str:
    text = (g.locus or "") + "(" + ",".join(render_signal(e) for e in g.entries) + ")"
    return text + (render_count(g.count) if g.count else "")


def render_fish_abnormality(f: FishAbnormality) -> str:
    text = render_structural(f.structural)
    if f.marks:
        text += "(" + ";".join(",".join(m.probe + m.mark for m in group) for group in f.marks) + ")"
    return text


def render_nuclei(n: NucleiCount) -> str:
    return f"[{n.count}]" if n.total is None else f"[{n.count}/{n.total}]"


def render_fish_clone(c: FishClone) -> str:
    text = ""
    for k, item in enumerate(c.items):
        if isinstance(item, ProbeGroup):
            # ISCN 2020 ch. 13: probe groups are written one after the other; a locus-prefixed group
            # or an abnormality is separated by a comma.
            after_abnormality = k > 0 and isinstance(c.items[k - 1], FishAbnormality)
            text += ("," if k and (item.locus or after_abnormality) else "") + render_group(item)
        else:
            text += ("," if k else "") + render_fish_abnormality(item)
    return text + (render_nuclei(c.cells) if c.cells else "")


def render_fish(f: FishResult) -> str:
    body = "/".join(render_fish_clone(c) for c in f.clones)
    sep = " " if body and not body.startswith("(") else ""
    return f"{f.method}{sep}{body}"
