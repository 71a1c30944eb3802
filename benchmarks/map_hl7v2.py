"""Benchmark: `ball-fhir map hl7v2` work on 20,000 generated ORU^R01 messages vs bare hl7.parse.

Run: ``.venv/bin/python benchmarks/map_hl7v2.py [MESSAGES] [--seed N] [--rss MB]``.  Each
generated message is an MRD or blood-count ORU^R01 (MSH, PID, PV1, ORC, OBR, OBR NTE, 3-6 OBX
of NM/SN/ST/TX with NTE, SPM; some with escapes and Z-segments).  Prints messages/s and OBX/s of
process CPU time for the mapping (read bytes, group, map to FHIR, serialise the Bundle) and for
a bare ``hl7.parse`` of every message over the same messages in the same run, and the ratio
(issue 3).

``--rss MB`` (issue 17) also writes about MB megabytes of such messages to a temporary file and
measures, each in a fresh process, the peak resident memory (``ru_maxrss``) of ``ball-fhir map
hl7v2`` on it (read, map, serialise the Bundle) and of the bare baseline (read the file, split it
and ``hl7.parse`` every message), and prints both and their ratio.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import hl7

from adapter.cli.mapcmd import hl7v2_context
from adapter.mapping.hl7v2 import map_hl7v2
from adapter.sources.site import load_site
from benchmarks._timing import bare_and_mapped

MRD = [
    "OBX|{i}|NM|MRDFLOW^MRD by flow cytometry^99BALL|1|{mrd}|%^percent^UCUM||{interp}|||F|||{t}"
    "|||^8-color flow cytometry|FACSCanto II",
    "NTE|1|L|CD19 expression preserved",
    "OBX|{j}|NM|MRDEVT^Events analyzed^99BALL|1|{events}||||||F|||{t}",
    "OBX|{k}|NM|MRDLOD^MRD limit of detection^99BALL|1|0.005|%^percent^UCUM|||||F|||{t}",
    "OBX|{m}|TX|FLOWPANEL^Flow panel^99BALL|1|Tube 1: CD58 / CD34 / CD10 / CD19~Tube 2: CD20 "
    "\\T\\ CD45 \\S\\ CD38\\.br\\Gating CD19+||||||F|||{t}",
]
COUNT = [
    "OBX|{i}|NM|718-7^Hemoglobin^LN||{hgb}|g/dL^g/dL^UCUM|11-14|{flag}|||F|||{t}"
    "|||^automated|Sysmex XN",
    "OBX|{j}|NM|PLT^Platelets^99BALL||{plt}|10*9/L^10*9/L^UCUM|150-400||||F|||{t}",
    "OBX|{k}|SN|CD3ABS^CD3+ cells^99BALL||>^{cd3}|/uL^/uL^UCUM|||||F|||{t}",
    "NTE|1|L|before apheresis",
]


def generate(n: int, seed: int) -> tuple[bytes, int]:
    rnd = random.Random(seed)
    out: list[str] = []
    obx = 0
    for m in range(n):
        t = f"202404{rnd.randint(1, 28):02d}{rnd.randint(7, 17):02d}{rnd.randint(0, 59):02d}00+0300"
        patient = f"P{rnd.randint(1, 2000):05d}"
        mrd_case = rnd.random() < 0.5
        spec = f"{'BM' if mrd_case else 'PB'}-{m:06d}"
        segs = [
            f"MSH|^~\\&|LIS|BALLHOSP|BALLFHIR|BALLFHIR|{t}||ORU^R01^ORU_R01|MSG{m:07d}|P|2.5.1",
            f"PID|1||{patient}^^^BALLHOSP^MR||Doe^Jane||20150612|F",
            "PV1|1|O|ONC^^^BALLHOSP",
            f"ORC|RE||FIL{m:07d}^LIS",
            f"OBR|1||FIL{m:07d}^LIS|PANEL^Lab panel^99BALL|||{t}|||||||||||||||{t}||LAB|F",
            "NTE|1|L|Report comment",
        ]
        lines = MRD if mrd_case else COUNT
        values = {
            "t": t,
            "i": 1,
            "j": 2,
            "k": 3,
            "m": 4,
            "mrd": f"{rnd.uniform(0, 5):.3f}",
            "interp": rnd.choice(["POS", "NEG", ""]),
            "events": rnd.randint(100_000, 900_000),
            "hgb": f"{rnd.uniform(6, 15):.1f}",
            "flag": rnd.choice(["L", "N", ""]),
            "plt": rnd.randint(10, 500),
            "cd3": rnd.randint(50, 3000),
        }
        segs.extend(line.format(**values) for line in lines)
        if rnd.random() < 0.1:
            segs.append("ZXX|1|vendor data")
        code = "MAR^Marrow^HL70487" if mrd_case else "BLDV^Blood venous^HL70487"
        segs.append(f"SPM|1|^{spec}&LIS||{code}|||||||||||||{t}")
        obx += sum(1 for s in segs if s.startswith("OBX"))
        out.extend(segs)
    return ("\r".join(out) + "\r").encode(), obx


def _peak_rss_child(mode: str, path: str) -> None:
    """In a fresh process: map (``map``) or bare-parse (``parse``) the file, print ru_maxrss."""
    if mode == "map":
        from adapter.cli.mapcmd import bundle_json, map_file

        result = map_file("hl7v2", Path(path), load_site("default"))
        assert result.rejected == 0, result.issues[:3]
        bundle_json(result.bundle)
    else:
        data = Path(path).read_bytes()
        for m in data.decode().split("\rMSH")[1:]:
            hl7.parse("MSH" + m)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _peak_rss(megabytes: float, seed: int) -> None:
    per_message = len(generate(1000, seed)[0]) / 1000
    data, _ = generate(int(megabytes * 1e6 / per_message), seed)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rss.hl7"
        path.write_bytes(data)
        kb = {
            mode: int(
                subprocess.run(
                    [sys.executable, __file__, "--child", mode, str(path)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.split()[-1]
            )
            for mode in ("parse", "map")
        }
    print(f"input for peak memory: {len(data) / 1e6:,.1f} MB")
    print(f"peak RSS bare parse  : {kb['parse'] / 1024:10,.0f} MB")
    print(f"peak RSS map hl7v2   : {kb['map'] / 1024:10,.0f} MB (read, map, serialise)")
    print(
        f"ratio (map / parse)  : {kb['map'] / kb['parse']:10.1f}x the peak memory of the bare parse"
    )


def main() -> None:
    if "--child" in sys.argv:
        at = sys.argv.index("--child")
        _peak_rss_child(sys.argv[at + 1], sys.argv[at + 2])
        return
    flags = {"--seed", "--rss"}
    args = [
        a
        for i, a in enumerate(sys.argv[1:], start=1)
        if not a.startswith("--") and sys.argv[i - 1] not in flags
    ]
    n = int(args[0]) if args else 20_000
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 3
    data, obx = generate(n, seed)
    site = load_site("default")
    ctx = hl7v2_context(site)
    messages = ["MSH" + m for m in data.decode().split("MSH")[1:]]

    def bare() -> object:
        segments = 0
        for m in messages:  # parsed messages are not kept (as in the mapper): no GC penalty
            segments += len(hl7.parse(m))
        return segments

    def mapped() -> object:
        result = map_hl7v2(data, "bench.hl7", site, ctx, "2024-06-01T12:00:00Z")
        assert result.rejected == 0, result.issues[:3]
        return json.dumps(result.bundle)

    timings = bare_and_mapped(bare, mapped)
    t_bare, t_map = timings.bare, timings.mapped
    print(f"messages: {n:,}  OBX: {obx:,}  bytes: {len(data):,}")
    print(f"bare hl7.parse       : {n / t_bare:10,.0f} messages/s {obx / t_bare:10,.0f} OBX/s")
    print(f"ball-fhir map hl7v2  : {n / t_map:10,.0f} messages/s {obx / t_map:10,.0f} OBX/s")
    print(
        f"ratio (map / parse)  : {t_map / t_bare:10.1f}x the time of the bare parse (best of each)"
    )
    print(f"ratio of each turn   : {timings.spread()}")
    if "--rss" in sys.argv:
        _peak_rss(float(sys.argv[sys.argv.index("--rss") + 1]), seed)


if __name__ == "__main__":
    main()
