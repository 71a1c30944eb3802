"""Gene loci and named fusions, built from ``mappings/iscn/gene-loci.yaml``.

:func:`knowledge_from_data` is pure (it takes the already-parsed YAML); :func:`load_knowledge`
is the one place that reads the file.  Sources of every value are cited in the data file.
Bands follow ISCN 2020 band nomenclature (``11q23``, ``19p13.3``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml

from adapter.datafiles import mappings_dir

DEFAULT_PATH = mappings_dir() / "iscn" / "gene-loci.yaml"

_LOCUS = re.compile(r"(\d{1,2}|X|Y)([pq])(\d{1,2}(?:\.\d{1,3})?)")


@dataclass(frozen=True, slots=True)
class Locus:
    """A cytogenetic location such as ``11q23`` or ``19p13.3``."""

    chromosome: str
    arm: Literal["p", "q"]
    designation: str

    def __str__(self) -> str:
        return f"{self.chromosome}{self.arm}{self.designation}"


@dataclass(frozen=True, slots=True)
class Gene:
    symbol: str
    hgnc: str
    loci: tuple[Locus, ...]
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FusionDef:
    """A named fusion: ``five_prime::three_prime`` and its classic ISCN form.

    ``carrier`` is the chromosome whose derivative carries the 5'::3' fusion gene (``22`` for
    BCR::ABL1 on der(22)); the other derivative of the translocation carries the reciprocal
    3'::5' product.  ``None`` when the data file does not say.
    """

    name: str
    five_prime: Gene
    three_prime: Gene
    iscn: str
    carrier: str | None = None

    @property
    def chromosomes(self) -> frozenset[str]:
        """The chromosomes of the two partner genes (first locus of each)."""
        return frozenset((self.five_prime.loci[0].chromosome, self.three_prime.loci[0].chromosome))


@dataclass(frozen=True, slots=True)
class Knowledge:
    genes: Mapping[str, Gene]
    fusions: tuple[FusionDef, ...]
    #: upper-cased symbol or alias -> current symbol
    symbols: Mapping[str, str]
    #: chromosome -> the (gene, locus) pairs on it
    by_chromosome: Mapping[str, tuple[tuple[Gene, Locus], ...]] = field(default_factory=dict)

    def loci_on(self, chromosome: str) -> tuple[tuple[Gene, Locus], ...]:
        return self.by_chromosome.get(chromosome, ())

    def gene_for_probe(self, probe: str) -> Gene | None:
        """The gene a FISH probe name designates: ``5'KMT2A`` -> KMT2A, ``TEL`` -> ETV6."""
        name = probe
        if name[:2] in ("5'", "3'"):
            name = name[2:]
        symbol = self.symbols.get(name.upper())
        return self.genes[symbol] if symbol else None


def _parse_locus(text: object) -> Locus:
    m = _LOCUS.fullmatch(str(text))
    if m is None:
        raise ValueError(f"gene-loci: {text!r} is not a locus like 11q23 or 19p13.3")
    arm: Literal["p", "q"] = "p" if m.group(2) == "p" else "q"
    return Locus(m.group(1), arm, m.group(3))


def knowledge_from_data(data: object) -> Knowledge:
    """Build :class:`Knowledge` from the parsed YAML; raises ``ValueError`` on malformed data."""
    if not isinstance(data, Mapping):
        raise ValueError("gene-loci: expected a mapping with 'genes' and 'fusions'")
    genes: dict[str, Gene] = {}
    symbols: dict[str, str] = {}
    for row in data.get("genes") or []:
        if not isinstance(row, Mapping):
            raise ValueError(f"gene-loci: gene entry {row!r} is not a mapping")
        symbol = str(row["symbol"])
        hgnc = str(row["hgnc"])
        if not re.fullmatch(r"HGNC:\d+", hgnc):
            raise ValueError(f"gene-loci: {symbol}: {hgnc!r} is not an HGNC id")
        loci = tuple(_parse_locus(x) for x in row.get("loci") or [])
        if not loci:
            raise ValueError(f"gene-loci: {symbol}: no loci")
        aliases = tuple(str(a) for a in row.get("aliases") or [])
        genes[symbol] = Gene(symbol, hgnc, loci, aliases)
        for name in (symbol, *aliases):
            if symbols.setdefault(name.upper(), symbol) != symbol:
                raise ValueError(f"gene-loci: {name} names two genes")
    fusions: list[FusionDef] = []
    for row in data.get("fusions") or []:
        if not isinstance(row, Mapping):
            raise ValueError(f"gene-loci: fusion entry {row!r} is not a mapping")
        five, three = (str(g) for g in row["genes"])
        for g in (five, three):
            if g not in genes:
                raise ValueError(f"gene-loci: fusion {row.get('name')}: unknown gene {g}")
        name = str(row.get("name") or f"{five}::{three}")
        carrier = str(row["carrier"]) if row.get("carrier") is not None else None
        on = {locus.chromosome for g in (five, three) for locus in genes[g].loci}
        if carrier is not None and carrier not in on:
            raise ValueError(f"gene-loci: fusion {name}: carrier {carrier} is not a partner's")
        fusions.append(
            FusionDef(name, genes[five], genes[three], str(row.get("iscn", "")), carrier)
        )
    by_chromosome: dict[str, list[tuple[Gene, Locus]]] = {}
    for gene in genes.values():
        for locus in gene.loci:
            by_chromosome.setdefault(locus.chromosome, []).append((gene, locus))
    return Knowledge(
        genes, tuple(fusions), symbols, {c: tuple(v) for c, v in by_chromosome.items()}
    )


@lru_cache(maxsize=4)
def load_knowledge(path: Path | None = None) -> Knowledge:
    """Read and build the knowledge file (default ``mappings/iscn/gene-loci.yaml``)."""
    with (path or DEFAULT_PATH).open(encoding="utf-8") as fh:
        return knowledge_from_data(yaml.safe_load(fh))
