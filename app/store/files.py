"""Where a SQLite store lives: a path, or ``:memory:``, and never the word "None".

``sqlite3.connect(str(path))`` turns a ``None`` into a file named ``None`` in the working
directory (one was committed once). Every store opens its file through ``database``.
"""

from __future__ import annotations

from pathlib import Path


def database(path: Path | str | None) -> str:
    if path is None or (isinstance(path, str) and path.strip() in ("", "None")):
        raise ValueError("no database path given (FLYWHEEL_DB, or :memory:)")
    return str(path)
