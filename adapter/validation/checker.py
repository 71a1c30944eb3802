"""The instance walker: one JSON resource against compiled StructureDefinition plans.

Two passes share this code:

- the *base* pass walks the resource with the plan of its resource type and, below it, the plans
  of the data types (R4 snapshots stop at data-type boundaries); it checks unknown elements, JSON
  shapes, primitive formats, cardinality, bindings, references, UCUM and invariants;
- a *profile* pass walks the same resource with a profile's snapshot and only goes as deep as the
  snapshot does; it checks cardinality, fixed/pattern values, type restrictions, slicing,
  target profiles, profile bindings, must-support and the profile's own invariants.

Issue expressions are FHIRPath-style (``Bundle.entry[3].resource.component[0].code``), using the
JSON property name of choice elements (``valueQuantity``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from adapter.issues import Issue, IssueCode, Severity
from adapter.validation.errata import extension_contexts
from adapter.validation.invariants import Invariants, choice_value, json_copy, present
from adapter.validation.plan import (
    ElementDef,
    Plan,
    compile_structure_definition,
    mark_interesting,
)
from adapter.validation.primitives import PRIMITIVE_TYPES, primitive_error
from adapter.validation.registry import Registry
from adapter.validation.ucum import ucum_error

UCUM_SYSTEM = "http://unitsofmeasure.org"
_CORE_SD = "http://hl7.org/fhir/StructureDefinition/"
_THO = "http://terminology.hl7.org/"
_GENERIC_CONTEXTS = frozenset({"Element", "Base", "Resource", "DomainResource", "BackboneElement"})

#: one value to check: (expression, value, its ``_`` sibling, type code)
Item = tuple[str, Any, Any, str]


@dataclass(slots=True)
class Options:
    """Validation options (all reporting switches; none of them changes what is an error)."""

    must_support: bool = False
    best_practice: Severity | None = None
    check_invariants: bool = True
    ucum: bool = True


@dataclass(slots=True)
class BundleContext:
    """What references inside a Bundle can resolve to."""

    by_full_url: dict[str, dict[str, Any]]
    by_type_id: dict[tuple[str, str], dict[str, Any]]
    bundle_type: str | None


@dataclass(slots=True)
class Run:
    """State of one ``validate`` call."""

    options: Options
    issues: list[Issue] = field(default_factory=list)
    once: set[str] = field(default_factory=set)
    bundle: BundleContext | None = None
    copies: dict[int, Any] = field(default_factory=dict)
    resource_exprs: dict[int, str] = field(default_factory=dict)
    conforms: dict[tuple[int, str], bool] = field(default_factory=dict)
    #: definition path of the element whose extensions are being checked (extension context)
    holder: str = ""
    profiles_for: Callable[[dict[str, Any]], list[str]] | None = None

    def add(
        self,
        severity: Severity,
        code: IssueCode,
        rule: str,
        expr: str,
        diagnostics: str,
    ) -> None:
        self.issues.append(Issue(severity, code, diagnostics, rule, (expr,)))

    def add_once(
        self, key: str, severity: Severity, code: IssueCode, rule: str, expr: str, diagnostics: str
    ) -> None:
        if key not in self.once:
            self.once.add(key)
            self.add(severity, code, rule, expr, diagnostics)

    def copy_of(self, value: Any) -> Any:
        key = id(value)
        found = self.copies.get(key)
        if found is None:
            found = (value, json_copy(value))
            self.copies[key] = found
        return found[1]


@dataclass(frozen=True, slots=True)
class CodeSystemIndex:
    """Code -> the displays it accepts (its display and designations, compared by
    :func:`_display_key`); ``complete``: the CodeSystem lists all its codes."""

    displays: dict[str, frozenset[str]]
    complete: bool


class Checker:
    """Validates resources against plans compiled from a :class:`Registry`."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.invariants = Invariants()
        self._plans: dict[str, Plan | None] = {}
        self._type_plans: dict[str, Plan | None] = {}
        self._regexes: dict[str, re.Pattern[str] | None] = {}
        self._matchers: dict[int, Callable[[Any], bool]] = {}
        self._pattern_refs: list[Any] = []
        self._discriminators: dict[tuple[int, str], tuple[ElementDef | None, Any, str | None]] = {}
        self._code_systems: dict[str, CodeSystemIndex | None] = {}

    # -- plans -----------------------------------------------------------------------------------

    def plan(self, url: str) -> Plan | None:
        if url not in self._plans:
            sd = self.registry.structure_definition(url)
            plan = compile_structure_definition(sd) if sd is not None else None
            self._plans[url] = plan
            if plan is not None and plan.derivation == "constraint":
                mark_interesting(plan, self.type_plan(plan.type), self.type_plan)
        return self._plans[url]

    def type_plan(self, type_code: str) -> Plan | None:
        try:
            return self._type_plans[type_code]
        except KeyError:
            found = self._type_plans[type_code] = self.plan(_CORE_SD + type_code)
            return found

    def _matcher(self, pattern: Any) -> Callable[[Any], bool]:
        key = id(pattern)
        found = self._matchers.get(key)
        if found is None:
            found = self._matchers[key] = compile_pattern(pattern)
            self._pattern_refs.append(pattern)  # keep id(pattern) valid
        return found

    def _regex(self, type_code: str) -> re.Pattern[str] | None:
        try:
            return self._regexes[type_code]
        except KeyError:
            plan = self.type_plan(type_code)
            found = self._regexes[type_code] = plan.regex if plan is not None else None
            return found

    def code_system(self, system: str) -> CodeSystemIndex | None:
        """The codes of a CodeSystem in the loaded packages, with the displays each accepts."""
        if system not in self._code_systems:
            cs = self.registry.get(system)
            found: CodeSystemIndex | None = None
            if cs is not None and cs.get("resourceType") == "CodeSystem":
                displays: dict[str, frozenset[str]] = {}
                stack = list(cs.get("concept", []))
                while stack:
                    c = stack.pop()
                    if "code" in c:
                        names = [c.get("display")]
                        names += [d.get("value") for d in c.get("designation", []) or []]
                        displays[str(c["code"])] = frozenset(
                            _display_key(n) for n in names if isinstance(n, str)
                        )
                    stack.extend(c.get("concept", []))
                found = CodeSystemIndex(displays, cs.get("content") == "complete")
            self._code_systems[system] = found
        return self._code_systems[system]

    # -- resources -------------------------------------------------------------------------------

    def check_resource(
        self,
        resource: Any,
        expr: str,
        run: Run,
        profiles: list[str],
        root: Any = None,
        explicit: tuple[str, ...] = (),
    ) -> None:
        """Base pass plus one profile pass per URL in ``profiles``."""
        if not isinstance(resource, dict):
            run.add("error", "structure", "type", expr, "a resource must be a JSON object")
            return
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str):
            run.add("error", "structure", "resource-type", expr, "resourceType is missing")
            return
        plan = self.type_plan(rtype)
        if plan is None or plan.kind != "resource" or plan.abstract:
            run.add(
                "error", "structure", "resource-type", expr, f"{rtype!r} is not an R4 resource type"
            )
            return
        root = resource if root is None else root
        run.resource_exprs[id(resource)] = expr
        self._check_object(plan.root, resource, expr, run, False, resource, root, plan.type)
        for url in profiles:
            self.check_profile(resource, url, expr, run, root, declared=url not in explicit)

    def check_profile(
        self,
        resource: dict[str, Any],
        url: str,
        expr: str,
        run: Run,
        root: Any = None,
        *,
        declared: bool = False,
    ) -> None:
        """Profile pass; ``declared``: the URL comes from ``meta.profile`` (unknown = warning)."""
        profile = self.plan(url)
        rtype = resource.get("resourceType")
        if profile is None:
            run.add_once(
                f"profile:{url}:{expr}",
                "warning" if declared else "error",
                "not-found",
                "profile-unknown",
                expr,
                f"profile {url} is not in the loaded packages"
                + ("; the resource was not checked against it" if declared else ""),
            )
            return
        if profile.type != rtype:
            run.add(
                "error",
                "invalid",
                "profile-type",
                expr,
                f"profile {url} is for {profile.type}, not {rtype}",
            )
            return
        root = resource if root is None else root
        self._check_object(profile.root, resource, expr, run, True, resource, root, profile.type)

    def conforms(self, resource: dict[str, Any], url: str, outer: Run) -> bool:
        """Whether ``resource`` (inside the Bundle of ``outer``) has no errors against ``url``."""
        key = (id(resource), url)
        if key not in outer.conforms:
            outer.conforms[key] = True  # optimistic while in progress: reference cycles
            run = Run(options=Options(check_invariants=outer.options.check_invariants))
            run.bundle = outer.bundle
            self.check_profile(resource, url, str(resource.get("resourceType", "")), run)
            outer.conforms[key] = not any(i.is_error for i in run.issues)
        return outer.conforms[key]

    # -- objects ---------------------------------------------------------------------------------

    def _container_for(self, node: ElementDef, type_code: str, profile: bool) -> ElementDef | None:
        """The element whose children describe the inside of a value of ``node``."""
        if node.children:
            return node
        if node.content_ref:
            return self._content_ref(node)
        if profile:
            return None
        plan = self.type_plan(type_code)
        return plan.root if plan is not None else None

    def _content_ref(self, node: ElementDef) -> ElementDef | None:
        rtype = node.path.split(".", 1)[0]
        plan = self.type_plan(rtype)
        if plan is None or node.content_ref is None:
            return None
        return plan.by_id.get(node.content_ref)

    def _check_object(
        self,
        container: ElementDef,
        obj: dict[str, Any],
        expr: str,
        run: Run,
        profile: bool,
        resource: dict[str, Any],
        root: Any,
        type_code: str,
        def_path: str | None = None,
    ) -> None:
        keymap = container.keymap
        is_resource = obj is resource
        seen: set[str] = set()
        # Choice elements and primitives with a _ sibling may have several keys: checked last.
        grouped: dict[str, tuple[ElementDef, list[tuple[str, Any, str]]]] = {}
        misfits: set[str] = set()  # choice elements present with a type the profile excludes
        for key, value in obj.items():
            entry = keymap.get(key)
            if entry is None:
                if not (is_resource and key == "resourceType"):
                    wrong = self._unknown_key(container, key, expr, run, profile)
                    if wrong is not None:
                        misfits.add(wrong)
                continue
            child, code = entry
            name = child.name
            seen.add(name)
            if child.choice or key[0] == "_" or "_" + key in obj:
                got = grouped.get(name)
                if got is None:
                    grouped[name] = (child, [(key, value, code)])
                else:
                    got[1].append((key, value, code))
                continue
            if profile:
                if not child.interesting:
                    continue
            elif (
                child.plain
                and code in PRIMITIVE_TYPES
                and value is not None
                and not isinstance(value, list)
            ):
                # The common case: one primitive with nothing but its format to check.
                error = primitive_error(code, value, self._regex(code))
                if error is not None:
                    _format_issue(error, value, f"{expr}.{key}", run)
                continue
            if name == "extension" or name == "modifierExtension":
                run.holder = def_path or container.path
            self._check_one(child, key, value, code, expr, run, profile, resource, root)
        if not profile and not is_resource and (not obj or (len(obj) == 1 and "id" in obj)):
            run.add(
                "error",
                "invariant",
                "ele-1",
                expr,
                "all FHIR elements must have a value or children (ele-1)",
            )
        for child, entries in grouped.values():
            if profile and not child.interesting:
                continue
            if child.name in ("extension", "modifierExtension"):
                run.holder = def_path or container.path
            self._check_child(child, entries, expr, run, profile, resource, root)
        for child in container.required:
            if child.name not in seen and child.name not in misfits:
                run.add(
                    "error",
                    "required",
                    "cardinality",
                    f"{expr}.{child.name}",
                    f"{_label(child)} is required (min {child.min}) but missing",
                )
        if profile and run.options.must_support:
            for child in container.supported:
                if child.name not in seen and child.min == 0:
                    run.add(
                        "information",
                        "informational",
                        "must-support",
                        f"{expr}.{child.name}",
                        f"must-support element {_label(child)} is absent",
                    )
        if (container.profile_checks if profile else container.base_checks) and (
            run.options.check_invariants
        ):
            self._constraints(container, obj, expr, run, profile, resource, root, type_code)

    def _unknown_key(
        self, container: ElementDef, key: str, expr: str, run: Run, profile: bool
    ) -> str | None:
        """Report a property the container does not define; the choice name when a type misfit."""
        name = key[1:] if key.startswith("_") else key
        if profile:
            for child in container.children.values():
                if child.choice and name.startswith(child.name) and len(name) > len(child.name):
                    allowed = ", ".join(child.type_codes)
                    run.add(
                        "error",
                        "structure",
                        "type",
                        f"{expr}.{name}",
                        f"{name} is not allowed by the profile: {child.name}[x] only {allowed}",
                    )
                    return child.name
            return None
        if key != "fhir_comments":
            run.add(
                "error",
                "structure",
                "unknown-element",
                f"{expr}.{name}",
                f"unknown element {name!r} in {container.path}",
            )
        return None

    def _check_child(
        self,
        child: ElementDef,
        entries: list[tuple[str, Any, str]],
        expr: str,
        run: Run,
        profile: bool,
        resource: dict[str, Any],
        root: Any,
    ) -> None:
        """The JSON properties of a choice element, or of a primitive with a ``_`` sibling."""
        if len(entries) == 1 and entries[0][0][0] != "_":
            key, value, code = entries[0]
            items = _items(child, key, value, code, expr, run, profile)
        else:
            items = self._collect_items(child, entries, expr, run, profile)
        count = len(items)
        if count < child.min or count > child.max >= 0:
            _cardinality(child, count, expr, run)
        if not profile or child.walk:
            for where, v, u, code in items:
                self._check_value(child, code, v, u, where, run, profile, resource, root)
        if profile and child.slices and child.slicing is not None:
            self._check_slices(child, items, expr, run, resource, root)

    def _check_one(
        self,
        child: ElementDef,
        key: str,
        value: Any,
        code: str,
        expr: str,
        run: Run,
        profile: bool,
        resource: dict[str, Any],
        root: Any,
    ) -> None:
        """One JSON property of ``child`` (no ``_`` sibling, not a choice)."""
        if child.slices and profile:
            self._check_child(child, [(key, value, code)], expr, run, profile, resource, root)
            return
        if isinstance(value, list):
            if not profile and (child.base_max == 1 or not value):
                _json_shape(child, key, value, expr, run, " and must be a JSON array")
            count = 0
            for i, v in enumerate(value):
                if v is None:
                    if not profile:
                        _null(f"{expr}.{key}[{i}]", run)
                    continue
                count += 1
                where = f"{expr}.{key}[{i}]"
                self._check_value(child, code, v, None, where, run, profile, resource, root)
        else:
            if not profile and child.base_max != 1:
                _json_shape(child, key, value, expr, run, " and must be a JSON array")
            count = 1
            where = f"{expr}.{key}"
            self._check_value(child, code, value, None, where, run, profile, resource, root)
        if count < child.min or count > child.max >= 0:
            _cardinality(child, count, expr, run)

    def _collect_items(
        self,
        child: ElementDef,
        entries: list[tuple[str, Any, str]],
        expr: str,
        run: Run,
        profile: bool,
    ) -> list[Item]:
        keys = {k.lstrip("_") for k, _, _ in entries}
        if child.choice and len(keys) > 1:
            run.add(
                "error",
                "structure",
                "choice-type",
                f"{expr}.{child.name}[x]",
                f"only one of {', '.join(sorted(keys))} may be present ({child.name}[x] is a "
                "single element)",
            )
        repeating = child.base_max != 1
        items: list[Item] = []
        for key in sorted(keys):
            code = next(c for k, _, c in entries if k.lstrip("_") == key)
            value = obj_get(entries, key)
            under = obj_get(entries, "_" + key)
            if not profile:
                for raw, label in ((value, key), (under, "_" + key)):
                    if raw is not None:
                        _json_shape(child, label, raw, expr, run, ": use a JSON array")
            values = value if isinstance(value, list) else ([] if value is None else [value])
            unders = under if isinstance(under, list) else ([] if under is None else [under])
            n = max(len(values), len(unders))
            for i in range(n):
                v = values[i] if i < len(values) else None
                u = unders[i] if i < len(unders) else None
                if v is None and u is None:
                    if not profile:
                        _null(f"{expr}.{key}[{i}]", run)
                    continue
                where = (
                    f"{expr}.{key}[{i}]"
                    if (repeating or isinstance(value, list))
                    else (f"{expr}.{key}")
                )
                items.append((where, v, u, code))
        return items

    # -- values ----------------------------------------------------------------------------------

    def _check_value(
        self,
        node: ElementDef,
        code: str,
        value: Any,
        under: Any,
        expr: str,
        run: Run,
        profile: bool,
        resource: dict[str, Any],
        root: Any,
    ) -> None:
        if node.choice and node.types and code not in node.type_codes:
            run.add(
                "error",
                "structure",
                "type",
                expr,
                f"type {code} is not allowed here ({node.name}[x] only "
                f"{', '.join(node.type_codes)})",
            )
            return
        typed = node.type_slices.get(code, node) if node.type_slices else node
        if code in PRIMITIVE_TYPES:
            if value is not None:
                if not profile:
                    error = primitive_error(code, value, self._regex(code))
                    if error is not None:
                        _format_issue(error, value, expr, run)
                        return
                if typed.fixed is not None or typed.pattern is not None:
                    self._fixed_pattern(typed, value, expr, run)
                if typed.binding_vs is not None and code in ("code", "string", "uri"):
                    self._binding(typed, [(None, str(value))], expr, run)
            if under is not None and not profile:
                if not isinstance(under, dict):
                    run.add(
                        "error",
                        "structure",
                        "type",
                        expr,
                        "a primitive's _ sibling must be a JSON object",
                    )
                else:
                    element = self.type_plan("Element")
                    if element is not None:
                        self._check_object(
                            element.root,
                            under,
                            expr,
                            run,
                            False,
                            resource,
                            root,
                            "Element",
                            node.path,
                        )
            return
        if not isinstance(value, dict):
            run.add(
                "error",
                "structure",
                "type",
                expr,
                f"expected a JSON object ({code}), got {type(value).__name__} {value!r:.60}",
            )
            return
        if node.resource_slot or code == "Resource":
            if not profile:
                if node.name == "contained":  # contained: meta.profile only, never the map
                    self.check_resource(value, expr, run, meta_profiles(value), root)
                else:
                    self.check_resource(value, expr, run, self._profiles(value, run))
            return
        if typed.fixed is not None or typed.pattern is not None:
            self._fixed_pattern(typed, value, expr, run)
        if typed.binding_vs is not None:
            if code == "CodeableConcept":
                raw_codings = value.get("coding")
                codings = raw_codings if isinstance(raw_codings, list) else []
                pairs = [
                    (c.get("system"), str(c.get("code")))
                    for c in codings
                    if isinstance(c, dict) and "code" in c
                ]
                self._binding(typed, pairs, expr, run)
            elif code in ("Coding", "Quantity") and "code" in value:
                self._binding(typed, [(value.get("system"), str(value["code"]))], expr, run)
        if code == "Reference":
            self._reference(typed, value, expr, run, resource)
        if not profile:
            if code == "Coding":
                self._coding(value, expr, run)
            elif code == "Quantity" or _quantity_like(code):
                self._ucum(value, expr, run)
            elif code == "Extension":
                self._extension(value, expr, run, resource)
        elif code == "Extension" and typed.types and typed.types[0].profiles:
            for url in typed.types[0].profiles:
                ext_plan = self.plan(url)
                if ext_plan is not None:
                    self._check_object(
                        ext_plan.root, value, expr, run, True, resource, root, "Extension"
                    )
        container = self._container_for(typed, code, profile)
        if container is None and typed is not node:
            container = self._container_for(node, code, profile)
        if container is not None:
            holder = run.holder  # the extensions inside an Extension must not change its holder
            self._check_object(container, value, expr, run, profile, resource, root, code)
            run.holder = holder
        if (
            container is not typed
            and (typed.profile_checks if profile else typed.base_checks)
            and (run.options.check_invariants)
        ):
            skip = {c.key for c in container.constraints} if container is not None else None
            self._constraints(typed, value, expr, run, profile, resource, root, code, skip=skip)

    def _profiles(self, resource: dict[str, Any], run: Run) -> list[str]:
        if run.profiles_for is not None:
            return run.profiles_for(resource)
        return meta_profiles(resource)

    def _fixed_pattern(self, node: ElementDef, value: Any, expr: str, run: Run) -> None:
        if node.fixed is not None and value != node.fixed:
            run.add(
                "error",
                "value",
                "fixed",
                expr,
                f"value must be exactly {_short(node.fixed)}, found {_short(value)}",
            )
        if node.pattern is not None and not self._matcher(node.pattern)(value):
            run.add(
                "error",
                "value",
                "pattern",
                expr,
                f"value must match the pattern {_short(node.pattern)}, found {_short(value)}",
            )

    def _binding(self, node: ElementDef, pairs: list[tuple[Any, str]], expr: str, run: Run) -> None:
        strength, url = node.binding_strength, node.binding_vs
        if not pairs or url is None or strength not in ("required", "extensible", "preferred"):
            return
        expansion = self.registry.expand(url)
        if expansion is None:
            if strength == "required":
                run.add_once(
                    f"vs:{url}",
                    "information",
                    "informational",
                    "binding-unexpandable",
                    expr,
                    f"value set {url} cannot be expanded offline; codes bound to "
                    "it are not checked",
                )
            return
        if any(expansion.contains(s if isinstance(s, str) else None, c) for s, c in pairs):
            return
        shown = ", ".join(f"{s}#{c}" if s else c for s, c in pairs)
        if strength == "required":
            run.add(
                "error",
                "code-invalid",
                "binding-required",
                expr,
                f"{shown} is not in the required value set {url}",
            )
            return
        systems = {s for s, _ in expansion.pairs}
        if any(isinstance(s, str) and s in systems for s, _ in pairs):
            run.add(
                "warning",
                "code-invalid",
                f"binding-{strength}",
                expr,
                f"{shown} is not in the {strength} value set {url}",
            )

    def _coding(self, value: dict[str, Any], expr: str, run: Run) -> None:
        system, code = value.get("system"), value.get("code")
        if not isinstance(system, str) or not isinstance(code, str):
            return
        index = self.code_system(system)
        if index is None:
            return
        accepted = index.displays.get(code)
        if accepted is None:
            if index.complete:
                self._unknown_code(system, code, expr, run)
            return
        display = value.get("display")
        if isinstance(display, str) and accepted and _display_key(display) not in accepted:
            # As the HL7 validator: a display the CodeSystem does not give is a warning.
            run.add(
                "warning",
                "code-invalid",
                "display",
                f"{expr}.display",
                f"display {display!r} is not a display of {system}#{code} "
                f"(expected {_expected_display(self.registry.get(system), code)!r})",
            )

    def _unknown_code(self, system: str, code: str, expr: str, run: Run) -> None:
        if system.startswith(_THO):
            # THO code systems have grown since the copies frozen in hl7.fhir.r4.core 4.0.1:
            # a code missing there may be valid today (required bindings still apply).
            run.add(
                "warning",
                "code-invalid",
                "code-unknown",
                f"{expr}.code",
                f"{code!r} is not a code of {system} as published in hl7.fhir.r4.core#4.0.1",
            )
            return
        run.add(
            "error",
            "code-invalid",
            "code-unknown",
            f"{expr}.code",
            f"{code!r} is not a code of {system}",
        )

    def _ucum(self, value: dict[str, Any], expr: str, run: Run) -> None:
        if not run.options.ucum or value.get("system") != UCUM_SYSTEM:
            return
        unit = value.get("code")
        if isinstance(unit, str) and unit:
            error = ucum_error(unit)
            if error is not None:
                run.add(
                    "error",
                    "code-invalid",
                    "ucum",
                    f"{expr}.code",
                    f"{unit!r} is not a valid UCUM unit ({error})",
                )

    def _extension(
        self, value: dict[str, Any], expr: str, run: Run, resource: dict[str, Any]
    ) -> None:
        url = value.get("url")
        if not isinstance(url, str) or ":" not in url:
            return  # no url, or the relative url of a part of a complex extension (its parent's)
        ext = self.plan(url)
        if ext is None:
            run.add_once(
                f"ext:{url}",
                "information",
                "informational",
                "extension-unknown",
                expr,
                f"extension definition {url} is not in the loaded packages; "
                "its content is checked as a plain Extension",
            )
            return
        if ext.type != "Extension":
            run.add("error", "invalid", "extension", expr, f"{url} is not an extension definition")
            return
        holder_def = run.holder
        holder = _element_path(
            expr.rsplit(".", 1)[0],
            run.resource_exprs.get(id(resource)),
            str(resource.get("resourceType", "")),
        )
        contexts = extension_contexts().get(url, ext.contexts)
        if contexts and not any(
            self._context_ok(c, holder) or self._context_ok(c, holder_def) for c in contexts
        ):
            run.add(
                "error",
                "business-rule",
                "extension-context",
                expr,
                f"extension {url} is not allowed on {holder} (contexts: {', '.join(contexts)})",
            )
        resource = value  # the extension's own checks need no resource context
        self._check_object(ext.root, value, expr, run, True, resource, resource, "Extension")
        run.holder = holder_def

    def _context_ok(self, context: str, holder: str) -> bool:
        if context in _GENERIC_CONTEXTS or context == holder:
            return True
        if context.endswith("[x]"):
            stem = context[:-3]
            return holder.startswith(stem) and holder[len(stem) :][:1].isupper()
        if "." not in context:
            # A data-type context (e.g. Quantity): the holder's type is not tracked, accept it.
            plan = self.type_plan(context)
            return plan is not None and plan.kind != "resource"
        return False

    def _reference(
        self, node: ElementDef, value: dict[str, Any], expr: str, run: Run, resource: dict[str, Any]
    ) -> None:
        reference = value.get("reference")
        if not isinstance(reference, str) or not reference:
            return
        targets = [p for t in node.types if t.code == "Reference" for p in t.target_profiles]
        target = self._resolve(reference, run, resource)
        ref_type: str | None
        if target is not None:
            found_type = target.get("resourceType") if isinstance(target, dict) else None
            ref_type = found_type if isinstance(found_type, str) else None
        elif reference.startswith("urn:uuid:") and run.bundle is not None:
            run.add(
                "error",
                "not-found",
                "bundle-reference",
                f"{expr}.reference",
                f"{reference} does not resolve to an entry of the Bundle",
            )
            return
        else:
            ref_type = _type_from_reference(reference)
            if (
                ref_type is not None
                and run.bundle is not None
                and (run.bundle.bundle_type in ("document", "collection", "message"))
            ):
                run.add(
                    "warning",
                    "not-found",
                    "bundle-reference",
                    f"{expr}.reference",
                    f"{reference} does not resolve inside the Bundle",
                )
        typed = value.get("type")
        if isinstance(typed, str) and ref_type is not None and typed != ref_type:
            run.add(
                "error",
                "value",
                "reference-type",
                f"{expr}.type",
                f"Reference.type {typed} does not match the referenced {ref_type}",
            )
        if not targets or ref_type is None:
            return
        unknown = [
            p for p in targets if not p.startswith(_CORE_SD) and self.registry.sd_type(p) is None
        ]
        if unknown:
            # A target profile we do not hold (e.g. US Core behind mCODE): its type is unknown,
            # so any target may be right; say so once instead of guessing from its URL.
            run.add_once(
                f"target:{unknown[0]}",
                "information",
                "informational",
                "profile-unknown",
                expr,
                f"target profile {unknown[0]} is not in the loaded packages; references it "
                "allows are not type-checked",
            )
            return
        allowed = {self.registry.sd_type(p) or p.rsplit("/", 1)[-1] for p in targets}
        if "Resource" in allowed:
            return
        if ref_type not in allowed:
            run.add(
                "error",
                "structure",
                "reference-target",
                expr,
                f"reference to {ref_type} is not allowed here (allowed: "
                f"{', '.join(sorted(a for a in allowed if a))})",
            )
            return
        if target is None or not isinstance(target, dict):
            return
        profiles = [
            p
            for p in targets
            if not p.startswith(_CORE_SD) and self.registry.sd_type(p) == ref_type
        ]
        if profiles and not any(self.conforms(target, p, run) for p in profiles):
            run.add(
                "error",
                "structure",
                "reference-target",
                expr,
                f"the referenced {ref_type} does not conform to {', '.join(profiles)}",
            )

    def _resolve(self, reference: str, run: Run, resource: dict[str, Any]) -> Any:
        if reference.startswith("#"):
            for c in resource.get("contained", []) or []:
                if isinstance(c, dict) and c.get("id") == reference[1:]:
                    return c
            return None
        bundle = run.bundle
        if bundle is None:
            return None
        found = bundle.by_full_url.get(reference)
        if found is not None:
            return found
        parts = reference.split("/")
        if len(parts) >= 2:
            if len(parts) >= 4 and parts[-2] == "_history":
                parts = parts[:-2]
            return bundle.by_type_id.get((parts[-2], parts[-1]))
        return None

    # -- slicing ---------------------------------------------------------------------------------

    def _check_slices(
        self,
        child: ElementDef,
        items: list[Item],
        expr: str,
        run: Run,
        resource: dict[str, Any],
        root: Any,
    ) -> None:
        slicing = child.slicing
        if slicing is None:
            return
        counts = {s.slice_name: 0 for s in child.slices}
        for where, value, under, code in items:
            match = None
            for candidate in child.slices:
                if self._slice_matches(candidate, slicing.discriminators, value, code):
                    match = candidate
                    break
            if match is None:
                if slicing.rules == "closed":
                    run.add(
                        "error",
                        "structure",
                        "slicing",
                        where,
                        f"item matches no slice of {child.path} and the slicing is closed",
                    )
                continue
            counts[match.slice_name] += 1
            self._check_value(match, code, value, under, where, run, True, resource, root)
        for s in child.slices:
            _cardinality(s, counts[s.slice_name], expr, run, child)

    def _slice_matches(
        self, slice_def: ElementDef, discriminators: tuple[Any, ...], value: Any, code: str
    ) -> bool:
        for disc in discriminators:
            if disc.type == "type":
                if code not in slice_def.type_codes:
                    return False
                continue
            if disc.type == "profile":
                continue
            target, expected, kind = self._discriminator_value(slice_def, disc.path)
            if kind is None:
                return False
            actual = _walk_path(value, disc.path)
            if disc.type == "exists":
                if bool(actual) != (target is not None and target.min > 0):
                    return False
                continue
            if not actual:
                return False
            if kind == "fixed":
                if not any(a == expected for a in actual):
                    return False
            elif not any(self._matcher(expected)(a) for a in actual):
                return False
        return True

    def _discriminator_value(
        self, slice_def: ElementDef, path: str
    ) -> tuple[ElementDef | None, Any, str | None]:
        key = (id(slice_def), path)
        found = self._discriminators.get(key)
        if found is None:
            found = self._discriminators[key] = self._find_discriminator(slice_def, path)
        return found

    def _find_discriminator(
        self, slice_def: ElementDef, path: str
    ) -> tuple[ElementDef | None, Any, str | None]:
        node: ElementDef | None = slice_def
        if path not in ("$this", ""):
            for part in path.split("."):
                if node is None:
                    break
                part = part.removesuffix("[x]")
                nxt = node.children.get(part)
                if nxt is None and part == "url" and node.types and node.types[0].profiles:
                    return None, node.types[0].profiles[0], "fixed"
                node = nxt
        if node is None:
            return None, None, None
        if node.fixed is not None:
            return node, node.fixed, "fixed"
        if node.pattern is not None:
            return node, node.pattern, "pattern"
        if node.min > 0:
            return node, None, "exists"
        return node, None, None

    # -- invariants ------------------------------------------------------------------------------

    def _constraints(
        self,
        node: ElementDef,
        value: dict[str, Any],
        expr: str,
        run: Run,
        profile: bool,
        resource: dict[str, Any],
        root: Any,
        type_code: str,
        skip: set[str] | None = None,
    ) -> None:
        for constraint in node.profile_checks if profile else node.base_checks:
            key = constraint.key
            if skip and key in skip:
                continue
            if constraint.best_practice:
                severity = run.options.best_practice
                if severity is None:
                    continue
            else:
                severity = "warning" if constraint.severity == "warning" else "error"
            guard = constraint.guard
            if guard is not None and (
                not present(value, guard)
                if constraint.guard_choice
                else guard not in value and "_" + guard not in value
            ):
                continue
            native = self.invariants.native(constraint)
            if native is not None:
                try:
                    outcome: bool | str = native(value, root)
                except (TypeError, AttributeError):
                    # Malformed content (e.g. an object where a list belongs): the structure
                    # checks report it; the invariant is not meaningful on it.
                    outcome = True
            else:
                res_copy = run.copy_of(resource)
                root_copy = res_copy if root is resource else run.copy_of(root)
                focus = res_copy if value is resource else json_copy(value)
                type_path = (
                    type_code
                    if node.path.count(".") == 0 or type_code not in ("BackboneElement", "Element")
                    else node.path
                )
                outcome = self.invariants.evaluate(
                    constraint, focus, type_path, res_copy, root_copy
                )
            if outcome is True:
                continue
            if outcome is False:
                run.add(
                    severity,
                    "invariant",
                    key,
                    expr,
                    f"{key}: {constraint.human} [{constraint.expression}]",
                )
            else:
                run.add_once(
                    f"inv:{key}:{constraint.expression}",
                    "information",
                    "not-supported",
                    key,
                    expr,
                    f"invariant {key} was not checked: {outcome}",
                )


