"""What the decode step is given beside the bytes: where a message came from, and
everything it may look up (profiles, limits, known devices), as in-memory data.

The step does no I/O: whatever it needs from the database or the settings is in
a :class:`DecodeContext`, built once and replaced whole when its data changes
(``dataclasses.replace(context, devices=new_snapshot)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from hub.model import Topic
from hub.profiles import Profile

if TYPE_CHECKING:
    from hub.config import Settings

# Parsed topics kept by the hub format; emptied when full (a flood of new devices).
TOPIC_CACHE_SIZE = 100_000


class Origin(NamedTuple):
    """Where and when one message was received.

    ``format`` names the decoder (a key of ``hub.payloads.step.FORMATS``);
    ``source`` names the input it came through (``mqtt`` is the hub's own broker);
    ``topic`` is the MQTT topic or the HTTP path, stored with a dead letter.
    """

    topic: str
    received_at: datetime  # timezone-aware UTC
    format: str = "hub"
    source: str = "mqtt"


@dataclass(frozen=True, slots=True)
class KnownDevice:
    """A registered device as a format that does not route by topic finds it."""

    device_id: str
    profile: str


@dataclass(frozen=True, slots=True)
class DeviceDirectory:
    """A snapshot of registered devices by the identities other systems use.

    Empty unless a source needs it: formats of network servers look devices up by
    LoRaWAN DevEUI or by the network server's own device id. The ingest builds a
    new snapshot when devices change and swaps the context.
    """

    by_dev_eui: Mapping[str, KnownDevice] = field(default_factory=dict)
    by_external_id: Mapping[str, KnownDevice] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProfileRules:
    """Which profile an uplink of an unregistered device belongs to, per network
    server (from the sources file, docs/integrations.md).

    Args:
        tts_applications: The Things Stack application id -> profile.
        chirpstack_device_profiles: ChirpStack device-profile name -> profile.
        chirpstack_tag: a ChirpStack device (or device-profile) tag whose value is
            the profile's name, e.g. ``hub_profile``.
    """

    tts_applications: Mapping[str, str] = field(default_factory=dict)
    chirpstack_device_profiles: Mapping[str, str] = field(default_factory=dict)
    chirpstack_tag: str | None = None


@dataclass(frozen=True, slots=True)
class DecodeContext:
    """Everything the decode step may consult, in memory.

    ``topics`` is a memo of parsed topics (same topic, same result), the only
    state the step keeps; it never changes what a message decodes to.
    """

    profiles: Mapping[str, Profile]
    topic_prefix: str
    max_payload_bytes: int
    max_future: timedelta
    max_past: timedelta
    devices: DeviceDirectory = field(default_factory=DeviceDirectory)
    topics: dict[str, Topic] = field(default_factory=dict)
    rules: ProfileRules = field(default_factory=ProfileRules)
    auto_register: bool = True

    @classmethod
    def from_settings(cls, settings: Settings, profiles: Mapping[str, Profile]) -> DecodeContext:
        return cls(
            profiles=profiles,
            topic_prefix=settings.topic_prefix,
            max_payload_bytes=settings.max_payload_bytes,
            max_future=timedelta(seconds=settings.max_future_s),
            max_past=timedelta(seconds=settings.max_past_s),
            auto_register=settings.auto_register_devices,
        )
