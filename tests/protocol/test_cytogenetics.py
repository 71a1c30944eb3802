"""Cytogenetics in the protocol layer: fusions are named with the ISCN recogniser and the gene
knowledge of adapter.iscn (mappings/iscn/gene-loci.yaml), never with a table of its own."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from adapter.iscn import knowledge_from_data, load_knowledge
from adapter.issues import UsageError
from adapter.protocol import evaluate, load_protocols, read_content_folder
from adapter.protocol.bundle import BundleIndex
from adapter.protocol.content import EXT_PROTOCOL_PARAMETER
from adapter.protocol.cytogenetics import read_cytogenetics
from adapter.protocol.facts import collect
from tests.protocol.conftest import CONTENT, bundle_of, protocols

LNC = "http://loinc.org"
GENE = {"coding": [{"system": LNC, "code": "48018-6"}]}
VARIANT = {"coding": [{"system": LNC, "code": "69548-6"}]}
KARYOTYPE = {"coding": [{"system": LNC, "code": "62356-1"}]}


def _finding(value: str, *genes: tuple[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": VARIANT,
        "effectiveDateTime": "2021-01-05",
        "valueCodeableConcept": {"coding": [{"system": LNC, "code": value}]},
        "component": [
            {
                "code": GENE,
                "valueCodeableConcept": {
                    "coding": [{"system": "http://www.genenames.org", "code": c, "display": s}]
                },
            }
            for c, s in genes
        ],
    }


def _karyotype(text: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": KARYOTYPE,
        "valueString": text,
    }


def _read(resources: list[dict[str, Any]], knowledge: Any = None) -> Any:
    index = BundleIndex(bundle_of(resources))
    [facts] = collect(index)
    return read_cytogenetics(facts, knowledge or load_knowledge())


def test_every_protocol_carries_the_iscn_knowledge() -> None:
    for p in protocols().values():
        assert p.knowledge is load_knowledge()
        known = {f.name for f in p.knowledge.fusions}
        assert {"BCR::ABL1", "KMT2A::AFF1", "ETV6::RUNX1"} <= known


def test_content_naming_an_unknown_fusion_does_not_load() -> None:
    resources = copy.deepcopy(read_content_folder(CONTENT))
    pathway = next(r for r in resources if r["id"] == "all-rez-2016")
    for ext in pathway["extension"]:
        if ext["url"] == EXT_PROTOCOL_PARAMETER and ext["extension"][0]["valueCode"] == (
            "exclusion-fusions"
        ):
            ext["extension"][1]["valueString"] = "BCR::ABL1,BCR-ABL"
    with pytest.raises(UsageError, match="exclusion-fusions names BCR-ABL"):
        load_protocols(resources, load_knowledge())


def test_names_partners_and_ids_come_from_the_knowledge_data() -> None:
    """A knowledge built from data (no I/O) decides what is named: rename a fusion and the
    protocol layer follows; drop a gene and its fusion is no longer named."""
    knowledge = knowledge_from_data(
        {
            "genes": [
                {"symbol": "BCR", "hgnc": "HGNC:1014", "loci": ["22q11"]},
                {"symbol": "ABL1", "hgnc": "HGNC:76", "loci": ["9q34"], "aliases": ["ABL"]},
            ],
            "fusions": [
                {"name": "BCR--ABL1", "genes": ["BCR", "ABL1"], "iscn": "t(9;22)(q34;q11)"}
            ],
        }
    )
    cyto = _read(
        [
            _karyotype("46,XY,der(22)t(9;22)(q34;q11.2)[20]"),
            _finding("LA9634-2", ("", "BCR"), ("", "ABL")),
            _karyotype("46,XX,t(12;21)(p13;q22)[20]"),
        ],
        knowledge,
    )
    assert [(c.name, c.present, c.via) for c in cyto.calls] == [
        ("BCR--ABL1", False, "gene-studied"),
        ("BCR--ABL1", True, "karyotype"),
    ]
    assert cyto.calls[1].translocation == "t(9;22)"
    assert cyto.calls[1].iscn == "der(22)t(9;22)(q34;q11.2)"
    assert cyto.notes == []
    assert cyto.reported


def test_absent_finding_reports_which_fusion() -> None:
    cyto = _read([_finding("LA9634-2", ("HGNC:3495", "ETV6"), ("HGNC:10471", "RUNX1"))])
    assert [(c.name, c.present) for c in cyto.calls] == [("ETV6::RUNX1", False)]
    assert cyto.by_fusion(False).keys() == {"ETV6::RUNX1"}


def test_malformed_karyotype_is_a_note_not_a_crash() -> None:
    cyto = _read([_karyotype("46,XY,t(9;22)(q34;q11.2[20]"), _karyotype("not a karyotype")])
    assert cyto.calls == []
    assert not cyto.reported
    assert len(cyto.notes) == 2
    assert all("is not valid ISCN" in n.message and n.error for n in cyto.notes)


def test_cancelled_finding_says_nothing() -> None:
    obs = _finding("LA9633-4", ("HGNC:1014", "BCR"), ("HGNC:76", "ABL1"))
    del obs["valueCodeableConcept"]
    obs["dataAbsentReason"] = {"coding": [{"code": "not-performed"}]}
    cyto = _read([obs])
    assert cyto.calls == []
    assert cyto.notes == []
    assert not cyto.reported


def test_one_exclusion_finding_per_fusion_with_all_its_evidence() -> None:
    """The mappers write a karyotype and a finding derived from it: one exclusion, two refs."""
    resources = [
        {"resourceType": "Condition", "clinicalStatus": {"coding": [{"code": "relapse",
         "system": "http://terminology.hl7.org/CodeSystem/condition-clinical"}]},
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "277571004"}]},
         "onsetDateTime": "2020-12-01"},
        {**_karyotype("46,XY,t(9;22)(q34;q11.2)[20]"), "id": "k"},
        {**_finding("LA9633-4", ("HGNC:1014", "BCR"), ("HGNC:76", "ABL1")), "id": "f"},
    ]  # fmt: skip
    [ev] = evaluate(bundle_of(resources), protocols(), as_of=dt.date(2021, 1, 10))
    hits = [f for f in ev.findings if f.code == "eligibility-ph-positive"]
    assert len(hits) == 1
    assert set(hits[0].evidence) == {"Observation/k", "Observation/f"}
