"""Hand-written recursive-descent parser for ISCN 2020/2024 karyotypes and FISH results.

The grammar (``[x]`` optional, ``x*`` repeated; one function below per rule).  The right column
names the ISCN 2020 chapter (3 symbols and general principles, 8 numerical abnormalities,
9 structural rearrangements, 11 neoplasia, 13 in situ hybridisation; ISCN 2024 gathers 8, 9 and
the karyotype part of 11 into chapter 5 "Karyotype")::

    iscn        := part ("." part)*                                          13
    part        := fish | karyotype
    karyotype   := [("mos" | "chi") " "] clone (("/" | "//") clone)*         11
    clone       := modal "," (sex | cloneref | structural) ("," aberration)* [cells]   8, 11
    modal       := number ["~" number] [ploidy] | ploidy                     8, 11
    ploidy      := "<" digit "n" ["+" | "-" | "±"] ">"
    sex         := ("X" | "Y" | "?")+ ["c"]                                  8
    cloneref    := ("idem" | "sl" | "sdl" [number]) ["x" number]             11
    cells       := "[" ["cp"] number "]"                                     11
    aberration  := ["?"] ["+" | "-"] ["?"] item ["x" range] ["c"] [origin]   8, 9
    origin      := "dn" | "inh" | "mat" | "pat"                              8
    item        := chromosome | [range] "mar" [number] | [range] "dmin" | "inc" | "r"
                 | structural
    structural  := ["psu "] kind "(" chromosome (";" chromosome)* ")" [bands] structural*
                   (the trailing structurals only for der/ider)              9 (9.2.3)
    bands       := "(" segment (";" segment)* ")"   one segment per chromosome  9.1
    segment     := band+
    band        := ("p" | "q") designation ["~" band] | "cen" | "pter" | "qter" | "?"
    fish        := ("nuc ish" | "ish") [" "] fishclone ("/" fishclone)*      13
    fishclone   := fishitem ([","] fishitem)* [nuclei]
    fishitem    := [locus] probegroup | structural marks*
    probegroup  := "(" entry ("," entry)* ")" [count]
    entry       := probe ((" con " | " sep ") probe)* [count]
    count       := "x" range | "amp"
    nuclei      := "[" number ["/" number] "]"

Two entry points.  :func:`parse_normalised` is strict: the first point where the text cannot
continue raises :class:`IscnSyntaxError` with the position and what was expected there.
:func:`parse_recovering` reads the same grammar but, at an abnormality, a clone head, a cell count
or a FISH item that cannot be read, records the error, skips to the next ``,`` / ``/`` / ``[`` /
``.ish`` outside parentheses and goes on, so one unreadable abnormality does not hide the rest;
its first error is the strict parser's error.

Beyond the grammar the parser checks meaning (ISCN 2020 ch. 4, 8, 9, 11): bands must exist on the
850-band ideogram (:mod:`adapter.iscn.ideogram`); chromosome numbers, cell counts and copy numbers
must be possible (``0,XX``, ``999,XX``, ``[0]``, ``der(22)...x0`` are errors); and it warns
(:class:`IscnWarning`, the string is still valid) when a rearrangement is written without
breakpoints (``t(9;22)``), when the bands of a ``del``/``inv`` are not in pter-to-qter order, and
when a near-diploid clone's chromosome number disagrees with its listed gains and losses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, NoReturn, TypeVar

from adapter.iscn.ideogram import Ideogram, load_ideogram
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
    FishItem,
    FishResult,
    Incomplete,
    IscnString,
    Item,
    Karyotype,
    Marker,
    Modal,
    NucleiCount,
    Part,
    ProbeGroup,
    ProbeMark,
    ProbeSignal,
    Range,
    Sex,
    SignalCount,
    Span,
    Structural,
    UnknownRing,
    WholeChromosome,
)
from adapter.iscn.render import render_band, render_range

#: Kinds that must be followed by breakpoints (ISCN 2020 ch. 9); der, ider and r may omit them.
_NEEDS_BANDS = frozenset(
    {"add", "del", "dic", "dup", "fra", "h", "hsr", "i", "idic", "ins", "inv", "qdp", "rob", "t"}
    | {"tan", "tas", "trc", "trp", "psu dic", "psu idic"}
)
#: Kinds on one chromosome only.
_ONE_CHROMOSOME = frozenset({"add", "del", "dup", "fra", "h", "hsr", "i", "inv", "qdp", "trp"})
#: Kinds joining two or more chromosomes.
_TWO_OR_MORE = frozenset({"t", "dic", "rob", "tas", "trc", "psu dic"})
_KINDS = frozenset(_NEEDS_BANDS | {"der", "ider", "r"})
#: Origin of a constitutional abnormality (ISCN 2020 ch. 8): de novo, inherited, maternal, paternal.
_INHERITANCE: tuple[Literal["dn", "inh", "mat", "pat"], ...] = ("dn", "inh", "mat", "pat")
#: Kinds whose two breakpoints on one chromosome are written from pter to qter (ISCN 2020 ch. 9:
#: the short form lists bands in the order the detailed form reads the chromosome, pter -> qter);
#: ``dup`` is left out because its order tells a direct from an inverted duplication.
_ORDERED = frozenset({"del", "inv"})
#: Placeholder, not from a source: the largest chromosome number accepted.  ISCN 2020 ch. 8 names
#: ploidy levels as multiples of the haploid number n = 23 and sets no upper bound; 16n (368) is
#: far above any reported clone, so only impossible numbers such as 999 are refused.
MAX_CHROMOSOME_NUMBER = 368
#: ISCN 2020 ch. 8 ploidy levels: hypodiploid 35-45 and hyperdiploid 47-57 are described relative
#: to the diploid number, so for these clones the chromosome number must equal
#: 44 autosomes + the sex chromosomes + gains - losses; outside it the count is not checked.
NEAR_DIPLOID = (35, 57)
#: At most this many readings are kept for an abnormality written with ``or``.
_MAX_READINGS = 8


def _sex_chromosome(a: Aberration) -> bool:
    """Whether an abnormality involves X or Y (then the sex field may be left out)."""
    item = a.item
    if isinstance(item, WholeChromosome):
        return item.chromosome.name in ("X", "Y")
    if isinstance(item, Structural):
        return _structural_sex(item)
    return False


def _structural_sex(s: Structural) -> bool:
    return any(c.name in ("X", "Y") for c in s.chromosomes) or any(
        _structural_sex(p) for p in s.parts
    )


_PROBE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'_-@~")
_MARK_PROBE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'_@")
_PROBE_COUNT = re.compile(r"(.+?)(?:x(\d{1,3})(?:~(\d{1,3}))?|(amp))?")
_CHROMOSOME_NAMES = frozenset([str(n) for n in range(1, 23)] + ["X", "Y"])

#: The most distal band of each arm (region + band) in the ISCN 2020 ideograms (the 400-550
#: band-level figures).  A breakpoint beyond it (``22q4``, ``9q35``)
#: names a band that does not exist.  Part of the grammar, like the chromosome names.
_ARM_LIMITS: dict[str, tuple[int, int]] = {
    "1": (36, 44), "2": (25, 37), "3": (26, 29), "4": (16, 35), "5": (15, 35),
    "6": (25, 27), "7": (22, 36), "8": (23, 24), "9": (24, 34), "10": (15, 26),
    "11": (15, 25), "12": (13, 24), "13": (13, 34), "14": (13, 32), "15": (13, 26),
    "16": (13, 24), "17": (13, 25), "18": (11, 23), "19": (13, 13), "20": (13, 13),
    "21": (13, 22), "22": (13, 13), "X": (22, 28), "Y": (11, 12),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class IscnError:
    """Why a string is not valid ISCN: where (0-based offset into the normalised text) and what
    was expected there."""

    position: int
    expected: str
    found: str

    @property
    def message(self) -> str:
        return f"position {self.position}: expected {self.expected}, found {self.found}"


@dataclass(frozen=True, slots=True)
class IscnWarning:
    """Something valid but doubtful in the string: where (offset into the normalised text), a
    ``rule`` name (``breakpoints-missing``, ``band-order``, ``chromosome-count``) and why."""

    position: int
    rule: str
    message: str


@dataclass(frozen=True, slots=True)
class Recovered:
    """What :func:`parse_recovering` read: ``tree`` is the whole tree when ``errors`` is empty, else
    the tree of the parts that could be read (``None`` when nothing could)."""

    tree: IscnString | None
    errors: tuple[IscnError, ...]
    warnings: tuple[IscnWarning, ...]


class IscnSyntaxError(ValueError):
    """Raised by :func:`parse_normalised`; carries the :class:`IscnError`."""

    def __init__(self, error: IscnError) -> None:
        super().__init__(error.message)
        self.error = error


def parse_normalised(text: str) -> IscnString:
    """Parse already-normalised text (see :func:`adapter.iscn.normalise.normalise`).

    Raises :class:`IscnSyntaxError` on the first point where the text is not ISCN.
    """
    return _Parser(text, recover=False).parse()


def parse_recovering(text: str) -> Recovered:
    """Parse already-normalised text, reading past unreadable abnormalities (see module doc).

    A valid string is read once by the strict parser; only an invalid one is read again while
    recovering (same grammar, so the first error is the same)."""
    strict = _Parser(text, recover=False)
    try:
        return Recovered(strict.parse(), (), tuple(strict.warnings))
    except IscnSyntaxError:
        pass
    parser = _Parser(text, recover=True)
    try:
        tree: IscnString | None = parser.parse()
    except IscnSyntaxError as exc:  # only when nothing at all could be read
        parser.errors.append(exc.error)
        tree = None
    if tree is not None and not tree.parts:
        tree = None
    return Recovered(tree, tuple(parser.errors), tuple(parser.warnings))


_T = TypeVar("_T")


class _Parser:
    __slots__ = ("errors", "extra_readings", "i", "ideogram", "n", "recover", "s", "warnings")

    def __init__(self, text: str, recover: bool) -> None:
        self.s = text
        self.i = 0
        self.n = len(text)
        self.recover = recover
        self.errors: list[IscnError] = []
        self.warnings: list[IscnWarning] = []
        self.ideogram: Ideogram = load_ideogram()
        #: the other readings of the structural item just read (``or`` between its bands)
        self.extra_readings: list[Structural] = []

    def warn(self, position: int, rule: str, message: str) -> None:
        self.warnings.append(IscnWarning(position, rule, message))

    def guarded(self, read: Callable[[], _T], stops: str) -> _T | None:
        """``read()``: strict, its error propagates; recovering, see :meth:`recovering`."""
        if not self.recover:
            return read()
        return self.recovering(read, stops)

    def recovering(self, read: Callable[[], _T], stops: str) -> _T | None:
        """``read()``, or on an error record it, skip the text to the next of ``stops`` outside
        brackets and return ``None``."""
        start = self.i
        try:
            return read()
        except IscnSyntaxError as exc:
            self.errors.append(exc.error)
            self.i = self.skip(max(start, min(exc.error.position, self.n)), stops)
            return None

    def skip(self, start: int, stops: str) -> int:
        """The first of ``stops`` (or ``.`` before a FISH result) at bracket depth 0 from
        ``start``; brackets left open to the end are ignored (the first stop is taken)."""
        s, n = self.s, self.n
        for balanced in (True, False):
            depth = 0
            for j in range(start, n):
                c = s[j]
                if balanced and c in "([":
                    if c == "[" and depth == 0 and "[" in stops:
                        return j
                    depth += 1
                elif balanced and c in ")]":
                    depth = max(depth - 1, 0)
                elif depth == 0 and (
                    c in stops or (c == "." and s.startswith(("ish", "nuc ish"), j + 1))
                ):
                    return j
            if depth == 0:
                break
        return n

    # -- helpers -------------------------------------------------------------------------------

    def fail(self, expected: str, at: int | None = None) -> NoReturn:
        pos = self.i if at is None else at
        found = repr(self.s[pos]) if pos < self.n else "end of input"
        raise IscnSyntaxError(IscnError(pos, expected, found))

    def peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.s[j] if j < self.n else ""

    def at(self, word: str) -> bool:
        return self.s.startswith(word, self.i)

    def expect(self, ch: str, expected: str | None = None) -> None:
        if self.i < self.n and self.s[self.i] == ch:
            self.i += 1
            return
        self.fail(expected or repr(ch))

    def number(self, expected: str) -> int:
        start = self.i
        s, n = self.s, self.n
        j = start
        while j < n and s[j].isdigit() and s[j].isascii():
            j += 1
        if j == start:
            self.fail(expected)
        if j - start > 4:
            self.fail("a number of at most 4 digits", start)
        self.i = j
        return int(s[start:j])

    def range_(self, expected: str) -> Range:
        start = self.i
        low = self.number(expected)
        high = self.number_after(
            "~", low, "a number after '~'", f"a number of at least {low} (range must ascend)"
        )
        return Range(low, high, Span(start, self.i))

    def number_after(self, sep: str, least: int, expected: str, too_small: str) -> int | None:
        """``sep`` and a number of at least ``least``, when the text goes on with ``sep``."""
        if self.peek() != sep:
            return None
        self.i += 1
        at = self.i
        found = self.number(expected)
        if found < least:
            self.fail(too_small, at)
        return found

    def letters(self) -> str:
        s, n = self.s, self.n
        j = self.i
        while j < n and "a" <= s[j] <= "z":
            j += 1
        return s[self.i : j]

    # -- top level -----------------------------------------------------------------------------

    def parse(self) -> IscnString:
        if self.n == 0:
            self.fail("a karyotype (e.g. 46,XY) or FISH result (nuc ish ...)")
        parts: list[Part] = []
        while True:
            part = self.fish() if self.at("nuc ish") or self.at("ish") else self.karyotype()
            if part is not None:
                parts.append(part)
            if self.i >= self.n:
                break
            if self.peek() == ".":
                self.i += 1
                continue
            self.fail("'.' before a FISH result, or end of input")  # pragma: no cover - guarded
        return IscnString(tuple(parts), Span(0, self.n))

    # -- karyotype (ISCN 2020 ch. 8, 9, 11) --------------------------------------------------------

    def karyotype(self) -> Karyotype | None:
        start = self.i
        prefix: Literal["mos", "chi"] | None = None
        if self.at("mos ") or self.at("chi "):
            prefix = "mos" if self.at("mos") else "chi"
            self.i += 4
        clones: list[Clone] = []
        seps: list[Literal["/", "//"]] = []
        lost = False  # a clone could not be read: later idem/sl/sdl would point at the wrong one
        sep: Literal["/", "//"] | None = None
        damaged: set[int] = set()  # clones read past an error: their counts are not checked
        while True:
            errors_before = len(self.errors)
            clone = self.guarded(lambda: self.clone(len(clones)), "/")
            if clone is not None and lost and clone.reference is not None:
                self.errors.append(
                    IscnError(
                        clone.reference.span.start,
                        "a clone written out in full (its idem/sl/sdl refers to a clone that "
                        "could not be read)",
                        repr(clone.reference.word),
                    )
                )
                clone = None
            if clone is None:
                lost = True
            else:
                if sep is not None and clones:
                    seps.append(sep)
                if len(self.errors) > errors_before:
                    damaged.add(len(clones))
                clones.append(clone)
            if self.peek() != "/":
                break
            sep = "//" if self.peek(1) == "/" else "/"
            self.i += len(sep)
        if not clones:
            return None
        self.check_counts(clones, damaged)
        return Karyotype(tuple(clones), tuple(seps), prefix, Span(start, self.i))

    def check_counts(self, clones: list[Clone], damaged: set[int]) -> None:
        """Warn when a near-diploid clone's number disagrees with its gains and losses (ch. 8)."""
        tallies: list[tuple[int, int] | None] = []
        for k, clone in enumerate(clones):
            tally = None if k in damaged else _tally(clone, tallies)
            tallies.append(tally)
            number = clone.modal.number
            if tally is None or number is None or clone.modal.ploidy is not None:
                continue
            high = number.high if number.high is not None else number.low
            if not (NEAR_DIPLOID[0] <= number.low and high <= NEAR_DIPLOID[1]):
                continue
            if tally[1] < number.low or tally[0] > high:
                expected = str(tally[0]) if tally[0] == tally[1] else f"{tally[0]}~{tally[1]}"
                self.warn(
                    number.span.start,
                    "chromosome-count",
                    f"clone {k + 1}: chromosome number {render_number(number)} but "
                    f"{_arithmetic(clone, tallies)} = {expected} (ISCN 2020 ch. 8)",
                )

    def clone(self, index: int) -> Clone:
        start = self.i
        modal = self.modal()
        self.expect(",", "',' after the chromosome number")
        sex: Sex | None = None
        ref: CloneRef | None = None
        sex_at = self.i
        aberrations: list[Aberration] = []
        if self.peek() in ("i", "s") and (self.at("idem") or self.at("sl") or self.at("sdl")):
            ref = self.clone_ref(index)
        elif self.peek() in ("X", "Y", "?"):
            sex = self.sex()
        elif self.letters() in _KINDS and self.s.startswith("(", self.i + len(self.letters())):
            # ISCN 2020 ch. 8: no sex field when both sex chromosomes are rearranged, e.g.
            # 46,t(X;18)(p11.1;q11.2),t(Y;1)(q11.2;p13); checked below
            self.add(aberrations, self.guarded(self.listed_aberration, ",[/"))
        else:
            self.fail("sex chromosomes (e.g. XX, XY, X) or idem/sl/sdl")
        while True:
            c = self.peek()
            if c == ",":
                self.i += 1
                self.add(aberrations, self.guarded(self.listed_aberration, ",[/"))
            elif c in ("[", "/", ".", ""):
                break
            else:
                self.fail("',' and an abnormality, '[' cell count, '/' next clone, or end")
        if sex is None and ref is None and not any(_sex_chromosome(a) for a in aberrations):
            error = IscnError(sex_at, "sex chromosomes (e.g. XX, XY, X) or idem/sl/sdl", "")
            if not self.recover:
                self.fail(error.expected, sex_at)
            self.errors.append(IscnError(sex_at, error.expected, repr(self.s[sex_at])))
        cells = self.guarded(self.cells, "/") if self.peek() == "[" else None
        if self.peek() not in ("/", ".", ""):
            self.fail("'/' next clone, '.' FISH result, or end of input")
        return Clone(modal, sex, ref, tuple(aberrations), cells, Span(start, self.i))

    @staticmethod
    def add(out: list[Aberration], aberration: Aberration | None) -> None:
        if aberration is not None:
            out.append(aberration)

    def listed_aberration(self) -> Aberration:
        """One abnormality of a clone's list (with its ``or`` readings) and what may follow it."""
        self.extra_readings = []
        first = self.aberration()
        if not self.extra_readings and not self.at(" or "):  # the usual case: one reading
            if self.peek() not in (",", "[", "/", ".", ""):
                self.fail("',' and an abnormality, '[' cell count, '/' next clone, or end")
            return first
        readings = [first, *(replace(first, item=r) for r in self.extra_readings)]
        while self.at(" or "):
            self.i += 4
            readings.extend(self.aberration_readings())
        if self.peek() not in (",", "[", "/", ".", ""):
            self.fail("',' and an abnormality, '[' cell count, '/' next clone, or end")
        if len(readings) > _MAX_READINGS:
            self.fail(f"at most {_MAX_READINGS} readings joined by 'or'", first.span.start)
        span = Span(first.span.start, self.i)
        return Aberration(Alternatives(tuple(readings), span), span=span)

    def aberration_readings(self) -> list[Aberration]:
        """One abnormality, as one reading per combination of its ``or`` bands."""
        self.extra_readings = []
        first = self.aberration()
        extra, self.extra_readings = self.extra_readings, []
        return [first, *(replace(first, item=r) for r in extra)]

    def modal(self) -> Modal:
        start = self.i
        number = None
        if self.peek() != "<":
            number = self.range_("a chromosome number (e.g. 46, 45~48 or <2n>)")
            for value in (number.low, number.high):
                if value is not None and not 1 <= value <= MAX_CHROMOSOME_NUMBER:
                    self.fail(
                        f"a chromosome number from 1 to {MAX_CHROMOSOME_NUMBER}", number.span.start
                    )
        ploidy = self.ploidy() if self.peek() == "<" else None
        return Modal(number, ploidy, Span(start, self.i))

    def ploidy(self) -> str:
        start = self.i
        self.i += 1
        if not self.peek().isdigit() or self.peek(1) != "n":
            self.fail("a ploidy level such as <2n> or <3n>")
        self.i += 2
        if self.peek() in ("+", "-", "±"):
            self.i += 1
        self.expect(">", "'>' closing the ploidy level")
        return self.s[start : self.i]

    def sex(self) -> Sex:
        start = self.i
        while self.peek() in ("X", "Y", "?") and self.peek():
            self.i += 1
        if self.i == start:
            self.fail("sex chromosomes (e.g. XX, XY, X) or idem/sl/sdl")
        chromosomes = self.s[start : self.i]
        constitutional = False
        if self.peek() == "c":
            constitutional = True
            self.i += 1
        return Sex(chromosomes, constitutional, Span(start, self.i))

    def clone_ref(self, index: int) -> CloneRef:
        start = self.i
        word = "idem" if self.at("idem") else "sdl" if self.at("sdl") else "sl"
        self.i += len(word)
        if word == "sdl" and self.peek().isdigit():
            if index < 2:
                self.fail("sex chromosomes or idem/sl (sdl needs an earlier sideline)", start)
            num = self.number("a sideline number")
            word = f"sdl{num}"
            if not 1 <= num < index:
                self.fail(f"a sideline number between 1 and {index - 1}", start + 3)
            refers = num
        elif word == "sdl":
            if index < 2:
                self.fail("sex chromosomes or idem/sl (sdl needs an earlier sideline)", start)
            refers = index - 1
        else:
            if index < 1:
                self.fail("sex chromosomes (idem/sl cannot describe the first clone)", start)
            refers = 0
        copies = None
        if self.peek() == "x" and self.peek(1).isdigit():
            self.i += 1
            copies = self.number("a copy number")
        return CloneRef(word, refers, copies, Span(start, self.i))

    def cells(self) -> CellCount:
        start = self.i
        self.i += 1
        composite = False
        if self.at("cp"):
            composite = True
            self.i += 2
        at = self.i
        count = self.number("a cell count (e.g. [20] or [cp10])")
        if count == 0:
            self.fail("a cell count of at least 1 ([0]: no cell has this clone)", at)
        self.expect("]", "']' closing the cell count")
        return CellCount(count, composite, Span(start, self.i))

    def aberration(self) -> Aberration:
        start = self.i
        sign: Literal["+", "-"] | None = None
        uncertain = False
        if self.peek() == "?" and self.peek(1) in ("+", "-") and self.peek(1):
            uncertain = True  # "?+8" is written "+?8" in canonical form
            self.i += 1
        c = self.peek()
        if c == "+":
            sign = "+"
            self.i += 1
        elif c == "-":
            sign = "-"
            self.i += 1
        if self.peek() == "?":
            uncertain = True
            self.i += 1
        item = self.item(sign is not None, start)
        copies = None
        if self.peek() == "x" and self.peek(1).isdigit():
            self.i += 1
            copies = self.range_("a copy number")
            if copies.low == 0:
                self.fail(
                    "a copy number of at least 1 (x0: present in zero copies; leave it out)",
                    copies.span.start,
                )
        constitutional = False
        if self.peek() == "c":
            constitutional = True
            self.i += 1
        inheritance = None
        if self.peek() in ("d", "i", "m", "p") and self.peek():
            for word in _INHERITANCE:
                if self.at(word):
                    inheritance = word
                    self.i += len(word)
                    break
        return Aberration(
            item, sign, uncertain, copies, constitutional, inheritance, Span(start, self.i)
        )

    def item(self, signed: bool, start: int) -> Item:
        c = self.peek()
        here = self.i
        if c.isdigit():
            j = self.i
            while j < self.n and (self.s[j].isdigit() or self.s[j] == "~"):
                j += 1
            if self.s.startswith("mar", j) or self.s.startswith("dmin", j):
                count = self.range_("a count")
                return self.marker_or_dmin(count, signed, start)
            if not signed:
                self.fail("'+' or '-' before a whole chromosome", start)
            return WholeChromosome(self.chromosome(), Span(here, self.i))
        if c in ("X", "Y"):
            if not signed:
                self.fail("'+' or '-' before a whole chromosome", start)
            self.i += 1
            return WholeChromosome(
                Chromosome(c, False, None, Span(here, self.i)), Span(here, self.i)
            )
        word = self.letters()
        if word.startswith("mar") or word == "dmin":
            return self.marker_or_dmin(None, signed, start)
        if word == "inc":
            if signed:
                self.fail("an abnormality after the sign ('inc' takes no sign)", here)
            self.i += 3
            return Incomplete(Span(here, self.i))
        if word == "r" and self.peek(1) != "(":
            if not signed:
                self.fail("'(' after 'r'", here + 1)
            self.i += 1
            return UnknownRing(Span(here, self.i))
        if word in _KINDS or word == "psu":
            first, *self.extra_readings = self.structural_readings(in_fish=False)
            return first
        self.fail("an abnormality (e.g. +21, -7, t(12;21)(p13;q22), del(9)(p21), +mar)", here)

    def marker_or_dmin(self, count: Range | None, signed: bool, start: int) -> Item:
        here = self.i if count is None else count.span.start
        if self.at("dmin"):
            self.i += 4
            return DoubleMinute(count, Span(here, self.i))
        if not self.at("mar"):
            self.fail("'mar' or 'dmin' after a count")
        if not signed:
            self.fail("'+' or '-' before a marker", start)
        self.i += 3
        number = None
        if self.peek().isdigit():
            number = self.number("a marker number")
        return Marker(count, number, Span(here, self.i))

    def chromosome(self) -> Chromosome:
        start = self.i
        uncertain = False
        if self.peek() == "?" and (self.peek(1).isdigit() or self.peek(1) in ("X", "Y")):
            uncertain = True
            self.i += 1
        c = self.peek()
        if c.isdigit():
            at = self.i
            num = self.number("a chromosome")
            name = str(num)
            if name not in _CHROMOSOME_NAMES:
                self.fail("a chromosome 1-22, X or Y", at)
        elif c in ("X", "Y", "?"):
            name = c
            self.i += 1
        else:
            self.fail("a chromosome 1-22, X, Y or ?")
        arm: Literal["p", "q"] | None = None
        nxt = self.peek()
        if nxt in ("p", "q") and self.peek(1) in (")", ";"):
            arm = "p" if nxt == "p" else "q"
            self.i += 1
        return Chromosome(name, uncertain, arm, Span(start, self.i))

    # -- structural abnormalities (ISCN 2020 ch. 9) -----------------------------------------

    def structural(self, in_fish: bool) -> Structural:
        """A rearrangement with one reading (``or`` between bands only in a karyotype)."""
        start = self.i
        readings = self.structural_readings(in_fish)
        if len(readings) > 1:
            self.fail("one reading ('or' is read in a karyotype's abnormalities only)", start)
        return readings[0]

    def structural_readings(self, in_fish: bool) -> list[Structural]:
        """A rearrangement; one reading per combination of ``or`` bands (usually one)."""
        start = self.i
        kind = self.letters()
        if kind == "psu":
            self.i += 3
            if self.peek() != " ":
                self.fail("' dic' or ' idic' after 'psu'")
            self.i += 1
            sub = self.letters()
            if sub not in ("dic", "idic"):
                self.fail("'dic' or 'idic' after 'psu '")
            kind = f"psu {sub}"
            self.i += len(sub)
        else:
            if kind not in _KINDS:
                self.fail("a rearrangement (t, der, dic, i, del, dup, add, ins, inv, r, ...)")
            self.i += len(kind)
        self.expect("(", f"'(' and the chromosome(s) of {kind}")
        chromosomes = [self.chromosome()]
        while self.peek() == ";":
            if kind in _ONE_CHROMOSOME:
                self.fail(f"')': {kind} takes one chromosome")
            self.i += 1
            chromosomes.append(self.chromosome())
        if self.peek() != ")":
            self.fail("';' and another chromosome, or ')'")
        if kind in _TWO_OR_MORE and len(chromosomes) < 2:
            self.fail(f"';' and a second chromosome: {kind} joins two or more")
        self.i += 1
        breakpoints: tuple[tuple[Band, ...], ...] | None = None
        alternatives: list[tuple[tuple[Band, ...], ...]] = []
        if self.peek() == "(":
            if in_fish:
                save = self.i
                try:
                    breakpoints, alternatives = self.bands(chromosomes)
                except IscnSyntaxError:
                    self.i = save
            else:
                breakpoints, alternatives = self.bands(chromosomes)
        arm_only = all(c.arm is not None for c in chromosomes)  # i(17q): arm given, no bands
        if breakpoints is None and kind in _NEEDS_BANDS and not in_fish and not arm_only:
            if (kind not in _TWO_OR_MORE and kind != "ins") or len(chromosomes) < 2:
                self.fail(f"'(' and the breakpoints of {kind}")
            self.warn(
                start,
                "breakpoints-missing",
                f"{kind}({';'.join(c.name for c in chromosomes)}) is written without "
                "breakpoints (ISCN 2020 ch. 9 gives them); accepted: a fusion is named from "
                "it only when its two chromosomes are those of one known fusion",
            )
        if breakpoints is not None and kind in _ORDERED:
            self.check_order(kind, chromosomes[0].name, breakpoints[0], start)
        parts: list[tuple[Structural, ...]] = [()]  # one entry per reading of the parts
        if kind in ("der", "ider"):
            while True:
                word = self.letters()
                if (word in _KINDS and self.s.startswith("(", self.i + len(word))) or (
                    word == "psu" and self.s.startswith(" ", self.i + 3)
                ):
                    options = self.structural_readings(in_fish)
                    if len(parts) == 1 and len(options) == 1:
                        parts = [(*parts[0], options[0])]
                    else:
                        parts = [(*p, o) for p in parts for o in options]
                else:
                    break
        span = Span(start, self.i)
        if not alternatives and len(parts) == 1:  # the usual case: one reading
            return [Structural(kind, tuple(chromosomes), breakpoints, parts[0], span)]
        own: list[tuple[tuple[Band, ...], ...] | None] = [*alternatives] or [breakpoints]
        readings = [Structural(kind, tuple(chromosomes), b, p, span) for b in own for p in parts]
        if len(readings) > _MAX_READINGS:
            self.fail(f"at most {_MAX_READINGS} readings joined by 'or'", start)
        return readings

    def check_order(self, kind: str, chromosome: str, group: tuple[Band, ...], at: int) -> None:
        """Warn when the two bands of a ``del``/``inv`` run qter -> pter (see ``_ORDERED``)."""
        if len(group) != 2:
            return
        first, second = (_band_key(b) for b in group)
        if first is not None and second is not None and first > second:
            bands = "".join(render_band(b) for b in group)
            swapped = "".join(render_band(b) for b in reversed(group))
            self.warn(
                at,
                "band-order",
                f"{kind}({chromosome})({bands}): bands are listed from pter to qter "
                f"(ISCN 2020 ch. 9), i.e. ({swapped}); read as written",
            )

    def check_band(self, chromosome: str, band: Band) -> None:
        """Reject a band beyond the end of its arm (see ``_ARM_LIMITS``)."""
        limits = _ARM_LIMITS.get(chromosome)
        if limits is None or band.kind != "band" or band.arm is None:
            return
        head = band.designation.split(".", 1)[0]
        if "?" in head:
            return
        limit = limits[0] if band.arm == "p" else limits[1]
        value = int(head) if len(head) == 2 else int(head) * 10 + 1
        if value > limit:
            self.fail(
                f"a band of {chromosome}{band.arm} up to {band.arm}{limit} (ISCN ideogram)",
                band.span.start + 1,
            )
        if "?" not in band.designation and not self.ideogram.exists(
            chromosome, band.arm, band.designation
        ):
            under = self.ideogram.sub_bands(chromosome, band.arm, head)
            listed = ", ".join(f"{band.arm}{b}" for b in under) or "no such band"
            self.fail(
                f"a band of the 850-band ideogram ({chromosome}{band.arm}{head}: {listed})",
                band.span.start + 1,
            )
        if band.until is not None:
            self.check_band(chromosome, band.until)

    def bands(
        self, chromosomes: list[Chromosome]
    ) -> tuple[tuple[tuple[Band, ...], ...], list[tuple[tuple[Band, ...], ...]]]:
        """The breakpoint groups, and when a group holds ``or`` (``(p13 or q13)``) every full
        reading (the first of which is returned first)."""
        groups = len(chromosomes)
        self.i += 1
        segments = [self.segment()]
        while self.peek() == ";":
            if len(segments) == groups:
                self.fail(f"')': {groups} breakpoint group(s), one per chromosome")
            self.i += 1
            segments.append(self.segment())
        if self.peek() != ")":
            self.fail("';' and another breakpoint, or ')'")
        if len(segments) < groups:
            self.fail(f"';' and another breakpoint: {groups} groups, one per chromosome")
        for chromosome, options in zip(chromosomes, segments, strict=True):
            for segment in options:
                for band in segment:
                    self.check_band(chromosome.name, band)
        self.i += 1
        readings: list[tuple[tuple[Band, ...], ...]] = [()]
        for options in segments:
            readings = [(*r, o) for r in readings for o in options]
        if len(readings) > _MAX_READINGS:
            self.fail(f"at most {_MAX_READINGS} readings joined by 'or'")
        return readings[0], readings if len(readings) > 1 else []

    def segment(self) -> list[tuple[Band, ...]]:
        """One breakpoint group; each ``or`` adds another reading of it."""
        options: list[tuple[Band, ...]] = []
        while True:
            bands = [self.band()]
            while self.peek() in ("p", "q", "?") or self.at("cen"):
                bands.append(self.band())
            options.append(tuple(bands))
            if not self.at(" or "):
                return options
            self.i += 4

    def band(self, arm_optional: Literal["p", "q"] | None = None) -> Band:
        start = self.i
        s = self.s
        if self.at("pter") or self.at("qter"):
            self.i += 4
            ter: Literal["pter", "qter"] = "pter" if s[start] == "p" else "qter"
            return self.band_until(Band(ter, None, "", None, Span(start, self.i)))
        if self.at("cen"):
            self.i += 3
            return self.band_until(Band("cen", None, "", None, Span(start, self.i)))
        c = self.peek()
        if c == "?" and arm_optional is None:
            self.i += 1
            return Band("unknown", None, "", None, Span(start, self.i))
        arm: Literal["p", "q"]
        if c in ("p", "q"):
            arm = "p" if c == "p" else "q"
            self.i += 1
        elif arm_optional is not None and c.isdigit():
            arm = arm_optional
        else:
            self.fail("a band (e.g. q22, p13.3, q?, cen, pter)")
        designation = self.designation()
        return self.band_until(Band("band", arm, designation, None, Span(start, self.i)))

    def designation(self) -> str:
        start = self.i
        s, n = self.s, self.n
        j = start
        while j < n and (s[j].isdigit() or s[j] == "?"):
            j += 1
        head = s[start:j]
        if not head:
            self.fail("a band number (e.g. 22, 13.3 or ?)")
        if head[0] not in "1234?":
            self.fail("a band region 1-4 (or 10 for the centromere)", start)
        if len(head.replace("?", "")) > 2 or len(head) > 3:
            self.fail("a band of at most two digits before '.' (e.g. q22.3)", start + 2)
        if j < n and s[j] == ".":
            j += 1
            k = j
            while j < n and (s[j].isdigit() or s[j] == "?"):
                j += 1
            if j == k:
                self.fail("a sub-band after '.' (e.g. 13.3)", j)
        self.i = j
        return s[start:j]

    def band_until(self, band: Band) -> Band:
        if self.peek() != "~":
            return band
        self.i += 1
        until = self.band(arm_optional=band.arm)
        return Band(band.kind, band.arm, band.designation, until, Span(band.span.start, self.i))

    # -- FISH (ISCN 2020 ch. 13) -------------------------------------------------------------------

    def fish(self) -> FishResult | None:
        start = self.i
        method: Literal["ish", "nuc ish"] = "nuc ish" if self.at("nuc ish") else "ish"
        self.i += len(method)
        if self.peek() == " ":
            self.i += 1
        clones: list[FishClone] = []
        while True:
            clone = self.guarded(self.fish_clone, "/")
            if clone is not None:
                clones.append(clone)
            if self.peek() != "/":
                break
            self.i += 1
        if not clones:
            return None
        return FishResult(method, tuple(clones), Span(start, self.i))

    def fish_clone(self) -> FishClone | None:
        start = self.i
        items: list[FishItem] = []
        first = self.guarded(self.listed_fish_item, ",[/")
        if first is not None:
            items.append(first)
        while True:
            c = self.peek()
            if c == "," or c == "(":
                self.i += 1 if c == "," else 0
                item = self.guarded(self.listed_fish_item, ",[/")
                if item is not None:
                    items.append(item)
            else:
                break
        cells = self.guarded(self.nuclei, "/") if self.peek() == "[" else None
        if self.peek() not in ("/", ".", ""):
            self.fail("',' and another probe result, '[' scored cells, '/', '.' or end")
        if not items:
            return None
        return FishClone(tuple(items), cells, Span(start, self.i))

    def listed_fish_item(self) -> FishItem:
        """One FISH item and what may follow it."""
        item = self.fish_item()
        if self.peek() not in (",", "(", "[", "/", ".", ""):
            self.fail("',' and another probe result, '[' scored cells, '/', '.' or end")
        return item

    def fish_item(self) -> FishItem:
        c = self.peek()
        if c == "(":
            return self.probe_group(None, self.i)
        if c.isdigit() or c in ("X", "Y"):
            start = self.i
            chromosome = self.chromosome()
            self.check_band(chromosome.name, self.band())
            locus = self.s[start : self.i]
            if self.peek() != "(":
                self.fail("'(' and the probes at this locus")
            return self.probe_group(locus, start)
        if "a" <= c <= "z":
            start = self.i
            structural = self.structural(in_fish=True)
            marks: list[tuple[ProbeMark, ...]] = []
            while self.peek() == "(":
                self.i += 1
                marks.append(self.marks())
                while self.peek() == ";":
                    self.i += 1
                    marks.append(self.marks())
                self.expect(")", "',' or ';' and another probe, or ')'")
            return FishAbnormality(structural, tuple(marks), Span(start, self.i))
        self.fail("a probe list '(...)', a locus (e.g. 12p13) or a rearrangement")

    def marks(self) -> tuple[ProbeMark, ...]:
        out = [self.mark()]
        while self.peek() == ",":
            self.i += 1
            out.append(self.mark())
        return tuple(out)

    def mark(self) -> ProbeMark:
        start = self.i
        s, n = self.s, self.n
        j = start
        while j < n and s[j] in _MARK_PROBE_CHARS:
            j += 1
        if j == start:
            self.fail("a probe name")
        k = j
        while k < n and s[k] in "+-":
            k += 1
        if k == j:
            self.fail("'+' or '-' after the probe name", j)
        self.i = k
        return ProbeMark(s[start:j], s[j:k], Span(start, k))

    def probe_group(self, locus: str | None, start: int) -> ProbeGroup:
        self.i += 1
        entries = [self.probe_entry()]
        while self.peek() == ",":
            self.i += 1
            entries.append(self.probe_entry())
        self.expect(")", "',' and another probe, ' con '/' sep ' and a probe, or ')'")
        count = self.signal_count() if self.peek() in ("x", "a") else None
        return ProbeGroup(tuple(entries), count, locus, Span(start, self.i))

    def signal_count(self) -> SignalCount:
        start = self.i
        if self.at("amp"):
            self.i += 3
            return SignalCount(None, True, Span(start, self.i))
        if self.peek() != "x":
            self.fail("'x' and a signal count, or 'amp'")
        self.i += 1
        number = self.range_("a signal count after 'x'")
        return SignalCount(number, False, Span(start, self.i))

    def probe_entry(self) -> ProbeSignal:
        start = self.i
        probes: list[str] = []
        relation: Literal["con", "sep"] | None = None
        count: SignalCount | None = None
        while True:
            name, count = self.probe()
            probes.append(name)
            if self.at(" con ") or self.at(" sep "):
                word: Literal["con", "sep"] = "con" if self.at(" con") else "sep"
                if relation is not None and relation != word:
                    self.fail(f"' {relation} ' (one relation per probe set)", self.i + 1)
                if count is not None:
                    self.fail(
                        "' con '/' sep ' only before the last probe's count", count.span.start
                    )
                relation = word
                self.i += 5
                continue
            break
        if relation is not None and len(probes) < 2:
            self.fail("a second probe")
        return ProbeSignal(tuple(probes), relation, count, Span(start, self.i))

    def probe(self) -> tuple[str, SignalCount | None]:
        start = self.i
        s, n = self.s, self.n
        j = start
        while j < n and s[j] in _PROBE_CHARS:
            j += 1
        token = s[start:j]
        if not token:
            self.fail("a probe name (e.g. ETV6, 5'KMT2A, CEP4)")
        m = _PROBE_COUNT.fullmatch(token)
        if m is None or "~" in m.group(1):
            self.fail("a probe name followed by an optional count such as x2", start)
        name = m.group(1)
        self.i = j
        count = None
        if m.group(2) is not None:
            cstart = start + len(name)
            low = int(m.group(2))
            high = int(m.group(3)) if m.group(3) is not None else None
            if high is not None and high < low:
                self.fail(f"a number of at least {low} (range must ascend)", j - len(m.group(3)))
            count = SignalCount(Range(low, high, Span(cstart + 1, j)), False, Span(cstart, j))
        elif m.group(4) is not None:
            count = SignalCount(None, True, Span(start + len(name), j))
        return name, count

    def nuclei(self) -> NucleiCount:
        start = self.i
        self.i += 1
        count = self.number("a number of scored cells (e.g. [200] or [180/200])")
        total = self.number_after(
            "/", count, "the total number of scored cells", f"a total of at least {count}"
        )
        self.expect("]", "']' closing the scored cells")
        return NucleiCount(count, total, Span(start, self.i))


