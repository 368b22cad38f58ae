"""End-to-end fixtures: a real hub fed by the simulators, and headless Chromium.

The private PostgreSQL and Mosquitto come from the ``stack`` fixture that both
suites share (tests/conftest.py). Chromium is Debian's ``chromium`` package
(installed by ``.ci/run``), driven by Playwright for Python with
``executable_path``; without either, every test here is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from hub.commands.apikeys import create as create_key
from hub.devstack import Devstack
from hub.store.db import connect
from hub.store.migrate import migrate
from tests.e2e.fleet import BURST_METER, STAYS_OPEN, Fleet
from tests.integration.helpers import HubProcess, wait_for
from tests.stack import stack_settings

CHROMIUM = Path(os.environ.get("HUB_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROFILES = Path(__file__).resolve().parents[2] / "device_profiles"
AXE = Path(__file__).resolve().parents[2] / "hub/dashboard/node_modules/axe-core/axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DEVICES = 40


def _needs_browser() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install -e '.[test]')")
    from hub.dashboard import assets_installed

    if not assets_installed():
        pytest.skip("dashboard assets not installed: npm ci --prefix hub/dashboard")


@pytest.fixture(scope="package")
def fleet(stack: Devstack) -> Iterator[Fleet]:
    """A migrated database, `hub run` with the shipped profiles in open-data mode, and
    a simulated fleet that replays its last 20 minutes at 60x, then runs in real time
    with a report from every device every 5 s."""
    _needs_browser()
    logs = Path(tempfile.mkdtemp(prefix="hub-e2e-"))
    database_url = stack.postgres.create_database(f"e2e_{os.getpid()}")
    settings = stack_settings(
        stack,
        database_url,
        topic_prefix=f"e2e{os.getpid()}",
        client_id=f"hub-e2e-{os.getpid()}",
        profiles_dir=demo_profiles(logs),
    )
    with connect(settings.database_url, "test") as conn:
        migrate(conn)
    districts = logs / "districts.geojson"
    districts.write_bytes(_simulators("districts", "--devices", str(DEVICES), "--seed", "1"))
    hub = HubProcess(
        settings,
        logs,
        HUB_OPEN_DATA="true",
        HUB_ALERTS_INTERVAL_S="1",
        HUB_MAP_DISTRICTS=str(districts),
    ).start()
    simulators: subprocess.Popen[bytes] | None = None
    sim_log = open(logs / "simulators.log", "wb")  # noqa: SIM115 - closed at teardown
    try:
        hub.wait_ready()
        url = f"http://127.0.0.1:{hub.port}"
        key = create_key(settings, role="operator", name="e2e", out=io.StringIO())
        _register_layout(url, key)
        start = (datetime.now(UTC) - timedelta(minutes=20)).isoformat(timespec="seconds")
        simulators = subprocess.Popen(
            [sys.executable, "-m", "simulators", "fleet", "--mqtt-url", settings.mqtt_url,
             "--prefix", settings.topic_prefix, "--profiles-dir", str(PROFILES),
             "--devices", str(DEVICES), "--seed", "1", "--speedup", "60", "--start", start,
             "--interval", "5", "--connections", "shared", "--fault", f"burst:{BURST_METER}", "--fault", f"burst:{STAYS_OPEN}",
             "--fault", "offline:sl-0003:start=2m"],
            stdout=sim_log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

        def all_reporting() -> bool:
            assert simulators is not None
            if simulators.poll() is not None:
                raise AssertionError(f"simulators exited: {(logs / 'simulators.log').read_text()}")
            body = httpx.get(f"{url}/api/v1/devices", params={"limit": 1000}, timeout=5).json()
            return sum(1 for d in body["items"] if d["last_seen"]) >= DEVICES

        wait_for(all_reporting, 30, f"{DEVICES} simulated devices to report")
        devices = httpx.get(f"{url}/api/v1/devices", params={"limit": 1000}, timeout=5).json()
        yield Fleet(url, settings, hub, devices["items"], key)
    finally:
        if simulators is not None:
            simulators.terminate()
            try:
                simulators.wait(20)
            except subprocess.TimeoutExpired:
                simulators.kill()
                simulators.wait(5)
        sim_log.close()
        hub.stop()
        shutil.rmtree(logs, ignore_errors=True)


def _simulators(*args: str) -> bytes:
    command = [sys.executable, "-m", "simulators", *args, "--profiles-dir", str(PROFILES)]
    return subprocess.run(command, check=True, capture_output=True).stdout


def demo_profiles(folder: Path) -> Path:
    """The shipped profiles, but with the water meters' data as open data: the
    simulated town is a demo, and the dashboard is tested here with every kind of
    device and no key. What the hub withholds of personal data is tested in
    tests/integration/test_privacy_policy.py (docs/privacy.md)."""
    out = folder / "profiles"
    out.mkdir(exist_ok=True)
    for source in PROFILES.glob("*.yaml"):
        text = source.read_text()
        if source.stem == "water_meter":
            assert "\ndata_class: personal\n" in text
            text = text.replace("\ndata_class: personal\n", "\ndata_class: public\n")
        (out / source.name).write_text(text)
    return out


def _register_layout(url: str, key: str) -> None:
    """Register the simulated town's devices with their places, as an operator would
    import them (devices that register themselves have no coordinates)."""
    layout = _simulators("devices", "--devices", str(DEVICES), "--seed", "1", "--format", "json")
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
        for d in orjson.loads(layout):
            response = client.post(
                "/api/v1/devices",
                json={
                    "device_id": d["device_id"],
                    "profile": d["profile"],
                    "name": d["street"],
                    "district": d["district"],
                    "lat": d["lat"],
                    "lon": d["lon"],
                },
            )
            assert response.status_code == 201, response.text


# Package scope, not session: Playwright's sync API keeps an event loop running
# in the main thread while it is open, which would break every asyncio test that
# runs after the browser tests.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Headless Chromium; it needs no fleet (the public page's tests bring their own
    town), so a test that looks at the fleet asks for ``fleet`` too."""
    _needs_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="package")
