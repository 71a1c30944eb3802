// Ours (ball-fhir), not a standard code system: why a clinician did not follow a ball-fhir CDS
// Hooks card (CDS Hooks 2.0 card.overrideReasons, Coding with a REQUIRED display). Workflow
// reasons only, no clinical content. contract.md and protocol.md name no override reasons; the
// CDS Hooks 3.0 ballot publishes only an example set. Replace with a standard set once one is
// published and verified (../shared/reference/cds-hooks.md sections 1.4 and 4).
CodeSystem: BallCdsOverrideReason
Id: ball-cds-override-reason
Title: "ball-fhir CDS override reasons"
Description: "Ours (ball-fhir, not a standard code system): the reasons a clinician can give for not following a ball-fhir CDS Hooks card (CDS Hooks 2.0 overrideReasons). Workflow reasons, no clinical content; no standard set exists for CDS Hooks 2.0 (3.0 ballot: example only)."
* ^caseSensitive = true
* ^content = #complete
* ^experimental = false
* #clinical-judgement "Deliberate deviation (clinical judgement)" "The clinician deviates from the protocol on purpose for this patient; the reason belongs in the patient record."
* #data-outdated "Data used by the card is outdated or wrong" "The card was computed from data that is outdated or wrong (e.g. an old or mistyped weight or height); the data must be corrected at its source."
* #already-addressed "Already addressed" "The action the card asks for has already been taken or ordered elsewhere."
* #not-applicable "Does not apply to this patient" "The card's protocol or rule does not apply to this patient (other protocol, other treatment phase)."
