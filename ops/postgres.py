"""PostgreSQL from the jobs' side: the client binaries, connection settings kept out of argv, scratch servers."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from ops import interrupt
from ops.environment import Variable
from ops.errors import JobError

DEBIAN_ROOT = Path("/usr/lib/postgresql")
PG_BIN = Variable(
    "PG_BIN", "where pg_dump, pg_restore, initdb and pg_ctl are (default: Debian's newest)", required=False
)
# libpq reads these from the environment; passing them so keeps the password out of every process's argv.
LIBPQ_ENV = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
}


def bin_dir() -> Path:
    """Where pg_dump, pg_restore, initdb and pg_ctl are: $PG_BIN, else Debian's newest, else the PATH's."""
    if configured := os.environ.get(PG_BIN.name):
        return Path(configured)
    if DEBIAN_ROOT.is_dir():
        majors = sorted(
            (int(path.name) for path in DEBIAN_ROOT.iterdir() if path.name.isdigit() and (path / "bin").is_dir()),
            reverse=True,
        )
        if majors:
            return DEBIAN_ROOT / str(majors[0]) / "bin"
    found = shutil.which("pg_dump")
    if found is None:
        raise JobError("no PostgreSQL client binaries: install postgresql-client or set PG_BIN")
    return Path(found).parent


def tool(name: str) -> str:
    """The path of one PostgreSQL binary; JobError if it is not installed."""
    path = bin_dir() / name
    if not path.exists():
        raise JobError(f"{name} is not in {path.parent}: install PostgreSQL's binaries or set PG_BIN")
    return str(path)


def libpq_env(url: str) -> dict[str, str]:
    """The process environment that connects libpq to `url`, with the password in PGPASSWORD, not in argv."""
    try:
        params = conninfo_to_dict(url)
    except Exception:
        raise JobError("the database URL is not a valid PostgreSQL connection URL") from None
    unknown = sorted(set(params) - set(LIBPQ_ENV))
    if unknown:
        raise JobError(f"unsupported connection parameter(s) in the database URL: {', '.join(unknown)}")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG") or key == "PG_BIN"}
    env.update({LIBPQ_ENV[key]: str(value) for key, value in params.items() if value is not None})
    return env


def scrub(text: str, url: str) -> str:
    """`text` with the URL and its password removed, for a one-line error message."""
    params = conninfo_to_dict(url) if url else {}
    for secret in (url, str(params.get("password") or "")):
        if secret:
            text = text.replace(secret, "***")
    return text


def last_line(stderr: bytes | str, url: str) -> str:
    """The line of a tool's stderr that says why it failed, scrubbed of the connection string: the last `error:`
    line (pg_restore follows it with `Command was: ...`, the statement, not the cause), else the last line."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    return scrub((errors or lines or ["no error output"])[-1], url)


def failure(name: str, done: subprocess.CompletedProcess[bytes], url: str) -> str:
    """Why a PostgreSQL tool failed, in one line: the signal that killed it, or its exit status and error line."""
    if done.returncode < 0:
        return f"{name} was killed by {signal.Signals(-done.returncode).name}"
    return f"{name} failed (exit {done.returncode}): {last_line(done.stderr, url)}"


def free_port() -> int:
    """A TCP port nothing listens on right now, on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Cluster:
    """A running throwaway PostgreSQL server."""

    url: str
    """Superuser URL of its `postgres` database (trust authentication on 127.0.0.1 only)."""
    port: int
    """Its TCP port on 127.0.0.1."""
    data_dir: Path
    """Its data directory."""

    def database_url(self, name: str) -> str:
        """URL of another database on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


def _as_owner(command: list[str], owner: str | None) -> list[str]:
    return command if owner is None else ["runuser", "-u", owner, "--", *command]


@contextmanager
def scratch_cluster(*, durable: bool = True, settings: Mapping[str, str] | None = None) -> Iterator[Cluster]:
    """A new PostgreSQL server in a temporary directory on a port of its own, stopped and removed afterwards.

    initdb refuses to run as root (CI's user), so as root the server runs as the `postgres` account Debian's
    package creates. `durable=False` turns fsync off: for tests, never for a restore time that is reported.
    """
    owner = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise JobError("running as root needs the postgres account (apt-get install postgresql)") from None
        owner = "postgres"
    root = Path(tempfile.mkdtemp(prefix="vibelog-pg-"))
    data = root / "data"
    try:
        if owner is not None:
            shutil.chown(root, user=owner)
        port = free_port()
        options = {"listen_addresses": "127.0.0.1", "port": str(port), "unix_socket_directories": str(root)}
        if not durable:
            options.update({"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"})
        options.update(settings or {})
        flags = " ".join(f"-c {key}={value}" for key, value in options.items())
        for command in (
            [tool("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "-N"],
            [tool("pg_ctl"), "-D", str(data), "-o", flags, "-l", str(root / "log"), "-w", "start"],
        ):
            done = interrupt.run(_as_owner(command, owner))
            if done.returncode != 0:
                why = failure(Path(command[0]).name, done, "")
                raise JobError(f"the scratch PostgreSQL server did not start: {why}")
        yield Cluster(f"postgresql://postgres@127.0.0.1:{port}/postgres", port, data)
    finally:
        with interrupt.deferred():
            _stop(data)
            shutil.rmtree(root, ignore_errors=True)


def _stop(data: Path, wait_seconds: float = 30) -> None:
    """Stop a scratch server at once (SIGQUIT, pg_ctl's `-m immediate`), whatever point its start reached.

    Its pid file, not a flag, says whether it runs: pg_ctl may have been stopped after the postmaster started, and
    the postmaster is in a session of its own (pg_ctl puts it there), so killing pg_ctl's group does not stop it.
    """
    pid_file = data / "postmaster.pid"
    deadline = time.monotonic() + wait_seconds
    pid = 0
    while pid_file.exists() and time.monotonic() < deadline:
        try:
            if not pid:
                with contextlib.suppress(ValueError):  # written a line at a time while the server starts
                    pid = int(pid_file.read_text(encoding="utf-8").split("\n", 1)[0])
                if pid:
                    os.kill(pid, signal.SIGQUIT)
            else:
                os.kill(pid, 0)
        except (FileNotFoundError, ProcessLookupError):
            return  # gone, or a stale file of a server that died
        time.sleep(0.02)
    if pid and pid_file.exists():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
