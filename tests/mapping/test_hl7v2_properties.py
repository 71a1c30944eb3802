"""Property tests for the HL7 v2 mapping (hypothesis).

Segments of the golden messages are shuffled, dropped, duplicated and truncated (whole file cut
at any byte, single segments cut at any character), line endings are mixed: the mapper never
raises, the Bundle keeps its invariants (unique ids, every reference resolves), and every
segment of the input is accounted for, by a Provenance source row or by an issue naming its line.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapter.cli.mapcmd import hl7v2_context
from adapter.mapping.hl7v2 import map_hl7v2
from adapter.sources.site import load_site
from tests.bundle_checks import assert_bundle_invariants
from tests.conftest import RECORDED, ROOT
from tests.mapping.test_hl7v2_golden import accounted_lines, segment_lines

SITE = load_site("default")
CTX = hl7v2_context(SITE)
GOLDEN = ROOT / "tests" / "golden" / "hl7v2"
SOURCES = ["mrd-flow", "value-types", "z-segments", "statuses", "corrected", "custom-encoding"]
SEGMENTS: list[bytes] = []
for name in SOURCES:
    raw = (GOLDEN / name / "input.hl7").read_bytes().replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    SEGMENTS.extend(s for s in raw.split(b"\r") if s)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ENDINGS = st.sampled_from([b"\r", b"\n", b"\r\n"])


def check(data: bytes) -> None:
    result = map_hl7v2(data, "fuzz.hl7", SITE, CTX, RECORDED)
    assert_bundle_invariants(result.bundle)
    missing = segment_lines(data) - accounted_lines(result)
    assert not missing, f"lines {sorted(missing)} are neither mapped nor reported"
    assert 0 <= result.rejected <= result.read


@SETTINGS
@given(
    st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=40),
    st.lists(ENDINGS, min_size=1, max_size=3),
)
def test_shuffled_segments_never_crash_and_are_accounted_for(
    segments: list[bytes], endings: list[bytes]
) -> None:
    data = b"".join(s + endings[i % len(endings)] for i, s in enumerate(segments))
    check(data)


@SETTINGS
@given(st.sampled_from(SOURCES), st.data())
def test_truncated_files_never_crash_and_are_accounted_for(name: str, data: st.DataObject) -> None:
    raw = (GOLDEN / name / "input.hl7").read_bytes()
    cut = data.draw(st.integers(min_value=0, max_value=len(raw)))
    check(raw[:cut])


@SETTINGS
@given(st.sampled_from(SOURCES), st.data())
def test_truncated_segments_never_crash_and_are_accounted_for(
    name: str, data: st.DataObject
) -> None:
    segments = (GOLDEN / name / "input.hl7").read_bytes().split(b"\r")
    index = data.draw(st.integers(min_value=0, max_value=len(segments) - 1))
    keep = data.draw(st.integers(min_value=0, max_value=len(segments[index])))
    segments[index] = segments[index][:keep]
    check(b"\r".join(segments))


@SETTINGS
@given(st.binary(max_size=400))
def test_garbage_never_crashes(data: bytes) -> None:
    check(b"MSH|^~\\&|" + data)
    check(data)
