"""The ingest's metrics: a batch of observations counts as each one would."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from hub.ingest.metrics import observe_all

BUCKETS = (0.005, 0.1, 1.0, 60.0, 86400.0)


def _histogram() -> tuple[CollectorRegistry, Histogram]:
    registry = CollectorRegistry()
    return registry, Histogram("age_seconds", "ages", buckets=BUCKETS, registry=registry)


def _exposition(registry: CollectorRegistry) -> list[str]:
    return [
        line
        for line in generate_latest(registry).decode().splitlines()
        if not line.startswith("age_seconds_created")
    ]


@pytest.mark.parametrize(
    "amounts",
    [
        pytest.param([], id="nothing"),
        pytest.param([0.005, 0.1, 1.0, 60.0, 86400.0], id="on the bounds"),
        pytest.param([0.0, 0.004, 0.0051, 0.5, 3.0, 7200.0, 90000.0, 1e9], id="between and past"),
        pytest.param([86400.5] * 1000, id="a backfill past every bucket but the last"),
        pytest.param([-1.0, 0.05], id="a clock ahead"),
    ],
)
def test_observe_all_exposes_what_observing_one_by_one_does(amounts: list[float]) -> None:
    one_by_one, single = _histogram()
    for amount in amounts:
        single.observe(amount)
    at_once, batch = _histogram()
    observe_all(batch, amounts)
    assert _exposition(at_once) == _exposition(one_by_one)
