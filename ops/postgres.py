"""PostgreSQL from the jobs' side: the client binaries, connection settings kept out of argv, scratch servers."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ops import interrupt
from ops.environment import Variable
from ops.errors import BadInputError, JobError

DEBIAN_ROOT = Path("/usr/lib/postgresql")
PG_BIN = Variable(
    "PG_BIN", "where pg_dump, pg_restore, initdb and pg_ctl are (default: Debian's newest)", required=False
)
# Every connection the jobs make (psycopg's, pg_dump's, pg_restore's) gets these unless its URL sets them: a bounded
# connect, and TCP keepalives plus a user timeout, so a connection whose peer or path is gone (a NAT dropping the
# flow, a host lost) ends in about a minute instead of at the workflow's 120-minute limit (docs/backups.md).
TIMEOUTS = {
    "connect_timeout": "10",
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
    "tcp_user_timeout": "60000",
}
# Seconds a transfer (pg_dump, pg_restore, an S3 request) may move no byte before the job gives up on it.
STALL_ENV = "OPS_STALL_SECONDS"
DEFAULT_STALL_SECONDS = 300.0
# The longest stall limit: a day, longer than any job's timeout (the database restore runbook's 4 hours).
MAX_STALL_SECONDS = 86400.0
# How often a running tool's progress is sampled.
POLL_SECONDS = 0.2
# The pipe a streamed tool writes into (Linux's default is 64 KiB), and the longest its reader naps between reads
# while the tool fills it (`Output.read`).
PIPE_SIZE = 1024 * 1024
NAP_SECONDS = 0.02


def widen_pipe(fd: int) -> None:
    """Make a pipe PIPE_SIZE (fewer wake-ups for a reader of big streams); the default 64 KiB works too."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)


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
    """The path of one PostgreSQL binary; JobError if it is not installed, bad input if $PG_BIN names a directory
    without it."""
    path = bin_dir() / name
    if not path.exists():
        if os.environ.get(PG_BIN.name):
            raise BadInputError(f"${PG_BIN.name}: {name} is not in {path.parent}")
        raise JobError(f"{name} is not in {path.parent}: install PostgreSQL's binaries or set PG_BIN")
    return str(path)


def _parse_problem(error: psycopg.Error, url: str) -> str:
    """` (what libpq found wrong)` with every quoted text longer than one character left out; nothing at all if a
    run of six characters of the URL would still show."""
    lines = str(error).strip().splitlines()
    # Split on quotes, the odd parts are what libpq quoted: `"="` and `"]"` say what is wrong, the rest is the URL.
    parts = (lines[0] if lines else "").split('"')
    for index in range(1, len(parts), 2):
        parts[index] = f'"{parts[index]}"' if len(parts[index]) == 1 else "..."
    problem = "".join(parts)
    if not problem or any(url[start : start + 6] in problem for start in range(len(url) - 5)):
        return ""
    return f" ({problem})"


def parse(url: str) -> dict[str, str]:
    """The parameters of a connection URL or key=value string; bad input (exit 2), never quoting the URL, if it is
    malformed.

    libpq's parse errors quote the text they stopped at, which holds the password: only their wording is kept.
    """
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error as error:
        raise BadInputError(
            f"the database URL is not a valid PostgreSQL connection URL{_parse_problem(error, url)}"
        ) from None
    return {key: str(value) for key, value in params.items() if value is not None}


def conninfo(url: str) -> str:
    """`url` as a libpq connection string with the jobs' TIMEOUTS wherever the URL does not set its own."""
    return make_conninfo("", **{**TIMEOUTS, **parse(url)})


def tool_connection(url: str) -> tuple[str, dict[str, str]]:
    """pg_dump's or pg_restore's `--dbname` (the connection string without the password) and its environment.

    The password goes in PGPASSWORD, never argv. The rest of the environment is the job's own, as for its psycopg
    connections: the restore's production guard and pg_restore must resolve a URL to the same server.
    """
    params = {**TIMEOUTS, **parse(url)}
    env = dict(os.environ)
    if "password" in params:
        env["PGPASSWORD"] = params.pop("password")
    return make_conninfo("", **params), env


