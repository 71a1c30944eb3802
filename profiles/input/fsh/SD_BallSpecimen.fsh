// contract.md "Concepts" (MRD: specimen -> Specimen, bone marrow / peripheral blood); specimen
// types are ball-concepts codes because SNOMED CT specimen codes could not be verified
// (terminology.md section 5.2); the collection site may carry SNOMED 14016003 bone marrow (V-HL7).
Profile: BallSpecimen
Parent: Specimen
Id: ball-specimen
Title: "ball-fhir Specimen"
Description: "A bone marrow, peripheral blood or cerebrospinal fluid specimen of a ball-fhir patient, with its accession identifier and collection time."
* ^status = #draft
* accessionIdentifier 0..1 MS
* type 1..1 MS
* type from BallSpecimenType (required)
* subject 1..1 MS
* subject only Reference(BallPatient)
* collection 1..1 MS
* collection.collected[x] 1..1 MS
* collection.collected[x] only dateTime
* collection.bodySite 0..1
