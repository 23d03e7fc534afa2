"""Writing a file so that a crash, a full disk or a reader never sees half of it."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: Path, write: Callable[[Path], None], durable: bool = True) -> None:
    """Calls `write(tmp)` for a temporary name beside `path`, then renames it to `path` (atomic on
    POSIX and Windows): `path` is either the previous file or the complete new one. `durable`: the
    data and the rename are flushed to disk first (fsync), so they survive a power loss. On an
    error the temporary file is removed and the error propagates. The temporary name holds the
    process id: concurrent writers of the same path do not clash."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        if durable:
            flush_to_disk(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        flush_to_disk(path.parent)


def flush_to_disk(path: Path) -> None:
    """fsync: the file holds its data even after a power loss (best effort for directories)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # e.g. directories on Windows
    try:
        os.fsync(fd)
    except OSError:
        if not Path(path).is_dir():
            raise
    finally:
        os.close(fd)
