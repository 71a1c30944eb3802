// contract.md "Concepts": marrow and blood blasts, CD3+ cells, CSF leukocytes, hemoglobin and
// platelets, coded in LOINC (ValueSet ball-lab-tests), each a UCUM quantity.
Profile: BallLabObservation
Parent: Observation
Id: ball-lab-observation
Title: "ball-fhir laboratory result"
Description: "A quantitative laboratory result of a ball-fhir specimen (LOINC code from ball-lab-tests, UCUM quantity)."
* ^status = #draft
* insert BallLabObservationSkeleton
* obeys ball-lab-1
* code from BallLabTests (required)

Invariant: ball-lab-1
Description: "A laboratory result has a value or a dataAbsentReason (a cancelled measurement carries a dataAbsentReason)."
Expression: "value.exists() or dataAbsentReason.exists()"
Severity: #error
