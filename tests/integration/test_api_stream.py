"""The live stream against a real hub: committed readings and status changes arrive
filtered, idle streams carry heartbeats, and a client that stops reading is cut
off without slowing the ingest."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.devstack import Devstack
from tests.integration.api_helpers import ApiHub, Listener, start_hub
from tests.integration.helpers import telemetry, wait_for

BUFFER = 20


@pytest.fixture(scope="module")
def hub(stack: Devstack) -> Iterator[ApiHub]:
    api = start_hub(
        stack,
        Path(tempfile.mkdtemp(prefix="hub-api-stream-")),
        HUB_SSE_BUFFER=str(BUFFER),
        HUB_SSE_HEARTBEAT_S="0.5",
    )
    yield api
    api.stop()


def test_committed_readings_arrive_for_the_chosen_device_only(hub: ApiHub) -> None:
    with Listener(hub, device="lm-s1", type="reading") as listener:
        hub.publish(
            [(hub.topic("lm-s2"), telemetry(i)) for i in range(5)]
            + [(hub.topic("lm-s1"), telemetry(i)) for i in range(5)]
        )
        events = listener.take("reading", 15)
        # Once lm-s2's readings are committed, a later lm-s1 message is streamed
        # after anything of theirs would have been.
        wait_for(lambda: hub.readings_stored("lm-s2") == 15, 15, "lm-s2's readings")
        hub.publish([(hub.topic("lm-s1"), telemetry(5))])
        extra = listener.take("reading", 3)
        extra += [d for e, d in list(listener.items.queue) if e == "reading"]
    assert {e["device_id"] for e in events + extra} == {"lm-s1"}  # type: ignore[index]
    seq = sorted(e["value"] for e in events if e["metric"] == "seq")  # type: ignore[index]
    assert seq == [0, 1, 2, 3, 4]
    first = events[0]
    assert first["profile"] == "load_meter" and first["time"].startswith("2026-01-01T")  # type: ignore[index]


def test_status_changes_arrive_and_idle_streams_carry_heartbeats(hub: ApiHub) -> None:
    with Listener(hub, type="status", profile="load_meter") as listener:
        assert listener.take("comment", 2, timeout=5)
        hub.publish([(hub.topic("lm-s3", kind="status"), b"online")])
        (status,) = listener.take("status", 1)
    assert status == {  # type: ignore[comparison-overlap]
        "type": "status",
        "device_id": "lm-s3",
        "profile": "load_meter",
        "time": status["time"],  # type: ignore[index]
        "status": "online",
    }


def test_a_client_that_stops_reading_is_cut_off_and_the_ingest_keeps_up(hub: ApiHub) -> None:
    # A client with a tiny receive window that reads nothing after the headers.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", hub.process.port))
    sock.sendall(
        f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {hub.keys['viewer']}\r\n\r\n".encode()
    )
    assert b"200 OK" in sock.recv(200)
    try:
        messages = 2000
        hub.publish([(hub.topic("lm-slow"), telemetry(i)) for i in range(messages)])
        hub.wait_stored("lm-slow", messages * 3, timeout=60)
        wait_for(
            lambda: f"fell {BUFFER} events behind" in hub.process.log_tail(), 10, "the log line"
        )
        # Reading again drains what was in flight, then the overflow notice, then the end.
        sock.settimeout(10)
        received = b""
        while not received.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            assert chunk, "connection closed without ending the stream"
            received += chunk
        assert b"event: overflow" in received
    finally:
        sock.close()
    # The hub still serves new streams.
    with Listener(hub, device="lm-after") as listener:
        hub.publish([(hub.topic("lm-after"), telemetry(1))])
        assert len(listener.take("reading", 3)) == 3
