"""PostgreSQL failover: a private primary with a synchronous streaming standby,
the primary SIGKILLed mid-stream and the standby promoted (docs/operations.md,
"Synchronous replication")."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.config import Settings
from hub.devstack import Postgres, _server_user, find_pg_binary, free_port
from hub.store.db import connect
from hub.store.migrate import migrate
from hub.store.provisioning import register
from tests.integration.helpers import (
    HubProcess,
    SeqPublisher,
    missing_sequences,
    stored_counts,
    wait_for,
)


def _as_postgres() -> dict[str, int]:
    user = _server_user()
    return {} if user is None else {"user": user.pw_uid, "group": user.pw_gid}


@dataclasses.dataclass
class Pair:
    primary: Postgres
    standby: Postgres

    def url(self, dbname: str) -> str:
        """The libpq multi-host URL the hub is given: whichever host takes writes."""
        hosts = f"127.0.0.1:{self.primary.port},127.0.0.1:{self.standby.port}"
        return f"postgresql://postgres@{hosts}/{dbname}?target_session_attrs=read-write"


@pytest.fixture
def pair(open_tmp: Path, storage: str) -> Iterator[Pair]:
    """At either storage level: the standby replays TimescaleDB's chunks too."""
    timescale = storage == "timescale"
    primary = Postgres(open_tmp / "primary", timescaledb=timescale).start()
    standby = Postgres(open_tmp / "standby", port=free_port(), timescaledb=timescale)
    try:
        standby.root.mkdir(mode=0o755)
        os.chown(standby.root, *_server_user_ids())
        subprocess.run(
            [
                find_pg_binary("pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(primary.port),
                "-U",
                "postgres",
                "-D",
                str(standby.data),
                "-R",  # standby.signal and primary_conninfo
                "-X",
                "stream",
                "-c",
                "fast",
            ],
            check=True,
            capture_output=True,
            **_as_postgres(),  # type: ignore[call-overload]
        )
        standby.start()
        with connect(primary.url(), "test", autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
            conn.execute("SELECT pg_reload_conf()")

            def synchronous() -> bool:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'"
                ).fetchone()
                return bool(row and row[0] == 1)

            wait_for(synchronous, 30, "a synchronous standby")
        yield Pair(primary, standby)
    finally:
        standby.stop()
        if primary.proc is not None and primary.proc.poll() is None:
            primary.stop()


def _server_user_ids() -> tuple[int, int]:
    user = _server_user()
    return (os.getuid(), os.getgid()) if user is None else (user.pw_uid, user.pw_gid)


def _kill_server(pg: Postgres) -> None:
    """SIGKILL the postmaster and every backend: the machine is gone."""
    assert pg.proc is not None
    os.killpg(pg.proc.pid, signal.SIGKILL)
    pg.proc.wait(10)
    pg.proc = None


def _reader(settings: Settings, tmp_path: Path, pair: Pair) -> HubProcess:
    """An API-only process reading from the standby, open data (no key needed)."""
    return HubProcess(
        settings,
        tmp_path,
        HUB_ROLES="api",
        HUB_DATABASE_READ_URL=pair.standby.url("hub"),
        HUB_OPEN_DATA="true",
        HUB_MQTT_CLIENT_ID="unused-api-only",
    )


def _hub_database(pair: Pair, storage: str, *devices: str) -> str:
    """The hub's database on the primary, migrated, with ``devices`` registered
    (load meters); its URL on the primary alone."""
    primary_url = pair.primary.create_database("hub")
    with connect(primary_url, "test") as conn:
        migrate(conn, storage=storage)
        register(conn, [
            {"device_id": d, "profile": "load_meter", "lat": None, "lon": None,
             "district": None, "dev_eui": None, "external_id": None}
            for d in devices
        ])  # fmt: skip
    return primary_url


def test_primary_killed_mid_stream_standby_promoted_hub_carries_on_nothing_lost(
    pair: Pair, settings: Settings, tmp_path: Path, storage: str
) -> None:
    _hub_database(pair, storage)
    url = pair.url("hub")
    hub_settings = settings.model_copy(update={"database_url": url})
    hub = HubProcess(hub_settings, tmp_path, HUB_ROLES="ingest,alerts").start()
    reader = _reader(hub_settings, tmp_path, pair).start()
    try:
        hub.wait_ready()
        reader.wait_ready()
        publisher = SeqPublisher(
            hub_settings, devices=3, messages=1500, rate=300, client_id="pub-failover"
        ).start()
        wait_for(lambda: stored_counts(url, publisher.devices)[0] > 600, 60, "readings")
        assert publisher.published < publisher.total, "the stream ended before the fault"
        _kill_server(pair.primary)

        # With the primary gone, the API-only process answers reads from the standby.
        api = f"http://127.0.0.1:{reader.port}"
        devices = httpx.get(f"{api}/api/v1/devices", params={"profile": "load_meter"}, timeout=10)
        assert devices.status_code == 200, devices.text
        assert {d["device_id"] for d in devices.json()["items"]} == set(publisher.devices)
        ready = httpx.get(f"{api}/readyz", timeout=10).json()
        assert ready["status"] == "ready" and ready["database"] is False, ready
        assert ready["replica"] is True and ready["replica_lag_s"] == 0.0, ready

        subprocess.run(
            [find_pg_binary("pg_ctl"), "promote", "-w", "-D", str(pair.standby.data)],
            check=True,
            capture_output=True,
            **_as_postgres(),  # type: ignore[call-overload]
        )
        publisher.wait()
        expected = publisher.total * 3
        wait_for(lambda: stored_counts(url, publisher.devices)[0] >= expected, 90, "all readings")
        assert missing_sequences(url, publisher.devices, publisher.messages) == {}
        assert stored_counts(url, publisher.devices) == (expected, expected)
        assert hub.proc is not None and hub.proc.poll() is None, "the hub exited"
    finally:
        reader.stop()
        hub.stop()


def test_reads_go_to_the_primary_while_the_replica_is_down_and_back_when_it_returns(
    pair: Pair, settings: Settings, tmp_path: Path, storage: str
) -> None:
    primary_url = _hub_database(pair, storage, "meter-before")
    reader = _reader(settings.model_copy(update={"database_url": primary_url}), tmp_path, pair)
    reader.start()
    api = f"http://127.0.0.1:{reader.port}"

    def listed() -> set[str]:
        page = httpx.get(f"{api}/api/v1/devices", params={"profile": "load_meter"}, timeout=10)
        assert page.status_code == 200, page.text
        return {d["device_id"] for d in page.json()["items"]}

    def ready() -> dict[str, object]:
        body: dict[str, object] = httpx.get(f"{api}/readyz", timeout=10).json()
        return body

    try:
        reader.wait_ready()
        assert ready()["reads_from"] == "replica"
        wait_for(lambda: listed() == {"meter-before"}, 30, "the replica to replay the device")

        _kill_server(pair.standby)
        # Written on the primary while the replica is away: reads see it, so they
        # come from the primary, and no read fails meanwhile.
        with connect(primary_url, "test", autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET synchronous_standby_names = ''")
            conn.execute("SELECT pg_reload_conf()")
            register(conn, [{"device_id": "meter-during", "profile": "load_meter", "lat": None,
                             "lon": None, "district": None, "dev_eui": None, "external_id": None}])  # fmt: skip
        assert listed() == {"meter-before", "meter-during"}
        state = ready()
        assert state["status"] == "ready" and state["replica"] is False, state
        assert state["reads_from"] == "primary", state

        pair.standby.start()
        wait_for(lambda: ready()["reads_from"] == "replica", 30, "reads back on the replica")
        assert ready()["replica"] is True
        wait_for(lambda: listed() == {"meter-before", "meter-during"}, 30, "the replica's replay")
    finally:
        reader.stop()
