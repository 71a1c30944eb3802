"""Entry points: :func:`parse` (normalise + parse) and :func:`analyse` (+ recognise).

Both are pure: the knowledge is passed in (build it with
:func:`adapter.iscn.knowledge.load_knowledge` once).  A malformed string gives a result with
``error`` set and ``tree`` ``None``, as before; what could still be read is in ``partial`` (the
tree of the abnormalities, clones and FISH items that parse, see
:func:`adapter.iscn.parser.parse_recovering`) and every located error in ``errors``.
:func:`analyse` recognises rearrangements in the partial tree too and marks them ``partial``, so
one unreadable abnormality does not hide a fusion written next to it, and no reader can take a
partly read string for a fully read one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from adapter.iscn.knowledge import Knowledge
from adapter.iscn.model import IscnString
from adapter.iscn.normalise import Normalisation, normalise
from adapter.iscn.parser import IscnError, IscnWarning, parse_recovering
from adapter.iscn.recognise import Rearrangement, recognise


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The outcome of :func:`parse`: exactly one of ``tree`` and ``error`` is set.

    ``text`` is the normalised text that spans and error positions refer to; ``original`` is the
    input unchanged; ``normalisations`` lists every change between the two.  ``warnings`` are
    doubts about a string that is still read (breakpoints missing, band order, chromosome count);
    ``errors`` are all located errors (``error`` is the first); ``partial`` is the tree of what
    could be read of an invalid string (``None`` when nothing could, or when valid).
    """

    original: str
    text: str
    normalisations: tuple[Normalisation, ...]
    tree: IscnString | None
    error: IscnError | None
    warnings: tuple[IscnWarning, ...] = ()
    errors: tuple[IscnError, ...] = ()
    partial: IscnString | None = None

    @property
    def ok(self) -> bool:
        return self.tree is not None


@dataclass(frozen=True, slots=True)
class Analysis:
    """A :class:`ParseResult` and the rearrangements recognised in it.

    For an invalid string they are those of the partial tree, each marked ``partial``.
    """

    result: ParseResult
    rearrangements: tuple[Rearrangement, ...]

    @property
    def fusions(self) -> tuple[str, ...]:
        """Distinct named fusions, in order of first appearance."""
        return tuple(dict.fromkeys(r.fusion for r in self.rearrangements if r.fusion))

    @property
    def partial(self) -> bool:
        """The string did not parse whole; the rearrangements are those of the parts that did."""
        return self.result.error is not None and self.result.partial is not None


def parse(text: str) -> ParseResult:
    """Normalise and parse one ISCN string (karyotype and/or FISH)."""
    normalised, changes = normalise(text)
    read = parse_recovering(normalised)
    if not read.errors:
        return ParseResult(text, normalised, changes, read.tree, None, read.warnings)
    return ParseResult(
        text, normalised, changes, None, read.errors[0], read.warnings, read.errors, read.tree
    )


def analyse(text: str, knowledge: Knowledge) -> Analysis:
    """Parse ``text`` and recognise its translocations and fusions (of the partial tree too)."""
    result = parse(text)
    if result.tree is not None:
        return Analysis(result, recognise(result.tree, knowledge))
    if result.partial is None:
        return Analysis(result, ())
    found = recognise(result.partial, knowledge)
    return Analysis(result, tuple(replace(r, partial=True) for r in found))
