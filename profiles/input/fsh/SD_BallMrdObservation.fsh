// contract.md "Concepts", MRD by flow cytometry: code mrd-flow (ball-concepts; no verified LOINC,
// terminology.md section 3), valueQuantity in UCUM %, comparator < allowed, specimen, components
// events-analyzed (count) and mrd-lod (%), interpretation POS/NEG (v3 ObservationInterpretation).
Profile: BallMrdObservation
Parent: Observation
Id: ball-mrd-observation
Title: "ball-fhir MRD by flow cytometry"
Description: "Minimal residual disease measured by flow cytometry, as % of analysed cells (UCUM %), with the number of events analysed and the limit of detection as components."
* ^status = #draft
* insert BallLabObservationSkeleton
* obeys ball-mrd-1
* code = $ball#mrd-flow
* valueQuantity.code = #% (exactly)
* valueQuantity.comparator MS
* interpretation MS
* interpretation from BallMrdInterpretation (required)
* component MS
* component ^slicing.discriminator.type = #pattern
* component ^slicing.discriminator.path = "code"
* component ^slicing.rules = #open
* component ^slicing.description = "Sliced by the pattern on component.code."
* component contains eventsAnalyzed 0..1 MS and lod 0..1 MS
* component[eventsAnalyzed].code = $ball#events-analyzed
* component[eventsAnalyzed].value[x] only integer
* component[eventsAnalyzed].value[x] MS
* component[lod].code = $ball#mrd-lod
* component[lod].value[x] only Quantity
* component[lod].value[x] MS
* component[lod].valueQuantity.system 1..1
* component[lod].valueQuantity.system = "http://unitsofmeasure.org" (exactly)
* component[lod].valueQuantity.code 1..1
* component[lod].valueQuantity.code = #% (exactly)

Invariant: ball-mrd-1
Description: "An MRD result has a value or a dataAbsentReason (a cancelled measurement carries a dataAbsentReason)."
Expression: "value.exists() or dataAbsentReason.exists()"
Severity: #error
