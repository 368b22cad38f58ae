"""Simulators: the fleet layout, realistic behaviour, and output the hub accepts."""

from __future__ import annotations

import itertools
import statistics
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from hub.model import Reading
from hub.payloads import decode_status, decode_telemetry, parse_topic
from hub.profiles import Profile, load_profiles
from simulators import DeviceSpec, Message, build_fleet, device_messages, fleet_messages
from simulators.cli import main
from simulators.fleet import fleet_csv
from simulators.runner import SimClock
from tests.repo import REPO

PROFILES = load_profiles(REPO / "device_profiles")
OSLO = ZoneInfo("Europe/Oslo")
TROMSO = (69.65, 18.96)


def _decode(message: Message, profiles: dict[str, Profile] = PROFILES) -> list[Reading]:
    topic = parse_topic(message.topic, "city")
    return decode_telemetry(
        message.payload,
        device_id=topic.device_id,
        profile=profiles[topic.profile],
        received_at=message.sent_at,
        max_future=timedelta(seconds=300),
        max_past=timedelta(days=400),
    )


def _series(messages: list[Message], metric: str) -> list[tuple[datetime, float]]:
    out = []
    for m in messages:
        if m.kind == "telemetry":
            out += [(r.time, r.value) for r in _decode(m) if r.metric == metric]
    return out


def _device(
    profile: str, *, lat: float | None = None, lon: float | None = None, n: int = 1
) -> DeviceSpec:
    kwargs = {} if lat is None else {"lat": lat, "lon": lon}
    fleet = build_fleet(PROFILES, 40, seed=7, mix={profile: 1.0}, **kwargs)  # type: ignore[arg-type]
    return fleet[n - 1]


def _run(device: DeviceSpec, start: datetime, hours: float, **kwargs: object) -> list[Message]:
    return list(
        device_messages(
            device,
            PROFILES[device.profile],
            start,
            start + timedelta(hours=hours),
            seed=7,
            **kwargs,
        )  # type: ignore[arg-type]
    )


# ---- fleet layout ----------------------------------------------------------------------


def test_fleet_is_deterministic_for_a_seed() -> None:
    assert fleet_csv(build_fleet(PROFILES, 300, seed=5)) == fleet_csv(
        build_fleet(PROFILES, 300, seed=5)
    )
    assert fleet_csv(build_fleet(PROFILES, 300, seed=5)) != fleet_csv(
        build_fleet(PROFILES, 300, seed=6)
    )


@pytest.mark.parametrize("count", [3, 30, 1000, 3000])
def test_fleet_has_requested_size_with_every_profile(count: int) -> None:
    fleet = build_fleet(PROFILES, count, seed=1)
    assert len(fleet) == count
    assert {d.profile for d in fleet} == set(PROFILES)
    assert len({d.device_id for d in fleet}) == count


def test_fleet_ids_follow_profile_prefixes() -> None:
    fleet = build_fleet(PROFILES, 60, seed=1)
    prefixes = {d.profile: d.device_id.split("-")[0] for d in fleet}
    assert prefixes == {"street_light": "sl", "water_meter": "wm", "air_quality": "aq"}
    lights = sorted(d.device_id for d in fleet if d.profile == "street_light")
    assert lights[0] == "sl-0001"


@pytest.mark.parametrize(("lat", "lon"), [(60.7945, 11.068), TROMSO])
def test_fleet_is_placed_in_districts_around_the_town_centre(lat: float, lon: float) -> None:
    fleet = build_fleet(PROFILES, 2000, seed=2, lat=lat, lon=lon)
    assert len({d.district for d in fleet}) >= 8
    for d in fleet:
        assert abs(d.lat - lat) < 0.06  # about 6.5 km
        assert abs(d.lon - lon) < 0.06 / 0.3
        assert d.street
    lights_per_street = Counter(d.street for d in fleet if d.profile == "street_light")
    assert max(lights_per_street.values()) > 5  # lamps line streets, not random points


def test_devices_command_prints_csv_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "--devices", "12", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "device_id,profile,lat,lon,district,street"
    assert len(lines) == 13
    assert main(["devices", "--devices", "12", "--seed", "3", "--format", "json"]) == 0
    rows = orjson.loads(capsys.readouterr().out)
    assert {r["device_id"] for r in rows} >= {"sl-0001", "wm-0001", "aq-0001"}
    assert main(["devices", "--devices", "5", "--format", "geojson"]) == 0
    assert orjson.loads(capsys.readouterr().out)["type"] == "FeatureCollection"


