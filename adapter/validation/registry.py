"""Conformance resources by canonical URL, loaded lazily from FHIR packages.

A FHIR package (https://hl7.org/fhir/packages.html) is a folder ``package/`` or an NPM ``.tgz``
holding one JSON resource per file and an ``.index.json`` listing ``filename``, ``resourceType``,
``url`` and ``version`` of each.  :class:`Registry` reads only that index at load time (the core
package has 4,581 files) and parses a resource the first time its canonical URL is asked for
(google/fhir-py ``fhir_package.py``: profiles by URL, never by path).  Later packages win over
earlier ones for the same URL, so a site package can override ours.

ValueSets are expanded here, offline, from the CodeSystems and ValueSets in the loaded packages:
``compose.include`` of whole CodeSystems, of concept lists, and of other ValueSets, minus
``compose.exclude``.  A ValueSet that uses filters or an external CodeSystem (LOINC, SNOMED CT,
UCUM...) cannot be expanded offline: :meth:`Registry.expand` answers ``None`` and the caller
reports that once instead of guessing.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapter.issues import UsageError

#: Resource types whose canonical URL is indexed.
CONFORMANCE_TYPES = frozenset(
    {
        "StructureDefinition",
        "ValueSet",
        "CodeSystem",
        "ConceptMap",
        "OperationDefinition",
        "SearchParameter",
        "CapabilityStatement",
        "NamingSystem",
        "ImplementationGuide",
    }
)

Loader = Callable[[], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Expansion:
    """The codes of an expanded ValueSet: ``(system, code)`` pairs and the bare codes."""

    url: str
    pairs: frozenset[tuple[str, str]]
    codes: frozenset[str]

    def contains(self, system: str | None, code: str) -> bool:
        if system is None:
            return code in self.codes
        return (system, code) in self.pairs


@dataclass(frozen=True, slots=True)
class PackageInfo:
    name: str
    version: str
    source: str


class Registry:
    """Conformance resources of one or more FHIR packages, looked up by canonical URL."""

    def __init__(self) -> None:
        self._loaders: dict[str, Loader] = {}
        self._cache: dict[str, dict[str, Any]] = {}
        self._expansions: dict[str, Expansion | None] = {}
        self._types: dict[str, str] = {}
        self.packages: list[PackageInfo] = []

    # -- loading ---------------------------------------------------------------------------------

    def add_package(self, path: Path) -> PackageInfo:
        """Index a package folder (with or without ``package/``) or a package ``.tgz``."""
        if path.is_file() and (path.suffix in (".tgz", ".gz") or path.name.endswith(".tar.gz")):
            info = self._add_tgz(path)
        elif path.is_dir():
            folder = path / "package" if (path / "package").is_dir() else path
            info = self._add_folder(folder)
        else:
            raise UsageError(f"{path}: not a FHIR package folder or .tgz")
        self.packages.append(info)
        return info

    def add_resource(self, resource: dict[str, Any]) -> None:
        """Register one conformance resource given in memory (tests, HTTP uploads)."""
        url = resource.get("url")
        if isinstance(url, str):
            self._register(url, resource.get("version"), _constant(resource))
            self._cache.pop(url, None)
            self._expansions.clear()

    def _register(self, url: str, version: object, loader: Loader) -> None:
        self._loaders[url] = loader
        if isinstance(version, str) and version:
            self._loaders[f"{url}|{version}"] = loader

    def _add_folder(self, folder: Path) -> PackageInfo:
        manifest = (
            _read_json(folder / "package.json") if (folder / "package.json").is_file() else {}
        )
        index_file = folder / ".index.json"
        entries: Iterable[dict[str, Any]]
        if index_file.is_file():
            entries = _read_json(index_file).get("files", [])
        else:
            entries = []
            for file in sorted(folder.glob("*.json")):
                if file.name == "package.json":
                    continue
                try:
                    res = _read_json(file)
                except (OSError, ValueError):
                    continue
                if isinstance(res, dict):
                    entries.append(
                        {
                            "filename": file.name,
                            "resourceType": res.get("resourceType"),
                            "url": res.get("url"),
                            "version": res.get("version"),
                        }
                    )
        for entry in entries:
            url = entry.get("url")
            if entry.get("resourceType") in CONFORMANCE_TYPES and isinstance(url, str):
                file = folder / str(entry["filename"])
                self._register(url, entry.get("version"), _file_loader(file))
        return PackageInfo(
            str(manifest.get("name", folder.name)), str(manifest.get("version", "")), str(folder)
        )

    def _add_tgz(self, path: Path) -> PackageInfo:
        members: dict[str, bytes] = {}
        try:
            with tarfile.open(path, "r:gz") as tar:
                for member in tar.getmembers():
                    if member.isfile() and member.name.endswith(".json"):
                        handle = tar.extractfile(member)
                        if handle is not None:
                            members[member.name.removeprefix("./")] = handle.read()
        except (OSError, tarfile.TarError) as exc:
            raise UsageError(f"{path}: cannot read FHIR package: {exc}") from exc
        manifest: dict[str, Any] = {}
        for name, data in members.items():
            if name.endswith("package.json") and name.count("/") <= 1:
                manifest = json.loads(data)
            parts = name.split("/")
            if (
                len(parts) != 2
                or parts[0] != "package"
                or parts[1] in ("package.json",)
                or (parts[1].startswith("."))
            ):
                continue
            try:
                res = json.loads(data)
            except ValueError:
                continue
            if isinstance(res, dict) and res.get("resourceType") in CONFORMANCE_TYPES:
                url = res.get("url")
                if isinstance(url, str):
                    self._register(url, res.get("version"), _constant(res))
        return PackageInfo(
            str(manifest.get("name", path.stem)), str(manifest.get("version", "")), str(path)
        )

    # -- lookup ----------------------------------------------------------------------------------

    def urls(self) -> list[str]:
        return [u for u in self._loaders if "|" not in u]

    def get(self, url: str) -> dict[str, Any] | None:
        """The conformance resource with this canonical URL (``url`` or ``url|version``)."""
        found = self._cache.get(url)
        if found is not None:
            return found
        loader = self._loaders.get(url)
        if loader is None and "|" in url:
            loader = self._loaders.get(url.split("|", 1)[0])
        if loader is None:
            return None
        found = loader()
        self._cache[url] = found
        return found

    def structure_definition(self, url: str) -> dict[str, Any] | None:
        res = self.get(url)
        return res if res is not None and res.get("resourceType") == "StructureDefinition" else None

    def sd_type(self, url: str) -> str | None:
        """The ``type`` a StructureDefinition constrains (cached; None when unknown)."""
        if url not in self._types:
            sd = self.structure_definition(url)
            if sd is None:
                return None
            self._types[url] = str(sd.get("type", ""))
        return self._types[url]

    # -- terminology -----------------------------------------------------------------------------

    def expand(self, url: str) -> Expansion | None:
        """The expansion of a ValueSet, or None when it cannot be expanded offline."""
        key = url.split("|", 1)[0]
        if key not in self._expansions:
            self._expansions[key] = None  # guards against cycles
            self._expansions[key] = self._expand(key)
        return self._expansions[key]

    def _expand(self, url: str) -> Expansion | None:
        vs = self.get(url)
        if vs is None or vs.get("resourceType") != "ValueSet":
            return None
        pairs: set[tuple[str, str]] = set()
        contains = (vs.get("expansion") or {}).get("contains")
        if contains and not vs.get("compose"):
            _collect_contains(contains, pairs)
            return Expansion(url, frozenset(pairs), frozenset(c for _, c in pairs))
        compose = vs.get("compose") or {}
        for include in compose.get("include", []):
            got = self._include(include)
            if got is None:
                return None
            pairs |= got
        for exclude in compose.get("exclude", []):
            got = self._include(exclude)
            if got is None:
                return None
            pairs -= got
        return Expansion(url, frozenset(pairs), frozenset(c for _, c in pairs))

    def _include(self, include: dict[str, Any]) -> set[tuple[str, str]] | None:
        if include.get("filter"):
            return None
        system = include.get("system")
        selected: set[tuple[str, str]] | None = None
        if isinstance(system, str):
            if include.get("concept"):
                selected = {(system, str(c.get("code"))) for c in include["concept"]}
            else:
                cs = self.get(system)
                if cs is None or cs.get("resourceType") != "CodeSystem":
                    return None
                if cs.get("content") not in ("complete", None):
                    return None
                selected = set()
                _collect_concepts(system, cs.get("concept", []), selected)
        for vs_url in include.get("valueSet", []):
            other = self.expand(str(vs_url))
            if other is None:
                return None
            selected = set(other.pairs) if selected is None else selected & other.pairs
        return selected if selected is not None else set()


def _collect_concepts(
    system: str, concepts: list[dict[str, Any]], out: set[tuple[str, str]]
) -> None:
    for concept in concepts:
        if "code" in concept:
            out.add((system, str(concept["code"])))
        if concept.get("concept"):
            _collect_concepts(system, concept["concept"], out)


def _collect_contains(contains: list[dict[str, Any]], out: set[tuple[str, str]]) -> None:
    for item in contains:
        if "code" in item and "system" in item:
            out.add((str(item["system"]), str(item["code"])))
        if item.get("contains"):
            _collect_contains(item["contains"], out)


def _read_json(file: Path) -> Any:
    with file.open("rb") as handle:
        return json.load(handle)


def _constant(resource: dict[str, Any]) -> Loader:
    def load() -> dict[str, Any]:
        return resource

    return load


def _file_loader(file: Path) -> Loader:
    def load() -> dict[str, Any]:
        data = _read_json(file)
        if not isinstance(data, dict):
            raise UsageError(f"{file}: not a FHIR resource")
        return data

    return load
