// Value sets of the cytogenetics profiles (mappings/tables/cytogenetics.yaml holds the same codes
// for the mapper). LOINC answers of Genomics Reporting STU2 (../shared/reference/terminology.md
// section 2.2): LL1971-2 Present/Absent (V-HL7); method answers of LL4048-6 are (2nd) in
// contract.md (mCODE example + three secondary listings): re-check at https://loinc.org/LL4048-6.
ValueSet: BallFusionPresence
Id: ball-fusion-presence
Title: "ball-fhir fusion finding presence"
Description: "Whether a fusion or translocation was found: LOINC LL1971-2 answers Present / Absent (Genomics Reporting STU2 variant value, terminology.md section 2.2)."
* ^experimental = false
* $loinc#LA9633-4 "Present"
* $loinc#LA9634-2 "Absent"

ValueSet: BallCytogeneticMethod
Id: ball-cytogenetic-method
Title: "ball-fhir cytogenetic methods"
Description: "How a cytogenetic finding was made: karyotyping, FISH or PCR (LOINC LL4048-6 answers; codes (2nd) in contract.md, terminology.md section 2.2)."
* ^experimental = false
* $loinc#LA26406-1 "Karyotyping"
* $loinc#LA26404-6 "FISH"
* $loinc#LA26418-6 "PCR"
