"""``ball-fhir feedback``: what clinicians did with our CDS Hooks cards.

Reads the feedback store (``--db``, else ``feedback_db`` of the CDS Hooks configuration) and
prints accepted/overridden counts per service, card type and override reason; the same table
as ``GET /cds-feedback/summary``.  Exit 2 when the store does not exist.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from adapter.cdshooks.config import load_config
from adapter.cli.output import add_format
from adapter.issues import UsageError
from adapter.store.feedback import SqliteFeedbackStore, SummaryRow


def render_text(rows: list[SummaryRow]) -> str:
    if not rows:
        return "no feedback recorded\n"
    head = ("service", "card type", "outcome", "reason", "count")
    table = [head] + [
        (r.service, r.card_type, r.outcome, r.reason or "-", str(r.count)) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n"
        for row in table
    )


def cmd_feedback(args: argparse.Namespace) -> int:
    db = Path(args.db or load_config(args.config).feedback_db)
    if not db.is_file():
        raise UsageError(f"no feedback store at {db}")
    store = SqliteFeedbackStore(db)
    try:
        rows = store.summary()
    finally:
        store.close()
    if args.format == "json":
        sys.stdout.write(json.dumps({"summary": [r.to_json() for r in rows]}, indent=2) + "\n")
    else:
        sys.stdout.write(render_text(rows))
    return 0


def register(commands: Any) -> None:
    """Add the ``feedback`` command."""
    p = commands.add_parser(
        "feedback", help="CDS Hooks card feedback: accepted/overridden per card type and reason"
    )
    p.add_argument("--db", help="the SQLite feedback store (default: feedback_db of the config)")
    p.add_argument("--config", help="CDS Hooks config YAML (default: $BALL_FHIR_CDS_CONFIG)")
    add_format(p, "the summary as readable lines or as JSON (default: text)")
    p.set_defaults(handler=cmd_feedback)
