"""The messages a simulated device sends over time, faults included. No I/O.

:func:`device_messages` and :func:`fleet_messages` are the Python API that tests
and the publishers share: the same seed and faults give the same messages, byte
for byte, whether they go to a broker or into an assertion.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from hub.profiles import Profile
from simulators.devices import DeviceModel, Values, make_model
from simulators.encoding import encode, encode_wrong_units, garbage
from simulators.faults import PHYSICAL_FAULTS, Fault, FaultWindow, resolve_faults
from simulators.fleet import DeviceSpec
from simulators.weather import Environment


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT publication. ``sent_at`` is the simulated time it leaves the device.

    ``via_will`` marks an ``offline`` status that the broker delivers as the
    device's last will when its connection drops; ``fault`` names the transport
    fault that shaped the message, if any.
    """

    sent_at: datetime
    topic: str
    payload: bytes
    retained: bool
    device_id: str
    kind: Literal["telemetry", "status"]
    via_will: bool = False
    fault: str | None = None


class DeviceRunner:
    """Steps one device through time, producing its messages in send order."""

    def __init__(
        self,
        spec: DeviceSpec,
        profile: Profile,
        env: Environment,
        *,
        start: float,
        interval_s: float | None = None,
        faults: Sequence[FaultWindow] = (),
        prefix: str = "city",
        status: bool = True,
        first_within_s: float | None = None,
    ) -> None:
        self.spec = spec
        self.profile = profile
        self.model: DeviceModel = make_model(spec, profile, env)
        self.interval = float(interval_s or profile.expected_interval_s)
        self.faults = list(faults)
        self.rng = random.Random(f"stream:{env.seed}:{spec.device_id}")
        self.base = f"{prefix}/{spec.profile}/{spec.device_id}"
        phase = float(spec.traits.get("phase", 0.0))
        first = phase * min(self.interval, first_within_s or self.interval)
        self.next_report = math.floor(start + first)
        self.last_sample: float | None = None
        self.status = status
        self.pending: list[tuple[float, int, Message]] = []  # heap by send time
        self.seq = 0
        self.held: Message | None = None  # for out_of_order
        self.offline = False
        self.frozen: dict[str, float | bool] = {}  # for stuck
        if status:
            self._push(start, "status", b"online", retained=True)

    # ---- scheduling ------------------------------------------------------------

    def next_event(self) -> float:
        due: float = self.next_report
        if self.pending:
            due = min(due, self.pending[0][0])
        return due

    def advance(self, until: float) -> list[Message]:
        """Every message with a send time up to ``until``, in send order."""
        while self.next_report <= until:
            self._report(self.next_report)
            jitter = self.rng.uniform(-0.02, 0.02) * self.interval
            self.next_report = math.floor(self.next_report + self.interval + jitter)
        out = []
        while self.pending and self.pending[0][0] <= until:
            out.append(heapq.heappop(self.pending)[2])
        return out

    def flush(self) -> list[Message]:
        """Messages still held back (late, out of order) at the end of a run."""
        if self.held is not None:
            self._queue(self.held, self.held.sent_at.timestamp())
            self.held = None
        out = [m for _, _, m in sorted(self.pending)]
        self.pending.clear()
        return out

    # ---- one report --------------------------------------------------------------

    def _active(self, t: float) -> dict[str, FaultWindow]:
        return {w.kind: w for w in self.faults if w.active(t)}

    def _report(self, t: int) -> None:
        active = self._active(t)
        physical = {k: w for k, w in active.items() if k in PHYSICAL_FAULTS}
        dt = 0.0 if self.last_sample is None else t - self.last_sample
        self.last_sample = t
        values = self.model.sample(t, dt, physical)
        self._sensor_faults(values, active)
        if self._offline_transition(t, active):
            return
        self._send(t, values, active)

    def _sensor_faults(self, values: Values, active: Mapping[str, FaultWindow]) -> None:
        stuck = active.get("stuck")
        if stuck is not None:
            metric = self._target_metric(stuck)
            self.frozen.setdefault(metric, values[metric])
            values[metric] = self.frozen[metric]
        else:
            self.frozen.clear()
        spikes = active.get("spikes")
        if spikes is not None and self.rng.random() < spikes.number("rate", 0.25):
            metric = self._target_metric(spikes)
            value = values[metric]
            if not isinstance(value, bool):
                factor = spikes.number("factor", 8.0)
                spiked = value * factor if abs(value) > 1e-6 else factor
                values[metric] = round(spiked, 2)

    def _target_metric(self, window: FaultWindow) -> str:
        wanted = window.params.get("metric")
        if isinstance(wanted, str) and wanted in self.profile.metrics:
            return wanted
        gauges = [
            n for n, m in self.profile.metrics.items() if m.kind == "gauge" and m.type != "bool"
        ]
        return gauges[0] if gauges else next(iter(self.profile.metrics))

    def _offline_transition(self, t: int, active: Mapping[str, FaultWindow]) -> bool:
        """Handle the offline fault; True while the device is away."""
        if "offline" in active:
            if not self.offline:
                self.offline = True
                self._push(t, "status", b"offline", retained=True, via_will=True, fault="offline")
            return True
        if self.offline:
            self.offline = False
            self._push(t, "status", b"online", retained=True)
        return False

    def _send(self, t: int, values: Values, active: Mapping[str, FaultWindow]) -> None:
        spec = self.spec
        fault: str | None = None
        if "wrong_units" in active:
            payload = encode_wrong_units(
                values, t=t, device_id=spec.device_id, profile=self.profile
            )
            fault = "wrong_units"
        else:
            payload = encode(
                values,
                t=t,
                device_id=spec.device_id,
                profile=self.profile,
                payload_format=spec.payload_format,
                ts_style=spec.ts_style,
            )
        garbled = active.get("garbage")
        if garbled is not None and self.rng.random() < garbled.number("rate", 1.0):
            payload, fault = garbage(payload, self.rng), "garbage"
        send_at = float(t)
        late = active.get("late")
        if late is not None:
            send_at += late.number("delay", 3600.0)
            fault = fault or "late"
        message = self._message(send_at, "telemetry", payload, retained=False, fault=fault)
        swap = active.get("out_of_order")
        if swap is not None or self.held is not None:
            if self.held is None:
                self.held = message  # goes out after the next report
                return
            held, self.held = self.held, None
            self._queue(message, send_at)
            self._queue(_refault(held, "out_of_order"), send_at + 0.001)
        else:
            self._queue(message, send_at)
        duplicates = active.get("duplicates")
        if duplicates is not None and self.rng.random() < duplicates.number("rate", 1.0):
            self._queue(_refault(message, "duplicates"), send_at + 0.002)

    def _push(
        self,
        t: float,
        kind: Literal["telemetry", "status"],
        payload: bytes,
        *,
        retained: bool,
        via_will: bool = False,
        fault: str | None = None,
    ) -> None:
        if kind == "status" and not self.status:
            return
        message = self._message(t, kind, payload, retained=retained, fault=fault)
        if via_will:
            message = replace(message, via_will=True)
        self._queue(message, t)

    def _message(
        self,
        t: float,
        kind: Literal["telemetry", "status"],
        payload: bytes,
        *,
        retained: bool,
        fault: str | None,
    ) -> Message:
        return Message(
            sent_at=datetime.fromtimestamp(t, UTC),
            topic=f"{self.base}/{kind}",
            payload=payload,
            retained=retained,
            device_id=self.spec.device_id,
            kind=kind,
            fault=fault,
        )

    def _queue(self, message: Message, at: float) -> None:
        self.seq += 1
        heapq.heappush(self.pending, (at, self.seq, message))


