"""The ``ball-fhir`` command line: a thin edge over the mapping, validation and protocol layers.

Exit codes (every command): 0 success, 1 the input had problems (rejected records, validation
errors), 2 usage or configuration error (clear message on stderr, nothing written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from adapter import __version__
from adapter.cli import delivery as delivery_commands
from adapter.cli import iscn, mainjob, mapcmd, protocol, serve, validate
from adapter.issues import UsageError

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ball-fhir",
        description="FHIR R4 adapter for relapsed pediatric B-ALL: map, validate, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"ball-fhir {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (mainjob, mapcmd, validate, protocol, iscn, serve):
        module.register(commands)
    delivery_commands.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except UsageError as exc:
        sys.stderr.write(f"ball-fhir: error: {exc}\n")
        return EXIT_USAGE
    return code
