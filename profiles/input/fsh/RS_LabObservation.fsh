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
