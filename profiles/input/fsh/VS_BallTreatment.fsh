// Value sets of the treatment and clinical-course profiles (issue 5). Codes and sources in
// mappings/tables/treatment.yaml (contract.md "Concepts"; terminology.md 5.4, 1.2).
Alias: $rxnorm = http://www.nlm.nih.gov/research/umls/rxnorm
Alias: $ncit = http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl
Alias: $condition-clinical = http://terminology.hl7.org/CodeSystem/condition-clinical

ValueSet: BallBlinatumomabDrugs
Id: ball-blinatumomab-drugs
Title: "ball-fhir blinatumomab medications"
Description: "RxNorm blinatumomab ingredient 1597258 and Blincyto 35 ug 1597267 (contract.md; terminology.md 5.4, V-src)."
* ^experimental = false
* $rxnorm#1597258 "blinatumomab"
* $rxnorm#1597267 "blinatumomab 0.035 MG Injection [Blincyto]"

ValueSet: BallIntrathecalDrugs
Id: ball-intrathecal-drugs
Title: "ball-fhir intrathecal drugs"
Description: "RxNorm ingredients of intrathecal triple therapy (contract.md): methotrexate 6851 (2nd), dexamethasone 3264 (2nd), cytarabine 3041 (unverified in contract.md: check before use)."
* ^experimental = false
* $rxnorm#6851 "methotrexate"
* $rxnorm#3264 "dexamethasone"
* $rxnorm#3041 "cytarabine"

ValueSet: BallRelapseRiskGroups
Id: ball-relapse-risk-groups
Title: "ball-fhir relapse risk groups"
Description: "BFM relapse risk groups S1-S5 as recorded (protocol.md section 2; ball-concepts)."
* ^experimental = false
* $ball#S1 "Relapse risk group S1"
* $ball#S2 "Relapse risk group S2"
* $ball#S3 "Relapse risk group S3"
* $ball#S4 "Relapse risk group S4"
* $ball#S5 "Relapse risk group S5"

ValueSet: BallHsctDonorTypes
Id: ball-hsct-donor-types
Title: "ball-fhir HSCT donor types"
Description: "Donor types of an allogeneic HSCT (ball-concepts; no verified standard code, terminology.md 5.3 and 9)."
* ^experimental = false
* $ball#matched-sibling-donor "Matched sibling donor"
* $ball#matched-unrelated-donor "Matched unrelated donor"
* $ball#mismatched-unrelated-donor "Mismatched unrelated donor"
* $ball#haploidentical-donor "Haploidentical donor"
