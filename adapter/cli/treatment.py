"""The treatment source kinds of ``ball-fhir map`` (issue 5) and their ``--context`` Bundles.

Each mapper here has the signature of :data:`adapter.cli.mapcmd.ContextMapper`: the usual
arguments plus the parsed context Bundles (already mapped Bundles whose facts the cross-file
checks need: BSA and weight for dosing, death and diagnosis dates, apheresis products).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from adapter.datafiles import mappings_dir
from adapter.fhir import Resource
from adapter.issues import UsageError
from adapter.mapping.bundle import MapResult
from adapter.mapping.quantities import LabTest, load_lab_tests
from adapter.mapping.treatment.apheresis import map_apheresis
from adapter.mapping.treatment.context import TreatmentContext, build_context
from adapter.mapping.treatment.events import map_events
from adapter.mapping.treatment.infusions import map_infusions
from adapter.mapping.treatment.intrathecal import map_intrathecal
from adapter.mapping.treatment.lymphocytes import map_lymphocytes
from adapter.mapping.treatment.measurements import map_measurements
from adapter.mapping.treatment.tables import TreatmentTables, load_treatment_tables
from adapter.sources.site import SiteConfig

TreatmentMapper = Callable[[bytes, str, SiteConfig, str, Any, Sequence[Resource]], MapResult]


@cache
def treatment_tables() -> TreatmentTables:
    return load_treatment_tables(mappings_dir() / "tables" / "treatment.yaml")


@cache
def _lab_tests() -> dict[tuple[str, str], LabTest]:
    return load_lab_tests(mappings_dir() / "tables" / "lab-tests.yaml")


def load_context(paths: Sequence[Path]) -> list[Resource]:
    """Read context Bundles (JSON); a file that is not a Bundle is a usage error."""
    bundles: list[Resource] = []
    for path in paths:
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read context {path}: {exc.strerror}") from None
        except ValueError as exc:
            raise UsageError(f"context {path} is not JSON: {exc}") from None
        if not isinstance(content, dict) or content.get("resourceType") != "Bundle":
            raise UsageError(f"context {path} is not a FHIR Bundle")
        bundles.append(content)
    return bundles


def _mapper(map_kind: Callable[..., MapResult], *tables: Callable[[], object]) -> TreatmentMapper:
    """The CLI signature over ``map_kind(data, name, site, recorded, *tables, context)``: the
    tables are loaded on first use, the context Bundles reduced to per-patient facts."""

    def mapper(
        data: bytes,
        name: str,
        site: SiteConfig,
        recorded: str,
        _p: Any,
        context: Sequence[Resource],
    ) -> MapResult:
        return map_kind(data, name, site, recorded, *(load() for load in tables), _ctx(context))

    return mapper


def _ctx(context: Sequence[Resource]) -> TreatmentContext:
    return build_context(context) if context else TreatmentContext()


#: kind -> (help, mapper, whether --context is used)
TREATMENT_KINDS: dict[str, tuple[str, TreatmentMapper, bool]] = {
    "infusions": (
        "blinatumomab infusion bags/segments (pharmacy, pump)",
        _mapper(map_infusions, treatment_tables),
        True,
    ),
    "intrathecal": (
        "intrathecal therapy (methotrexate, cytarabine, dexamethasone)",
        _mapper(map_intrathecal, treatment_tables),
        True,
    ),
    "apheresis": (
        "CD3+ lymphocyte apheresis with pre-collection values",
        _mapper(map_apheresis, _lab_tests),
        True,
    ),
    "lymphocytes": ("autologous CD3+ lymphocyte infusions", _mapper(map_lymphocytes), True),
    "measurements": ("body weight and height (BSA computed)", _mapper(map_measurements), False),
    "events": (
        "clinical events: diagnosis, relapses, protocol, risk group, HSCT, death",
        _mapper(map_events, treatment_tables),
        True,
    ),
}
