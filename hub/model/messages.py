"""What the ingest makes of a message: a decoded item or a dead letter, and what
a committed batch held.

``Item`` is a NamedTuple, built once per message on the hot path
(docs/adr/0007-hot-path-records.md); the others are built per refusal or per batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

from hub.model.readings import Reading

MessageKind = Literal["telemetry", "status"]


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed device topic: ``{prefix}/{profile}/{device_id}/{kind}``."""

    profile: str
    device_id: str
    kind: MessageKind


class LorawanInfo(NamedTuple):
    """What an uplink from a LoRaWAN network server adds to its item, for the writer."""

    dev_eui: str | None
    external_id: str | None
    name: str | None
    register: bool  # not registered yet: the writer registers it with these identities
    f_cnt: int | None
    missed_frames: bool  # the profile stores lora_missed_frames (gaps in f_cnt)
    unmapped: tuple[str, ...]  # decoded-payload fields the profile does not map


class Item(NamedTuple):
    """One decoded message: readings (telemetry) or a status (``online``/``offline``).

    ``receive_time_used`` is true when a reading got the receive time because the
    message had no timestamp of its own (or a SenML time relative to it).
    """

    topic: str
    payload: bytes
    received_at: datetime
    device_id: str
    profile: str
    readings: Sequence[Reading] = ()
    status: str | None = None
    receive_time_used: bool = False
    lorawan: LorawanInfo | None = None
    format: str = "hub"  # of the payload, kept with a dead letter made of it


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A refused message, kept unchanged with why it was refused."""

    received_at: datetime
    topic: str
    payload: bytes
    reason: str
    detail: str
    device_id: str | None = None
    format: str = "hub"  # how to decode the payload again (replay)


@dataclass(slots=True)
class Outcome:
    """What a committed batch held."""

    readings: list[Reading] = field(default_factory=list)
    dead: Counter[str] = field(default_factory=Counter)
    statuses: list[tuple[str, str]] = field(default_factory=list)  # (device_id, status)
    profiles: dict[str, str] = field(default_factory=dict)  # device_id -> profile
    receive_time_used: int = 0  # messages whose readings got the receive time
    # Items the writer refused (unknown device, ...), by id() of the item: the HTTP
    # ingest answers their senders with the reason.
    refused: dict[int, DeadLetter] = field(default_factory=dict)
    # Devices registered with LoRaWAN identities: (device_id, profile, dev_eui, external_id).
    registered: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
