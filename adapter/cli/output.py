"""What the command line writes: files atomically, and text echoed to the terminal escaped.

Every file a command writes goes through :func:`write_atomic` (or :func:`write_json`): the bytes
go to a temporary file in the target's folder, which then replaces the target
(:func:`os.replace`, atomic on POSIX and Windows).  A failure or Ctrl-C at any point leaves the
earlier file as it was and no partial file behind; an unwritable path becomes a
:class:`UsageError` naming it (exit 2), never a traceback.

Text taken from the input (cell values, segments, file names) may hold control characters that
a terminal would act on; :func:`escape` renders them as Python escapes before they are echoed,
and :func:`terminal_safe` (around every command, :func:`adapter.cli.main`) does the same for
anything a command writes to a terminal.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from adapter.issues import UsageError

# C0 and C1 controls, DEL, line/paragraph separators, bidi overrides and isolates (which reorder
# what a terminal shows), and lone surrogates (undecodable bytes kept by surrogateescape).
_UNSAFE = "\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE_IN_LINE = re.compile(f"[{_UNSAFE}]")
_UNSAFE_IN_TEXT = re.compile(f"(?![\n\t])[{_UNSAFE}]")  # line ends and tabs kept


def _escaped(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]


def escape(text: str) -> str:
    """``text`` safe to echo on a terminal as one line: unsafe characters as ``\\x1b``,
    ``\\n``, ``\\udc80`` ... (printable text, including non-ASCII letters, unchanged)."""
    return _UNSAFE_IN_LINE.sub(_escaped, text)


class TerminalText:
    """A text stream that escapes unsafe characters (all but line ends and tabs) on their way
    to a terminal, whatever command writes them; everything else goes to the stream as is."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(_UNSAFE_IN_TEXT.sub(_escaped, text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextmanager
def terminal_safe() -> Iterator[None]:
    """While inside, ``sys.stdout`` and ``sys.stderr`` escape unsafe characters when they are
    terminals (files and pipes get the exact text: JSON, CSV and Bundles for other programs)."""
    saved = sys.stdout, sys.stderr
    if sys.stdout.isatty():
        sys.stdout = TerminalText(sys.stdout)
    if sys.stderr.isatty():
        sys.stderr = TerminalText(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def _new_file_mode(path: Path) -> int:
    """The mode the written file gets: the replaced file's, else what ``open`` would give."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then
    :func:`os.replace`); :class:`UsageError` when the path cannot be written.

    A symbolic link is followed (its target is replaced, the link kept); a path that is not a
    regular file (``/dev/stdout``, a named pipe) is written to directly, as it cannot be
    replaced."""
    target = Path(os.path.realpath(path))
    temporary: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        if target.exists() and not target.is_file():
            with target.open("wb") as stream:
                stream.write(data)
            return
        handle, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        os.fchmod(handle, _new_file_mode(target))  # mkstemp makes it private (0600)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
        temporary = None
    except OSError as exc:
        raise UsageError(f"cannot write {escape(str(path))}: {exc.strerror or exc}") from None
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


def write_json(path: Path, content: Any) -> None:
    """``content`` as indented UTF-8 JSON, written atomically."""
    text = json.dumps(content, ensure_ascii=False, indent=2) + "\n"
    write_atomic(path, text.encode("utf-8"))


def add_format(
    parser: argparse.ArgumentParser, help_text: str, choices: tuple[str, ...] = ("text", "json")
) -> None:
    """The ``--format`` option every reporting command shares (default ``text``)."""
    parser.add_argument("--format", choices=choices, default="text", help=help_text)