def _band_key(band: Band) -> float | None:
    """Position of a band along the chromosome, pter lowest (``None`` when uncertain)."""
    if band.kind == "pter":
        return float("-inf")
    if band.kind == "qter":
        return float("inf")
    if band.kind == "cen":
        return 0.0
    if band.kind != "band" or "?" in band.designation:
        return None
    value = float(band.designation)
    return -value if band.arm == "p" else value


def _delta(a: Aberration) -> tuple[int, int] | None:
    """Chromosomes an abnormality adds (low, high); ``None`` when it cannot be told (ch. 8)."""
    item = a.item
    if isinstance(item, Alternatives | Incomplete):
        return None
    if a.sign is None and isinstance(item, Structural) and _changes_count(item):
        return None
    if a.sign is None or isinstance(item, DoubleMinute):
        return (0, 0)
    if a.sign == "-" and isinstance(item, WholeChromosome) and item.chromosome.name in "XY":
        return (0, 0)  # ISCN 2020 ch. 8: 45,X,-Y: the sex field already shows the loss
    low = high = 1
    if isinstance(item, Marker) and item.count is not None:
        low, high = item.count.low, item.count.high or item.count.low
    if a.copies is not None:
        low, high = low * a.copies.low, high * (a.copies.high or a.copies.low)
    return (low, high) if a.sign == "+" else (-high, -low)


