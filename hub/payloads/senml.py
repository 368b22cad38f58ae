"""SenML JSON packs (RFC 8428): base name/time/unit/value/sum resolution, names
split into device and metric, units converted to the profile's."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from hub.model import Reading, units
from hub.payloads.checks import (
    Checks,
    MetricSpec,
    check_value,
    check_window,
    from_epoch,
    receive_time,
)

# RFC 8428 section 4.5.3: SenML times below 2**28 are relative to "now".
_SENML_RELATIVE_BELOW = 2**28
_SENML_FIELDS = frozenset(
    {"bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"}
)


def decode_pack(pack: list[Any], ctx: Checks) -> tuple[list[Reading], bool]:
    """The readings of one pack, and whether any got the receive time."""
    if not pack:
        raise ctx.fail("empty", "the SenML pack has no records")
    base_name = ""
    base_time = 0.0
    base_unit: str | None = None
    base_value = 0.0
    base_sum = 0.0
    has_base_time = False
    any_timeless = False
    readings: list[Reading] = []
    metrics = ctx.table.metrics
    # Records of one pack mostly share names and times: resolve each once.
    resolved: dict[str, str] = {}
    times: dict[float, tuple[datetime, bool]] = {}
    for index, record in enumerate(pack):
        if not isinstance(record, dict):
            raise ctx.fail("decode", f"SenML record {index} is not an object")
        if not _SENML_FIELDS.issuperset(record):
            for key in record:
                if key.endswith("_"):
                    raise ctx.fail("decode", f"SenML record {index}: unsupported field {key!r}")
        if "bn" in record:
            base_name = _str(record, "bn", index, ctx)
        if "bt" in record:
            base_time = _number(record, "bt", index, ctx)
            has_base_time = True
        if "bu" in record:
            base_unit = _str(record, "bu", index, ctx)
        if "bv" in record:
            base_value = _number(record, "bv", index, ctx)
        if "bs" in record:
            base_sum = _number(record, "bs", index, ctx)
        if "v" in record:
            v = record["v"]
            if type(v) is not float and type(v) is not int:  # bool is an int subclass
                v = _number(record, "v", index, ctx)  # raises with the reason
            raw: float | bool = base_value + v
        elif "vb" in record:
            raw = record["vb"]
            if not isinstance(raw, bool):
                raise ctx.fail("wrong_type", f"SenML record {index}: 'vb' must be true or false")
        elif "vs" in record or "vd" in record:
            raise ctx.fail(
                "wrong_type", f"SenML record {index}: string and data values are not metrics"
            )
        elif "s" in record:
            raw = base_sum + _number(record, "s", index, ctx)
        elif "n" in record or "u" in record or "t" in record:
            raise ctx.fail("decode", f"SenML record {index} has no value")
        else:
            continue  # a record of base fields only
        name = base_name + _str(record, "n", index, ctx) if "n" in record else base_name
        metric = resolved.get(name)
        if metric is None:
            metric = resolved[name] = _metric_of(name, ctx, metrics)
        spec = metrics.get(metric)
        if spec is None:
            raise ctx.fail("unknown_metric", f"{metric!r} is not a metric of {ctx.table.profile}")
        if has_base_time or "t" in record:
            total = base_time + _number(record, "t", index, ctx) if "t" in record else base_time
            cached = times.get(total)
            if cached is None:
                cached = times[total] = _time(total, ctx)
            time, timeless = cached
        else:
            time, timeless = receive_time(ctx), True
        any_timeless = any_timeless or timeless
        if "u" in record:
            unit: str | None = _str(record, "u", index, ctx)
        else:
            # A boolean has no unit; a base unit meant for the numbers skips it.
            unit = None if raw is True or raw is False else base_unit
        if unit is not None and unit != spec.unit:
            if isinstance(raw, bool):
                raise ctx.fail("bad_unit", f"{metric} is in {spec.unit}, the record says {unit!r}")
            converted = units.convert(raw, unit, spec.unit)
            if converted is None:
                raise ctx.fail(
                    "bad_unit", f"{metric} is in {spec.unit}, cannot convert from {unit[:20]!r}"
                )
            raw = converted
        readings.append(Reading(ctx.device_id, metric, time, check_value(metric, raw, spec, ctx)))
    if not readings:
        raise ctx.fail("empty", "the SenML pack holds no values")
    return readings, any_timeless


def _metric_of(name: str, ctx: Checks, metrics: dict[str, MetricSpec]) -> str:
    """Split a SenML name into device and metric; the device must be this one."""
    device_id = ctx.device_id
    n = len(device_id)
    if (
        name.startswith(device_id)
        and name[n : n + 1] in (":", "/", ".")
        and name[n + 1 :] in metrics
    ):
        return name[n + 1 :]  # the usual "{device_id}:{metric}"
    cut = max(name.rfind(":"), name.rfind("/"), name.rfind("."))
    if cut < 0:
        return name
    device, metric = name[:cut], name[cut + 1 :]
    if device != ctx.device_id and not (
        device.endswith(ctx.device_id) and device[-len(ctx.device_id) - 1] in ":/"
    ):
        raise ctx.fail("unknown_device", f"SenML name {name[:80]!r} names another device")
    return metric


def _time(total: float, ctx: Checks) -> tuple[datetime, bool]:
    if abs(total) < _SENML_RELATIVE_BELOW:
        # RFC 8428: relative to the time the pack was received.
        return check_window(ctx.received_at + timedelta(seconds=total), ctx), True
    return check_window(from_epoch(total, ctx), ctx), False


def _str(record: dict[str, Any], key: str, index: int, ctx: Checks) -> str:
    value = record[key]
    if not isinstance(value, str):
        raise ctx.fail("decode", f"SenML record {index}: {key!r} must be a string")
    return value


def _number(record: dict[str, Any], key: str, index: int, ctx: Checks) -> float:
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        reason = "bad_timestamp" if key in ("t", "bt") else "wrong_type"
        raise ctx.fail(reason, f"SenML record {index}: {key!r} must be a number")
    if not math.isfinite(value):
        reason = "bad_timestamp" if key in ("t", "bt") else "wrong_type"
        raise ctx.fail(reason, f"SenML record {index}: {key!r} must be finite")
    return float(value)