def _refault(message: Message, fault: str) -> Message:
    return replace(message, fault=message.fault or fault)


# ---- public API -----------------------------------------------------------------


def device_messages(
    device: DeviceSpec,
    profile: Profile,
    start: datetime,
    end: datetime,
    *,
    seed: int = 0,
    faults: Sequence[FaultWindow] = (),
    interval_s: float | None = None,
    prefix: str = "city",
    timezone: str = "Europe/Oslo",
    status: bool = True,
) -> Iterator[Message]:
    """Messages of one device sent in ``[start, end)``, plus any held back at the end."""
    env = Environment(seed=seed, lat=device.lat, timezone=timezone)
    runner = DeviceRunner(
        device,
        profile,
        env,
        start=start.timestamp(),
        interval_s=interval_s,
        faults=faults,
        prefix=prefix,
        status=status,
    )
    stop = end.timestamp()
    while runner.next_event() < stop:
        yield from runner.advance(runner.next_event())
    yield from (m for m in runner.flush())


def fleet_messages(
    fleet: Sequence[DeviceSpec],
    profiles: Mapping[str, Profile],
    start: datetime,
    end: datetime,
    *,
    seed: int = 0,
    faults: Sequence[Fault] = (),
    interval_s: float | None = None,
    prefix: str = "city",
    timezone: str = "Europe/Oslo",
    status: bool = True,
    only: Sequence[str] | None = None,
) -> Iterator[Message]:
    """Messages of a whole fleet in ``[start, end)``, merged in send order.

    ``only`` restricts the output to some device ids (a shard of the fleet) while
    faults are still chosen over the whole fleet, so shards add up to the whole.
    """
    windows = resolve_faults(faults, fleet, start=start.timestamp(), seed=seed)
    wanted = None if only is None else set(only)
    streams = [
        device_messages(
            device,
            profiles[device.profile],
            start,
            end,
            seed=seed,
            faults=windows.get(device.device_id, ()),
            interval_s=interval_s,
            prefix=prefix,
            timezone=timezone,
            status=status,
        )
        for device in fleet
        if wanted is None or device.device_id in wanted
    ]
    return heapq.merge(*streams, key=lambda m: m.sent_at)
