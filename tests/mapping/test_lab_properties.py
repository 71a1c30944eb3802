"""Property tests for the lab mapping (hypothesis).

- generated valid rows always map; every emitted value traces to its input cell; ids are unique
  and every reference resolves inside the Bundle;
- generated garbage never crashes the mapper, and every Observation is accounted for by a mapped
  (never a rejected) row;
- the row checker's per-file memo of repeated cells never changes a row's outcome, and an
  Observation built from a shape shared with other rows is the one its row maps to alone.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapter.cli.mapcmd import lab_context
from adapter.issues import UsageError
from adapter.mapping.lab import FIELDS, LabRowChecker, map_lab
from adapter.sources.delimited import read_rows
from adapter.sources.site import load_site
from tests.bundle_checks import assert_bundle_invariants, provenance_rows
from tests.conftest import RECORDED

SITE = load_site("default")
CTX = lab_context(SITE)
HEADER = [
    "patient_id",
    "specimen_id",
    "collected_at",
    "specimen",
    "test",
    "value",
    "unit",
    "events_analyzed",
    "lod",
    "status",
    "method",
    "instrument",
    "comment",
]
#: local test -> (specimen, unit written, factor to the emitted unit)
TESTS = {
    "mrd-flow": ("bone-marrow", "%", Decimal(1)),
    "blasts-marrow": ("bone-marrow", "fraction", Decimal(100)),
    "blasts-blood": ("peripheral-blood", "%", Decimal(1)),
    "cd3-abs": ("peripheral-blood", "10*6/mL", Decimal(1000)),
    "csf-wbc": ("csf", "/uL", Decimal(1)),
    "hemoglobin": ("peripheral-blood", "g/dL", Decimal(10)),
    "platelets": ("peripheral-blood", "10*9/L", Decimal(1)),
}
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def to_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([HEADER, *rows])
    return buffer.getvalue().encode()


valid_row = st.tuples(
    st.from_regex(r"P[0-9]{1,4}", fullmatch=True),
    st.sampled_from(sorted(TESTS)),
    st.decimals(min_value=0, max_value=1, places=4, allow_nan=False),
    st.sampled_from(["final", "preliminary", "corrected"]),
    st.dates().map(lambda d: d.isoformat()),
)


@SETTINGS
@given(st.lists(valid_row, min_size=1, max_size=25))
def test_valid_rows_always_map_and_trace_to_input(rows) -> None:
    cells = []
    for n, (patient, test, value, status, day) in enumerate(rows):
        specimen, unit, _ = TESTS[test]
        cells.append(
            [patient, f"S{n}", day, specimen, test, str(value), unit, "", "", status, "", "", ""]
        )
    result = map_lab(to_csv(cells), "gen.csv", SITE, CTX, RECORDED)
    assert result.rejected == 0, [i.to_text() for i in result.issues]
    assert result.mapped == len(rows)
    bundle = result.bundle
    assert_bundle_invariants(bundle)
    rows_of = provenance_rows(bundle)
    observations = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert len(observations) == len(rows)
    for entry in observations:
        (row_number,) = rows_of[entry["fullUrl"]]
        patient, test, value, status, day = rows[row_number - 2]
        obs = entry["resource"]
        factor = TESTS[test][2]
        assert Decimal(str(obs["valueQuantity"]["value"])) == value * factor
        assert obs["status"] == status
        assert obs["effectiveDateTime"] == day


cell = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=8),
    st.sampled_from(
        [
            "negative",
            "<0.01",
            "1e-4",
            "%",
            "fraction",
            "mrd-flow",
            "cd3-abs",
            "bone-marrow",
            "final",
            "cancelled",
            "2024-01-01",
            "10*6/mL",
            "",
        ]
    ),
)


@SETTINGS
@given(st.lists(st.lists(cell, min_size=0, max_size=15), max_size=20))
def test_garbage_never_crashes_and_every_observation_has_a_mapped_row(rows) -> None:
    data = to_csv(rows)
    try:
        result = map_lab(data, "garbage.csv", SITE, CTX, RECORDED)
    except UsageError:
        return  # a file-level problem, reported as a usage error (exit 2)
    non_blank = [r for r in rows if any(c.strip() for c in r)]
    assert result.read == len(non_blank)
    assert result.mapped + result.rejected == result.read
    rejected_rows = {
        int(m.group(1))
        for i in result.issues
        if i.is_error
        for loc in i.location
        if (m := re.search(r":row (\d+)", loc))
    }
    assert len(rejected_rows) == result.rejected
    assert_bundle_invariants(result.bundle)
    for url, numbers in provenance_rows(result.bundle).items():
        assert not set(numbers) & rejected_rows, f"{url} built from a rejected row"


#: the values each cell of a memo-test row takes (good and bad ones): few, so rows repeat cells;
#: padded ones too, as the memo is keyed by cells as written
MEMO_CELLS = [
    ["P1", "P2", " P1", ""],
    ["S1", "S2", ""],
    ["2024-03-01", "2024-03-01T09:00:00+03:00", "01.03.2024", " 2024-03-01 ", ""],
    ["bone-marrow", "peripheral-blood", "marrow", "bone-marrow "],
    ["mrd-flow", "cd3-abs", "nope"],
    ["0.01", "<0.01", "negative", "120", "1e-4", "x", " 0.01", ""],
    ["%", "fraction", "10*6/mL", " % ", ""],
    ["", "500000", "many"],
    ["", "0.005", "0,005"],
    ["final", "cancelled", "done"],
]


@SETTINGS
@given(st.data())
def test_the_per_file_memo_never_changes_a_rows_outcome(data: st.DataObject) -> None:
    """LabRowChecker reuses the check of repeated cells; each row must come out exactly as a
    fresh checker (an empty memo) would check it.  Rows are a few base rows, each repeated with
    one cell changed, so the memo is hit with every kind of near neighbour."""
    bases = data.draw(
        st.lists(st.tuples(*(st.sampled_from(v) for v in MEMO_CELLS)), min_size=1, max_size=3)
    )
    rows = []
    for _ in range(data.draw(st.integers(1, 30))):
        row = list(data.draw(st.sampled_from(bases)))
        column = data.draw(st.integers(0, len(MEMO_CELLS) - 1))
        row[column] = data.draw(st.sampled_from(MEMO_CELLS[column]))
        rows.append([*row, "flow", "FACSCanto II", ""])
    section = SITE.lab
    assert section is not None
    shared = LabRowChecker(SITE, section, CTX)
    for read in read_rows(to_csv(rows), "memo.csv", SITE, section, FIELDS, []):
        assert shared(read) == LabRowChecker(SITE, section, CTX)(read)


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["P1", "P2", "P3"]),
            st.sampled_from(["2024-03-01", "2024-03-02T08:30:00+03:00"]),
            st.sampled_from([("mrd-flow", "0.01", "%"), ("cd3-abs", "0.5", "10*6/mL")]),
            st.sampled_from(["final", "corrected"]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_a_shared_observation_shape_gives_each_row_its_own_observation(rows) -> None:
    """Rows with equal result cells share one Observation shape (ObservationShapes); each row's
    Observation must still be exactly the one a file holding that row alone maps to."""
    cells = [
        [patient, f"S{n}", day, TESTS[test][0], test, value, unit, "", "", status, "", "", ""]
        for n, (patient, day, (test, value, unit), status) in enumerate(rows)
    ]

    def observations(data: bytes) -> dict[str, object]:
        bundle = map_lab(data, "shapes.csv", SITE, CTX, RECORDED).bundle
        return {
            e["fullUrl"]: e["resource"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Observation"
        }

    together = observations(to_csv(cells))
    assert len(together) == len(rows)
    for row in cells:
        ((url, alone),) = observations(to_csv([row])).items()
        assert together[url] == alone
