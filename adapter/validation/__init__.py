"""The validator (issue 6): FHIR R4 resources and Bundles against StructureDefinitions.

Public API::

    Validator.load(packages) -> Validator      index the core package plus packages (dir or .tgz)
    Validator.validate(resource, profiles=None, *, base_only=False, infer_profiles=False)
        -> list[Issue]      base R4 + meta.profile + ``profiles``; the profile map on request
    default_validator() -> Validator           core + mCODE, GR, THO (cached) + profiles/package

Issues render as an OperationOutcome with :func:`adapter.issues.to_operation_outcome`.  Each
carries a FHIRPath-style ``expression`` with entry indexes (``Bundle.entry[3].resource.code``) and
a ``rule`` key to match on:

- structure: ``unknown-element``, ``type`` (JSON type, primitive format, choice type a profile
  excludes), ``choice-type`` (two ``x[x]``), ``array``, ``empty-array``, ``empty-string``,
  ``null``, ``resource-type``, ``ele-1``;
- cardinality and profiles: ``cardinality`` (also slices), ``fixed``, ``pattern``, ``slicing``,
  ``must-support`` (information, opt-in), ``profile-unknown``, ``profile-type``;
- terminology: ``binding-required`` (error), ``binding-extensible`` / ``binding-preferred``
  (warnings, only for codes of the value set's own systems), ``binding-unexpandable``
  (information, once per value set), ``code-unknown`` (code not in a complete CodeSystem),
  ``display`` (warning: not a display of the code in its CodeSystem), ``ucum``;
- references and extensions: ``reference-target``, ``reference-type``, ``bundle-reference``,
  ``extension-context``, ``extension-unknown`` (information), ``extension``;
- bundles: ``bundle-fullurl``, ``bundle-fullurl-unique``, ``bundle-request``;
- invariants: the constraint key (``obs-6``, ``bdl-3``, ``ball-mrd-1``...); one that cannot be
  evaluated offline is reported once as information with code ``not-supported``.
"""

from adapter.validation.checker import Options
from adapter.validation.profilemap import ProfileMap, load_profile_map
from adapter.validation.registry import Registry
from adapter.validation.validator import (
    PROFILES_PACKAGE,
    Validator,
    default_validator,
)

__all__ = [
    "PROFILES_PACKAGE",
    "Options",
    "ProfileMap",
    "Registry",
    "Validator",
    "default_validator",
    "load_profile_map",
]
