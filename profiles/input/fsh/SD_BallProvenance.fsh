// Provenance of what the adapter wrote: which rows of which source file (by its sha256) each
// target came from. The file hash is an RFC 6920 "ni" URI (urn:ietf:rfc:3986 identifier system).
Profile: BallProvenance
Parent: Provenance
Id: ball-provenance
Title: "ball-fhir provenance"
Description: "The source file (sha256 and file name) and the source rows of the resources the ball-fhir adapter wrote."
* ^status = #draft
* target 1..* MS
* target.extension contains BallSourceRow named sourceRow 0..* MS
* recorded MS
* agent MS
* agent.who MS
* entity 1..* MS
* entity.role = #source
* entity.what MS
* entity.what.identifier 1..1 MS
* entity.what.identifier obeys ball-prov-1
* entity.what.identifier.system 1..1 MS
* entity.what.identifier.system = "urn:ietf:rfc:3986" (exactly)
* entity.what.identifier.value 1..1 MS
* entity.what.display 1..1 MS

Invariant: ball-prov-1
Description: "The source file is identified by its sha256 as an RFC 6920 URI: ni:///sha-256; followed by the unpadded base64url digest (43 characters)."
Expression: "value.matches('^ni:///sha-256;[A-Za-z0-9_-]{43}$')"
Severity: #error
