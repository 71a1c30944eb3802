"""Reading files of HL7 v2 messages: segments with line numbers, split into messages.

Only transport artefacts are normalised (../shared/reference/inputs-and-corpora.md section 6.1):
a UTF-8 byte-order mark, CR / LF / CRLF segment terminators (python-hl7 splits on CR only),
MLLP block characters (0x0B, 0x1C) and blank lines.  Every other line is kept as a segment with
its 1-based line number in the file, so that each one can be accounted for (mapped or reported).

A message starts at each ``MSH`` segment.  ``FHS``/``BHS``/``BTS``/``FTS`` batch envelope segments
(HL7 v2.5 chapter 2.10.3) are collected apart; segments before the first ``MSH`` that are not
envelope segments are *stray*.  Bytes are decoded per message with the site's encoding, so an
undecodable message is rejected alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(rb"\r\n|\r|\n")
_MLLP = b"\x0b\x1c"


@dataclass(frozen=True, slots=True)
class RawSegment:
    """One segment as written in the file (decoded, without its terminator)."""

    line: int
    text: str

    @property
    def name(self) -> str:
        """The segment id (``OBX``); empty when the line is shorter than three characters."""
        return self.text[:3] if len(self.text) >= 3 else ""


@dataclass(slots=True)
class RawMessage:
    """The segments of one message (``MSH`` first) or why they could not be read."""

    number: int
    segments: list[RawSegment]
    problem: str | None = None

    @property
    def lines(self) -> tuple[int, int]:
        return self.segments[0].line, self.segments[-1].line

    def text(self, terminator: str = "\r") -> str:
        """The message with one segment terminator after each segment (HL7 form with CR)."""
        return "".join(s.text + terminator for s in self.segments)


@dataclass(slots=True)
class Hl7File:
    messages: list[RawMessage] = field(default_factory=list)
    envelope: list[RawSegment] = field(default_factory=list)
    stray: list[RawSegment] = field(default_factory=list)


def read_hl7_file(data: bytes, encoding: str = "utf-8") -> Hl7File:
    """Split a file into envelope segments, stray segments and messages (never raises)."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    out = Hl7File()
    current: list[tuple[int, bytes]] | None = None
    chunks: list[list[tuple[int, bytes]]] = []
    for number, raw in enumerate(_LINE_END.split(data), start=1):
        line = raw.strip(_MLLP)
        if not line.strip():
            continue
        name = line[:3]
        if name == b"MSH":
            current = [(number, line)]
            chunks.append(current)
        elif name in (b"FHS", b"BHS", b"BTS", b"FTS"):
            current = None
            out.envelope.append(RawSegment(number, line.decode(encoding, errors="replace")))
        elif current is None:
            out.stray.append(RawSegment(number, line.decode(encoding, errors="replace")))
        else:
            current.append((number, line))
    for index, chunk in enumerate(chunks, start=1):
        problem = None
        segments = []
        for number, line in chunk:
            try:
                text = line.decode(encoding)
            except UnicodeDecodeError as exc:
                problem = f"line {number} is not valid {encoding}: {exc.reason} at byte {exc.start}"
                text = line.decode(encoding, errors="replace")
            segments.append(RawSegment(number, text))
        out.messages.append(RawMessage(index, segments, problem))
    return out
