// Extensions of the treatment and clinical-course resources (issue 5). contract.md asks for course
// number and day, the prescribed per-m2 rate, cells per portion, and the HSCT donor type "as a
// coded extension"; no standard extension carrying them could be verified (terminology.md 1.2:
// mCODE has no element for the normalized dose).
Extension: BallCourseNumber
Id: ball-course-number
Title: "Course number"
Description: "The number of the treatment course (1 = first blinatumomab course) this administration or procedure belongs to (contract.md, protocol.md section 4)."
Context: MedicationAdministration, Procedure
* ^status = #draft
* value[x] 1..1
* value[x] only positiveInt

Extension: BallCourseDay
Id: ball-course-day
Title: "Course day"
Description: "The day of the treatment course (day 1 = first day of the course) of this administration or procedure (contract.md, protocol.md section 4)."
Context: MedicationAdministration, Procedure
* ^status = #draft
* value[x] 1..1
* value[x] only positiveInt

Extension: BallPrescribedRatePerM2
Id: ball-prescribed-rate-per-m2
Title: "Prescribed dose rate per m2"
Description: "The prescribed dose rate normalized to body surface area, in UCUM ug/m2/d, when the normalization basis is BSA (contract.md blinatumomab infusion; terminology.md 1.2: mCODE has no element for the normalized dose)."
Context: MedicationAdministration
* ^status = #draft
* value[x] 1..1
* value[x] only Quantity
* valueQuantity.value 1..1
* valueQuantity.system 1..1
* valueQuantity.system = "http://unitsofmeasure.org" (exactly)
* valueQuantity.code 1..1
* valueQuantity.code = #ug/m2/d (exactly)

Extension: BallCellCount
Id: ball-cell-count
Title: "Cell count"
Description: "Number of cells in a cell product portion or infused, in UCUM 10*6 (contract.md CD3+ apheresis: cells per portion 10*6)."
Context: BiologicallyDerivedProduct, Procedure
* ^status = #draft
* value[x] 1..1
* value[x] only Quantity
* valueQuantity.value 1..1
* valueQuantity.system 1..1
* valueQuantity.system = "http://unitsofmeasure.org" (exactly)
* valueQuantity.code 1..1
* valueQuantity.code = #10*6 (exactly)

Extension: BallCd3Share
Id: ball-cd3-share
Title: "CD3+ share"
Description: "Share of CD3+ cells among the nucleated cells of the product, in UCUM % (protocol.md section 3, [S22] median 44.8 %)."
Context: BiologicallyDerivedProduct
* ^status = #draft
* value[x] 1..1
* value[x] only Quantity
* valueQuantity.value 1..1
* valueQuantity.system 1..1
* valueQuantity.system = "http://unitsofmeasure.org" (exactly)
* valueQuantity.code 1..1
* valueQuantity.code = #% (exactly)

Extension: BallHsctDonorType
Id: ball-hsct-donor-type
Title: "HSCT donor type"
Description: "The donor type of an allogeneic haematopoietic stem cell transplant (contract.md: donor type as a coded extension)."
Context: Procedure
* ^status = #draft
* value[x] 1..1
* value[x] only CodeableConcept
* valueCodeableConcept from BallHsctDonorTypes (required)

Extension: BallUsedProduct
Id: ball-used-product
Title: "Used cell product"
Description: "The BiologicallyDerivedProduct used by a procedure. contract.md asks for Procedure.usedReference -> BiologicallyDerivedProduct, but R4 Procedure.usedReference allows only Device, Medication and Substance, so the literal reference is carried here and usedReference holds a logical (identifier) reference."
Context: Procedure
* ^status = #draft
* value[x] 1..1
* value[x] only Reference(BiologicallyDerivedProduct)
