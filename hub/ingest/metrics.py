"""Prometheus metrics of the ingest (exposed at /metrics)."""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import NamedTuple

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("hub_ingest_messages", "MQTT messages taken in, by kind", ["kind"])
READINGS = Counter("hub_ingest_readings", "Readings committed (redeliveries included)")
RECEIVE_TIME_USED = Counter(
    "hub_ingest_receive_time_messages",
    "Committed telemetry messages whose readings got the receive time (no timestamp of "
    "their own, or SenML times relative to it)",
)
DEAD_LETTERS = Counter("hub_dead_letters", "Messages stored as dead letters, by reason", ["reason"])
BATCH_SIZE = Histogram(
    "hub_ingest_batch_messages",
    "Messages per committed batch",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
)
BATCH_SECONDS = Histogram(
    "hub_ingest_batch_seconds",
    "Time to write and commit one batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUEUE_DEPTH = Gauge("hub_ingest_queue_depth", "Messages received and not yet in a batch")
UNACKED = Gauge("hub_ingest_unacked", "Messages received and not yet acknowledged")
DATABASE_UP = Gauge("hub_ingest_database_up", "1 while the ingest can write to the database")
BROKER_UP = Gauge("hub_ingest_broker_up", "1 while the ingest is connected to the broker")
READING_AGE = Histogram(
    "hub_ingest_reading_age_seconds",
    "Time from a message's timestamp to the commit of its readings (publish-to-committed "
    "latency for devices with a true clock; large for backfilled or late data)",
    buckets=(
        0.005,
        0.01,
        0.025,
        0.05,
        0.075,
        0.1,
        0.15,
        0.2,
        0.25,
        0.3,
        0.4,
        0.5,
        0.75,
        1,
        2,
        5,
        10,
        30,
        60,
        300,
        3600,
    ),
)

# Other sources (HUB_SOURCES) and the HTTP ingest.
HTTP_MESSAGES = Counter(
    "hub_ingest_http_messages",
    "HTTP ingest requests answered after commit, by source (http:ttn, http:chirpstack, "
    "http:hub) and outcome (stored, refused, ignored:<message type>)",
    ["source", "outcome"],
)
HTTP_UNAVAILABLE = Counter(
    "hub_ingest_http_unavailable", "HTTP ingest requests answered 503 (database down, queue full)"
)
SOURCE_MESSAGES = Counter(
    "hub_source_messages", "Messages received from an extra MQTT source", ["source"]
)
SOURCE_UP = Gauge("hub_source_up", "1 while the extra MQTT source is connected", ["source"])


class Gauges(NamedTuple):
    queue_depth: int
    unacked: int
    database_up: bool
    broker_up: bool


async def keep_gauges(read: Callable[[], Gauges], every_s: float = 1.0) -> None:
    """Set the ingest's gauges from ``read()`` every ``every_s`` seconds, forever."""
    while True:
        now = read()
        QUEUE_DEPTH.set(now.queue_depth)
        UNACKED.set(now.unacked)
        DATABASE_UP.set(1 if now.database_up else 0)
        BROKER_UP.set(1 if now.broker_up else 0)
        await asyncio.sleep(every_s)


def observe_all(histogram: Histogram, amounts: Sequence[float]) -> None:
    """``histogram.observe`` of each of ``amounts`` (no labels, no exemplars), at the
    cost of one bisection per amount and one locked increment per bucket touched,
    not a walk of the buckets and two locked increments per amount: a batch's
    reading ages (a backfill's lie past every bucket but the last). It reaches
    into prometheus_client's Histogram; tests/unit/ingest/test_metrics.py checks
    that the exposition is the same as with ``observe``."""
    if not amounts:
        return
    bounds = histogram._upper_bounds
    counts = [0] * len(bounds)
    for amount in amounts:
        counts[bisect_left(bounds, amount)] += 1
    histogram._sum.inc(sum(amounts))
    for bucket, count in zip(histogram._buckets, counts, strict=True):
        if count:
            bucket.inc(count)
