"""Prometheus metrics of the NGSI-LD push and subscriptions (exposed at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

PUSH_BACKLOG = Gauge(
    "hub_ngsi_push_backlog_devices", "Devices whose changed entities are not yet at the broker"
)
PUSH_LAG = Gauge(
    "hub_ngsi_push_lag_seconds", "Age of the oldest change not yet accepted by the broker"
)
PUSH_ENTITIES = Counter("hub_ngsi_push_entities", "Entities accepted by the broker")
PUSH_TEMPORAL = Counter(
    "hub_ngsi_push_temporal_instances",
    "Attribute instances accepted by the broker's temporal API (HUB_NGSI_LD_TEMPORAL_ATTRS)",
)
PUSH_REQUESTS = Counter(
    "hub_ngsi_push_requests", "Upsert requests to the broker by outcome", ["outcome"]
)
PUSH_OVERFLOWS = Counter(
    "hub_ngsi_push_overflows",
    "Times the queue of changed devices overflowed (the push then rescans the database)",
)
NOTIFICATIONS = Counter(
    "hub_ngsi_notifications", "Subscription notification attempts by outcome", ["outcome"]
)
NOTIFY_OVERFLOWS = Counter(
    "hub_ngsi_notify_overflows",
    "Times the changes waiting for subscription matching overflowed (those changes notify nobody)",
)
