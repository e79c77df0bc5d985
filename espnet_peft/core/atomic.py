"""Writing a file so that readers see the old content or the new, never half of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Union


# The process's umask (read once): the written file gets the mode a plain open() would
# give it, not mkstemp's private 0600.
_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, then rename it
    onto ``path`` (a killed job leaves the previous file, not a truncated one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_if_changed(path, content: Union[str, bytes]) -> Path:
    """Write ``content`` (text as UTF-8) atomically unless ``path`` holds it already, so
    that re-running a finished stage leaves its files (and their times) alone."""
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    if not path.is_file() or path.read_bytes() != data:
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return path
