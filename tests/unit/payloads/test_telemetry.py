"""Telemetry decoding (hub/payloads: hub JSON, SenML, checks): each format, each
refusal reason, any bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.errors import DEAD_LETTER_REASONS, PayloadError
from hub.payloads import (
    decode_telemetry,
    decode_telemetry_detailed,
)
from hub.profiles import Profile, load_profiles
from tests.repo import REPO

PROFILES = load_profiles(REPO / "device_profiles")
NOW = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
NOW_S = int(NOW.timestamp())
MAX_FUTURE = timedelta(seconds=300)
MAX_PAST = timedelta(days=30)


def _decode(payload: bytes | str, profile: str = "street_light", device: str = "sl-0001"):
    raw = payload.encode() if isinstance(payload, str) else payload
    return decode_telemetry(
        raw,
        device_id=device,
        profile=PROFILES[profile],
        received_at=NOW,
        max_future=MAX_FUTURE,
        max_past=MAX_PAST,
    )


def _values(payload: bytes | str, profile: str = "street_light") -> dict[str, float]:
    return {r.metric: r.value for r in _decode(payload, profile)}


# ---- accepted telemetry ---------------------------------------------------------------

T = "2025-01-10T11:59:00Z"
T_DT = datetime(2025, 1, 10, 11, 59, tzinfo=UTC)

ACCEPTED = [
    # (name, payload, expected values, expected time of every reading)
    ("flat_rfc3339_z", f'{{"ts": "{T}", "power": 42.5}}', {"power": 42.5}, T_DT),
    ("flat_rfc3339_offset", '{"ts": "2025-01-10T12:59:00+01:00", "power": 1}', {"power": 1.0}, T_DT),
    ("flat_rfc3339_lower_case", '{"ts": "2025-01-10t11:59:00z", "power": 1}', {"power": 1.0}, T_DT),
    ("flat_fractional_seconds", '{"ts": "2025-01-10T11:59:00.250Z", "power": 1}', {"power": 1.0}, T_DT + timedelta(milliseconds=250)),
    ("flat_epoch_seconds", f'{{"ts": {NOW_S - 60}, "power": 1}}', {"power": 1.0}, T_DT),
    ("flat_epoch_seconds_float", f'{{"ts": {NOW_S - 60}.5, "power": 1}}', {"power": 1.0}, T_DT + timedelta(milliseconds=500)),
    ("flat_epoch_milliseconds", f'{{"ts": {(NOW_S - 60) * 1000}, "power": 1}}', {"power": 1.0}, T_DT),
    ("flat_many_metrics", f'{{"ts": "{T}", "power": 40, "lamp_on": true, "dim_level": 80, "energy": 12.5, "voltage": 230.9}}',
     {"power": 40.0, "lamp_on": 1.0, "dim_level": 80.0, "energy": 12.5, "voltage": 230.9}, T_DT),
    ("bool_false_is_zero", f'{{"ts": "{T}", "lamp_on": false}}', {"lamp_on": 0.0}, T_DT),
    ("bool_as_zero_one", f'{{"ts": "{T}", "lamp_on": 1}}', {"lamp_on": 1.0}, T_DT),
    ("int_metric_as_whole_float", f'{{"ts": "{T}", "dim_level": 50.0}}', {"dim_level": 50.0}, T_DT),
    ("range_edges_inclusive", f'{{"ts": "{T}", "dim_level": 0, "power": 400}}', {"dim_level": 0.0, "power": 400.0}, T_DT),
    ("ts_and_metrics_object", f'{{"ts": "{T}", "metrics": {{"power": 3, "lamp_on": true}}}}', {"power": 3.0, "lamp_on": 1.0}, T_DT),
    ("ts_in_future_within_limit", f'{{"ts": {NOW_S + 299}, "power": 1}}', {"power": 1.0}, NOW + timedelta(seconds=299)),
    ("senml_base_name_and_time", f'[{{"bn": "sl-0001:", "bt": {NOW_S - 60}, "n": "power", "u": "W", "v": 40}}, {{"n": "lamp_on", "vb": true}}]',
     {"power": 40.0, "lamp_on": 1.0}, T_DT),
    ("senml_urn_base_name", f'[{{"bn": "urn:dev:ow:sl-0001:", "bt": {NOW_S - 60}, "n": "voltage", "v": 231}}]', {"voltage": 231.0}, T_DT),
    ("senml_slash_name", f'[{{"n": "city/sl-0001/power", "t": {NOW_S - 60}, "v": 10}}]', {"power": 10.0}, T_DT),
    ("senml_bare_metric_name", f'[{{"n": "power", "t": {NOW_S - 60}, "v": 10}}]', {"power": 10.0}, T_DT),
    ("senml_base_value", f'[{{"bn": "sl-0001:", "bv": 200, "bt": {NOW_S - 60}, "n": "voltage", "v": 31}}]', {"voltage": 231.0}, T_DT),
    ("senml_sum_for_counter", f'[{{"bn": "sl-0001:", "bs": 100, "bt": {NOW_S - 60}, "n": "energy", "s": 2.5}}]', {"energy": 102.5}, T_DT),
    ("senml_base_unit_applies", f'[{{"bu": "W", "bt": {NOW_S - 60}, "n": "power", "v": 12}}]', {"power": 12.0}, T_DT),
    ("senml_base_unit_skips_booleans", f'[{{"bu": "W", "bt": {NOW_S - 60}, "n": "power", "v": 12}}, {{"n": "lamp_on", "vb": false}}]',
     {"power": 12.0, "lamp_on": 0.0}, T_DT),
    ("senml_unit_converted_wh_to_kwh", f'[{{"bt": {NOW_S - 60}, "n": "energy", "u": "Wh", "v": 1500}}]', {"energy": 1.5}, T_DT),
    ("senml_unit_converted_kw_to_w", f'[{{"bt": {NOW_S - 60}, "n": "power", "u": "kW", "v": 0.05}}]', {"power": 50.0}, T_DT),
    ("senml_relative_time", '[{"bt": -60, "n": "power", "v": 1}]', {"power": 1.0}, T_DT),
    ("senml_relative_record_time", '[{"n": "power", "t": -60, "v": 1}]', {"power": 1.0}, T_DT),
    ("senml_base_only_record_ignored", f'[{{"bn": "sl-0001:", "bt": {NOW_S - 60}}}, {{"n": "power", "v": 5}}]', {"power": 5.0}, T_DT),
    ("senml_unknown_optional_field_ignored", f'[{{"bt": {NOW_S - 60}, "n": "power", "v": 5, "note": "x"}}]', {"power": 5.0}, T_DT),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "payload", "values", "time"), ACCEPTED, ids=[a[0] for a in ACCEPTED]
)
def test_decode_accepts_format(
    name: str, payload: str, values: dict[str, float], time: datetime
) -> None:
    readings = _decode(payload)
    assert {r.metric: r.value for r in readings} == pytest.approx(values)
    assert all(r.time == time for r in readings)
    assert all(r.time.tzinfo is UTC for r in readings)
    assert all(type(r.value) is float for r in readings)
    assert all(r.device_id == "sl-0001" for r in readings)


def test_senml_record_times_add_to_base_time() -> None:
    payload = f'[{{"bn": "sl-0001:", "bt": {NOW_S - 120}, "n": "power", "v": 1}}, {{"n": "power", "t": 60, "v": 2}}]'
    readings = _decode(payload)
    assert [(r.time, r.value) for r in readings] == [
        (NOW - timedelta(seconds=120), 1.0),
        (NOW - timedelta(seconds=60), 2.0),
    ]


def test_receive_time_is_used_only_when_profile_allows_it() -> None:
    allowing = PROFILES["street_light"].model_copy(update={"receive_time_fallback": True})
    decoded = decode_telemetry_detailed(
        b'{"power": 5}',
        device_id="sl-0001",
        profile=allowing,
        received_at=NOW,
        max_future=MAX_FUTURE,
        max_past=MAX_PAST,
    )
    assert decoded.receive_time_used
    assert [r.time for r in decoded.readings] == [NOW]
    with pytest.raises(PayloadError) as info:
        _decode('{"power": 5}')
    assert info.value.reason == "bad_timestamp"


def test_stamped_reading_does_not_report_receive_time_used() -> None:
    decoded = decode_telemetry_detailed(
        f'{{"ts": "{T}", "power": 5}}'.encode(),
        device_id="sl-0001",
        profile=PROFILES["street_light"],
        received_at=NOW,
        max_future=MAX_FUTURE,
        max_past=MAX_PAST,
    )
    assert not decoded.receive_time_used


# ---- refused telemetry -----------------------------------------------------------------

REFUSED = [
    # (name, payload, reason)
    ("not_json", "power=5", "decode"),
    ("empty_bytes", "", "decode"),
    ("truncated_json", '{"ts": 1, "power": ', "decode"),
    ("json_scalar", "42", "decode"),
    ("json_string", '"hello"', "decode"),
    ("nan_literal", f'{{"ts": "{T}", "power": NaN}}', "decode"),
    ("overflowing_number", f'{{"ts": "{T}", "power": 1e400}}', "decode"),
    ("metrics_not_object", f'{{"ts": "{T}", "metrics": [1, 2]}}', "decode"),
    ("senml_record_not_object", '[1, 2]', "decode"),
    ("senml_must_understand_field", f'[{{"bt": {NOW_S}, "n": "power", "v": 1, "x_": 2}}]', "decode"),
    ("senml_record_without_value", f'[{{"bt": {NOW_S}, "n": "power"}}]', "decode"),
    ("senml_name_not_string", f'[{{"bt": {NOW_S}, "n": 5, "v": 1}}]', "decode"),
    ("empty_object", "{}", "empty"),
    ("only_ts", f'{{"ts": "{T}"}}', "empty"),
    ("empty_metrics", f'{{"ts": "{T}", "metrics": {{}}}}', "empty"),
    ("empty_pack", "[]", "empty"),
    ("senml_only_base_records", f'[{{"bn": "sl-0001:", "bt": {NOW_S}}}]', "empty"),
    ("unknown_metric_flat", f'{{"ts": "{T}", "pwr": 5}}', "unknown_metric"),
    ("unknown_metric_in_metrics", f'{{"ts": "{T}", "metrics": {{"power": 1, "colour": 2}}}}', "unknown_metric"),
    ("extra_key_beside_metrics", f'{{"ts": "{T}", "id": "x", "metrics": {{"power": 1}}}}', "unknown_metric"),
    ("unknown_metric_senml", f'[{{"bn": "sl-0001:", "bt": {NOW_S}, "n": "pwr", "v": 1}}]', "unknown_metric"),
    ("metric_of_other_profile", f'{{"ts": "{T}", "pm10": 5}}', "unknown_metric"),
    ("senml_other_device", f'[{{"bn": "sl-0002:", "bt": {NOW_S}, "n": "power", "v": 1}}]', "unknown_device"),
    ("senml_device_suffix_only", f'[{{"bn": "xsl-0001:", "bt": {NOW_S}, "n": "power", "v": 1}}]', "unknown_device"),
    ("string_value", f'{{"ts": "{T}", "power": "5"}}', "wrong_type"),
    ("null_value", f'{{"ts": "{T}", "power": null}}', "wrong_type"),
    ("bool_for_float", f'{{"ts": "{T}", "power": true}}', "wrong_type"),
    ("object_value", f'{{"ts": "{T}", "power": {{"v": 1}}}}', "wrong_type"),
    ("fraction_for_int", f'{{"ts": "{T}", "dim_level": 50.5}}', "wrong_type"),
    ("two_for_bool", f'{{"ts": "{T}", "lamp_on": 2}}', "wrong_type"),
    ("string_for_bool", f'{{"ts": "{T}", "lamp_on": "on"}}', "wrong_type"),
    ("senml_string_value", f'[{{"bt": {NOW_S}, "n": "power", "vs": "high"}}]', "wrong_type"),
    ("senml_data_value", f'[{{"bt": {NOW_S}, "n": "power", "vd": "AAE="}}]', "wrong_type"),
    ("senml_v_as_string", f'[{{"bt": {NOW_S}, "n": "power", "v": "1"}}]', "wrong_type"),
    ("senml_vb_as_number", f'[{{"bt": {NOW_S}, "n": "lamp_on", "vb": 1}}]', "wrong_type"),
    ("senml_unconvertible_unit", f'[{{"bt": {NOW_S}, "n": "power", "u": "Cel", "v": 20}}]', "bad_unit"),
    ("senml_unknown_unit", f'[{{"bt": {NOW_S}, "n": "power", "u": "horsepower", "v": 1}}]', "bad_unit"),
    ("senml_base_unit_mismatch", f'[{{"bu": "V", "bt": {NOW_S}, "n": "power", "v": 1}}]', "bad_unit"),
    ("senml_unit_on_boolean", f'[{{"bt": {NOW_S}, "n": "lamp_on", "u": "W", "vb": true}}]', "bad_unit"),
    ("above_max", f'{{"ts": "{T}", "power": 400.1}}', "implausible_value"),
    ("below_min", f'{{"ts": "{T}", "power": -1}}', "implausible_value"),
    ("dim_above_100", f'{{"ts": "{T}", "dim_level": 101}}', "implausible_value"),
    ("converted_value_out_of_range", f'[{{"bt": {NOW_S}, "n": "power", "u": "kW", "v": 1}}]', "implausible_value"),
    ("no_timestamp", '{"power": 5}', "bad_timestamp"),
    ("null_timestamp", '{"ts": null, "power": 5}', "bad_timestamp"),
    ("naive_rfc3339", '{"ts": "2025-01-10T11:59:00", "power": 5}', "bad_timestamp"),
    ("date_only", '{"ts": "2025-01-10", "power": 5}', "bad_timestamp"),
    ("leap_second", '{"ts": "2025-01-10T11:59:60Z", "power": 5}', "bad_timestamp"),
    ("garbage_timestamp", '{"ts": "yesterday", "power": 5}', "bad_timestamp"),
    ("bool_timestamp", '{"ts": true, "power": 5}', "bad_timestamp"),
    ("list_timestamp", '{"ts": [2025], "power": 5}', "bad_timestamp"),
    ("too_far_future", f'{{"ts": {NOW_S + 301}, "power": 5}}', "bad_timestamp"),
    ("too_far_past", f'{{"ts": "{(NOW - timedelta(days=31)).isoformat()}", "power": 5}}', "bad_timestamp"),
    ("epoch_out_of_range", '{"ts": 1e300, "power": 5}', "bad_timestamp"),
    ("negative_epoch", '{"ts": -5, "power": 5}', "bad_timestamp"),
    ("senml_milliseconds_as_seconds", f'[{{"bt": {NOW_S * 1000}, "n": "power", "v": 1}}]', "bad_timestamp"),
    ("senml_time_as_string", '[{"bt": "2025-01-10T12:00:00Z", "n": "power", "v": 1}]', "bad_timestamp"),
    ("senml_without_any_time", '[{"n": "power", "v": 1}]', "bad_timestamp"),
    ("senml_relative_too_old", '[{"t": -3000000, "n": "power", "v": 1}]', "bad_timestamp"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "payload", "reason"), REFUSED, ids=[r[0] for r in REFUSED])
def test_decode_refuses_with_reason(name: str, payload: str, reason: str) -> None:
    with pytest.raises(PayloadError) as info:
        _decode(payload)
    assert info.value.reason == reason
    assert info.value.device_id == "sl-0001"
    assert info.value.detail


def test_every_refusal_reason_of_the_decoder_is_tested() -> None:
    tested = {reason for _, _, reason in REFUSED}
    decoder_reasons = {
        "decode",
        "empty",
        "unknown_metric",
        "unknown_device",
        "wrong_type",
        "bad_unit",
        "implausible_value",
        "bad_timestamp",
    }
    assert decoder_reasons <= set(DEAD_LETTER_REASONS)
    assert tested == decoder_reasons


def test_first_bad_value_refuses_the_whole_message() -> None:
    with pytest.raises(PayloadError):
        _decode(f'{{"ts": "{T}", "power": 10, "dim_level": 500}}')


def test_senml_flow_in_cubic_metres_per_hour_is_stored_in_litres_per_hour() -> None:
    payload = f'[{{"bn": "wm-0001:", "bt": {NOW_S}, "n": "flow", "u": "m3/h", "v": 0.12}}]'
    readings = _decode(payload, profile="water_meter", device="wm-0001")
    assert readings[0].value == pytest.approx(120.0)


# ---- robustness ------------------------------------------------------------------------


def _decode_any(payload: bytes, profile: Profile) -> None:
    try:
        readings = decode_telemetry(
            payload,
            device_id="aq-0001",
            profile=profile,
            received_at=NOW,
            max_future=MAX_FUTURE,
            max_past=MAX_PAST,
        )
    except PayloadError as exc:
        assert exc.reason in DEAD_LETTER_REASONS
        return
    assert readings
    for reading in readings:
        assert reading.time.tzinfo is UTC
        assert type(reading.value) is float


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_decode_any_bytes_returns_readings_or_payload_error(payload: bytes) -> None:
    _decode_any(payload, PROFILES["air_quality"])


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["pm10", "ts", "metrics", "aq-0001:", "ug/m3", T, "bn", "v", "n"])
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "ts",
                    "metrics",
                    "pm10",
                    "no2",
                    "bn",
                    "bt",
                    "bu",
                    "n",
                    "u",
                    "v",
                    "vb",
                    "s",
                    "t",
                    "x_",
                ]
            )
            | st.text(max_size=6),
            inner,
            max_size=5,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=600, deadline=None)
@given(_json)
def test_decode_any_json_returns_readings_or_payload_error(doc: object) -> None:
    _decode_any(orjson.dumps(doc), PROFILES["air_quality"])
