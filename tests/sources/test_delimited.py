"""Delimited records: a file's layout, and rows whose cells are read by position or by name."""

from __future__ import annotations

from adapter.sources.delimited import Layout, Row

#: a header of three columns, all mapped: value, unit, test
ALL_MAPPED = Layout({"value": 0, "unit": 1, "test": 2}, 3)
#: a header of three columns, the middle one not mapped by the site
ONE_UNMAPPED = Layout({"value": 0, "test": 2}, 3)


def test_a_row_reads_its_cells_by_canonical_name_stripped() -> None:
    for layout in (ALL_MAPPED, ONE_UNMAPPED):
        row = Row(2, [" 0.5 ", "%", "mrd-flow "], layout)
        expected = {"value": "0.5", "test": "mrd-flow"}
        if layout is ALL_MAPPED:
            expected["unit"] = "%"
        assert row.values == expected


def test_a_row_builds_its_values_once() -> None:
    row = Row(2, ["0.5", "%", "mrd-flow"], ALL_MAPPED)
    assert row.values is row.values


def test_a_getter_gives_cells_as_written_and_empty_for_a_field_with_no_column() -> None:
    cells = [" 0.5", "%", "mrd-flow"]
    assert ALL_MAPPED.getter(("test", "value"))(cells) == ("mrd-flow", " 0.5")
    assert ONE_UNMAPPED.getter(("test", "unit", "value"))(cells) == ("mrd-flow", "", " 0.5")
    assert ALL_MAPPED.getter(("unit",))(cells) == ("%",)  # one field is still a tuple


def test_a_short_record_reads_only_the_cells_it_has() -> None:
    assert Row(5, ["0.5"], ALL_MAPPED).values == {"value": "0.5"}
    assert Row(5, ["0.5"], ALL_MAPPED).raw(";") == "0.5"
