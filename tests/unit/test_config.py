"""Settings: defaults, and one clear message naming the variable for a bad value."""

from __future__ import annotations

import pytest

from hub.config import load_settings, mqtt_endpoint
from hub.errors import ConfigError


def test_defaults_are_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HUB_DATABASE_URL", "HUB_MQTT_URL", "HUB_TOPIC_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.topic_prefix == "city"
    assert settings.timezone == "Europe/Oslo"
    assert settings.batch_max_messages < settings.mqtt_receive_maximum


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HUB_DATABASE_URL", "mysql://x/y", "postgresql://"),
        ("HUB_MQTT_URL", "http://broker", "mqtt://"),
        ("HUB_MQTT_URL", "mqtt://broker:notaport", "port"),
        ("HUB_TOPIC_PREFIX", "city/x", "topic level"),
        ("HUB_TIMEZONE", "Mars/Olympus", "unknown time zone"),
        ("HUB_BATCH_MAX_MESSAGES", "0", "greater than or equal to 1"),
        ("HUB_MQTT_RECEIVE_MAXIMUM", "70000", "less than or equal to 65535"),
        ("HUB_STORAGE", "mongo", "'auto', 'plain' or 'timescale'"),
        ("HUB_AUTO_REGISTER_DEVICES", "perhaps", "boolean"),
    ],
)
def test_bad_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.variable == variable
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://localhost:1883", ("localhost", 1883, False, None, None)),
        ("mqtts://broker.example", ("broker.example", 8883, True, None, None)),
        ("mqtt://hub:s3cret@10.0.0.1:1884", ("10.0.0.1", 1884, False, "hub", "s3cret")),
    ],
)
def test_mqtt_url_is_split(url: str, expected: tuple[object, ...]) -> None:
    assert mqtt_endpoint(url) == expected
