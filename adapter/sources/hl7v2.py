"""Reading files of HL7 v2 messages: segments with line numbers, one message at a time.

Only transport artefacts are normalised (../shared/reference/inputs-and-corpora.md section 6.1):
a UTF-8 byte-order mark, CR / LF / CRLF segment terminators (python-hl7 splits on CR only),
MLLP block characters (0x0B, 0x1C) and blank lines.  Every other line is kept as a segment with
its 1-based line number in the file, so that each one can be accounted for (mapped or reported).

A message starts at each ``MSH`` segment.  ``FHS``/``BHS``/``BTS``/``FTS`` batch envelope segments
(HL7 v2.5 chapter 2.10.3) are yielded apart; segments before the first ``MSH`` that are not
envelope segments are *stray*.  :func:`read_hl7_file` is a generator: a message is split and
decoded only when the mapper asks for it, so a large file never exists twice as text.

Character sets (HL7 v2.5.1 section 2.14.9.18, MSH-18, table 0211): each message is decoded with
the set its first MSH-18 repetition names (``UNICODE UTF-8``, ``ASCII``, ``8859/1`` ...
``8859/15``), else with the site's encoding; a named set this reader cannot decode is reported
and the site's encoding used.  An undecodable message is rejected alone.  A UTF-16 file (a
UTF-16 byte-order mark, or a zero byte beside most characters) cannot be an HL7 v2 file of
8-bit segments: :func:`utf16_form` names it so that the error can say so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(rb"\r\n|\r|\n")
_MLLP = b"\x0b\x1c"
_ENVELOPE = frozenset({b"FHS", b"BHS", b"BTS", b"FTS"})

#: HL7 table 0211 (alternate character sets) -> Python codec, for the sets read here.
CHARSETS = {"ASCII": "ascii", "UNICODE UTF-8": "utf-8", "UTF-8": "utf-8"}
_ISO_8859 = re.compile(r"8859/(\d{1,2})")


@dataclass(frozen=True, slots=True)
class RawSegment:
    """One segment as written in the file (decoded, without its terminator)."""

    line: int
    text: str

    @property
    def name(self) -> str:
        """The segment id (``OBX``); empty when the line is shorter than three characters."""
        return self.text[:3] if len(self.text) >= 3 else ""


@dataclass(frozen=True, slots=True)
class OutsideSegment:
    """A segment outside any message: a batch envelope segment, or a stray one."""

    segment: RawSegment
    envelope: bool


@dataclass(slots=True)
class RawMessage:
    """The segments of one message (``MSH`` first) or why they could not be read.

    ``charset`` is the codec it was decoded with; ``charset_note`` says why it is not the one
    MSH-18 names, when MSH-18 names one this reader cannot use.
    """

    number: int
    segments: list[RawSegment]
    problem: str | None = None
    charset: str = "utf-8"
    charset_note: str | None = None

    @property
    def lines(self) -> tuple[int, int]:
        return self.segments[0].line, self.segments[-1].line

    def text(self, terminator: str = "\r") -> str:
        """The message with one segment terminator after each segment (HL7 form with CR)."""
        return "".join(s.text + terminator for s in self.segments)


def utf16_form(data: bytes) -> str | None:
    """``UTF-16LE`` / ``UTF-16BE`` when ``data`` is UTF-16 text, else None."""
    head = data[:4096]
    if head.startswith(b"\xff\xfe"):
        return "UTF-16LE"
    if head.startswith(b"\xfe\xff"):
        return "UTF-16BE"
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if odd > len(head) // 4 and even * 4 < odd:  # mostly ASCII: its zero high bytes
        return "UTF-16LE"
    if even > len(head) // 4 and odd * 4 < even:
        return "UTF-16BE"
    return None


def message_charset(msh: bytes, default: str) -> tuple[str, str | None]:
    """The codec of a message from its MSH segment (MSH-18), and a note when MSH-18 names a set
    that cannot be used (the site's ``default`` is used then)."""
    if len(msh) < 8:
        return default, None
    fields = msh.split(msh[3:4])
    if len(fields) < 18:
        return default, None
    repetition = msh[5:6]
    name = fields[17].split(repetition, 1)[0].decode("ascii", errors="replace").strip()
    if not name:
        return default, None
    codec = CHARSETS.get(name.upper())
    if codec is None and (m := _ISO_8859.fullmatch(name)) is not None:
        codec = f"iso8859-{m.group(1)}" if m.group(1) in _ISO_PARTS else None
    if codec is None:
        return default, f"MSH-18 character set {name!r} is not read here: decoded as {default}"
    return codec, None


#: The ISO 8859 parts Python decodes (8859/12 was never published).
_ISO_PARTS = frozenset(str(n) for n in (*range(1, 12), *range(13, 17)))


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of ``data`` with their 1-based line numbers, MLLP bytes removed."""
    start = len(BOM) if data.startswith(BOM) else 0
    number = 0
    for end in _LINE_END.finditer(data, start):
        number += 1
        line = data[start : end.start()].strip(_MLLP)
        start = end.end()
        if line.strip():
            yield number, line
    if start < len(data):
        line = data[start:].strip(_MLLP)
        if line.strip():
            yield number + 1, line


def read_hl7_file(data: bytes, encoding: str = "utf-8") -> Iterator[RawMessage | OutsideSegment]:
    """The messages and the segments outside messages of a file, in file order (never raises).

    ``encoding`` is the site's: segments outside messages and messages whose MSH-18 is empty
    are decoded with it.
    """
    current: list[tuple[int, bytes]] = []
    count = 0
    for number, line in _lines(data):
        name = line[:3]
        if name == b"MSH":
            if current:
                yield _message(count, current, encoding)
            count += 1
            current = [(number, line)]
        elif name in _ENVELOPE or not current:
            if current:
                yield _message(count, current, encoding)
                current = []
            text = line.decode(encoding, errors="replace")
            yield OutsideSegment(RawSegment(number, text), name in _ENVELOPE)
        else:
            current.append((number, line))
    if current:
        yield _message(count, current, encoding)


def _message(index: int, chunk: list[tuple[int, bytes]], default: str) -> RawMessage:
    charset, note = message_charset(chunk[0][1], default)
    problem = None
    segments = []
    for number, line in chunk:
        try:
            text = line.decode(charset)
        except UnicodeDecodeError as exc:
            if problem is None:
                problem = f"line {number} is not valid {charset}: {exc.reason} at byte {exc.start}"
            text = line.decode(charset, errors="replace")
        segments.append(RawSegment(number, text))
    return RawMessage(index, segments, problem, charset, note)
