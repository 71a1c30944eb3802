"""The MLLP listener over real sockets: ACK codes, pipelined and fragmented frames, dropped
connections, invalid frames, and an ACK only after the item is committed."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import hl7
import pytest
from hl7.client import MLLPClient

from adapter.cli.delivery import item_mapper
from adapter.intake import Ingested, ingest
from adapter.intake.mllp import MllpListener
from adapter.store import SqlStore, open_store
from tests.intake.messages import oru, rejected_oru

VT, FS_CR = b"\x0b", b"\x1c\r"


def frame(message: bytes) -> bytes:
    return VT + message + FS_CR


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def port(store: SqlStore) -> Iterator[int]:
    mapper = item_mapper("hl7v2", "default")

    def store_message(raw: bytes, name: str) -> Ingested:
        return ingest(store, "hl7v2", "default", name, raw, mapper)

    loop = asyncio.new_event_loop()
    listener = MllpListener(store_message)
    bound = loop.run_until_complete(listener.start("127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield bound
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.run_until_complete(listener.close())
    loop.close()


def read_acks(sock: socket.socket, count: int, timeout: float = 20.0) -> list[hl7.Message]:
    sock.settimeout(timeout)
    data = b""
    while data.count(FS_CR) < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    blocks = [b.removeprefix(VT) for b in data.split(FS_CR) if b]
    return [hl7.parse(b.decode("utf-8")) for b in blocks]


def msa(ack: hl7.Message) -> tuple[str, str, str]:
    segment = ack.segment("MSA")
    text = str(segment[3]) if len(segment) > 3 else ""
    return str(segment[1]), str(segment[2]), text


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def test_pipelined_frames_get_one_ack_each_in_order(port: int, store_url: str) -> None:
    messages = [oru(n, f"P{n}") for n in range(3)]
    with connect(port) as sock:
        sock.sendall(b"".join(frame(m) for m in messages))  # three frames, one write
        acks = read_acks(sock, 3)
    assert [msa(a)[:2] for a in acks] == [("AA", f"MSG{n:06d}") for n in range(3)]
    assert str(acks[0].segment("MSH")[9]) == "ACK^R01^ACK"
    # committed before the ACK: another connection to the store sees every item
    other = open_store(store_url)
    try:
        assert other.status().counts["pending"] == 3
    finally:
        other.close()


def test_a_frame_in_fragments_gets_one_ack(port: int, store: SqlStore) -> None:
    data = frame(oru(7, "P7"))
    with connect(port) as sock:
        for start in range(0, len(data), 40):
            sock.sendall(data[start : start + 40])
            time.sleep(0.01)
        [ack] = read_acks(sock, 1)
    assert msa(ack)[0] == "AA"
    assert store.status().counts["pending"] == 1


def test_a_rejected_message_is_stored_and_answered_ae(port: int, store: SqlStore) -> None:
    with connect(port) as sock:
        sock.sendall(frame(rejected_oru(3)))
        [ack] = read_acks(sock, 1)
    code, control, text = msa(ack)
    assert (code, control) == ("AE", "MSG000003")
    assert "no PID-3 patient identifier" in text
    [item] = store.items()
    assert item.state == "rejected"
    assert store.raw(item.id)[0].raw == rejected_oru(3)


def test_unparsable_frames_are_answered_ar_and_not_stored(port: int, store: SqlStore) -> None:
    with connect(port) as sock:
        sock.sendall(frame(b"hello, not HL7") + frame(b"MSH|^~\\&|too|short\r"))
        sock.sendall(b"no start block" + FS_CR)
        sock.sendall(frame(oru(1, "P1")))
        acks = read_acks(sock, 4)
    assert [msa(a)[0] for a in acks] == ["AR", "AR", "AR", "AA"]
    assert "MSH" in msa(acks[0])[2]
    assert "<VT>" in msa(acks[2])[2]
    assert store.status().counts["pending"] == 1
    assert len(store.items()) == 1


def test_a_connection_dropped_mid_frame_stores_nothing_of_it(port: int, store: SqlStore) -> None:
    whole = frame(oru(1, "P1"))
    with connect(port) as sock:
        sock.sendall(frame(oru(2, "P2")) + whole[: len(whole) // 2])
        [ack] = read_acks(sock, 1)
    assert msa(ack)[1] == "MSG000002"
    with connect(port) as sock:  # the sender sends the unacknowledged frame again
        sock.sendall(whole)
        [again] = read_acks(sock, 1)
    assert msa(again)[:2] == ("AA", "MSG000001")
    assert sorted(store.raw(i.id)[0].raw for i in store.items()) == sorted(
        [oru(1, "P1"), oru(2, "P2")]
    )


def test_a_message_sent_twice_is_stored_once(port: int, store: SqlStore) -> None:
    with connect(port) as sock:
        sock.sendall(frame(oru(5, "P5")) * 2)
        acks = read_acks(sock, 2)
    assert [msa(a)[0] for a in acks] == ["AA", "AA"]
    assert len(store.items()) == 1


def test_listen_mllp_command(store_url: str) -> None:
    command = [
        str(Path(sys.executable).parent / "ball-fhir"),
        "listen-mllp",
        "--port",
        "0",
        "--store",
        store_url,
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        bound = int(proc.stdout.readline())
        with MLLPClient("127.0.0.1", bound) as client:
            reply = client.send_message(oru(9, "P9").decode())
        ack = hl7.parse(reply.decode().strip("\x0b\x1c\r") + "\r")
        assert msa(ack)[:2] == ("AA", "MSG000009")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert proc.returncode == 0
    reopened = open_store(store_url)
    try:
        assert reopened.status().counts["pending"] == 1
    finally:
        reopened.close()
