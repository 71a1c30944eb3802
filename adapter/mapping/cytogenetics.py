"""Cytogenetics exports (karyotype, FISH, RT-PCR) -> karyotype and fusion-finding Observations.

Canonical fields of the ``cytogenetics`` source (the ``default`` site reads exactly these headers):
``patient_id, sample_id, collected_at, specimen, method, target, result, interpretation, status``
with ``method`` one of ``karyotype``, ``fish``, ``rt-pcr`` (issue 4 item 3).  Per row:

* ``karyotype``: ``result`` is an ISCN string, parsed by :mod:`adapter.iscn` (never here).  It
  becomes the karyotype Observation (LOINC 62356-1, ``valueString`` = the cell unchanged,
  contract.md "Concepts") and one fusion finding per rearrangement the ISCN recogniser reports,
  ``derivedFrom`` the karyotype.  A string that is only partly ISCN (one unreadable abnormality)
  keeps its karyotype Observation (the whole string, unchanged) and the findings recognised in
  the parts that parse, all with a note naming the errors' positions, and a warning on the row
  (``iscn-partial``); a string of which nothing can be read rejects the row with the parser's
  position message.  Parser warnings (breakpoints missing, band order, chromosome count) become
  warnings of the row (``iscn-warning``).  A finding whose evidence is weaker than breakpoints at
  the gene loci says so in a note: a fusion named from the chromosome pair only (``t(9;22)``), a
  reciprocal derivative alone (``der(12)t(12;21)``: ETV6::RUNX1 not shown), readings of ``or``
  that disagree.
* ``fish``: ``target`` names the fusion probed (``ETV6::RUNX1``; other spellings through the site
  vocabulary); ``result`` is ``detected`` / ``not-detected`` or an ISCN ``nuc ish``/``ish``
  string.  A string yields a Present finding per recognised rearrangement and, when it probes
  both genes of the target without fusing them, an Absent finding for the target.
* ``rt-pcr``: ``target`` names the fusion; ``result`` is ``detected`` / ``not-detected`` or a
  fusion/control ratio, which needs ``interpretation`` ``detected`` / ``not-detected`` (the
  adapter never judges a ratio: thresholds are the lab's).

Findings follow the Genomics Reporting STU2 ``variant`` shape (terminology.md section 2.2;
contract.md "fusion / translocation finding"): code 69548-6, value LA9633-4 Present / LA9634-2
Absent, components gene-studied (HGNC) once per partner, ISCN (81291-7), change type SO:1000044
for translocations and FISH fusion signals only (no SO code is invented for insertions,
dicentrics or break-aparts), source class somatic, method by technique.  An unnamed
rearrangement is a finding with its ISCN breakpoints and no gene-studied component.  Codes live
in ``mappings/tables/cytogenetics.yaml`` with their sources; gene ids in
``mappings/iscn/gene-loci.yaml``.  One DiagnosticReport per sample (code 51969-4).

Profiles: ball-patient, ball-specimen, ball-karyotype-observation, ball-fusion-variant,
ball-cytogenetics-report, ball-provenance (profiles/input/fsh).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapter.fhir import (
    HGNC,
    ISCN,
    LOINC,
    OBSERVATION_CATEGORY,
    SEQUENCE_ONTOLOGY,
    V2_0074,
    Resource,
    coding,
    concept,
    deterministic_id,
    ref,
    sd_url,
)
from adapter.iscn import IscnString, Knowledge, Rearrangement, analyse
from adapter.iscn.knowledge import FusionDef
from adapter.iscn.model import FishAbnormality, FishResult, Karyotype, ProbeGroup
from adapter.issues import Issue, UsageError
from adapter.mapping.bundle import BundleBuilder, MapResult, patient_id
from adapter.mapping.lab import (
    DATA_ABSENT,
    SPECIMEN_KINDS,
    STATUSES,
    report_status,
    specimen_conflict,
    specimen_id,
    to_fhir_specimen,
)
from adapter.mapping.rows import RowCheck, duplicate, map_rows, section_of
from adapter.sources.delimited import Fields, Row, vocabulary
from adapter.sources.site import CytogeneticsSource, SiteConfig
from adapter.sources.values import ValueProblem, parse_decimal

FIELDS = Fields(
    kind="cytogenetics",
    required=frozenset(
        {"patient_id", "sample_id", "collected_at", "specimen", "method", "result", "status"}
    ),
    optional=frozenset({"target", "interpretation"}),
)
_NEEDED_CELLS = ("patient_id", "sample_id", "collected_at", "specimen", "method", "status")

Method = Literal["karyotype", "fish", "rt-pcr"]
METHODS: tuple[Method, ...] = ("karyotype", "fish", "rt-pcr")
#: Canonical result / interpretation words (a site maps its own through its vocabularies).
DETECTED = "detected"
NOT_DETECTED = "not-detected"
OUTCOMES = {DETECTED: True, NOT_DETECTED: False}

PROFILE_KARYOTYPE = sd_url("ball-karyotype-observation")
PROFILE_FUSION = sd_url("ball-fusion-variant")
PROFILE_REPORT = sd_url("ball-cytogenetics-report")

#: Rearrangement kinds (adapter.iscn.recognise) that are chromosomal translocations
#: (SO:1000044): ``t`` in a karyotype and a FISH fusion signal of two genes.
_TRANSLOCATION_KINDS = frozenset({"translocation", "fish-fusion"})


# -- the code table (mappings/tables/cytogenetics.yaml) ----------------------------------------


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Code(_Table):
    code: str
    display: str | None = None


class ReportCode(Code):
    category: Code


class Components(_Table):
    gene_studied: Code = Field(alias="gene-studied")
    iscn: Code
    change_type: Code = Field(alias="change-type")
    source_class: Code = Field(alias="source-class")


class Values(_Table):
    present: Code
    absent: Code


class SourceClasses(_Table):
    somatic: Code


class ChangeTypes(_Table):
    translocation: Code


class Methods(_Table):
    karyotype: Code
    fish: Code
    rt_pcr: Code = Field(alias="rt-pcr")

    def of(self, method: Method) -> Code:
        return {"karyotype": self.karyotype, "fish": self.fish, "rt-pcr": self.rt_pcr}[method]


class CytogeneticsCodes(_Table):
    """The codes of ``mappings/tables/cytogenetics.yaml`` (sources cited in that file)."""

    karyotype: Code
    variant: Code
    report: ReportCode
    components: Components
    values: Values
    source_class: SourceClasses = Field(alias="source-class")
    change_type: ChangeTypes = Field(alias="change-type")
    methods: Methods


def codes_from_data(data: Any, origin: str) -> CytogeneticsCodes:
    """Validate the parsed code table; :class:`UsageError` naming the key when it is wrong."""
    try:
        return CytogeneticsCodes.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise UsageError(f"{origin}: invalid cytogenetics code table: {problems}") from None


def load_codes(path: Path) -> CytogeneticsCodes:
    """Read ``mappings/tables/cytogenetics.yaml`` (called by the edge, once)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: cannot read the cytogenetics code table: {exc}") from None
    return codes_from_data(data, str(path))


