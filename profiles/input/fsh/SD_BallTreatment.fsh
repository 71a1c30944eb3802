// Profiles of the treatment and clinical-course resources (issue 5), in the shapes of
// ../shared/domain/contract.md "Concepts"; mCODE shapes (terminology.md 1.1-1.2) are followed, not
// derived (mCODE/US Core are not available offline). Mapper: adapter/mapping/treatment.

// contract.md "blinatumomab infusion"; mCODE CancerRelatedMedicationAdministration shape.
Profile: BallBlinatumomabAdministration
Parent: $mcode-medication-administration
Id: ball-blinatumomab-administration
Title: "ball-fhir blinatumomab administration"
Description: "One blinatumomab bag or segment: effectivePeriod = the bag, dosage.rateQuantity = delivered dose rate in ug/d, IV route, mCODE normalization basis (BSA or fixed dose), the prescribed ug/m2/d rate when BSA-based, course number and day. An interruption or early stop is status stopped with statusReason (mCODE termination-reason invariants)."
* ^status = #draft
* obeys ball-ma-basis-1 and ball-ma-basis-2 and ball-ma-term-1 and ball-ma-term-2
* extension MS
* extension contains BallPrescribedRatePerM2 named prescribedRatePerM2 0..1 MS and BallCourseNumber named courseNumber 0..1 MS and BallCourseDay named courseDay 0..1 MS
* status MS
* statusReason MS
* medication[x] MS
* medication[x] only CodeableConcept
* medicationCodeableConcept from BallBlinatumomabDrugs (required)
* subject MS
* insert BallPatientSubjectDeviation
* effective[x] MS
* effective[x] only Period
* effectivePeriod.start 1..1 MS
* effectivePeriod.end MS
* dosage 1..1 MS
* dosage.route 1..1 MS
* dosage.route = $sct#47625008
* dosage.rate[x] 1..1 MS
* dosage.rate[x] only SimpleQuantity
* dosage.rateQuantity.value 1..1
* dosage.rateQuantity.system 1..1
* dosage.rateQuantity.system = "http://unitsofmeasure.org" (exactly)
* dosage.rateQuantity.code 1..1
* dosage.rateQuantity.code = #ug/d (exactly)

Invariant: ball-ma-basis-1
Description: "Exactly one mCODE normalization basis: 301898006 body surface area or 1157245009 fixed dose (contract.md; mCODE NormalizationBasisVS)."
Expression: "extension.where(url = 'http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-normalization-basis').count() = 1 and extension.where(url = 'http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-normalization-basis').value.coding.where(system = 'http://snomed.info/sct' and (code = '301898006' or code = '1157245009')).exists()"
Severity: #error

Invariant: ball-ma-basis-2
Description: "A BSA-based dose carries the prescribed ug/m2/d rate (contract.md)."
Expression: "extension.where(url = 'http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-normalization-basis').value.coding.where(code = '301898006').exists() implies extension.where(url = 'https://ball-fhir.org/fhir/StructureDefinition/ball-prescribed-rate-per-m2').exists()"
Severity: #error

Invariant: ball-ma-term-1
Description: "mCODE termination-reason-invariant (SD_Radiotherapy.fsh, terminology.md 1.2): a termination reason code in statusReason requires status stopped."
Expression: "statusReason.coding.where(system = 'http://snomed.info/sct' and (code = '182992009' or code = '266721009' or code = '407563006' or code = '160932005' or code = '105480006' or code = '184081006' or code = '309846006' or code = '399307001' or code = '419620001' or code = '7058009' or code = '443729008' or code = '77386006')).exists() implies status = 'stopped'"
Severity: #error

Invariant: ball-ma-term-2
Description: "mCODE termination-reason-code-invariant (terminology.md 1.2): when status is stopped and statusReason is coded, the code is a termination reason."
Expression: "(status = 'stopped' and statusReason.coding.exists()) implies statusReason.coding.where(system = 'http://snomed.info/sct' and (code = '182992009' or code = '266721009' or code = '407563006' or code = '160932005' or code = '105480006' or code = '184081006' or code = '309846006' or code = '399307001' or code = '419620001' or code = '7058009' or code = '443729008' or code = '77386006')).exists()"
Severity: #error

