"""Benchmark of the ISCN parser: strings/s on a generated corpus of 50,000 strings.

Run: ``.venv/bin/python benchmarks/iscn.py [--n 50000] [--seed 4]``.  The corpus mixes the shapes
of paediatric ALL reports (ISCN 2020 chapters 8, 9, 11, 13): single and multi-clone karyotypes,
hyperdiploid gains, the six fusions in t() and der() forms, unknown translocations, composite
karyotypes, FISH results and about 5% malformed strings.  The baseline in the same run is a
single ``re.fullmatch`` tokenisation pass over the same strings, so the ratio is comparable across
machines.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections.abc import Callable

from adapter.iscn import analyse, load_knowledge, parse

FUSIONS = [
    "t(12;21)(p13;q22)",
    "t(4;11)(q21;q23)",
    "t(1;19)(q23;p13.3)",
    "der(19)t(1;19)(q23;p13)",
    "t(11;19)(q23;p13.3)",
    "t(9;11)(p22;q23)",
    "t(9;22)(q34;q11.2)",
    "der(22)t(9;22)(q34;q11.2)",
    "t(4;11;19)(q21;q23;p13)",
]
OTHER = [
    "del(9)(p21p13)",
    "del(12)(p12p13)",
    "add(19)(p13)",
    "i(17)(q10)",
    "dic(9;20)(p13;q11.2)",
    "t(3;5)(q25;q35)",
    "dup(1)(q21q32)",
    "inv(16)(p13.1q22)",
    "del(6)(q21q25)",
    "+mar",
    "+2mar",
    "-7",
    "+X",
    "+der(21)t(12;21)(p13;q22)",
]
HYPER = ["+X", "+4", "+6", "+10", "+14", "+17", "+18", "+21", "+21"]
FISH = [
    "nuc ish(ETV6,RUNX1)x3(ETV6 con RUNX1x1)[180/200]",
    "nuc ish(KMT2Ax2)(5'KMT2A sep 3'KMT2Ax1)[150/200]",
    "nuc ish(ABL1,BCR)x3(ABL1 con BCRx2)[100/200]",
    "nuc ish(CEP4,CEP10)x3[160/200]",
    "nuc ish 12p13(ETV6x2),21q22(RUNX1x3)[55/200]",
]
NOISE = ["ISCN: ", "", "", "", ""]


def clone(rng: random.Random, sex: str, index: int) -> str:
    if index and rng.random() < 0.5:
        return f"{rng.randint(46, 48)},idem,{rng.choice(OTHER)}[{rng.randint(1, 10)}]"
    abn: list[str] = []
    if rng.random() < 0.3:
        abn.extend(HYPER[: rng.randint(5, 9)])
    if rng.random() < 0.6:
        abn.append(rng.choice(FUSIONS))
    abn.extend(rng.choice(OTHER) for _ in range(rng.randint(0, 3)))
    modal = str(46 + sum(a.startswith("+") for a in abn) - sum(a.startswith("-") for a in abn))
    cells = f"[cp{rng.randint(2, 20)}]" if rng.random() < 0.1 else f"[{rng.randint(2, 20)}]"
    return ",".join([modal, sex, *abn]) + cells


def generate(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(n):
        r = rng.random()
        if r < 0.1:
            text = rng.choice(FISH)
        else:
            sex = rng.choice(["XX", "XY"])
            clones = [clone(rng, sex, k) for k in range(rng.randint(1, 3))]
            clones.append(f"46,{sex}[{rng.randint(1, 10)}]")
            text = "/".join(clones)
            if rng.random() < 0.2:
                text += "." + rng.choice(FISH)
        text = rng.choice(NOISE) + text
        if rng.random() < 0.05:  # malformed: drop one character
            cut = rng.randrange(len(text))
            text = text[:cut] + text[cut + 1 :]
        out.append(text)
    return out


TOKENS = re.compile(r"(?:[0-9]+|[A-Za-z']+|[(),;\[\]/.~+\-?<>: ])+")


def timed(label: str, fn: Callable[[str], object], corpus: list[str]) -> float:
    start = time.perf_counter()
    for text in corpus:
        fn(text)
    elapsed = time.perf_counter() - start
    rate = len(corpus) / elapsed
    print(f"{label:<34} {elapsed:8.3f} s  {rate:12,.0f} strings/s")
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=4)
    args = ap.parse_args()
    corpus = generate(args.n, args.seed)
    knowledge = load_knowledge()
    valid = sum(parse(t).ok for t in corpus)
    fusions = sum(bool(analyse(t, knowledge).fusions) for t in corpus)
    chars = sum(map(len, corpus))
    print(
        f"corpus: {len(corpus):,} strings, {chars / len(corpus):.0f} chars on average, "
        f"{valid:,} valid, {fusions:,} with a named fusion"
    )
    baseline = timed("baseline re.fullmatch tokenise", TOKENS.fullmatch, corpus)
    parse_rate = timed("parse (normalise + parse)", parse, corpus)
    full_rate = timed("analyse (+ recognise fusions)", lambda t: analyse(t, knowledge), corpus)
    print(f"parse   / baseline: 1 : {baseline / parse_rate:.1f}")
    print(f"analyse / baseline: 1 : {baseline / full_rate:.1f}")


if __name__ == "__main__":
    main()
