"""Benchmark of the protocol engine: patients/s for ``evaluate`` and for ``cohort``.

Generates N synthetic patients (tests/protocol/synthetic.py, contract.md shapes, one Bundle of
~35 resources each), then times in the same run:

* baseline: ``json.loads`` of every serialized Bundle (the floor any evaluation pays);
* evaluate: ``json.loads`` + :func:`adapter.protocol.evaluate` per Bundle;
* cohort: the ``cohort`` command path over an NDJSON file of the Bundles (read, evaluate, Table 1
  and Table 3).

Run: ``.venv/bin/python -m benchmarks.protocol [--patients 10000]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import tempfile
import time
from pathlib import Path

from adapter.cli.protocol import evaluate_paths
from adapter.protocol import evaluate, load_protocols_from_folder
from adapter.protocol.cohort import outcomes_table, patients_table
from adapter.protocol.content import default_content_dir
from tests.protocol.synthetic import bundle_for, random_spec

AS_OF = dt.date(2026, 1, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    protocols = load_protocols_from_folder(default_content_dir())
    rng = random.Random(args.seed)
    texts = [json.dumps(bundle_for(random_spec(i, rng))) for i in range(args.patients)]
    n = len(texts)
    resources = sum(t.count('"resourceType"') for t in texts) - n
    print(f"{n} patients, {resources} resources ({resources / n:.1f} per patient)")

    t0 = time.perf_counter()
    for t in texts:
        json.loads(t)
    base = time.perf_counter() - t0
    print(f"baseline json.loads : {n / base:10.0f} patients/s  ({base:.2f} s)")

    t0 = time.perf_counter()
    findings = 0
    for t in texts:
        for ev in evaluate(json.loads(t), protocols, AS_OF):
            findings += len(ev.findings)
    ev_time = time.perf_counter() - t0
    print(
        f"evaluate            : {n / ev_time:10.0f} patients/s  ({ev_time:.2f} s, "
        f"{findings / n:.1f} findings/patient, {ev_time / base:.1f}x baseline)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cohort.ndjson"
        path.write_text("\n".join(texts) + "\n", encoding="utf-8")
        t0 = time.perf_counter()
        evaluations = evaluate_paths([str(path)], protocols, AS_OF, None)
        patients_table(evaluations)
        outcomes_table(evaluations)
        co_time = time.perf_counter() - t0
    print(
        f"cohort (both tables): {n / co_time:10.0f} patients/s  ({co_time:.2f} s, "
        f"{co_time / base:.1f}x baseline)"
    )


if __name__ == "__main__":
    main()