# ---- output the hub accepts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "place"),
    [
        (datetime(2025, 1, 15, tzinfo=UTC), {}),
        (datetime(2025, 3, 30, 0, tzinfo=UTC), {}),  # daylight-saving switch
        (datetime(2025, 7, 1, tzinfo=UTC), {}),
        (datetime(2025, 12, 20, tzinfo=UTC), {"lat": TROMSO[0], "lon": TROMSO[1]}),
    ],
    ids=["winter", "dst_switch", "summer", "tromso_polar_night"],
)
def test_simulated_messages_decode_cleanly_against_their_profiles(
    start: datetime, place: dict[str, float]
) -> None:
    fleet = build_fleet(PROFILES, 24, seed=4, **place)  # type: ignore[arg-type]
    messages = list(fleet_messages(fleet, PROFILES, start, start + timedelta(hours=26), seed=4))
    formats = Counter()
    for m in messages:
        if m.kind == "status":
            assert decode_status(m.payload) == "online"
            assert m.retained
            continue
        readings = _decode(m)
        assert readings
        formats[m.payload[:1]] += 1
        assert all(r.time <= m.sent_at for r in readings)
    assert formats[b"["] and formats[b"{"]  # SenML and JSON objects both occur
    assert [m.sent_at for m in messages] == sorted(m.sent_at for m in messages)


def test_every_device_reports_at_its_profile_interval() -> None:
    fleet = build_fleet(PROFILES, 9, seed=4)
    start = datetime(2025, 5, 1, tzinfo=UTC)
    messages = list(fleet_messages(fleet, PROFILES, start, start + timedelta(hours=6), seed=4))
    per_device = Counter(m.device_id for m in messages if m.kind == "telemetry")
    for d in fleet:
        expected = 6 * 3600 / PROFILES[d.profile].expected_interval_s
        assert expected - 2 <= per_device[d.device_id] <= expected + 2


def test_same_seed_gives_identical_messages() -> None:
    fleet = build_fleet(PROFILES, 10, seed=9)
    start = datetime(2025, 2, 1, tzinfo=UTC)
    first = list(fleet_messages(fleet, PROFILES, start, start + timedelta(hours=3), seed=9))
    again = list(fleet_messages(fleet, PROFILES, start, start + timedelta(hours=3), seed=9))
    other = list(fleet_messages(fleet, PROFILES, start, start + timedelta(hours=3), seed=10))
    assert [m.payload for m in first] == [m.payload for m in again]
    assert [m.payload for m in first] != [m.payload for m in other]


def test_new_profile_is_simulated_without_code(tmp_path: Path) -> None:
    (tmp_path / "waste_bin.yaml").write_text(
        """
name: waste_bin
description: Underground waste container with an ultrasonic fill sensor.
expected_interval_s: 3600
metrics:
  fill_level: {unit: "%", type: int, min: 0, max: 100, description: How full.}
  lid_open: {unit: "1", type: bool, description: Lid open.}
  emptyings: {unit: count, type: int, kind: counter, min: 0, max: 100000, description: Times emptied.}
  temperature: {unit: Cel, min: -40, max: 80, description: Inside the container.}
simulation:
  metrics:
    temperature: {baseline: 4, daily_amplitude: 5, noise: 0.5, decimals: 1}
""",
        encoding="utf-8",
    )
    profiles = load_profiles(tmp_path)
    fleet = build_fleet(profiles, 3, seed=1)
    assert [d.device_id for d in fleet] == ["wb-0001", "wb-0002", "wb-0003"]
    start = datetime(2025, 4, 1, tzinfo=UTC)
    messages = [
        m
        for m in fleet_messages(fleet, profiles, start, start + timedelta(days=2), seed=1)
        if m.kind == "telemetry"
    ]
    assert len(messages) >= 3 * 46
    temperatures = []
    counters: dict[str, list[float]] = {}
    for m in messages:
        for r in _decode(m, profiles):
            if r.metric == "temperature":
                temperatures.append(r.value)
            if r.metric == "emptyings":
                counters.setdefault(r.device_id, []).append(r.value)
    assert -2 < statistics.mean(temperatures) < 10
    assert all(values == sorted(values) for values in counters.values())


# ---- street lights -------------------------------------------------------------------------


def _local_hour(t: datetime) -> int:
    return t.astimezone(OSLO).hour


def test_street_light_is_on_at_night_and_off_at_noon_in_winter() -> None:
    lamp = _device("street_light")
    on = {
        (_local_hour(t), v)
        for t, v in _series(_run(lamp, datetime(2025, 1, 15, tzinfo=UTC), 24), "lamp_on")
    }
    assert {v for h, v in on if h in (0, 1, 2, 20, 21)} == {1.0}
    assert {v for h, v in on if h in (11, 12, 13)} == {0.0}


@pytest.mark.parametrize(
    ("day", "expected"),
    [(datetime(2025, 12, 21, tzinfo=UTC), {1.0}), (datetime(2025, 6, 21, tzinfo=UTC), {0.0})],
    ids=["polar_night_on_all_day", "midnight_sun_off_all_day"],
)
def test_street_light_in_tromso_handles_polar_night_and_midnight_sun(
    day: datetime, expected: set[float]
) -> None:
    lamp = _device("street_light", lat=TROMSO[0], lon=TROMSO[1])
    states = {v for _, v in _series(_run(lamp, day, 24), "lamp_on")}
    assert states == expected


