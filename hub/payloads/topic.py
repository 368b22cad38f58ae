"""Device topics: ``{prefix}/{profile}/{device_id}/{telemetry|status}``."""

from __future__ import annotations

import re

from hub.errors import PayloadError
from hub.model import MessageKind, Topic

DEVICE_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_PROFILE_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")


def parse_topic(topic: str, prefix: str) -> Topic:
    """Split ``{prefix}/{profile}/{device_id}/{telemetry|status}`` into its parts."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != prefix:
        raise PayloadError(
            "bad_topic", f"expected {prefix}/<profile>/<device_id>/telemetry|status", topic=topic
        )
    _, profile, device_id, last = parts
    kind: MessageKind
    if last == "telemetry":
        kind = "telemetry"
    elif last == "status":
        kind = "status"
    else:
        raise PayloadError("bad_topic", f"unknown message kind {last!r}", topic=topic)
    if not _PROFILE_RE.fullmatch(profile):
        raise PayloadError("bad_topic", f"malformed profile name {profile!r}", topic=topic)
    if not DEVICE_ID_RE.fullmatch(device_id):
        raise PayloadError(
            "bad_topic", "device id must be 1-64 characters of A-Z a-z 0-9 _ . : -", topic=topic
        )
    return Topic(profile=profile, device_id=device_id, kind=kind)
