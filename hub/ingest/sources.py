"""Sources beyond the hub's own broker, from ``HUB_SOURCES`` (docs/integrations.md).

``HUB_SOURCES`` names a YAML file (or holds the same document inline, as YAML or
JSON). It lists extra MQTT subscriptions, each on its own broker with its own
session, and the rules that give an uplink of an unregistered device its profile::

    mqtt:
      - name: chirpstack
        url: mqtt://hub:secret@chirpstack.example:1883
        format: chirpstack_v4
        topics: ["application/+/device/+/event/up", "application/+/device/+/event/status"]
      - name: ttn
        url: mqtts://town-water@ttn:NNSXS.KEY@eu1.cloud.thethings.network:8883
        format: tts_v3
        topics: ["v3/+/devices/+/up"]
    profiles:
      tts_applications: {town-water: water_meter, town-lights: street_light}
      chirpstack_device_profiles: {"Decentlab DL-PM": air_quality}
      chirpstack_tag: hub_profile

The rules apply to the HTTP integrations too. A mistake stops the hub at start-up
with a :class:`~hub.errors.ConfigError` naming the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.errors import ConfigError
from hub.payloads.context import ProfileRules

SourceFormat = Literal["chirpstack_v4", "tts_v3", "hub"]
_NAME = r"^[a-z][a-z0-9_-]{0,31}$"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MqttSource(_Strict):
    """One extra MQTT subscription.

    Args:
        name: short name, used in metrics (``source`` label), logs and dead letters.
        url: ``mqtt://[user:password@]host:port`` or ``mqtts://`` for TLS.
        format: how its messages are decoded.
        topics: topic filters subscribed to (QoS 1; a broker may grant less:
            The Things Stack serves QoS 0 only).
        client_id: fixed client id of its persistent session (default ``hub-<name>``).
        session_expiry_s: how long its broker keeps the session while the hub is away.
        protocol: ``"5"`` or ``"3.1.1"``; by default 3.1.1 for ``tts_v3`` (The Things
            Stack's MQTT server speaks only that) and 5 otherwise.
    """

    name: Annotated[str, Field(pattern=_NAME)]
    url: str
    format: SourceFormat
    topics: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    client_id: str | None = None
    session_expiry_s: Annotated[int, Field(ge=0)] = 7 * 24 * 3600
    protocol: Literal["5", "3.1.1"] | None = None

    @property
    def protocol_version(self) -> int:
        """The MQTT protocol level to connect with (5, or 4 for 3.1.1)."""
        protocol = self.protocol or ("3.1.1" if self.format == "tts_v3" else "5")
        return 4 if protocol == "3.1.1" else 5

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not re.match(r"^mqtts?://[^/]+$", value):
            raise ValueError("must look like mqtt://[user:password@]host:port (or mqtts://)")
        return value


class Profiles(_Strict):
    tts_applications: dict[str, str] = Field(default_factory=dict)
    chirpstack_device_profiles: dict[str, str] = Field(default_factory=dict)
    chirpstack_tag: str | None = None


class SourcesFile(_Strict):
    mqtt: list[MqttSource] = Field(default_factory=list)
    profiles: Profiles = Field(default_factory=Profiles)

    def rules(self) -> ProfileRules:
        return ProfileRules(
            tts_applications=dict(self.profiles.tts_applications),
            chirpstack_device_profiles=dict(self.profiles.chirpstack_device_profiles),
            chirpstack_tag=self.profiles.chirpstack_tag,
        )


def load_sources(value: str | None, profiles: set[str] | None = None) -> SourcesFile:
    """The sources named by ``HUB_SOURCES`` (a file path, or the document inline)."""
    if not value:
        return SourcesFile()
    text = value
    inline = value.lstrip().startswith(("{", "mqtt:", "profiles:")) or "\n" in value
    if not inline:
        path = Path(value)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError("HUB_SOURCES", f"cannot read {value}: {exc.strerror}") from None
    try:
        doc = yaml.safe_load(text) or {}
        sources = SourcesFile.model_validate(doc)
    except yaml.YAMLError as exc:
        raise ConfigError("HUB_SOURCES", f"not valid YAML: {exc}") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "(document)"
        raise ConfigError("HUB_SOURCES", f"{where}: {error['msg']}") from None
    names = [s.name for s in sources.mqtt]
    if len(set(names)) != len(names):
        raise ConfigError("HUB_SOURCES", "two MQTT sources have the same name")
    if profiles is not None:
        rules = sources.profiles
        for table, mapping in (
            ("tts_applications", rules.tts_applications),
            ("chirpstack_device_profiles", rules.chirpstack_device_profiles),
        ):
            for key, profile in mapping.items():
                if profile not in profiles:
                    raise ConfigError(
                        "HUB_SOURCES", f"profiles.{table}.{key}: no device profile {profile!r}"
                    )
    return sources
