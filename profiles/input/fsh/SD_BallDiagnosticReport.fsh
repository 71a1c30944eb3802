// A per-specimen laboratory report grouping the results (code lab-results-report in ball-concepts:
// no verified LOINC panel code, terminology.md section 3); category LAB from HL7 v2 table 0074.
Profile: BallDiagnosticReport
Parent: DiagnosticReport
Id: ball-diagnostic-report
Title: "ball-fhir laboratory report"
Description: "A laboratory report of a ball-fhir patient grouping the results of its specimens."
* ^status = #draft
* status MS
* category 1..* MS
* category ^slicing.discriminator.type = #pattern
* category ^slicing.discriminator.path = "$this"
* category ^slicing.rules = #open
* category ^slicing.description = "Sliced by pattern; a LAB category is required."
* category contains lab 1..1 MS
* category[lab] = $v2-0074#LAB
* code 1..1 MS
* subject 1..1 MS
* subject only Reference(BallPatient)
* effective[x] MS
* effective[x] only dateTime
* specimen 0..* MS
* specimen only Reference(BallSpecimen)
* result 1..* MS
* result only Reference(Observation)
