"""The ``ball-fhir`` command line: a thin edge over the mapping, validation and protocol layers.

Exit codes (every command): 0 success, 1 the input had problems (rejected records, validation
errors, error findings), 2 usage or configuration error (one-line message on stderr, nothing
written), 130 interrupted (Ctrl-C).

Each command module has ``register(commands)``, adding its parser with a ``handler``; handlers
raise :class:`UsageError` for what the user can fix and write files through
:mod:`adapter.cli.output` (atomic).  :func:`main` turns every condition a user can cause (bad
paths, full disk, undecodable or too deeply nested input, Ctrl-C) into a message and an exit
code, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from adapter import __version__
from adapter.cli import delivery, feedback, iscn, mainjob, mapcmd, protocol, serve, setup, validate
from adapter.cli.output import escape, terminal_safe
from adapter.issues import UsageError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ball-fhir",
        description="FHIR R4 adapter for relapsed pediatric B-ALL: map, validate, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"ball-fhir {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (mainjob, mapcmd, validate, protocol, iscn, serve, setup, feedback, delivery):
        module.register(commands)
    return parser


def _message(exc: Exception) -> str:
    """The one-line message for a condition the user caused."""
    if isinstance(exc, OSError):  # unreadable or unwritable paths, full disk, broken pipe
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to process"
    if isinstance(exc, UnicodeError):
        return f"the input is not valid text: {exc}"
    return str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        with terminal_safe():
            args = build_parser().parse_args(argv)
            code: int = args.handler(args)
    except KeyboardInterrupt:
        sys.stderr.write("ball-fhir: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (UsageError, OSError, RecursionError, UnicodeError) as exc:
        sys.stderr.write(f"ball-fhir: error: {escape(_message(exc))}\n")
        return EXIT_USAGE
    return code
