"""Device schemas of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.api.schemas.alerts import AlertOut
from hub.model import Device
from hub.privacy.classes import DataClass

DEVICE_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
Status = Literal["unknown", "online", "offline"]
Latitude = Annotated[float, Field(ge=-90, le=90, description="WGS 84 latitude, degrees.")]
Longitude = Annotated[float, Field(ge=-180, le=180, description="WGS 84 longitude, degrees.")]
Text = Annotated[str, Field(min_length=1, max_length=200)]
DEV_EUI_PATTERN = r"^[0-9A-Fa-f]{16}$"
DevEui = Annotated[
    str,
    Field(
        pattern=DEV_EUI_PATTERN,
        description="LoRaWAN DevEUI: 16 hex digits (stored upper-case); unique.",
        examples=["70B3D5E75E00470C"],
    ),
]
ExternalId = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9_.:@-]{1,128}$",
        description="The device's id on a network server (The Things Stack end-device id); unique.",
        examples=["wm-storgata-12"],
    ),
]


class Location(BaseModel):
    lat: Latitude
    lon: Longitude


class DeviceOut(BaseModel):
    """A registered device."""

    device_id: str = Field(examples=["sl-0042"])
    profile: str = Field(description="Its device profile (type).", examples=["street_light"])
    name: str | None = Field(examples=["Storgata 12, north arm"])
    district: str | None = Field(examples=["Sentrum"])
    location: Location | None = Field(description="Where it is, when known.")
    status: Status = Field(
        description="From its last birth/last-will message; offline when silent past its "
        "profile's offline time (expected_interval_s x offline_factor), online again at "
        "its next message."
    )
    status_changed_at: datetime | None
    registered_at: datetime
    last_seen: datetime | None = Field(description="When the hub last received a message from it.")
    decommissioned_at: datetime | None = Field(
        description="Set when taken out of service; its messages are then refused."
    )
    dev_eui: str | None = Field(None, description="LoRaWAN DevEUI, when it has one.")
    external_id: str | None = Field(None, description="Its id on a network server.")
    data_class: DataClass = Field(
        "internal",
        description="Who may read its data (docs/privacy.md): its own `data_class_override`, "
        "else its profile's class.",
    )
    data_class_override: DataClass | None = Field(
        None, description="The class set for this device alone; null follows the profile."
    )

    @classmethod
    def of(cls, d: Device) -> DeviceOut:
        location = (
            Location(lat=d.lat, lon=d.lon) if d.lat is not None and d.lon is not None else None
        )
        return cls(
            device_id=d.device_id,
            profile=d.profile,
            name=d.name,
            district=d.district,
            location=location,
            status=d.status,
            status_changed_at=d.status_changed_at,
            registered_at=d.registered_at,
            last_seen=d.last_seen,
            decommissioned_at=d.decommissioned_at,
            dev_eui=d.dev_eui,
            external_id=d.external_id,
            data_class=d.data_class,
            data_class_override=d.data_class_override,
        )


class DevicePage(BaseModel):
    items: list[DeviceOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class LatestValue(BaseModel):
    time: datetime
    value: float


class MetricState(BaseModel):
    """A metric of the device: what its profile says and its latest value."""

    name: str = Field(examples=["power"])
    unit: str | None = Field(examples=["W"])
    type: str | None = Field(examples=["float"])
    description: str | None
    latest: LatestValue | None


class UnmappedField(BaseModel):
    """A field of a network server's decoded payload that the profile does not map."""

    field: str = Field(examples=["battery_voltage.value"])
    count: int = Field(description="Uplinks that carried it.")
    last_seen: datetime


class DeviceDetail(DeviceOut):
    """A device with its profile's description, latest values and unresolved alerts."""

    profile_description: str | None
    expected_interval_s: int | None = Field(description="How often it should report.")
    metrics: list[MetricState]
    open_alerts: list[AlertOut] = Field(description="Open and acknowledged alerts, newest first.")
    unmapped_fields: list[UnmappedField] = Field(
        default_factory=list,
        description="Decoded-payload fields its uplinks carried that the profile's "
        "`decoded:` mapping ignores (counted, never a reason to refuse).",
    )


class DeviceCreate(BaseModel):
    """A device registered by an operator (devices also register themselves on
    their first valid message when auto-registration is on)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "device_id": "sl-0042",
                    "profile": "street_light",
                    "name": "Storgata 12, north arm",
                    "district": "Sentrum",
                    "lat": 63.4305,
                    "lon": 10.3951,
                }
            ]
        },
    )

    device_id: str = Field(pattern=DEVICE_ID_PATTERN, description="As in its MQTT topic.")
    profile: str = Field(min_length=1, max_length=63)
    name: Text | None = None
    district: Text | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    dev_eui: DevEui | None = None
    external_id: ExternalId | None = None
    data_class_override: DataClass | None = Field(
        None, description="A data class for this device alone (docs/privacy.md)."
    )

    @model_validator(mode="after")
    def _both_coordinates(self) -> DeviceCreate:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        return self


class DevicePatch(BaseModel):
    """Fields to change; a field left out stays, a field set to null is cleared.
    Changing the profile makes the ingest refuse messages on the old profile's topic."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Storgata 14", "lat": 63.43, "lon": 10.39}]},
    )

    profile: str | None = Field(None, min_length=1, max_length=63)
    name: Text | None = None
    district: Text | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    dev_eui: DevEui | None = None
    external_id: ExternalId | None = None
    data_class_override: DataClass | None = Field(
        None, description="A data class for this device alone; null follows its profile's."
    )

    @model_validator(mode="after")
    def _profile_not_cleared(self) -> DevicePatch:
        if "profile" in self.model_fields_set and self.profile is None:
            raise ValueError("profile cannot be cleared")
        return self
