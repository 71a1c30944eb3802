"""Delimited (CSV-like) exports read into numbered rows of canonical fields.

The site's source section maps headers to canonical fields; this module checks that mapping
against the fields a source kind knows (unknown or missing ones are usage errors that name the
key), decodes the bytes with the site's encoding and yields one :class:`Row` per record with its
row number (the header is row 1, as in a spreadsheet).  A record with the wrong number of cells is
rejected with its raw text; the other records still go through.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter

from adapter.issues import Issue, UsageError
from adapter.sources.site import DelimitedSource, SiteConfig

#: the cells of some fields of a record (:meth:`Layout.getter`)
CellGetter = Callable[[Sequence[str]], tuple[str, ...]]


class Layout:
    """Where each canonical field sits in the records of one file (from its header row)."""

    __slots__ = ("_names", "positions")

    def __init__(self, positions: dict[str, int], width: int) -> None:
        self.positions = positions
        # the common layout, every column mapped: a record becomes its dict in one C-level call
        in_order = tuple(sorted(positions, key=positions.__getitem__))
        self._names = in_order if len(positions) == width else None

    def values(self, cells: Sequence[str]) -> dict[str, str]:
        """Canonical field -> stripped cell text of one record of this layout."""
        names = self._names
        if names is not None and len(cells) == len(names):
            return dict(zip(names, map(str.strip, cells), strict=True))
        return {f: cells[i].strip() for f, i in self.positions.items() if i < len(cells)}

    def getter(self, fields: Sequence[str]) -> CellGetter:
        """A function from a record's cells to the cells of ``fields`` as written (not
        stripped), ``''`` for a field with no column."""
        index = [self.positions.get(f) for f in fields]
        if len(index) > 1 and None not in index:
            return itemgetter(*index)  # one C call per record
        return lambda cells: tuple("" if i is None else cells[i] for i in index)


class Row:
    """One record: its row number, its cells as read, and (built when first asked for)
    canonical field -> stripped cell text.

    The hot paths read the cells they need through :meth:`Layout.getter` and never build the
    dict (benchmarks/map_lab.py); a check that reads cells by name builds it once.
    """

    __slots__ = ("_values", "cells", "layout", "number")

    def __init__(self, number: int, cells: list[str], layout: Layout) -> None:
        self.number = number
        self.cells = cells
        self.layout = layout
        self._values: dict[str, str] | None = None

    @property
    def values(self) -> dict[str, str]:
        values = self._values
        if values is None:
            values = self._values = self.layout.values(self.cells)
        return values

    def raw(self, delimiter: str) -> str:
        """The record written back as one delimited line (for the rejects file)."""
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator="").writerow(self.cells)
        return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class Fields:
    """The canonical fields of a source kind."""

    kind: str
    required: frozenset[str]
    optional: frozenset[str] = frozenset()

    @property
    def known(self) -> frozenset[str]:
        return self.required | self.optional


def check_section(section: DelimitedSource, fields: Fields) -> None:
    """Raise :class:`UsageError` naming the key when the column map does not fit the kind."""
    for header, field in section.columns.items():
        if field not in fields.known:
            raise UsageError(
                f"{fields.kind}.columns.{header}: unknown canonical field {field!r} "
                f"(known: {', '.join(sorted(fields.known))})"
            )
    mapped = set(section.columns.values())
    missing = sorted(fields.required - mapped)
    if missing:
        raise UsageError(f"{fields.kind}.columns: no mapping for required field(s) {missing}")
    for field in section.vocabularies:
        if field not in fields.known:
            raise UsageError(f"{fields.kind}.vocabularies.{field}: unknown canonical field")


def read_rows(
    data: bytes,
    source_name: str,
    site: SiteConfig,
    section: DelimitedSource,
    fields: Fields,
    issues: list[Issue],
    numbers: Sequence[int] | None = None,
) -> Iterator[Row]:
    """Yield the records of a delimited file; malformed records go to ``issues`` as errors.

    ``numbers``: when the data is one part of a larger file (a header and some of its records,
    adapter.sources.partition), the row number in the file of each record of the part.
    Raises :class:`UsageError` when the file cannot be read at all (wrong encoding, no header,
    a required column absent).
    """
    check_section(section, fields)
    text = _decode(data, site.encoding, source_name)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=site.delimiter)
    header = next(reader, None)
    if not header:
        raise UsageError(f"{source_name}: empty file, no header row")
    header = [h.strip() for h in header]
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        field = section.columns.get(name)
        if field is None:
            issues.append(
                Issue(
                    "warning",
                    "not-supported",
                    f"column {name!r} is not mapped by site {site.site!r}; its values are ignored",
                    rule="column-unmapped",
                    location=(f"{source_name}:row 1:column {name}",),
                )
            )
        elif field in positions:
            raise UsageError(f"{source_name}: two columns map to field {field!r}")
        else:
            positions[field] = index
    absent = sorted(fields.required.difference(positions))
    if absent:
        wanted = {f: h for h, f in section.columns.items()}
        raise UsageError(
            f"{source_name}: required column(s) missing: "
            + ", ".join(f"{wanted[f]!r} ({f})" for f in absent)
        )
    width = len(header)
    layout = Layout(positions, width)
    for index, cells in enumerate(reader, start=2):
        if not (cells and cells[0].strip()) and not "".join(cells).strip():  # no or blank cells
            continue
        number = index if numbers is None else numbers[index - 2]
        row = Row(number, cells, layout)
        if len(cells) != width:
            issues.append(
                Issue(
                    "error",
                    "structure",
                    f"record has {len(cells)} cells, the header has {width}",
                    rule="row-shape",
                    location=(f"{source_name}:row {number}",),
                    source_record=row.raw(site.delimiter),
                )
            )
            continue
        yield row


def _decode(data: bytes, encoding: str, source_name: str) -> str:
    if encoding.replace("-", "").lower() in ("utf8", "utf8sig"):
        encoding = "utf-8-sig"  # tolerate a byte-order mark
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UsageError(
            f"{source_name}: not {encoding} text at byte {exc.start} (line {line}); "
            "check the site's 'encoding'"
        ) from None


def vocabulary(section: DelimitedSource, field: str, value: str) -> str:
    """Apply the site vocabulary of a field to a cell value (unchanged when not listed)."""
    table = section.vocabularies.get(field)
    return table.get(value, value) if table else value
