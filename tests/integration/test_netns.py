"""Several hosts, made of network namespaces on a private bridge: a services host
(PostgreSQL and Mosquitto) and two hub hosts on one shared subscription. One hub
host's link is cut mid-stream for 20 s, then restored: nothing is lost, nothing
duplicated, the other hub carried the stream meanwhile, and its alert engine took
over only after the cut-off one had stopped (the link of the host whose engine
leads is the one cut). Needs root and iproute2 (`ip netns`); skipped with the
reason otherwise."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from hub.config import Settings
from hub.devstack import Postgres, find_mosquitto, find_pg_binary
from hub.store.db import connect
from hub.store.migrate import migrate
from tests.integration.helpers import (
    SeqPublisher,
    engine_marks,
    hub_env,
    missing_sequences,
    stored_counts,
    wait_for,
)

CUT_S = 20.0  # how long the link is down: the scenario, not a wait
INTERVAL_S = 2.0  # alert interval: the server drops a silent lock session after ~4 s
REPO = Path(__file__).resolve().parents[2]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class Net:
    """Namespaces ``<tag>-svc``, ``<tag>-h1``, ``<tag>-h2`` on bridge ``<tag>br``."""

    tag: str
    subnet: str  # the first three octets
    hosts: dict[str, str] = field(default_factory=dict)  # name -> address

    def ns(self, host: str) -> str:
        return f"{self.tag}-{host}"

    def link(self, host: str) -> str:
        """The bridge side of the host's cable."""
        return f"{self.tag}{host}"

    def up(self) -> None:
        bridge = f"{self.tag}br"
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{self.subnet}.254/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for n, host in enumerate(("svc", "h1", "h2"), start=1):
            ns, outer, inner = self.ns(host), self.link(host), f"{self.tag}{host}i"
            _ip("netns", "add", ns)
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            _ip("link", "set", inner, "netns", ns)
            _ip("link", "set", outer, "master", bridge, "up")
            address = f"{self.subnet}.{n}"
            _ip("-n", ns, "addr", "add", f"{address}/24", "dev", inner)
            _ip("-n", ns, "link", "set", inner, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            self.hosts[host] = address

    def down(self) -> None:
        for host in ("svc", "h1", "h2"):
            subprocess.run(["ip", "netns", "del", self.ns(host)], capture_output=True)
        subprocess.run(["ip", "link", "del", f"{self.tag}br"], capture_output=True)

    def run(
        self, host: str, argv: list[str], log: Path, **kwargs: object
    ) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            return subprocess.Popen(
                ["ip", "netns", "exec", self.ns(host), *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **kwargs,  # type: ignore[call-overload]
            )


def _why_no_namespaces() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 ('ip') is not installed"
    probe = f"hubprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot make a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


@pytest.fixture
def net() -> Iterator[Net]:
    reason = _why_no_namespaces()
    if reason:
        pytest.skip(reason)
    pid = os.getpid()
    net = Net(tag=f"hn{pid % 100000}", subnet=f"10.{200 + pid % 50}.{pid // 50 % 250}")
    try:
        net.up()
        yield net
    finally:
        net.down()


def _wait_tcp(address: str, port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    def listening() -> bool:
        assert proc.poll() is None, f"{what} exited"
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex((address, port)) == 0

    wait_for(listening, 30, what)


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _readings(address: str) -> float:
    text = httpx.get(f"http://{address}:8000/metrics", timeout=2).text
    for line in text.splitlines():
        if line.startswith("hub_ingest_readings_total "):
            return float(line.split()[1])
    return 0.0


def test_a_hub_hosts_link_cut_for_20s_loses_and_duplicates_nothing(
    net: Net, settings: Settings, open_tmp: Path
) -> None:
    svc = net.hosts["svc"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        pg = Postgres(open_tmp / "pg", timescaledb=False)
        pg.init()
        with open(pg.data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {net.subnet}.0/24 trust\n")
        postgres = net.run(
            "svc",
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                find_pg_binary("postgres"),
                "-D",
                str(pg.data),
                "-p",
                "5432",
                "-c",
                f"listen_addresses={svc}",
                "-c",
                f"unix_socket_directories={pg.root}",
            ],
            pg.log_file,
        )
        procs.append(postgres)
        broker_root = open_tmp / "mqtt"
        broker_root.mkdir()
        conf = broker_root / "mosquitto.conf"
        conf.write_text(
            f"listener 1883 {svc}\nallow_anonymous true\nuser root\n"
            "max_queued_messages 0\nmax_queued_bytes 1073741824\nmax_inflight_messages 0\n"
        )
        broker = net.run("svc", [find_mosquitto(), "-c", str(conf)], broker_root / "log")
        procs.append(broker)
        _wait_tcp(svc, 5432, postgres, "PostgreSQL in its namespace")
        _wait_tcp(svc, 1883, broker, "Mosquitto in its namespace")

        admin = f"postgresql://postgres@{svc}:5432/postgres"

        def accepting() -> bool:
            try:
                with connect(admin, "test", autocommit=True):
                    return True
            except Exception:
                return False

        wait_for(accepting, 30, "PostgreSQL to accept connections")
        with connect(admin, "test", autocommit=True) as conn:
            conn.execute("CREATE DATABASE hub")
        url = f"postgresql://postgres@{svc}:5432/hub"
        with connect(url, "test") as conn:
            migrate(conn, storage="plain")
        here = settings.model_copy(update={"database_url": url, "mqtt_url": f"mqtt://{svc}:1883"})

        hubs = {}
        for host in ("h1", "h2"):
            env = hub_env(
                here,
                HUB_API_HOST=net.hosts[host],
                HUB_API_PORT="8000",
                HUB_MQTT_SHARE_GROUP="ingest",
                HUB_MQTT_CLIENT_ID=f"hub-{host}",
                HUB_READINGS_NOTIFY="true",
                HUB_ALERTS_INTERVAL_S=str(INTERVAL_S),
                HUB_LOG_FORMAT="json",
            )
            hubs[host] = net.run(
                host,
                [sys.executable, "-m", "hub", "run"],
                open_tmp / f"{host}.log",
                env=env,
                cwd=REPO,
            )
            procs.append(hubs[host])
        for host in hubs:

            def ready(host: str = host) -> bool:
                assert hubs[host].poll() is None, (open_tmp / f"{host}.log").read_text()[-2000:]
                try:
                    address = net.hosts[host]
                    return httpx.get(f"http://{address}:8000/readyz", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(ready, 60, f"hub on {host}")

        publisher = SeqPublisher(
            here, devices=3, messages=1200, rate=120, client_id="pub-netns"
        ).start()
        wait_for(lambda: stored_counts(url, publisher.devices)[0] > 300, 30, "readings")
        # The host whose alert engine leads is the one cut off.
        logs = {host: open_tmp / f"{host}.log" for host in hubs}

        def leading() -> list[str]:
            return [
                h for h, log in logs.items() if (m := engine_marks(log)) and m[-1][1] == "active"
            ]

        wait_for(lambda: len(leading()) == 1, 30, "one active alert engine")
        cut, other = leading()[0], next(h for h in hubs if h not in leading())
        _ip("link", "set", net.link(cut), "down")
        cut_at, cut_wall = time.monotonic(), time.time()
        other_before = _readings(net.hosts[other])
        # The other hub host carries the stream while the first is cut off, and its
        # engine takes over once the server has dropped the cut-off holder's session.
        wait_for(
            lambda: _readings(net.hosts[other]) > other_before + 300, CUT_S, f"{other} ingesting"
        )
        wait_for(
            lambda: any(m == "active" and at > cut_wall for at, m in engine_marks(logs[other])),
            CUT_S - (time.monotonic() - cut_at),
            f"the engine of {other} taking over",
        )
        assert publisher.published < publisher.total, "the stream ended during the cut"
        time.sleep(max(0.0, CUT_S - (time.monotonic() - cut_at)))
        _ip("link", "set", net.link(cut), "up")

        publisher.wait()
        expected = publisher.total * 3
        wait_for(lambda: stored_counts(url, publisher.devices)[0] >= expected, 90, "all readings")
        assert missing_sequences(url, publisher.devices, publisher.messages) == {}
        assert stored_counts(url, publisher.devices) == (expected, expected)
        assert hubs["h1"].poll() is None and hubs["h2"].poll() is None
        assert _readings(net.hosts[cut]) > 0  # it took its share before and after the cut
        # The cut-off holder stopped its engine before the other one started.
        stepped_down = [at for at, m in engine_marks(logs[cut]) if m == "stepped down"]
        took_over = [at for at, m in engine_marks(logs[other]) if m == "active" and at > cut_wall]
        assert stepped_down and took_over and stepped_down[0] < took_over[0]
    finally:
        for proc in reversed(procs):
            _stop(proc, signal.SIGINT if proc is procs[0] else signal.SIGTERM)
