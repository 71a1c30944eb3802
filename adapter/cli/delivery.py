"""Intake and delivery commands: ``listen-mllp``, ``deliver``, ``status``, ``replay``.

Every command works on one store (``--store URL``, default ``$BALL_FHIR_STORE`` or
``sqlite:///ball-fhir-store.db``; ``adapter.store``).  ``listen-mllp`` stores and maps each
HL7 v2 message it receives (``adapter.intake``); ``deliver`` posts what is due to the FHIR
server (``adapter.delivery``), once (``--until-idle``) or as a long-running worker;
``status`` counts items by state; ``replay`` sends items again (``--dead``: every dead letter).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from adapter.cli.mapcmd import SOURCE_KINDS
from adapter.cli.output import add_format
from adapter.delivery import (
    DeliveryConfig,
    FhirClient,
    ServerConfig,
    Worker,
    load_delivery_config,
)
from adapter.intake import Ingested, ItemMapper, ingest, map_stored
from adapter.intake.mllp import MllpListener
from adapter.issues import UsageError
from adapter.mapping.bundle import MapResult
from adapter.sources.site import load_site
from adapter.store import DEFAULT_URL, STATES, SqlStore, Status, open_store


def item_mapper(kind: str, site: str) -> ItemMapper:
    """The mapper of one source kind with one site's configuration (UsageError when unknown)."""
    if kind not in SOURCE_KINDS:
        raise UsageError(f"unknown source kind {kind!r}")
    config = load_site(site)
    mapper = SOURCE_KINDS[kind].mapper

    def run(data: bytes, name: str, recorded: str) -> MapResult:
        return mapper(data, name, config, recorded, None)

    return run


def status_json(status: Status, now: datetime) -> dict[str, Any]:
    """``GET /status`` and ``status --format json``: counts by state, oldest waiting age."""
    oldest = status.oldest_due
    return {
        "counts": dict(status.counts),
        "oldestPendingSeconds": None if oldest is None else (now - oldest).total_seconds(),
    }


def _store(args: argparse.Namespace) -> SqlStore:
    return open_store(args.store)


def cmd_listen_mllp(args: argparse.Namespace) -> int:
    store = _store(args)
    mapper = item_mapper("hl7v2", args.site)

    def store_message(raw: bytes, name: str) -> Ingested:
        return ingest(store, "hl7v2", args.site, name, raw, mapper)

    async def serve() -> None:
        listener = MllpListener(store_message)
        port = await listener.start(args.host, args.port)
        sys.stdout.write(f"{port}\n")
        sys.stdout.flush()
        sys.stderr.write(f"ball-fhir: MLLP on {args.host}:{port}, store {args.store}\n")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await listener.close()

    asyncio.run(serve())
    store.close()
    return 0


def _delivery_config(args: argparse.Namespace) -> DeliveryConfig:
    if args.config:
        config = load_delivery_config(Path(args.config))
    elif args.server:
        config = DeliveryConfig(server=ServerConfig(base_url=args.server))
    else:
        raise UsageError("deliver needs --config FILE or --server URL")
    server = config.server
    changes: dict[str, Any] = {}
    if args.server:
        changes["base_url"] = args.server
    if args.max_entries is not None:
        changes["max_entries"] = args.max_entries
    if args.timeout is not None:
        changes["timeout"] = args.timeout
    if changes:
        try:
            server = ServerConfig.model_validate({**server.model_dump(), **changes})
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return config.model_copy(update={"server": server})


