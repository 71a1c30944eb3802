"""``ball-fhir run [MANIFEST]``: the main job over the bundled examples.

1. maps every source file listed in the manifest (``examples/manifest.yaml``) with its site and
   writes ``<job>.bundle.json`` and ``<job>.outcome.json`` (every issue, rejected records kept);
2. validates every Bundle against base R4 and our profiles (``adapter.validation``);
3. joins the mapped resources into one collection Bundle (``all.bundle.json``) and runs the
   protocol logic on it per patient (``evaluation.json``) and writes each patient's course page
   (``course-<patient>.html``) and the cohort report (``cohort.html``, :mod:`adapter.report`),
then prints one summary: records read / mapped / rejected and validation errors per source, and
the protocol findings per patient.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from adapter.cli.mapcmd import SOURCE_KINDS, bundle_json, map_file, read_bytes
from adapter.cli.output import write_atomic, write_json
from adapter.cli.protocol import load_content
from adapter.datafiles import examples_dir
from adapter.fhir import Resource
from adapter.issues import UsageError, to_operation_outcome
from adapter.mapping.bundle import MapResult
from adapter.protocol import evaluate
from adapter.report.cohort_html import render_cohort_report
from adapter.report.course_html import course_html_files
from adapter.report.survival import cohort_survival
from adapter.sources.site import load_site
from adapter.validation import default_validator

_JOB_KEYS = frozenset({"name", "source", "input", "site", "context"})


@dataclass(frozen=True)
class Job:
    name: str
    source: str
    input: Path
    site: str
    #: names of earlier jobs whose Bundles are this job's context
    context: tuple[str, ...] = ()


def load_manifest(path: Path) -> list[Job]:
    """``jobs: [{name, source, input, site, context}]``.

    Paths are relative to the manifest; ``site`` is a site name or a file beside the manifest;
    ``context`` (optional) names earlier jobs whose Bundles are the job's context Bundles
    (cross-file checks, adapter.mapping.treatment).
    """
    try:
        data = yaml.safe_load(read_bytes(path))
        jobs: list[Job] = []
        for i, raw in enumerate(data["jobs"]):
            where = f"{path}: jobs[{i}]"
            unknown = set(raw) - _JOB_KEYS
            if unknown:
                raise UsageError(f"{where}: unknown key(s) {sorted(unknown)}")
            if raw["source"] not in SOURCE_KINDS:
                raise UsageError(f"{where}.source: unknown source {raw['source']!r}")
            earlier = {j.name for j in jobs}
            for name in raw.get("context", ()):
                if name not in earlier:
                    raise UsageError(f"{where}.context: {name!r} is not the name of an earlier job")
            if raw.get("context") and SOURCE_KINDS[raw["source"]].with_context is None:
                raise UsageError(f"{where}.context: {raw['source']!r} takes no context")
            site = raw.get("site", "default")
            site_path = path.parent / site
            jobs.append(
                Job(
                    raw["name"],
                    raw["source"],
                    path.parent / raw["input"],
                    str(site_path) if site_path.is_file() else site,
                    tuple(raw.get("context", ())),
                )
            )
    except (KeyError, TypeError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: not a manifest of jobs: {exc}") from None
    return jobs


def map_job(job: Job, out: Path) -> MapResult:
    """Map one job, with the Bundles its ``context`` names (already written to ``out`` by the
    jobs before it), and write its Bundle to ``out/<job>.bundle.json``."""
    context = [out / f"{name}.bundle.json" for name in job.context]
    result = map_file(job.source, job.input, load_site(job.site), None, context)
    write_atomic(out / f"{job.name}.bundle.json", bundle_json(result.bundle))
    return result


def combine(bundles: list[Resource]) -> Resource:
    """One collection Bundle of every resource mapped (same fullUrl = same resource, kept once)."""
    entries: dict[str, dict[str, Any]] = {}
    for bundle in bundles:
        for entry in bundle["entry"]:
            entries.setdefault(
                entry["fullUrl"], {"fullUrl": entry["fullUrl"], "resource": entry["resource"]}
            )
    return {"resourceType": "Bundle", "type": "collection", "entry": list(entries.values())}


def _patient_names(bundle: Resource) -> dict[str, str]:
    """fullUrl -> the patient's identifier value, for the summary."""
    return {
        e["fullUrl"]: e["resource"]["identifier"][0]["value"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Patient" and e["resource"].get("identifier")
    }


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n" for r in rows
    )


