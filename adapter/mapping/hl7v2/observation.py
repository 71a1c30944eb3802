"""The OBX of one order -> Observations: classification, ids and dispatch.

HL7 v2-to-FHIR IG 1.0.0 segment tables OBX[Observation] and OBX[Observation-Component]
(../shared/reference/inputs-and-corpora.md section 1.3): OBX-3 -> contract code (LOINC in OBX-3
directly, else the site's ConceptMap), ids from OBX-1/OBX-4 (else position), event count and LOD
OBX attached to the MRD OBX of their order (same OBX-4 when given), a status-only OBX-11 U (empty
OBX-5) not applied, an OBX with an empty OBX-3 rejected (error).  Contract codes go to
:mod:`.contract_observation`, all others, and contract codes with a range or ratio value (SN
``-`` ``:`` ``/``, NR: mapped, flagged as not usable for protocol rules), to
:mod:`.plain_observation`.
"""

from __future__ import annotations

from adapter.fhir import BALL_CONCEPTS, LOINC, Resource, deterministic_id
from adapter.mapping.hl7v2.contract_observation import ContractObservations
from adapter.mapping.hl7v2.datatypes import Seg, structured_numeric
from adapter.mapping.hl7v2.grouping import OrderGroup
from adapter.mapping.hl7v2.obx_fields import ObxCandidate
from adapter.mapping.hl7v2.plain_observation import PlainObservations
from adapter.mapping.hl7v2.specimen import MappedSpecimen

COMPONENT_CODES = frozenset({"events-analyzed", "mrd-lod"})


class ObservationMapping(ContractObservations, PlainObservations):
    """The OBX of one order -> Observations."""

    def _classify(self, order: OrderGroup, key: tuple[str, ...]) -> list[ObxCandidate]:
        out: list[ObxCandidate] = []
        seen: set[tuple[str, str]] = set()
        for position, group in enumerate(order.results, start=1):
            obx = group.obx
            obx_key = (obx.get(1) or f"#{position}", obx.get(4))
            if obx_key in seen:
                self.issue(
                    "warning",
                    "duplicate",
                    f"OBX-1/OBX-4 {obx_key} repeats in this order: keyed by position {position}",
                    "obx-set-id-repeated",
                    obx,
                    1,
                )
                obx_key = (f"#{position}", obx.get(4))
            seen.add(obx_key)
            target = self._target(obx)
            test = self.ctx.tests.get(target) if target else None
            out.append(ObxCandidate(group, order, test, target, obx_key, [obx.line]))
        mrd = [o for o in out if o.test is not None and o.test.kind == "mrd"]
        kept: list[ObxCandidate] = []
        for obs in out:
            if (
                obs.target is None
                or obs.target[0] != BALL_CONCEPTS
                or obs.target[1] not in COMPONENT_CODES
            ):
                kept.append(obs)
                continue
            sub = obs.key[1]
            owners = [m for m in mrd if m.key[1] == sub] if sub else mrd
            if len(owners) == 1:
                owners[0].components.append(obs)
            else:
                self.issue(
                    "warning",
                    "structure",
                    f"{obs.target[1]} OBX belongs to no single MRD OBX of its order "
                    f"({len(owners)} candidates): kept as a plain Observation",
                    "mrd-component-orphan",
                    obs.group.obx,
                    3,
                )
                kept.append(obs)
        return kept

    def _target(self, obx: Seg) -> tuple[str, str] | None:
        comps = obx.comps(3)
        c = [*comps, "", "", "", "", "", ""]
        for code, system_name in ((c[0].strip(), c[2].strip()), (c[3].strip(), c[5].strip())):
            if not code:
                continue
            if system_name == "LN" and (LOINC, code) in self.ctx.tests:
                return (LOINC, code)
            found = self.ctx.test_codes.translate(code)
            if found is not None:
                return (found.system, found.code)
        return None

    def _range_or_ratio(self, obx: Seg, value_type: str) -> bool:
        """An NR value, or an SN range or ratio: no quantity, so no ball profile."""
        if value_type == "NR":
            return True
        return value_type == "SN" and structured_numeric(obx.comps(5)).form in ("range", "ratio")

    def _observation(
        self, obs: ObxCandidate, key: tuple[str, ...], spec: MappedSpecimen | None
    ) -> Resource | None:
        obx = obs.group.obx
        if not any(c.strip() for c in obx.comps(3)):
            found = self.issue(
                "error",
                "required",
                "OBX-3 is empty: a result without an observation identifier is not mapped",
                "obx-code-missing",
                obx,
                3,
            )
            self._reject_obx(obs, [found])
            return None
        status = self._status(obx)
        value_type = obx.get(2)
        empty = not obx.raw(5).strip()
        if obx.get(11) == "U" and empty:
            found = self.issue(
                "warning",
                "not-supported",
                "OBX-11 U (status change to final) without a value is not applied: a PUT would "
                "erase the earlier result",
                "status-only-update",
                obx,
                11,
            )
            others = [*obs.group.notes]
            for comp in obs.components:
                others.extend([comp.group.obx, *comp.group.notes])
            self._extend_location(found, others)
            return None
        oid = deterministic_id("Observation", *key, *obs.key)
        if obs.test is not None and (empty or not self._range_or_ratio(obx, value_type)):
            return self._contract_observation(obs, oid, status, value_type, empty, spec)
        return self._plain_observation(obs, oid, status, value_type, empty, spec)
