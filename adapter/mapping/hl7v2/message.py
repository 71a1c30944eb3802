"""One ORU^R01 message -> its resources, committed to the Bundle only when the message maps.

HL7 v2-to-FHIR IG 1.0.0 message table ORU_R01 and segment tables MSH[Bundle] / MSH[MessageHeader]
(../shared/reference/inputs-and-corpora.md section 1.2): parse with python-hl7, check MSH-9
(ORU^R01 only) and MSH-12, group the segments (:mod:`.grouping`), map PID, every order's
specimens, OBX and OBR, then commit (a later message replaces a resource with the same id) and
give the Provenance entity of the message (sha256 ni URI and MSH-10).  Order ids are keyed by
MSH-4 and the filler order number (OBR-3, else ORC-3), else MSH-10, plus OBR-1 (else position);
without either key the message is rejected whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import hl7

from adapter.fhir import URI_SYSTEM, Resource
from adapter.issues import Issue
from adapter.mapping.bundle import BundleBuilder, patient_id, sha256_uri
from adapter.mapping.hl7v2.datatypes import Encoding, Seg
from adapter.mapping.hl7v2.grouping import OrderGroup, group_oru, order_segments
from adapter.mapping.hl7v2.observation import ObservationMapping
from adapter.mapping.hl7v2.patient import PatientMapping
from adapter.mapping.hl7v2.report import ReportMapping
from adapter.mapping.hl7v2.specimen import MappedSpecimen, SpecimenMapping
from adapter.mapping.hl7v2.state import MessageRejected, PendingOrder, PendingResource


class MessageMapper(PatientMapping, SpecimenMapping, ObservationMapping, ReportMapping):
    """Maps one message; nothing reaches the Bundle before :meth:`commit`."""

    def run(self) -> None:
        raw = self.raw
        if raw.problem:
            note = f" ({raw.charset_note})" if raw.charset_note else ""
            raise MessageRejected(raw.problem + note)
        if raw.charset_note:
            self.issue("warning", "not-supported", raw.charset_note, "hl7-charset-unknown")
        text = raw.text("\r")
        try:
            message = hl7.parse(text)
        except Exception as exc:  # python-hl7 raises many kinds
            raise MessageRejected(f"python-hl7 cannot parse it: {exc}") from None
        if len(message) != len(raw.segments):
            raise MessageRejected(
                f"python-hl7 read {len(message)} segments where the file has {len(raw.segments)}"
            )
        try:
            enc = Encoding.of(message, raw.charset)
        except (IndexError, KeyError) as exc:
            raise MessageRejected(f"MSH-1/MSH-2 delimiters unreadable: {exc}") from None
        segs = [
            Seg(r.line, r.name, s, enc, r.text) for r, s in zip(raw.segments, message, strict=True)
        ]
        msh = segs[0]
        self.msh = msh
        kind = (msh.get(9, 1), msh.get(9, 2))
        if kind != ("ORU", "R01"):
            raise MessageRejected(
                f"MSH-9 is {'^'.join(kind)!r}, not ORU^R01 (only ORU^R01 is mapped)"
            )
        self.control_id = msh.get(10)
        self.facility = msh.get(4)
        version = msh.get(12)
        if version and not any(
            version.startswith(v) for v in ("2.3", "2.4", "2.5", "2.6", "2.7", "2.8")
        ):
            self.issue(
                "warning",
                "not-supported",
                f"MSH-12 version {version!r} is outside 2.3-2.8",
                "hl7-version",
                msh,
                12,
            )
        grouped = group_oru(segs[1:])
        if not grouped.orders:
            raise MessageRejected("no OBR with a PID before it: nothing to map")
        for pid in grouped.pids:
            self._patient(pid)
        order_keys = []
        for position, order in enumerate(grouped.orders, start=1):
            order_keys.append(self._order_key(order, position))
        for seg, severity, reason in grouped.unused:
            self.issue(
                severity,
                "informational" if severity == "information" else "structure",
                f"unused segment {seg.name} at message {self.raw.number}, "
                f"line {seg.line}: {reason}",
                "unused-segment",
                seg,
            )
        for order, key in zip(grouped.orders, order_keys, strict=True):
            self._order(order, key)
        for problem in sorted(enc.unknown_escapes):
            self.issue(
                "warning",
                "value",
                f"escape sequence {problem!r} is not known and was kept literally",
                "hl7-escape-unknown",
            )
        if self.unknown_systems:
            self.issue(
                "information",
                "code-invalid",
                "coding system name(s) with no known URI (codings kept without system; "
                f"hl7v2.coding_systems can name them): {', '.join(sorted(self.unknown_systems))}",
                "coding-system-unknown",
            )

    def commit(self, builder: BundleBuilder, owners: Mapping[str, str]) -> None:
        """Put the message's resources in the Bundle, order by order.

        A resource id already in the Bundle (:attr:`BundleBuilder.targets`, as the CSV lab path
        looks its ids up) or in another file of the run (``owners``: id -> subject reference)
        with another subject rejects the whole order: the same filler order number or specimen
        accession for two patients never moves one patient's result to the other.  The same
        id for the same patient is a re-sent or corrected message: the later one replaces it.
        """
        for system, value, resource, rows in self.patients.values():
            known = patient_id(system, value) in builder.targets
            patient = builder.add_patient(system, value, rows).resource
            if not known:
                patient.update(
                    {k: v for k, v in resource.items() if k not in ("resourceType", "meta")}
                )
                patient["identifier"] = resource["identifier"]
        for order in self.orders:
            if not self._owned_elsewhere(order, builder, owners):
                self._put(order, builder)

    def _owned_elsewhere(
        self, order: PendingOrder, builder: BundleBuilder, owners: Mapping[str, str]
    ) -> bool:
        """Reject ``order`` (error, its segments kept) when one of its ids is another
        patient's; True when it was rejected."""
        for item in order.resources:
            resource = item.resource
            rid = resource["id"]
            subject = resource["subject"]["reference"]
            earlier = builder.targets.get(rid)
            if earlier is not None:
                owner = earlier.resource.get("subject", {}).get("reference")
                where = f"line {earlier.first_row} of this file"
            else:
                owner = owners.get(rid)
                where = "another file of this run"
            if owner is None or owner == subject:
                continue
            segs = order_segments(order.group)
            self.issues.append(
                Issue(
                    "error",
                    "business-rule",
                    f"{resource['resourceType']} {rid} of {self._id_source(order, resource)} "
                    f"belongs to another patient ({where}): the order at line "
                    f"{order.group.obr.line} is rejected, nothing of the earlier patient "
                    "is replaced",
                    rule="id-other-patient",
                    location=tuple(self.where(s) for s in segs),
                    source_record="\n".join(s.text for s in segs),
                )
            )
            self.rejected_obx += order.obx
            return True
        return False

    def _id_source(self, order: PendingOrder, resource: Resource) -> str:
        """What keyed a resource's id, for the error: the specimen accession or the order key."""
        accession = resource.get("accessionIdentifier", {}).get("value")
        if accession:
            return f"specimen accession {accession!r} (SPM-2)"
        if order.key[1] == "filler":
            return f"filler order number {order.key[3]!r} (OBR-3/ORC-3)"
        return f"message control id {order.key[2]!r} (MSH-10)"

    def _put(self, order: PendingOrder, builder: BundleBuilder) -> None:
        for item in order.resources:
            rid = item.resource["id"]
            found = builder.targets.get(rid)
            if found is not None and found.resource != item.resource:
                builder.replace(item.resource)
                self.issue(
                    "information",
                    "informational",
                    f"{item.resource['resourceType']} {rid} replaced by the later "
                    f"message {self.raw.number} (same ids: re-sent or corrected)",
                    "resource-replaced",
                )
            builder.put(item.resource, item.rows)

    def provenance_entity(self) -> dict[str, Any]:
        digest = sha256_uri(self.raw.text("\r").encode("utf-8"))
        control = f"MSH-10 {self.control_id}" if self.control_id else "no MSH-10"
        return {
            "role": "source",
            "what": {
                "identifier": {"system": URI_SYSTEM, "value": digest},
                "display": f"{self.source} message {self.raw.number} ({control})",
            },
        }

    def _order_key(self, order: OrderGroup, position: int) -> tuple[str, ...]:
        filler = order.obr.comps(3) or (order.orc.comps(3) if order.orc else [])
        filler_id = filler[0].strip() if filler else ""
        set_id = order.obr.get(1) or f"#{position}"
        if filler_id:
            namespace = filler[1].strip() if len(filler) > 1 else ""
            return (self.facility, "filler", namespace, filler_id, set_id)
        if self.control_id:
            return (self.facility, "message", self.control_id, set_id)
        raise MessageRejected(
            f"OBR at line {order.obr.line} has no filler order number and the message no MSH-10: "
            "no stable ids"
        )

    def _order(self, order: OrderGroup, key: tuple[str, ...]) -> None:
        specimens = [self._specimen(order, key, i) for i in range(len(order.specimens))]
        obr_specimen = self._obr_specimen(order, key) if not specimens else None
        observations = self._classify(order, key)
        results: list[str] = []
        mapped: list[PendingResource] = []
        mapped_obx = 0
        report_statuses: list[str] = []
        inferred: dict[str, MappedSpecimen] = {}
        for obs in observations:
            spec = (
                specimens[obs.group.spm]
                if obs.group.spm is not None
                else (specimens[0] if specimens else obr_specimen)
            )
            if spec is None and not specimens:
                spec = self._test_specimen(obs.target, obs.group.obx, order, key, inferred)
            resource = self._observation(obs, key, spec)
            if resource is None:
                continue
            mapped_obx += 1 + len(obs.components)
            rows = [obs.group.obx.line, *(n.line for n in obs.group.notes)]
            for comp in obs.components:
                rows.extend([comp.group.obx.line, *(n.line for n in comp.group.notes)])
            mapped.append(PendingResource(resource, rows))
            results.append(resource["id"])
            report_statuses.append(resource["status"])
        used_specimens = self._emitted_specimens([*specimens, obr_specimen, *inferred.values()])
        pending = PendingOrder(
            order,
            key,
            [PendingResource(s.resource, s.rows) for s in used_specimens if s.resource is not None],
            mapped_obx,
        )
        pending.resources.extend(mapped)
        self.orders.append(pending)
        report_lines = [
            *([order.orc.line] if order.orc else []),
            order.obr.line,
            *(n.line for n in order.notes),
        ]
        if not results:
            found = self.issue(
                "warning",
                "incomplete",
                f"OBR at line {order.obr.line} has no mapped result: no DiagnosticReport",
                "report-without-results",
                order.obr,
            )
            self._extend_location(found, [*([order.orc] if order.orc else []), *order.notes])
            return
        report = self._report(order, key, results, report_statuses, used_specimens)
        pending.resources.append(PendingResource(report, report_lines))