def browser_context(browser: Any) -> Iterator[Any]:
    """A laptop: 1280x720."""
    # UTC in the browser, so a page that shows browser-local time instead of Oslo
    # time is caught
    context = browser.new_context(
        viewport={"width": 1280, "height": 720}, locale="nb-NO", timezone_id="UTC"
    )
    context.set_default_timeout(15000)
    yield context
    context.close()


PHONE = {"width": 390, "height": 844}


def phone_context(browser: Any, **options: Any) -> Any:
    """A phone: 390x844 CSS pixels, touch, as a field crew holds it."""
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        locale="nb-NO",
        timezone_id="UTC",
        **options,
    )
    context.set_default_timeout(15000)
    return context


@contextlib.contextmanager
def checked_tab(context: Any, url: str) -> Iterator[Any]:
    """A fresh tab of a browser that has no key and no language saved (Norwegian,
    the default); any uncaught script error, or a message key missing from the
    catalogue, fails the test."""
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(f"{url}/dashboard/config.json")
    tab.evaluate("localStorage.clear(); sessionStorage.clear()")
    yield tab
    missing = tab.evaluate("window.__missingKeys ? [...window.__missingKeys] : []")
    tab.close()
    assert not errors, f"script errors in the page: {errors}"
    assert not missing, f"message keys missing from the catalogue: {missing}"


@pytest.fixture
def page(browser_context: Any, fleet: Fleet) -> Iterator[Any]:
    with checked_tab(browser_context, fleet.url) as tab:
        yield tab


def save_key(page: Any, key: str) -> None:
    """Store an API key as the key form does (the page must be on the hub's origin)."""
    page.evaluate("key => localStorage.setItem('hub.apiKey', key)", key)


def ready(page: Any) -> None:
    """Wait until the routed view has drawn (app.js sets data-ready)."""
    page.wait_for_selector("#view[data-ready]")


def audit(page: Any) -> list[dict[str, Any]]:
    """Run axe-core (from npm, node_modules) in the page: WCAG 2.1 A and AA rules."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS
    )
    return [
        {
            "id": v["id"],
            "help": v["help"],
            "targets": [n["target"] for n in v["nodes"]][:5],
            "summary": v["nodes"][0].get("failureSummary", "") if v["nodes"] else "",
        }
        for v in result["violations"]
    ]
