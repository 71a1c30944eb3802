// Code systems of ../shared/domain/contract.md "Systems" and the HL7 systems the profiles name.
Alias: $loinc = http://loinc.org
Alias: $sct = http://snomed.info/sct
Alias: $ucum = http://unitsofmeasure.org
Alias: $obs-category = http://terminology.hl7.org/CodeSystem/observation-category
Alias: $v2-0074 = http://terminology.hl7.org/CodeSystem/v2-0074
Alias: $v3-interpretation = http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation
Alias: $data-absent-reason = http://terminology.hl7.org/CodeSystem/data-absent-reason
Alias: $ball = https://ball-fhir.org/fhir/CodeSystem/ball-concepts
Alias: $rfc3986 = urn:ietf:rfc:3986
Alias: $condition-category = http://terminology.hl7.org/CodeSystem/condition-category
// Parents of the derived profiles (README.md "Derivation"): mCODE 4.0.0, Genomics Reporting 3.0.0.
Alias: $mcode-primary-cancer-condition = http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-primary-cancer-condition
Alias: $mcode-medication-administration = http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-cancer-related-medication-administration
Alias: $gr-variant = http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/variant
Alias: $gr-genomic-report = http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/genomic-report
