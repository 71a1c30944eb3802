"""The course page in a real headless browser: Debian's chromium driven by npm playwright-core.

The page comes from the HTTP edge (``POST /patients/{id}/timeline``, in-process) for the example
patient with an MRD below its limit of detection added, is saved to a file and loaded by
``course_page.cjs``.  Asserted: the rendered elements and their values, marks drawn where their
values say, the print CSS applying, no console message and no page error, and no request other
than the page itself.  The screenshot is kept in ``tests/e2e/artifacts/`` (gitignored).
Missing node, playwright-core or chromium fail the test (scripts/setup-npm,
scripts/setup-debian): it is never skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.report.test_course_data import mrd, page_of, with_resources
from tests.report.test_pages_route import PATIENT_ID, post

pytestmark = pytest.mark.npm

SCRIPT = Path(__file__).resolve().parent / "course_page.cjs"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
NPM_TOOLS = ROOT / ".npm-tools" / "node_modules"
CHROMIUM = Path("/usr/bin/chromium")


def _tools() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: install Node.js >= 20, then run ./scripts/setup-npm")
    if not (NPM_TOOLS / "playwright-core" / "package.json").is_file():
        pytest.fail(f"playwright-core not installed in {NPM_TOOLS}: run ./scripts/setup-npm")
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} missing: run ./scripts/setup-debian")
    return node


def _render_in_browser(html_file: Path, screenshot: Path) -> dict[str, Any]:
    env = {**os.environ, "NODE_PATH": str(NPM_TOOLS)}
    run = subprocess.run(
        [_tools(), str(SCRIPT), html_file.as_uri(), str(screenshot)],
        capture_output=True, text=True, timeout=180, env=env, check=False,
    )  # fmt: skip
    if run.returncode != 0:
        pytest.fail(f"course_page.cjs failed ({run.returncode}):\n{run.stderr[-3000:]}")
    return json.loads(run.stdout)  # type: ignore[no-any-return]


def test_course_page_in_headless_chromium(tmp_path: Path) -> None:
    bundle = with_resources(mrd("2022-04-15", 0.005, "<"))
    response = post(f"/patients/{PATIENT_ID}/timeline?asOf=2022-04-20",
                    json.dumps(bundle).encode())  # fmt: skip
    assert response.status_code == 200, response.text
    html_file = tmp_path / "course.html"
    html_file.write_text(response.text, encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "course-page.png"
    screenshot.unlink(missing_ok=True)

    out = _render_in_browser(html_file, screenshot)

    assert out["console"] == []
    assert out["pageErrors"] == []
    assert out["requests"] == [html_file.as_uri()]  # nothing leaves the page
    r = out["rendered"]
    assert r["h1"] == "Course of EX-0001"
    assert "▲ warning adverse cytogenetics" in r["badges"]
    assert "time point: early" in r["badges"]
    assert [(c["id"], c["name"]) for c in r["charts"]] == [
        ("timeline", "Course timeline"),
        ("dose-chart-1", "Course 1: blinatumomab planned vs given"),
    ]
    assert all(c["box"]["width"] > 500 and c["box"]["height"] > 100 for c in r["charts"])
    phases = r["phases"]
    assert [p["kind"] for p in phases] == ["cytoreduction", "block", "course"]
    assert all(p["box"]["width"] > 0 for p in phases)
    assert [p["box"]["x"] for p in phases] == sorted(p["box"]["x"] for p in phases)
    assert r["infusions"] == ["2022-03-01", "2022-03-08", "2022-03-15"]

    lines = {t["value"]: t["y"] for t in r["thresholds"]}
    labs = {(p["series"], p["date"]): p for p in r["labs"]}
    at_threshold = labs[("mrd", "2022-03-29")]
    below_lod = labs[("mrd", "2022-04-15")]
    assert at_threshold["value"] == "0.0001"
    assert at_threshold["y"] == pytest.approx(lines["0.0001"], abs=1.0)  # on the 1e-4 line
    assert below_lod["belowLod"] == "true"
    assert below_lod["y"] > lines["0.0001"]  # drawn lower on screen: below 1e-4, not at zero
    assert labs[("marrow-blasts", "2022-01-10")]["y"] < lines["0.001"]

    assert r["given"] == 28
    assert r["marks"] == [[str(d), "deviation"] for d in range(15, 22)]
    assert r["firstDoseRow"] == ["15", "2022-03-15", "13.69", "12", "D deviation"]
    assert r["findings"] == [f.code for f in page_of(bundle).findings]
    assert r["bodyMaxWidth"] == "1040px"
    assert out["printMaxWidth"] == "none"  # the print CSS applies
    aria = out["ariaSnapshot"]
    assert 'img "Course timeline"' in aria  # the chart's accessible name: its <title>
    assert 'img "Course 1: blinatumomab planned vs given"' in aria
    assert "- table" in aria
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
