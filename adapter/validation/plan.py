"""Compile a StructureDefinition snapshot once into a tree of :class:`ElementDef` (a checking plan).

Walking ``snapshot.element`` for every resource is slow; the plan holds, per element, everything the
checker needs (cardinality, types, JSON keys incl. choice variants, binding, fixed/pattern value,
constraints, slicing) and a ``keymap`` from JSON property names to child definitions.

Element ids follow https://hl7.org/fhir/R4/elementdefinition.html#id: ``Observation.component``,
slices ``Observation.component:mrdLod``, type slices ``Observation.value[x]:valueQuantity``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

_FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
_REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
_CORE_SD = "http://hl7.org/fhir/StructureDefinition/"
_BEST_PRACTICE_EXT = "http://hl7.org/fhir/StructureDefinition/elementdefinition-bestpractice"
_SYSTEM_TYPES = {
    "http://hl7.org/fhirpath/System.String": "string",
    "http://hl7.org/fhirpath/System.Boolean": "boolean",
    "http://hl7.org/fhirpath/System.Integer": "integer",
    "http://hl7.org/fhirpath/System.Decimal": "decimal",
    "http://hl7.org/fhirpath/System.Date": "date",
    "http://hl7.org/fhirpath/System.DateTime": "dateTime",
    "http://hl7.org/fhirpath/System.Time": "time",
}

#: Guards: ``X.empty() or ...`` (and similar) is true when the focus has no ``X``; skip evaluation.
_GUARD = re.compile(
    r"^(\w+)(?:\.\w+)*\.(?:empty\(\)(?: or |$)|exists\(\) implies |hasValue\(\)\.not\(\) or )"
)


@dataclass(frozen=True, slots=True)
class TypeRef:
    code: str
    profiles: tuple[str, ...] = ()
    target_profiles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Constraint:
    key: str
    severity: str
    human: str
    expression: str
    source: str
    best_practice: bool
    guard: str | None
    #: the guard names a choice element (``value`` matches ``valueQuantity``)
    guard_choice: bool = True


@dataclass(frozen=True, slots=True)
class Discriminator:
    type: str
    path: str


@dataclass(frozen=True, slots=True)
class Slicing:
    discriminators: tuple[Discriminator, ...]
    rules: str
    ordered: bool


@dataclass(eq=False, slots=True)
class ElementDef:
    id: str
    path: str
    name: str
    choice: bool
    min: int
    max: int
    base_max: int
    types: tuple[TypeRef, ...]
    content_ref: str | None = None
    binding_strength: str | None = None
    binding_vs: str | None = None
    fixed: Any = None
    pattern: Any = None
    constraints: tuple[Constraint, ...] = ()
    must_support: bool = False
    slicing: Slicing | None = None
    slice_name: str | None = None
    slices: list[ElementDef] = field(default_factory=list)
    children: dict[str, ElementDef] = field(default_factory=dict)
    type_slices: dict[str, ElementDef] = field(default_factory=dict)
    #: JSON property -> (child, type code); choice variants and ``_x`` primitive siblings.
    keymap: dict[str, tuple[ElementDef, str]] = field(default_factory=dict)
    regex: re.Pattern[str] | None = None
    #: children with min > 0, and must-support children (filled when children are known)
    required: tuple[ElementDef, ...] = ()
    supported: tuple[ElementDef, ...] = ()
    base_min: int = 0
    type_codes: tuple[str, ...] = ()
    #: the element holds a whole resource (Bundle.entry.resource, contained, ...)
    resource_slot: bool = False
    #: constraints worth evaluating: all but ele-1 (checked natively), and the profile's own ones
    base_checks: tuple[Constraint, ...] = ()
    profile_checks: tuple[Constraint, ...] = ()
    #: profile pass: False when this element and all below it say nothing the base does not
    interesting: bool = True
    #: profile pass: values of this element need a check of their own (beyond slicing)
    walk: bool = True
    #: base pass: a lone primitive value (max 1 in the base) needs no more than its format check
    plain: bool = False

    def __post_init__(self) -> None:
        self.type_codes = tuple(t.code for t in self.types)
        self.resource_slot = bool(self.types) and self.types[0].code == "Resource"

    def max_text(self) -> str:
        return "*" if self.max < 0 else str(self.max)


@dataclass(eq=False, slots=True)
class Plan:
    url: str
    type: str
    kind: str
    derivation: str
    abstract: bool
    root: ElementDef
    by_id: dict[str, ElementDef]
    contexts: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None


def _int_max(text: object) -> int:
    if text is None or text == "*":
        return -1
    try:
        return int(str(text))
    except ValueError:
        return -1


def _type_code(raw: dict[str, Any], base_path: str) -> str:
    code = str(raw.get("code", ""))
    if base_path == "Resource.id":
        return "id"
    if code.startswith("http://hl7.org/fhirpath/System."):
        for ext in raw.get("extension", []):
            if ext.get("url") == _FHIR_TYPE_EXT and "valueUrl" in ext:
                return str(ext["valueUrl"])
        return _SYSTEM_TYPES.get(code, "string")
    return code


def _first_with_prefix(element: dict[str, Any], prefix: str) -> Any:
    for key, value in element.items():
        if key.startswith(prefix) and len(key) > len(prefix) and key[len(prefix)].isupper():
            return value
    return None


def _regex_of(element: dict[str, Any]) -> re.Pattern[str] | None:
    """The primitive's ``regex`` extension, with the character classes of the XML Schema / Java
    regexes it was written for: ``\\s`` is ASCII white space only, so ``\\S`` accepts a
    non-breaking space in a string (``re.ASCII``; the class is still any Unicode character)."""
    for t in element.get("type", []):
        for ext in t.get("extension", []):
            if ext.get("url") == _REGEX_EXT and "valueString" in ext:
                return re.compile(str(ext["valueString"]), re.ASCII)
    return None


def _make_def(element: dict[str, Any]) -> ElementDef:
    path = str(element["path"])
    eid = str(element.get("id", path))
    last = path.rsplit(".", 1)[-1]
    choice = last.endswith("[x]")
    name = last[:-3] if choice else last
    base = element.get("base") or {}
    base_path = str(base.get("path", path))
    max_ = _int_max(element.get("max", "*"))
    types = tuple(
        TypeRef(
            _type_code(t, base_path),
            tuple(str(p) for p in t.get("profile", [])),
            tuple(str(p) for p in t.get("targetProfile", [])),
        )
        for t in element.get("type", [])
    )
    constraints = []
    for c in element.get("constraint", []):
        expression = c.get("expression")
        if not expression:
            continue
        match = _GUARD.match(expression)
        constraints.append(
            Constraint(
                key=str(c.get("key", "")),
                severity=str(c.get("severity", "error")),
                human=str(c.get("human", "")),
                expression=str(expression),
                source=str(c.get("source", "")),
                best_practice=any(
                    e.get("url") == _BEST_PRACTICE_EXT and e.get("valueBoolean")
                    for e in c.get("extension", [])
                ),
                guard=match.group(1) if match else None,
            )
        )
    slicing = None
    if "slicing" in element:
        raw = element["slicing"]
        slicing = Slicing(
            tuple(
                Discriminator(str(d.get("type")), str(d.get("path")))
                for d in raw.get("discriminator", [])
            ),
            str(raw.get("rules", "open")),
            bool(raw.get("ordered", False)),
        )
    binding = element.get("binding") or {}
    content_ref = element.get("contentReference")
    base_checks = tuple(c for c in constraints if c.key != "ele-1")
    return ElementDef(
        base_checks=base_checks,
        profile_checks=tuple(c for c in base_checks if not c.source.startswith(_CORE_SD)),
        id=eid,
        path=path,
        name=name,
        choice=choice,
        min=int(element.get("min", 0)),
        max=max_,
        base_max=_int_max(base.get("max", element.get("max", "*"))),
        base_min=int(base.get("min", element.get("min", 0))),
        types=types,
        content_ref=str(content_ref)[1:] if content_ref else None,
        binding_strength=binding.get("strength"),
        binding_vs=binding.get("valueSet"),
        fixed=_first_with_prefix(element, "fixed"),
        pattern=_first_with_prefix(element, "pattern"),
        constraints=tuple(constraints),
        must_support=bool(element.get("mustSupport", False)),
        slicing=slicing,
        slice_name=element.get("sliceName"),
        regex=_regex_of(element),
    )


def _parent_and_last(eid: str) -> tuple[str, str]:
    # Slice names never contain '.', but they may contain '[x]' (type slices).
    head, _, last = eid.rpartition(".")
    return head, last


def _upper_first(code: str) -> str:
    return code[:1].upper() + code[1:]


def _build_keymap(node: ElementDef) -> None:
    keymap: dict[str, tuple[ElementDef, str]] = {}
    for child in node.children.values():
        codes = child.type_codes or ("BackboneElement",)
        if child.content_ref:
            codes = ("BackboneElement",)
        if child.choice:
            for code in codes:
                key = child.name + _upper_first(code)
                keymap[key] = (child, code)
                keymap["_" + key] = (child, code)
        else:
            keymap[child.name] = (child, codes[0])
            keymap["_" + child.name] = (child, codes[0])
    node.keymap = keymap
    node.required = tuple(c for c in node.children.values() if c.min > 0)
    node.supported = tuple(c for c in node.children.values() if c.must_support)


def compile_structure_definition(sd: dict[str, Any]) -> Plan:
    """Compile the snapshot of a StructureDefinition into a :class:`Plan`."""
    elements = (sd.get("snapshot") or {}).get("element") or []
    if not elements:
        raise ValueError(f"StructureDefinition {sd.get('url')} has no snapshot")
    by_id: dict[str, ElementDef] = {}
    root: ElementDef | None = None
    for element in elements:
        node = _make_def(element)
        if root is None:
            root = node
            by_id[node.id] = node
            continue
        parent_id, last = _parent_and_last(node.id)
        parent = by_id.get(parent_id)
        if parent is None:
            continue
        by_id[node.id] = node
        if ":" in last:
            base_name, _, slice_name = last.partition(":")
            sliced = by_id.get(f"{parent_id}.{base_name}")
            if sliced is None:
                continue
            if (
                base_name.endswith("[x]")
                and node.types
                and len(node.types) == 1
                and (slice_name == base_name[:-3] + _upper_first(node.types[0].code))
            ):
                sliced.type_slices[node.types[0].code] = node
            else:
                sliced.slices.append(node)
            continue
        choice_owner = _choice_owner(parent, last)
        if choice_owner is not None:
            # "Observation.valueQuantity" written as a path: a type slice of value[x].
            choice_owner.type_slices[node.types[0].code if node.types else ""] = node
            continue
        parent.children[node.name] = node
    if root is None:
        raise ValueError(f"StructureDefinition {sd.get('url')} has an empty snapshot")
    for node in by_id.values():
        if node.children:
            _build_keymap(node)
            node.base_checks = _with_guards(node, node.base_checks)
            node.profile_checks = _with_guards(node, node.profile_checks)
        node.plain = (
            node.fixed is None
            and node.pattern is None
            and node.binding_vs is None
            and not node.type_slices
            and not node.slices
            and node.min <= 1
            and node.max != 0
            and node.base_max == 1
        )
    plan = Plan(
        url=str(sd.get("url", "")),
        type=str(sd.get("type", "")),
        kind=str(sd.get("kind", "")),
        derivation=str(sd.get("derivation", "specialization")),
        abstract=bool(sd.get("abstract", False)),
        root=root,
        by_id=by_id,
        contexts=tuple(str(c.get("expression", "")) for c in sd.get("context", [])),
    )
    if plan.kind == "primitive-type":
        value = by_id.get(f"{plan.type}.value")
        plan.regex = value.regex if value is not None else None
    return plan


def _with_guards(node: ElementDef, checks: tuple[Constraint, ...]) -> tuple[Constraint, ...]:
    out = []
    for c in checks:
        child = node.children.get(c.guard) if c.guard else None
        out.append(replace(c, guard_choice=child.choice) if child is not None else c)
    return tuple(out)


def _choice_owner(parent: ElementDef, last: str) -> ElementDef | None:
    if last in parent.children:
        return None
    for child in parent.children.values():
        if child.choice and last.startswith(child.name) and last != child.name:
            suffix = last[len(child.name) :]
            if any(_upper_first(t.code) == suffix for t in child.types):
                return child
    return None


def mark_interesting(
    profile: Plan, base: Plan | None, type_plan: Callable[[str], Plan | None]
) -> None:
    """Flag the elements of a profile that constrain more than the base definition does.

    An element is compared with the same path in the base resource definition, or, inside an
    expanded data type (``Observation.value[x].comparator``), with the data type's definition
    (``Quantity.comparator``).
    """
    for node in profile.by_id.values():
        original = base.by_id.get(node.path) if base is not None else None
        if original is None:
            parent_id, _, last = node.id.rpartition(".")
            parent = profile.by_id.get(parent_id)
            if parent is not None and len(parent.types) == 1:
                dtype = type_plan(parent.types[0].code)
                if dtype is not None:
                    original = dtype.by_id.get(f"{dtype.type}.{last.split(':', 1)[0]}")
        node.interesting = node.walk = _differs(node, original)
    # A parent is interesting when anything below it is (children, slices, type slices); its
    # values need walking when it or its children / type slices are (not just its slices).
    for node in reversed(list(profile.by_id.values())):
        if any(c.interesting for c in [*node.children.values(), *node.type_slices.values()]):
            node.walk = True
        node.interesting = node.walk or any(c.interesting for c in node.slices)


def _differs(node: ElementDef, original: ElementDef | None) -> bool:
    if node.fixed is not None or node.pattern is not None or node.slice_name:
        return True
    if node.min != node.base_min or node.max != node.base_max:
        return True
    if node.profile_checks:
        return True
    if original is None:
        return bool(node.binding_vs or any(t.profiles or t.target_profiles for t in node.types))
    return (
        node.types != original.types
        or node.binding_vs != original.binding_vs
        or node.binding_strength != original.binding_strength
    )
