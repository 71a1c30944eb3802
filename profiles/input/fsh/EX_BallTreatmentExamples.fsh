// One example per treatment profile (issue 5), in the shapes adapter/mapping/treatment emits
// (literal references here instead of urn:uuid references inside a transaction Bundle).
Instance: ball-blinatumomab-administration-example
InstanceOf: BallBlinatumomabAdministration
Usage: #example
Title: "Example blinatumomab bag, course 1 day 8 (step-up)"
Description: "15 ug/m2/d for a patient with BSA 0.85 m2: 12.75 ug/d delivered over a 7-day bag."
* extension[prescribedRatePerM2].valueQuantity = 15 'ug/m2/d' "ug/m2/d"
* extension[courseNumber].valuePositiveInt = 1
* extension[courseDay].valuePositiveInt = 8
* extension[3].url = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-normalization-basis"
* extension[3].valueCodeableConcept = $sct#301898006 "Body surface area"
* status = #completed
* medicationCodeableConcept = $rxnorm#1597258 "blinatumomab"
* subject = Reference(ball-patient-example)
* effectivePeriod.start = "2024-10-21T10:00:00+03:00"
* effectivePeriod.end = "2024-10-28T10:00:00+03:00"
* dosage.text = "15 ug/m2/d continuous IV infusion; BSA 0.85 m2 -> 12.75 ug/d"
* dosage.route = $sct#47625008 "Intravenous route"
* dosage.rateQuantity = 12.75 'ug/d' "ug/d"

Instance: ball-blinatumomab-administration-stopped-example
InstanceOf: BallBlinatumomabAdministration
Usage: #example
Title: "Example interrupted blinatumomab bag"
Description: "A flat-dose bag interrupted because the treatment was not tolerated (status stopped, statusReason 407563006)."
* extension[courseNumber].valuePositiveInt = 1
* extension[courseDay].valuePositiveInt = 3
* extension[2].url = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-normalization-basis"
* extension[2].valueCodeableConcept = $sct#1157245009 "Fixed dose"
* status = #stopped
* statusReason = $sct#407563006 "Treatment not tolerated"
* statusReason.text = "interrupted: not-tolerated"
* medicationCodeableConcept = $rxnorm#1597258 "blinatumomab"
* subject = Reference(ball-patient-example)
* effectivePeriod.start = "2024-10-16T10:00:00+03:00"
* effectivePeriod.end = "2024-10-17T02:30:00+03:00"
* dosage.route = $sct#47625008 "Intravenous route"
* dosage.rateQuantity = 9 'ug/d' "ug/d"

Instance: ball-intrathecal-administration-example
InstanceOf: BallIntrathecalAdministration
Usage: #example
Title: "Example intrathecal methotrexate, course day 1"
Description: "Methotrexate 12 mg intrathecally on day 1 of course 1."
* extension[courseNumber].valuePositiveInt = 1
* extension[courseDay].valuePositiveInt = 1
* status = #completed
* medicationCodeableConcept = $rxnorm#6851 "methotrexate"
* subject = Reference(ball-patient-example)
* effectiveDateTime = "2024-10-14T09:00:00+03:00"
* dosage.route = $sct#72607000 "Intrathecal route"
* dosage.dose = 12 'mg' "mg"

Instance: ball-cd3-apheresis-example
InstanceOf: BallCd3Apheresis
Usage: #example
Title: "Example CD3+ apheresis"
Description: "Collection AF-2024-017, split into 4 portions."
* identifier.system = "https://example.org/fhir/sid/cell-product"
* identifier.value = "AF-2024-017"
* status = #completed
* code = $ball#cd3-apheresis "CD3+ lymphocyte apheresis"
* subject = Reference(ball-patient-example)
* performedDateTime = "2024-09-20T09:00:00+03:00"

Instance: ball-cd3-product-example
InstanceOf: BallCd3Product
Usage: #example
Title: "Example CD3+ product portion"
Description: "Portion 1 of collection AF-2024-017: 30 x 10^6 cells, 45.2 % CD3+."
* extension[cellCount].valueQuantity = 30 '10*6' "10*6"
* extension[cd3Share].valueQuantity = 45.2 '%' "%"
* identifier.system = "https://example.org/fhir/sid/cell-product"
* identifier.value = "AF-2024-017-1"
* productCategory = #cells
* quantity = 1
* collection.source = Reference(ball-patient-example)
* collection.collectedDateTime = "2024-09-20T09:00:00+03:00"

Instance: ball-cd3-infusion-example
InstanceOf: BallCd3Infusion
Usage: #example
Title: "Example autologous CD3+ infusion"
Description: "Portion 1 infused on day 1 of course 1."
* extension[usedProduct].valueReference = Reference(ball-cd3-product-example)
* extension[courseNumber].valuePositiveInt = 1
* extension[courseDay].valuePositiveInt = 1
* extension[cellCount].valueQuantity = 30 '10*6' "10*6"
* status = #completed
* code = $ball#cd3-autologous-infusion "Autologous CD3+ lymphocyte infusion"
* subject = Reference(ball-patient-example)
* performedDateTime = "2024-10-14T14:00:00+03:00"
* usedReference.identifier.system = "https://example.org/fhir/sid/cell-product"
* usedReference.identifier.value = "AF-2024-017-1"
* usedReference.display = "CD3+ portion AF-2024-017-1"

