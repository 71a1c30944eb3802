"""Delimited-row mapping shared by the row sources (lab, cytogenetics, the treatment kinds).

A source checks each row whole with a :class:`RowCheck` (every issue of the row, located by
column name), then runs the checks across rows (duplicates, specimen conflicts), and
:func:`decide` places each issue as ``<file>:row N:column X`` and decides: a row with an error
issue is rejected with its raw text kept in ``source_record``; the other rows are accepted.
Rows of the wrong shape (:func:`adapter.sources.delimited.read_rows`) count as read and
rejected.  :func:`map_rows` settles each row as it is read (lab, cytogenetics); the treatment
kinds check every row first (``adapter.mapping.treatment.common.check_file``) and decide after
their cross-row checks.  Nothing here knows a clinical rule: the sources pass their own checks
and tables.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Self, TypeVar

from adapter.issues import Issue, IssueCode, UsageError
from adapter.mapping.bundle import BundleBuilder, MapResult, Part
from adapter.sources.delimited import Fields, Row, read_rows
from adapter.sources.site import DelimitedSource, SiteConfig
from adapter.sources.values import ValueProblem, parse_datetime, parse_decimal

A = TypeVar("A")
R = TypeVar("R")
T = TypeVar("T")


def section_of(site: SiteConfig, kind: str) -> Any:
    """The site's section for a source kind, or a UsageError naming it."""
    section = getattr(site, kind)
    if section is None:
        raise UsageError(f"site {site.site!r} has no {kind!r} section")
    return section


@dataclass(slots=True)
class RowCheck:
    """Issues of one row (locations are column names until :func:`locate` places them)."""

    row: Row
    site: SiteConfig
    section: DelimitedSource
    issues: list[Issue] = field(default_factory=list)

    @classmethod
    def start(
        cls, row: Row, site: SiteConfig, section: DelimitedSource, required: Iterable[str]
    ) -> Self:
        """The check of a row, with an error already for each empty cell among ``required``."""
        check = cls(row, site, section)
        check.require(required)
        return check

    def error(self, rule: str, column: str, message: str, code: IssueCode = "value") -> None:
        self.issues.append(Issue("error", code, message, rule=rule, location=(column,)))

    def warn(self, rule: str, column: str, message: str, code: IssueCode = "business-rule") -> None:
        self.issues.append(Issue("warning", code, message, rule=rule, location=(column,)))

    @property
    def failed(self) -> bool:
        return any(i.is_error for i in self.issues)

    def cell(self, name: str) -> str:
        """The cell as written ('' when absent)."""
        return self.row.values.get(name, "")

    def text(self, name: str) -> str:
        """The cell after the site vocabulary of the field ('' when absent), as
        :func:`adapter.sources.delimited.vocabulary` applies it."""
        value = self.row.values.get(name, "")
        table = self.section.vocabularies.get(name)
        return table.get(value, value) if table else value

    def require(self, names: Iterable[str]) -> None:
        """An error for each empty cell among ``names``."""
        values = self.row.values
        for name in names:
            if not values.get(name):
                self.error("required-cell", name, f"{name} is empty", "required")

    def one_of(self, name: str, allowed: Collection[str], rule: str) -> str:
        """The cell after the vocabulary; an error when it is set and not in ``allowed``."""
        value = self.text(name)
        if value and value not in allowed:
            self.error(
                rule, name, f"{name} {value!r} is not one of {', '.join(allowed)}", "code-invalid"
            )
        return value

    def parsed(self, name: str, parse: Callable[[str, SiteConfig], T]) -> T | None:
        """A cell read by a site-aware parser of :mod:`adapter.sources.values` (None when empty)."""
        raw = self.cell(name)
        if not raw:
            return None
        try:
            return parse(raw, self.site)
        except ValueProblem as exc:
            self.error(exc.rule, name, str(exc))
            return None

    def when(self, name: str) -> str | None:
        """A date or dateTime cell as an R4 dateTime string."""
        return self.parsed(name, parse_datetime)

    def decimal(self, name: str) -> Decimal | None:
        """A decimal cell in the site's notation (no range check)."""
        return self.parsed(name, parse_decimal)


