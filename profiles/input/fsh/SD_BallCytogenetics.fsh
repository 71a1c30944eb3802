// Cytogenetics profiles (issue 4 item 3; mapper adapter/mapping/cytogenetics.py). Codes:
// ../shared/domain/contract.md "Concepts" (karyotype; fusion / translocation finding) and
// ../shared/reference/terminology.md sections 2.2 (Genomics Reporting STU2 variant components),
// 3 (LOINC) and 4 (HGNC). The fusion finding derives from Genomics Reporting 3.0.0 `variant`
// (README.md "Derivation"); the karyotype and the report follow GR shapes without deriving.

RuleSet: BallCytogeneticsObservationBase
* status MS
* code 1..1 MS
* subject 1..1 MS
* subject only Reference(BallPatient)
* effective[x] 1..1 MS
* effective[x] only dateTime
* dataAbsentReason MS
* method 1..1 MS
* method from BallCytogeneticMethod (required)
* specimen 1..1 MS
* specimen only Reference(BallSpecimen)

// contract.md: karyotype (whole ISCN string), LOINC 62356-1 (2nd), valueString = the original
// string unchanged (the parsed form is never stored in its place).
Profile: BallKaryotypeObservation
Parent: Observation
Id: ball-karyotype-observation
Title: "ball-fhir karyotype"
Description: "A karyotype as written by the laboratory: the whole ISCN string, unchanged, in valueString (LOINC 62356-1 Chromosome analysis result in ISCN expression), method karyotyping."
* ^status = #draft
* insert BallCytogeneticsObservationBase
* category 1..* MS
* category ^slicing.discriminator.type = #pattern
* category ^slicing.discriminator.path = "$this"
* category ^slicing.rules = #open
* category ^slicing.description = "Sliced by pattern; a laboratory category is required."
* category contains laboratory 1..1 MS
* category[laboratory] = $obs-category#laboratory
* obeys ball-karyotype-1
* code = $loinc#62356-1
* value[x] MS
* value[x] only string
* method = $loinc#LA26406-1

Invariant: ball-karyotype-1
Description: "A karyotype has the ISCN string or a dataAbsentReason (a cancelled analysis carries a dataAbsentReason)."
Expression: "value.exists() or dataAbsentReason.exists()"
Severity: #error

// contract.md: fusion / translocation finding per Genomics Reporting STU2 `variant`: 69548-6,
// value LA9633-4 Present / LA9634-2 Absent, components gene-studied 48018-6 one per partner (HGNC),
// ISCN 81291-7 (system https://iscn.karger.com), change type 48019-4 (SO:1000044
// chromosomal_translocation), source class 48002-0 (LA6684-0 somatic); method by technique.
Profile: BallFusionVariant
Parent: $gr-variant
Id: ball-fusion-variant
Title: "ball-fhir fusion / translocation finding"
Description: "A chromosomal rearrangement or gene fusion found (Present) or tested for and not found (Absent) by karyotype, FISH or PCR, in the shape of the Genomics Reporting STU2 variant: partner genes as HGNC gene-studied components (never invented for an unnamed rearrangement), the ISCN text, change type and somatic source class."
* ^status = #draft
* insert BallCytogeneticsObservationBase
* obeys ball-fusion-1 and ball-fusion-2
* code = $loinc#69548-6
* value[x] MS
* value[x] only CodeableConcept
* valueCodeableConcept from BallFusionPresence (required)
* derivedFrom MS
* derivedFrom only Reference(BallKaryotypeObservation)
* component 1..* MS
// GR 3.0.0 `variant` already slices component by the pattern on code; we constrain its slices
// gene-studied (48018-6), cytogenomic-nomenclature (81291-7), coding-change-type (48019-4) and
// genomic-source-class (48002-0) instead of adding our own.
* component[gene-studied] MS
* component[gene-studied].valueCodeableConcept.coding 1..1 MS
* component[gene-studied].valueCodeableConcept.coding.system 1..1
* component[gene-studied].valueCodeableConcept.coding.system = "http://www.genenames.org" (exactly)
* component[gene-studied].valueCodeableConcept.coding.code 1..1
* component[gene-studied].valueCodeableConcept.coding.display MS
* component[cytogenomic-nomenclature] 0..1 MS
* component[cytogenomic-nomenclature].valueCodeableConcept.coding.system = "https://iscn.karger.com" (exactly)
* component[coding-change-type] 0..1 MS
* component[genomic-source-class] 1..1 MS
* component[genomic-source-class].valueCodeableConcept = $loinc#LA6684-0

Invariant: ball-fusion-1
Description: "A finding has a value (Present / Absent) or a dataAbsentReason (a cancelled test carries a dataAbsentReason)."
Expression: "value.exists() or dataAbsentReason.exists()"
Severity: #error

Invariant: ball-fusion-2
Description: "A finding says what was found or tested: a gene-studied (48018-6) or an ISCN (81291-7) component."
Expression: "component.where(code.coding.where(system = 'http://loinc.org' and (code = '48018-6' or code = '81291-7')).exists()).exists()"
Severity: #error

// One report per sample grouping its cytogenetic results: code 51969-4 Genetic analysis report
// (terminology.md section 3, V-HL7), categories LAB and GE Genetics of HL7 v2 table 0074. Derives
// from Genomics Reporting 3.0.0 `genomic-report` (its slice category:Genetics = v2-0074#GE, code
// 51969-4 pattern); we add the LAB slice to its slicing (by value of coding).
Profile: BallCytogeneticsReport
Parent: $gr-genomic-report
Id: ball-cytogenetics-report
Title: "ball-fhir cytogenetics report"
Description: "The cytogenetic results of one sample (karyotype and fusion findings by karyotype, FISH or PCR), in the shape of the Genomics Reporting genomics-report."
* ^status = #draft
* status MS
* category 2..* MS
* category contains lab 1..1 MS
* category[lab].coding 1..1
* category[lab].coding = $v2-0074#LAB
* category[Genetics] MS
* code 1..1 MS
* code = $loinc#51969-4
* subject 1..1 MS
* subject only Reference(BallPatient)
* effective[x] MS
* effective[x] only dateTime
* specimen 1..* MS
* specimen only Reference(BallSpecimen)
* result 1..* MS
* result only Reference(BallKaryotypeObservation or BallFusionVariant)