def cmd_deliver(args: argparse.Namespace) -> int:
    config = _delivery_config(args)
    store = _store(args)
    worker = Worker(
        store,
        FhirClient(config.server),
        config.retry.policy(),
        args.lease if args.lease is not None else config.lease_seconds,
        config.poll_seconds,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    tally = worker.run(stop, until_idle=args.until_idle)
    status = store.status()
    store.close()
    sys.stderr.write(
        f"ball-fhir deliver: {tally.delivered} delivered ({tally.chunks} transactions), "
        f"{tally.failed} attempts to retry, {tally.dead} dead letters; "
        f"now {_counts_text(status)}\n"
    )
    return 1 if status.counts["dead"] else 0


def _counts_text(status: Status) -> str:
    return ", ".join(f"{status.counts[s]} {s}" for s in STATES if status.counts[s]) or "no items"


def cmd_status(args: argparse.Namespace) -> int:
    store = _store(args)
    status = store.status()
    dead = store.items("dead") if args.format == "text" else []
    store.close()
    now = datetime.now().astimezone()
    body = status_json(status, now)
    if args.format == "json":
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
        return 0
    for state in STATES:
        sys.stdout.write(f"{state:10} {status.counts[state]}\n")
    age = body["oldestPendingSeconds"]
    sys.stdout.write("oldest waiting: " + ("none" if age is None else f"{age:.0f} s") + "\n")
    for item in dead:
        sys.stdout.write(f"dead #{item.id} {item.kind} {item.source_name}: {item.last_error}\n")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    if not args.ids and not args.dead:
        raise UsageError("replay needs item ids or --dead")
    store = _store(args)
    try:
        for item_id in args.ids:
            try:
                state = store.replay(item_id)
            except KeyError:
                raise UsageError(f"no item {item_id} in {args.store}") from None
            if state == "received":  # stored but never mapped (a crash while mapping)
                info = store.info(item_id)
                state = map_stored(store, item_id, item_mapper(info.kind, info.site)).state
            sys.stdout.write(f"#{item_id}: {state}\n")
        if args.dead:
            sys.stdout.write(f"{len(store.replay_dead())} dead letters back to pending\n")
    finally:
        store.close()
    return 0


def register(commands: Any) -> None:
    """Add ``listen-mllp``, ``deliver``, ``status`` and ``replay``."""
    store_default = os.environ.get("BALL_FHIR_STORE", DEFAULT_URL)

    def with_store(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--store",
            default=store_default,
            help=f"store URL: sqlite:///FILE or postgresql://... (default: {store_default})",
        )

    mllp = commands.add_parser(
        "listen-mllp", help="receive HL7 v2 messages over MLLP into the store (ACK after commit)"
    )
    mllp.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    mllp.add_argument("--port", type=int, default=2575, help="port (default: 2575; 0: any)")
    mllp.add_argument("--site", default="default", help="site configuration (default: default)")
    with_store(mllp)
    mllp.set_defaults(handler=cmd_listen_mllp)

    deliver = commands.add_parser(
        "deliver", help="post stored Bundles to the FHIR server (a worker; --until-idle: once)"
    )
    deliver.add_argument("--config", metavar="DELIVERY.yaml", help="delivery configuration")
    deliver.add_argument("--server", metavar="URL", help="FHIR server base URL")
    deliver.add_argument("--max-entries", type=int, help="split policy: entries per transaction")
    deliver.add_argument("--timeout", type=float, help="seconds per request")
    deliver.add_argument("--lease", type=float, help="seconds a worker owns an item it delivers")
    deliver.add_argument(
        "--until-idle",
        action="store_true",
        help="stop when nothing is pending or failed (default: run until stopped)",
    )
    with_store(deliver)
    deliver.set_defaults(handler=cmd_deliver)

    status = commands.add_parser("status", help="items by delivery state, oldest waiting age")
    add_format(status, "counts as readable lines or as JSON (default: text)")
    with_store(status)
    status.set_defaults(handler=cmd_status)

    replay = commands.add_parser("replay", help="deliver items again (ids, or --dead)")
    replay.add_argument(
        "ids", nargs="*", type=int, metavar="ID", help="item ids, as `status` lists them"
    )
    replay.add_argument("--dead", action="store_true", help="every dead letter")
    with_store(replay)
    replay.set_defaults(handler=cmd_replay)