// contract.md "intrathecal chemotherapy".
Profile: BallIntrathecalAdministration
Parent: $mcode-medication-administration
Id: ball-intrathecal-administration
Title: "ball-fhir intrathecal administration"
Description: "One intrathecal drug given (methotrexate, cytarabine, dexamethasone) with the intrathecal route 72607000 and the dose in UCUM mg, with course number and day."
* ^status = #draft
* extension MS
* extension contains BallCourseNumber named courseNumber 0..1 MS and BallCourseDay named courseDay 0..1 MS
* status MS
* medication[x] MS
* medication[x] only CodeableConcept
* medicationCodeableConcept from BallIntrathecalDrugs (required)
* subject MS
* insert BallPatientSubjectDeviation
* effective[x] MS
* effective[x] only dateTime
* dosage 1..1 MS
* dosage.route 1..1 MS
* dosage.route = $sct#72607000
* dosage.dose 1..1 MS
* dosage.dose.system 1..1
* dosage.dose.system = "http://unitsofmeasure.org" (exactly)
* dosage.dose.code 1..1
* dosage.dose.code = #mg (exactly)

// contract.md "CD3+ lymphocyte apheresis".
Profile: BallCd3Apheresis
Parent: Procedure
Id: ball-cd3-apheresis
Title: "ball-fhir CD3+ lymphocyte apheresis"
Description: "Collection of autologous CD3+ lymphocytes by apheresis (ball-concepts cd3-apheresis), identified by the collection id; its portions are ball-cd3-product resources."
* ^status = #draft
* identifier 1..* MS
* status MS
* code 1..1 MS
* code = $ball#cd3-apheresis
* subject MS
* subject only Reference(BallPatient)
* performed[x] 1..1 MS
* performed[x] only dateTime

Profile: BallCd3Product
Parent: BiologicallyDerivedProduct
Id: ball-cd3-product
Title: "ball-fhir CD3+ product portion"
Description: "One cryopreserved portion of an autologous CD3+ apheresis product (protocol.md section 3: split into 4 equal parts), with cells per portion in 10*6 and the CD3+ share."
* ^status = #draft
* extension MS
* extension contains BallCellCount named cellCount 0..1 MS and BallCd3Share named cd3Share 0..1 MS
* identifier 1..* MS
* identifier.system 1..1
* identifier.value 1..1
* productCategory 1..1 MS
* productCategory = #cells
* collection 1..1 MS
* collection.source 1..1 MS
* collection.source only Reference(BallPatient)
* collection.collected[x] 1..1 MS
* collection.collected[x] only dateTime

// contract.md "autologous CD3+ infusion".
Profile: BallCd3Infusion
Parent: Procedure
Id: ball-cd3-infusion
Title: "ball-fhir autologous CD3+ infusion"
Description: "Infusion of one portion of autologous CD3+ lymphocytes (ball-concepts cd3-autologous-infusion) with the portion used, course number and day, and cells infused (10*6)."
* ^status = #draft
* extension MS
* extension contains BallUsedProduct named usedProduct 1..1 MS and BallCourseNumber named courseNumber 0..1 MS and BallCourseDay named courseDay 0..1 MS and BallCellCount named cellCount 0..1 MS
* status MS
* code 1..1 MS
* code = $ball#cd3-autologous-infusion
* subject MS
* subject only Reference(BallPatient)
* performed[x] 1..1 MS
* performed[x] only dateTime
* usedReference MS

// contract.md "allogeneic HSCT".
Profile: BallHsct
Parent: Procedure
Id: ball-hsct
Title: "ball-fhir allogeneic HSCT"
Description: "Allogeneic haematopoietic stem cell transplant (SNOMED 234336002, contract.md 2nd) with the donor type as a coded extension."
* ^status = #draft
* extension MS
* extension contains BallHsctDonorType named donorType 0..1 MS
* status MS
* code 1..1 MS
* code = $sct#234336002
* subject MS
* subject only Reference(BallPatient)
* performed[x] 1..1 MS
* performed[x] only dateTime

// contract.md "end of front-line therapy".
Profile: BallFrontlineTherapy
Parent: Procedure
Id: ball-frontline-therapy
Title: "ball-fhir front-line therapy"
Description: "The front-line therapy of the initial diagnosis; performedPeriod.end is the end of front-line therapy that times a relapse (protocol.md section 2)."
* ^status = #draft
* status MS
* code 1..1 MS
* code = $ball#frontline-therapy
* subject MS
* subject only Reference(BallPatient)
* performed[x] 1..1 MS
* performed[x] only Period
* performedPeriod.end 1..1 MS

