"""`make run` (``hub dev``): from nothing to a running hub with a simulated fleet
whose readings reach the database, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from hub.devstack import free_port
from hub.store.db import connect
from tests.integration.helpers import wait_for


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_dev_run_serves_the_fleet_and_ctrl_c_stops_everything(open_tmp: Path) -> None:
    tmp_path = open_tmp
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_API_PORT"] = str(port)
    out = tmp_path / "dev.log"
    with open(out, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "dev", "--devices", "12", "--history-days", "1"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def healthy() -> bool:
            assert proc.poll() is None, out.read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 90, "/healthz of the dev hub")
        # the banner comes once the hub is ready and the fleet starts
        wait_for(lambda: "Database:" in out.read_text(), 60, "the dev stack's banner")
        match = re.search(r"Database:\s+(\S+)", out.read_text())
        assert match, out.read_text()

        def readings() -> int:
            with connect(match.group(1), "test") as conn:
                row = conn.execute("SELECT count(*) FROM readings").fetchone()
            return int(row[0]) if row else 0

        wait_for(lambda: readings() > 0, 60, "simulated readings in the database")
        with connect(match.group(1), "test") as conn:
            placed = conn.execute(
                "SELECT count(*) FROM devices WHERE lat IS NOT NULL AND district IS NOT NULL"
            ).fetchone()
        assert placed == (12,), "the simulated town's devices are on the map"
        family = _descendants(proc.pid)
        assert len(family) >= 4, "expected PostgreSQL, Mosquitto, the hub and the simulators"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert proc.wait(60) == 0, out.read_text()
        wait_for(
            lambda: not any(_alive(pid) for pid in family),
            10,
            "the dev stack's processes to exit",
            every=0.1,
        )
        left = [pid for pid in family if _alive(pid)]
        assert left == [], f"processes left running: {left}\n{out.read_text()}"
        assert "nothing left running" in out.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
