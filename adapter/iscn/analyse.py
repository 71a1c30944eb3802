"""Entry points: :func:`parse` (normalise + parse) and :func:`analyse` (+ recognise).

Both are pure: the knowledge is passed in (build it with
:func:`adapter.iscn.knowledge.load_knowledge` once).  A malformed string gives a result with
``error`` set and ``tree`` ``None``; there is no partial tree (ISCN 2020 has no notion of a
partly valid karyotype, and a silent partial parse could drop a translocation).
"""

from __future__ import annotations

from dataclasses import dataclass

from adapter.iscn.knowledge import Knowledge
from adapter.iscn.model import IscnString
from adapter.iscn.normalise import Normalisation, normalise
from adapter.iscn.parser import IscnError, IscnSyntaxError, parse_normalised
from adapter.iscn.recognise import Rearrangement, recognise


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The outcome of :func:`parse`: exactly one of ``tree`` and ``error`` is set.

    ``text`` is the normalised text that spans and error positions refer to; ``original`` is the
    input unchanged; ``normalisations`` lists every change between the two.
    """

    original: str
    text: str
    normalisations: tuple[Normalisation, ...]
    tree: IscnString | None
    error: IscnError | None

    @property
    def ok(self) -> bool:
        return self.tree is not None


@dataclass(frozen=True, slots=True)
class Analysis:
    """A :class:`ParseResult` and the rearrangements recognised in it (empty when invalid)."""

    result: ParseResult
    rearrangements: tuple[Rearrangement, ...]

    @property
    def fusions(self) -> tuple[str, ...]:
        """Distinct named fusions, in order of first appearance."""
        return tuple(dict.fromkeys(r.fusion for r in self.rearrangements if r.fusion))


def parse(text: str) -> ParseResult:
    """Normalise and parse one ISCN string (karyotype and/or FISH)."""
    normalised, changes = normalise(text)
    try:
        tree = parse_normalised(normalised)
    except IscnSyntaxError as exc:
        return ParseResult(text, normalised, changes, None, exc.error)
    return ParseResult(text, normalised, changes, tree, None)


def analyse(text: str, knowledge: Knowledge) -> Analysis:
    """Parse ``text`` and recognise its translocations and fusions."""
    result = parse(text)
    if result.tree is None:
        return Analysis(result, ())
    return Analysis(result, recognise(result.tree, knowledge))
