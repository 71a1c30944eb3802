"""The segments of one ORU^R01 message -> ORDER_OBSERVATION / OBSERVATION / SPECIMEN groups.

Implements the segment structure of the HL7 v2-to-FHIR IG 1.0.0 message table ORU_R01
(../shared/reference/inputs-and-corpora.md section 1.2); the grouping itself is ours:
``PID [NTE*] { [ORC] OBR [NTE*] { OBX [NTE*] }* { SPM [OBX [NTE*]]* }* }*`` after MSH.  Every
other segment is kept as unused, with a severity and a reason for the report: Z-segments and
misplaced segments as warnings, known unmapped ones (PV1, SFT, ...) as information.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapter.issues import Severity
from adapter.mapping.hl7v2.datatypes import Seg

#: Segments the ORU^R01 structure allows that we do not map (reported as information).
KNOWN_UNMAPPED = frozenset(
    {"SFT", "UAC", "PD1", "PRT", "NK1", "PV1", "PV2", "TQ1", "TQ2", "CTD", "FT1", "CTI", "DSC"}
)


@dataclass(slots=True)
class ObxGroup:
    obx: Seg
    notes: list[Seg] = field(default_factory=list)
    spm: int | None = None  # index of the SPM it follows (SPECIMEN_OBSERVATION)


@dataclass(slots=True)
class OrderGroup:
    obr: Seg
    orc: Seg | None
    pid: Seg
    notes: list[Seg] = field(default_factory=list)
    results: list[ObxGroup] = field(default_factory=list)
    specimens: list[Seg] = field(default_factory=list)


@dataclass(slots=True)
class Grouped:
    orders: list[OrderGroup] = field(default_factory=list)
    pids: list[Seg] = field(default_factory=list)
    #: (segment, severity, reason)
    unused: list[tuple[Seg, Severity, str]] = field(default_factory=list)


def group_oru(segments: list[Seg]) -> Grouped:
    """Group the segments after MSH into ORDER_OBSERVATION / OBSERVATION / SPECIMEN groups."""
    out = Grouped()
    pid: Seg | None = None
    orc: Seg | None = None
    order: OrderGroup | None = None
    last_obx: ObxGroup | None = None
    for seg in segments:
        name = seg.name
        if name == "PID":
            if orc is not None:
                out.unused.append((orc, "warning", "ORC without a following OBR"))
            pid, orc, order, last_obx = seg, None, None, None
            out.pids.append(seg)
        elif name == "ORC":
            if orc is not None:
                out.unused.append((orc, "warning", "ORC without a following OBR"))
            orc, last_obx = seg, None
        elif name == "OBR":
            if pid is None:
                out.unused.append((seg, "warning", "OBR before any PID"))
                if orc is not None:
                    out.unused.append((orc, "warning", "ORC of an OBR before any PID"))
                order = None
            else:
                order = OrderGroup(seg, orc, pid)
                out.orders.append(order)
            orc, last_obx = None, None
        elif name == "OBX":
            if order is None:
                out.unused.append((seg, "warning", "OBX outside an ORDER_OBSERVATION group"))
                last_obx = None
            else:
                spm = len(order.specimens) - 1 if order.specimens else None
                last_obx = ObxGroup(seg, spm=spm)
                order.results.append(last_obx)
        elif name == "NTE":
            if last_obx is not None:
                last_obx.notes.append(seg)
            elif order is not None and not order.specimens:
                order.notes.append(seg)
            else:
                out.unused.append((seg, "information", "NTE not after an OBR or OBX"))
        elif name == "SPM":
            if order is None:
                out.unused.append((seg, "warning", "SPM outside an ORDER_OBSERVATION group"))
            else:
                order.specimens.append(seg)
            last_obx = None
        elif name.startswith("Z"):
            out.unused.append((seg, "warning", "Z-segment (site-defined, not mapped)"))
        elif name == "MSH":
            out.unused.append((seg, "warning", "second MSH inside a message"))
        elif name in KNOWN_UNMAPPED:
            out.unused.append((seg, "information", "not mapped by the ORU^R01 mapping"))
        else:
            out.unused.append((seg, "warning", "not part of the ORU^R01 structure"))
    if orc is not None:
        out.unused.append((orc, "warning", "ORC without a following OBR"))
    return out


def order_segments(order: OrderGroup) -> list[Seg]:
    """Every segment of an ORDER_OBSERVATION group (ORC, OBR, NTE, OBX, SPM) in file order."""
    segs = [*([order.orc] if order.orc else []), order.obr, *order.notes, *order.specimens]
    for result in order.results:
        segs.extend([result.obx, *result.notes])
    return sorted(segs, key=lambda s: s.line)
