"""``ball-fhir iscn "STRING" [--format text|json]``: check one ISCN string.

Prints the parse tree and the recognised rearrangements (ISCN 2020/2024 karyotype and FISH
grammar, ``adapter.iscn``), or the error with a caret under its position.  Exit codes: 0 valid,
1 invalid.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from adapter.iscn import Analysis, analyse, load_knowledge
from adapter.iscn.export import to_json, tree_lines

EXIT_VALID, EXIT_INVALID = 0, 1


def register(commands: Any) -> None:
    """Add the ``iscn`` command to the ``ball-fhir`` sub-command parsers."""
    parser = commands.add_parser(
        "iscn",
        help="parse an ISCN karyotype/FISH string and show its tree and rearrangements",
        description=(
            "Check one ISCN 2020/2024 string: print the parse tree and the recognised "
            "translocations and fusions, or the error with its position. Exit 0 valid, 1 invalid."
        ),
    )
    parser.add_argument("string", metavar="STRING", help="the ISCN string (quote it)")
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="readable tree or JSON (default: text)",
    )
    parser.set_defaults(handler=run_iscn)


def run_iscn(args: argparse.Namespace) -> int:
    analysis = analyse(str(args.string), load_knowledge())
    if args.format == "json":
        sys.stdout.write(json.dumps(analysis_json(analysis), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_text(analysis))
    return EXIT_VALID if analysis.result.ok else EXIT_INVALID


def analysis_json(analysis: Analysis) -> dict[str, Any]:
    result = analysis.result
    out: dict[str, Any] = {
        "valid": result.ok,
        "input": result.original,
        "normalised": result.text,
        "normalisations": [
            {"kind": n.kind, "before": n.before, "after": n.after} for n in result.normalisations
        ],
    }
    if result.error is not None:
        out["error"] = {
            "position": result.error.position,
            "expected": result.error.expected,
            "found": result.error.found,
            "message": result.error.message,
        }
        return out
    out["tree"] = to_json(result.tree)
    out["rearrangements"] = to_json(analysis.rearrangements)
    return out


def render_text(analysis: Analysis) -> str:
    result = analysis.result
    lines = [f"input:      {result.original}"]
    if result.normalisations:
        lines.append(f"normalised: {result.text}")
        lines.extend(f"  - {n.describe()}" for n in result.normalisations)
    if result.error is not None:
        err = result.error
        lines.append(
            f"INVALID at position {err.position}: expected {err.expected}, found {err.found}"
        )
        lines.append(f"  {result.text}")
        lines.append("  " + " " * err.position + "^")
        return "\n".join(lines) + "\n"
    lines.append("valid ISCN")
    lines.append("tree:")
    lines.extend("  " + line for line in tree_lines(result.tree, result.text))
    lines.append("rearrangements:")
    if not analysis.rearrangements:
        lines.append("  (none)")
    for r in analysis.rearrangements:
        where = f"part {r.part + 1}, clone {r.clone + 1}"
        where += " (inherited)" if r.inherited else ""
        where += " (questionable)" if r.uncertain else ""
        name = r.fusion or ("break-apart" if r.kind == "fish-break-apart" else "unnamed")
        lines.append(f"  {name}: {r.kind} {r.iscn}  [{where}]")
        for p in r.partners:
            lines.append(f"      {p.symbol} {p.hgnc} at {p.chromosome}{p.band}")
        for b in r.breakpoints:
            lines.append(f"      breakpoint {b.chromosome}{''.join(b.bands)}")
        if r.probes:
            lines.append(f"      probes {', '.join(r.probes)}")
        if r.cells is not None:
            total = f"/{r.cells[1]}" if r.cells[1] is not None else ""
            lines.append(f"      cells [{r.cells[0]}{total}]")
        for other in r.also:
            lines.append(f"      also written as {other}")
    return "\n".join(lines) + "\n"
