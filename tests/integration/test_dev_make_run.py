"""`make run` as a person starts it: in a terminal, from a folder the PostgreSQL
user cannot enter (a 0700 home folder, as root), and stopped with Ctrl-C. The stack
comes up with the town's history behind the live fleet, prints an operator key
that works, lets `hub apikey` in the same folder reach its database, and Ctrl-C
stops everything without an ERROR and without `make` reporting a failure."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from hub.devstack import free_port, reachable_folder
from hub.store.db import connect
from tests.integration.helpers import wait_for
from tests.integration.test_dev_run import _descendants


class Terminal:
    """A child process on a pseudo-terminal: what it prints, and keys typed to it."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: a new session with the pty as its terminal
            os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        self.output = b""
        self.status: int | None = None

    def read(self) -> str:
        while select.select([self.fd], [], [], 0)[0]:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.output += chunk
        return self.output.decode(errors="replace")

    def ctrl_c(self) -> None:
        os.write(self.fd, b"\x03")  # the terminal turns it into SIGINT for its foreground

    def exited(self) -> bool:
        self.read()
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
        return self.status is not None

    def kill(self) -> None:
        """After a failure: make and everything under it (hub dev has its own group)."""
        if not self.exited():
            for pid in _descendants(self.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
            os.killpg(self.pid, 9)
            os.waitpid(self.pid, 0)


@pytest.fixture
def closed_home() -> Iterator[Path]:
    """A folder under a 0700 parent, as a project in root's home would be."""
    parent = Path(tempfile.mkdtemp(prefix="hub-home-"))  # mkdtemp makes it 0700
    assert parent.stat().st_mode & 0o777 == 0o700
    work = parent / "project"
    work.mkdir()
    yield work
    shutil.rmtree(reachable_folder(work / ".hub" / "postgres").parent, ignore_errors=True)
    shutil.rmtree(parent, ignore_errors=True)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_in_a_closed_folder_fills_history_and_stops_on_ctrl_c(closed_home: Path) -> None:
    port = free_port()
    (closed_home / "Makefile").write_text(
        f"run:\n\t{sys.executable} -m hub dev --devices 8 --history-days 1\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_API_PORT"] = str(port)
    term = Terminal(["make", "run"], closed_home, env)
    try:
        wait_for(lambda: "Press Ctrl-C" in term.read() or term.exited(), 120, "the stack")
        text = term.read()
        assert not term.exited(), text
        key = re.search(r"Operator key:\s+(\S+)", text)
        database = re.search(r"Database:\s+(\S+)", text)
        assert key and database, text
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            assert not term.exited(), term.read()
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 60, "the hub of the stack")
        # the printed key is an operator's
        r = httpx.post(
            f"{url}/api/v1/devices",
            headers={"Authorization": f"Bearer {key.group(1)}"},
            json={"device_id": "sl-key-check", "profile": "street_light"},
            timeout=5,
        )
        assert r.status_code == 201, r.text
        # `hub apikey list` in the same folder reaches the stack's database
        listed = subprocess.run(
            [sys.executable, "-m", "hub", "apikey", "list"],
            cwd=closed_home,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert "make run" in listed.stdout, listed.stdout + listed.stderr
        assert "using the running `make run` stack" in listed.stderr

        def span() -> tuple[datetime | None, datetime | None]:
            with connect(database.group(1), "test") as conn:
                row = conn.execute("SELECT min(time), max(time) FROM readings").fetchone()
            return (row[0], row[1]) if row else (None, None)

        now = datetime.now(UTC)
        # the history of the last day behind the live fleet, and live readings now
        wait_for(
            lambda: (s := span())[0] is not None and s[0] < now - timedelta(hours=20),
            120,
            "a day of history",
        )
        wait_for(
            lambda: (s := span())[1] is not None and s[1] > now - timedelta(minutes=2),
            60,
            "live readings",
        )
        term.ctrl_c()
        wait_for(term.exited, 60, "make to finish after Ctrl-C", every=0.2)
        out = term.read()
        assert term.status is not None
        assert os.waitstatus_to_exitcode(term.status) == 0, out
        assert "nothing left running" in out
        assert "ERROR" not in out and "Interrupt" not in out, out
        assert not (closed_home / ".hub" / "dev.env").exists()
    finally:
        term.kill()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/healthz", timeout=1)
