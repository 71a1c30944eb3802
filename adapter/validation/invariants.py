"""FHIRPath invariants (``ElementDefinition.constraint``) evaluated with fhirpathpy, guarded.

Each expression is compiled once.  Evaluation is guarded three ways:

- a handful of very frequent core invariants have native implementations (``NATIVE``), used only
  when the expression text is exactly the one in hl7.fhir.r4.core#4.0.1, because at ~28 us per
  fhirpathpy call they would dominate the run time (they are checked by the tests against
  fhirpathpy on the same inputs);
- ``X.empty() or ...``-shaped expressions are true without evaluation when the focus has no ``X``;
- ``hasValue()`` is provided as a user function, ``trace()`` is silenced (dom-6 would print to
  stdout), and functions fhirpathpy lacks (``htmlChecks``, ``resolve``, ``conformsTo``,
  ``memberOf``...) make :meth:`Invariants.evaluate` answer ``None`` with the reason, which the
  caller reports once as information.

fhirpathpy may add type information to the data it is given; callers pass copies
(:func:`json_copy`), never the caller's resource.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
from collections.abc import Callable
from typing import Any

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from adapter.validation.plan import Constraint

_R4 = models["r4"]
_LOCK = threading.Lock()
_create_node: Callable[[Any, str], Any] = ResourceNode.create_node


def json_copy(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars): several times faster than deepcopy."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


def _has_value(inputs: list[Any]) -> list[bool]:
    return [len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], dict)]


_OPTIONS: dict[str, Any] = {
    "traceFn": lambda *_args: None,
    "userInvocationTable": {"hasValue": {"fn": _has_value, "arity": {0: []}}},
}


def present(focus: Any, name: str) -> bool:
    """Whether ``name`` (or ``_name``, or a choice type ``nameX``) is in ``focus``; a focus that is
    not an object counts as present (the guard does not apply)."""
    if not isinstance(focus, dict):
        return True
    return name in focus or "_" + name in focus or _present_choice(focus, name)


# -- native versions of frequent core invariants ---------------------------------------------------


def _dom2(focus: dict[str, Any], _root: Any) -> bool:
    return all("contained" not in c for c in focus.get("contained", []) if isinstance(c, dict))


def _strings(value: Any, out: set[str]) -> None:
    if isinstance(value, dict):
        for v in value.values():
            _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)
    elif isinstance(value, str) and value.startswith("#"):
        out.add(value)


def _dom3(focus: dict[str, Any], _root: Any) -> bool:
    contained = [c for c in focus.get("contained", []) if isinstance(c, dict)]
    if not contained:
        return True
    refs: set[str] = set()
    _strings(focus, refs)
    for c in contained:
        inner: set[str] = set()
        _strings(c, inner)
        if f"#{c.get('id')}" not in refs and "#" not in inner:
            return False
    return True


def _dom4(focus: dict[str, Any], _root: Any) -> bool:
    for c in focus.get("contained", []):
        meta = c.get("meta") if isinstance(c, dict) else None
        if isinstance(meta, dict) and ("versionId" in meta or "lastUpdated" in meta):
            return False
    return True


def _dom5(focus: dict[str, Any], _root: Any) -> bool:
    for c in focus.get("contained", []):
        meta = c.get("meta") if isinstance(c, dict) else None
        if isinstance(meta, dict) and meta.get("security"):
            return False
    return True


def _dom6(focus: dict[str, Any], _root: Any) -> bool:
    text = focus.get("text")
    return isinstance(text, dict) and "div" in text


def _obs6(focus: dict[str, Any], _root: Any) -> bool:
    return "dataAbsentReason" not in focus or not _present_choice(focus, "value")


def choice_value(item: dict[str, Any], name: str) -> Any:
    """The value of choice element ``name`` in ``item`` (``valueQuantity`` for ``value``)."""
    n = len(name)
    for k, v in item.items():
        if k.startswith(name) and len(k) > n and k[n].isupper():
            return v
    return None


def _present_choice(focus: dict[str, Any], name: str) -> bool:
    """Whether choice element ``name`` is present: ``valueString``, or ``_valueString`` alone (a
    primitive with only extensions is a value: https://hl7.org/fhir/R4/json.html#primitive)."""
    n = len(name)
    return any(
        (k.startswith(name) and len(k) > n and k[n].isupper())
        or (k.startswith("_" + name) and len(k) > n + 1 and k[n + 1].isupper())
        for k in focus
    )


def _obs7(focus: dict[str, Any], _root: Any) -> bool:
    if not _present_choice(focus, "value"):
        return True
    code = focus.get("code")
    codings = code.get("coding", []) if isinstance(code, dict) else []
    if not codings:
        return True
    for component in focus.get("component", []) or []:
        ccode = component.get("code") if isinstance(component, dict) else None
        if isinstance(ccode, dict) and any(c in codings for c in ccode.get("coding", []) or []):
            return False
    return True


def _ext1(focus: dict[str, Any], _root: Any) -> bool:
    return bool(focus.get("extension")) != _present_choice(focus, "value")


def _que7(focus: dict[str, Any], _root: Any) -> bool:
    """``answer is Boolean``: a FHIR ``boolean`` is a FHIRPath Boolean (the Java validator reads it
    so; fhirpathpy answers false for the FHIR type)."""
    if focus.get("operator") != "exists" or not _present_choice(focus, "answer"):
        return True
    return "answerBoolean" in focus or "_answerBoolean" in focus


# ElementDefinition invariants, evaluated on every element of every StructureDefinition.


def _eld2(focus: dict[str, Any], _root: Any) -> bool:
    low, high = focus.get("min"), focus.get("max")
    if low is None or high is None or high == "*":
        return True
    if not isinstance(high, str) or not high.lstrip("+-").isdigit():
        return True  # max.toInteger() is empty, so is the comparison: satisfied
    return bool(isinstance(low, int) and low <= int(high))


def _eld11(_focus: dict[str, Any], _root: Any) -> bool:
    """As written, eld-11 holds for every element: ``type.select(<boolean>)`` yields one boolean
    (true or false) per type with a code, so ``.exists()`` is true exactly when ``type.code`` is
    not empty, the alternative already accepted."""
    return True


def _eld12(focus: dict[str, Any], _root: Any) -> bool:
    value_set = focus.get("valueSet")
    return not isinstance(value_set, str) or value_set.startswith(("http:", "https", "urn:"))


def _distinct(items: Any, key: str) -> bool:
    values = [repr(i.get(key)) for i in items or [] if isinstance(i, dict) and key in i]
    return len(values) == len(set(values))


def _eld13(focus: dict[str, Any], _root: Any) -> bool:
    return _distinct(focus.get("type"), "code")


def _eld14(focus: dict[str, Any], _root: Any) -> bool:
    return _distinct(focus.get("constraint"), "key")


def _eld17(focus: dict[str, Any], _root: Any) -> bool:
    code = focus.get("code")
    return code is None or code in ("Reference", "canonical") or not focus.get("targetProfile")


def _eld18(focus: dict[str, Any], _root: Any) -> bool:
    return focus.get("isModifier") is not True or "isModifierReason" in focus


def _sdf9(focus: dict[str, Any], _root: Any) -> bool:
    for part in ("snapshot", "differential"):
        holder = focus.get(part)
        elements = holder.get("element") if isinstance(holder, dict) else None
        for element in elements if isinstance(elements, list) else []:
            if not isinstance(element, dict):
                continue
            path = element.get("path")
            root_element = isinstance(path, str) and "." not in path
            if root_element and any(k in element for k in ("label", "code", "requirements")):
                return False
    return True


def _vsd9(focus: dict[str, Any], _root: Any) -> bool:
    """``abstract = true`` is empty, so satisfied, when ``abstract`` is absent."""
    return "code" in focus or focus.get("abstract", True) is True


def _ref1(focus: dict[str, Any], root: Any) -> bool:
    reference = focus.get("reference")
    if not isinstance(reference, str) or not reference.startswith("#"):
        return True
    contained = root.get("contained", []) if isinstance(root, dict) else []
    return any(isinstance(c, dict) and c.get("id") == reference[1:] for c in contained)


NativeFn = Callable[[dict[str, Any], Any], bool]


def _entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    entries = bundle.get("entry")
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _bdl2(focus: dict[str, Any], _root: Any) -> bool:
    return focus.get("type") == "searchset" or all("search" not in e for e in _entries(focus))


def _bdl3(focus: dict[str, Any], _root: Any) -> bool:
    want = focus.get("type") in ("batch", "transaction", "history")
    return all(("request" in e) == want for e in _entries(focus))


def _bdl4(focus: dict[str, Any], _root: Any) -> bool:
    want = focus.get("type") in ("batch-response", "transaction-response", "history")
    return all(("response" in e) == want for e in _entries(focus))


def _bdl7(focus: dict[str, Any], _root: Any) -> bool:
    if focus.get("type") == "history":
        return True
    seen: set[str] = set()
    for entry in _entries(focus):
        full_url = entry.get("fullUrl")
        if full_url is None:
            continue
        resource = entry.get("resource")
        meta = resource.get("meta") if isinstance(resource, dict) else None
        version = meta.get("versionId") if isinstance(meta, dict) else None
        key = f"{full_url}{version if isinstance(version, str) else ''}"
        if key in seen:
            return False
        seen.add(key)
    return True


def _bdl8(focus: dict[str, Any], _root: Any) -> bool:
    full_url = focus.get("fullUrl")
    return not (isinstance(full_url, str) and "/_history/" in full_url)


def _bdl9(focus: dict[str, Any], _root: Any) -> bool:
    if focus.get("type") != "document":
        return True
    identifier = focus.get("identifier")
    return isinstance(identifier, dict) and "system" in identifier and "value" in identifier


def _bdl10(focus: dict[str, Any], _root: Any) -> bool:
    return focus.get("type") != "document" or focus.get("timestamp") is not None


def _first_resource_is(focus: dict[str, Any], rtype: str) -> bool:
    entries = _entries(focus)
    resource = entries[0].get("resource") if entries else None
    return isinstance(resource, dict) and resource.get("resourceType") == rtype


def _bdl11(focus: dict[str, Any], _root: Any) -> bool:
    return focus.get("type") != "document" or _first_resource_is(focus, "Composition")


def _bdl12(focus: dict[str, Any], _root: Any) -> bool:
    return focus.get("type") != "message" or _first_resource_is(focus, "MessageHeader")


_TERM = re.compile(r"^(\w+(?:\.\w+)*)\.(exists|empty)\(\)$")


def _path_exists(focus: Any, steps: list[str]) -> bool:
    current = [focus]
    for step in steps:
        nxt: list[Any] = []
        for item in current:
            if not isinstance(item, dict):
                continue
            got = item.get(step)
            if got is None:
                got = choice_value(item, step)
            if got is None and "_" + step in item:
                got = item["_" + step]
            if isinstance(got, list):
                nxt.extend(g for g in got if g is not None)
            elif got is not None:
                nxt.append(got)
        if not nxt:
            return False
        current = nxt
    return True


_MATCHES = re.compile(r"^(\w+(?:\.\w+)*)\.matches\('((?:[^'\\]|\\.)*)'\)$")


#: FHIRPath string escapes (http://hl7.org/fhirpath/N1/#string), ``\\uXXXX`` aside.
_ESCAPES = {
    "'": "'",
    '"': '"',
    "`": "`",
    "\\": "\\",
    "/": "/",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


def unescape_string(literal: str) -> str:
    """The value of the body of a FHIRPath string literal.  An escape the grammar does not
    define (``\\d`` written for a regex) keeps its backslash, so the regex keeps its meaning."""

    def one(match: re.Match[str]) -> str:
        escaped = match.group(1)
        if len(escaped) == 5:
            return chr(int(escaped[1:], 16))
        return _ESCAPES.get(escaped, "\\" + escaped)

    return _ESCAPE.sub(one, literal)


def _matches_native(expression: str) -> NativeFn | None:
    """``path.matches('regex')`` as fhirpathpy evaluates it: ``re.search`` on a single string,
    empty (treated as satisfied) when the path is absent.  The regex is the unescaped literal
    (eld-19 writes ``\\\\s`` in FHIRPath for the regex ``\\s``)."""
    match = _MATCHES.match(expression)
    if match is None:
        return None
    steps = match.group(1).split(".")
    try:
        regex = re.compile(unescape_string(match.group(2)), re.DOTALL)
    except re.error:
        return None

    def fn(focus: dict[str, Any], _root: Any) -> bool:
        current: Any = focus
        for step in steps:
            current = current.get(step) if isinstance(current, dict) else None
        if current is None:
            return True
        if not isinstance(current, str):
            raise TypeError("matches() on a non-string")
        return regex.search(current) is not None

    return fn


def simple_native(expression: str) -> NativeFn | None:
    """A native function for ``a.b.exists() or c.empty() ...`` (one operator kind), else None.

    Such expressions are most profile invariants and many core ones (qty-3, att-1, cpt-2, tim-*);
    their meaning needs no FHIRPath engine: presence of a path, with choice elements matched by
    prefix (``value`` matches ``valueQuantity``).
    """
    has_or, has_and = " or " in expression, " and " in expression
    if has_or and has_and:
        return None
    op = " and " if has_and else " or "
    parts = expression.split(op)
    terms = []
    for part in parts:
        match = _TERM.match(part.strip())
        if match is None:
            return None
        terms.append((match.group(1).split("."), match.group(2) == "exists"))
    use_or = op == " or "

    def fn(focus: dict[str, Any], _root: Any) -> bool:
        results = (_path_exists(focus, steps) == want for steps, want in terms)
        return any(results) if use_or else all(results)

    return fn


#: key -> (exact R4 expression, native implementation)
NATIVE: dict[str, tuple[str, NativeFn]] = {
    "dom-2": ("contained.contained.empty()", _dom2),
    "dom-3": (
        "contained.where((('#'+id in (%resource.descendants().reference | "
        "%resource.descendants().as(canonical) | %resource.descendants().as(uri) | "
        "%resource.descendants().as(url))) or descendants().where(reference = '#').exists() or "
        "descendants().where(as(canonical) = '#').exists() or "
        "descendants().where(as(canonical) = '#').exists()).not()).trace('unmatched', id).empty()",
        _dom3,
    ),
    "dom-4": ("contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()", _dom4),
    "dom-5": ("contained.meta.security.empty()", _dom5),
    "dom-6": ("text.`div`.exists()", _dom6),
    "obs-6": ("dataAbsentReason.empty() or value.empty()", _obs6),
    "obs-7": (
        "value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists())"
        ".empty()",
        _obs7,
    ),
    "ext-1": ("extension.exists() != value.exists()", _ext1),
    "bdl-2": ("entry.search.empty() or (type = 'searchset')", _bdl2),
    "bdl-3": (
        "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction'"
        " or %resource.type = 'history'))",
        _bdl3,
    ),
    "bdl-4": (
        "entry.all(response.exists() = (%resource.type = 'batch-response' or %resource.type = "
        "'transaction-response' or %resource.type = 'history'))",
        _bdl4,
    ),
    "bdl-7": (
        "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta."
        "versionId).isDistinct()",
        _bdl7,
    ),
    "bdl-8": ("fullUrl.contains('/_history/').not()", _bdl8),
    "bdl-9": (
        "type = 'document' implies (identifier.system.exists() and identifier.value.exists())",
        _bdl9,
    ),
    "bdl-10": ("type = 'document' implies (timestamp.hasValue())", _bdl10),
    "bdl-11": ("type = 'document' implies entry.first().resource.is(Composition)", _bdl11),
    "bdl-12": ("type = 'message' implies entry.first().resource.is(MessageHeader)", _bdl12),
    "eld-2": (
        "min.empty() or max.empty() or (max = '*') or iif(max != '*', min <= max.toInteger())",
        _eld2,
    ),
    "eld-11": (
        "binding.empty() or type.code.empty() or type.select((code = 'code') or (code = 'Coding')"
        " or (code='CodeableConcept') or (code = 'Quantity') or (code = 'string') or (code = "
        "'uri')).exists()",
        _eld11,
    ),
    "eld-12": (
        "valueSet.exists() implies (valueSet.startsWith('http:') or valueSet.startsWith('https') "
        "or valueSet.startsWith('urn:'))",
        _eld12,
    ),
    "eld-13": ("type.select(code).isDistinct()", _eld13),
    "eld-14": ("constraint.select(key).isDistinct()", _eld14),
    "eld-17": ("(code='Reference' or code = 'canonical') or targetProfile.empty()", _eld17),
    "eld-18": ("(isModifier.exists() and isModifier) implies isModifierReason.exists()", _eld18),
    "sdf-9": (
        "children().element.where(path.contains('.').not()).label.empty() and children().element"
        ".where(path.contains('.').not()).code.empty() and children().element.where(path.contains"
        "('.').not()).requirements.empty()",
        _sdf9,
    ),
    "vsd-9": ("code.exists() or abstract = true", _vsd9),
    "que-7": ("operator = 'exists' implies (answer is Boolean)", _que7),
    "ref-1": (
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
        _ref1,
    ),
}

#: Functions fhirpathpy 2.2.4 does not implement (reported once as information when hit).
UNSUPPORTED = ("htmlChecks", "resolve", "conformsTo", "memberOf", "checkModifiers", "extension(")


class Invariants:
    """Compiled FHIRPath constraints, evaluated safely."""

    def __init__(self) -> None:
        self._compiled: dict[str, Callable[..., Any] | str] = {}
        self._natives: dict[tuple[str, str], NativeFn | None] = {}
        self.evaluations = 0

    def native(self, constraint: Constraint) -> NativeFn | None:
        key = (constraint.key, constraint.expression)
        if key not in self._natives:
            entry = NATIVE.get(constraint.key)
            if entry is not None and entry[0] == constraint.expression:
                self._natives[key] = entry[1]
            else:
                self._natives[key] = simple_native(constraint.expression) or _matches_native(
                    constraint.expression
                )
        return self._natives[key]

    def _compile(self, expression: str) -> Callable[..., Any] | str:
        found = self._compiled.get(expression)
        if found is None:
            for name in UNSUPPORTED:
                if name + ("" if name.endswith("(") else "(") in expression:
                    found = f"uses {name.rstrip('(')}(), which fhirpathpy does not implement"
                    break
            else:
                try:
                    found = fhirpathpy.compile(expression, _R4, _OPTIONS)
                except Exception as exc:
                    found = f"does not compile: {exc}"
            self._compiled[expression] = found
        return found

    def evaluate(
        self,
        constraint: Constraint,
        focus: Any,
        type_path: str,
        resource: Any,
        root: Any,
        *,
        shortcuts: bool = True,
    ) -> bool | str:
        """True/False, or the reason it could not be evaluated.

        ``focus``, ``resource`` and ``root`` must be copies the engine may touch.  With
        ``shortcuts=False`` the guard and the native implementations are bypassed (tests compare
        them with fhirpathpy this way).
        """
        if shortcuts:
            if constraint.guard is not None and not present(focus, constraint.guard):
                return True
            native = self.native(constraint)
            if native is not None:
                return native(focus, root) if isinstance(focus, dict) else True
        fn = self._compile(constraint.expression)
        if isinstance(fn, str):
            return fn
        self.evaluations += 1
        node = (
            focus
            if "resourceType" in (focus if isinstance(focus, dict) else {})
            else _create_node(focus, type_path)
        )
        sink = io.StringIO()
        try:
            # fhirpathpy keeps global state (constants, TypeInfo.model): one evaluation at a time.
            with _LOCK, contextlib.redirect_stdout(sink):
                result: list[Any] = fn(node, {"resource": resource, "rootResource": root})
        except Exception as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return f"could not be evaluated: {message[:200]}"
        if result == [] or result == [False]:
            return len(result) == 0
        if result == [True]:
            return True
        # A non-boolean result: FHIRPath treats a single non-boolean item as true.
        return bool(result)
