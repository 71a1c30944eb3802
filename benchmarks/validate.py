"""Validator throughput: 10,000 varied resources, ours (base-only and base+profile) side by side
with Medplum 4.5.2 ``validateResource`` and FHIR.js 4.12 in one run (issue 6 "Benchmark").

    .venv/bin/python benchmarks/validate.py [--count 10000] [--no-peers] [--install-fhirjs]

Medplum comes from ``.npm-tools`` (scripts/setup-npm); FHIR.js (``fhir@4.12.0``) is used when
installed in the scratch folder ``$BALL_BENCH_NPM`` (default /tmp/ball-bench-npm), which
``--install-fhirjs`` fills with ``npm install``.  Ours is timed on one core (the process is
single-threaded); the peers run in their own node process.  Times are the best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapter.fhir import BALL_CONCEPTS, LOINC, UCUM  # noqa: E402
from adapter.validation import default_validator  # noqa: E402
from tests.validation.medplum import medplum_installed, run_medplum, run_node  # noqa: E402

EXAMPLES = ROOT / "profiles" / "package" / "example"
SCRATCH = Path(os.environ.get("BALL_BENCH_NPM", "/tmp/ball-bench-npm"))

FHIRJS_SCRIPT = r"""
'use strict';
const path = require('path');
const { Fhir } = require(path.join(process.argv[2], 'node_modules', 'fhir'));
const fhir = new Fhir();
let input = '';
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => {
  const request = JSON.parse(input);
  let best = Infinity, rejected = 0;
  for (let r = 0; r < request.repeat; r++) {
    rejected = 0;
    const start = process.hrtime.bigint();
    for (const resource of request.resources) {
      const result = fhir.validate(resource);
      if (!result.valid) rejected++;
    }
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  const count = request.resources.length;
  process.stdout.write(JSON.stringify({ seconds: best, count, rejected }));
});
"""

LAB_TESTS = [
    ("11150-0", "%", 35.0),
    ("26446-5", "%", 12.0),
    ("8122-4", "/uL", 300.0),
    ("806-0", "/uL", 4.0),
    ("718-7", "g/dL", 11.2),
    ("777-3", "10*9/L", 150.0),
]


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return data


def make_resources(count: int, seed: int = 6) -> list[dict[str, Any]]:
    """Deterministic, varied resources: mostly Observations (MRD and lab), some of each other
    profiled type; about 5% carry one fault so that error paths are timed too."""
    rng = random.Random(seed)
    mrd = _load("Observation-ball-mrd-observation-example.json")
    lab = _load("Observation-ball-lab-observation-example.json")
    others = [
        _load("Patient-ball-patient-example.json"),
        _load("Specimen-ball-specimen-example.json"),
        _load("DiagnosticReport-ball-diagnostic-report-example.json"),
        _load("Provenance-ball-provenance-example.json"),
    ]
    out: list[dict[str, Any]] = []
    for i in range(count):
        roll = rng.random()
        if roll < 0.45:
            r = copy.deepcopy(mrd)
            r["valueQuantity"]["value"] = round(rng.uniform(0, 5), 4)
            if rng.random() < 0.3:
                r["valueQuantity"]["comparator"] = "<"
            if rng.random() < 0.5:
                r["component"] = r["component"][: rng.randint(0, 2)] or r["component"][:1]
            r["interpretation"][0]["coding"][0]["code"] = rng.choice(["POS", "NEG"])
            if rng.random() < 0.5:
                del r["meta"]  # profile by the profile map
        elif roll < 0.8:
            r = copy.deepcopy(lab)
            code, unit, value = rng.choice(LAB_TESTS)
            r["code"]["coding"][0] = {"system": LOINC, "code": code}
            r["valueQuantity"] = {
                "value": round(value * rng.uniform(0.5, 1.5), 2),
                "unit": unit,
                "system": UCUM,
                "code": unit,
            }
            if rng.random() < 0.5:
                del r["meta"]
        else:
            r = copy.deepcopy(rng.choice(others))
        r["id"] = f"bench-{i}"
        if rng.random() < 0.05:
            _fault(r, rng)
        out.append(r)
    return out


def make_bundles(resources: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """The same resources as transaction Bundles (urn:uuid fullUrls, POST requests)."""
    out = []
    for start in range(0, len(resources), size):
        entries = []
        for n, r in enumerate(resources[start : start + size]):
            entries.append(
                {
                    "fullUrl": f"urn:uuid:00000000-0000-4000-8000-{start + n:012d}",
                    "resource": r,
                    "request": {"method": "POST", "url": r["resourceType"]},
                }
            )
        out.append({"resourceType": "Bundle", "type": "transaction", "entry": entries})
    return out


def _fault(r: dict[str, Any], rng: random.Random) -> None:
    kind = rng.randrange(5)
    if kind == 0:
        r.pop("status", None) if "status" in r else r.update({"foo": 1})
    elif kind == 1:
        r["id"] = "bad_id!"
    elif kind == 2:
        r["unknownElement"] = True
    elif kind == 3 and r["resourceType"] == "Observation":
        r["valueQuantity"]["code"] = "mcg/d"
    else:
        r["meta"] = {"profile": [f"{BALL_CONCEPTS}/not-a-profile"], "versionId": ""}


def time_ours(
    resources: list[dict[str, Any]], base_only: bool, repeat: int
) -> tuple[float, int, set[int]]:
    validator = default_validator()
    best = float("inf")
    rejected: set[int] = set()
    for _ in range(repeat):
        rejected = set()
        start = time.perf_counter()
        for n, r in enumerate(resources):
            if any(i.is_error for i in validator.validate(r, base_only=base_only)):
                rejected.add(n)
        best = min(best, time.perf_counter() - start)
    return best, len(rejected), rejected


def time_medplum(
    resources: list[dict[str, Any]], repeat: int
) -> tuple[float, int, set[int]] | None:
    if not medplum_installed():
        return None
    bench = run_medplum("bench", resources, repeat=repeat)
    verdicts = run_medplum("validate", resources)
    rejected = {n for n, v in enumerate(verdicts) if not v["ok"]}
    return float(bench["seconds"]), len(rejected), rejected


def time_fhirjs(
    resources: list[dict[str, Any]], repeat: int, install: bool
) -> tuple[float, int] | None:
    if shutil.which("node") is None:
        return None
    if not (SCRATCH / "node_modules" / "fhir").is_dir():
        if not install:
            return None
        SCRATCH.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(SCRATCH), "--no-audit", "--no-fund", "fhir@4.12.0"],
            check=True,
            capture_output=True,
        )
    script = SCRATCH / "fhirjs_bench.js"
    script.write_text(FHIRJS_SCRIPT)
    bench = run_node(script, {"resources": resources, "repeat": repeat}, str(SCRATCH))
    return float(bench["seconds"]), int(bench["rejected"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--install-fhirjs", action="store_true")
    args = parser.parse_args()

    resources = make_resources(args.count)
    n = len(resources)
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    start = time.perf_counter()
    validator = default_validator()
    for r in resources[:50]:
        validator.validate(r)  # compile the plans and expand the value sets once
    warm = time.perf_counter() - start

    rows: list[tuple[str, int, float, int]] = []
    base = time_ours(resources, True, args.repeat)
    rows.append(("ours base-only", n, base[0], base[1]))
    full = time_ours(resources, False, args.repeat)
    rows.append(("ours base+profile", n, full[0], full[1]))
    bundles = make_bundles(resources, 20)
    in_bundles = time_ours(bundles, False, args.repeat)
    rows.append(("ours base+profile, in transaction Bundles of 20", n, *in_bundles[:2]))
    obs_base = time_ours(observations, True, args.repeat)
    rows.append(("ours base-only, Observations only", len(observations), *obs_base[:2]))
    obs = time_ours(observations, False, args.repeat)
    rows.append(("ours base+profile, Observations only", len(observations), *obs[:2]))
    medplum = fhirjs = None
    if not args.no_peers:
        medplum = time_medplum(resources, args.repeat)
        if medplum is not None:
            rows.append(("Medplum 4.5.2 validateResource (base)", n, medplum[0], medplum[1]))
        fhirjs = time_fhirjs(resources, args.repeat, args.install_fhirjs)
        if fhirjs is not None:
            rows.append(("FHIR.js 4.12.0 validate (base)", n, fhirjs[0], fhirjs[1]))

    print(
        f"{n} resources ({len(observations)} Observations); warm-up (load + compile): {warm:.2f} s"
    )
    evaluations = validator.checker.invariants.evaluations
    runs = 4 * args.repeat * n  # about: the four timed passes above, repeated
    print(
        f"fhirpathpy evaluations: {evaluations} in ~{runs} validations "
        f"({evaluations / runs:.4f} per resource; the other invariants are native or guarded)"
    )
    print(f"{'validator':44} {'resources/s':>12} {'seconds':>8} {'rejected':>9}")
    for name, count, seconds, rejected in rows:
        print(f"{name:44} {count / seconds:12,.0f} {seconds:8.2f} {rejected:9}")
    if medplum is not None:
        missed = medplum[2] - full[2]
        print(
            f"Medplum rejects {medplum[1]}, we reject {full[1]}; "
            f"rejected by Medplum but not by us: {len(missed)}"
        )
    rate_full = n / full[0]
    for label, peer in (("Medplum", medplum), ("FHIR.js", fhirjs)):
        if peer is not None:
            peer_rate = n / peer[0]
            print(
                f"ratio ours/{label}: base-only {n / base[0] / peer_rate:.2f}x, "
                f"base+profile {rate_full / peer_rate:.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
