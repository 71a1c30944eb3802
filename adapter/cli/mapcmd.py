"""``ball-fhir map KIND INPUT``: the mapping edge.

``map`` maps one source file to a transaction Bundle (the main job, :mod:`adapter.cli.mainjob`,
maps many).  Each source kind is one entry of :data:`SOURCE_KINDS`: the mapper it calls and how
its tables are loaded (files are read here, never in ``adapter.mapping``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from adapter.cli.output import add_format, escape, write_atomic, write_json
from adapter.cli.treatment import TREATMENT_KINDS, TreatmentMapper, load_context
from adapter.datafiles import mappings_dir
from adapter.iscn import load_knowledge
from adapter.issues import UsageError, to_operation_outcome
from adapter.mapping.bundle import MapResult
from adapter.mapping.cytogenetics import CytogeneticsContext, load_codes, map_cytogenetics
from adapter.mapping.hl7v2 import (
    INTERPRETATION_MAP,
    REPORT_STATUS_MAP,
    SNOMED_SPECIMEN_MAP,
    STATUS_MAP,
    Hl7v2Context,
    load_test_specimens,
    map_hl7v2,
    subjects_of,
)
from adapter.mapping.lab import LabContext, map_lab
from adapter.mapping.quantities import LabTest, load_lab_tests
from adapter.sources.site import SiteConfig, load_site
from adapter.terminology import concept_map

Progress = Callable[[int], None] | None
Mapper = Callable[[bytes, str, SiteConfig, str, Progress], MapResult]


@cache
def _lab_tests() -> dict[tuple[str, str], LabTest]:
    return load_lab_tests(mappings_dir() / "tables" / "lab-tests.yaml")


def lab_context(site: SiteConfig) -> LabContext:
    """The tables a site's lab mapping needs: the lab-test table and its test-code ConceptMap."""
    if site.lab is None:
        raise UsageError(f"site {site.site!r} has no 'lab' section")
    return LabContext(
        _lab_tests(), concept_map(mappings_dir() / "conceptmaps", site.lab.test_code_map)
    )


def _map_lab(
    data: bytes, name: str, site: SiteConfig, recorded: str, progress: Progress
) -> MapResult:
    return map_lab(data, name, site, lab_context(site), recorded, progress)


@cache
def cytogenetics_context() -> CytogeneticsContext:
    """The tables of the cytogenetics mapping: gene loci (adapter.iscn) and its code table."""
    return CytogeneticsContext(
        load_knowledge(mappings_dir() / "iscn" / "gene-loci.yaml"),
        load_codes(mappings_dir() / "tables" / "cytogenetics.yaml"),
    )


def _map_cytogenetics(
    data: bytes, name: str, site: SiteConfig, recorded: str, progress: Progress
) -> MapResult:
    if site.cytogenetics is None:
        raise UsageError(f"site {site.site!r} has no 'cytogenetics' section")
    return map_cytogenetics(data, name, site, cytogenetics_context(), recorded, progress)


def hl7v2_context(site: SiteConfig) -> Hl7v2Context:
    """The tables of the HL7 v2 mapping: lab tests, the site's ConceptMaps and the v2 tables."""
    if site.hl7v2 is None:
        raise UsageError(f"site {site.site!r} has no 'hl7v2' section")
    folder = mappings_dir() / "conceptmaps"
    return Hl7v2Context(
        _lab_tests(),
        concept_map(folder, site.hl7v2.test_code_map),
        concept_map(folder, site.hl7v2.specimen_type_map),
        concept_map(folder, STATUS_MAP),
        concept_map(folder, REPORT_STATUS_MAP),
        concept_map(folder, INTERPRETATION_MAP),
        concept_map(folder, SNOMED_SPECIMEN_MAP),
        _test_specimens(),
    )


@cache
def _test_specimens() -> dict[str, str]:
    return load_test_specimens(mappings_dir() / "tables" / "loinc-specimens.yaml")


def _map_hl7v2(
    data: bytes,
    name: str,
    site: SiteConfig,
    recorded: str,
    progress: Progress,
    context: Sequence[Any] = (),
) -> MapResult:
    """``context``: Bundles of other files of the run, whose resources no message may move to
    another patient."""
    ctx = hl7v2_context(site)
    return map_hl7v2(data, name, site, ctx, recorded, progress, subjects_of(context))


@dataclass(frozen=True)
class SourceKind:
    """A source kind the CLI can map."""

    help: str
    mapper: Mapper
    #: a mapper that also takes context Bundles (``--context``, manifest ``context``)
    with_context: TreatmentMapper | None = None


def _treatment_kind(help_text: str, mapper: TreatmentMapper, uses_context: bool) -> SourceKind:
    def plain(
        data: bytes, name: str, site: SiteConfig, recorded: str, progress: Progress
    ) -> MapResult:
        return mapper(data, name, site, recorded, progress, [])

    return SourceKind(help_text, plain, mapper if uses_context else None)


SOURCE_KINDS: dict[str, SourceKind] = {
    "lab": SourceKind("lab results export (MRD, blasts, CD3+, CSF, blood counts)", _map_lab),
    "cytogenetics": SourceKind(
        "cytogenetics export (karyotype ISCN, FISH, RT-PCR fusions)", _map_cytogenetics
    ),
    "hl7v2": SourceKind(
        "HL7 v2 ORU^R01 lab result messages (MRD, blasts, counts)", _map_hl7v2, _map_hl7v2
    ),
    **{name: _treatment_kind(*spec) for name, spec in TREATMENT_KINDS.items()},
}


