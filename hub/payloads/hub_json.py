"""The hub's own JSON forms: a flat object of metric values with an optional
``ts``, or ``{"ts": ..., "metrics": {...}}`` (``docs/payloads.md``)."""

from __future__ import annotations

from typing import Any

from hub.model import Reading
from hub.payloads.checks import Checks, check_value, check_window, parse_timestamp, receive_time


def decode_object(doc: dict[str, Any], ctx: Checks) -> tuple[list[Reading], bool]:
    """The readings of one object, and whether they got the receive time."""
    if "metrics" in doc:
        extra = doc.keys() - {"ts", "metrics"}
        if extra:
            raise ctx.fail(
                "unknown_metric",
                f"beside 'metrics' only 'ts' is allowed, got {sorted(extra)[0]!r}",
            )
        values = doc["metrics"]
        if not isinstance(values, dict):
            raise ctx.fail("decode", "'metrics' must be an object of metric values")
    else:
        values = doc
    if len(values) == (1 if values is doc and "ts" in doc else 0):
        raise ctx.fail("empty", "the message holds no metric values")
    ts = doc.get("ts")
    if ts is None:
        if "ts" in doc:
            raise ctx.fail("bad_timestamp", "'ts' is null")
        time = receive_time(ctx)
    else:
        time = check_window(parse_timestamp(ts, ctx), ctx)
    readings: list[Reading] = []
    metrics = ctx.table.metrics
    for name, raw in values.items():
        if name == "ts" and values is doc:
            continue
        spec = metrics.get(name)
        if spec is None:
            raise ctx.fail("unknown_metric", f"{name!r} is not a metric of {ctx.table.profile}")
        readings.append(Reading(ctx.device_id, name, time, check_value(name, raw, spec, ctx)))
    return readings, ts is None
