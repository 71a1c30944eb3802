"""Naming the fusions of contract.md from fusion-finding Observations or ISCN karyotype strings.

Table source: contract.md "Fusions the adapter must name" (partners, bands) and
terminology.md §4 (HGNC ids; KMT2A, AFF1, TCF3, PBX1, MLLT1, MLLT3 are V-2nd there).
Bands are compared by chromosome and main band (``q22`` matches ``q22.3``; ``q11`` matches
``q11.2``), as contract.md asks, so ``der()`` forms match through their ``t(...)`` part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adapter.fhir import LOINC, Resource
from adapter.protocol.bundle import has_code
from adapter.protocol.facts import LOINC_ABSENT, LOINC_PRESENT, hgnc_genes

LOINC_ISCN_COMPONENT = "81291-7"


@dataclass(frozen=True, slots=True)
class Fusion:
    name: str
    translocation: str
    genes: tuple[tuple[str, str], tuple[str, str]]  # (HGNC id, symbol) per partner
    bands: tuple[tuple[str, str], tuple[str, str]]  # (chromosome, main band) per partner


FUSIONS: tuple[Fusion, ...] = (
    Fusion("ETV6::RUNX1", "t(12;21)", (("HGNC:3495", "ETV6"), ("HGNC:10471", "RUNX1")),
           (("12", "p13"), ("21", "q22"))),
    Fusion("KMT2A::AFF1", "t(4;11)", (("HGNC:7132", "KMT2A"), ("HGNC:7135", "AFF1")),
           (("4", "q21"), ("11", "q23"))),
    Fusion("TCF3::PBX1", "t(1;19)", (("HGNC:11633", "TCF3"), ("HGNC:8632", "PBX1")),
           (("1", "q23"), ("19", "p13"))),
    Fusion("KMT2A::MLLT1", "t(11;19)", (("HGNC:7132", "KMT2A"), ("HGNC:7134", "MLLT1")),
           (("11", "q23"), ("19", "p13"))),
    Fusion("KMT2A::MLLT3", "t(9;11)", (("HGNC:7132", "KMT2A"), ("HGNC:7136", "MLLT3")),
           (("9", "p22"), ("11", "q23"))),
    Fusion("BCR::ABL1", "t(9;22)", (("HGNC:1014", "BCR"), ("HGNC:76", "ABL1")),
           (("9", "q34"), ("22", "q11"))),
)  # fmt: skip

_T = re.compile(r"t\(([0-9XY]+);([0-9XY]+)\)(?:\(([pq][0-9.]+);([pq][0-9.]+)\))?")


def _main_band(band: str) -> str:
    return band.split(".")[0]


def fusions_in_karyotype(iscn: str) -> list[Fusion]:
    """Named fusions whose translocation appears in an ISCN string."""
    found: list[Fusion] = []
    for m in _T.finditer(iscn):
        chroms = {m.group(1): m.group(3), m.group(2): m.group(4)}
        for f in FUSIONS:
            (c1, b1), (c2, b2) = f.bands
            if set(chroms) != {c1, c2}:
                continue
            given1, given2 = chroms[c1], chroms[c2]
            if given1 is None or given2 is None:
                ok = True  # bands absent: chromosomes alone
            else:
                ok = _main_band(given1) == b1 and _main_band(given2) == b2
            if ok and f not in found:
                found.append(f)
    return found


def fusion_status(obs: Resource) -> tuple[list[Fusion], bool]:
    """Fusions a 69548-6 variant Observation reports present, and whether it reports absence."""
    value = obs.get("valueCodeableConcept")
    absent = has_code(value, LOINC, LOINC_ABSENT)
    if not has_code(value, LOINC, LOINC_PRESENT):
        return [], absent
    genes = hgnc_genes(obs)
    out = [f for f in FUSIONS if all(gid in genes or sym in genes for gid, sym in f.genes)]
    for comp in obs.get("component", []) or []:
        if has_code(comp.get("code"), LOINC, LOINC_ISCN_COMPONENT):
            text = comp.get("valueString") or (comp.get("valueCodeableConcept") or {}).get("text")
            if isinstance(text, str):
                out += [f for f in fusions_in_karyotype(text) if f not in out]
    return out, absent
