"""`hub dev` (``make run``): the whole product on one machine, for trying it out.

Starts a private PostgreSQL and Mosquitto under ``.hub/`` (unless HUB_DATABASE_URL
or HUB_MQTT_URL name servers to use), migrates, registers the simulated town with
its districts, makes an operator key, starts ``hub run`` and, once it is ready, the
simulated fleet: its last days replayed in about half a minute, then live at the
current time (so every view has data), and stops all of it on Ctrl-C.

Ctrl-C: the stack takes the terminal's foreground (its own process group, the
children in groups of their own), so the interrupt reaches ``hub dev`` alone, which
stops the children in order and exits 0; ``make`` is not interrupted and does not
report a failure. ``.hub/dev.env`` holds the stack's database and broker while it
runs, so ``hub apikey create`` and the other commands in this folder use them.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

import simulators
from hub.commands import apikeys
from hub.config import Settings
from hub.devenv import DEV_ENV, write_dev_env
from hub.devstack import Mosquitto, Postgres, reachable_folder
from hub.profiles import load_profiles
from hub.store.db import Conn, connect
from hub.store.migrate import migrate
from hub.store.provisioning import register
from simulators.districts import districts_bytes
from simulators.fleet import build_fleet
from simulators.town import DEFAULT_LAT, DEFAULT_LON

log = logging.getLogger(__name__)

STACK_DIR = Path(".hub")
CATCH_UP_S = 30.0  # the history is replayed this fast, then the fleet runs live
# What goes wrong in the demo town (leaks, a burst main, failing lamps), so the
# inbox has work in it.
DEMO_SCENARIO = Path(simulators.__file__).parent / "scenarios" / "winter_night.yaml"


def register_town(conn: Conn, settings: Settings, *, devices: int, seed: int) -> bytes:
    """Register the simulated devices with their places, as an operator would
    import a fleet (devices that register themselves have no position); returns
    the town's districts as GeoJSON for the map."""
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
                "data_class": None,
            }
            for d in fleet
        ],
    )
    points = [(d.lat, d.lon, d.district) for d in fleet]
    return districts_bytes(points, seed=seed, lat=DEFAULT_LAT, lon=DEFAULT_LON)


def take_terminal() -> Callable[[], None]:
    """Become the terminal's foreground process group, so that Ctrl-C reaches this
    process alone (not ``make`` above it); returns how to give the terminal back.
    Without a terminal (a test, a service manager) it changes nothing."""
    try:
        # in the foreground, but in the group of whatever started us (make)
        ours = os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp() != os.getpid()
    except OSError:
        ours = False
    if not ours:
        return lambda: None
    previous = os.getpgrp()
    os.setpgid(0, 0)
    old_ttou = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # allowed from a background group
    os.tcsetpgrp(0, os.getpgrp())

    def give_back() -> None:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(0, previous)
        signal.signal(signal.SIGTTOU, old_ttou)

    return give_back


def _end_with_parent() -> None:
    """In a child before exec: SIGTERM when the parent dies (Linux), so a killed
    ``hub dev`` leaves no hub or simulator behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def wait_ready(
    url: str, hub: subprocess.Popen[bytes], stopped: Callable[[], bool], timeout: float = 120
) -> bool:
    """Wait until the hub answers /readyz (database and broker connected)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopped():
        if hub.poll() is not None:
            log.error("the hub exited with code %s before it was ready", hub.returncode)
            return False
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return True
        time.sleep(0.3)
    if not stopped():
        log.error("the hub was not ready within %d s", timeout)
    return False


def run_dev(
    settings: Settings,
    *,
    devices: int,
    history_days: float,
    seed: int,
    scenario: Path | None = DEMO_SCENARIO,
) -> int:
    started: list[Postgres | Mosquitto] = []
    children: list[subprocess.Popen[bytes]] = []
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    give_back = take_terminal()
    # Ctrl-C, a stop, or the terminal closing: the same orderly stop
    stops = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {s: signal.signal(s, request_stop) for s in stops}
    stack = STACK_DIR.resolve()
    try:
        overrides: dict[str, str] = {}
        if "database_url" not in settings.model_fields_set:
            folder = reachable_folder(stack / "postgres")
            if folder != stack / "postgres":
                log.info("PostgreSQL cannot enter %s: its data lives in %s", stack, folder)
            pg = Postgres(folder).start()
            started.append(pg)
            overrides["database_url"] = pg.ensure_database("hub")
        if "mqtt_url" not in settings.model_fields_set:
            broker = Mosquitto(stack / "mosquitto").start()
            started.append(broker)
            overrides["mqtt_url"] = broker.url
        settings = settings.model_copy(update=overrides)
        with connect(settings.database_url, "migrate") as conn:
            level = migrate(conn, storage=settings.storage)
            districts = register_town(conn, settings, devices=devices, seed=seed)
        stack.mkdir(exist_ok=True)
        (stack / "districts.geojson").write_bytes(districts)
        key = apikeys.create(settings, role="operator", name="make run", out=io.StringIO())
        write_dev_env(stack / DEV_ENV, settings)

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
        env.setdefault("HUB_MAP_DISTRICTS", str(stack / "districts.geojson"))
        fleet = ["--mqtt-url", settings.mqtt_url, "--prefix", settings.topic_prefix,
                 "--devices", str(devices), "--seed", str(seed), "--quiet"]  # fmt: skip
        if scenario is not None:
            fleet += ["--scenario", str(scenario)]

        def child(*argv: str) -> subprocess.Popen[bytes]:
            # its own process group: Ctrl-C reaches hub dev, which stops it in order;
            # and it ends should hub dev itself be killed
            return subprocess.Popen(
                [sys.executable, *argv], env=env, process_group=0, preexec_fn=_end_with_parent
            )

        children.append(child("-m", "hub", "run"))
        url = f"http://{settings.api_host}:{settings.api_port}"
        # the hub subscribes before anything is published: nothing sent is lost
        if not wait_ready(url, children[0], lambda: stop_requested):
            return 0 if stop_requested else 1
        now = datetime.now(UTC).replace(microsecond=0)
        # The town's history replayed fast up to now, then live in real time: one
        # fleet, so counters (energy, water volume) run on without a jump.
        history_s = history_days * 86400
        speedup = max(1.0, history_s / CATCH_UP_S)
        start = now - timedelta(seconds=history_s)
        children.append(child("-m", "simulators", "fleet", *fleet, "--start", start.isoformat(),
                              "--speedup", f"{speedup:g}"))  # fmt: skip
        print(
            f"\n  Sensor hub is running (storage: {level})\n"
            f"  Dashboard:    {url}/\n  API docs:     {url}/docs\n"
            f"  Operator key: {key}\n"
            f"  Database:     {settings.database_url}\n  Broker:       {settings.mqtt_url}\n"
            f"  History:      the last {history_days:g} days, replayed in about "
            f"{CATCH_UP_S:g} s, then live\n"
            "  Press Ctrl-C to stop everything.\n",
            flush=True,
        )
        while not stop_requested:
            for proc in children:
                if proc.poll() is not None and not stop_requested:
                    log.error("%s exited with code %s; stopping", proc.args, proc.returncode)
                    return 1
            time.sleep(0.5)
        return 0
    finally:
        for proc in reversed(children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for server in reversed(started):
            with contextlib.suppress(Exception):
                server.stop()
        with contextlib.suppress(FileNotFoundError):
            (stack / DEV_ENV).unlink()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        give_back()
        print("stopped; nothing left running", flush=True)
