"""The Things Stack (v3) uplinks: the ``ApplicationUp`` JSON that its webhooks post
and its MQTT server publishes on ``v3/{application id}[@{tenant}]/devices/{device
id}/up``, as defined by ``api/ttn/lorawan/v3/messages.proto`` (snake_case names,
empty fields left out, bytes in base64, EUIs as hex strings)::

    {"end_device_ids": {"device_id": "wm-0042", "dev_eui": "70B3D57ED005B89A",
                        "application_ids": {"application_id": "town-water"}},
     "received_at": "...",
     "uplink_message": {"f_port": 100, "f_cnt": 1834, "frm_payload": "AQID...",
                        "decoded_payload": {...},
                        "rx_metadata": [{"gateway_ids": {"gateway_id": "..."},
                                         "rssi": -68, "channel_rssi": -68, "snr": 9.2}],
                        "settings": {"data_rate": {"lora": {"bandwidth": 125000,
                                                            "spreading_factor": 7}}},
                        "received_at": "..."}}

The reading time is ``uplink_message.received_at`` (when the Network Server got
it), so the same uplink through the webhook and through MQTT is the same reading.
"""

from __future__ import annotations

from typing import Any

import orjson

from hub.errors import PayloadError
from hub.model import Item
from hub.payloads.context import DecodeContext, Origin
from hub.payloads.formats.lorawan import Gateway, Uplink, hex_eui, ns_time, number, to_item

# Message types of ApplicationUp other than uplink_message (the ``up`` oneof).
OTHER_MESSAGES = (
    "uplink_normalized",
    "join_accept",
    "downlink_ack",
    "downlink_nack",
    "downlink_sent",
    "downlink_failed",
    "downlink_queued",
    "downlink_queue_invalidated",
    "location_solved",
    "service_data",
)


def message_type(doc: object) -> str | None:
    """Which ApplicationUp message ``doc`` is (``uplink_message``, ``join_accept``, ...)."""
    if not isinstance(doc, dict):
        return None
    if "uplink_message" in doc:
        return "uplink_message"
    return next((kind for kind in OTHER_MESSAGES if kind in doc), None)


def decode(payload: bytes, origin: Origin, context: DecodeContext) -> Item:
    return to_item(parse(payload), payload, origin.topic, context)


def parse(payload: bytes) -> Uplink:
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError("decode", f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise PayloadError("decode", "expected a JSON object (ApplicationUp)")
    ids = _object(doc, "end_device_ids")
    up = doc.get("uplink_message")
    if not isinstance(up, dict):
        kind = message_type(doc)
        raise PayloadError(
            "decode",
            f"not an uplink message ({kind})" if kind else "no uplink_message in the message",
        )
    device_id = ids.get("device_id")
    external_id = device_id if isinstance(device_id, str) and device_id else None
    dev_eui = hex_eui(ids.get("dev_eui"))
    if external_id is None and dev_eui is None:
        raise PayloadError("decode", "end_device_ids has neither device_id nor dev_eui")
    time = ns_time(up.get("received_at") or doc.get("received_at"), "received_at")
    decoded = up.get("decoded_payload")
    lora = _object(_object(_object(up, "settings"), "data_rate"), "lora")
    sf = lora.get("spreading_factor")
    f_cnt = up.get("f_cnt", 0)  # left out when 0
    return Uplink(
        network="tts",
        time=time,
        dev_eui=dev_eui,
        external_id=external_id,
        application=_object(ids, "application_ids").get("application_id"),
        f_cnt=f_cnt if isinstance(f_cnt, int) and not isinstance(f_cnt, bool) else None,
        f_port=up.get("f_port") if isinstance(up.get("f_port"), int) else None,
        decoded=decoded if isinstance(decoded, dict) and decoded else None,
        gateways=tuple(_gateway(rx) for rx in up.get("rx_metadata") or () if isinstance(rx, dict)),
        spreading_factor=sf if isinstance(sf, int) and not isinstance(sf, bool) else None,
    )


def _gateway(rx: dict[str, Any]) -> Gateway:
    rssi = number(rx.get("rssi"))
    if rssi is None:
        rssi = number(rx.get("channel_rssi"))
    return Gateway(rssi, number(rx.get("snr")))


def _object(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}
