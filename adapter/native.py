"""Which modules run compiled, and the guard against a compiled module older than its source.

``scripts/compile`` builds C extensions of the mapping hot path with mypyc, next to the
sources; Python imports an extension before the ``.py`` file of the same name.  An extension
older than its source would run the old code, so :func:`refuse_stale` (called as the package is
imported) stops with the fix instead.  Without extensions everything runs as pure Python.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

PACKAGE = Path(__file__).parent


def stale_extensions(package: Path) -> list[tuple[Path, Path]]:
    """Each extension under ``package`` with its source, where the source is newer (or gone)."""
    stale = []
    for extension in sorted(package.rglob("*.so")):
        source = extension.with_name(extension.name.split(".", 1)[0] + ".py")
        if not source.exists() or source.stat().st_mtime > extension.stat().st_mtime:
            stale.append((extension, source))
    return stale


def refuse_stale(package: Path = PACKAGE) -> None:
    """ImportError naming the stale extensions and the fix, when there are any."""
    stale = stale_extensions(package)
    if stale:
        names = ", ".join(str(source.relative_to(package.parent)) for _, source in stale)
        raise ImportError(
            f"compiled modules are older than their sources ({names}): run ./scripts/compile "
            "to rebuild them, or ./scripts/compile --clean to run pure Python"
        )


def compiled(module: ModuleType) -> bool:
    """Whether a module was imported from a compiled extension (not from its source)."""
    return not str(module.__file__).endswith(".py")
