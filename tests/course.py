"""The example patient course of examples/manifest.yaml, mapped as the main job maps it.

Shared by the treatment-course tests (issue 5) and the protocol end-to-end tests (issue 7).
"""

from __future__ import annotations

from pathlib import Path

from adapter.cli.mainjob import load_manifest, map_job
from adapter.mapping.bundle import MapResult
from tests.conftest import ROOT

MANIFEST = ROOT / "examples" / "manifest.yaml"

#: the jobs of patient P-0001's course: diagnosis, relapse, measurements, apheresis, the 28-day
#: course, intrathecal therapy, lymphocyte infusions and the day-29 marrow
COURSE_JOBS = (
    "events-default",
    "measurements-default",
    "apheresis-default",
    "infusions-default",
    "intrathecal-default",
    "lymphocytes-default",
    "course-lab-default",
)


def map_jobs(out: Path, names: tuple[str, ...] = COURSE_JOBS) -> dict[str, MapResult]:
    """Map the named manifest jobs in order, each with the context Bundles it names."""
    jobs = {job.name: job for job in load_manifest(MANIFEST)}
    return {name: map_job(jobs[name], out) for name in names}
