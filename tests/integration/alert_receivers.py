"""Real receivers of the hub's alert notifications for the tests: a local webhook
server and an MQTT subscriber to the alert topics."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from hub.config import Settings, mqtt_endpoint


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers 503 to the first ``fail``
    attempts of each delivery."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.requests: list[tuple[dict[str, str], bytes, float]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body, time.monotonic()))
                delivery = self.headers["X-Hub-Delivery"]
                tries = sum(1 for h, _, _ in receiver.requests if h["X-Hub-Delivery"] == delivery)
                failing = tries <= receiver.fail
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/alerts"

    def bodies(self) -> list[dict[str, Any]]:
        return [orjson.loads(body) for _, body, _ in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Watcher:
    """A real MQTT subscriber to ``{prefix}/alerts/#``."""

    def __init__(self, settings: Settings) -> None:
        host, port, _, _, _ = mqtt_endpoint(settings.mqtt_url)
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"watch-{settings.topic_prefix}"
        )
        self.client.on_message = lambda c, u, m: self.messages.append(
            (m.topic, orjson.loads(m.payload))
        )
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(
            f"{settings.topic_prefix}/alerts/#", qos=1
        )
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._subscribed.set()
        self.client.connect(host, port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "MQTT watcher did not subscribe"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
