"""The payload of the ``hub_readings`` channel: committed readings and status
changes of one batch, as compact JSON, split so no payload passes
:data:`MAX_PAYLOAD_BYTES` (PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more).

Each payload starts with the sending process's :data:`ORIGIN`, so a process can
leave its own out without decoding them (it publishes its own batches in-process)::

    {"o": "3f9a0c1b2d4e",
     "p": {"lamp-1": "streetlight"},
     "r": [["lamp-1", "power_w", "2026-12-01T09:00:00+00:00", 41.5]],
     "s": [["lamp-1", "online"]]}
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

import orjson

from hub.events import Event
from hub.model import Reading

MAX_PAYLOAD_BYTES = 7900
# This process, on the payloads it sends (random: a restarted process is a new one).
ORIGIN = secrets.token_hex(6)
_HEAD_TEXT = '{"o":"' + ORIGIN + '","p":'
_HEAD = _HEAD_TEXT.encode()


def own(payload: str) -> bool:
    """Whether this process sent the payload."""
    return payload.startswith(_HEAD_TEXT)


def encode(
    readings: Iterable[Reading],
    profiles: dict[str, str],
    statuses: Iterable[tuple[str, str]] = (),
) -> list[str]:
    """The payloads of one batch (none when it holds nothing to pass on)."""
    payloads: list[str] = []
    rows: list[bytes] = []
    names: dict[str, str] = {}
    size = 0
    for r in readings:
        row = orjson.dumps((r.device_id, r.metric, r.time, r.value))
        # The row, its comma, and its device's profile entry when that is new.
        extra = 0 if r.device_id in names else len(r.device_id) + 40
        if rows and size + len(row) + extra > _BUDGET:
            payloads.append(_dump(names, rows, []))
            rows, names, size = [], {}, 0
            extra = len(r.device_id) + 40
        rows.append(row)
        if r.device_id not in names:
            names[r.device_id] = profiles.get(r.device_id, "")
        size += len(row) + 1 + extra
    status_rows = [[d, s] for d, s in statuses]
    if rows or status_rows:
        # A status change carries its device's profile too (the reader's data class).
        with_status = names
        if status_rows:
            with_status = {**names, **{d: profiles.get(d, "") for d, _ in status_rows}}
        last = _dump(with_status, rows, status_rows)
        if len(last.encode()) > MAX_PAYLOAD_BYTES:  # many status changes
            payloads.append(_dump(names, rows, []))
            payloads.extend(
                _dump({row[0]: profiles.get(row[0], "")}, [], [row]) for row in status_rows
            )
        else:
            payloads.append(last)
    return payloads


_BUDGET = MAX_PAYLOAD_BYTES - 64


def _dump(names: dict[str, str], rows: list[bytes], statuses: list[list[str]]) -> str:
    head = orjson.dumps({d: p for d, p in names.items() if p})
    body = _HEAD + head + b',"r":[' + b",".join(rows) + b"]"
    if statuses:
        body += b',"s":' + orjson.dumps(statuses)
    return (body + b"}").decode()


def decode(payload: str, now: datetime) -> list[Event]:
    """The events of one payload; ``now`` stamps the status changes."""
    body = orjson.loads(payload)
    profiles: dict[str, str] = body.get("p", {})
    events = [
        Event(
            "reading",
            device,
            profiles.get(device),
            datetime.fromisoformat(at),
            {"metric": metric, "value": value},
        )
        for device, metric, at, value in body.get("r", [])
    ]
    events.extend(
        Event("status", device, profiles.get(device), now, {"status": status})
        for device, status in body.get("s", [])
    )
    return events
