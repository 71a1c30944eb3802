// Value sets of the foundation profiles. Codes: contract.md "Concepts"; LOINC displays from
// ../shared/reference/terminology.md section 3 where listed there.
ValueSet: BallSpecimenType
Id: ball-specimen-type
Title: "ball-fhir specimen types"
Description: "Specimen types of the ball-fhir adapter: bone marrow, peripheral blood, cerebrospinal fluid (ball-concepts; SNOMED CT specimen codes not verified, terminology.md section 5.2)."
* ^experimental = false
* $ball#bone-marrow "Bone marrow specimen"
* $ball#peripheral-blood "Peripheral blood specimen"
* $ball#csf "Cerebrospinal fluid specimen"

ValueSet: BallLabTests
Id: ball-lab-tests
Title: "ball-fhir laboratory tests"
Description: "Quantitative laboratory tests of the ball-fhir adapter (contract.md \"Concepts\"). 11150-0, 26446-5, 8122-4 and 806-0 with their long common names as read in terminology.md section 3 (V-src); 718-7 and 777-3 are widely used but not re-read there (contract.md)."
* ^experimental = false
* $loinc#11150-0 "Blasts/100 cells in Bone marrow"
* $loinc#26446-5 "Blasts/100 leukocytes in Blood"
* $loinc#8122-4 "CD3 cells [#/volume] in Blood"
* $loinc#806-0 "Leukocytes [#/volume] in Cerebral spinal fluid by Manual count"
* $loinc#718-7 "Hemoglobin [Mass/volume] in Blood"
* $loinc#777-3 "Platelets [#/volume] in Blood by Automated count"

ValueSet: BallMrdInterpretation
Id: ball-mrd-interpretation
Title: "ball-fhir MRD interpretation"
Description: "Interpretation of a flow-cytometry MRD result: positive or negative (v3 ObservationInterpretation, contract.md \"Concepts\")."
* ^experimental = false
* $v3-interpretation#POS "Positive"
* $v3-interpretation#NEG "Negative"