// contract.md "B-ALL, initial diagnosis" and "relapse episode".
Profile: BallBAllCondition
Parent: $mcode-primary-cancer-condition
Id: ball-b-all-condition
Title: "ball-fhir B-ALL condition"
Description: "B-ALL (SNOMED 277571004): the initial diagnosis (onset = date of diagnosis) or a relapse episode (clinicalStatus relapse, onset = date the relapse was diagnosed, bodySite = relapse sites). The relapse number is the order by onset."
* ^status = #draft
* clinicalStatus MS
* code 1..1 MS
* code = $sct#277571004
* category[us-core] = $condition-category#problem-list-item
* bodySite MS
* subject MS
* insert BallPatientSubjectDeviation
* onset[x] 1..1 MS
* onset[x] only dateTime
* evidence MS

// contract.md "relapse risk group" (mCODE ALLRiskAssessment shape).
Profile: BallRelapseRiskGroup
Parent: Observation
Id: ball-relapse-risk-group
Title: "ball-fhir relapse risk group"
Description: "The relapse risk group as recorded (S1..S5, protocol.md section 2), code NCIt C167435 as mCODE ALLRiskAssessment; focus -> the relapse Condition."
* ^status = #draft
* status MS
* code MS
* code = $ncit#C167435
* subject 1..1 MS
* subject only Reference(BallPatient)
* focus MS
* focus only Reference(Condition)
* focus ^type[0].targetProfile[0] = Canonical(BallBAllCondition)
* effective[x] 1..1 MS
* effective[x] only dateTime
* value[x] 1..1 MS
* value[x] only CodeableConcept
* valueCodeableConcept from BallRelapseRiskGroups (required)

// contract.md "treatment protocol".
Profile: BallTreatmentProtocol
Parent: CarePlan
Id: ball-treatment-protocol
Title: "ball-fhir treatment protocol"
Description: "The patient's treatment protocol: instantiatesCanonical = our PlanDefinition for ALL-REZ 2016 or ALL-REZ-MB 2014, period.start = start of the protocol."
* ^status = #draft
* instantiatesCanonical 1..1 MS
* status MS
* intent MS
* subject MS
* subject only Reference(BallPatient)
* period 1..1 MS
* period.start 1..1 MS

// Follow-up date (issue 5): no standard code verified (ball-concepts follow-up).
Profile: BallFollowUp
Parent: Observation
Id: ball-follow-up
Title: "ball-fhir follow-up contact"
Description: "The date of a follow-up contact (the latest is the last follow-up of survival analyses, protocol.md section 7)."
* ^status = #draft
* status MS
* code MS
* code = $ball#follow-up
* subject 1..1 MS
* subject only Reference(BallPatient)
* effective[x] 1..1 MS
* effective[x] only dateTime
* value[x] 0..0

// contract.md "body weight / height / BSA": FHIR vital signs, LOINC 29463-7 / 8302-2 / 8277-6.
Profile: BallBodyWeight
Parent: http://hl7.org/fhir/StructureDefinition/bodyweight
Id: ball-body-weight
Title: "ball-fhir body weight"
Description: "Body weight (LOINC 29463-7), FHIR core vital signs (units kg, g or [lb_av] by the core binding; the adapter emits kg)."
* ^status = #draft
* subject only Reference(BallPatient)

Profile: BallBodyHeight
Parent: http://hl7.org/fhir/StructureDefinition/bodyheight
Id: ball-body-height
Title: "ball-fhir body height"
Description: "Body height (LOINC 8302-2), FHIR core vital signs (units cm or [in_i] by the core binding; the adapter emits cm)."
* ^status = #draft
* subject only Reference(BallPatient)

Profile: BallBodySurfaceArea
Parent: http://hl7.org/fhir/StructureDefinition/vitalsigns
Id: ball-body-surface-area
Title: "ball-fhir body surface area"
Description: "Body surface area (LOINC 8277-6) in m2, computed from a body weight and a body height (derivedFrom) with the formula named in method.text (Mosteller by default), as mCODE BodySurfaceArea."
* ^status = #draft
* code = $loinc#8277-6
* subject only Reference(BallPatient)
* value[x] only Quantity
* valueQuantity 1..1 MS
* valueQuantity.value 1..1
* valueQuantity.system 1..1
* valueQuantity.system = "http://unitsofmeasure.org" (exactly)
* valueQuantity.code 1..1
* valueQuantity.code = #m2 (exactly)
* method 1..1 MS
* method.text 1..1 MS
* derivedFrom 2..* MS
