"""The guarded FHIRPath engine: natives agree with fhirpathpy, unsupported functions are reported
once, nothing is printed, and the caller's resource is never touched."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from adapter.fhir import PROFILE_PATIENT
from adapter.validation import PROFILES_PACKAGE, Validator, default_validator
from adapter.validation.invariants import (
    NATIVE,
    Invariants,
    _matches_native,
    simple_native,
    unescape_string,
)
from adapter.validation.plan import Constraint

from .conftest import HERE

_OBS: dict[str, Any] = json.loads((HERE / "resources" / "obs-anc.json").read_text())


def _constraint(key: str, expression: str) -> Constraint:
    return Constraint(key, "error", key, expression, "test", False, None)


def _fhirpath(expression: str, focus: dict[str, Any], type_path: str = "Observation") -> bool | str:
    # A key the NATIVE table does not know forces the fhirpathpy path.
    return Invariants().evaluate(
        _constraint("x-test", expression),
        copy.deepcopy(focus),
        type_path,
        focus,
        focus,
        shortcuts=False,
    )


SAMPLES: list[dict[str, Any]] = [
    _OBS,
    {**_OBS, "dataAbsentReason": {"text": "error"}},
    {**_OBS, "contained": [{"resourceType": "Patient", "id": "p"}]},
    {**_OBS, "contained": [{"resourceType": "Patient", "id": "p"}], "subject": {"reference": "#p"}},
    {**_OBS, "contained": [{"resourceType": "Patient", "id": "p", "meta": {"versionId": "1"}}]},
    {
        **_OBS,
        "contained": [
            {"resourceType": "Patient", "id": "p", "meta": {"security": [{"code": "R"}]}}
        ],
    },
    {
        **_OBS,
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'},
    },
    {**_OBS, "component": [{"code": _OBS["code"], "valueString": "x"}]},
    {**_OBS, "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "1-8"}]}}]},
]


# dom-3 is left out: fhirpathpy 2.2.4 cannot evaluate it on any resource with contained resources
# ("Expected singleton on left side of 'as'"), which is why it has a native implementation.
@pytest.mark.parametrize("key", ["dom-2", "dom-4", "dom-5", "dom-6", "obs-6", "obs-7"])
@pytest.mark.parametrize("sample", range(len(SAMPLES)))
def test_native_agrees_with_fhirpathpy(key: str, sample: int) -> None:
    expression, native = NATIVE[key]
    focus = SAMPLES[sample]
    assert native(focus, focus) is _fhirpath(expression, focus)


@pytest.mark.parametrize(
    "expression",
    [
        "code.empty() or system.exists()",
        "value.exists() or dataAbsentReason.exists()",
        "valueQuantity.value.exists() and status.exists()",
        "component.code.exists() or note.empty()",
    ],
)
@pytest.mark.parametrize("sample", range(len(SAMPLES)))
def test_simple_native_agrees_with_fhirpathpy(expression: str, sample: int) -> None:
    fn = simple_native(expression)
    assert fn is not None
    focus = SAMPLES[sample]
    assert fn(focus, focus) is _fhirpath(expression, focus)


@pytest.mark.parametrize(
    "value", ["ni:///sha-256;" + "a" * 43, "ni:///sha-256;short", "x ni:///sha-256;" + "b" * 43]
)
def test_matches_native_agrees_with_fhirpathpy(value: str) -> None:
    expression = "value.matches('^ni:///sha-256;[A-Za-z0-9_-]{43}$')"
    fn = _matches_native(expression)
    assert fn is not None
    focus = {"system": "urn:ietf:rfc:3986", "value": value}
    assert fn(focus, focus) is _fhirpath(expression, focus, "Identifier")


def test_simple_native_refuses_other_shapes() -> None:
    assert simple_native("a.exists() and b.exists() or c.exists()") is None
    assert simple_native("value.matches('x')") is None


def test_has_value_is_provided() -> None:
    bundle = {"resourceType": "Bundle", "type": "document", "timestamp": "2024-01-01T00:00:00Z"}
    assert _fhirpath("type = 'document' implies (timestamp.hasValue())", bundle) is True


def test_unsupported_function_is_a_reason_not_a_crash() -> None:
    outcome = _fhirpath("conformsTo('http://x')", _OBS)
    assert isinstance(outcome, str)
    assert "conformsTo" in outcome


def test_unsupported_reported_once_as_information() -> None:
    validator = Validator.load([PROFILES_PACKAGE])
    sd = copy.deepcopy(validator.registry.structure_definition(PROFILE_PATIENT))
    assert sd is not None
    sd["url"] = "https://example.org/StructureDefinition/needs-resolve"
    sd["snapshot"]["element"][0]["constraint"].append(
        {
            "key": "x-1",
            "severity": "error",
            "human": "needs resolve()",
            "expression": "managingOrganization.resolve().exists()",
            "source": sd["url"],
        }
    )
    validator.registry.add_resource(sd)
    patient = {"resourceType": "Patient", "identifier": [{"system": "urn:x", "value": "1"}]}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {**patient, "meta": {"profile": [sd["url"]]}}} for _ in range(3)],
    }
    issues = validator.validate(bundle)
    hits = [i for i in issues if i.rule == "x-1"]
    assert len(hits) == 1, issues
    assert hits[0].severity == "information"
    assert hits[0].code == "not-supported"
    assert "resolve" in hits[0].diagnostics
    assert not any(i.is_error for i in issues)


def test_trace_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    expression = "contained.trace('unmatched', id).empty()"
    assert _fhirpath(expression, SAMPLES[2]) is False
    assert capsys.readouterr().out == ""


def test_validator_leaves_the_input_untouched() -> None:
    resource = copy.deepcopy(SAMPLES[3])
    resource["valueQuantity"]["value"] = 0.1
    before = json.dumps(resource, sort_keys=True)
    default_validator().validate(resource)
    assert json.dumps(resource, sort_keys=True) == before


_TX: dict[str, Any] = json.loads((HERE / "resources" / "bundle-tx.json").read_text())
_COMPOSITION = {"resourceType": "Composition", "status": "final"}
BUNDLES: list[dict[str, Any]] = [
    _TX,
    {**_TX, "type": "collection"},
    {**_TX, "type": "batch-response"},
    {
        **_TX,
        "type": "searchset",
        "entry": [{**e, "search": {"mode": "match"}} for e in _TX["entry"]],
    },
    {**_TX, "entry": [*_TX["entry"], _TX["entry"][0]]},
    {**_TX, "type": "history", "entry": [*_TX["entry"], _TX["entry"][0]]},
    {
        "resourceType": "Bundle",
        "type": "document",
        "timestamp": "2024-01-01T00:00:00Z",
        "identifier": {"system": "urn:x", "value": "1"},
        "entry": [{"resource": _COMPOSITION}],
    },
    {
        "resourceType": "Bundle",
        "type": "document",
        "entry": [{"resource": {"resourceType": "Patient"}}],
    },
    {"resourceType": "Bundle", "type": "message", "entry": [{"resource": _COMPOSITION}]},
    {"resourceType": "Bundle", "type": "collection"},
]


@pytest.mark.parametrize(
    "key", ["bdl-2", "bdl-3", "bdl-4", "bdl-7", "bdl-9", "bdl-10", "bdl-11", "bdl-12"]
)
@pytest.mark.parametrize("sample", range(len(BUNDLES)))
def test_bundle_natives_agree_with_fhirpathpy(key: str, sample: int) -> None:
    expression, native = NATIVE[key]
    bundle = BUNDLES[sample]
    assert native(bundle, bundle) is _fhirpath(expression, bundle, "Bundle")


@pytest.mark.parametrize(
    "entry",
    [{"fullUrl": "urn:uuid:x"}, {"fullUrl": "https://x.org/Patient/1/_history/2"}, {}],
)
def test_bdl8_agrees_with_fhirpathpy(entry: dict[str, Any]) -> None:
    expression, native = NATIVE["bdl-8"]
    assert native(entry, entry) is _fhirpath(expression, entry, "Bundle.entry")


_ELEMENTS: list[dict[str, Any]] = [
    {"path": "X.a", "min": 0, "max": "*"},
    {"path": "X.a", "min": 2, "max": "1"},
    {"path": "X.a", "min": 1, "max": "3"},
    {"path": "X.a", "min": 1, "max": "many"},
    {"path": "X.a", "max": "1"},
    {"path": "X.a", "type": [{"code": "string"}, {"code": "string"}]},
    {"path": "X.a", "type": [{"code": "Reference", "targetProfile": ["http://x/P"]}]},
    {"path": "X.a", "constraint": [{"key": "a-1"}, {"key": "a-1"}]},
    {"path": "X.a", "constraint": [{"key": "a-1"}, {"key": "a-2"}]},
    {"path": "X.a", "isModifier": True},
    {"path": "X.a", "isModifier": True, "isModifierReason": "why"},
    {"path": "X.a", "isModifier": False},
    {"path": "X.a", "binding": {"strength": "required"}, "type": [{"code": "boolean"}]},
    {"path": "X.a", "binding": {"strength": "required"}, "type": [{"extension": []}]},
]
_TYPES: list[dict[str, Any]] = [
    {"code": "Reference", "targetProfile": ["http://x/P"]},
    {"code": "string", "targetProfile": ["http://x/P"]},
    {"code": "string"},
    {"targetProfile": ["http://x/P"]},
]
_BINDINGS: list[dict[str, Any]] = [
    {"strength": "required", "valueSet": "http://x/vs"},
    {"strength": "required", "valueSet": "ftp://x/vs"},
    {"strength": "required", "valueSet": "urn:oid:1.2"},
    {"strength": "example"},
]


@pytest.mark.parametrize(
    "item",
    [
        {"question": "q", "operator": "exists", "answerBoolean": True},
        {"question": "q", "operator": "exists", "answerString": "x"},
        {"question": "q", "operator": "=", "answerString": "x"},
    ],
)
def test_que7_reads_a_fhir_boolean_as_boolean(item: dict[str, Any]) -> None:
    native = NATIVE["que-7"][1]
    assert native(item, item) is ("answerBoolean" in item or item["operator"] != "exists")


def test_fhirpath_string_escapes_are_read_before_the_regex() -> None:
    eld19 = r"path.matches('[^\\s\\.,:;\\\'\"\\/|?!@#$%&*()\\[\\]{}]{1,64}(\\.[^\\s\\.]{1,64})*')"
    fn = _matches_native(eld19)
    assert fn is not None
    assert fn({"path": "Observation.value[x]"}, None) is True
    assert fn({"path": " "}, None) is False
    assert unescape_string(r"a\\d\'\u0041\d") == "a\\d'A\\d"


_ROOT_ELEMENT = {"id": "X", "path": "X"}
_SDS: list[dict[str, Any]] = [
    {"resourceType": "StructureDefinition", "snapshot": {"element": [_ROOT_ELEMENT]}},
    {
        "resourceType": "StructureDefinition",
        "differential": {"element": [{**_ROOT_ELEMENT, "label": "x"}]},
    },
    {
        "resourceType": "StructureDefinition",
        "snapshot": {"element": [_ROOT_ELEMENT, {"path": "X.a", "code": [{"code": "c"}]}]},
    },
    {
        "resourceType": "StructureDefinition",
        "snapshot": {"element": [{**_ROOT_ELEMENT, "requirements": "r"}]},
    },
]
_CONTAINS: list[dict[str, Any]] = [
    {"code": "a"},
    {"abstract": True},
    {"abstract": False},
    {"display": "no code"},
    {"code": "a", "abstract": False},
]


_ELEMENT_KEYS = ["eld-2", "eld-11", "eld-13", "eld-14", "eld-18"]


@pytest.mark.parametrize(
    ("key", "type_path", "samples"),
    [
        *[(key, "ElementDefinition", _ELEMENTS) for key in _ELEMENT_KEYS],
        ("eld-17", "ElementDefinition.type", _TYPES),
        ("eld-12", "ElementDefinition.binding", _BINDINGS),
        ("sdf-9", "StructureDefinition", _SDS),
        ("vsd-9", "ValueSet.expansion.contains", _CONTAINS),
    ],
)
def test_conformance_natives_agree_with_fhirpathpy(
    key: str, type_path: str, samples: list[dict[str, Any]]
) -> None:
    expression, native = NATIVE[key]
    for focus in samples:
        assert native(focus, focus) is _fhirpath(expression, focus, type_path), focus
