"""The hub driven by a SensorThings client library from PyPI (frost-sta-client,
Fraunhofer IOSB's Python client) through its ordinary calls, in open-data mode
(no key, as a GIS tool would): list Things, expand Datastreams, page through a
Datastream's Observations with a filter on phenomenonTime following
@iot.nextLink to the end. What it collects must equal the readings stored."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

frost = pytest.importorskip("frost_sta_client")

from hub.devstack import Devstack  # noqa: E402
from hub.store.db import connect  # noqa: E402
from tests.integration.api_helpers import SHIPPED_PROFILES, ApiHub, start_hub  # noqa: E402

READINGS = 250
# The client reads furl's deprecated pathstr: its warning, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:furl.pathstr is deprecated:DeprecationWarning")


@pytest.fixture
def open_hub(stack: Devstack) -> Iterator[ApiHub]:
    hub = start_hub(
        stack,
        Path(tempfile.mkdtemp(prefix="hub-sta-client-")),
        profiles_dir=SHIPPED_PROFILES,
        HUB_OPEN_DATA="true",
        HUB_STA_DEFAULT_TOP="40",
    )
    yield hub
    hub.stop()


def test_frost_client_lists_expands_and_pages_to_the_stored_readings(open_hub: ApiHub) -> None:
    hub = open_hub
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=2)
    for device in ("aq-0100", "aq-0101"):  # public data: served without a key
        hub.publish(
            (
                hub.topic(device, "air_quality"),
                orjson.dumps(
                    {
                        "ts": int((start + timedelta(minutes=10 * i)).timestamp() * 1000),
                        "no2": i / 4,
                    }
                ),
            )
            for i in range(READINGS)
        )
        hub.wait_stored(device, READINGS)

    service = frost.SensorThingsService(f"{hub.url}/sta/v1.1")
    things = list(service.things().query().list())
    assert sorted(t.properties["deviceId"] for t in things) == ["aq-0100", "aq-0101"]

    expanded = service.things().query().expand("Datastreams").list()
    thing = next(t for t in expanded if t.properties["deviceId"] == "aq-0100")
    (datastream,) = thing.datastreams.entities
    assert datastream.name.endswith("no2")
    assert datastream.unit_of_measurement.symbol == "ug/m3"

    since = start + timedelta(minutes=10 * 50)
    collected = [
        (obs.phenomenon_time, obs.result)
        for obs in datastream.get_observations()
        .query()
        .filter(f"phenomenonTime ge {since.isoformat().replace('+00:00', 'Z')}")
        .orderby("phenomenonTime", "ASC")
        .list()
    ]

    with connect(hub.settings.database_url, "test") as conn:
        stored = conn.execute(
            """SELECT r.time, r.value FROM readings r JOIN series s ON s.id = r.series_id
               JOIN devices d ON d.id = s.device
               WHERE d.device_id = 'aq-0100' AND s.metric = 'no2' AND r.time >= %s
               ORDER BY r.time""",
            (since,),
        ).fetchall()
    assert len(stored) == READINGS - 50  # more than four pages of 40
    assert [(datetime.fromisoformat(t.replace("Z", "+00:00")), v) for t, v in collected] == [
        (t, v) for t, v in stored
    ]
