"""Cutting a large delimited export into parts that can be mapped one at a time (the streaming
map: ``ball-fhir map lab --split``/``--ndjson``), so memory follows the part, not the file.

One pass over the file (read as a text stream in the site's encoding, never whole) writes each
record to the part file of its key, with its row number in the file kept beside it:

- the key of a record is its ``key`` field (lab: ``patient_id``), so all of a patient's records
  land in one part and the patient's Bundle can be cut from it;
- a record whose ``follow`` field value (lab: ``specimen_id``) was seen before goes where the
  first record with that value went, even under another key, so every check across the records
  of one specimen (duplicates, specimen conflicts) sees all of them, in file order;
- the part of a key is the crc32 of the key modulo the number of parts (stable across runs);
  records in a part keep their order in the file.

Records too short to have the key field go to the first part (the mapping rejects them there,
with their row numbers).  Blank records are dropped, as :func:`read_rows` drops them.
"""

from __future__ import annotations

import csv
import hashlib
import zlib
from array import array
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from adapter.issues import UsageError
from adapter.sources.delimited import Fields, check_section
from adapter.sources.site import DelimitedSource, SiteConfig

#: the size of one part's records, on average (bytes of the file)
PART_BYTES = 1 << 20
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class PartFile:
    """One part: a delimited file (the header, then its records) and each record's row number
    in the original file."""

    index: int
    path: Path
    numbers: array[int]


@dataclass(frozen=True, slots=True)
class Partition:
    """The parts of a file, in order, and the file's sha256 (raw digest)."""

    parts: list[PartFile]
    sha256: bytes


def file_sha256(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_HASH_BLOCK):
            digest.update(block)
    return digest.digest()


def _text_encoding(encoding: str) -> str:
    return "utf-8-sig" if encoding.replace("-", "").lower() in ("utf8", "utf8sig") else encoding


def partition_file(
    path: Path,
    site: SiteConfig,
    section: DelimitedSource,
    fields: Fields,
    key: str,
    follow: str,
    folder: Path,
    part_bytes: int = PART_BYTES,
) -> Partition:
    """Write the parts of ``path`` into ``folder`` (see the module docstring)."""
    check_section(section, fields)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    count = max(1, -(-size // part_bytes))
    numbers = [array("L") for _ in range(count)]
    encoding = _text_encoding(site.encoding)
    paths = [folder / f"part-{i:05d}.csv" for i in range(count)]
    try:
        with ExitStack() as stack:
            source = stack.enter_context(path.open(encoding=encoding, newline=""))
            outs = [
                stack.enter_context(p.open("w", encoding=site.encoding, newline="")) for p in paths
            ]
            writers = [csv.writer(o, delimiter=site.delimiter) for o in outs]
            reader = csv.reader(source, delimiter=site.delimiter)
            header = next(reader, None)
            if not header:
                raise UsageError(f"{path.name}: empty file, no header row")
            for writer in writers:
                writer.writerow(header)
            positions = _positions(header, section)
            for number, part, cells in _placed(
                reader, positions.get(key), positions.get(follow), count
            ):
                writers[part].writerow(cells)
                numbers[part].append(number)
    except UnicodeError as exc:
        raise UsageError(
            f"{path.name}: not {site.encoding} text ({exc}); check the site's 'encoding'"
        ) from None
    parts = [PartFile(i, paths[i], numbers[i]) for i in range(count) if numbers[i]]
    return Partition(parts, file_sha256(path))


def _positions(header: list[str], section: DelimitedSource) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        field = section.columns.get(name.strip())
        if field is not None:
            positions.setdefault(field, index)
    return positions


def _placed(
    reader: Iterator[list[str]], key_at: int | None, follow_at: int | None, count: int
) -> Iterator[tuple[int, int, list[str]]]:
    """(row number, part, cells) of each non-blank record."""
    followed: dict[str, int] = {}
    for number, cells in enumerate(reader, start=2):
        if not (cells and cells[0].strip()) and not "".join(cells).strip():
            continue
        if key_at is None or key_at >= len(cells):
            yield number, 0, cells
            continue
        part = zlib.crc32(cells[key_at].strip().encode("utf-8")) % count
        if follow_at is not None and follow_at < len(cells):
            part = followed.setdefault(cells[follow_at].strip(), part)
        yield number, part, cells
