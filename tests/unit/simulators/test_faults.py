"""Fault injection: parsing, device choice, and that each fault produces what it claims."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hub.errors import PayloadError
from hub.payloads import decode_telemetry, parse_topic
from hub.profiles import load_profiles
from simulators import (
    Fault,
    FaultWindow,
    Message,
    build_fleet,
    device_messages,
    load_scenario,
    parse_fault,
    resolve_faults,
)
from simulators.faults import FAULT_KINDS, FaultError, parse_duration
from tests.repo import REPO

PROFILES = load_profiles(REPO / "device_profiles")
FLEET = build_fleet(PROFILES, 40, seed=11)
START = datetime(2025, 1, 13, tzinfo=UTC)  # a winter Monday
OSLO = ZoneInfo("Europe/Oslo")


def _device(profile: str) -> str:
    return next(d.device_id for d in FLEET if d.profile == profile)


def _messages(device_id: str, kind: str, hours: float = 24, **params: float | str) -> list[Message]:
    """A day of one device with the fault active from hour 6 to hour 18."""
    spec = next(d for d in FLEET if d.device_id == device_id)
    window = FaultWindow(
        kind, START.timestamp() + 6 * 3600, START.timestamp() + 18 * 3600, dict(params)
    )
    return list(
        device_messages(
            spec,
            PROFILES[spec.profile],
            START,
            START + timedelta(hours=hours),
            seed=11,
            faults=[window],
        )
    )


def _in_window(m: Message) -> bool:
    return START + timedelta(hours=6) <= m.sent_at < START + timedelta(hours=18)


def _decode(m: Message) -> dict[str, float]:
    topic = parse_topic(m.topic, "city")
    readings = decode_telemetry(
        m.payload,
        device_id=topic.device_id,
        profile=PROFILES[topic.profile],
        received_at=m.sent_at,
        max_future=timedelta(seconds=300),
        max_past=timedelta(days=400),
    )
    return {r.metric: r.value for r in readings} | {"_time": readings[0].time.timestamp()}


def _reason(m: Message) -> str | None:
    try:
        _decode(m)
    except PayloadError as exc:
        return exc.reason
    return None


def _telemetry(messages: list[Message], *, window: bool | None = None) -> list[Message]:
    return [
        m for m in messages if m.kind == "telemetry" and (window is None or _in_window(m) == window)
    ]


def _local_hour(t: float) -> int:
    return datetime.fromtimestamp(t, OSLO).hour


# ---- each fault produces what it claims ---------------------------------------------------


def check_lamp_outage(messages: list[Message]) -> None:
    switched_on = [v for m in _telemetry(messages, window=True) if (v := _decode(m))["lamp_on"]]
    assert len(switched_on) > 10  # dark morning and afternoon of a January day
    assert all(v["power"] < 5 for v in switched_on)


def check_day_burner(messages: list[Message]) -> None:
    noon = [_decode(m) for m in _telemetry(messages, window=True)]
    noon = [v for v in noon if 11 <= _local_hour(v["_time"]) <= 13]
    assert noon
    assert all(v["lamp_on"] == 1 and v["power"] > 10 for v in noon)


def check_cycling(messages: list[Message]) -> None:
    early = [_decode(m) for m in _telemetry(messages, window=True)]
    dark_hours = [v for v in early if _local_hour(v["_time"]) in (7, 8)]
    assert {v["lamp_on"] for v in dark_hours} == {0.0, 1.0}


def check_leak(messages: list[Message]) -> None:
    flows = [_decode(m)["flow"] for m in _telemetry(messages, window=True)]
    assert min(flows) >= 20  # steady 25 l/h never stops
    before = [_decode(m)["flow"] for m in _telemetry(messages, window=False)]
    assert statistics.median(before) < 5


def check_burst(messages: list[Message]) -> None:
    assert all(_decode(m)["flow"] > 3000 for m in _telemetry(messages, window=True))


def check_backflow(messages: list[Message]) -> None:
    values = [_decode(m) for m in _telemetry(messages, window=True)]
    assert all(v["flow"] < 0 for v in values[1:])
    assert values[-1]["volume"] < values[0]["volume"]


def check_stuck(messages: list[Message]) -> None:
    inside = {_decode(m)["no2"] for m in _telemetry(messages, window=True)}
    outside = {_decode(m)["no2"] for m in _telemetry(messages, window=False)}
    assert len(inside) == 1
    assert len(outside) > 10


def check_spikes(messages: list[Message]) -> None:
    normal = statistics.median(_decode(m)["pm10"] for m in _telemetry(messages, window=False))
    spiked = [
        v
        for m in _telemetry(messages, window=True)
        if (v := _values_or_none(m)) is None or v["pm10"] > 5 * normal
    ]
    assert len(spiked) >= 10  # about a quarter of 144 reports


def _values_or_none(m: Message) -> dict[str, float] | None:
    try:
        return _decode(m)
    except PayloadError as exc:
        assert exc.reason == "implausible_value"
        return None


def check_garbage(messages: list[Message]) -> None:
    inside = _telemetry(messages, window=True)
    assert inside and all(_reason(m) == "decode" for m in inside)
    assert all(_reason(m) is None for m in _telemetry(messages, window=False))


def check_wrong_units(messages: list[Message]) -> None:
    inside = _telemetry(messages, window=True)
    assert inside and all(_reason(m) == "bad_unit" for m in inside)


def check_duplicates(messages: list[Message]) -> None:
    copies = Counter(m.payload for m in _telemetry(messages, window=True))
    assert copies and set(copies.values()) == {2}
    assert set(Counter(m.payload for m in _telemetry(messages, window=False)).values()) == {1}


def check_out_of_order(messages: list[Message]) -> None:
    times = [_decode(m)["_time"] for m in _telemetry(messages)]
    backwards = sum(1 for a, b in itertools.pairwise(times) if b < a)
    assert backwards >= 20
    assert sorted(times) == sorted(set(times))  # nothing lost, nothing doubled


def check_late(messages: list[Message]) -> None:
    late = [m for m in _telemetry(messages) if m.fault == "late"]
    assert late
    for m in late:
        assert m.sent_at.timestamp() - _decode(m)["_time"] == pytest.approx(7200)
    assert [m.sent_at for m in messages] == sorted(m.sent_at for m in messages)


def check_offline(messages: list[Message]) -> None:
    statuses = [(m.payload, m.via_will) for m in messages if m.kind == "status"]
    assert statuses == [(b"online", False), (b"offline", True), (b"online", False)]
    assert not _telemetry(messages, window=True)
    assert _telemetry(messages, window=False)


FAULT_CASES: list[tuple[str, str, dict[str, float | str], Callable[[list[Message]], None]]] = [
    ("lamp_outage", "street_light", {}, check_lamp_outage),
    ("day_burner", "street_light", {}, check_day_burner),
    ("cycling", "street_light", {}, check_cycling),
    ("leak", "water_meter", {"flow_lph": 25}, check_leak),
    ("burst", "water_meter", {}, check_burst),
    ("backflow", "water_meter", {}, check_backflow),
    ("stuck", "air_quality", {"metric": "no2"}, check_stuck),
    ("spikes", "air_quality", {"metric": "pm10"}, check_spikes),
    ("garbage", "water_meter", {}, check_garbage),
    ("wrong_units", "air_quality", {}, check_wrong_units),
    ("duplicates", "street_light", {}, check_duplicates),
    ("out_of_order", "water_meter", {}, check_out_of_order),
    ("late", "air_quality", {"delay": 7200}, check_late),
    ("offline", "street_light", {}, check_offline),
]


@pytest.mark.parametrize(
    ("kind", "profile", "params", "check"), FAULT_CASES, ids=[c[0] for c in FAULT_CASES]
)
def test_fault_produces_what_it_claims(
    kind: str, profile: str, params: dict[str, float | str], check: Callable[[list[Message]], None]
) -> None:
    check(_messages(_device(profile), kind, **params))


def test_every_fault_kind_has_a_check() -> None:
    assert {c[0] for c in FAULT_CASES} == FAULT_KINDS


def test_clean_run_has_no_refused_message() -> None:
    for profile in PROFILES:
        spec = next(d for d in FLEET if d.profile == profile)
        messages = device_messages(
            spec, PROFILES[profile], START, START + timedelta(days=1), seed=11
        )
        assert all(_reason(m) is None for m in messages if m.kind == "telemetry")


# ---- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("leak", Fault("leak")),
        ("leak:3", Fault("leak", count=3)),
        ("garbage:5%", Fault("garbage", share=0.05)),
        ("offline:sl-0001+sl-0002", Fault("offline", devices=("sl-0001", "sl-0002"))),
        (
            "burst:wm-0003:start=1h,duration=30m,flow_lph=5000",
            Fault(
                "burst",
                devices=("wm-0003",),
                start_s=3600,
                duration_s=1800,
                params={"flow_lph": 5000.0},
            ),
        ),
        ("late::delay=2h", Fault("late", params={"delay": 7200.0})),
        (
            "stuck:1:metric=no2,profile=air_quality",
            Fault("stuck", count=1, profile="air_quality", params={"metric": "no2"}),
        ),
    ],
)
def test_parse_fault_flag(text: str, expected: Fault) -> None:
    assert parse_fault(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("meteor", "unknown fault kind"),
        ("leak:0", "at least 1"),
        ("leak:150%", "at most 100%"),
        ("leak:3:flow", "key=value"),
        ("leak:3:start=soon", "not a duration"),
    ],
)
def test_parse_fault_flag_refuses_mistakes(text: str, message: str) -> None:
    with pytest.raises(FaultError, match=message):
        parse_fault(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("3d", 259200), ("1w", 604800)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_scenario_file_loads_faults(tmp_path: Path) -> None:
    path = tmp_path / "winter.yaml"
    path.write_text(
        """
