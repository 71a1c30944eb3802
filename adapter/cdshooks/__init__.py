"""CDS Hooks 2.0 service (issue 15): protocol guidance and blinatumomab dose checks in the EHR.

Rooms: :mod:`config` (pydantic settings from YAML + environment), :mod:`services` (the service
definitions and discovery), :mod:`prefetch` (prefetch checking and fetching with
:mod:`fhirfetch`), :mod:`orders` (the draft MedicationRequest seen by the protocol's dosing
rule), :mod:`cards` (the one table from protocol findings to cards), :mod:`hooks` (one call of a
service: request -> response), :mod:`security` (JWT/JWKS verification), :mod:`feedback`
(the feedback body and its recording).  No clinical rule lives here: every card is a view of a
finding of :mod:`adapter.protocol` (docs: ../shared/design/layout.md).
"""