@dataclass(frozen=True, slots=True)
class CytogeneticsContext:
    """The tables a cytogenetics mapping needs, loaded by the edge."""

    knowledge: Knowledge
    codes: CytogeneticsCodes


# -- checked records ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gene:
    symbol: str
    hgnc: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One fusion / translocation finding of a row.

    ``present`` is ``None`` for a cancelled test (no value, a dataAbsentReason).  ``key`` makes
    the Observation id: the fusion name, or for an unnamed rearrangement its kind and ISCN text.
    """

    key: str
    method: Method
    present: bool | None
    genes: tuple[Gene, ...]
    iscn: str | None
    translocation: bool
    #: what the finding's own evidence needs said (chromosome pair only, reciprocal derivative)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CytogeneticsRecord:
    """A checked cytogenetics row, ready to become FHIR."""

    row: int
    patient_id: str
    specimen_id: str
    collected_at: str
    specimen: str
    method: Method
    status: str
    result: str  # the result cell as written (the karyotype valueString)
    findings: tuple[Finding, ...]
    notes: tuple[str, ...]


def map_cytogenetics(
    data: bytes,
    source_name: str,
    site: SiteConfig,
    ctx: CytogeneticsContext,
    recorded: str,
    progress: Callable[[int], None] | None = None,
) -> MapResult:
    """Map a cytogenetics export to one transaction Bundle; rejected rows are kept in the issues."""
    section: CytogeneticsSource = section_of(site, "cytogenetics")
    builder = BundleBuilder()
    reports: dict[str, list[tuple[CytogeneticsRecord, list[str]]]] = {}
    put_so_far = builder.targets  # by id; an Observation id found here is an accepted row's
    specimens: dict[str, tuple[str, str, str]] = {}

    def check(row: Row) -> tuple[CytogeneticsRecord | None, list[Issue]]:
        return check_cytogenetics_row(row, site, section, ctx)

    def across(
        record: CytogeneticsRecord, row_issues: list[Issue]
    ) -> tuple[CytogeneticsRecord, list[str]]:
        obs_ids = observation_ids(site, record)
        earlier = next((put_so_far[o].first_row for o in obs_ids if o in put_so_far), None)
        if earlier is not None:
            row_issues.append(duplicate("same sample, method and finding", earlier, "sample_id"))
        conflict = specimen_conflict(specimens, record, noun="sample", values=False)
        if conflict:
            row_issues.append(conflict)
        return record, obs_ids

    def accept(placed: tuple[CytogeneticsRecord, list[str]]) -> None:
        record, obs_ids = placed
        _add_record(builder, site, ctx.codes, record)
        reports.setdefault(specimen_id(site, record.specimen_id), []).append((record, obs_ids))

    done = map_rows(data, source_name, site, section, FIELDS, check, across, accept, progress)
    for spec_id, entries in reports.items():
        builder.put(
            to_fhir_cytogenetics_report(site, ctx.codes, spec_id, entries),
            [r.row for r, _ in entries],
        )
    return done.result(builder, source_name, data, recorded)


# -- checking one row --------------------------------------------------------------------------


def check_cytogenetics_row(
    row: Row, site: SiteConfig, section: CytogeneticsSource, ctx: CytogeneticsContext
) -> tuple[CytogeneticsRecord | None, list[Issue]]:
    """Check one row against every rule; a record only when nothing is wrong."""
    check = RowCheck.start(row, site, section, _NEEDED_CELLS)
    issues, bad = check.issues, check.error  # bad(rule, column, message, code="value")
    specimen = check.one_of("specimen", SPECIMEN_KINDS, "specimen-unknown")
    status = check.one_of("status", STATUSES, "status-unknown")
    method_text = check.one_of("method", METHODS, "method-unknown")
    method = next((m for m in METHODS if m == method_text), None)
    collected = check.when("collected_at") or ""
    target: FusionDef | None = None
    target_text = check.text("target")
    if target_text:
        target = next((f for f in ctx.knowledge.fusions if f.name == target_text), None)
        if target is None:
            names = ", ".join(f.name for f in ctx.knowledge.fusions)
            bad(
                "target-unknown",
                "target",
                f"target {target_text!r} is not a named fusion ({names}); "
                "map local spellings in the site's vocabularies.target",
                "code-invalid",
            )
    result = row.values.get("result", "")
    interpretation_text = row.values.get("interpretation", "")
    interpretation = check.text("interpretation")
    outcome_said = OUTCOMES.get(interpretation)
    # the lab's words are kept as a note, unless they are the outcome of a targeted test
    keep_note = outcome_said is None or method == "karyotype"
    notes = [interpretation_text] if interpretation_text and keep_note else []
    cancelled = status == "cancelled"
    if not result and status and not cancelled:
        bad("required-cell", "result", "result is empty (only a cancelled test may have none)")
    if issues or method is None:
        return None, issues
    findings: list[Finding] = []
    if method == "karyotype":
        if target_text:
            check.warn(
                "target-ignored",
                "target",
                "a karyotype has no target; the target cell is ignored",
                "informational",
            )
        if result:
            findings = _karyotype_findings(result, ctx, issues, notes)
    elif not result:  # a cancelled targeted test
        if target is None:
            bad("required-cell", "target", f"a {method} test names its target fusion", "required")
        else:
            findings = [_target_finding(method, target, None, None)]
    elif method == "fish":
        findings = _fish_findings(result, target, outcome_said, section, ctx, issues, notes)
    else:
        findings = _pcr_findings(result, target, outcome_said, section, site, issues, notes)
    if any(i.is_error for i in issues):
        return None, issues
    return CytogeneticsRecord(
        row=row.number,
        patient_id=row.values["patient_id"],
        specimen_id=row.values["sample_id"],
        collected_at=collected,
        specimen=specimen,
        method=method,
        status=STATUSES[status],
        result=result,
        findings=tuple(findings),
        notes=tuple(notes),
    ), issues


def _analysed(
    text: str, ctx: CytogeneticsContext, issues: list[Issue], notes: list[str]
) -> tuple[IscnString, tuple[Rearrangement, ...], str] | None:
    """Parse an ISCN cell with :mod:`adapter.iscn`: the tree (whole or partial), what it holds
    and the normalised text.

    An error issue (with position) when nothing can be read; when only part can, a warning and a
    note (added to ``notes``) naming every error's position, and the partial tree.
    """
    analysis = analyse(text, ctx.knowledge)
    parsed = analysis.result
    where = f" of the normalised text {parsed.text!r}" if parsed.normalisations else ""
    tree = parsed.tree or parsed.partial
    if tree is None:
        message = parsed.error.message if parsed.error else "nothing could be read"
        issues.append(
            Issue(
                "error",
                "value",
                f"result is not valid ISCN: {message}{where}",
                rule="iscn-syntax",
                location=("result",),
            )
        )
        return None
    if parsed.error is not None:
        errors = "; ".join(e.message for e in parsed.errors)
        notes.append(
            f"Only partly valid ISCN ({errors}{where}): the findings are those of the parts "
            "that could be read; anything in the unreadable parts was not read."
        )
        issues.append(
            Issue(
                "warning",
                "value",
                f"result is only partly valid ISCN ({errors}{where}); the karyotype is kept as "
                "written and the findings recognised in the readable parts are marked partial",
                rule="iscn-partial",
                location=("result",),
            )
        )
    for w in parsed.warnings:
        issues.append(
            Issue(
                "warning",
                "value",
                f"ISCN at position {w.position}: {w.message}",
                rule="iscn-warning",
                location=("result",),
            )
        )
    if parsed.normalisations:
        issues.append(
            Issue(
                "information",
                "informational",
                "ISCN typing noise normalised before parsing (the original is kept): "
                + "; ".join(n.describe() for n in parsed.normalisations),
                rule="iscn-normalised",
                location=("result",),
            )
        )
    return tree, analysis.rearrangements, parsed.text


def _finding_key(r: Rearrangement) -> str:
    if r.fusion is not None:
        return r.fusion
    if r.kind == "fish-break-apart":
        return "break-apart:" + ",".join(p.symbol for p in r.partners)
    if r.kind == "fish-fusion":
        return "fish-fusion:" + " con ".join(r.probes)
    bands = ";".join(f"{b.chromosome}{''.join(b.bands)}" for b in r.breakpoints)
    return f"{r.kind}:{bands}"


def _evidence_notes(r: Rearrangement) -> tuple[str, ...]:
    """What a finding's evidence needs said, beyond breakpoints at the gene loci."""
    out = list(r.notes)
    if r.fusion is not None and r.evidence == "chromosome pair only":
        out.append(
            f"{r.fusion} named from the chromosome pair only: {r.iscn} is written without "
            "breakpoints, and these chromosomes name no other fusion of the knowledge."
        )
    return tuple(out)


