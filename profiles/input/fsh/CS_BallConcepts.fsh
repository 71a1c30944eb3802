// contract.md "Identity": our CodeSystem for concepts with no verified standard code. Every concept
// says why no standard code was used; replace it with a standard code once one is verified.
// Section numbers refer to ../shared/reference/terminology.md.
CodeSystem: BallConcepts
Id: ball-concepts
Title: "ball-fhir concepts"
Description: "Concepts of the ball-fhir adapter for which no standard code could be verified (terminology.md section 9 lists the gaps). Each definition says why no standard code was used."
* ^caseSensitive = true
* ^content = #complete
* ^experimental = false
* #mrd-flow "Minimal residual disease by flow cytometry" "Quantitative minimal residual disease (leukaemic cells as % of analysed cells) measured by flow cytometry. No standard code: no dedicated quantitative B-ALL flow MRD LOINC code could be verified; only narrative-term names were found (terminology.md section 3 and section 9 item 1)."
* #events-analyzed "Events analyzed" "Number of cell events analysed in the flow-cytometry MRD measurement (a component of mrd-flow). No standard code: no LOINC code for the event count of a flow MRD measurement could be verified (terminology.md section 3)."
* #mrd-lod "MRD limit of detection" "Limit of detection (in %) of the flow-cytometry MRD measurement (a component of mrd-flow). No standard code: no LOINC code for the limit of detection of a flow MRD measurement could be verified (terminology.md section 3)."
* #bone-marrow "Bone marrow specimen" "Specimen of bone marrow (aspirate). No standard code: SNOMED CT specimen codes could not be verified here; terminology.md section 5.2 verifies only the body structure 14016003 (used in Specimen.collection.bodySite)."
* #peripheral-blood "Peripheral blood specimen" "Specimen of peripheral blood. No standard code: SNOMED CT specimen codes could not be verified here (terminology.md sections 5.2 and 9)."
* #csf "Cerebrospinal fluid specimen" "Specimen of cerebrospinal fluid. No standard code: SNOMED CT specimen codes could not be verified here (terminology.md sections 5.2 and 9)."
* #lab-results-report "Laboratory results report" "A per-specimen report grouping the laboratory and MRD results of one specimen. No standard code: no verified LOINC panel or report code covers it (terminology.md section 3 lists only narrative reports such as 48807-2)."
* #frontline-therapy "Front-line therapy" "The front-line (first-line) treatment of the initial B-ALL diagnosis; its end date times the relapse. No standard code: no SNOMED CT or other procedure code for it could be verified (terminology.md sections 5.3 and 9 item 3)."
* #cd3-apheresis "CD3+ lymphocyte apheresis" "Collection of autologous CD3+ lymphocytes by apheresis. No standard code: SNOMED CT leukapheresis codes could not be verified (terminology.md section 5.3 and section 9 item 3)."
* #cd3-autologous-infusion "Autologous CD3+ lymphocyte infusion" "Infusion of autologous CD3+ lymphocytes. No standard code: no SNOMED CT code for autologous lymphocyte infusion could be verified and CPT has none (terminology.md section 5.3 and section 9 item 3)."
* #S1 "Relapse risk group S1" "BFM relapse risk stratum S1 (ALL-REZ BFM). No standard code: the BFM strata have no verified code; mCODE ALLRiskAssessment binds only NCIt standard/high risk (terminology.md sections 5.1 and 8)."
* #S2 "Relapse risk group S2" "BFM relapse risk stratum S2 (ALL-REZ BFM). No standard code: the BFM strata have no verified code (terminology.md sections 5.1 and 8)."
* #S3 "Relapse risk group S3" "BFM relapse risk stratum S3 (ALL-REZ BFM). No standard code: the BFM strata have no verified code (terminology.md sections 5.1 and 8)."
* #S4 "Relapse risk group S4" "BFM relapse risk stratum S4 (ALL-REZ BFM). No standard code: the BFM strata have no verified code (terminology.md sections 5.1 and 8)."
* #S5 "Relapse risk group S5" "Relapse risk group S5 of ALL-REZ 2016, which the source paper does not define (../shared/domain/protocol.md); kept as a recorded group without protocol rules. No standard code: the BFM strata have no verified code (terminology.md section 8)."
* #follow-up "Follow-up contact" "A follow-up contact of the patient; its date (the latest one) is the last follow-up of survival analyses (issue 5, protocol.md section 7). No standard code: no LOINC or SNOMED CT code for a follow-up date could be verified (terminology.md section 9)."
* #matched-sibling-donor "Matched sibling donor" "HSCT donor type: HLA-matched sibling (issue 5: HSCT donor type as a coded extension). No standard code: no SNOMED CT donor-type codes could be verified (terminology.md section 5.3 and section 9 item 3)."
* #matched-unrelated-donor "Matched unrelated donor" "HSCT donor type: HLA-matched unrelated donor. No standard code: no SNOMED CT donor-type codes could be verified (terminology.md section 5.3 and section 9 item 3)."
* #mismatched-unrelated-donor "Mismatched unrelated donor" "HSCT donor type: HLA-mismatched unrelated donor. No standard code: no SNOMED CT donor-type codes could be verified (terminology.md section 5.3 and section 9 item 3)."
* #haploidentical-donor "Haploidentical donor" "HSCT donor type: haploidentical related donor. No standard code: no SNOMED CT donor-type codes could be verified (terminology.md section 5.3 and section 9 item 3)."
