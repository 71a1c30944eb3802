"""``ball-fhir map KIND INPUT --split patient|N -o DIR`` and ``--ndjson DIR``: the streaming map.

Instead of one transaction Bundle for the whole file:

- ``--split patient``: one transaction Bundle per patient (its Patient, the resources about it,
  their Provenance);
- ``--split N``: Bundles of at most N entries (the split policy of ``adapter.delivery.split``:
  each Bundle complete on its own, the Patient repeated where referred to);
- ``--ndjson DIR``: one NDJSON file per resource type (``DIR/Observation.ndjson``: the FHIR Bulk
  Data export layout, https://hl7.org/fhir/uv/bulkdata/export.html), references made literal.

A lab export is mapped in parts (``adapter.sources.partition``: a patient's and a specimen's
rows stay together), one part at a time, and each part's Bundles are written before the next
part is mapped: memory follows the part, not the file (1,000,000 rows in a few hundred MB,
benchmarks/ingest.py).  The other kinds are mapped whole, then cut.  Rejected records and issues
are reported as by ``map`` (``--rejects``), ordered by row.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from adapter.cli.mapcmd import lab_context, map_file, paused_gc, recorded_time
from adapter.cli.output import write_atomic, write_json
from adapter.delivery.split import literal_json, patient_bundles, split_bundle
from adapter.fhir import Resource
from adapter.issues import Issue, UsageError, to_operation_outcome
from adapter.mapping.bundle import MapResult, Part, sha256_uri
from adapter.mapping.lab import FIELDS as LAB_FIELDS
from adapter.mapping.lab import map_lab
from adapter.mapping.rows import section_of
from adapter.sources.partition import partition_file
from adapter.sources.site import SiteConfig, load_site

#: bytes of the file per part (a module setting, so tests can cut small files into parts)
PART_BYTES = 1 << 20
_ROW = re.compile(r":row (\d+)")


def split_value(text: str) -> str | int:
    """``patient`` or a number of entries (at least 3)."""
    if text == "patient":
        return text
    if text.isdigit() and int(text) >= 3:
        return int(text)
    raise argparse.ArgumentTypeError(f"--split takes 'patient' or a number >= 3, not {text!r}")


def mapped_parts(kind: str, path: Path, site: SiteConfig) -> Iterator[MapResult]:
    """The mapping results of a file, part by part (lab) or whole (the other kinds)."""
    if kind != "lab":
        yield map_file(kind, path, site)
        return
    section = section_of(site, "lab")
    context = lab_context(site)
    recorded = recorded_time(path)
    folder = Path(tempfile.mkdtemp(prefix="ball-fhir-parts-"))
    try:
        partition = partition_file(
            path, site, section, LAB_FIELDS, "patient_id", "specimen_id", folder, PART_BYTES
        )
        digest = sha256_uri(partition.sha256, hashed=True)
        count = len(partition.parts)
        for part in partition.parts:
            data = part.path.read_bytes()
            key = Part(f"part {part.index + 1} of {count}", digest, part.numbers)
            yield map_lab(data, path.name, site, context, recorded, None, key)
            part.path.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class BundleFiles:
    """Writes ``DIR/<stem>.<n>.bundle.json``, one per cut Bundle."""

    folder: Path
    stem: str
    split: str | int
    written: int = 0

    def write(self, bundle: Resource) -> None:
        if not bundle["entry"]:
            return
        if self.split == "patient":
            chunks: Iterator[bytes] = patient_bundles(bundle)
        else:
            chunks = (
                orjson.dumps(c, option=orjson.OPT_APPEND_NEWLINE)
                for c in split_bundle(bundle, int(self.split))
            )
        for data in chunks:
            self.written += 1
            write_atomic(self.folder / f"{self.stem}.{self.written:06d}.bundle.json", data)

    def close(self) -> str:
        return f"{self.written} Bundles in {self.folder}/"


@dataclass
class NdjsonFiles:
    """Writes ``DIR/<Type>.ndjson``: every resource once (a Patient repeated by several parts
    is written once). Each file is written as ``.<Type>.ndjson.part`` and renamed into place on
    :meth:`close`, so an earlier complete file survives a failed run."""

    folder: Path
    files: dict[str, IO[bytes]] = field(default_factory=dict)
    patients: set[str] = field(default_factory=set)
    written: int = 0

    def write(self, bundle: Resource) -> None:
        for rtype, rid, data in literal_json(bundle):
            if rtype == "Patient":
                if rid in self.patients:
                    continue
                self.patients.add(rid)
            out = self.files.get(rtype)
            if out is None:
                out = self.files[rtype] = (self.folder / f".{rtype}.ndjson.part").open("wb")
            out.write(data)
            self.written += 1

    def close(self) -> str:
        for rtype, out in self.files.items():
            out.close()
            os.replace(self.folder / f".{rtype}.ndjson.part", self.folder / f"{rtype}.ndjson")
        return f"{self.written} resources in {len(self.files)} NDJSON files in {self.folder}/"


def _row(issue: Issue) -> int:
    found = _ROW.search(issue.location[0]) if issue.location else None
    return int(found.group(1)) if found else 0


def cmd_map_split(args: argparse.Namespace) -> int:
    """``map`` with ``--split`` or ``--ndjson``."""
    site = load_site(args.site)
    path = Path(args.input)
    if getattr(args, "context", None):
        raise UsageError("--split and --ndjson take no --context")
    target = Path(args.ndjson or args.output or "")
    if not (args.ndjson or args.output):
        raise UsageError("--split writes many Bundles: give the folder with -o DIR")
    target.mkdir(parents=True, exist_ok=True)
    sink: Any = NdjsonFiles(target) if args.ndjson else BundleFiles(target, path.stem, args.split)
    issues: list[Issue] = []
    read = rejected = 0
    # the Bundles are trees: nothing for the cyclic collector (mapcmd.paused_gc)
    with paused_gc():
        try:
            for number, result in enumerate(mapped_parts(args.kind, path, site)):
                sink.write(result.bundle)
                read += result.read
                rejected += result.rejected
                # the header's issues (unmapped columns) come with every part: keep the first's
                issues.extend(i for i in result.issues if number == 0 or _row(i) != 1)
                # the part's Bundle is freed; what little the part left in cycles (exceptions
                # caught while checking values) is collected now: only the youngest generation,
                # the objects made since the last part
                del result
                gc.collect(0)
        finally:
            summary = sink.close()
    issues.sort(key=_row)
    if args.rejects:
        write_json(Path(args.rejects), to_operation_outcome(issues))
    sys.stderr.write(
        f"{path.name}: read {read}, mapped {read - rejected}, rejected {rejected}; {summary}\n"
    )
    for issue in issues if args.format == "text" else ():
        sys.stderr.write(f"  {issue.to_text()}\n")
    if args.format == "json" and issues:
        sys.stderr.write(orjson.dumps(to_operation_outcome(issues)).decode() + "\n")
    return 1 if rejected else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--split`` and ``--ndjson`` on a ``map`` sub-command."""
    parser.add_argument(
        "--split",
        type=split_value,
        metavar="patient|N",
        help="write one Bundle per patient, or Bundles of at most N entries, into -o DIR "
        "(lab: mapped in parts, in bounded memory)",
    )
    parser.add_argument(
        "--ndjson",
        metavar="DIR",
        help="write NDJSON per resource type into DIR (Bulk Data layout) instead of a Bundle",
    )
