"""What the ops tests watch from outside a job: its processes (from /proc) and a pg_dump held mid-run on a real lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psycopg

T = TypeVar("T")


@dataclass(frozen=True)
class Process:
    """One process as /proc shows it."""

    pid: int
    ppid: int
    group: int
    name: str
    command: str
    started: int
    """Start time in clock ticks since boot: with the pid, it names this process and no later one."""


def processes() -> dict[int, Process]:
    """Every live process (zombies are dead: they only wait to be reaped)."""
    found: dict[int, Process] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            found[int(entry.name)] = Process(
                int(entry.name), int(fields[1]), int(fields[2]), name, command.strip(), int(fields[19])
            )
    return found


def descendants(root: int) -> list[Process]:
    """The processes started by `root`, at any depth."""
    table = processes()
    found: list[Process] = []
    frontier = {root}
    while frontier:
        children = [process for process in table.values() if process.ppid in frontier]
        found += children
        frontier = {process.pid for process in children}
    return found


def still_running(watched: list[Process]) -> list[Process]:
    """Those of `watched` still alive, and anything else still in their process groups."""
    table = processes()
    groups = {process.group for process in watched}
    return [
        process
        for process in table.values()
        if any(process.pid == w.pid and process.started == w.started for w in watched) or process.group in groups
    ]


def wait_for(what: str, found: Callable[[], T], seconds: float = 60) -> T:
    """Poll until `found()` is truthy; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := found():
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _waiting_on(conn: psycopg.Connection[tuple[object, ...]], table: str) -> list[int]:
    """Backends waiting for a lock on `table`."""
    rows = conn.execute("SELECT pid FROM pg_locks WHERE relation = %s::regclass AND NOT granted", [table]).fetchall()
    return [int(str(row[0])) for row in rows]


class StalledDump:
    """A dump held mid-run on real locks: the job's snapshot taken and its pg_dump running, waiting for a table.

    Entered before the job starts, it holds `vibelogs`: the job counts `users` (keeping its lock until its COMMIT)
    and waits there. `hold()` then queues an exclusive lock on `users` behind the job's and releases `vibelogs`: the
    pg_dump the job starts queues behind that exclusive lock, and waits until the job's snapshot transaction ends
    (its COMMIT, or its connection dropped). The queue forms in this order every time, with no timing to win.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.exporter = 0
        """Backend pid of the job's snapshot transaction, once `hold()` returned."""
        self._first = psycopg.connect(url)
        self._queued = threading.Thread(target=self._queue_behind_the_job, daemon=True)
        self._second: list[int] = []

    def __enter__(self) -> StalledDump:
        self._first.execute("LOCK TABLE vibelogs IN ACCESS EXCLUSIVE MODE")
        return self

    def __exit__(self, *_: object) -> None:
        self._first.close()
        if self._queued.ident is not None:
            self._queued.join(timeout=60)

    def _queue_behind_the_job(self) -> None:
        with psycopg.connect(self.url) as conn:
            self._second.append(conn.info.backend_pid)
            conn.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")  # granted once the job's snapshot ends
            conn.rollback()

    def hold(self) -> None:
        """Wait until the job's pg_dump waits for its lock (the job started after entering)."""
        with psycopg.connect(self.url, autocommit=True) as monitor:
            waiting = wait_for("the job's snapshot transaction", lambda: _waiting_on(monitor, "vibelogs"))
            self.exporter = waiting[0]
            self._queued.start()
            wait_for("the queued lock", lambda: self._second and self._second[0] in _waiting_on(monitor, "users"))
        self._first.rollback()
        wait_for("pg_dump waiting for its lock", self.pg_dump_waiting)

    def pg_dump_waiting(self) -> int:
        """The backend pid of the job's pg_dump once it waits for a lock, else 0."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock' "
                "AND datname = current_database()"
            ).fetchone()
        return int(str(row[0])) if row else 0
