"""The public validator: packages in, ``list[Issue]`` out."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from adapter.datafiles import profiles_dir
from adapter.issues import Issue, UsageError
from adapter.packagecache import PROFILE_DEPENDENCIES, core_package_dir, npm_package_dir
from adapter.validation.bundle import bundle_context, check_bundle_rules
from adapter.validation.checker import Checker, Options, Run, meta_profiles
from adapter.validation.profilemap import DEFAULT_MAP, ProfileMap, load_profile_map
from adapter.validation.registry import Registry

#: Our own package (profiles, ValueSets, CodeSystem ball-concepts), built into the repository.
PROFILES_PACKAGE = profiles_dir() / "package"


class Validator:
    """Validates FHIR R4 JSON resources and Bundles against the loaded packages.

    >>> v = Validator.load([PROFILES_PACKAGE])        # doctest: +SKIP
    >>> issues = v.validate(bundle)                     # doctest: +SKIP
    """

    def __init__(
        self,
        registry: Registry,
        profile_map: ProfileMap | None = None,
        options: Options | None = None,
    ) -> None:
        self.registry = registry
        self.profile_map = profile_map
        self.options = options or Options()
        self.checker = Checker(registry)

    @classmethod
    def load(
        cls,
        packages: Iterable[Path] = (),
        *,
        core: bool = True,
        profile_map: ProfileMap | Path | None = DEFAULT_MAP,
        options: Options | None = None,
    ) -> Validator:
        """Index the core package (unless ``core=False``) and then ``packages`` (folder or .tgz).

        Later packages override earlier ones for the same canonical URL.
        """
        registry = Registry()
        if core:
            registry.add_package(core_package_dir())
        for package in packages:
            registry.add_package(Path(package))
        pmap = load_profile_map(profile_map) if isinstance(profile_map, Path) else profile_map
        return cls(registry, pmap, options)

    def with_options(self, options: Options) -> Validator:
        """The same validator (shared packages and compiled plans) with other options."""
        other = copy.copy(self)
        other.options = options
        return other

    def profiles_for(self, resource: dict[str, Any], *, infer: bool = False) -> list[str]:
        """``meta.profile`` of the resource; with ``infer``, what the profile map assigns to a
        resource that declares none."""
        declared = meta_profiles(resource)
        if declared or not infer or self.profile_map is None:
            return declared
        return self.profile_map.profiles_for(resource, self.registry)

    def validate(
        self,
        resource: Any,
        profiles: list[str] | None = None,
        *,
        base_only: bool = False,
        infer_profiles: bool = False,
        options: Options | None = None,
    ) -> list[Issue]:
        """All issues of ``resource`` (a resource or a Bundle), in document order, deduplicated.

        The conventions of the HL7 validator: every resource (Bundle entries too) is checked
        against base R4 and the profiles its ``meta.profile`` claims; ``profiles`` are checked on
        the top-level resource in addition.  ``infer_profiles`` adds, for resources that claim no
        profile, the one the profile map assigns (our own outputs); with ``base_only`` no profile
        at all is applied.
        """
        run = Run(options=options or self.options)
        if base_only:
            run.profiles_for = lambda _r: []
        else:
            run.profiles_for = lambda r: self.profiles_for(r, infer=infer_profiles)
        expr = "Resource"
        top: list[str] = []
        if isinstance(resource, dict):
            rtype = resource.get("resourceType")
            expr = rtype if isinstance(rtype, str) else "Resource"
            if not base_only:
                top = list(dict.fromkeys([*(profiles or []), *run.profiles_for(resource)]))
            if rtype == "Bundle":
                run.bundle = bundle_context(resource)
        self.checker.check_resource(resource, expr, run, top, explicit=tuple(profiles or ()))
        if isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
            check_bundle_rules(resource, expr, run)
        return _dedupe(run.issues)


def _dedupe(issues: list[Issue]) -> list[Issue]:
    return list(dict.fromkeys(issues))


def dependency_packages() -> list[Path]:
    """The packages our profiles derive from (mCODE, Genomics Reporting, THO) that the package
    cache holds (``scripts/setup-npm`` fetches them).  Our snapshots carry every parent
    constraint; these add the parents' extension definitions, value sets and code systems.
    Without them those are reported as information (``extension-unknown``,
    ``binding-unexpandable``) instead of being checked."""
    found = []
    for name_version in PROFILE_DEPENDENCIES:
        try:
            found.append(npm_package_dir(name_version))
        except UsageError:
            continue
    return found


@cache
def default_validator() -> Validator:
    """The validator over the core package, the packages our profiles depend on (those in the
    cache) and ``profiles/package`` (built once per process)."""
    packages = [PROFILES_PACKAGE] if PROFILES_PACKAGE.is_dir() else []
    return Validator.load([*dependency_packages(), *packages])
