"""Benchmark of the ISCN parser: strings/s, and acceptance on a generated real-world corpus.

Run: ``.venv/bin/python benchmarks/iscn.py [--n 50000] [--seed 4]``.  The corpus is the one the
tests check (``tests/iscn/corpus.py``): valid strings as reports write them (ISCN 2020 chapters 3,
8, 9, 11, 13): single and multi-clone karyotypes, hyperdiploid gains, the six fusions in t() and
der() forms, breakpoint-less rearrangements, ``-`` for ``~``, ``or`` alternatives, Unicode and
full-width punctuation, sidelines, composite karyotypes and FISH results.  It prints

* acceptance: the share of these valid strings accepted, and of those whose fusions are exactly
  the ones written (by class);
* partial results: with one unreadable abnormality added to each karyotype, the share whose
  fusions are still all recognised (marked partial);
* speed: strings/s of parse and analyse in process CPU time, timed in turns with a baseline
  (one ``re.fullmatch`` tokenisation pass over the same strings, ``benchmarks/_timing.py``), so
  the ratio is comparable across machines and runs.

``--kinds canonical,fish`` restricts the corpus to some classes (e.g. the ones an older parser
also accepts, to compare speed on the same work).
"""

from __future__ import annotations

import argparse
import random
import re
from collections import Counter
from collections.abc import Callable

from adapter.iscn import analyse, load_knowledge, parse
from benchmarks._timing import bare_and_mapped
from tests.iscn.corpus import Sample, damaged, generate

TOKENS = re.compile(r"(?:[0-9]+|[A-Za-z']+|[(),;\[\]/.~+\-?<>: ])+")


def timed(label: str, work: Callable[[str], object], corpus: list[str]) -> float:
    """Time ``work`` over the corpus in turns with the baseline; print both; the ratio."""
    t = bare_and_mapped(
        lambda: [TOKENS.fullmatch(x) for x in corpus], lambda: [work(x) for x in corpus]
    )
    print(
        f"{label:<30} {len(corpus) / t.mapped:10,.0f} strings/s  baseline "
        f"{len(corpus) / t.bare:10,.0f} strings/s  ratio 1 : {t.mapped / t.bare:.1f}"
        f"  ({t.spread()})"
    )
    return t.mapped / t.bare


def acceptance(samples: list[Sample]) -> None:
    """Print the share of valid strings accepted, and with exactly their fusions, per class."""
    knowledge = load_knowledge()
    accepted: Counter[str] = Counter()
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for s in samples:
        a = analyse(s.text, knowledge)
        total[s.kind] += 1
        if a.result.ok:
            accepted[s.kind] += 1
            right[s.kind] += frozenset(a.fusions) == s.fusions
    n = len(samples)
    print(
        f"acceptance of valid strings: {sum(accepted.values()) / n:.1%} accepted, "
        f"{sum(right.values()) / n:.1%} with exactly their fusions"
    )
    for kind in sorted(total):
        print(
            f"  {kind:<16} {total[kind]:>6,}  accepted {accepted[kind] / total[kind]:6.1%}"
            f"  fusions right {right[kind] / total[kind]:6.1%}"
        )


def partial_results(samples: list[Sample], seed: int) -> None:
    """Print how often all fusions survive one unreadable abnormality (partial results)."""
    knowledge = load_knowledge()
    rng = random.Random(seed)
    hurt = [d for d in (damaged(rng, s) for s in samples) if d.kind.startswith("damaged")]
    kept = sum(frozenset(analyse(d.text, knowledge).fusions) == d.fusions for d in hurt)
    with_fusion = [d for d in hurt if d.fusions]
    found = sum(frozenset(analyse(d.text, knowledge).fusions) == d.fusions for d in with_fusion)
    print(
        f"partial results: {len(hurt):,} karyotypes with one unreadable abnormality: "
        f"fusions exactly kept in {kept / len(hurt):.1%}; "
        f"of the {len(with_fusion):,} with a fusion, found in {found / len(with_fusion):.1%}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--kinds", help="comma-separated classes to keep (default: all)")
    args = ap.parse_args()
    samples = generate(args.n, args.seed)
    if args.kinds:
        samples = [s for s in samples if s.kind in args.kinds.split(",")]
    corpus = [s.text for s in samples]
    knowledge = load_knowledge()
    chars = sum(map(len, corpus))
    print(f"corpus: {len(corpus):,} valid strings, {chars / len(corpus):.0f} chars on average")
    acceptance(samples)
    partial_results(samples[: min(len(samples), 10_000)], args.seed)
    timed("parse (normalise + parse)", parse, corpus)
    timed("analyse (+ recognise fusions)", lambda t: analyse(t, knowledge), corpus)


if __name__ == "__main__":
    main()
