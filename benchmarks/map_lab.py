"""Benchmark: `ball-fhir map lab` work on 100,000 generated rows vs a bare csv.DictReader pass.

Run: ``.venv/bin/python benchmarks/map_lab.py [ROWS]``.  Prints rows/s of process CPU time (one
core, so other load on the machine does not distort it) for both, in the same run,
and their ratio.  Targets (issue 2): >= 20,000 rows/s end to end, within 10x of the bare pass.
The mapping side is the CLI's work (``map_file`` + ``bundle_json``): read the file, map every
row to FHIR, serialise the Bundle.
"""

from __future__ import annotations

import csv
import io
import random
import sys
import tempfile
from pathlib import Path

from adapter.cli.mapcmd import bundle_json, map_file
from adapter.sources.site import load_site
from benchmarks._timing import bare_and_mapped

HEADER = (
    "patient_id,specimen_id,collected_at,specimen,test,value,unit,events_analyzed,lod,status,"
    "method,instrument,comment"
)
ROWS = [
    ("bone-marrow", "mrd-flow", "{v:.4f}", "%", "500000", "0.005"),
    ("peripheral-blood", "blasts-blood", "<1", "%", "", ""),
    ("bone-marrow", "blasts-marrow", "{b:.1f}", "%", "", ""),
    ("peripheral-blood", "cd3-abs", "{c:.2f}", "10*6/mL", "", ""),
    ("peripheral-blood", "hemoglobin", "{h:.1f}", "g/dL", "", ""),
    ("peripheral-blood", "platelets", "{p:.0f}", "10*9/L", "", ""),
]


def generate(n: int) -> bytes:
    rnd = random.Random(42)
    lines = [HEADER]
    for i in range(n):
        specimen, test, value, unit, events, lod = ROWS[i % len(ROWS)]
        v = value.format(
            v=rnd.random(),
            b=rnd.random() * 90,
            c=rnd.random(),
            h=rnd.uniform(6, 14),
            p=rnd.uniform(10, 400),
        )
        day = 1 + (i // 6) % 28
        when = f"2024-03-{day:02d}T09:00:00+03:00"
        lines.append(
            f"P{i // 60:05d},S{i // 6:06d}{specimen[0]},{when},{specimen},"
            f"{test},{v},{unit},{events},{lod},final,flow,FACSCanto II,"
        )
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    data = generate(n)
    site = load_site("default")
    path = Path(tempfile.mkdtemp()) / "bench.csv"
    path.write_bytes(data)

    def bare() -> object:
        return sum(1 for _ in csv.DictReader(io.StringIO(data.decode())))

    def mapped() -> object:
        result = map_file("lab", path, site)
        assert result.rejected == 0
        return bundle_json(result.bundle)

    timings = bare_and_mapped(bare, mapped)
    t_bare, t_map = timings.bare, timings.mapped
    print(f"rows: {n:,}")
    print(f"csv.DictReader pass : {n / t_bare:12,.0f} rows/s  ({t_bare:.3f} s)")
    print(f"ball-fhir map lab   : {n / t_map:12,.0f} rows/s  ({t_map:.3f} s)")
    print(f"ratio (map / bare)  : {t_map / t_bare:12.1f}x slower (best of each)")
    print(f"ratio of each turn  : {timings.spread()}")


if __name__ == "__main__":
    main()