def meta_profiles(resource: dict[str, Any]) -> list[str]:
    """The profile URLs a resource claims in ``meta.profile``."""
    meta = resource.get("meta")
    found = meta.get("profile") if isinstance(meta, dict) else None
    return [p for p in found if isinstance(p, str)] if isinstance(found, list) else []


def _display_key(display: str) -> str:
    """Displays compare without regard to case and runs of white space (as the HL7 validator)."""
    return " ".join(display.split()).casefold()


def _expected_display(cs: dict[str, Any] | None, code: str) -> str:
    stack = list((cs or {}).get("concept", []))
    while stack:
        c = stack.pop()
        if c.get("code") == code:
            return str(c.get("display", ""))
        stack.extend(c.get("concept", []))
    return ""


def obj_get(entries: list[tuple[str, Any, str]], key: str) -> Any:
    for k, v, _ in entries:
        if k == key:
            return v
    return None


def _format_issue(error: str, value: Any, expr: str, run: Run) -> None:
    """Report a primitive value that breaks the format of its type (``primitive_error``)."""
    rule = "empty-string" if value == "" else "type"
    run.add("error", "value" if rule == "type" else "invalid", rule, expr, error)


def _items(
    child: ElementDef, key: str, value: Any, code: str, expr: str, run: Run, profile: bool
) -> list[Item]:
    """The values of one JSON property without a ``_`` sibling; the base pass reports its
    JSON shape and its ``null`` items."""
    if not isinstance(value, list):
        if not profile and child.base_max != 1:
            _json_shape(child, key, value, expr, run, " and must be a JSON array")
        return [(f"{expr}.{key}", value, None, code)]
    if not profile:
        _json_shape(child, key, value, expr, run, " and must be a JSON array")
    if not profile and None in value:
        for i in (i for i, v in enumerate(value) if v is None):
            _null(f"{expr}.{key}[{i}]", run)
    return [(f"{expr}.{key}[{i}]", v, None, code) for i, v in enumerate(value) if v is not None]