def recorded_time(path: Path) -> str:
    """Provenance.recorded: ``$SOURCE_DATE_EPOCH`` when set, else the input's modification time.

    Either way the same input file gives a byte-identical Bundle (no wall-clock time inside).
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    seconds = int(epoch) if epoch and epoch.isdigit() else int(path.stat().st_mtime)
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def map_file(
    kind: str,
    path: Path,
    site: SiteConfig,
    progress: Progress = None,
    context: Sequence[Path] = (),
) -> MapResult:
    """Map one file with a source kind (used by ``map`` and ``run``).

    ``context``: Bundles whose facts the kind's cross-file checks use (adapter.mapping.treatment).
    """
    data = read_bytes(path)
    source = SOURCE_KINDS[kind]
    with paused_gc():
        if context:
            if source.with_context is None:
                raise UsageError(f"source kind {kind!r} takes no --context")
            bundles = load_context(context)
            return source.with_context(
                data, path.name, site, recorded_time(path), progress, bundles
            )
        return source.mapper(data, path.name, site, recorded_time(path), progress)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a file is mapped.

    Mapping builds millions of small dicts and lists that form trees, never cycles, so the cyclic
    collector finds nothing to free, yet it rescans the growing heap again and again: half of the
    CPU time of a 100,000-row file (benchmarks/map_lab.py).  Reference counting still frees
    everything as usual.  On the way out the objects that survive (the Bundle) are moved to the
    oldest generation (``gc.freeze`` then ``gc.unfreeze``) without a scan; left in the youngest,
    the first collection after ``gc.enable`` would walk all of them at once.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:  # never unfreeze what someone else froze
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


def bundle_json(bundle: Any) -> bytes:
    """A Bundle as compact UTF-8 JSON bytes, serialised by orjson (10x the standard encoder on
    large Bundles, benchmarks/map_lab.py) and written as they are, never decoded; the same input
    gives the same bytes."""
    return orjson.dumps(bundle, option=orjson.OPT_APPEND_NEWLINE)


def _progress_for(path: Path) -> Progress:
    """A stderr progress counter for inputs over 10,000 rows when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None
    total = read_bytes(path).count(b"\n")
    if total <= 10_000:
        return None

    def show(done: int) -> None:
        sys.stderr.write(f"\r{path.name}: {done:,}/{total:,} rows")
        sys.stderr.flush()

    return show


def _summary(result: MapResult) -> str:
    return f"read {result.read}, mapped {result.mapped}, rejected {result.rejected}"


def _report(result: MapResult, source: str, fmt: str) -> None:
    if fmt == "json":
        sys.stderr.write(json.dumps(to_operation_outcome(result.issues), ensure_ascii=False) + "\n")
        return
    sys.stderr.write(f"{escape(source)}: {_summary(result)}\n")
    for issue in result.issues:
        sys.stderr.write(f"  {escape(issue.to_text())}\n")
        if issue.source_record is not None:
            sys.stderr.write(f"    record: {escape(issue.source_record)}\n")


def cmd_map(args: argparse.Namespace) -> int:
    if args.split or args.ndjson:
        from adapter.cli.mapsplit import cmd_map_split  # the streaming map (it imports this)

        return cmd_map_split(args)
    site = load_site(args.site)
    path = Path(args.input)
    progress = _progress_for(path) if path.is_file() else None
    context = [Path(c) for c in getattr(args, "context", None) or []]
    result = map_file(args.kind, path, site, progress, context)
    if progress:
        sys.stderr.write("\n")
    text = bundle_json(result.bundle)
    if args.output:
        write_atomic(Path(args.output), text)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(text)
        sys.stdout.buffer.flush()
    if args.rejects:
        write_json(Path(args.rejects), to_operation_outcome(result.issues))
    if result.issues:
        _report(result, path.name, args.format)
    return 1 if result.rejected or result.has_errors else 0


def register(commands: Any) -> None:
    """Add the ``map`` command with one sub-command per source kind."""
    from adapter.cli.mapsplit import add_arguments as split_arguments  # it imports this module

    map_parser = commands.add_parser(
        "map", help="map a local source file to a FHIR transaction Bundle"
    )
    kinds = map_parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    for name, kind in SOURCE_KINDS.items():
        p = kinds.add_parser(name, help=kind.help)
        p.add_argument("input", metavar="INPUT", help="the file to map")
        p.add_argument(
            "--site",
            default="default",
            help="site name (mappings/sites/NAME.yaml) or site file (default: default)",
        )
        p.add_argument("-o", "--output", metavar="OUT.json", help="Bundle file (default: stdout)")
        p.add_argument(
            "--rejects",
            metavar="REJECTS.json",
            help="write every issue, with rejected records, as an OperationOutcome",
        )
        add_format(p, "how issues are reported on stderr")
        if kind.with_context is not None:
            p.add_argument(
                "--context",
                action="append",
                metavar="BUNDLE.json",
                help="a mapped Bundle whose facts the cross-file checks use (repeatable)",
            )
        split_arguments(p)
        p.set_defaults(handler=cmd_map)
