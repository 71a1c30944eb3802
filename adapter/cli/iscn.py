"""``ball-fhir iscn "STRING" [--format text|json]``: check one ISCN string.

Prints the parse tree, the warnings and the recognised rearrangements (ISCN 2020/2024 karyotype
and FISH grammar, ``adapter.iscn``), or every error with a caret under its position and what could
still be read of the string (marked partial).  Exit codes: 0 valid, 1 invalid.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from adapter.cli.output import add_format
from adapter.iscn import Analysis, IscnError, analyse, load_knowledge
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
    add_format(parser, "readable tree or JSON (default: text)")
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
    out["warnings"] = [
        {"position": w.position, "rule": w.rule, "message": w.message} for w in result.warnings
    ]
    if result.error is not None:
        out["error"] = _error_json(result.error)
        out["errors"] = [_error_json(e) for e in result.errors]
        out["partial"] = analysis.partial
        if result.partial is not None:
            out["partialTree"] = to_json(result.partial)
            out["rearrangements"] = to_json(analysis.rearrangements)
        return out
    out["tree"] = to_json(result.tree)
    out["rearrangements"] = to_json(analysis.rearrangements)
    return out


def _error_json(error: IscnError) -> dict[str, Any]:
    return {
        "position": error.position,
        "expected": error.expected,
        "found": error.found,
        "message": error.message,
    }


def render_text(analysis: Analysis) -> str:
    result = analysis.result
    lines = [f"input:      {result.original}"]
    if result.normalisations:
        lines.append(f"normalised: {result.text}")
        lines.extend(f"  - {n.describe()}" for n in result.normalisations)
    for w in result.warnings:
        lines.append(f"warning at position {w.position} ({w.rule}): {w.message}")
    if result.error is not None:
        for err in result.errors:
            lines.append(
                f"INVALID at position {err.position}: expected {err.expected}, found {err.found}"
            )
            lines.append(f"  {result.text}")
            lines.append("  " + " " * err.position + "^")
        if not analysis.partial:
            return "\n".join(lines) + "\n"
        lines.append("partial: what could be read of the rest of the string")
        lines.extend("  " + line for line in tree_lines(result.partial, result.text))
    else:
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
        where += " (partial)" if r.partial else ""
        where += f" ({r.readings} readings)" if r.readings > 1 else ""
        name = r.fusion or ("break-apart" if r.kind == "fish-break-apart" else "unnamed")
        lines.append(f"  {name}: {r.kind} {r.iscn}  [{where}]")
        for p in r.partners:
            lines.append(f"      {p.symbol} {p.hgnc} at {p.chromosome}{p.band}")
        if r.fusion and r.evidence != "breakpoints":
            lines.append(f"      evidence: {r.evidence}")
        if r.reciprocal_of:
            lines.append(f"      reciprocal derivative of {r.reciprocal_of}")
        lines.extend(f"      note: {n}" for n in r.notes)
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
