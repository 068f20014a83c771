"""Atomic file writes (a temp file in the target folder, then os.replace), and the guard before replacing a folder."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from shared.errors import ConfigError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success it replaces `path`, on error it is removed.

    The temp name keeps the suffix so that writers choosing a format by extension still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600 (and some writers recreate the file)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text so that readers see either the old file or the whole new one."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def refuse_foreign_folder(folder: str | Path, written: frozenset[str], command: str, flag: str = "-o") -> None:
    """Raise ConfigError when `folder` exists and holds anything but the files `command` writes.

    Commands that replace a whole output folder call this first: they may replace their own
    earlier output, never a folder (or file) of someone else's.
    """
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise ConfigError(f"{folder} is a file; give {command} a new or empty folder with {flag}")
    foreign = sorted(p.name for p in folder.iterdir() if p.name not in written)
    if foreign:
        shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        raise ConfigError(f"{folder} holds {shown}, which {command} did not write; give it a new or empty folder with {flag}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
