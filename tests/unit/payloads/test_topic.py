"""Topic parsing (hub/payloads/topic.py): device topics accepted, anything else
refused as bad_topic, any text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.errors import PayloadError
from hub.model import Topic
from hub.payloads import parse_topic


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("city/street_light/sl-0001/telemetry", Topic("street_light", "sl-0001", "telemetry")),
        ("city/water_meter/wm-0001/status", Topic("water_meter", "wm-0001", "status")),
        ("city/air_quality/urn:dev:mac:0024b.x_1/telemetry", Topic("air_quality", "urn:dev:mac:0024b.x_1", "telemetry")),
        ("city/street_light/" + "a" * 64 + "/telemetry", Topic("street_light", "a" * 64, "telemetry")),
    ],
)  # fmt: skip
def test_parse_topic_accepts_device_topics(topic: str, expected: Topic) -> None:
    assert parse_topic(topic, "city") == expected


@pytest.mark.parametrize(
    "topic",
    [
        "town/street_light/sl-0001/telemetry",  # other prefix
        "city/street_light/sl-0001",  # too short
        "city/street_light/sl-0001/telemetry/extra",  # too long
        "city/street_light/sl-0001/command",  # unknown kind
        "city/street_light//telemetry",  # empty device id
        "city/street_light/" + "a" * 65 + "/telemetry",  # device id too long
        "city/street_light/sl 0001/telemetry",  # space
        "city/street_light/sl+0001/telemetry",  # wildcard character
        "city/street_light/slø-1/telemetry",  # non-ASCII
        "city/Street-Light/sl-0001/telemetry",  # malformed profile
        "/city/street_light/sl-0001/telemetry",  # leading slash
        "",
    ],
)
def test_parse_topic_refuses_anything_else_as_bad_topic(topic: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_topic(topic, "city")
    assert info.value.reason == "bad_topic"
    assert info.value.topic == topic


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parse_topic_any_text_returns_topic_or_bad_topic(topic: str) -> None:
    try:
        parsed = parse_topic(topic, "city")
    except PayloadError as exc:
        assert exc.reason == "bad_topic"
    else:
        assert topic == f"city/{parsed.profile}/{parsed.device_id}/{parsed.kind}"
