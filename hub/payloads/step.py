"""The decode step: the bytes of one message and where they came from, in; a
decoded message or a refusal, out. Pure: no I/O, the same input gives the same
output (docs/adr/0008-one-decode-step.md).
"""

from __future__ import annotations

from collections.abc import Callable

from hub.errors import PayloadError
from hub.model import DeadLetter, Item
from hub.payloads.context import DecodeContext, Origin
from hub.payloads.formats import chirpstack, hub, tts

Format = Callable[[bytes, Origin, DecodeContext], Item]

# Every format the hub reads, by the name a source configures (Origin.format).
FORMATS: dict[str, Format] = {
    "hub": hub.decode,
    "tts_v3": tts.decode,
    "chirpstack_v4": chirpstack.decode,
}


def decode(payload: bytes, origin: Origin, context: DecodeContext) -> Item | DeadLetter:
    """Turn one message into an :class:`Item`, or into a :class:`DeadLetter`
    holding the message unchanged with the reason of its refusal."""
    try:
        if len(payload) > context.max_payload_bytes:
            raise PayloadError(
                "oversize", f"{len(payload)} bytes, more than {context.max_payload_bytes}"
            )
        return FORMATS[origin.format](payload, origin, context)
    except PayloadError as exc:
        return DeadLetter(
            origin.received_at,
            origin.topic,
            payload,
            exc.reason,
            exc.detail,
            exc.device_id,
            origin.format,
        )
