"""The MLLP listener: HL7 v2 messages over TCP (python-hl7's ``hl7.mllp`` framing), each stored
durably before it is acknowledged.

Per connection, frames are read one after the other (pipelined frames wait in the reader's
buffer; a frame split over many TCP segments is joined by it), and each gets one ACK, in order:

- ``AA`` once the raw message is committed to the store and mapped without an error (a
  duplicate of a stored message, same bytes, is acknowledged ``AA`` again and not stored twice);
- ``AE`` when the mapping rejected (part of) the message: it is stored all the same (the good
  results of the message go on to the server), MSA-3 carries the error text;
- ``AR`` when the frame is not an HL7 message (no ``MSH`` segment first, no field separator,
  fewer than 12 MSH fields, not decodable): nothing is stored.

A frame not starting with ``<VT>`` is answered ``AR``; a connection dropped in the middle of a
frame loses only that unacknowledged frame (the sender sends it again).  HL7 v2.5 chapter 2
(acknowledgement modes, MSA) and appendix C (MLLP).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from hl7.mllp import InvalidBlockError, start_hl7_server

from adapter.intake.ingest import Ingested

#: MSA-3 text kept in an ACK (characters)
ACK_TEXT = 500
_LINE_END = re.compile(rb"\r\n|\n|\r")


@dataclass(frozen=True, slots=True)
class Header:
    """The MSH fields an ACK needs."""

    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    trigger: str
    control_id: str
    processing_id: str
    version: str


def read_header(raw: bytes) -> Header | str:
    """The MSH of a message, or why the frame is not an HL7 message."""
    text = raw.removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n")
    first = _LINE_END.split(text, 1)[0]
    try:
        msh = first.decode("utf-8")
    except UnicodeDecodeError:
        msh = first.decode("latin-1")
    if not msh.startswith("MSH") or len(msh) < 8:
        return "the frame does not start with an MSH segment"
    separator = msh[3]
    fields = msh.split(separator)
    if len(fields) < 12 or separator.isalnum():
        return "the MSH segment has fewer than 12 fields"
    component = fields[1][:1] or "^"
    trigger = fields[8].split(component)
    return Header(
        fields[2],
        fields[3],
        fields[4],
        fields[5],
        trigger[1] if len(trigger) > 1 else "",
        fields[9],
        fields[10] or "P",
        fields[11].split(component)[0] or "2.5",
    )


def _escape(text: str) -> str:
    """HL7 v2 escape sequences for the default delimiters (v2.5 section 2.7)."""
    out = text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\")
    out = out.replace("&", "\\T\\").replace("~", "\\R\\")
    return " ".join(out.split())  # no segment or line breaks inside a field


def ack(code: str, header: Header | None, text: str = "", now: datetime | None = None) -> bytes:
    """An ACK message (MSH + MSA) with the default delimiters."""
    when = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    h = header or Header("", "", "", "", "", "", "P", "2.5")
    msh = "|".join(
        [
            "MSH",
            "^~\\&",
            _escape(h.receiving_application) or "ball-fhir",
            _escape(h.receiving_facility),
            _escape(h.sending_application),
            _escape(h.sending_facility),
            when,
            "",
            f"ACK^{_escape(h.trigger)}^ACK" if h.trigger else "ACK",
            uuid.uuid4().hex[:20],
            _escape(h.processing_id),
            _escape(h.version),
        ]
    )
    msa = ["MSA", code, _escape(h.control_id)]
    if text:
        msa.append(_escape(text)[:ACK_TEXT])
    return (msh + "\r" + "|".join(msa) + "\r").encode("utf-8")


def answer(raw: bytes, store_message: Callable[[bytes, str], Ingested]) -> bytes:
    """The ACK of one frame: AR when it is no message; else store it, then AA or AE."""
    header = read_header(raw)
    if isinstance(header, str):
        return ack("AR", None, header)
    done = store_message(raw, f"mllp-{header.control_id or 'message'}")
    errors = done.errors
    if errors:
        return ack("AE", header, "; ".join(errors))
    return ack("AA", header)


class MllpListener:
    """Accepts MLLP connections; each frame is answered by :func:`answer` in one worker thread
    (the store sees one message at a time, in the order received per connection)."""

    def __init__(self, store_message: Callable[[bytes, str], Ingested]) -> None:
        self.store_message = store_message
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mllp-store")
        self.server: asyncio.Server | None = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    block = await reader.readblock()  # type: ignore[attr-defined]
                except asyncio.IncompleteReadError:
                    break  # closed, possibly in the middle of a frame: nothing to answer
                except InvalidBlockError:
                    reply = ack("AR", None, "the frame does not start with <VT> (0x0B)")
                except ValueError:  # larger than the reader's limit
                    reply = ack("AR", None, "the frame is larger than the listener accepts")
                else:
                    reply = await loop.run_in_executor(
                        self._executor, answer, bytes(block), self.store_message
                    )
                writer.writeblock(reply)  # type: ignore[attr-defined]
                await writer.drain()
        except ConnectionError:
            pass  # the peer went away; unacknowledged frames are its to send again
        finally:
            writer.close()

    async def start(self, host: str, port: int, limit: int = 64 * 1024 * 1024) -> int:
        """Listen; returns the port (useful with port 0)."""
        self.server = await start_hl7_server(self._connection, host, port, limit=limit)
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        self._executor.shutdown(wait=True)
