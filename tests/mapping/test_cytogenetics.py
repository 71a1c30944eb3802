"""Cytogenetics mapping: golden cases, row rules, the CLI edge and the validator.

Golden pairs ``tests/golden/cytogenetics/<case>/{input.csv, expected.json}``: ``expected.json``
holds the Bundle, the OperationOutcome of every issue and the read/mapped/rejected counts, compared
as parsed JSON (``BALL_FHIR_REGEN_GOLDEN=1`` rewrites them; review the diff).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapter.cli.mapcmd import cytogenetics_context
from adapter.fhir import HGNC, ISCN, LOINC, SEQUENCE_ONTOLOGY
from adapter.issues import UsageError, to_operation_outcome
from adapter.mapping.bundle import MapResult
from adapter.mapping.cytogenetics import map_cytogenetics
from adapter.sources.site import SiteConfig, parse_site
from adapter.validation import default_validator
from tests.conftest import RECORDED, ROOT
from tests.golden import assert_golden

GOLDEN = ROOT / "tests" / "golden" / "cytogenetics"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "input.csv").is_file())
HEADER = "patient_id,sample_id,collected_at,specimen,method,target,result,interpretation,status"


def run(site: SiteConfig, *rows: str, name: str = "cyto.csv") -> MapResult:
    data = "\n".join([HEADER, *rows]).encode("utf-8") + b"\n"
    return map_cytogenetics(data, name, site, cytogenetics_context(), RECORDED)


def resources(result: MapResult, rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in result.bundle["entry"] if e["resource"]["resourceType"] == rtype]


def findings(result: MapResult) -> list[dict[str, Any]]:
    return [o for o in resources(result, "Observation") if code(o) == "69548-6"]


def code(resource: dict[str, Any]) -> str:
    return str(resource["code"]["coding"][0]["code"])


def component(obs: dict[str, Any], loinc: str) -> list[dict[str, Any]]:
    return [
        c["valueCodeableConcept"]
        for c in obs.get("component", [])
        if c["code"]["coding"][0] == {"system": LOINC, "code": loinc, **_display(c)}
    ]


def _display(comp: dict[str, Any]) -> dict[str, str]:
    coding = comp["code"]["coding"][0]
    return {"display": coding["display"]} if "display" in coding else {}


def genes(obs: dict[str, Any]) -> list[str]:
    out = []
    for value in component(obs, "48018-6"):
        coding = value["coding"][0]
        assert coding["system"] == HGNC
        out.append(f"{coding['display']}={coding['code']}")
    return out


def value(obs: dict[str, Any]) -> str:
    return str(obs["valueCodeableConcept"]["coding"][0]["code"])


def errors(result: MapResult) -> list[str]:
    return [str(i.rule) for i in result.issues if i.is_error]


# -- golden cases ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, default_site: SiteConfig) -> None:
    folder = GOLDEN / case
    data = (folder / "input.csv").read_bytes()
    result = map_cytogenetics(data, "input.csv", default_site, cytogenetics_context(), RECORDED)
    actual = {
        "read": result.read,
        "mapped": result.mapped,
        "rejected": result.rejected,
        "outcome": to_operation_outcome(result.issues),
        "bundle": result.bundle,
    }
    assert_golden(actual, folder / "expected.json")


def test_golden_cases_cover_the_brief() -> None:
    assert set(CASES) >= {
        "t12-21-fish",
        "t4-11-karyotype-der",
        "hyperdiploid-no-fusion",
        "bcr-abl1-rtpcr-detected",
        "negative-targeted-fish",
        "malformed-karyotype-rejected",
        "three-way-translocation",
        "unknown-translocation",
        "partial-karyotype",
        "breakpointless-and-reciprocal",
    }


@pytest.mark.parametrize("case", CASES)
def test_golden_bundles_validate(case: str, default_site: SiteConfig) -> None:
    data = (GOLDEN / case / "input.csv").read_bytes()
    result = map_cytogenetics(data, "input.csv", default_site, cytogenetics_context(), RECORDED)
    problems = [i.to_text() for i in default_validator().validate(result.bundle)]
    assert not [p for p in problems if p.startswith(("error", "fatal"))], problems


# -- karyotype rows ----------------------------------------------------------------------------

ROW = "P1,S1,2024-03-01T08:30:00+01:00,bone-marrow"


def test_karyotype_keeps_the_original_string(default_site: SiteConfig) -> None:
    written = "ISCN: 46,XY,t(12;21)(p13;q22)[20]."
    result = run(default_site, f'{ROW},karyotype,,"{written}",,final')
    assert errors(result) == []
    (karyotype,) = [o for o in resources(result, "Observation") if code(o) == "62356-1"]
    assert karyotype["valueString"] == written
    assert [i.rule for i in result.issues] == ["iscn-normalised"]
    (finding,) = findings(result)
    assert finding["derivedFrom"] == [{"reference": f"urn:uuid:{karyotype['id']}"}]
    assert component(finding, "81291-7")[0]["coding"][0] == {
        "system": ISCN,
        "code": "t(12;21)(p13;q22)",
    }


def test_malformed_karyotype_is_rejected_with_the_parser_position(
    default_site: SiteConfig,
) -> None:
    result = run(default_site, f'{ROW},karyotype,,"46;XY,t(9;22)(q34;q11.2)[20]",,final')
    (issue,) = result.issues  # nothing of it can be read: no partial karyotype either
    assert issue.rule == "iscn-syntax"
    assert issue.location == ("cyto.csv:row 2:column result",)
    assert "position 2: expected ',' after the chromosome number" in issue.diagnostics
    assert issue.source_record is not None
    assert "t(9;22)" in issue.source_record
    assert (result.read, result.rejected) == (1, 1)
    assert result.bundle["entry"] == []


def test_unknown_translocation_names_no_gene(default_site: SiteConfig) -> None:
    result = run(default_site, f'{ROW},karyotype,,"46,XY,t(1;12)(q21;p13)[10]",,final')
    (finding,) = findings(result)
    assert genes(finding) == []
    assert component(finding, "81291-7")[0]["text"] == "t(1;12)(q21;p13)"
    assert component(finding, "48019-4")[0]["coding"][0]["system"] == SEQUENCE_ONTOLOGY


def test_der_and_t_of_one_translocation_make_one_finding(default_site: SiteConfig) -> None:
    karyotype = "46,XX,t(4;11)(q21;q23),der(11)t(4;11)(q21;q23)[15]/46,XX[5]"
    result = run(default_site, f'{ROW},karyotype,,"{karyotype}",,final')
    (finding,) = findings(result)
    assert genes(finding) == ["KMT2A=HGNC:7132", "AFF1=HGNC:7135"]
    assert value(finding) == "LA9633-4"
    assert finding["method"]["coding"][0]["code"] == "LA26406-1"


def test_karyotype_with_only_fish_is_rejected(default_site: SiteConfig) -> None:
    result = run(default_site, f'{ROW},karyotype,,"nuc ish(ETV6 con RUNX1x1)[100/200]",,final')
    assert errors(result) == ["karyotype-missing"]


def test_target_on_a_karyotype_is_a_warning(default_site: SiteConfig) -> None:
    result = run(default_site, f'{ROW},karyotype,ETV6::RUNX1,"46,XY[20]",,final')
    assert [(i.severity, i.rule) for i in result.issues] == [("warning", "target-ignored")]
    assert findings(result) == []


def test_cancelled_karyotype_has_a_data_absent_reason(default_site: SiteConfig) -> None:
    result = run(default_site, f"{ROW},karyotype,,,,cancelled")
    (obs,) = resources(result, "Observation")
    assert "valueString" not in obs
    assert obs["dataAbsentReason"]["coding"][0]["code"] == "not-performed"
    assert resources(result, "DiagnosticReport")[0]["status"] == "cancelled"


# -- FISH rows ---------------------------------------------------------------------------------


def test_fish_fusion_signal_is_present(default_site: SiteConfig) -> None:
    text = "nuc ish(ETV6,RUNX1)x2(ETV6 con RUNX1x1)[164/200]"
    result = run(default_site, f'{ROW},fish,ETV6::RUNX1,"{text}",,final')
    (finding,) = findings(result)
    assert value(finding) == "LA9633-4"
    assert finding["method"]["coding"][0]["code"] == "LA26404-6"
    assert "derivedFrom" not in finding
    assert component(finding, "81291-7")[0]["text"] == text


def test_fish_probing_both_genes_without_fusion_is_absent(default_site: SiteConfig) -> None:
    result = run(default_site, f'{ROW},fish,BCR::ABL1,"nuc ish(ABL1,BCR)x2[200]",,final')
    (finding,) = findings(result)
    assert value(finding) == "LA9634-2"
    assert genes(finding) == ["BCR=HGNC:1014", "ABL1=HGNC:76"]


def test_fish_legacy_probe_names_count_as_probed(default_site: SiteConfig) -> None:
    result = run(default_site, f'{ROW},fish,TEL-AML1,"nuc ish(TEL,AML1)x2[200]",,final')
    (finding,) = findings(result)
    assert value(finding) == "LA9634-2"


def test_fish_that_does_not_probe_the_target_is_rejected(default_site: SiteConfig) -> None:
    result = run(default_site, f'{ROW},fish,BCR::ABL1,"nuc ish(ETV6,RUNX1)x2[200]",,final')
    assert errors(result) == ["fish-target-not-probed"]


def test_fish_interpretation_must_agree(default_site: SiteConfig) -> None:
    text = "nuc ish(ETV6 con RUNX1x1)[164/200]"
    result = run(default_site, f'{ROW},fish,ETV6::RUNX1,"{text}",negative,final')
    assert errors(result) == ["interpretation-conflict"]


def test_fish_word_result_needs_a_target(default_site: SiteConfig) -> None:
    result = run(default_site, f"{ROW},fish,,detected,,final")
    assert errors(result) == ["target-missing"]


def test_fish_without_target_or_rearrangement_is_rejected(default_site: SiteConfig) -> None:
    result = run(default_site, f'{ROW},fish,,"nuc ish(CDKN2Ax1)[80/200]",,final')
    assert errors(result) == ["fish-nothing-to-map"]


def test_fish_break_apart_names_one_gene_and_no_change_type(default_site: SiteConfig) -> None:
    text = "nuc ish(5'KMT2A sep 3'KMT2Ax1)[100/200]"
    result = run(default_site, f'{ROW},fish,,"{text}",,final')
    (finding,) = findings(result)
    assert genes(finding) == ["KMT2A=HGNC:7132"]
    assert component(finding, "48019-4") == []


# -- RT-PCR rows -------------------------------------------------------------------------------


def test_pcr_word_results(default_site: SiteConfig) -> None:
    result = run(
        default_site,
        f"{ROW},rt-pcr,BCR-ABL1,detected,,final",
        f"{ROW},rt-pcr,ETV6::RUNX1,negative,,final",
    )
    assert [(genes(f)[0], value(f)) for f in findings(result)] == [
        ("BCR=HGNC:1014", "LA9633-4"),
        ("ETV6=HGNC:3495", "LA9634-2"),
    ]
    assert {f["method"]["coding"][0]["code"] for f in findings(result)} == {"LA26418-6"}


def test_pcr_ratio_needs_an_interpretation(default_site: SiteConfig) -> None:
    result = run(default_site, f"{ROW},rt-pcr,BCR::ABL1,0.37,,final")
    assert errors(result) == ["pcr-ratio-uninterpreted"]


def test_pcr_ratio_is_kept_as_a_note(default_site: SiteConfig) -> None:
    result = run(default_site, f"{ROW},rt-pcr,BCR::ABL1,0.37,detected,final")
    (finding,) = findings(result)
    assert finding["note"] == [{"text": "Fusion transcript ratio as reported: 0.37"}]


@pytest.mark.parametrize(
    ("cells", "rule"),
    [
        ("rt-pcr,,detected,,final", "required-cell"),
        ("rt-pcr,PAX5::JAK2,detected,,final", "target-unknown"),
        ("rt-pcr,BCR::ABL1,maybe,,final", "pcr-result-format"),
        ("rt-pcr,BCR::ABL1,-0.1,detected,final", "pcr-ratio-negative"),
        ("rt-pcr,BCR::ABL1,detected,negative,final", "interpretation-conflict"),
        ("sequencing,BCR::ABL1,detected,,final", "method-unknown"),
        ("rt-pcr,BCR::ABL1,,,final", "required-cell"),
        ("rt-pcr,BCR::ABL1,detected,,done", "status-unknown"),
    ],
)
def test_row_rules(default_site: SiteConfig, cells: str, rule: str) -> None:
    result = run(default_site, f"{ROW},{cells}")
    assert errors(result) == [rule]
    assert result.rejected == 1


def test_all_problems_of_a_row_are_reported(default_site: SiteConfig) -> None:
    result = run(default_site, ",S1,yesterday,saliva,fish,XYZ,detected,,final")
    assert set(errors(result)) == {
        "required-cell",
        "date-format",
        "specimen-unknown",
        "target-unknown",
    }


def test_duplicates_and_specimen_conflicts(default_site: SiteConfig) -> None:
    result = run(
        default_site,
        f"{ROW},rt-pcr,BCR::ABL1,detected,,final",
        f"{ROW},rt-pcr,BCR::ABL1,not-detected,,final",
        "P2,S1,2024-03-01T08:30:00+01:00,bone-marrow,rt-pcr,ETV6::RUNX1,detected,,final",
    )
    assert errors(result) == ["duplicate-record", "specimen-conflict"]
    duplicate = next(i for i in result.issues if i.rule == "duplicate-record")
    assert duplicate.diagnostics.endswith("as row 2")  # the accepted row, not the rejected one
    assert (result.read, result.mapped) == (3, 1)


def test_one_report_per_sample_with_every_result(default_site: SiteConfig) -> None:
    result = run(
        default_site,
        f'{ROW},karyotype,,"46,XY,t(12;21)(p13;q22)[20]",,final',
        f"{ROW},rt-pcr,BCR::ABL1,not-detected,,preliminary",
    )
    (report,) = resources(result, "DiagnosticReport")
    observations = [f"urn:uuid:{o['id']}" for o in resources(result, "Observation")]
    assert [r["reference"] for r in report["result"]] == observations
    assert report["status"] == "partial"
    assert code(report) == "51969-4"
    (specimen,) = resources(result, "Specimen")
    assert report["specimen"] == [{"reference": f"urn:uuid:{specimen['id']}"}]


def test_same_input_same_bundle(default_site: SiteConfig) -> None:
    row = f'{ROW},karyotype,,"46,XY,t(12;21)(p13;q22)[20]",,final'
    assert run(default_site, row).bundle == run(default_site, row).bundle


def test_site_without_a_cytogenetics_section(default_site: SiteConfig) -> None:
    data = default_site.model_dump()
    data.pop("cytogenetics")
    site = parse_site(data, "test")
    with pytest.raises(UsageError, match="no 'cytogenetics' section"):
        run(site, f"{ROW},rt-pcr,BCR::ABL1,detected,,final")


# -- the CLI edge ------------------------------------------------------------------------------


def test_cli_map_cytogenetics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from adapter.cli import main

    source = GOLDEN / "malformed-karyotype-rejected" / "input.csv"
    out, rejects = tmp_path / "bundle.json", tmp_path / "rejects.json"
    code_ = main(["map", "cytogenetics", str(source), "-o", str(out), "--rejects", str(rejects)])
    assert code_ == 1  # a rejected row, as for the lab source
    bundle = json.loads(out.read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle"
    outcome = json.loads(rejects.read_text(encoding="utf-8"))
    (issue,) = outcome["issue"]
    assert issue["details"]["text"] == "iscn-syntax"
    assert "46;XY,t(9;22)(q34;q11.2)[20]" in issue["extension"][0]["valueString"]
    assert "read 2, mapped 1, rejected 1" in capsys.readouterr().err


def test_cli_map_cytogenetics_clean_file_exits_0(tmp_path: Path) -> None:
    from adapter.cli import main

    source = GOLDEN / "t12-21-fish" / "input.csv"
    assert main(["map", "cytogenetics", str(source), "-o", str(tmp_path / "b.json")]) == 0


def test_sample_is_the_lab_specimen(default_site: SiteConfig) -> None:
    from adapter.cli.mapcmd import lab_context
    from adapter.mapping.lab import map_lab

    lab_csv = (
        b"patient_id,specimen_id,collected_at,specimen,test,value,unit,status\n"
        b"P1,S1,2024-03-01T08:30:00+01:00,bone-marrow,blasts-marrow,35,%,final\n"
    )
    lab = map_lab(lab_csv, "lab.csv", default_site, lab_context(default_site), RECORDED)
    cyto = run(default_site, f"{ROW},rt-pcr,BCR::ABL1,detected,,final")
    assert resources(lab, "Specimen") == resources(cyto, "Specimen")
    lab_report, cyto_report = (resources(r, "DiagnosticReport")[0] for r in (lab, cyto))
    assert lab_report["id"] != cyto_report["id"]


# -- real-world reports (issue 21): partial results, breakpoint-less, reciprocal derivative --------


def notes(obs: dict[str, Any]) -> list[str]:
    return [n["text"] for n in obs.get("note", [])]


def test_partial_karyotype_keeps_the_string_and_the_fusion_it_shows(
    default_site: SiteConfig,
) -> None:
    text = "51,X,+X,...,t(12;21)(p13;q22),...,+der(21)t(12;21)[3]/46,XY[4]"
    result = run(default_site, f'{ROW},karyotype,,"{text}",,final')
    assert (result.read, result.mapped, result.rejected) == (1, 1, 0)
    (karyotype,) = [o for o in resources(result, "Observation") if code(o) == "62356-1"]
    assert karyotype["valueString"] == text  # the whole string, unchanged
    (finding,) = findings(result)
    assert genes(finding) == ["ETV6=HGNC:3495", "RUNX1=HGNC:10471"]
    for obs in (karyotype, finding):  # both marked partial, with the errors' positions
        (note,) = notes(obs)
        assert note.startswith("Only partly valid ISCN (position 8: expected an abnormality")
        assert "position 30" in note
    rules = [i.rule for i in result.issues]
    assert rules.count("iscn-partial") == 1
    assert "iscn-warning" in rules  # +der(21)t(12;21) has no breakpoints
    assert all(i.severity == "warning" for i in result.issues)


def test_partial_fish_cannot_record_its_target_absent(default_site: SiteConfig) -> None:
    text = "nuc ish(ETV6,RUNX1)x2,(ETV6 con RUNX1x1[200]"
    result = run(default_site, f'{ROW},fish,ETV6::RUNX1,"{text}",,final')
    assert result.rejected == 1
    assert "fish-partial-absent" in errors(result)


def test_breakpointless_translocation_names_its_one_fusion_with_a_note(
    default_site: SiteConfig,
) -> None:
    result = run(default_site, f'{ROW},karyotype,,"46,XX,t(9;22)[20]",,final')
    (finding,) = findings(result)
    assert genes(finding) == ["BCR=HGNC:1014", "ABL1=HGNC:76"]
    assert value(finding) == "LA9633-4"
    (note,) = notes(finding)
    assert note.startswith("BCR::ABL1 named from the chromosome pair only")
    (warning,) = result.issues
    assert (warning.rule, warning.severity) == ("iscn-warning", "warning")


def test_reciprocal_derivative_alone_names_no_fusion(default_site: SiteConfig) -> None:
    result = run(default_site, f'{ROW},karyotype,,"46,XX,der(12)t(12;21)(p13;q22)[10]",,final')
    (finding,) = findings(result)
    assert genes(finding) == []  # never ETV6::RUNX1 from der(12) alone
    assert component(finding, "81291-7")[0]["text"] == "der(12)t(12;21)(p13;q22)"
    (note,) = notes(finding)
    assert "reciprocal RUNX1::ETV6" in note
    assert "ETV6::RUNX1 lies on der(21), which is not shown" in note
