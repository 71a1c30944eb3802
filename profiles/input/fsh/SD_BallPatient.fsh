// contract.md "Identity": the patient is identified by the site's local identifier (its system is
// named by the site configuration, never invented) and created conditionally (ifNoneExist) on it.
// Shape aligned with mCODE CancerPatient (not derived: mCODE/US Core are not available offline).
Profile: BallPatient
Parent: Patient
Id: ball-patient
Title: "ball-fhir Patient"
Description: "A patient of the ball-fhir adapter, identified by at least one local identifier with system and value (the key of the conditional create)."
* ^status = #draft
* identifier 1..* MS
* identifier.system 1..1 MS
* identifier.value 1..1 MS
