"""HUB_SOURCES: the sources file (or inline document) and its mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.ingest.sources import load_sources

PROFILES = {"water_meter", "air_quality", "street_light"}
FILE = """
mqtt:
  - name: chirpstack
    url: mqtt://hub:secret@chirpstack.example:1883
    format: chirpstack_v4
    topics: ["application/+/device/+/event/up"]
  - name: ttn
    url: mqtts://town-water%40ttn:NNSXS.KEY@eu1.cloud.thethings.network:8883
    format: tts_v3
    topics: ["v3/town-water@ttn/devices/+/up"]
profiles:
  tts_applications: {town-water: water_meter}
  chirpstack_device_profiles: {"Decentlab DL-PM": air_quality}
  chirpstack_tag: hub_profile
"""


def test_a_file_gives_sessions_and_rules(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(FILE)
    sources = load_sources(str(path), PROFILES)
    assert [s.name for s in sources.mqtt] == ["chirpstack", "ttn"]
    assert [s.protocol_version for s in sources.mqtt] == [5, 4]  # TTS speaks MQTT 3.1.1
    rules = sources.rules()
    assert rules.tts_applications == {"town-water": "water_meter"}
    assert rules.chirpstack_device_profiles == {"Decentlab DL-PM": "air_quality"}
    assert rules.chirpstack_tag == "hub_profile"


def test_inline_json_and_nothing_at_all() -> None:
    inline = '{"profiles": {"chirpstack_tag": "hub_profile"}}'
    assert load_sources(inline, PROFILES).rules().chirpstack_tag == "hub_profile"
    assert load_sources(None).mqtt == []


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("mqtt: [{name: a, url: 'http://x', format: tts_v3, topics: [t]}]", "mqtt.0.url"),
        ("mqtt: [{name: a, url: 'mqtt://x:1', format: lora, topics: [t]}]", "mqtt.0.format"),
        ("mqtt: [{name: a, url: 'mqtt://x:1', format: tts_v3, topics: []}]", "mqtt.0.topics"),
        ("profiles: {tts_applications: {app: boat}}", "no device profile 'boat'"),
        ("profiles: {tts_aplications: {}}", "profiles.tts_aplications"),
        (
            "mqtt: [{name: a, url: 'mqtt://x:1', format: tts_v3, topics: [t]},"
            " {name: a, url: 'mqtt://y:1', format: tts_v3, topics: [t]}]",
            "same name",
        ),
    ],
)
def test_mistakes_name_the_field(document: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_sources("\n" + document, PROFILES)
    assert "HUB_SOURCES" in str(caught.value)
    assert message in str(caught.value)


def test_a_missing_file_is_named() -> None:
    with pytest.raises(ConfigError, match=r"cannot read /nonexistent/sources\.yaml"):
        load_sources("/nonexistent/sources.yaml")
