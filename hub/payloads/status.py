"""Status messages: ``online`` / ``offline``."""

from __future__ import annotations

from typing import Literal

import orjson

from hub.errors import PayloadError


def decode_status(payload: bytes) -> Literal["online", "offline"]:
    """Read a status message: ``online``/``offline`` as text, JSON string or object."""
    text = payload.strip()
    if text == b"online":
        return "online"
    if text == b"offline":
        return "offline"
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise PayloadError("decode", "status must be 'online' or 'offline'") from None
    if isinstance(doc, dict) and set(doc) == {"status"}:
        doc = doc["status"]
    if doc == "online":
        return "online"
    if doc == "offline":
        return "offline"
    raise PayloadError("decode", "status must be 'online' or 'offline'")
