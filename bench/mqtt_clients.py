"""Drain rate of Python MQTT subscribers: the hub's own session, paho-mqtt, aiomqtt.

    python -m bench.mqtt_clients [--messages 100000]

A private Mosquitto holds a backlog of QoS 1 messages for an offline persistent
session; each client then connects and takes (and acknowledges) all of them. The
publisher is done before the clock starts, so the figure is the subscriber's own.
aiomqtt is measured only when installed (``pip install aiomqtt``). The numbers
behind docs/adr/0006-own-mqtt-receive-path.md come from this command.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import shutil
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from rich.console import Console
from rich.table import Table

from bench.publisher import Qos1Publisher
from hub.devstack import Mosquitto
from hub.ingest.mqtt import Inbound, MqttSession

TOPIC = "bench/sl/sl-0001/telemetry"
PAYLOAD = b'{"ts": 1767225600000, "power": 41.5, "energy": 123456.7, "dim_level": 80}'


def _session_props() -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 20000
    return props


def prepare_backlog(port: int, client_id: str, messages: int) -> None:
    """Create the subscriber's session, go offline, publish the backlog at QoS 1."""
    sub = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    sub.connect("127.0.0.1", port, clean_start=True, properties=_session_props())
    sub.subscribe("bench/#", qos=1)
    for _ in range(20):
        sub.loop(0.02)
    sub.disconnect()
    sub.loop(0.05)

    pub = Qos1Publisher(f"{client_id}-pub", pump_every=500)
    pub.connect("127.0.0.1", port)
    try:
        for _ in range(messages):
            pub.publish(TOPIC, PAYLOAD)
        if not pub.wait_acked(300):
            raise RuntimeError(f"broker acknowledged {pub.acked} of {messages} backlog messages")
    finally:
        pub.close()


async def drain_hub_session(port: int, client_id: str, messages: int) -> float:
    done = asyncio.Event()
    received = 0
    session: MqttSession

    def on_message(message: Inbound) -> None:
        nonlocal received
        received += 1
        session.ack(message)
        if received >= messages:
            done.set()

    session = MqttSession(
        f"mqtt://127.0.0.1:{port}",
        client_id=client_id,
        topics=["bench/#"],
        on_message=on_message,
        on_connection_lost=lambda: None,
        session_expiry_s=3600,
        receive_maximum=20000,
    )
    started = time.perf_counter()
    task = asyncio.create_task(session.run())
    await done.wait()
    elapsed = time.perf_counter() - started
    task.cancel()
    await session.close()
    return messages / elapsed


def drain_paho(port: int, client_id: str, messages: int) -> float:
    """paho-mqtt 2 driving its own loop in this thread (no threads), automatic ack."""
    received = 0

    def on_message(*_: object) -> None:
        nonlocal received
        received += 1

    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    client.on_message = on_message
    started = time.perf_counter()
    client.connect("127.0.0.1", port, clean_start=False, properties=_session_props())
    while received < messages:
        client.loop(0.01)
    elapsed = time.perf_counter() - started
    client.disconnect()
    return messages / elapsed


async def drain_aiomqtt(port: int, client_id: str, messages: int) -> float:
    import aiomqtt

    started = time.perf_counter()
    received = 0
    async with aiomqtt.Client(
        "127.0.0.1",
        port,
        identifier=client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False,
        properties=_session_props(),
    ) as client:
        await client.subscribe("bench/#", qos=1, timeout=120)
        async for _ in client.messages:
            received += 1
            if received >= messages:
                break
    return messages / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    broker = Mosquitto(root).start()
    table = Table(title=f"draining a backlog of {args.messages:,} QoS 1 messages")
    table.add_column("subscriber")
    table.add_column("msg/s", justify="right")
    try:
        prepare_backlog(broker.port, "bench-hub", args.messages)
        rate = asyncio.run(drain_hub_session(broker.port, "bench-hub", args.messages))
        table.add_row("hub MqttSession (own MQTT v5 codec on asyncio, manual ack)", f"{rate:,.0f}")
        prepare_backlog(broker.port, "bench-paho", args.messages)
        rate = drain_paho(broker.port, "bench-paho", args.messages)
        table.add_row("paho-mqtt 2 (its own loop, automatic ack)", f"{rate:,.0f}")
        if importlib.util.find_spec("aiomqtt") is None:
            table.add_row("aiomqtt", "not installed (pip install aiomqtt)")
        else:
            prepare_backlog(broker.port, "bench-aiomqtt", args.messages)
            rate = asyncio.run(drain_aiomqtt(broker.port, "bench-aiomqtt", args.messages))
            table.add_row("aiomqtt (automatic ack)", f"{rate:,.0f}")
        Console().print(table)
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
