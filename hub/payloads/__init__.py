"""Decoding: the bytes of one message -> a decoded message or a refusal. Pure, no I/O.

    step.decode(payload, origin, context) -> Item | DeadLetter
      └── formats.<name>.decode     one module per format (hub, tts_v3, chirpstack_v4)
            ├── topic       {prefix}/{profile}/{device_id}/{telemetry|status}
            ├── status      online / offline
            └── telemetry   JSON object -> hub_json (flat, metrics)
                            JSON array  -> senml (RFC 8428; units by hub.model.units)
                            both        -> checks (metric, type, range, time window)

Every refusal is a :class:`~hub.errors.PayloadError` with one of the dead-letter
reasons, which the step turns into a dead letter; nothing else escapes, whatever
the bytes. The first bad value refuses the whole message, so a message is stored
entirely or not at all. ``docs/payloads.md`` describes the formats.
"""

from hub.model.units import UNIT_CONVERSIONS
from hub.payloads.context import DecodeContext, DeviceDirectory, KnownDevice, Origin
from hub.payloads.status import decode_status
from hub.payloads.step import FORMATS, decode
from hub.payloads.telemetry import DecodedTelemetry, decode_telemetry, decode_telemetry_detailed
from hub.payloads.topic import DEVICE_ID_RE, parse_topic

__all__ = [
    "DEVICE_ID_RE",
    "FORMATS",
    "UNIT_CONVERSIONS",
    "DecodeContext",
    "DecodedTelemetry",
    "DeviceDirectory",
    "KnownDevice",
    "Origin",
    "decode",
    "decode_status",
    "decode_telemetry",
    "decode_telemetry_detailed",
    "parse_topic",
]