def _rearrangement_findings(rearrangements: Iterable[Rearrangement]) -> list[Finding]:
    """One Present finding per distinct rearrangement (across clones and parts, first wins)."""
    out: dict[str, Finding] = {}
    for r in rearrangements:
        key = _finding_key(r)
        if key in out:
            continue
        method: Method = "karyotype" if r.method == "karyotype" else "fish"
        out[key] = Finding(
            key=key,
            method=method,
            present=True,
            genes=tuple(Gene(p.symbol, p.hgnc) for p in r.partners),
            iscn=",".join([r.iscn, *r.also]),
            translocation=r.kind in _TRANSLOCATION_KINDS,
            notes=_evidence_notes(r),
        )
    return list(out.values())


def _karyotype_findings(
    result: str, ctx: CytogeneticsContext, issues: list[Issue], notes: list[str]
) -> list[Finding]:
    analysed = _analysed(result, ctx, issues, notes)
    if analysed is None:
        return []
    tree, rearrangements, _ = analysed
    if not any(isinstance(p, Karyotype) for p in tree.parts):
        issues.append(
            Issue(
                "error",
                "value",
                "method is karyotype but the result holds only a FISH result (use method fish)",
                rule="karyotype-missing",
                location=("result",),
            )
        )
        return []
    return _rearrangement_findings(rearrangements)