description: A cold night with a leak and a dead lamp.
faults:
  - kind: leak
    share: 10%
    start: 1h
    params: {flow_lph: 15}
  - kind: lamp_outage
    devices: [sl-0002]
    duration: 2d
""",
        encoding="utf-8",
    )
    faults = load_scenario(path)
    assert faults == [
        Fault("leak", share=0.1, start_s=3600, params={"flow_lph": 15.0}),
        Fault("lamp_outage", devices=("sl-0002",), duration_s=172800),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- kind: leak\n", "'faults:' list"),
        ("faults:\n  - kind: leak\n    when: 1h\n", "unknown key 'when'"),
        ("faults:\n  - kind: flood\n", "faults.0: unknown fault kind"),
        ("fault:\n  - kind: leak\n", "'faults:' list"),
    ],
)
def test_scenario_file_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FaultError, match=message):
        load_scenario(path)


# ---- choosing devices ---------------------------------------------------------------------------


def test_faults_pick_matching_devices_deterministically() -> None:
    faults = [Fault("leak", count=3), Fault("day_burner", share=0.25), Fault("garbage", count=2)]
    first = resolve_faults(faults, FLEET, start=0, seed=3)
    assert first == resolve_faults(faults, FLEET, start=0, seed=3)
    by_kind: dict[str, list[str]] = {}
    for device_id, windows in first.items():
        for w in windows:
            by_kind.setdefault(w.kind, []).append(device_id)
    assert len(by_kind["leak"]) == 3 and all(d.startswith("wm-") for d in by_kind["leak"])
    lights = sum(1 for d in FLEET if d.profile == "street_light")
    assert len(by_kind["day_burner"]) == -(-lights // 4)
    assert all(d.startswith("sl-") for d in by_kind["day_burner"])
    assert len(by_kind["garbage"]) == 2


def test_fault_window_times_follow_start_and_duration() -> None:
    windows = resolve_faults(
        [Fault("offline", devices=("sl-0001",), start_s=60, duration_s=30)],
        FLEET,
        start=1000,
        seed=1,
    )
    assert windows == {"sl-0001": [FaultWindow("offline", 1060, 1090, {})]}


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault("leak", devices=("wm-9999",)), "no device 'wm-9999'"),
        (Fault("leak", devices=("sl-0001",)), "does not apply to sl-0001"),
        (Fault("lamp_outage", profile="water_meter"), "no device in the fleet"),
    ],
)
def test_faults_that_cannot_apply_are_refused(fault: Fault, message: str) -> None:
    with pytest.raises(FaultError, match=message):
        resolve_faults([fault], FLEET, start=0, seed=1)


SCENARIOS = sorted((REPO / "simulators" / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_applies_to_a_default_fleet(path: Path) -> None:
    faults = load_scenario(path)
    fleet = build_fleet(PROFILES, 200, seed=1)
    windows = resolve_faults(faults, fleet, start=START.timestamp(), seed=1)
    assert {w.kind for ws in windows.values() for w in ws} == {f.kind for f in faults}
