"""What the command line writes: files atomically, and text echoed to the terminal escaped.

Every file a command writes goes through :func:`write_atomic` (or :func:`write_json`): the bytes
go to a temporary file in the target's folder, which then replaces the target
(:func:`os.replace`, atomic on POSIX and Windows).  A failure or Ctrl-C at any point leaves the
earlier file as it was and no partial file behind; an unwritable path becomes a
:class:`UsageError` naming it (exit 2), never a traceback.

Text taken from the input (cell values, segments, file names) may hold control characters that
a terminal would act on; :func:`escape` renders them as Python escapes before they are echoed.
"""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from adapter.issues import UsageError

# C0 and C1 controls, DEL, line/paragraph separators, bidi overrides and isolates (which reorder
# what a terminal shows), and lone surrogates (undecodable bytes kept by surrogateescape).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def escape(text: str) -> str:
    """``text`` safe to echo on a terminal: unsafe characters as ``\\x1b``, ``\\n``,
    ``\\udc80`` ... (printable text, including non-ASCII letters, unchanged)."""
    return _UNSAFE.sub(lambda m: repr(m.group())[1:-1], text)


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
    :func:`os.replace`); :class:`UsageError` when the path cannot be written."""
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        os.fchmod(handle, _new_file_mode(path))  # mkstemp makes it private (0600)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
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
