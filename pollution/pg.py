"""A throwaway PostgreSQL server on 127.0.0.1, started and removed by the caller.

``throwaway_postgres()`` uses Debian's server binaries
(``/usr/lib/postgresql/<version>/bin``).  The first call runs ``initdb`` once
into a cached *template* data directory
(``$XDG_CACHE_HOME/pollution/pg-template-<version>``, default
``~/.cache/pollution``); every start copies that template, so a start takes a
fraction of a second.  When running as root the server runs as the
``postgres`` OS user (PostgreSQL refuses to run as root).

>>> with throwaway_postgres() as url:          # doctest: +SKIP
...     url
'postgresql://postgres@127.0.0.1:40123/pollution'

The server listens on 127.0.0.1 only, at a free port, with ``trust``
authentication and durability switched off (fsync, synchronous_commit): it is
for tests, and everything is stopped and deleted when the block exits, also on
exceptions and Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pollution.errors import RunnerError

DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
ENV_BIN = "POLLUTION_PG_BIN"  # override: a directory holding initdb and pg_ctl
INSTALL_HINT = "run scripts/install-postgres.sh (installs Debian's PostgreSQL server)"
SERVICE_USER = "postgres"
DEFAULT_DATABASE = "pollution"
START_TIMEOUT = 30  # seconds pg_ctl waits for the server to accept connections
START_ATTEMPTS = 3  # a free port can be taken between probing it and binding it

# Appended to the template's postgresql.conf: a server for tests, not for data.
TEST_SETTINGS = """
# --- pollution: throwaway test server ---
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 32MB
log_min_messages = warning
"""


@dataclass(frozen=True)
class PgBinaries:
    bindir: Path
    version: str

    def tool(self, name: str) -> str:
        return str(self.bindir / name)


def find_binaries() -> PgBinaries:
    """The newest Debian PostgreSQL server binaries, or :class:`RunnerError` naming the fix."""
    override = os.environ.get(ENV_BIN)
    candidates = [Path(override)] if override else sorted(
        Path("/").glob(DEBIAN_BIN_GLOB.lstrip("/")), key=_version_key, reverse=True
    )
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return PgBinaries(bindir=bindir, version=_version_of(bindir))
    where = override or DEBIAN_BIN_GLOB
    raise RunnerError(f"PostgreSQL server binaries (initdb, pg_ctl) not found in {where}: {INSTALL_HINT}")


def binaries_available() -> bool:
    try:
        find_binaries()
    except RunnerError:
        return False
    return True


@contextlib.contextmanager
def throwaway_postgres(database: str = DEFAULT_DATABASE) -> Iterator[str]:
    """Start a fresh server, create ``database``, yield its URL; stop and delete on exit."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
        raise ValueError(f"database name {database!r}: use lower-case letters, digits and _")
    binaries = find_binaries()
    template = ensure_template(binaries)
    rundir = Path(tempfile.mkdtemp(prefix="pollution-pg-"))
    datadir = rundir / "data"
    started = False
    try:
        _give_to_service_user(rundir)
        last_error = ""
        for _ in range(START_ATTEMPTS):
            port = free_port()
            _fresh_datadir(template, datadir, rundir, port)
            code, output = _run_as_service_user(
                [binaries.tool("pg_ctl"), "-D", str(datadir), "-l", str(rundir / "server.log"),
                 "-w", "-t", str(START_TIMEOUT), "start"],
            )
            if code == 0:
                started = True
                break
            last_error = output + _tail(rundir / "server.log")
            _stop_if_running(binaries, datadir)
        if not started:
            raise RunnerError(f"PostgreSQL server did not start in {rundir}: {last_error.strip()[-1500:]}")
        _create_database(binaries, port, database)
        yield f"postgresql://{SERVICE_USER}@127.0.0.1:{port}/{database}"
    finally:
        _stop_if_running(binaries, datadir)
        shutil.rmtree(rundir, ignore_errors=True)


def ensure_template(binaries: PgBinaries) -> Path:
    """The cached initdb'ed data directory for this server version (made once)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pollution"
    template = cache / f"pg-template-{binaries.version}"
    if (template / "PG_VERSION").is_file():
        return template
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pollution-pg-initdb-"))
    try:
        _give_to_service_user(work)
        fresh = work / "data"
        code, output = _run_as_service_user(
            [binaries.tool("initdb"), "-D", str(fresh), "-U", SERVICE_USER, "--auth=trust",
             "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"],
        )
        if code != 0:
            raise RunnerError(f"initdb failed ({binaries.bindir}): {output.strip()[-1500:]}")
        with open(fresh / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(TEST_SETTINGS)
        staged = cache / f".{template.name}.{os.getpid()}"
        shutil.copytree(fresh, staged, symlinks=True)
        try:
            staged.rename(template)  # atomic: a concurrent maker may have won
        except OSError:
            shutil.rmtree(staged, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not (template / "PG_VERSION").is_file():
        raise RunnerError(f"could not create the PostgreSQL template data directory {template}")
    return template


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _fresh_datadir(template: Path, datadir: Path, rundir: Path, port: int) -> None:
    shutil.rmtree(datadir, ignore_errors=True)
    shutil.copytree(template, datadir, symlinks=True)
    with open(datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(f"port = {port}\nunix_socket_directories = '{rundir}'\n")
    datadir.chmod(0o700)
    _give_to_service_user(datadir, recursive=True)


def _create_database(binaries: PgBinaries, port: int, database: str) -> None:
    argv = [binaries.tool("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", SERVICE_USER, database]
    proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60, check=False)
    if proc.returncode != 0:
        raise RunnerError(f"createdb {database} failed: {(proc.stdout + proc.stderr).strip()[-1000:]}")


def _stop_if_running(binaries: PgBinaries, datadir: Path) -> None:
    if not (datadir / "postmaster.pid").exists():
        return
    code, _ = _run_as_service_user(
        [binaries.tool("pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "-t", "30", "stop"]
    )
    if code != 0:
        _kill_postmaster(datadir)


def _kill_postmaster(datadir: Path) -> None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((datadir / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, 9)
        time.sleep(0.2)


def _service_ids() -> tuple[int, int] | None:
    """(uid, gid) of the postgres user when we must switch to it (running as root)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise RunnerError(f"running as root but there is no {SERVICE_USER!r} user: {INSTALL_HINT}") from None
    return entry.pw_uid, entry.pw_gid


def _give_to_service_user(path: Path, recursive: bool = False) -> None:
    ids = _service_ids()
    if ids is None:
        return
    os.chown(path, *ids)
    if recursive:
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(os.path.join(root, name), *ids, follow_symlinks=False)


def _run_as_service_user(argv: Sequence[str]) -> tuple[int, str]:
    """Run argv (as the postgres user when we are root); return (exit code, output)."""
    command = list(argv)
    if _service_ids() is not None:
        runuser = shutil.which("runuser") or "/usr/sbin/runuser"
        command = [runuser, "-u", SERVICE_USER, "--", *command]
    proc = subprocess.run(
        command, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd="/", timeout=120, check=False
    )
    return proc.returncode, proc.stdout + proc.stderr


def _version_of(bindir: Path) -> str:
    name = bindir.parent.name
    return name if re.fullmatch(r"\d+(\.\d+)?", name) else "custom"


def _version_key(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name)) or (0,)


def _tail(path: Path) -> str:
    try:
        return "\n" + path.read_text(errors="replace")[-1500:]
    except OSError:
        return ""
