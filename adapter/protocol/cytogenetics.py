"""A patient's cytogenetics read with the ISCN recogniser: named fusions present, absent, unread.

No table lives here.  Fusion names, partner genes, HGNC ids and loci are the gene/fusion knowledge
of :mod:`adapter.iscn` (``mappings/iscn/gene-loci.yaml``, which cites contract.md "Fusions the
adapter must name" and terminology.md §4).  The :class:`~adapter.iscn.Knowledge` travels with the
loaded protocol (:attr:`adapter.protocol.content.Protocol.knowledge`), so this module reads no
file.  How each kind of Observation is read (contract.md "Concepts"):

* karyotype (LOINC 62356-1, ``valueString`` = the ISCN string): :func:`adapter.iscn.analyse`; every
  named fusion it recognises (``t()``, ``der()``, three-way translocations pair by pair, FISH parts)
  is *present*, with how it was named (:attr:`FusionCall.evidence`: ``breakpoints``,
  ``chromosome pair only`` for a breakpoint-less ``t(9;22)``, ``probes``).  A karyotype never makes
  a fusion *absent*: ETV6::RUNX1 is cryptic on banding.  A string the ISCN grammar rejects gives a
  :class:`CytoNote` (position and what was expected), never a crash and never a silent miss; the
  fusions of the parts that do parse (issue 21, ``Analysis.partial``) are still present, marked
  :attr:`FusionCall.partial`.  A reciprocal derivative alone (``der(12)t(12;21)``: the fusion
  lies on the derivative not shown, ``Rearrangement.reciprocal_of``) names no fusion; it is a
  :class:`NotShown` (ISCN 2020 ch. 9; contract.md "Fusions the adapter must name").
* fusion finding (LOINC 69548-6, Genomics Reporting STU2 ``variant``): value LA9633-4 Present or
  LA9634-2 Absent.  The gene-studied components (48018-6, one per partner, HGNC id or symbol;
  aliases such as TEL/AML1 resolved by the knowledge) name every fusion whose two partner genes
  they hold; that is the shape adapter/mapping/cytogenetics.py writes for both Present and Absent.
  When they name none, the ISCN component (81291-7) of a Present finding is analysed: as a whole
  ISCN string, else, since it usually holds only the variant's abnormalities
  (``der(22)t(9;22)(q34;q11.2)``, which ISCN has no grammar for on their own), inside a neutral
  clone frame ``46,XX,`` that adds no rearrangement.  An Absent finding whose genes name no known
  fusion, or a Present one whose ISCN component cannot be read, gives a :class:`CytoNote`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapter.fhir import HGNC, LOINC, Resource
from adapter.iscn import Knowledge, analyse
from adapter.iscn.knowledge import FusionDef
from adapter.protocol.bundle import Date, has_code
from adapter.protocol.facts import (
    LOINC_ABSENT,
    LOINC_GENE_STUDIED,
    LOINC_PRESENT,
    Dated,
    PatientFacts,
)

LOINC_ISCN_COMPONENT = "81291-7"
#: Clone frame for an ISCN component holding abnormalities only (no chromosome count, no sex).
_FRAME = "46,XX,"


@dataclass(frozen=True, slots=True)
class FusionCall:
    """One named fusion reported present or absent by one Observation."""

    fusion: FusionDef
    present: bool
    resource: Resource
    date: Date | None
    #: ``gene-studied`` (48018-6 components), ``karyotype`` (62356-1) or ``iscn-component``
    via: str
    #: the recognised abnormality as written in canonical ISCN, when read from ISCN
    iscn: str | None = None
    uncertain: bool = False
    #: what named it: ``genes studied`` (48018-6), else the ISCN recogniser's ``breakpoints``,
    #: ``chromosome pair only`` or ``probes`` (``adapter.iscn.Rearrangement.evidence``)
    evidence: str = "genes studied"
    #: read from the valid parts of a string that is not wholly valid ISCN
    partial: bool = False

    @property
    def name(self) -> str:
        return self.fusion.name

    @property
    def translocation(self) -> str:
        """The classic translocation of the fusion (``t(4;11)``), for messages and Table 1."""
        return translocation_of(self.fusion)


@dataclass(frozen=True, slots=True)
class CytoNote:
    """A cytogenetics result that could not be read into named fusions, and why."""

    resource: Resource
    message: str
    iscn: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class NotShown:
    """A reciprocal derivative written alone: the fusion it belongs to is not shown."""

    fusion: FusionDef
    resource: Resource
    date: Date | None
    #: the derivative in canonical ISCN (``der(12)t(12;21)(p13;q22)``)
    iscn: str
    #: the recogniser's plain-language reason
    note: str
    partial: bool = False

    @property
    def translocation(self) -> str:
        return translocation_of(self.fusion)


@dataclass
class Cytogenetics:
    """What a patient's cytogenetics say about the named fusions."""

    calls: list[FusionCall] = field(default_factory=list)
    notes: list[CytoNote] = field(default_factory=list)
    not_shown: list[NotShown] = field(default_factory=list)
    #: at least one result was read (a valid karyotype, a Present or Absent finding)
    reported: bool = False

    def present(self) -> list[FusionCall]:
        return [c for c in self.calls if c.present]

    def absent(self) -> list[FusionCall]:
        return [c for c in self.calls if not c.present]

    def by_fusion(self, present: bool) -> dict[str, list[FusionCall]]:
        """Calls grouped by fusion name, in order of first appearance."""
        out: dict[str, list[FusionCall]] = {}
        for c in self.calls:
            if c.present is present:
                out.setdefault(c.name, []).append(c)
        return out


