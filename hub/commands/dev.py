"""`hub dev` (``make run``): the whole product on one machine, for trying it out.

Starts a private PostgreSQL and Mosquitto under ``.hub/`` (unless HUB_DATABASE_URL
or HUB_MQTT_URL name servers to use), migrates, starts ``hub run`` and a simulated
fleet as child processes, and stops all of it on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hub.config import Settings
from hub.devstack import Mosquitto, Postgres
from hub.profiles import load_profiles
from hub.store.db import Conn, connect
from hub.store.migrate import migrate
from hub.store.provisioning import register
from simulators.fleet import build_fleet
from simulators.town import DEFAULT_LAT, DEFAULT_LON

log = logging.getLogger(__name__)

STACK_DIR = Path(".hub")


def register_town(conn: Conn, settings: Settings, *, devices: int, seed: int) -> None:
    """Register the simulated devices with their places, as an operator would
    import a fleet (devices that register themselves have no position)."""
    fleet = build_fleet(load_profiles(settings.profiles_dir), devices, seed=seed)
    register(
        conn,
        [
            {
                "device_id": d.device_id,
                "profile": d.profile,
                "lat": d.lat,
                "lon": d.lon,
                "district": d.district,
                "dev_eui": None,
                "external_id": None,
            }
            for d in fleet
        ],
    )


def run_dev(settings: Settings, *, devices: int, speedup: float, seed: int) -> int:
    started: list[Postgres | Mosquitto] = []
    children: list[subprocess.Popen[bytes]] = []
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    try:
        overrides: dict[str, str] = {}
        if "database_url" not in settings.model_fields_set:
            pg = Postgres(STACK_DIR.resolve() / "postgres").start()
            started.append(pg)
            overrides["database_url"] = pg.ensure_database("hub")
        if "mqtt_url" not in settings.model_fields_set:
            broker = Mosquitto(STACK_DIR.resolve() / "mosquitto").start()
            started.append(broker)
            overrides["mqtt_url"] = broker.url
        settings = settings.model_copy(update=overrides)
        with connect(settings.database_url, "migrate") as conn:
            level = migrate(conn, storage=settings.storage)
            register_town(conn, settings, devices=devices, seed=seed)

        env = {
            **os.environ,
            "HUB_DATABASE_URL": settings.database_url,
            "HUB_MQTT_URL": settings.mqtt_url,
        }
        # Lamps register without coordinates; the sun rules then use the centre of
        # the simulated town (the simulators' default).
        # A demo on this machine: reads need no key (writes still do).
        env.setdefault("HUB_OPEN_DATA", "true")
        env.setdefault("HUB_ALERTS_SITE_LAT", str(DEFAULT_LAT))
        env.setdefault("HUB_ALERTS_SITE_LON", str(DEFAULT_LON))
        children.append(subprocess.Popen([sys.executable, "-m", "hub", "run"], env=env))
        children.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "simulators",
                    "fleet",
                    "--mqtt-url",
                    settings.mqtt_url,
                    "--prefix",
                    settings.topic_prefix,
                    "--devices",
                    str(devices),
                    "--seed",
                    str(seed),
                    "--speedup",
                    str(speedup),
                ],
                env=env,
            )
        )
        url = f"http://{settings.api_host}:{settings.api_port}"
        print(
            f"\n  Sensor hub is running (storage: {level})\n"
            f"  Dashboard:  {url}/\n  API docs:   {url}/docs\n"
            f"  Database:   {settings.database_url}\n  Broker:     {settings.mqtt_url}\n"
            "  Press Ctrl-C to stop everything.\n",
            flush=True,
        )
        while not stop_requested:
            for child in children:
                if child.poll() is not None:
                    log.error("%s exited with code %s; stopping", child.args, child.returncode)
                    return 1
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for server in reversed(started):
            with contextlib.suppress(Exception):
                server.stop()
        print("stopped; nothing left running", flush=True)