def test_street_light_power_follows_dim_level_and_energy_accumulates() -> None:
    lamps = [_device("street_light", n=i) for i in range(1, 15)]
    lamp = next(d for d in lamps if d.traits["night_dimming"])
    messages = _run(lamp, datetime(2025, 1, 15, 12, tzinfo=UTC), 24)
    power = dict(_series(messages, "power"))
    dim = dict(_series(messages, "dim_level"))
    energy = _series(messages, "energy")
    at_full = [power[t] for t, d in dim.items() if d == 100]
    at_half = [power[t] for t, d in dim.items() if d == 50]
    dark = [power[t] for t, d in dim.items() if d == 0]
    assert at_full and at_half and dark
    assert min(at_full) > max(at_half) > max(dark)
    assert max(dark) < 2.0
    values = [v for _, v in energy]
    assert values == sorted(values)
    # The register grows by the integral of the power (kWh = W * h / 1000).
    times = sorted(power)
    integral = sum(
        (power[a] + power[b]) / 2 * (b - a).total_seconds() / 3600 / 1000
        for a, b in itertools.pairwise(times)
    )
    assert values[-1] - values[0] == pytest.approx(integral, rel=0.02, abs=0.002)


# ---- water meters -------------------------------------------------------------------------


def test_water_meter_register_rises_with_household_pattern_and_quiet_nights() -> None:
    meters = [_device("water_meter", n=i) for i in range(1, 9)]
    start = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday
    night, morning, daily = [], [], []
    for meter in meters:
        messages = _run(meter, start, 24 * 7)
        volume = [v for _, v in _series(messages, "volume")]
        assert volume == sorted(volume)
        persons = float(meter.traits["persons"])
        daily.append((volume[-1] - volume[0]) * 1000 / 7 / persons)
        for t, flow in _series(messages, "flow"):
            hour = _local_hour(t)
            if 2 <= hour < 4:
                night.append(flow)
            if 6 <= hour < 9:
                morning.append(flow)
    assert statistics.median(night) == 0.0
    assert statistics.mean(night) < 5.0
    assert statistics.mean(morning) > 10 * statistics.mean(night)
    # Norwegian households: roughly 120-260 litres per person and day.
    assert 120 < statistics.mean(daily) < 260


# ---- air quality ----------------------------------------------------------------------------


def test_air_quality_follows_traffic_with_rush_hours() -> None:
    monitor = _device("air_quality")
    messages = _run(monitor, datetime(2025, 10, 6, tzinfo=UTC), 24 * 5)  # Monday to Friday
    rush = [v for t, v in _series(messages, "no2") if _local_hour(t) in (7, 8)]
    night = [v for t, v in _series(messages, "no2") if _local_hour(t) in (2, 3)]
    assert statistics.mean(rush) > 2 * statistics.mean(night)


def test_air_quality_has_winter_episodes_worse_than_summer() -> None:
    monitor = _device("air_quality")
    winter = _run(monitor, datetime(2025, 1, 1, tzinfo=UTC), 24 * 60, interval_s=3600)
    summer = _run(monitor, datetime(2025, 7, 1, tzinfo=UTC), 24 * 60, interval_s=3600)
    daily_pm25: dict[str, list[float]] = {}
    for t, v in _series(winter, "pm25"):
        daily_pm25.setdefault(t.date().isoformat(), []).append(v)
    means = sorted(statistics.mean(v) for v in daily_pm25.values())
    assert means[-1] > 2.5 * means[len(means) // 2]  # episode days stand out
    assert statistics.mean(v for _, v in _series(winter, "no2")) > statistics.mean(
        v for _, v in _series(summer, "no2")
    )
    o3_summer = statistics.mean(v for _, v in _series(summer, "o3"))
    o3_winter = statistics.mean(v for _, v in _series(winter, "o3"))
    assert o3_summer > o3_winter


# ---- running -----------------------------------------------------------------------------------


def test_sped_up_clock_never_runs_ahead_of_the_wall_clock() -> None:
    clock = SimClock(wall0=1000.0, sim0=1000.0 - 9 * 600, speedup=10)
    for wall in (1000.0, 1300.0, 1599.0, 1600.0, 2000.0):
        assert clock.sim(wall) <= wall
        assert clock.wall(clock.sim(wall)) == pytest.approx(wall)
    assert clock.sim(1600.0) == pytest.approx(1600.0)  # caught up after 10 minutes
    assert clock.sim(1300.0) == pytest.approx(1000 - 5400 + 3000)


def test_sample_command_prints_decodable_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "sample",
            "--devices",
            "6",
            "--start",
            "2025-01-10T00:00:00Z",
            "--hours",
            "1",
            "--device",
            "sl-0001",
        ]
    )
    assert code == 0
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {line["topic"] for line in lines} == {
        "city/street_light/sl-0001/status",
        "city/street_light/sl-0001/telemetry",
    }


def test_python_dash_m_simulators_help_lists_the_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simulators", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    for command in ("fleet", "backfill", "devices", "sample", "faults"):
        assert command in result.stdout


def test_cli_refuses_an_unknown_fault_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", "--devices", "3", "--fault", "meteor"]) == 2
    assert "unknown fault kind" in capsys.readouterr().err
