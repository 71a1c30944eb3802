"""Treatment sources, properties: generated valid records always map, garbage never crashes.

Garbage is arbitrary text and arbitrary cells under the default headers: the mappers may reject
every record or raise :class:`UsageError` (a file that cannot be read at all), nothing else.
"""

from __future__ import annotations

import contextlib
import csv
import io
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapter.cli.treatment import TREATMENT_KINDS
from adapter.issues import UsageError
from adapter.mapping.treatment.events import FIELDS as EVENT_FIELDS
from adapter.mapping.treatment.infusions import FIELDS as INFUSION_FIELDS
from adapter.sources.site import SiteConfig, load_site
from tests.conftest import RECORDED

SITE: SiteConfig = load_site("default")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def to_csv(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def run(kind: str, data: bytes):
    return TREATMENT_KINDS[kind][1](data, "input.csv", SITE, RECORDED, None, [])


days = st.integers(min_value=0, max_value=3000).map(lambda n: date(2018, 1, 1) + timedelta(n))


@st.composite
def infusion_files(draw: st.DrawFn) -> bytes:
    """Consecutive flat-dose bags of one patient per course, no overlap, no gap."""
    start = draw(days)
    header = sorted(INFUSION_FIELDS.known)
    rows = []
    t = start
    for i in range(draw(st.integers(1, 6))):
        length = draw(st.integers(1, 7))
        end = t + timedelta(days=length)
        status = draw(st.sampled_from(["completed", "stopped", "interrupted"]))
        values = {
            "patient_id": "P1",
            "order_id": "O1",
            "drug": draw(st.sampled_from(["blinatumomab", "blincyto-35ug"])),
            "bag_id": f"B{i}",
            "start": f"{t.isoformat()}T10:00:00+03:00",
            "end": f"{end.isoformat()}T10:00:00+03:00",
            "dose": str(draw(st.decimals(min_value="0.1", max_value="100", places=2))),
            "dose_unit": "ug/d",
            "course": "1",
            "course_day": str(i + 1),
            "status": status,
            "status_reason": draw(st.sampled_from(["not-tolerated", "other text"]))
            if status != "completed"
            else "",
        }
        rows.append([values.get(h, "") for h in header])
        t = end
    return to_csv(header, rows)


@given(infusion_files())
@SETTINGS
def test_valid_infusions_always_map(data: bytes) -> None:
    result = run("infusions", data)
    assert result.rejected == 0, [i.to_text() for i in result.issues]
    assert result.mapped == result.read


@st.composite
def measurement_files(draw: st.DrawFn) -> bytes:
    header = ["patient_id", "measured_at", "weight", "weight_unit", "height", "height_unit"]
    rows = []
    for n, d in enumerate(sorted(draw(st.sets(days, min_size=1, max_size=5)))):
        weight = draw(st.decimals(min_value="2", max_value="150", places=1))
        height = draw(st.decimals(min_value="40", max_value="210", places=1))
        rows.append([f"P{n % 2}", d.isoformat(), str(weight), "kg", str(height), "cm"])
    return to_csv(header, rows)


@given(measurement_files())
@SETTINGS
def test_valid_measurements_always_map_with_a_bsa_per_row(data: bytes) -> None:
    result = run("measurements", data)
    assert result.rejected == 0
    bsas = [
        e
        for e in result.bundle["entry"]
        if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "8277-6"
    ]
    assert len(bsas) == result.read
    assert all(0 < b["resource"]["valueQuantity"]["value"] < 5 for b in bsas)


@st.composite
def event_files(draw: st.DrawFn) -> bytes:
    header = sorted(EVENT_FIELDS.known)
    diagnosis = draw(days)
    later = st.integers(0, 2000).map(lambda n: diagnosis + timedelta(n))
    rows = [{"event": "diagnosis", "date": diagnosis.isoformat()}]
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["relapse", "frontline-end", "protocol", "risk-group", "hsct"]))
        row = {"event": kind, "date": draw(later).isoformat()}
        if kind == "relapse":
            row["sites"] = ";".join(
                draw(st.sets(st.sampled_from(["bone-marrow", "cns", "testis"]), min_size=1))
            )
            row["marrow_blasts"] = str(draw(st.integers(0, 100)))
        elif kind == "protocol":
            row["protocol"] = draw(st.sampled_from(["all-rez-2016", "all-rez-mb-2014"]))
        elif kind == "risk-group":
            row["risk_group"] = draw(st.sampled_from(["S1", "S2", "S3", "S4", "S5"]))
        elif kind == "hsct":
            row["donor_type"] = draw(
                st.sampled_from(["matched-sibling-donor", "haploidentical-donor"])
            )
        rows.append(row)
    return to_csv(header, [[{"patient_id": "P1", **r}.get(h, "") for h in header] for r in rows])


@given(event_files())
@SETTINGS
def test_valid_events_always_map(data: bytes) -> None:
    result = run("events", data)
    assert result.rejected == 0, [i.to_text() for i in result.issues]


