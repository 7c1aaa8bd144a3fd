"""What the offline engine derives once from the installed SDKs' files and keeps: in the Python environment
(`<sys.prefix>/infra-cache/`, the project's virtualenv), outside every import path.

Nothing but the engine reads these files, and an SDK uninstalled later leaves nothing importable behind. Entries
live in a directory per kind and per version of the engine file that derives them (a digest of its content), so
two versions of the engine (`diff` plans a base revision with its own code) never overwrite each other's entries,
and an edited engine file starts afresh. Each entry starts with a stamp of the files it was derived from (the
interpreter's bytecode magic number, then each file's modification time and size, as a .pyc records its
source), so an entry is used only while those files are as they were. Entries are written whole or not at all;
where none can be written (`sys.dont_write_bytecode`, a read-only environment, a full disk) the engine does
without, and after one failed write it stops trying for the rest of the process. A directory left by an older
version of an engine file is not removed (a `diff` may still be planning with it): `rm -rf .venv/infra-cache`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path

_unwritable = False
"""Set when an entry could not be written: the rest of the process does without."""


def root() -> Path:
    """The directory every entry is kept under, inside the running Python environment."""
    return Path(sys.prefix) / "infra-cache"


@functools.cache
def _version(deriver: str) -> str:
    return hashlib.sha256(Path(deriver).read_bytes()).hexdigest()[:16]


def entry(kind: str, deriver: str, source_path: str) -> Path:
    """Where what the engine file `deriver` (its `__file__`) derives from a source file is kept: the source's
    absolute path (as imported, no syscalls) under the kind's directory for that version of the deriver, named for
    the interpreter and its -O level, as Python names its own bytecode."""
    source = Path(os.path.abspath(source_path))
    optimization = f".opt-{sys.flags.optimize}" if sys.flags.optimize else ""
    name = f"{source.name}.{sys.implementation.cache_tag}{optimization}.pyc"
    return root().joinpath(f"{kind}-{_version(deriver)}", *source.parts[1:-1], name)


def stamp(paths: Iterable[str | Path]) -> bytes | None:
    """The magic number and each file's modification time and size; None if one cannot be read."""
    parts = [importlib.util.MAGIC_NUMBER]
    try:
        for path in paths:
            status = os.stat(path)
            parts.append((int(status.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little"))
            parts.append((status.st_size & 0xFFFFFFFF).to_bytes(4, "little"))
    except OSError:
        return None
    return b"".join(parts)


def read(path: Path, expected_stamp: bytes) -> bytes | None:
    """The entry's content after its stamp, if the entry exists and carries exactly that stamp."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data[len(expected_stamp) :] if data.startswith(expected_stamp) else None


def writable(path: Path) -> bool:
    """Whether the entry may be written: bytecode writing is on, no write has failed, and the nearest existing
    directory on its way is writable."""
    if sys.dont_write_bytecode or _unwritable:
        return False
    directory = path.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    return os.access(directory, os.W_OK)


def write(path: Path, content_stamp: bytes, content: bytes) -> None:
    """Write the entry whole or not at all (two processes may write the same one at once)."""
    global _unwritable  # noqa: PLW0603 - one verdict per process, like sys.dont_write_bytecode
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(content_stamp + content)
        partial.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink()
        _unwritable = True
