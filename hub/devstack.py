"""A private PostgreSQL and Mosquitto, run as child processes from the system's binaries.

Used by ``hub dev`` (``make run``) and by the test fixtures, which stop and restart
the servers to prove that no reading is lost. Each server lives in its own folder,
listens on 127.0.0.1 on a free port, and is stopped cleanly (or killed) on request.

When the process runs as root, PostgreSQL (whose initdb refuses root) runs as the
``postgres`` system user; the data folder is handed to that user.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from hub.errors import DevstackError

log = logging.getLogger(__name__)

_PG_PACKAGE_HINT = "install the PostgreSQL server (Debian: apt-get install postgresql)"
_MOSQUITTO_HINT = "install Mosquitto (Debian: apt-get install mosquitto)"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_pg_binary(name: str) -> str:
    """Locate a PostgreSQL server binary on PATH or under /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    raise DevstackError(f"PostgreSQL binary {name!r} not found: {_PG_PACKAGE_HINT}")


def find_mosquitto() -> str:
    for path in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if path and os.access(path, os.X_OK):
            return path
    raise DevstackError(f"'mosquitto' not found: {_MOSQUITTO_HINT}")


def timescaledb_installed() -> bool:
    """True when the TimescaleDB extension files are installed for these binaries."""
    try:
        pg_config = find_pg_binary("pg_config")
    except DevstackError:
        return False
    sharedir = subprocess.run(
        [pg_config, "--sharedir"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return bool(sharedir) and Path(sharedir, "extension", "timescaledb.control").exists()


def _server_user() -> pwd.struct_passwd | None:
    """The user PostgreSQL runs as: ourselves, or 'postgres' when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise DevstackError(
            "running as root, and there is no 'postgres' user to run PostgreSQL as: "
            + _PG_PACKAGE_HINT
        ) from None


def _check_traversable(path: Path) -> None:
    """The 'postgres' user must be able to reach the data folder through its parents."""
    for parent in path.resolve().parents:
        if not parent.stat().st_mode & 0o001:
            raise DevstackError(
                f"PostgreSQL runs as user 'postgres' and cannot enter {parent}: "
                f"run 'chmod o+x {parent}' or keep the stack in another folder"
            )


def _traversable(path: Path) -> bool:
    return all(parent.stat().st_mode & 0o001 for parent in path.resolve().parents)


def reachable_folder(path: Path) -> Path:
    """``path``, or, when PostgreSQL must run as 'postgres' and cannot enter one of
    its parents (a 0700 home folder, say), a folder of its own under the system's
    temporary folder: the same one for the same ``path``, so its data stays."""
    if _server_user() is None or _traversable(path.parent):
        return path
    base = Path("/var/tmp") if Path("/var/tmp").is_dir() else Path(tempfile.gettempdir())
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    return base / f"hub-dev-{digest}" / path.name


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, log_file: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
            raise DevstackError(f"{what} exited with code {proc.returncode}:\n{tail}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise DevstackError(f"{what} did not answer on port {port} within 30 s")


def _stop(proc: subprocess.Popen[bytes] | None, sig: int, timeout: float = 30) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@dataclass
class Postgres:
    """A private PostgreSQL cluster in ``root`` (created on first start)."""

    root: Path
    port: int = field(default_factory=free_port)
    durable: bool = True
    timescaledb: bool = field(default_factory=timescaledb_installed)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run_as(self) -> dict[str, int]:
        user = _server_user()
        return {} if user is None else {"user": user.pw_uid, "group": user.pw_gid}

    def _chown(self, path: Path) -> None:
        user = _server_user()
        if user is not None:
            os.chown(path, user.pw_uid, user.pw_gid)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self._chown(self.root)
        if _server_user() is not None:
            _check_traversable(self.root)
        if (self.data / "PG_VERSION").exists():
            return
        log.info("creating PostgreSQL cluster in %s", self.data)
        result = subprocess.run(
            [
                find_pg_binary("initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            capture_output=True,
            text=True,
            check=False,
            **self._run_as(),  # type: ignore[call-overload]
        )
        if result.returncode != 0:
            raise DevstackError(f"initdb failed: {result.stderr.strip()}")

    def start(self) -> Self:
        self.init()
        options = [
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.root}",
            "-c",
            "max_connections=100",
            "-c",
            "shared_buffers=256MB",
        ]
        if not self.durable:
            # Test servers: crash safety of the server itself is not under test.
            options += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        if self.timescaledb:
            options += [
                "-c",
                "shared_preload_libraries=timescaledb",
                "-c",
                "timescaledb.telemetry_level=off",
            ]
        with open(self.log_file, "ab") as out:
            self.proc = subprocess.Popen(
                [find_pg_binary("postgres"), "-D", str(self.data), "-p", str(self.port), *options],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self._run_as(),  # type: ignore[call-overload]
            )
        _wait_port(self.port, self.proc, "PostgreSQL", self.log_file)
        self._wait_accepting()
        log.info(
            "PostgreSQL on port %d (timescaledb %s)",
            self.port,
            "preloaded" if self.timescaledb else "not installed",
        )
        return self

    def _wait_accepting(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise DevstackError("PostgreSQL did not accept connections in 30 s") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown: open sessions are ended, committed data is kept."""
        _stop(self.proc, signal.SIGINT)
        self.proc = None

    def create_database(self, name: str) -> str:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def ensure_database(self, name: str) -> str:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)


_MOSQUITTO_CONF = """\
# Written by hub.devstack for a private development/test broker.
listener {port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {root}/
autosave_interval 60
# Mosquitto drops QoS 1 messages for an offline or slow session past 1000 by
# default; bound the queue by bytes instead (see docs/operations.md).
max_queued_messages 0
max_queued_bytes 1073741824
max_inflight_messages 0
max_keepalive 120
log_dest file {root}/mosquitto.log
log_type error
log_type warning
log_type notice
"""


@dataclass
class Mosquitto:
    """A private Mosquitto broker with persistence in ``root``."""

    root: Path
    port: int = field(default_factory=free_port)
    extra_conf: str = ""
    config: str | None = None  # a whole configuration instead of the private default
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.root / "mosquitto.log"

    def start(self) -> Self:
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "mosquitto.conf"
        text = self.config or _MOSQUITTO_CONF.format(port=self.port, root=self.root)
        if os.geteuid() == 0:
            text += "user root\n"
        conf.write_text(text + self.extra_conf)
        with open(self.root / "mosquitto.stderr", "ab") as err:
            self.proc = subprocess.Popen(
                [find_mosquitto(), "-c", str(conf)],
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        _wait_port(self.port, self.proc, "Mosquitto", self.root / "mosquitto.stderr")
        log.info("Mosquitto on port %d", self.port)
        return self

    def stop(self) -> None:
        """Clean stop: Mosquitto saves its persistence file before it exits."""
        _stop(self.proc, signal.SIGTERM)
        self.proc = None


@dataclass
class Devstack:
    """PostgreSQL and Mosquitto side by side under one folder (``.hub/`` for ``make run``)."""

    root: Path
    durable: bool = True
    postgres: Postgres = field(init=False)
    mosquitto: Mosquitto = field(init=False)

    def __post_init__(self) -> None:
        self.postgres = Postgres(self.root / "postgres", durable=self.durable)
        self.mosquitto = Mosquitto(self.root / "mosquitto")

    def start(self) -> Self:
        self.postgres.start()
        try:
            self.mosquitto.start()
        except BaseException:
            self.postgres.stop()
            raise
        return self

    def stop(self) -> None:
        self.mosquitto.stop()
        self.postgres.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