def translocation_of(fusion: FusionDef) -> str:
    """``t(12;21)`` from the knowledge's classic form ``t(12;21)(p13;q22)`` (chromosomes only)."""
    head, sep, _ = fusion.iscn.partition(")")
    return head + sep if sep else fusion.name


def known_fusions(knowledge: Knowledge) -> dict[str, FusionDef]:
    return {f.name: f for f in knowledge.fusions}


def genes_studied(obs: Resource, knowledge: Knowledge) -> tuple[set[str], list[str]]:
    """Current HGNC symbols of the gene-studied components (ids or symbols, aliases resolved),
    and the codes the knowledge does not know (contract.md: HGNC, ``/geneId`` variant accepted)."""
    by_id = {g.hgnc: g.symbol for g in knowledge.genes.values()}
    found: set[str] = set()
    unknown: list[str] = []
    for comp in obs.get("component", []) or []:
        if not has_code(comp.get("code"), LOINC, LOINC_GENE_STUDIED):
            continue
        value = comp.get("valueCodeableConcept") or {}
        for c in value.get("coding", []) or []:
            system = str(c.get("system", "")).rstrip("/").removesuffix("/geneId")
            if system != HGNC:
                continue
            symbol: str | None = None
            if c.get("code"):
                code = str(c["code"])
                symbol = by_id.get(code if code.startswith("HGNC:") else f"HGNC:{code}")
            if symbol is None and c.get("display"):
                symbol = knowledge.symbols.get(str(c["display"]).upper())
            if symbol is not None:
                found.add(symbol)
            else:
                unknown.append(str(c.get("code") or c.get("display") or "?"))
        if isinstance(value.get("text"), str) and not value.get("coding"):
            symbol = knowledge.symbols.get(value["text"].strip().upper())
            if symbol is not None:
                found.add(symbol)
    return found, unknown


def _fusions_of_genes(genes: set[str], knowledge: Knowledge) -> list[FusionDef]:
    return [f for f in knowledge.fusions if {f.five_prime.symbol, f.three_prime.symbol} <= genes]


def _iscn_component(obs: Resource) -> str | None:
    for comp in obs.get("component", []) or []:
        if not has_code(comp.get("code"), LOINC, LOINC_ISCN_COMPONENT):
            continue
        if isinstance(comp.get("valueString"), str):
            return str(comp["valueString"])
        value = comp.get("valueCodeableConcept") or {}
        if isinstance(value.get("text"), str):
            return str(value["text"])
        for c in value.get("coding", []) or []:
            if c.get("code"):
                return str(c["code"])
    return None