@st.composite
def cell_files(draw: st.DrawFn) -> tuple[bytes, bytes, bytes]:
    """An apheresis with n portions, infusions of distinct portions, intrathecal triple therapy."""
    collected = draw(days)
    portions = draw(st.integers(1, 6))
    cells = str(draw(st.decimals(min_value="1", max_value="99", places=1)))
    collection = {
        "patient_id": "P1",
        "collection_id": "AF-1",
        "collected_at": collected.isoformat(),
        "cd3_count": str(draw(st.integers(0, 5000))),
        "cd3_unit": draw(st.sampled_from(["/uL", "10*6/mL", "10*9/L"])),
        "blood_blasts": str(draw(st.integers(0, 100))),
        "hemoglobin": str(draw(st.integers(40, 160))),
        "hemoglobin_unit": "g/L",
        "platelets": str(draw(st.integers(5, 500))),
        "platelets_unit": "10*9/L",
        "portions": str(portions),
        "cells_per_portion": cells,
        "cells_unit": "10*6",
        "cd3_share": str(draw(st.integers(0, 100))),
    }
    apheresis = to_csv(list(collection), [list(collection.values())])
    used = draw(st.lists(st.integers(1, portions), unique=True, max_size=portions))
    lymphocytes = to_csv(
        [
            "patient_id",
            "infused_at",
            "collection_id",
            "portion",
            "cells",
            "cells_unit",
            "course",
            "course_day",
        ],
        [
            [
                "P1",
                (collected + timedelta(7 * (i + 1))).isoformat(),
                "AF-1",
                str(n),
                cells,
                "10*6",
                "1",
                str(1 + 7 * i),
            ]
            for i, n in enumerate(used)
        ],
    )
    given_at = draw(days).isoformat()
    intrathecal = to_csv(
        ["patient_id", "given_at", "drug", "dose", "dose_unit", "course", "course_day"],
        [
            [
                "P1",
                given_at,
                drug,
                str(draw(st.integers(1, 40))),
                draw(st.sampled_from(["mg", "ug"])),
                "1",
                "1",
            ]
            for drug in draw(
                st.sets(
                    st.sampled_from(["methotrexate", "cytarabine", "dexamethasone"]), min_size=1
                )
            )
        ],
    )
    return apheresis, lymphocytes, intrathecal


@given(cell_files())
@SETTINGS
def test_valid_cell_and_intrathecal_records_always_map(files: tuple[bytes, bytes, bytes]) -> None:
    apheresis, lymphocytes, intrathecal = files
    collected = run("apheresis", apheresis)
    assert collected.rejected == 0, [i.to_text() for i in collected.issues]
    mapper = TREATMENT_KINDS["lymphocytes"][1]
    infused = mapper(lymphocytes, "l.csv", SITE, RECORDED, None, [collected.bundle])
    assert infused.rejected == 0, [i.to_text() for i in infused.issues]
    assert run("intrathecal", intrathecal).rejected == 0


@given(st.sampled_from(sorted(TREATMENT_KINDS)), st.binary(max_size=400))
@SETTINGS
def test_garbage_bytes_never_crash(kind: str, data: bytes) -> None:
    with contextlib.suppress(UsageError):
        run(kind, data)


#: cells that reach deep into the checks: valid-looking values mixed with arbitrary text
TOKENS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "P1",
            "P2",
            "2024-10-14",
            "2024-10-14T10:00:00+03:00",
            "2024-10-21T10:00:00+03:00",
            "2020-01-01",
            "5",
            "15",
            "0",
            "-1",
            "1e3",
            "100.5",
            "ug/d",
            "ug/m2/d",
            "ug/m2/day",
            "mcg/d",
            "ug/m2.d",
            "kg",
            "g",
            "cm",
            "m",
            "mg",
            "%",
            "10*6",
            "/uL",
            "10*6/mL",
            "g/L",
            "blinatumomab",
            "methotrexate",
            "cytarabine",
            "completed",
            "stopped",
            "interrupted",
            "in-progress",
            "not-tolerated",
            "diagnosis",
            "relapse",
            "death",
            "hsct",
            "protocol",
            "risk-group",
            "follow-up",
            "frontline-end",
            "bone-marrow;cns",
            "all-rez-2016",
            "S5",
            "AF-1",
            "1",
            "4",
        ]
    ),
)


@given(
    st.sampled_from(sorted(TREATMENT_KINDS)),
    st.lists(st.lists(TOKENS, min_size=0, max_size=20), max_size=8),
)
@SETTINGS
def test_garbage_cells_never_crash(kind: str, rows: list[list[str]]) -> None:
    section = getattr(SITE, kind)
    header = list(section.columns)
    width = len(header)
    fixed = [(r + [""] * width)[:width] for r in rows]
    try:
        result = run(kind, to_csv(header, fixed))
    except UsageError:
        return
    assert 0 <= result.rejected <= result.read
    for issue in result.issues:
        if issue.is_error:
            assert issue.source_record is not None
