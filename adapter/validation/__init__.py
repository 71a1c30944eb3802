"""The validator (issue 6): FHIR R4 resources and Bundles against StructureDefinitions.

Public API::

    Validator.load(packages) -> Validator      index the core package plus packages (dir or .tgz)
    Validator.validate(resource, profiles=None, *, base_only=False) -> list[Issue]
    default_validator() -> Validator           core + profiles/package, built once per process
    validate(resource, profiles=None) -> list[Issue]

Issues render as an OperationOutcome with :func:`adapter.issues.to_operation_outcome`.
"""

from adapter.validation.checker import Options
from adapter.validation.profilemap import ProfileMap, load_profile_map
from adapter.validation.registry import Registry
from adapter.validation.validator import (
    PROFILES_PACKAGE,
    Validator,
    default_validator,
    validate,
)

__all__ = [
    "PROFILES_PACKAGE",
    "Options",
    "ProfileMap",
    "Registry",
    "Validator",
    "default_validator",
    "load_profile_map",
    "validate",
]
