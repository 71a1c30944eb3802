Extension: BallRejectedRecord
Id: ball-rejected-record
Title: "Rejected record"
Description: "The raw text of a source record that the adapter rejected, on the OperationOutcome issue that says why."
Context: OperationOutcome.issue
* ^status = #draft
* value[x] 1..1
* value[x] only string
