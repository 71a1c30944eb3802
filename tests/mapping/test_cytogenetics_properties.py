"""Property tests of the cytogenetics mapping: garbage never crashes, every row is accounted for.

Each generated record is either mapped (its row number is on a Provenance target) or rejected
(an error issue at its row, with the raw record kept); ``read = mapped + rejected``.
"""

from __future__ import annotations

import csv
import io
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapter.cli.mapcmd import cytogenetics_context
from adapter.issues import UsageError
from adapter.mapping.bundle import MapResult
from adapter.mapping.cytogenetics import map_cytogenetics
from adapter.sources.site import SiteConfig, load_site
from tests.conftest import RECORDED

SITE: SiteConfig = load_site("default")
HEADER = [
    "patient_id",
    "sample_id",
    "collected_at",
    "specimen",
    "method",
    "target",
    "result",
    "interpretation",
    "status",
]
ISCN_PIECES = [
    "46",
    "47",
    "45~48",
    "<2n>",
    ",",
    "XX",
    "XY",
    "t(12;21)(p13;q22)",
    "t(4;11)(q21;q23)",
    "der(11)t(4;11)(q21;q23)",
    "t(9;22)(q34;q11.2)",
    "t(5;12;21)(q31;p13;q22)",
    "+21",
    "-7",
    "del(9)(p21)",
    "idem",
    "[20]",
    "[cp10]",
    "/",
    ".",
    "nuc ish",
    "(ETV6,RUNX1)x2",
    "(ETV6 con RUNX1x1)",
    "(ABL1,BCR)x2",
    "(5'KMT2A sep 3'KMT2Ax1)",
    "[180/200]",
    "(",
    ")",
    ";",
    "?",
    "q",
    "p13.3",
]
iscn = st.lists(st.sampled_from(ISCN_PIECES), max_size=12).map("".join)
cell = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "P1",
            "S1",
            "S2",
            "2024-03-01T08:30:00+01:00",
            "2024-03-01",
            "bone-marrow",
            "peripheral-blood",
            "karyotype",
            "fish",
            "rt-pcr",
            "FISH",
            "ETV6::RUNX1",
            "BCR-ABL1",
            "KMT2A::AFF1",
            "detected",
            "not-detected",
            "negative",
            "0.37",
            "-1",
            "final",
            "cancelled",
            "preliminary",
        ]
    ),
    iscn,
)
row = st.lists(cell, min_size=9, max_size=9)


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _mapped_rows(result: MapResult) -> set[int]:
    rows: set[int] = set()
    for entry in result.bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] != "Provenance":
            continue
        for target in resource["target"]:
            rows.update(e["valuePositiveInt"] for e in target.get("extension", []))
    return rows


_ROW = re.compile(r":row (\d+)")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row, max_size=8))
def test_every_row_is_mapped_or_rejected(rows: list[list[str]]) -> None:
    result = map_cytogenetics(_csv(rows), "p.csv", SITE, cytogenetics_context(), RECORDED)
    # csv quoting keeps every generated record one record, however odd its text
    kept = [n for n, r in enumerate(rows, start=2) if any(c.strip() for c in r)]
    assert result.read == len(kept)
    assert result.mapped + result.rejected == result.read
    rejected_rows = set()
    for issue in result.issues:
        if issue.is_error:
            assert issue.source_record is not None
            (where,) = {int(m.group(1)) for loc in issue.location for m in _ROW.finditer(loc)}
            rejected_rows.add(where)
    assert len(rejected_rows) == result.rejected
    mapped = _mapped_rows(result)
    assert mapped.isdisjoint(rejected_rows)
    assert mapped | rejected_rows == set(kept)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_bytes_never_crash(data: bytes) -> None:
    try:
        result = map_cytogenetics(data, "g.csv", SITE, cytogenetics_context(), RECORDED)
    except UsageError:
        return  # not text, no header or missing required columns: the work cannot start
    assert result.mapped + result.rejected == result.read


@settings(max_examples=200, deadline=None)
@given(iscn, st.sampled_from(["karyotype", "fish"]), st.sampled_from(["", "ETV6::RUNX1"]))
def test_iscn_like_results_never_crash(text: str, method: str, target: str) -> None:
    data = _csv([["P1", "S1", "2024-03-01", "bone-marrow", method, target, text, "", "final"]])
    result = map_cytogenetics(data, "i.csv", SITE, cytogenetics_context(), RECORDED)
    assert result.read == 1
    assert result.mapped + result.rejected == 1
    if result.mapped:
        observations = [
            e["resource"]
            for e in result.bundle["entry"]
            if e["resource"]["resourceType"] == "Observation"
        ]
        assert observations
        for obs in observations:
            if obs["code"]["coding"][0]["code"] == "62356-1":
                assert obs["valueString"] == text.strip()