def _target_finding(
    method: Method, target: FusionDef, present: bool | None, iscn: str | None
) -> Finding:
    genes = tuple(Gene(g.symbol, g.hgnc) for g in (target.five_prime, target.three_prime))
    return Finding(target.name, method, present, genes, iscn, translocation=True)


def _word(section: CytogeneticsSource, result: str) -> bool | None:
    """``True`` / ``False`` when the result cell is an outcome word, else ``None``."""
    return OUTCOMES.get(vocabulary(section, "result", result))


def _fish_findings(
    result: str,
    target: FusionDef | None,
    said: bool | None,
    section: CytogeneticsSource,
    ctx: CytogeneticsContext,
    issues: list[Issue],
    notes: list[str],
) -> list[Finding]:
    def bad(rule: str, field: str, message: str) -> None:
        issues.append(Issue("error", "business-rule", message, rule=rule, location=(field,)))

    word = _word(section, result)
    if word is not None:
        if target is None:
            bad("target-missing", "target", f"result {result!r} needs the target fusion probed")
            return []
        if said is not None and said != word:
            bad("interpretation-conflict", "interpretation", "interpretation contradicts result")
            return []
        return [_target_finding("fish", target, word, None)]
    noted = len(notes)
    analysed = _analysed(result, ctx, issues, notes)
    if analysed is None:
        return []
    tree, rearrangements, text = analysed
    partial = len(notes) > noted
    fish_parts = [p for p in tree.parts if isinstance(p, FishResult)]
    if not fish_parts:
        bad(
            "fish-missing",
            "result",
            "method is fish but the result is neither detected / not-detected nor an ISCN "
            "ish / nuc ish result",
        )
        return []
    findings = _rearrangement_findings(r for r in rearrangements if r.method == "fish")
    if target is not None:
        found = any(f.key == target.name for f in findings)
        if not found:
            probed = _probed_genes(fish_parts, ctx.knowledge)
            missing = [
                g.symbol for g in (target.five_prime, target.three_prime) if g.symbol not in probed
            ]
            if missing:
                bad(
                    "fish-target-not-probed",
                    "result",
                    f"the FISH result does not probe {', '.join(missing)} of target "
                    f"{target.name}: it can say nothing about it",
                )
                return []
            if partial:
                bad(
                    "fish-partial-absent",
                    "result",
                    f"the FISH result is only partly valid ISCN: {target.name} cannot be "
                    "recorded absent when a part of the result could not be read",
                )
                return []
            findings.append(_target_finding("fish", target, False, text))
        if said is not None and said != found:
            bad(
                "interpretation-conflict",
                "interpretation",
                f"interpretation says {target.name} {'detected' if said else 'not detected'}, "
                f"the ISCN result shows it {'present' if found else 'absent'}",
            )
            return []
    elif not findings:
        bad(
            "fish-nothing-to-map",
            "result",
            "the FISH result shows no rearrangement and the row names no target fusion; "
            "give the target to record a negative test",
        )
    elif said is False:
        bad(
            "interpretation-conflict",
            "interpretation",
            "interpretation says not detected, the ISCN result shows a rearrangement",
        )
    return findings


