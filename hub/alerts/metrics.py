"""Prometheus metrics of the alert engine (exposed at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

TRANSITIONS = Counter(
    "hub_alert_transitions", "Alerts opened and resolved by the engine", ["kind", "state"]
)
EVALUATION_SECONDS = Histogram(
    "hub_alert_evaluation_seconds",
    "Time of one scheduled evaluation of all window, stale and domain rules",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RULE_ERRORS = Counter("hub_alert_rule_errors", "Rule evaluations that failed", ["kind"])
POINT_OVERFLOWS = Counter(
    "hub_alert_point_overflows",
    "Times the point-rule buffer overflowed (the engine then re-reads recent readings)",
)
NOTIFICATIONS = Counter(
    "hub_alert_notifications",
    "Notification attempts by notifier and outcome",
    ["notifier", "outcome"],
)
DEAD_NOTIFICATIONS = Gauge(
    "hub_alert_notifications_dead",
    "Notifications given up on since start, by notifier",
    ["notifier"],
)