def each_host(url: str) -> list[dict[str, str]]:
    """The parameters of each host a multi-host URL (`host=a,b`, `h1:5432,h2:5432`) names, as libpq tries them.

    Not psycopg's conninfo_attempts: it resolves names to addresses, and one unreachable address of a name (::1 of
    `localhost` where the server listens on IPv4 only) would then count as a host that cannot be asked.
    """
    params = parse(url)
    lists = {key: params[key].split(",") for key in ("host", "hostaddr", "port") if key in params}
    count = max((len(values) for values in lists.values()), default=1)
    if any(len(values) not in {1, count} for values in lists.values()):
        counts = ", ".join(f"{len(values)} {key}" for key, values in lists.items())
        raise JobError(f"the database URL's host, hostaddr and port lists differ in length ({counts})")
    return [
        {**params, **{key: values[index] if len(values) > 1 else values[0] for key, values in lists.items()}}
        for index in range(count)
    ]


def connect(url: str, what: str) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection with the jobs' TIMEOUTS; JobError naming `what`, not the URL, if it fails."""
    try:
        return psycopg.connect(conninfo(url), autocommit=True)
    except psycopg.Error as error:
        raise JobError(f"cannot connect to {what}: {last_line(str(error), url)}") from None


def scrub(text: str, url: str) -> str:
    """`text` with the URL and its password removed, for a one-line error message."""
    try:
        password = conninfo_to_dict(url).get("password") if url else None
    except psycopg.Error:
        password = None
    for secret in (url, str(password or "")):
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


def query_error(error: psycopg.Error, url: str) -> str:
    """Why a statement failed, in one line: the server's own message (`permission denied for schema auth`), not the
    last line of psycopg's text, which for an error at a position is the `^` under the statement."""
    primary = error.diag.message_primary if isinstance(error, psycopg.DatabaseError) else None
    return scrub(primary, url) if primary else last_line(str(error), url)


def failure(name: str, done: subprocess.CompletedProcess[bytes], url: str) -> str:
    """Why a PostgreSQL tool failed, in one line: the signal that killed it, or its exit status and error line."""
    if done.returncode < 0:
        return f"{name} was killed by {signal.Signals(-done.returncode).name}"
    return f"{name} failed (exit {done.returncode}): {last_line(done.stderr, url)}"


def stall_seconds() -> float:
    """The stall limit: $OPS_STALL_SECONDS, else DEFAULT_STALL_SECONDS; BadInputError if it is not a positive
    number (checked before a job starts, ops/cli.py)."""
    text = os.environ.get(STALL_ENV, "")
    try:
        seconds = float(text) if text else DEFAULT_STALL_SECONDS
    except ValueError:
        seconds = 0.0
    # Not inf nor 1e12: no limit at all, and an S3 client whose every request fails on a timestamp out of range.
    if not 0 < seconds <= MAX_STALL_SECONDS:
        raise BadInputError(f"${STALL_ENV} must be a number of seconds above 0 and at most {MAX_STALL_SECONDS:g}")
    return seconds