def _probed_genes(parts: Iterable[FishResult], knowledge: Knowledge) -> set[str]:
    """Gene symbols of every probe named in FISH results (ISCN 2020 13.2), aliases resolved."""
    probes: list[str] = []
    for part in parts:
        for clone in part.clones:
            for item in clone.items:
                if isinstance(item, ProbeGroup):
                    probes.extend(p for entry in item.entries for p in entry.probes)
                elif isinstance(item, FishAbnormality):
                    probes.extend(m.probe for group in item.marks for m in group)
    genes = (knowledge.gene_for_probe(p) for p in probes)
    return {g.symbol for g in genes if g is not None}


def _pcr_findings(
    result: str,
    target: FusionDef | None,
    said: bool | None,
    section: CytogeneticsSource,
    site: SiteConfig,
    issues: list[Issue],
    notes: list[str],
) -> list[Finding]:
    def bad(rule: str, field: str, message: str, code: Any = "business-rule") -> None:
        issues.append(Issue("error", code, message, rule=rule, location=(field,)))

    if target is None:
        bad("required-cell", "target", "an rt-pcr test names its target fusion", "required")
        return []
    word = _word(section, result)
    if word is None:
        try:
            ratio = parse_decimal(result, site)
        except ValueProblem:
            bad(
                "pcr-result-format",
                "result",
                f"result {result!r} is neither detected / not-detected nor a ratio",
                "value",
            )
            return []
        if ratio < Decimal(0):
            bad("pcr-ratio-negative", "result", f"ratio {result!r} is negative", "value")
            return []
        if said is None:
            bad(
                "pcr-ratio-uninterpreted",
                "interpretation",
                f"ratio {result} needs interpretation detected / not-detected "
                "(the adapter does not judge a ratio against the lab's threshold)",
                "required",
            )
            return []
        notes.append(f"Fusion transcript ratio as reported: {result}")
        word = said
    elif said is not None and said != word:
        bad("interpretation-conflict", "interpretation", "interpretation contradicts result")
        return []
    return [_target_finding("rt-pcr", target, word, None)]


