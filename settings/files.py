"""Reading a file the user names: a regular file only, and never more of it than asked for."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def read_regular_file(path: Path, size: int) -> bytes:
    """At most `size` bytes of a regular file. Anything else is refused before a byte is read: reading a FIFO waits
    for a writer that may never come and a device may never end (OSError, "not a regular file"; a directory is
    IsADirectoryError)."""
    # Opened without blocking (a FIFO's open would wait for a writer), then judged by what was opened, not by a
    # name that could change in between.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file: a FIFO, device or socket", str(path))
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(size)
    finally:
        os.close(fd)