def _json_shape(
    child: ElementDef, label: str, raw: Any, expr: str, run: Run, repeats_hint: str
) -> None:
    """A JSON array where the base allows one value, an empty array, or a lone value where the
    element repeats (``repeats_hint`` ends that message)."""
    if isinstance(raw, list):
        if child.base_max == 1:
            run.add(
                "error",
                "structure",
                "array",
                f"{expr}.{label}",
                f"{label} has max 1 and must not be a JSON array",
            )
        elif not raw:
            run.add(
                "error",
                "structure",
                "empty-array",
                f"{expr}.{label}",
                f"{label} is an empty array (omit the element instead)",
            )
    elif child.base_max != 1:
        run.add(
            "error",
            "structure",
            "array",
            f"{expr}.{label}",
            f"{label} repeats (max {child.max_text()}){repeats_hint}",
        )


def _null(where: str, run: Run) -> None:
    run.add(
        "error",
        "structure",
        "null",
        where,
        "null is only allowed in an array paired with a _ sibling",
    )


def _cardinality(
    node: ElementDef, count: int, expr: str, run: Run, owner: ElementDef | None = None
) -> None:
    """``count`` values of ``node`` (or of ``node``, a slice of ``owner``) in the object at
    ``expr``, against its min and max."""
    if count < node.min:
        run.add(
            "error",
            "required",
            "cardinality",
            f"{expr}.{(owner or node).name}",
            f"{_count_label(node, owner)}: minimum {node.min}, found {count}",
        )
    if node.max >= 0 and count > node.max:
        run.add(
            "error",
            "structure",
            "cardinality",
            f"{expr}.{(owner or node).name}",
            f"{_count_label(node, owner)}: maximum {node.max}, found {count}",
        )


