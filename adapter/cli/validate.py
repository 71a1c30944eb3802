"""``ball-fhir validate FILE... [--profile URL] [--package TGZ_OR_DIR] [--infer-profiles]``.

Validates FHIR R4 JSON files (a resource or a Bundle each) with :mod:`adapter.validation` against
the core package, ``profiles/package`` and any ``--package``, as the HL7 validator does: base R4,
the profiles each resource claims in ``meta.profile`` and the ``--profile`` URLs;
``--infer-profiles`` also applies the profile map (``mappings/profile-map.yaml``) to resources
that claim no profile.  Exit 0 when no file has an
error-severity issue, 1 otherwise, 2 on usage errors (missing file, unknown profile, bad package).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from adapter.cli.output import add_format
from adapter.issues import Issue, UsageError, sort_issues, to_operation_outcome
from adapter.validation import PROFILES_PACKAGE, Options, Validator, default_validator
from adapter.validation.validator import dependency_packages

_ENTRY = re.compile(r"^Bundle\.entry\[(\d+)\](?:\.resource)?\.?(.*)$")


def register(subparsers: Any) -> None:
    """Add the ``validate`` command to the ``ball-fhir`` parser."""
    parser = subparsers.add_parser(
        "validate",
        help="validate FHIR R4 JSON resources or Bundles against R4 and the ball-fhir profiles",
        description=(
            "Validate FHIR R4 JSON files (a resource or a Bundle each) against the R4 core "
            "package, the ball-fhir profiles and any --package. Exit 0 when no file has an "
            "error, 1 otherwise, 2 on usage errors (missing file, unknown profile, bad package)."
        ),
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="FHIR JSON file")
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="URL",
        help="also validate the top-level resource against this profile (repeatable)",
    )
    parser.add_argument(
        "--package",
        action="append",
        default=[],
        type=Path,
        metavar="TGZ_OR_DIR",
        help="load a further FHIR package (folder or .tgz; repeatable)",
    )
    add_format(parser, "issues as readable lines or as an OperationOutcome (default: text)")
    parser.add_argument(
        "--base-only", action="store_true", help="base R4 only: apply no profile at all"
    )
    parser.add_argument(
        "--infer-profiles",
        action="store_true",
        help="validate resources without meta.profile against the profile the profile map "
        "assigns (mappings/profile-map.yaml)",
    )
    parser.add_argument(
        "--must-support",
        action="store_true",
        help="report absent must-support elements (information)",
    )
    parser.add_argument(
        "--best-practice",
        action="store_true",
        help="report best-practice invariants such as dom-6 (warning)",
    )
    parser.set_defaults(handler=run_validate)


def _validator(args: argparse.Namespace) -> Validator:
    options = Options(
        must_support=bool(args.must_support),
        best_practice="warning" if args.best_practice else None,
    )
    if args.package:
        for package in args.package:
            if not package.exists():
                raise UsageError(f"{package}: no such package folder or file")
        packages = [*dependency_packages(), PROFILES_PACKAGE, *args.package]
        validator = Validator.load(packages, options=options)
    else:
        validator = default_validator().with_options(options)
    for url in args.profile:
        if validator.registry.structure_definition(url) is None:
            raise UsageError(f"--profile {url}: no such StructureDefinition in the loaded packages")
    return validator


def _read(path: Path) -> tuple[Any, list[Issue]]:
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        return json.loads(path.read_text(encoding="utf-8")), []
    except (UnicodeDecodeError, ValueError) as exc:
        return None, [Issue("fatal", "structure", f"not valid JSON: {exc}", "json")]


def run_validate(args: argparse.Namespace) -> int:
    validator = _validator(args)
    results: list[tuple[Path, Any, list[Issue]]] = []
    for path in args.files:
        resource, issues = _read(path)
        if not issues:
            issues = validator.validate(
                resource,
                args.profile or None,
                base_only=args.base_only,
                infer_profiles=args.infer_profiles,
            )
        results.append((path, resource, issues))
    if args.format == "json":
        if len(results) == 1:
            out: Any = to_operation_outcome(results[0][2])
        else:
            out = {
                "files": [
                    {"file": str(p), "outcome": to_operation_outcome(i)} for p, _, i in results
                ]
            }
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    else:
        for path, resource, issues in results:
            sys.stdout.write(render_text(path, resource, issues))
    return 1 if any(i.is_error for _, _, issues in results for i in issues) else 0


def _describe(resource: Any) -> str:
    if not isinstance(resource, dict):
        return "?"
    name = str(resource.get("resourceType", "?"))
    if resource.get("id"):
        name += f"/{resource['id']}"
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    if isinstance(profiles, list) and profiles:
        name += " (" + ", ".join(str(p).rsplit("/", 1)[-1] for p in profiles) + ")"
    return name


def render_text(path: Path, resource: Any, issues: list[Issue]) -> str:
    """Issues of one file, grouped by Bundle entry, naming the resource and the element."""
    errors = sum(i.is_error for i in issues)
    warnings = sum(i.severity == "warning" for i in issues)
    head = f"{path}: {_describe(resource)}: "
    entries: list[Any] = []
    if isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
        raw = resource.get("entry")
        entries = raw if isinstance(raw, list) else []
        head = f"{path}: Bundle ({resource.get('type', '?')}, {len(entries)} entries): "
    lines = [head + (f"{errors} error(s), {warnings} warning(s)" if issues else "valid")]
    groups: dict[int | None, list[tuple[str, Issue]]] = {}
    for issue in sort_issues(issues):
        where = issue.expression[0] if issue.expression else ""
        match = _ENTRY.match(where)
        key = int(match.group(1)) if match else None
        element = match.group(2) if match else where
        groups.setdefault(key, []).append((element, issue))
    for key in sorted(groups, key=lambda k: -1 if k is None else k):
        if key is not None:
            entry = entries[key] if key < len(entries) else {}
            resource_of = entry.get("resource") if isinstance(entry, dict) else None
            lines.append(f"  entry[{key}] {_describe(resource_of)}")
        indent = "    " if key is not None else "  "
        for element, issue in groups[key]:
            rule = f" [{issue.rule}]" if issue.rule else ""
            at = f" {element}" if element else ""
            lines.append(f"{indent}{issue.severity}{rule}{at}: {issue.diagnostics}")
    return "\n".join(lines) + "\n"