def bytes_moved(pid: int) -> int | None:
    """Bytes a process has read and written so far (its socket, its files); None where /proc does not say."""
    try:
        fields = dict(line.split(": ", 1) for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    except (OSError, ValueError):
        return None
    return int(fields.get("rchar", 0)) + int(fields.get("wchar", 0))


class Stall:
    """Watches a running tool for the stall limit: progress is a byte it read or wrote at all (`bytes_moved`: pg_dump
    reads the catalogue for a while before it writes its first byte), or one its caller saw move (`progressed`)."""

    def __init__(self, pid: int, name: str, limit: float) -> None:
        self._pid, self._name, self._limit = pid, name, limit
        self._moved, self._since = bytes_moved(pid), time.monotonic()

    def progressed(self) -> None:
        """The caller moved data to or from the tool."""
        self._moved, self._since = None, time.monotonic()

    def check(self) -> None:
        """JobError once the tool has moved nothing for the limit."""
        now = bytes_moved(self._pid)
        if now is None or now != self._moved:
            self._moved, self._since = now, time.monotonic()
        elif time.monotonic() - self._since >= self._limit:
            raise JobError(
                f"{self._name} stalled: it moved no data for {self._limit:g} s (the network or the server stopped "
                f"answering; ${STALL_ENV} sets the limit)"
            )


def run(command: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[bytes]:
    """Run a client tool to its end; JobError once it has read and written nothing for the stall limit.

    libpq's keepalives and user timeout end a connection whose peer is gone, not one that stays up and stops
    delivering (a wedged pooler or proxy still answers TCP for the server): only the bytes moved tell that.
    """
    limit = stall_seconds()
    with interrupt.start(command, env=env) as process:
        try:
            stall = Stall(process.pid, Path(command[0]).name, limit)
            while True:
                try:
                    stdout, stderr = process.communicate(timeout=POLL_SECONDS)
                    return subprocess.CompletedProcess(list(command), process.returncode, stdout, stderr)
                except subprocess.TimeoutExpired:
                    stall.check()
        except BaseException:
            interrupt.stop(process)
            raise


class Output:
    """A running tool's stdout, read like a file: the dump job reads pg_dump's output straight into its upload.

    `read` returns `size` bytes, fewer only at the end, and reaches the end only once the tool has exited well: a
    tool that failed, was killed or stalled raises JobError from `read`, so its consumer (an upload) aborts instead of
    completing a truncated object. Its stderr is drained alongside, so a talkative tool never blocks on it.
    """

    def __init__(self, process: subprocess.Popen[bytes], command: Sequence[str], url: str) -> None:
        self._process, self._command, self._url = process, list(command), url
        self._limit = stall_seconds()
        self._stderr = bytearray()
        self._selector = selectors.DefaultSelector()
        self._pipe = 65536  # Linux's default pipe size, unless it grows below
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                widen_pipe(stream.fileno())
                self._selector.register(stream.fileno(), selectors.EVENT_READ, stream)
        if process.stdout is not None:
            with contextlib.suppress(OSError):
                self._pipe = fcntl.fcntl(process.stdout.fileno(), fcntl.F_GETPIPE_SZ)
        self._buffer = bytearray()
        self._done = False

    def read(self, size: int) -> bytes:
        """Up to `size` bytes of the tool's output; fewer (or none) only once it has exited with status 0.

        The bytes go straight from the pipe into one buffer, kept from read to read. pg_dump writes 4 KiB at a time,
        so a reader that woke for every write would spend more CPU waking than reading: after a read that found the
        pipe less than half full, it naps until about a quarter of the pipe has filled at the rate just seen (at most
        NAP_SECONDS), so the tool never finds the pipe full and never waits for the reader.
        """
        if len(self._buffer) != size:
            self._buffer = bytearray(size)
        view = memoryview(self._buffer)
        filled = 0
        stdout = self._process.stdout
        stall = Stall(self._process.pid, Path(self._command[0]).name, self._limit)
        since = time.monotonic()
        while filled < size and not self._done:
            events = self._selector.select(timeout=POLL_SECONDS)
            for key, _ in events:
                if key.data is stdout:
                    count = os.readv(key.fd, [view[filled:]])
                    if not count:
                        self._selector.unregister(key.fd)
                        continue
                    filled += count
                    now = time.monotonic()
                    if filled < size and count < self._pipe // 2:
                        time.sleep(min(NAP_SECONDS, (self._pipe // 4) * (now - since) / count))
                    since = now  # the pipe was empty then: what the next read finds came after
                    stall.progressed()
                else:
                    self._drain(key.fd)
            if not self._selector.get_map():
                self._finish()
            elif not events:
                since = time.monotonic()  # the pipe was empty then too
                stall.check()
        return bytes(view[:filled])

    def _drain(self, fd: int) -> None:
        """Keep what the tool writes on stderr (its error line), so a talkative tool never blocks on it."""
        chunk = os.read(fd, 65536)
        if chunk:
            self._stderr += chunk
        else:
            self._selector.unregister(fd)

    def _finish(self) -> None:
        """The tool closed its output: wait for its exit and raise JobError unless it succeeded."""
        self._selector.close()
        returncode = self._process.wait()
        self._done = True
        if returncode != 0:
            done = subprocess.CompletedProcess(self._command, returncode, b"", bytes(self._stderr))
            raise JobError(failure(Path(self._command[0]).name, done, self._url))


@contextmanager
def streamed(command: Sequence[str], env: Mapping[str, str], url: str) -> Iterator[Output]:
    """Run a client tool whose stdout the caller reads (`Output.read`); whatever ends the `with` before the tool
    has exited (an error, a failed upload, a signal) kills its process group: no tool outlives the job."""
    with interrupt.start(command, env=env) as process:
        try:
            yield Output(process, command, url)
        finally:
            if process.poll() is None:
                interrupt.stop(process)


# pg_control_system() may be revoked from the user: asked first, so no error aborts the caller's transaction.
CAN_READ_SYSTEM = "SELECT has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')"
SYSTEM_QUERY = "SELECT system_identifier::text FROM pg_catalog.pg_control_system()"
DATABASE_QUERY = "SELECT oid::bigint, datname FROM pg_catalog.pg_database WHERE datname = current_database()"


@dataclass(frozen=True)
class Identity:
    """What a database is, however its URL is spelled: its server's system identifier and its own oid and name."""

    system_identifier: str | None
    """pg_control_system().system_identifier, fixed when the cluster was created; None when the user may not read it."""
    database_oid: int
    """The database's oid on that server."""
    database: str
    """The database's name."""

    def is_same_database(self, other: Identity) -> bool:
        """Same server, and the same database: its oid, or its name (a database re-created under the same name)."""
        return (
            self.system_identifier is not None
            and self.system_identifier == other.system_identifier
            and (self.database_oid == other.database_oid or self.database == other.database)
        )

    def describe(self) -> str:
        """`database vibelog (oid 16384) of server 7312...` for an error line."""
        return f"database {self.database} (oid {self.database_oid}) of server {self.system_identifier or 'unknown'}"


def identity(conn: psycopg.Connection[tuple[Any, ...]]) -> Identity:
    """The identity of the database `conn` is connected to."""
    allowed = conn.execute(CAN_READ_SYSTEM).fetchone()
    system = conn.execute(SYSTEM_QUERY).fetchone() if allowed == (True,) else None
    database = conn.execute(DATABASE_QUERY).fetchone()
    if database is None:
        raise JobError("the database did not say what it is (no pg_database row for current_database())")
    return Identity(None if system is None else str(system[0]), int(database[0]), str(database[1]))


# A role's attributes as the manifest records them (in this order: ops/integrity.py ROLES), and CREATE ROLE's words.
ROLE_OPTIONS = {
    "superuser": "SUPERUSER",
    "inherit": "INHERIT",
    "createrole": "CREATEROLE",
    "createdb": "CREATEDB",
    "login": "LOGIN",
    "replication": "REPLICATION",
    "bypassrls": "BYPASSRLS",
}


def create_roles(conn: psycopg.Connection[tuple[Any, ...]], roles: Sequence[Mapping[str, Any]]) -> list[str]:
    """Create the roles a server lacks, with their recorded attributes (no password: a scratch server's roles
    log in nowhere), then their memberships; returns the names created. A role that exists is left as it is."""
    existing = {str(name) for (name,) in conn.execute("SELECT rolname FROM pg_roles")}
    created = []
    for role in roles:
        name = str(role["name"])
        if name in existing:
            continue
        options = [word if role.get(key) else f"NO{word}" for key, word in ROLE_OPTIONS.items()]
        conn.execute(sql.SQL("CREATE ROLE {} " + " ".join(options)).format(sql.Identifier(name)))
        created.append(name)
    for role in roles:
        if str(role["name"]) in created:
            for group in role.get("member_of", []):
                conn.execute(
                    sql.SQL("GRANT {} TO {}").format(sql.Identifier(str(group)), sql.Identifier(str(role["name"])))
                )
    return created


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
    superuser: str = "postgres"
    """The superuser initdb made, whom `url` names."""

    def database_url(self, name: str) -> str:
        """The superuser's URL of another database on this server."""
        return f"postgresql://{self.superuser}@127.0.0.1:{self.port}/{name}"


def _as_owner(command: list[str], owner: str | None) -> list[str]:
    return command if owner is None else ["runuser", "-u", owner, "--", *command]


class StartingCluster:
    """A scratch server whose initdb runs in the background (`starting_cluster`) while the job does something else
    (the restore test reads the dump's manifest and head meanwhile); `ready` waits for it."""

    def __init__(
        self,
        root: Path,
        owner: str | None,
        options: Mapping[str, str],
        initdb: subprocess.Popen[bytes],
        superuser: str = "postgres",
    ) -> None:
        self._root, self._owner, self._options, self._initdb = root, owner, options, initdb
        self._superuser = superuser
        self._cluster: Cluster | None = None

    @property
    def data_dir(self) -> Path:
        """Its data directory, which initdb is filling."""
        return self._root / "data"

    def ready(self) -> Cluster:
        """The running server: initdb's end waited for, then the server started (once; again returns it)."""
        if self._cluster is None:
            out, err = self._initdb.communicate()
            _started("initdb", subprocess.CompletedProcess(self._initdb.args, self._initdb.returncode, out, err))
            # The port is chosen now, not with initdb: the shorter the time between, the less another process can
            # take it meanwhile.
            port = free_port()
            options = {"listen_addresses": "127.0.0.1", "port": str(port), "unix_socket_directories": str(self._root)}
            options.update(self._options)
            flags = " ".join(f"-c {key}={value}" for key, value in options.items())
            start = [
                tool("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-o",
                flags,
                "-l",
                str(self._root / "log"),
                "-w",
                "start",
            ]
            _started("pg_ctl", interrupt.run(_as_owner(start, self._owner)))
            url = f"postgresql://{self._superuser}@127.0.0.1:{port}/postgres"
            self._cluster = Cluster(url, port, self.data_dir, self._superuser)
        return self._cluster


def _started(name: str, done: subprocess.CompletedProcess[bytes]) -> None:
    """JobError with the tool's own error if a step of a scratch server's start failed."""
    if done.returncode != 0:
        raise JobError(f"the scratch PostgreSQL server did not start: {failure(name, done, '')}")


@contextmanager
def starting_cluster(
    *, durable: bool = True, settings: Mapping[str, str] | None = None, superuser: str = "postgres"
) -> Iterator[StartingCluster]:
    """A new PostgreSQL server in a temporary directory, its initdb started at once and its server once `ready` is
    called, on a port of its own; stopped and removed afterwards, an initdb still running included.

    initdb refuses to run as root (CI's user), so as root the server runs as the `postgres` account Debian's
    package creates. `durable=False` turns fsync off: for tests, never for a restore time that is reported.
    `superuser` names the role initdb makes (a Supabase-like server's is `supabase_admin`, its `postgres` is not one).
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
    initdb: subprocess.Popen[bytes] | None = None
    try:
        if owner is not None:
            shutil.chown(root, user=owner)
        options = {} if durable else {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        options.update(settings or {})
        initdb = interrupt.start(
            _as_owner(
                [tool("initdb"), "-D", str(data), "-U", superuser, "-A", "trust", "-E", "UTF8", "--locale=C", "-N"],
                owner,
            )
        )
        yield StartingCluster(root, owner, options, initdb, superuser)
    finally:
        with interrupt.deferred():
            if initdb is not None and initdb.returncode is None:
                interrupt.stop(initdb)
            _stop(data)
            shutil.rmtree(root, ignore_errors=True)


@contextmanager
def scratch_cluster(
    *, durable: bool = True, settings: Mapping[str, str] | None = None, superuser: str = "postgres"
) -> Iterator[Cluster]:
    """A new PostgreSQL server, running (`starting_cluster`, waited for), stopped and removed afterwards."""
    with starting_cluster(durable=durable, settings=settings, superuser=superuser) as starting:
        yield starting.ready()


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
