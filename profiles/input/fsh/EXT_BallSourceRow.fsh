Extension: BallSourceRow
Id: ball-source-row
Title: "Source row"
Description: "The 1-based row (line) number in the source file that a Provenance target came from; repeated when the target came from several rows."
Context: Provenance.target
* ^status = #draft
* value[x] 1..1
* value[x] only positiveInt