# -- ids and FHIR builders (pure) --------------------------------------------------------------


def karyotype_id(site: SiteConfig, record: CytogeneticsRecord) -> str:
    return deterministic_id(
        "Observation", site.specimen_identifier_system, record.specimen_id, LOINC, "62356-1"
    )


def finding_id(site: SiteConfig, record: CytogeneticsRecord, finding: Finding) -> str:
    return deterministic_id(
        "Observation",
        site.specimen_identifier_system,
        record.specimen_id,
        LOINC,
        "69548-6",
        finding.method,
        finding.key,
    )


def observation_ids(site: SiteConfig, record: CytogeneticsRecord) -> list[str]:
    """The ids of the Observations a record yields, karyotype first."""
    own = [karyotype_id(site, record)] if record.method == "karyotype" else []
    return own + [finding_id(site, record, f) for f in record.findings]


def _add_record(
    builder: BundleBuilder, site: SiteConfig, codes: CytogeneticsCodes, record: CytogeneticsRecord
) -> None:
    builder.add_patient(site.patient_identifier_system, record.patient_id, [record.row])
    builder.put(to_fhir_specimen(site, record, builder.parts), [record.row])
    if record.method == "karyotype":
        builder.put(to_fhir_karyotype(site, codes, record), [record.row])
    for finding in record.findings:
        builder.put(to_fhir_finding(site, codes, record, finding), [record.row])


def _cc(system: str, code: Code, text: str | None = None) -> dict[str, Any]:
    return concept(system, code.code, code.display, text)


def _common(record: CytogeneticsRecord) -> Resource:
    return {
        "status": record.status,
        "category": [concept(OBSERVATION_CATEGORY, "laboratory", "Laboratory")],
    }


def _subject(site: SiteConfig, record: CytogeneticsRecord) -> dict[str, Any]:
    return ref(patient_id(site.patient_identifier_system, record.patient_id))