def _read_iscn(
    out: Cytogenetics,
    d: Dated,
    text: str,
    knowledge: Knowledge,
    via: str,
    what: str,
    framed: bool = False,
) -> bool:
    """Add the named fusions of an ISCN string (of its valid parts when it is not wholly valid,
    marked partial) and its reciprocal derivatives shown alone; a note when it is not valid
    ISCN.  True when the whole string was read."""
    analysis = analyse(text, knowledge)
    if analysis.result.error is not None and framed:
        framed_analysis = analyse(_FRAME + text, knowledge)
        if framed_analysis.result.error is None:
            analysis = framed_analysis
    fusions = known_fusions(knowledge)
    seen: set[str] = set()
    for r in analysis.rearrangements:
        if r.fusion is None and r.reciprocal_of in fusions:
            note = "; ".join(r.notes) or f"{r.reciprocal_of} is not shown"
            out.not_shown.append(
                NotShown(fusions[r.reciprocal_of], d.resource, d.date, r.iscn, note, r.partial)
            )
        if r.fusion is None or r.fusion in seen or r.fusion not in fusions:
            continue
        seen.add(r.fusion)
        out.calls.append(
            FusionCall(
                fusions[r.fusion],
                True,
                d.resource,
                d.date,
                via,
                r.iscn,
                r.uncertain,
                r.evidence,
                r.partial,
            )
        )
    error = analysis.result.error
    if error is None:
        return True
    read = (
        f"read in part: {', '.join(sorted(seen))} named from the valid parts (marked partial); "
        if seen
        else "its rearrangements were not read, so "
    )
    out.notes.append(
        CytoNote(
            d.resource,
            f"{what} {text!r} is not valid ISCN ({error.message}): {read}an excluding or "
            f"adverse fusion in {'the rest' if seen else 'it'} would be missed; correct the "
            "string at the source.",
            text,
            error.message,
        )
    )
    return False


def call_data(calls: list[FusionCall]) -> dict[str, object]:
    """What a fusion finding's ``data`` says about the calls behind it: the ISCN read, how each
    call named the fusion, whether any came from a partly valid string (issue 21)."""
    return {
        "iscn": [c.iscn for c in calls if c.iscn],
        "named_by": [c.evidence for c in calls],
        "partial": any(c.partial for c in calls),
    }


def _read_finding(out: Cytogenetics, d: Dated, knowledge: Knowledge) -> None:
    obs = d.resource
    value = obs.get("valueCodeableConcept")
    if has_code(value, LOINC, LOINC_PRESENT):
        present = True
    elif has_code(value, LOINC, LOINC_ABSENT):
        present = False
    else:
        return  # cancelled / not performed (dataAbsentReason): says nothing
    out.reported = True
    genes, unknown = genes_studied(obs, knowledge)
    named = _fusions_of_genes(genes, knowledge)
    for f in named:
        out.calls.append(FusionCall(f, present, obs, d.date, "gene-studied"))
    if named:
        return
    iscn = _iscn_component(obs)
    if present:
        if iscn is not None:
            _read_iscn(out, d, iscn, knowledge, "iscn-component", "ISCN component", framed=True)
        return
    studied = sorted(genes) + unknown
    out.notes.append(
        CytoNote(
            obs,
            "Absent fusion finding (LA9634-2) whose gene-studied components ("
            + (", ".join(studied) or "none")
            + ") are not the two partners of a named fusion: which fusion was tested absent "
            "is not known.",
            iscn,
        )
    )


def read_cytogenetics(facts: PatientFacts, knowledge: Knowledge) -> Cytogenetics:
    """Named fusions of every fusion finding and karyotype of the patient, in date order."""
    out = Cytogenetics()
    for d in facts.fusions:
        _read_finding(out, d, knowledge)
    for d in facts.karyotypes:
        text = d.resource.get("valueString")
        if (
            isinstance(text, str)
            and text.strip()
            and _read_iscn(out, d, text, knowledge, "karyotype", "Karyotype")
        ):
            out.reported = True
    return out
