"""Which chromosome bands exist: the 850-band ideogram of ``mappings/iscn/ideogram-850.yaml``.

A breakpoint such as ``12p13.9`` or ``21q12`` names no band of the ideogram (ISCN 2020 ch. 4:
region and band digits, sub-bands after ``.``).  A designation is accepted when it is a band of
the table or the leading part of one at a digit boundary: ``12p13`` and ``12p13.3`` both name
bands (``12p13.31``...), ``12p13.9`` does not.  ``p10``/``q10`` (the centromere) always exist.
The table and its source (UCSC hg19 cytoBand, the ISCN 850-band ideogram) are cited in the data
file; it is read once, on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import yaml

from adapter.datafiles import mappings_dir


@dataclass(frozen=True, slots=True)
class Ideogram:
    """Band designations per chromosome and arm, with every shorter name that contains them."""

    #: (chromosome, arm) -> the designations of the table, in table order
    bands: Mapping[tuple[str, str], tuple[str, ...]]
    #: (chromosome, arm) -> every valid designation (listed bands and their leading parts)
    valid: Mapping[tuple[str, str], frozenset[str]]

    def exists(self, chromosome: str, arm: str, designation: str) -> bool:
        """Whether ``chromosome`` ``arm`` ``designation`` names a band (unknown chromosome: yes)."""
        names = self.valid.get((chromosome, arm))
        return names is None or designation in ("10", "10.0") or designation in names

    def sub_bands(self, chromosome: str, arm: str, head: str) -> tuple[str, ...]:
        """The listed bands of ``chromosome`` ``arm`` under ``head`` (``13`` -> ``13.1``...)."""
        return tuple(
            b
            for b in self.bands.get((chromosome, arm), ())
            if b == head or b.startswith(head + ".")
        )


def _prefixes(designation: str) -> set[str]:
    """``13.31`` -> {``1``, ``13``, ``13.3``, ``13.31``}: the names the band may be written at
    (region only, band, sub-bands)."""
    head, _, sub = designation.partition(".")
    out = {head[:1], head}
    for k in range(1, len(sub) + 1):
        out.add(f"{head}.{sub[:k]}")
    return out


def ideogram_from_data(data: object) -> Ideogram:
    """Build the :class:`Ideogram` from the parsed YAML; ``ValueError`` on malformed data."""
    if not isinstance(data, Mapping) or not isinstance(data.get("bands"), Mapping):
        raise ValueError("ideogram: expected a mapping with 'bands'")
    bands: dict[tuple[str, str], tuple[str, ...]] = {}
    valid: dict[tuple[str, str], frozenset[str]] = {}
    for chromosome, arms in data["bands"].items():
        if not isinstance(arms, Mapping):
            raise ValueError(f"ideogram: chromosome {chromosome}: expected arms p and q")
        for arm in ("p", "q"):
            names = tuple(str(arms.get(arm, "")).split())
            if not names:
                raise ValueError(f"ideogram: chromosome {chromosome}{arm}: no bands")
            key = (str(chromosome), arm)
            bands[key] = names
            valid[key] = frozenset(p for name in names for p in _prefixes(name))
    return Ideogram(bands, valid)


@lru_cache(maxsize=1)
def load_ideogram() -> Ideogram:
    """The ideogram of ``mappings/iscn/ideogram-850.yaml`` (read once)."""
    path = mappings_dir() / "iscn" / "ideogram-850.yaml"
    with path.open(encoding="utf-8") as fh:
        return ideogram_from_data(yaml.safe_load(fh))