def duplicate(what: str, row: int, column: str) -> Issue:
    """The error of a row that repeats the record of an earlier ``row``."""
    return Issue(
        "error",
        "duplicate",
        f"{what} as row {row}",
        rule="duplicate-record",
        location=(column,),
    )


def locate(issue: Issue, where: str) -> Issue:
    """Place an issue located by column names at ``where`` (``<file>:row N``)."""
    columns = [f"{where}:column {c}" for c in issue.location] or [where]
    return replace(issue, location=tuple(columns))


def settle(
    row: Row, site: SiteConfig, source_name: str, issues: list[Issue], sound: bool
) -> tuple[list[Issue], bool]:
    """Place a row's issues; when it has an error (or is not ``sound``) keep its raw text.

    Returns the placed issues and whether the row is accepted.
    """
    if sound and not issues:  # the common row: nothing to place
        return [], True
    located = [locate(i, f"{source_name}:row {row.number}") for i in issues]
    if sound and not any(i.is_error for i in located):
        return located, True
    raw = row.raw(site.delimiter)
    return [replace(i, source_record=raw) if i.is_error else i for i in located], False


@dataclass(slots=True)
class RowsRead:
    """What :func:`decide` saw: every issue, records read and rejected (row shapes included)."""

    issues: list[Issue]
    read: int
    rejected: int

    def result(
        self,
        builder: BundleBuilder,
        source_name: str,
        data: bytes,
        recorded: str,
        part: Part | None = None,
    ) -> MapResult:
        return MapResult(
            builder.build(source_name, data, recorded, part), self.issues, self.read, self.rejected
        )


def decide(
    rows: Iterable[tuple[Row, R | None, list[Issue]]],
    site: SiteConfig,
    source_name: str,
    issues: list[Issue],
    accept: Callable[[R], None],
) -> RowsRead:
    """:func:`settle` each checked row (its record, None when the row itself is unsound, and its
    issues) into ``issues``, giving ``accept`` the record of each accepted row in turn.

    ``issues`` holds the issues of the file itself; rows of the wrong shape among them count
    as read and rejected.
    """
    read = rejected = 0
    for row, record, row_issues in rows:
        read += 1
        if record is not None and not row_issues:  # the common row: accepted, nothing to place
            accept(record)
            continue
        located, accepted = settle(row, site, source_name, row_issues, record is not None)
        issues.extend(located)
        if record is None or not accepted:
            rejected += 1
            continue
        accept(record)
    shape_rejects = sum(1 for i in issues if i.rule == "row-shape")
    return RowsRead(issues, read + shape_rejects, rejected + shape_rejects)


def map_rows(
    data: bytes,
    source_name: str,
    site: SiteConfig,
    section: DelimitedSource,
    fields: Fields,
    check: Callable[[Row], tuple[R | None, list[Issue]]],
    across: Callable[[R, list[Issue]], A],
    accept: Callable[[A], None],
    progress: Callable[[int], None] | None = None,
    numbers: Sequence[int] | None = None,
) -> RowsRead:
    """Read, check and decide every row of a delimited file, one row after the other.

    ``check`` checks one row on its own (a record only when the row is sound); ``across`` adds
    the issues of a record against the rows accepted before it and returns what ``accept``
    takes (the record, or the record with what the cross-row checks worked out for it, such as
    its ids); ``accept`` takes it when none of the row's issues is an error.  ``numbers``: the
    file row numbers of the records when ``data`` is one part of a file (:func:`read_rows`).
    """
    issues: list[Issue] = []

    def checked() -> Iterator[tuple[Row, A | None, list[Issue]]]:
        for read, row in enumerate(
            read_rows(data, source_name, site, section, fields, issues, numbers), 1
        ):
            if progress and read % 1000 == 0:
                progress(read)
            record, row_issues = check(row)
            yield row, None if record is None else across(record, row_issues), row_issues

    return decide(checked(), site, source_name, issues, accept)
