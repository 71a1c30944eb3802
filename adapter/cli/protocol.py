"""``ball-fhir evaluate`` and ``ball-fhir cohort``: the protocol logic on the command line.

Thin edge over :mod:`adapter.protocol`: reads files, loads the protocol content, renders.
Exit codes: 0 done; 1 evaluated, and at least one finding has severity ``error`` (evaluate);
2 usage error (unreadable input, unknown protocol: ``--protocol`` or a CarePlan naming a
PlanDefinition we do not have, broken content).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from adapter.cli.output import add_format, write_atomic
from adapter.datafiles import mappings_dir
from adapter.fhir import Resource
from adapter.iscn import Knowledge, load_knowledge
from adapter.issues import UsageError
from adapter.protocol import evaluate, load_protocols_from_folder
from adapter.protocol.cohort import (
    outcomes_table,
    patients_table,
    render_csv_rows,
    render_text,
    strata_table,
)
from adapter.protocol.content import Protocol, default_content_dir
from adapter.protocol.model import PatientEvaluation
from adapter.report.cohort_html import render_cohort_report
from adapter.report.course_html import course_html_files
from adapter.report.survival import cohort_survival


def gene_knowledge() -> Knowledge:
    """The gene loci and named fusions the protocol names fusions with: the same
    ``mappings/iscn/gene-loci.yaml`` (``$BALL_FHIR_MAPPINGS``) the cytogenetics mapping uses."""
    path = mappings_dir() / "iscn" / "gene-loci.yaml"
    try:
        return load_knowledge(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: {exc}") from None


def load_content(folder: str | None) -> dict[str, Protocol]:
    """The protocol content of a folder (default: the checkout's), carrying the gene knowledge."""
    return load_protocols_from_folder(
        Path(folder) if folder else default_content_dir(), gene_knowledge()
    )


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from None


def iter_bundles(paths: Iterable[str]) -> Iterator[Resource]:
    """Bundles from ``.json`` files (a Bundle each), folders of them, and ``.ndjson`` files.

    An NDJSON line holding a Bundle is one bundle; all other NDJSON lines (FHIR bulk-data
    resources, any type, any file) are gathered into one collection Bundle at the end.
    """
    loose: list[Resource] = []
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files += sorted(p.glob("*.json")) + sorted(p.glob("*.ndjson"))
        elif p.exists():
            files.append(p)
        else:
            raise UsageError(f"no such file or folder: {raw}")
    for f in files:
        if f.suffix == ".ndjson":
            with f.open(encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        res = json.loads(line)
                    except json.JSONDecodeError:
                        raise UsageError(f"{f}:{lineno}: not JSON") from None
                    if res.get("resourceType") == "Bundle":
                        yield res
                    else:
                        loose.append(res)
        else:
            doc = read_json(str(f))
            if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
                raise UsageError(f"{f}: not a FHIR Bundle")
            yield doc
    if loose:
        yield {"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": r} for r in loose
        ]}  # fmt: skip


def _render_text(evaluations: list[PatientEvaluation], as_of: dt.date) -> str:
    out = io.StringIO()
    for ev in evaluations:
        out.write(f"{ev.patient}  protocol {ev.protocol}  as of {as_of}\n")
        for f in ev.ordered():
            out.write(f"  [{f.severity}] {f.code}: {f.message}\n")
            out.write(f"      source: {f.source}")
            if f.evidence:
                out.write(f"; evidence: {', '.join(f.evidence)}")
            out.write("\n")
            if f.parameters:
                params = ", ".join(f"{k}={v}" for k, v in f.parameters.items())
                out.write(f"      parameters: {params}\n")
    return out.getvalue()


def cmd_evaluate(args: argparse.Namespace) -> int:
    try:
        protocols = load_content(args.content)
        bundle = read_json(args.bundle)
        if not isinstance(bundle, dict):
            raise UsageError(f"{args.bundle}: not a FHIR Bundle")
        as_of = args.as_of or dt.date.today()
        evaluations = evaluate(bundle, protocols, as_of, args.protocol, args.apheresis_date)
    except UsageError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if args.html:
        try:
            pages = course_html_files(bundle, protocols, as_of, args.protocol, Path(args.html))
        except UsageError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 2
        write_pages(pages)
    if args.format == "json":
        doc = {"asOf": as_of.isoformat(), "patients": [e.to_json() for e in evaluations]}
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(_render_text(evaluations, as_of))
    if any(e.first("unknown-protocol") for e in evaluations):
        sys.stderr.write("error: a patient's protocol is not loaded (unknown-protocol finding)\n")
        return 2
    has_error = any(f.severity == "error" for e in evaluations for f in e.findings)
    return 1 if has_error else 0


