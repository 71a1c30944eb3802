// One example per profile, in the shapes the mapper emits (literal references here instead of
// the urn:uuid references inside a transaction Bundle). Identifier systems are example.org.
Instance: ball-patient-example
InstanceOf: BallPatient
Usage: #example
Title: "Example patient"
Description: "A patient identified by a local MRN."
* identifier.system = "https://example.org/fhir/sid/mrn"
* identifier.value = "MRN-0001"

Instance: ball-specimen-example
InstanceOf: BallSpecimen
Usage: #example
Title: "Example bone marrow specimen"
Description: "A bone marrow aspirate with its accession number."
* accessionIdentifier.system = "https://example.org/fhir/sid/accession"
* accessionIdentifier.value = "BM-2024-0001"
* type = $ball#bone-marrow "Bone marrow specimen"
* subject = Reference(ball-patient-example)
* collection.collectedDateTime = "2024-03-01T08:30:00+01:00"
* collection.bodySite = $sct#14016003 "Bone marrow structure"

Instance: ball-mrd-observation-example
InstanceOf: BallMrdObservation
Usage: #example
Title: "Example flow MRD result"
Description: "Flow MRD of 0.012 % in bone marrow, positive, with events analysed and limit of detection."
* status = #final
* category[laboratory] = $obs-category#laboratory
* code = $ball#mrd-flow "Minimal residual disease by flow cytometry"
* subject = Reference(ball-patient-example)
* effectiveDateTime = "2024-03-01T08:30:00+01:00"
* valueQuantity = 0.012 '%' "%"
* interpretation = $v3-interpretation#POS "Positive"
* specimen = Reference(ball-specimen-example)
* method.text = "8-colour flow cytometry"
* component[eventsAnalyzed].code = $ball#events-analyzed "Events analyzed"
* component[eventsAnalyzed].valueInteger = 500000
* component[lod].code = $ball#mrd-lod "MRD limit of detection"
* component[lod].valueQuantity = 0.002 '%' "%"

Instance: ball-mrd-observation-cancelled-example
InstanceOf: BallMrdObservation
Usage: #example
Title: "Example cancelled flow MRD"
Description: "A cancelled flow MRD measurement: no value, a dataAbsentReason instead (invariant ball-mrd-1)."
* status = #cancelled
* category[laboratory] = $obs-category#laboratory
* code = $ball#mrd-flow "Minimal residual disease by flow cytometry"
* subject = Reference(ball-patient-example)
* effectiveDateTime = "2024-03-01T08:30:00+01:00"
* dataAbsentReason = $data-absent-reason#not-performed "Not Performed"
* specimen = Reference(ball-specimen-example)
* note.text = "Sample clotted."

Instance: ball-lab-observation-example
InstanceOf: BallLabObservation
Usage: #example
Title: "Example marrow blasts"
Description: "Blasts 35 % of cells in bone marrow."
* status = #final
* category[laboratory] = $obs-category#laboratory
* code = $loinc#11150-0 "Blasts/100 cells in Bone marrow"
* subject = Reference(ball-patient-example)
* effectiveDateTime = "2024-03-01T08:30:00+01:00"
* valueQuantity = 35 '%' "%"
* specimen = Reference(ball-specimen-example)

Instance: ball-diagnostic-report-example
InstanceOf: BallDiagnosticReport
Usage: #example
Title: "Example laboratory report"
Description: "The report of the example bone marrow specimen."
* status = #final
* category[lab] = $v2-0074#LAB
* code = $ball#lab-results-report "Laboratory results report"
* subject = Reference(ball-patient-example)
* effectiveDateTime = "2024-03-01T08:30:00+01:00"
* specimen = Reference(ball-specimen-example)
* result[0] = Reference(ball-mrd-observation-example)
* result[1] = Reference(ball-lab-observation-example)

Instance: ball-provenance-example
InstanceOf: BallProvenance
Usage: #example
Title: "Example provenance"
Description: "The example MRD and blast results came from rows 2 and 3 of a CSV file."
* target[0] = Reference(ball-mrd-observation-example)
* target[0].extension[sourceRow].valuePositiveInt = 2
* target[1] = Reference(ball-lab-observation-example)
* target[1].extension[sourceRow].valuePositiveInt = 3
* recorded = "2024-03-02T10:00:00+01:00"
* agent.who.display = "ball-fhir 0.1.0"
* entity.role = #source
* entity.what.identifier.system = "urn:ietf:rfc:3986"
* entity.what.identifier.value = "ni:///sha-256;ggw_ooBIBCa-MlALykqn1XGnoGzjwkZ8GsGeEwnK3nY"
* entity.what.display = "lab-results.csv"