def to_fhir_karyotype(
    site: SiteConfig, codes: CytogeneticsCodes, record: CytogeneticsRecord
) -> Resource:
    """Karyotype Observation (profile ball-karyotype-observation): the ISCN string unchanged."""
    obs: Resource = {
        "resourceType": "Observation",
        "id": karyotype_id(site, record),
        "meta": {"profile": [PROFILE_KARYOTYPE]},
        **_common(record),
        "code": _cc(LOINC, codes.karyotype),
        "subject": _subject(site, record),
        "effectiveDateTime": record.collected_at,
    }
    if record.result:
        obs["valueString"] = record.result
    else:
        obs["dataAbsentReason"] = concept(DATA_ABSENT, "not-performed", "Not Performed")
    if record.notes:
        obs["note"] = [{"text": n} for n in record.notes]
    obs["method"] = _cc(LOINC, codes.methods.karyotype)
    obs["specimen"] = ref(specimen_id(site, record.specimen_id))
    return obs


def to_fhir_finding(
    site: SiteConfig, codes: CytogeneticsCodes, record: CytogeneticsRecord, finding: Finding
) -> Resource:
    """Fusion / translocation finding (profile ball-fusion-variant, derived from Genomics
    Reporting 3.0.0 ``variant``).  Its categories are GR's two required slices: ``labCategory``
    (observation-category#laboratory) and ``geCategory`` (patternCoding v2-0074#GE, the GE code
    of the cytogenetics table's report category)."""
    obs: Resource = {
        "resourceType": "Observation",
        "id": finding_id(site, record, finding),
        "meta": {"profile": [PROFILE_FUSION]},
        **_common(record),
        "code": _cc(LOINC, codes.variant),
        "subject": _subject(site, record),
        "effectiveDateTime": record.collected_at,
    }
    obs["category"] = [*obs["category"], _cc(V2_0074, codes.report.category)]
    if finding.present is None:
        obs["dataAbsentReason"] = concept(DATA_ABSENT, "not-performed", "Not Performed")
    else:
        value = codes.values.present if finding.present else codes.values.absent
        obs["valueCodeableConcept"] = _cc(LOINC, value)
    notes = [*record.notes, *finding.notes]
    if notes:
        obs["note"] = [{"text": n} for n in notes]
    obs["method"] = _cc(LOINC, codes.methods.of(finding.method))
    obs["specimen"] = ref(specimen_id(site, record.specimen_id))
    if record.method == "karyotype":
        obs["derivedFrom"] = [ref(karyotype_id(site, record))]
    comps = codes.components
    component: list[dict[str, Any]] = [
        {
            "code": _cc(LOINC, comps.gene_studied),
            "valueCodeableConcept": concept(HGNC, gene.hgnc, gene.symbol),
        }
        for gene in finding.genes
    ]
    if finding.iscn:
        component.append(
            {
                "code": _cc(LOINC, comps.iscn),
                "valueCodeableConcept": concept(ISCN, finding.iscn, text=finding.iscn),
            }
        )
    if finding.translocation:
        component.append(
            {
                "code": _cc(LOINC, comps.change_type),
                "valueCodeableConcept": _cc(SEQUENCE_ONTOLOGY, codes.change_type.translocation),
            }
        )
    component.append(
        {
            "code": _cc(LOINC, comps.source_class),
            "valueCodeableConcept": _cc(LOINC, codes.source_class.somatic),
        }
    )
    obs["component"] = component
    return obs


def to_fhir_cytogenetics_report(
    site: SiteConfig,
    codes: CytogeneticsCodes,
    spec_id: str,
    entries: list[tuple[CytogeneticsRecord, list[str]]],
) -> Resource:
    """DiagnosticReport per sample (profile ball-cytogenetics-report; GR genomics-report code)."""
    first = entries[0][0]
    report = codes.report
    return {
        "resourceType": "DiagnosticReport",
        "id": deterministic_id("DiagnosticReport", spec_id, "cytogenetics"),
        "meta": {"profile": [PROFILE_REPORT]},
        "status": report_status(r.status for r, _ in entries),
        "category": [
            {"coding": [coding(V2_0074, "LAB", "Laboratory")]},
            {"coding": [coding(V2_0074, report.category.code, report.category.display)]},
        ],
        "code": _cc(LOINC, report),
        "subject": _subject(site, first),
        "effectiveDateTime": first.collected_at,
        "specimen": [ref(spec_id)],
        "result": [ref(oid) for _, ids in entries for oid in ids],
    }