def write_pages(pages: dict[Path, str]) -> None:
    """Write HTML pages, saying where on stderr."""
    for path, text in pages.items():
        write_atomic(path, text.encode("utf-8"))
        sys.stderr.write(f"wrote {path}\n")


def evaluate_paths(
    paths: Iterable[str], protocols: dict[str, Protocol], as_of: dt.date, protocol: str | None
) -> list[PatientEvaluation]:
    out: list[PatientEvaluation] = []
    for bundle in iter_bundles(paths):
        out += evaluate(bundle, protocols, as_of, protocol)
    return out


def cmd_cohort(args: argparse.Namespace) -> int:
    survival = None
    try:
        protocols = load_content(args.content)
        as_of = args.as_of or dt.date.today()
        if args.table == "survival" or args.html:
            survival = cohort_survival(iter_bundles(args.paths), protocols, as_of, args.protocol)
            evaluations = survival.evaluations
        else:
            evaluations = evaluate_paths(args.paths, protocols, as_of, args.protocol)
        unknown = [e.patient for e in evaluations if e.first("unknown-protocol")]
        if unknown:
            raise UsageError(f"protocol not loaded for {', '.join(unknown)}")
    except UsageError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if args.html and survival is not None:
        write_pages({Path(args.html): render_cohort_report(survival, as_of)})
    if args.table == "survival" and survival is not None:
        table = survival.table()
    else:
        tables = {"patients": patients_table, "strata": strata_table, "outcomes": outcomes_table}
        table = tables[args.table](evaluations)
    if args.format == "json":
        sys.stdout.write(json.dumps(table.to_json(), indent=2, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(render_csv_rows(table))
        sys.stdout.write(buf.getvalue())
    else:
        sys.stdout.write(render_text(table))
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", type=_date, help="evaluation date YYYY-MM-DD (default: today)")
    p.add_argument(
        "--protocol",
        help="protocol id (all-rez-2016, all-rez-mb-2014, all-rez-2016-blokhin); default: "
        "the one the patient's CarePlan instantiates, else all-rez-2016",
    )
    p.add_argument("--content", help="folder of the PlanDefinition/ActivityDefinition content")


def register(subparsers: Any) -> None:
    """Add ``evaluate`` and ``cohort`` to the ``ball-fhir`` command line."""
    ev = subparsers.add_parser(
        "evaluate", help="protocol findings per patient of a Bundle (protocol.md rules 1-8)"
    )
    ev.add_argument("bundle", metavar="BUNDLE", help="FHIR Bundle JSON file, or - for stdin")
    _common(ev)
    ev.add_argument(
        "--apheresis-date",
        type=_date,
        help="date for the apheresis check (default: the date of each CD3+ apheresis Procedure "
        "of the bundle, else the as-of date)",
    )
    add_format(ev, "findings as readable lines or as JSON (default: text)")
    ev.add_argument(
        "--html",
        metavar="OUT.html",
        help="also write the patient course page (self-contained HTML); several patients: "
        "OUT-<patient>.html each, or course-<patient>.html when OUT is a folder",
    )
    ev.set_defaults(handler=cmd_evaluate)
    co = subparsers.add_parser(
        "cohort", help="Table 1 / 2 / 3 counts over many patients (protocol.md section 8)"
    )
    co.add_argument("paths", metavar="PATH", nargs="+", help="Bundle .json, .ndjson, or folders")
    _common(co)
    co.add_argument(
        "--table",
        choices=("patients", "strata", "outcomes", "survival"),
        default="patients",
        help="Table 1 (patients), Table 2 (risk strata by protocol group), Table 3 (outcomes), "
        "survival (Kaplan-Meier OS/EFS and CIR, 3-year figures)",
    )
    co.add_argument(
        "--html",
        metavar="OUT.html",
        help="also write the cohort report: Tables 1, 2 and 3, Kaplan-Meier OS/EFS and CIR curves "
        "with numbers at risk (self-contained HTML)",
    )
    add_format(co, "output format (default: text)", ("text", "json", "csv"))
    co.set_defaults(handler=cmd_cohort)