#: Rearrangements that join two chromosomes' centromeric parts into one chromosome, so the count
#: falls without a ``-`` (``45,XX,dic(9;12)(p13;p13)``, ``45,XX,rob(13;14)(q10;q10)``; ISCN 2020
#: ch. 9), and whose effect on the count the string does not spell out.
_JOINING = frozenset({"dic", "idic", "rob", "psu dic", "psu idic", "tas", "trc"})


def _changes_count(s: Structural) -> bool:
    """Whether an unsigned rearrangement may change the count unwritten: a joining kind, a
    whole-arm ``der(1;7)``, or one involving a sex chromosome, which the sex field then leaves
    out (``46,Y,t(X;12)``, ISCN 2020 ch. 8)."""
    if s.kind in _JOINING or (s.kind in ("der", "ider") and len(s.chromosomes) > 1):
        return True
    return _structural_sex(s) or any(_changes_count(p) for p in s.parts)


def _tally(clone: Clone, earlier: list[tuple[int, int] | None]) -> tuple[int, int] | None:
    """The chromosome number a clone's sex field (or referred clone) and changes give."""
    if clone.reference is not None:
        if clone.reference.refers_to >= len(earlier):
            return None
        base = earlier[clone.reference.refers_to]
        if base is None:
            return None
        factor = clone.reference.copies or 1
        low, high = base[0] * factor, base[1] * factor
    elif clone.sex is not None and "?" not in clone.sex.chromosomes:
        low = high = 44 + len(clone.sex.chromosomes)
    else:
        return None
    for a in clone.aberrations:
        d = _delta(a)
        if d is None:
            return None
        low, high = low + d[0], high + d[1]
    return low, high


def _arithmetic(clone: Clone, tallies: list[tuple[int, int] | None]) -> str:
    """How the expected number was counted: ``44 + 2 (XY) + 3 gained - 1 lost``."""
    if clone.reference is not None:
        base = tallies[clone.reference.refers_to]
        head = f"{clone.reference.word} ({base[0] if base else '?'})"
        if clone.reference.copies:
            head += f" x{clone.reference.copies}"
    else:
        sex = clone.sex.chromosomes if clone.sex else ""
        head = f"44 + {len(sex)} ({sex})"
    gained = [d for a in clone.aberrations if (d := _delta(a)) and d[1] > 0]
    lost = [d for a in clone.aberrations if (d := _delta(a)) and d[1] < 0]
    if gained:
        head += f" + {_span_sum(gained)} gained"
    if lost:
        head += f" - {_span_sum([(-h, -lo) for lo, h in lost])} lost"
    return head


def _span_sum(values: list[tuple[int, int]]) -> str:
    low, high = sum(v[0] for v in values), sum(v[1] for v in values)
    return str(low) if low == high else f"{low}~{high}"


def render_number(number: Range) -> str:
    return render_range(number)
