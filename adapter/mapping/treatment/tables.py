"""The treatment table (``mappings/tables/treatment.yaml``): codes and protocol parameters.

Every entry cites its source in the YAML file (contract.md, protocol.md, terminology.md).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Code(_Frozen):
    code: str
    display: str
    status: str | None = None


class TreatmentTables(_Frozen):
    """The parsed ``treatment.yaml``."""

    blinatumomab_drugs: dict[str, Code]
    intrathecal_drugs: dict[str, Code]
    route_iv: Code
    route_intrathecal: Code
    basis_bsa: Code
    basis_fixed: Code
    termination_reasons: dict[str, Code]
    relapse_sites: dict[str, Code]
    protocols: dict[str, str]
    risk_groups: list[str]
    donor_types: dict[str, str]
    weight_boundary_kg: Decimal
    weight_boundary_inclusive: bool
    administrative_genders: list[str]


def load_treatment_tables(path: Path) -> TreatmentTables:
    """Read and validate the treatment table."""
    return TreatmentTables.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
