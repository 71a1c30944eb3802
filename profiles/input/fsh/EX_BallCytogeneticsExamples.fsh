// Examples of the cytogenetics profiles, in the shapes adapter/mapping/cytogenetics.py emits
// (literal references instead of urn:uuid). Patient and specimen: EX_BallExamples.fsh.
Instance: ball-karyotype-observation-example
InstanceOf: BallKaryotypeObservation
Usage: #example
Title: "Example karyotype with t(12;21)"
Description: "A bone marrow karyotype with the ETV6::RUNX1 translocation in 12 of 20 metaphases, as written by the laboratory."
* status = #final
* category[laboratory] = $obs-category#laboratory "Laboratory"
* code = $loinc#62356-1 "Chromosome analysis result in ISCN expression"
* subject = Reference(ball-patient-example)
* effectiveDateTime = "2024-03-01T08:30:00+01:00"
* valueString = "46,XY,t(12;21)(p13;q22)[12]/46,XY[8]"
* method = $loinc#LA26406-1 "Karyotyping"
* specimen = Reference(ball-specimen-example)

Instance: ball-fusion-variant-example
InstanceOf: BallFusionVariant
Usage: #example
Title: "Example ETV6::RUNX1 translocation found by karyotype"
Description: "t(12;21)(p13;q22) ETV6::RUNX1, present, derived from the karyotype."
* status = #final
* category[labCategory] = $obs-category#laboratory "Laboratory"
* category[geCategory] = $v2-0074#GE "Genetics"
* code = $loinc#69548-6 "Genetic variant assessment"
* subject = Reference(ball-patient-example)
* effectiveDateTime = "2024-03-01T08:30:00+01:00"
* valueCodeableConcept = $loinc#LA9633-4 "Present"
* method = $loinc#LA26406-1 "Karyotyping"
* specimen = Reference(ball-specimen-example)
* derivedFrom = Reference(ball-karyotype-observation-example)
* component[gene-studied][0].code = $loinc#48018-6
* component[gene-studied][0].valueCodeableConcept = http://www.genenames.org#HGNC:3495 "ETV6"
* component[gene-studied][1].code = $loinc#48018-6
* component[gene-studied][1].valueCodeableConcept = http://www.genenames.org#HGNC:10471 "RUNX1"
* component[cytogenomic-nomenclature].code = $loinc#81291-7 "Variant ISCN"
* component[cytogenomic-nomenclature].valueCodeableConcept = https://iscn.karger.com#t(12;21)(p13;q22)
* component[cytogenomic-nomenclature].valueCodeableConcept.text = "t(12;21)(p13;q22)"
* component[coding-change-type].code = $loinc#48019-4
* component[coding-change-type].valueCodeableConcept = http://www.sequenceontology.org#SO:1000044 "chromosomal_translocation"
* component[genomic-source-class].code = $loinc#48002-0
* component[genomic-source-class].valueCodeableConcept = $loinc#LA6684-0 "Somatic"

Instance: ball-fusion-variant-absent-example
InstanceOf: BallFusionVariant
Usage: #example
Title: "Example BCR::ABL1 not detected by RT-PCR"
Description: "A negative targeted RT-PCR for BCR::ABL1 (the protocol's exclusion): an Absent finding with both partner genes."
* status = #final
* category[labCategory] = $obs-category#laboratory "Laboratory"
* category[geCategory] = $v2-0074#GE "Genetics"
* code = $loinc#69548-6 "Genetic variant assessment"
* subject = Reference(ball-patient-example)
* effectiveDateTime = "2024-03-01T08:30:00+01:00"
* valueCodeableConcept = $loinc#LA9634-2 "Absent"
* method = $loinc#LA26418-6 "PCR"
* specimen = Reference(ball-specimen-example)
* component[gene-studied][0].code = $loinc#48018-6
* component[gene-studied][0].valueCodeableConcept = http://www.genenames.org#HGNC:1014 "BCR"
* component[gene-studied][1].code = $loinc#48018-6
* component[gene-studied][1].valueCodeableConcept = http://www.genenames.org#HGNC:76 "ABL1"
* component[coding-change-type].code = $loinc#48019-4
* component[coding-change-type].valueCodeableConcept = http://www.sequenceontology.org#SO:1000044 "chromosomal_translocation"
* component[genomic-source-class].code = $loinc#48002-0
* component[genomic-source-class].valueCodeableConcept = $loinc#LA6684-0 "Somatic"

Instance: ball-cytogenetics-report-example
InstanceOf: BallCytogeneticsReport
Usage: #example
Title: "Example cytogenetics report"
Description: "The cytogenetic results of one bone marrow sample."
* status = #final
* category[lab].coding = $v2-0074#LAB "Laboratory"
* category[Genetics].coding = $v2-0074#GE "Genetics"
* code = $loinc#51969-4 "Genetic analysis report"
* subject = Reference(ball-patient-example)
* effectiveDateTime = "2024-03-01T08:30:00+01:00"
* specimen = Reference(ball-specimen-example)
* result[0] = Reference(ball-karyotype-observation-example)
* result[+] = Reference(ball-fusion-variant-example)
* result[+] = Reference(ball-fusion-variant-absent-example)
