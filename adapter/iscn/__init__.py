"""ISCN 2020/2024 karyotype and FISH grammar, canonical renderer and rearrangement recognition.

Pure: no I/O except :func:`load_knowledge`, which reads ``mappings/iscn/gene-loci.yaml``.

>>> from adapter.iscn import analyse, load_knowledge
>>> a = analyse("46,XY,t(12;21)(p13;q22)[20]/46,XY[5]", load_knowledge())
>>> a.fusions
('ETV6::RUNX1',)
"""

from adapter.iscn.analyse import Analysis, ParseResult, analyse, parse
from adapter.iscn.knowledge import Gene, Knowledge, knowledge_from_data, load_knowledge
from adapter.iscn.model import IscnString, Span
from adapter.iscn.normalise import Normalisation, normalise
from adapter.iscn.parser import IscnError, IscnSyntaxError, parse_normalised
from adapter.iscn.recognise import (
    Breakpoint,
    Partner,
    Rearrangement,
    band_matches,
    fish_tested_genes,
    recognise,
)
from adapter.iscn.render import render

__all__ = [
    "Analysis",
    "Breakpoint",
    "Gene",
    "IscnError",
    "IscnString",
    "IscnSyntaxError",
    "Knowledge",
    "Normalisation",
    "ParseResult",
    "Partner",
    "Rearrangement",
    "Span",
    "analyse",
    "band_matches",
    "fish_tested_genes",
    "knowledge_from_data",
    "load_knowledge",
    "normalise",
    "parse",
    "parse_normalised",
    "recognise",
    "render",
]
