// The skeleton shared by the quantitative laboratory Observations (MRD and other lab tests):
// category laboratory, the patient, the collection time, the specimen and a UCUM quantity.
// Shape aligned with mCODE/US Core laboratory result observations (not derived, see README).
RuleSet: BallLabObservationSkeleton
* status MS
* category 1..* MS
* category ^slicing.discriminator.type = #pattern
* category ^slicing.discriminator.path = "$this"
* category ^slicing.rules = #open
* category ^slicing.description = "Sliced by pattern; a laboratory category is required."
* category contains laboratory 1..1 MS
* category[laboratory] = $obs-category#laboratory
* code MS
* subject 1..1 MS
* subject only Reference(BallPatient)
* effective[x] 1..1 MS
* effective[x] only dateTime
* value[x] MS
* value[x] only Quantity
* valueQuantity.value 1..1 MS
* valueQuantity.system 1..1 MS
* valueQuantity.system = "http://unitsofmeasure.org" (exactly)
* valueQuantity.code 1..1 MS
* dataAbsentReason MS
* specimen 1..1 MS
* specimen only Reference(BallSpecimen)

// The one allowed deviation of our mCODE-derived profiles (README.md "Derivation"): every mCODE
// `subject` targets CancerPatient / US Core Patient (name, gender 1..1); our Patient is
// pseudonymous on purpose (identifier only), so subject targets ball-patient instead. SUSHI
// refuses `only Reference(BallPatient)` there (not a US Core Patient), hence the caret rule.
RuleSet: BallPatientSubjectDeviation
* subject ^type[0].targetProfile[0] = Canonical(BallPatient)