def cmd_run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    jobs = load_manifest(Path(args.manifest) if args.manifest else examples_dir() / "manifest.yaml")
    out.mkdir(parents=True, exist_ok=True)
    validator = default_validator()
    rows: list[tuple[str, ...]] = [
        ("job", "source", "read", "mapped", "rejected", "entries", "validation errors")
    ]
    bundles: list[Resource] = []
    problems = Counter[str]()
    for job in jobs:
        result = map_job(job, out)
        write_json(out / f"{job.name}.outcome.json", to_operation_outcome(result.issues))
        errors = sum(
            1 for i in validator.validate(result.bundle, infer_profiles=True) if i.is_error
        )
        problems["rejected records"] += result.rejected
        problems["validation errors"] += errors
        bundles.append(result.bundle)
        rows.append(
            (
                job.name,
                job.source,
                str(result.read),
                str(result.mapped),
                str(result.rejected),
                str(len(result.bundle["entry"])),
                str(errors),
            )
        )
    sys.stdout.write(f"ball-fhir main job: {len(jobs)} source files -> {out}/\n")
    sys.stdout.write(_table(rows))
    combined = combine(bundles)
    write_atomic(out / "all.bundle.json", bundle_json(combined))
    as_of = args.as_of or dt.date.today()
    protocols = load_content(None)
    evaluations = evaluate(combined, protocols, as_of)
    write_json(
        out / "evaluation.json",
        {"asOf": as_of.isoformat(), "patients": [e.to_json() for e in evaluations]},
    )
    pages = course_html_files(combined, protocols, as_of, None, out)
    survival = cohort_survival([combined], protocols, as_of)
    pages[out / "cohort.html"] = render_cohort_report(survival, as_of)
    for path, html in pages.items():
        write_atomic(path, html.encode("utf-8"))
    names = _patient_names(combined)
    sys.stdout.write(f"\nProtocol findings as of {as_of} ({len(evaluations)} patients):\n")
    for ev in evaluations:
        counts = Counter(f.severity for f in ev.ordered())
        shown = ", ".join(
            f"{counts[s]} {s}" for s in ("error", "warning", "information") if counts[s]
        )
        sys.stdout.write(f"  {names.get(ev.patient, ev.patient)} ({ev.protocol}): {shown}\n")
        problems["error findings"] += counts["error"]
        for finding in ev.ordered():  # clinical signals first, missing data last
            if finding.severity != "information" or args.verbose:
                sys.stdout.write(f"    [{finding.severity}] {finding.code}: {finding.message}\n")
    sys.stdout.write(
        f"\nBundles: {out}/<job>.bundle.json (all resources: {out}/all.bundle.json); issues and "
        f"rejected records: {out}/<job>.outcome.json; findings: {out}/evaluation.json; course "
        f"pages and cohort report: {', '.join(str(p) for p in pages)}\n"
    )
    if +problems:  # exit 1, as README says, and say why
        found = ", ".join(f"{n} {what}" for what, n in problems.items() if n)
        sys.stdout.write(f"Exit 1: the inputs had problems ({found}).\n")
        return 1
    return 0


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def register(commands: Any) -> None:
    """Add the ``run`` command."""
    run = commands.add_parser(
        "run", help="the main job: map, validate and evaluate every source of a manifest"
    )
    run.add_argument(
        "manifest",
        nargs="?",
        metavar="MANIFEST",
        help="a manifest of jobs (default: the bundled examples/manifest.yaml)",
    )
    run.add_argument("--out", default="out", help="output folder (default: out)")
    run.add_argument("--as-of", type=_date, help="evaluation date YYYY-MM-DD (default: today)")
    run.add_argument(
        "--verbose",
        action="store_true",
        help="list information findings too (default: warnings and errors)",
    )
    run.set_defaults(handler=cmd_run)