Instance: ball-hsct-example
InstanceOf: BallHsct
Usage: #example
Title: "Example allogeneic HSCT"
Description: "HSCT from a matched unrelated donor."
* extension[donorType].valueCodeableConcept = $ball#matched-unrelated-donor "Matched unrelated donor"
* status = #completed
* code = $sct#234336002 "Hemopoietic stem cell transplant"
* subject = Reference(ball-patient-example)
* performedDateTime = "2024-12-20"

Instance: ball-frontline-therapy-example
InstanceOf: BallFrontlineTherapy
Usage: #example
Title: "Example end of front-line therapy"
Description: "Front-line therapy ended on 2024-05-20."
* status = #completed
* code = $ball#frontline-therapy "Front-line therapy"
* subject = Reference(ball-patient-example)
* performedPeriod.end = "2024-05-20"

Instance: ball-b-all-diagnosis-example
InstanceOf: BallBAllCondition
Usage: #example
Title: "Example initial B-ALL diagnosis"
Description: "B-ALL diagnosed on 2022-03-10."
* code = $sct#277571004 "B-cell acute lymphoblastic leukemia (disorder)"
* subject = Reference(ball-patient-example)
* onsetDateTime = "2022-03-10"
* note.text = "Immunophenotype: common B-ALL (BII)"

Instance: ball-b-all-relapse-example
InstanceOf: BallBAllCondition
Usage: #example
Title: "Example isolated bone-marrow relapse"
Description: "First relapse, bone marrow, diagnosed on 2024-09-02."
* clinicalStatus = $condition-clinical#relapse "Relapse"
* code = $sct#277571004 "B-cell acute lymphoblastic leukemia (disorder)"
* bodySite = $sct#14016003 "Bone marrow structure"
* subject = Reference(ball-patient-example)
* onsetDateTime = "2024-09-02"

Instance: ball-relapse-risk-group-example
InstanceOf: BallRelapseRiskGroup
Usage: #example
Title: "Example relapse risk group S3"
Description: "Risk group S3 as recorded for the first relapse."
* status = #final
* code = $ncit#C167435 "Leukemia Finding"
* subject = Reference(ball-patient-example)
* focus = Reference(ball-b-all-relapse-example)
* effectiveDateTime = "2024-09-05"
* valueCodeableConcept = $ball#S3 "Relapse risk group S3"

Instance: ball-treatment-protocol-example
InstanceOf: BallTreatmentProtocol
Usage: #example
Title: "Example treatment protocol ALL-REZ 2016"
Description: "The patient is treated according to ALL-REZ 2016 from 2024-09-05."
* instantiatesCanonical = "https://ball-fhir.org/fhir/PlanDefinition/all-rez-2016"
* status = #unknown
* intent = #plan
* subject = Reference(ball-patient-example)
* period.start = "2024-09-05"

Instance: ball-follow-up-example
InstanceOf: BallFollowUp
Usage: #example
Title: "Example follow-up contact"
Description: "Follow-up contact on 2025-06-01."
* status = #final
* code = $ball#follow-up "Follow-up contact"
* subject = Reference(ball-patient-example)
* effectiveDateTime = "2025-06-01"

Instance: ball-body-weight-example
InstanceOf: BallBodyWeight
Usage: #example
Title: "Example body weight"
Description: "22 kg."
* status = #final
* category[VSCat] = $obs-category#vital-signs "Vital Signs"
* code = $loinc#29463-7 "Body weight"
* subject = Reference(ball-patient-example)
* effectiveDateTime = "2024-10-13"
* valueQuantity = 22 'kg' "kg"

Instance: ball-body-height-example
InstanceOf: BallBodyHeight
Usage: #example
Title: "Example body height"
Description: "120.5 cm."
* status = #final
* category[VSCat] = $obs-category#vital-signs "Vital Signs"
* code = $loinc#8302-2 "Body height"
* subject = Reference(ball-patient-example)
* effectiveDateTime = "2024-10-13"
* valueQuantity = 120.5 'cm' "cm"

Instance: ball-body-surface-area-example
InstanceOf: BallBodySurfaceArea
Usage: #example
Title: "Example body surface area"
Description: "0.86 m2 by the Mosteller formula."
* status = #final
* category[VSCat] = $obs-category#vital-signs "Vital Signs"
* code = $loinc#8277-6 "Body surface area"
* subject = Reference(ball-patient-example)
* effectiveDateTime = "2024-10-13"
* valueQuantity = 0.86 'm2' "m2"
* method.text = "Mosteller formula: sqrt(height[cm] x weight[kg] / 3600)"
* derivedFrom[0] = Reference(ball-body-weight-example)
* derivedFrom[1] = Reference(ball-body-height-example)
