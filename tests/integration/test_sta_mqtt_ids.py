"""The SensorThings MQTT extension (a subscriber on a Datastream's Observations
topic gets a device's reading as STA JSON) and the stability of Observation ids
across a restart and TimescaleDB compression."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.config import mqtt_endpoint
from hub.devstack import Devstack
from hub.store.db import connect
from tests.integration.api_helpers import SHIPPED_PROFILES, ApiHub, start_hub
from tests.integration.helpers import wait_for

STA = "/sta/v1.1"


class Subscriber:
    """A plain MQTT client subscribed to one STA topic."""

    def __init__(self, hub: ApiHub, topic: str) -> None:
        host, port, _, _, _ = mqtt_endpoint(hub.settings.mqtt_url)
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"sta-{hub.settings.topic_prefix}"
        )
        self.client.on_message = lambda c, u, m: self.messages.append(
            (m.topic, orjson.loads(m.payload))
        )
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=0)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._subscribed.set()
        self.client.connect(host, port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "MQTT subscriber did not subscribe"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def sta_mqtt_hub(stack: Devstack) -> Iterator[ApiHub]:
    hub = start_hub(
        stack,
        Path(tempfile.mkdtemp(prefix="hub-sta-mqtt-")),
        profiles_dir=SHIPPED_PROFILES,
        HUB_STA_MQTT="true",
    )
    yield hub
    hub.stop()


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def test_an_observations_subscriber_receives_a_devices_reading(sta_mqtt_hub: ApiHub) -> None:
    hub = sta_mqtt_hub
    first = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    topic = hub.topic("aq-0001", "air_quality")
    hub.publish([(topic, orjson.dumps({"ts": _ms(first), "no2": 21.5}))])
    hub.wait_stored("aq-0001", 1)
    with hub.client("viewer") as client:
        root = client.get(STA).json()["serverSettings"]
        receive = "http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates"
        assert receive in root["conformance"]
        host, port, _, _, _ = mqtt_endpoint(hub.settings.mqtt_url)
        assert root[receive]["endpoints"] == [f"mqtt://{host}:{port}"]
        (ds,) = client.get(
            f"{STA}/Datastreams", params={"$filter": "ObservedProperty/name eq 'no2'"}
        ).json()["value"]
        subscriber = Subscriber(hub, f"v1.1/Datastreams({ds['@iot.id']})/Observations")
        try:
            later = first + timedelta(minutes=5)
            hub.publish([(topic, orjson.dumps({"ts": _ms(later), "no2": 23.25}))])
            wait_for(lambda: len(subscriber.messages) >= 1, 20, "an STA observation over MQTT")
        finally:
            subscriber.close()
        (got_topic, observation), *_ = subscriber.messages
        assert got_topic == f"v1.1/Datastreams({ds['@iot.id']})/Observations"
        assert observation["result"] == 23.25
        assert observation["phenomenonTime"] == later.isoformat().replace("+00:00", "Z")
        assert observation["resultTime"] == observation["phenomenonTime"]
        stored = client.get(f"{STA}/Observations('{observation['@iot.id']}')")
        assert stored.status_code == 200, stored.text
        assert stored.json()["result"] == 23.25
        assert stored.json()["Datastream@iot.navigationLink"].endswith(
            f"Observations('{observation['@iot.id']}')/Datastream"
        )


def test_observation_ids_survive_a_restart_and_compression(stack: Devstack) -> None:
    if not stack.postgres.timescaledb:
        pytest.skip("TimescaleDB extension not installed: compression not exercised")
    hub = start_hub(
        stack,
        Path(tempfile.mkdtemp(prefix="hub-sta-ids-")),
        storage="timescale",
        profiles_dir=SHIPPED_PROFILES,
    )
    try:
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
        topic = hub.topic("wm-0042", "water_meter")  # personal: read with the permission
        hub.publish(
            (
                topic,
                orjson.dumps(
                    {
                        "ts": _ms(start + timedelta(minutes=15 * i, microseconds=0)) + i % 7,
                        "flow": float(i),
                    }
                ),
            )
            for i in range(200)
        )
        hub.wait_stored("wm-0042", 200)

        def observations() -> list[tuple[str, str, float]]:
            with hub.client("personal") as client:
                (ds,) = client.get(f"{STA}/Datastreams").json()["value"]
                page = client.get(
                    f"{STA}/Datastreams({ds['@iot.id']})/Observations", params={"$top": "1000"}
                ).json()
                return [(o["@iot.id"], o["phenomenonTime"], o["result"]) for o in page["value"]]

        before = observations()
        assert len(before) == 200
        hub.process.stop()
        with connect(hub.settings.database_url, "test") as conn:
            chunks = conn.execute(
                "SELECT compress_chunk(c) FROM show_chunks('readings') c"
            ).fetchall()
            assert chunks
            compressed = conn.execute(
                "SELECT count(*) FROM timescaledb_information.chunks "
                "WHERE hypertable_name = 'readings' AND is_compressed"
            ).fetchone()
            assert compressed is not None and compressed[0] == len(chunks)
            conn.commit()
        hub.process.start()
        hub.process.wait_ready()
        assert observations() == before
        with hub.client("personal") as client:
            some_id, some_time, some_result = before[123]
            again = client.get(f"{STA}/Observations('{some_id}')").json()
            assert (again["phenomenonTime"], again["result"]) == (some_time, some_result)
    finally:
        hub.stop()