def _count_label(node: ElementDef, owner: ElementDef | None) -> str:
    return _label(node) if owner is None else f"slice {owner.name}:{node.slice_name}"


_INDEX = re.compile(r"\[\d+\]")


def _element_path(expr: str, resource_expr: str | None, rtype: str) -> str:
    """``Bundle.entry[0].resource.target[1]`` -> ``Provenance.target`` (no indices)."""
    if resource_expr is not None and expr.startswith(resource_expr):
        expr = rtype + expr[len(resource_expr) :]
    return _INDEX.sub("", expr)


def _quantity_like(code: str) -> bool:
    return code in ("Age", "Duration", "Distance", "Count", "SimpleQuantity", "MoneyQuantity")


def _label(node: ElementDef) -> str:
    name = node.path
    if node.slice_name:
        name += f":{node.slice_name}"
    return name


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def matches_pattern(value: Any, pattern: Any) -> bool:
    """FHIR pattern semantics: every property of the pattern is present with a matching value."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        for key, expected in pattern.items():
            got = value.get(key)
            if got is None or not matches_pattern(got, expected):
                return False
        return True
    if isinstance(pattern, list):
        values = value if isinstance(value, list) else [value]
        for expected in pattern:
            for got in values:
                if matches_pattern(got, expected):
                    break
            else:
                return False
        return True
    if isinstance(value, list):
        return any(matches_pattern(v, pattern) for v in value)
    return bool(value == pattern)


def compile_pattern(pattern: Any) -> Callable[[Any], bool]:
    """A function equivalent to ``lambda v: matches_pattern(v, pattern)``, built once.

    A dict of scalars (a Coding, an Identifier...) becomes one flat comparison, and a list of them
    (``CodeableConcept.coding``) one loop, instead of a recursion per property.
    """
    if isinstance(pattern, dict):
        if all(not isinstance(v, dict | list) for v in pattern.values()):
            flat = tuple(pattern.items())

            def flat_dict(value: Any) -> bool:
                if not isinstance(value, dict):
                    return False
                for key, expected in flat:
                    got = value.get(key)
                    if got != expected and not (
                        isinstance(got, list) and matches_pattern(got, expected)
                    ):
                        return False
                return True

            return flat_dict
        parts = tuple((k, compile_pattern(v)) for k, v in pattern.items())

        def nested_dict(value: Any) -> bool:
            if not isinstance(value, dict):
                return False
            for key, match in parts:
                got = value.get(key)
                if got is None or not match(got):
                    return False
            return True

        return nested_dict
    if isinstance(pattern, list):
        items = tuple(compile_pattern(p) for p in pattern)

        def each(value: Any) -> bool:
            values = value if isinstance(value, list) else [value]
            for match in items:
                for got in values:
                    if match(got):
                        break
                else:
                    return False
            return True

        return each

    def scalar(value: Any) -> bool:
        if isinstance(value, list):
            return any(scalar(v) for v in value)
        return bool(value == pattern)

    return scalar


def _walk_path(value: Any, path: str) -> list[Any]:
    current = [value]
    if path in ("$this", ""):
        return current
    for part in path.split("."):
        part = part.removesuffix("[x]")
        nxt: list[Any] = []
        for item in current:
            if not isinstance(item, dict):
                continue
            got = item.get(part)
            if got is None:
                got = choice_value(item, part)
            if isinstance(got, list):
                nxt.extend(got)
            elif got is not None:
                nxt.append(got)
        current = nxt
    return current


def _type_from_reference(reference: str) -> str | None:
    if reference.startswith(("urn:", "#")):
        return None
    parts = reference.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return parts[-2]
    return None
