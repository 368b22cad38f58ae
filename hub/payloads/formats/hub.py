"""The hub's own MQTT format: the topic names profile, device and kind; the
payload is a status or telemetry in one of the hub's formats (``docs/payloads.md``)."""

from __future__ import annotations

from hub.errors import PayloadError
from hub.model import Item
from hub.payloads.context import TOPIC_CACHE_SIZE, DecodeContext, Origin
from hub.payloads.status import decode_status
from hub.payloads.telemetry import decode_readings
from hub.payloads.topic import parse_topic


def decode(payload: bytes, origin: Origin, context: DecodeContext) -> Item:
    topics = context.topics
    topic = topics.get(origin.topic)
    if topic is None:
        topic = parse_topic(origin.topic, context.topic_prefix)
        if len(topics) >= TOPIC_CACHE_SIZE:
            topics.clear()
        topics[origin.topic] = topic
    device_id = topic.device_id
    profile = context.profiles.get(topic.profile)
    if profile is None:
        raise PayloadError(
            "unknown_profile", f"no device profile {topic.profile!r}", device_id=device_id
        )
    if topic.kind == "status":
        try:
            status = decode_status(payload)
        except PayloadError as exc:
            exc.device_id = device_id
            raise
        return Item(origin.topic, payload, origin.received_at, device_id, topic.profile, (), status)
    readings, receive_time_used = decode_readings(
        payload, device_id, profile, origin.received_at, context.max_future, context.max_past
    )
    return Item(
        origin.topic,
        payload,
        origin.received_at,
        device_id,
        topic.profile,
        readings,
        None,
        receive_time_used,
    )
