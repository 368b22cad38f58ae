"""Uplinks as the network servers send them, for tests.

The Things Stack: an ``ApplicationUp`` as its webhook and MQTT integrations send it
(api/ttn/lorawan/v3/messages.proto; the JSON example of TTS's "Data formats" page:
snake_case, empty fields left out, EUIs as hex, ``frequency`` as a string).
ChirpStack: an ``UplinkEvent`` built with the protobuf classes of the
``chirpstack-api`` package and marshalled with protobuf's own JSON mapping, so the
field names are those ChirpStack's JSON marshaler writes.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from chirpstack_api import common, gw, integration
from google.protobuf import json_format, struct_pb2
from google.protobuf.timestamp_pb2 import Timestamp


def _rfc3339(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def tts_uplink(
    *,
    device_id: str,
    dev_eui: str,
    application_id: str,
    received_at: datetime,
    f_cnt: int,
    decoded: Mapping[str, Any] | None,
    gateways: Sequence[tuple[float, float]] = ((-68.0, 9.2),),
    spreading_factor: int = 7,
    f_port: int = 2,
) -> dict[str, Any]:
    """An ApplicationUp with an uplink_message; ``gateways`` are (rssi, snr) pairs."""
    up: dict[str, Any] = {
        "session_key_id": "AWNbm/4zfqx0jZ5q1NlBmw==",
        "f_port": f_port,
        "f_cnt": f_cnt,
        "frm_payload": base64.b64encode(b"\x01\x2b\x01\x28\x00\x00").decode(),
        "rx_metadata": [
            {
                "gateway_ids": {
                    "gateway_id": f"eui-aa555a000000010{n}",
                    "eui": f"AA555A000000010{n}",
                },
                "time": _rfc3339(received_at),
                "timestamp": 3895211423 + n,
                "rssi": rssi,
                "channel_rssi": rssi,
                "snr": snr,
                "location": {
                    "latitude": 60.79,
                    "longitude": 11.07,
                    "altitude": 130,
                    "source": "SOURCE_REGISTRY",
                },
                "uplink_token": "CiIKIAoUZXVpLWFhNTU1YTAwMDAwMDAxMDESCKpVWgAAAAEBEJ+h3aAOGgwI",
                "received_at": _rfc3339(received_at),
            }
            for n, (rssi, snr) in enumerate(gateways)
        ],
        "settings": {
            "data_rate": {
                "lora": {
                    "bandwidth": 125000,
                    "spreading_factor": spreading_factor,
                    "coding_rate": "4/5",
                }
            },
            "frequency": "868100000",
            "timestamp": 3895211423,
        },
        "received_at": _rfc3339(received_at),
        "consumed_airtime": "0.061696s",
        "network_ids": {"net_id": "000013", "tenant_id": "ttn", "cluster_id": "eu1"},
    }
    if f_cnt == 0:
        del up["f_cnt"]  # TTS leaves out empty fields
    if decoded is not None:
        up["decoded_payload"] = dict(decoded)
    return {
        "end_device_ids": {
            "device_id": device_id,
            "application_ids": {"application_id": application_id},
            "dev_eui": dev_eui,
            "join_eui": "0000000000000001",
            "dev_addr": "260BABCD",
        },
        "correlation_ids": [
            "as:up:01HX6YGQ7E0V83YRZ7K4S5J4ZN",
            "gs:uplink:01HX6YGQ7AS3VTM5W5W36YV1F1",
        ],
        "received_at": _rfc3339(received_at),
        "uplink_message": up,
    }


def chirpstack_uplink(
    *,
    dev_eui: str,
    time: datetime,
    f_cnt: int,
    decoded: Mapping[str, Any] | None,
    device_name: str = "Storgata 12",
    device_profile_name: str = "Axioma Qalcosonic W1",
    application_name: str = "town-water",
    tags: Mapping[str, str] | None = None,
    gateways: Sequence[tuple[int, float]] = ((-52, 13.75),),
    spreading_factor: int = 7,
) -> dict[str, Any]:
    """An UplinkEvent as ChirpStack's JSON marshaler writes it."""
    stamp = Timestamp()
    stamp.FromDatetime(time)
    event = integration.UplinkEvent(
        deduplication_id="3ac7e3c4-4401-4b8d-9386-a5c902f9202d",
        time=stamp,
        device_info=integration.DeviceInfo(
            tenant_id="52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
            tenant_name="Kommune",
            application_id="17c82e96-be03-4f38-aef3-f83d48582d97",
            application_name=application_name,
            device_profile_id="14855bf7-d10d-4aee-b618-ebfcb64dc7ad",
            device_profile_name=device_profile_name,
            device_name=device_name,
            dev_eui=dev_eui.lower(),
            device_class_enabled=common.DeviceClass.CLASS_A,
            tags=dict(tags or {}),
        ),
        dev_addr="00189440",
        adr=True,
        dr=5,
        f_cnt=f_cnt,
        f_port=1,
        data=b"\x01\x02\x03",
        rx_info=[
            gw.UplinkRxInfo(
                gateway_id=f"0016c001f153a14{n}",
                uplink_id=1000 + n,
                ns_time=stamp,
                rssi=rssi,
                snr=snr,
                channel=2,
                context=b"\x00\x01",
                crc_status=gw.CRCStatus.CRC_OK,
            )
            for n, (rssi, snr) in enumerate(gateways)
        ],
        tx_info=gw.UplinkTxInfo(
            frequency=868100000,
            modulation=gw.Modulation(
                lora=gw.LoraModulationInfo(
                    bandwidth=125000,
                    spreading_factor=spreading_factor,
                    code_rate=gw.CodeRate.CR_4_5,
                )
            ),
        ),
        region_config_id="eu868",
    )
    if decoded is not None:
        payload = struct_pb2.Struct()
        payload.update(dict(decoded))
        event.object.CopyFrom(payload)
    return json_format.MessageToDict(event)


def chirpstack_status(
    *, dev_eui: str, time: datetime, margin: int, battery_level: float
) -> dict[str, Any]:
    stamp = Timestamp()
    stamp.FromDatetime(time)
    event = integration.StatusEvent(
        deduplication_id="5b6b1c2e-0a11-4a47-9a3b-7e3c0f1d2a10",
        time=stamp,
        device_info=integration.DeviceInfo(dev_eui=dev_eui.lower(), device_name="Storgata 12"),
        margin=margin,
        battery_level=battery_level,
    )
    return json_format.MessageToDict(event)
