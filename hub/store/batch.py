"""One batch in one transaction: readings (binary COPY), dead letters, status
changes, ``last_seen``, and what LoRaWAN uplinks add (missed frames, unmapped
fields). Devices and series are resolved (and registered) first, committed on
their own, so a redelivered batch finds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from hub.cluster import wire
from hub.model import DeadLetter, Item, Outcome, Reading
from hub.store import cluster, uplinks
from hub.store import ingest_sql as q
from hub.store.copy_binary import encode_readings
from hub.store.db import AsyncConn
from hub.store.ingest_devices import DeviceCache, KnownDevice, refusal

_Row = tuple[int, datetime, float]


async def write_batch(
    conn: AsyncConn,
    cache: DeviceCache,
    items: Sequence[Item],
    dead: Sequence[DeadLetter],
    *,
    storage: str,
    keep_refused: bool,
    notify: bool = False,
) -> Outcome:
    """Commit ``items`` and ``dead`` in one transaction; psycopg's errors go up.

    With ``notify``, the committed readings and status changes also go out on the
    ``hub_readings`` channel, in the same transaction (so only once committed)."""
    outcome = Outcome()
    devices, outcome.registered = await cache.devices(conn, items)
    accepted: list[tuple[Item, KnownDevice]] = []
    rejected: list[DeadLetter] = list(dead)
    for item in items:
        device = devices.get(item.device_id)
        refused = refusal(item, device)
        if refused is not None:
            if keep_refused:
                rejected.append(refused)
            outcome.refused[id(item)] = refused
        elif device is not None:
            accepted.append((item, device))
    try:  # one pass over the readings while every series is known (the usual case)
        rows, statuses, seen, f_cnts, unmapped = _collect(accepted, cache.known_series)
    except KeyError:
        series = await cache.series(conn, accepted)
        rows, statuses, seen, f_cnts, unmapped = _collect(accepted, series)
    series = cache.known_series
    seen = cache.last_seen_due(seen)

    missed: list[Reading] = []
    async with conn.transaction(), conn.cursor() as cur:
        if f_cnts:
            names = {device.pk: item.device_id for item, device in accepted}
            for pk, at, gap in await uplinks.missed_frames(cur, f_cnts):
                rows.append((series[pk, uplinks.MISSED_FRAMES], at, gap))
                missed.append(Reading(names[pk], uplinks.MISSED_FRAMES, at, gap))
        if rows:
            await _insert_readings(conn, cur, rows, storage)
        if unmapped:
            await uplinks.count_unmapped(cur, unmapped)
        if rejected:
            async with cur.copy(q.COPY_DEAD_LETTERS) as copy:
                copy.set_types(q.DEAD_LETTER_TYPES)
                for d in rejected:
                    await copy.write_row(
                        (
                            d.received_at,
                            d.topic,
                            d.payload,
                            d.reason,
                            d.detail,
                            d.device_id,
                            d.format,
                        )
                    )
        if statuses:
            await cur.execute(
                q.UPDATE_STATUS,
                {
                    "ids": list(statuses),
                    "statuses": [s for s, _, _ in statuses.values()],
                    "ats": [at for _, at, _ in statuses.values()],
                },
            )
        if seen:
            await cur.execute(q.UPDATE_LAST_SEEN, {"ids": list(seen), "ats": list(seen.values())})
        if notify:
            payloads = wire.encode(
                [r for item, _ in accepted for r in item.readings] + missed,
                {item.device_id: item.profile for item, _ in accepted},
                [(device_id, s) for s, _, device_id in statuses.values()],
            )
            if payloads:
                await cluster.notify_readings(cur, payloads)

    cache.last_seen_written(seen)
    for item, _ in accepted:
        outcome.readings.extend(item.readings)
        outcome.profiles[item.device_id] = item.profile
        if item.receive_time_used:
            outcome.receive_time_used += 1
    outcome.readings.extend(missed)
    outcome.statuses = [(device_id, s) for s, _, device_id in statuses.values()]
    outcome.dead.update(d.reason for d in rejected)
    return outcome


def _collect(
    accepted: Sequence[tuple[Item, KnownDevice]], series: dict[tuple[int, str], int]
) -> tuple[
    list[_Row],
    dict[int, tuple[str, datetime, str]],
    dict[int, datetime],
    list[tuple[int, datetime, int]],
    list[tuple[int, str, datetime]],
]:
    """The rows of the readings, the status changes, the latest receive time by device,
    LoRaWAN frame counters and unmapped fields; ``KeyError`` when a series is unknown."""
    rows: list[_Row] = []
    statuses: dict[int, tuple[str, datetime, str]] = {}
    seen: dict[int, datetime] = {}
    f_cnts: list[tuple[int, datetime, int]] = []  # (device pk, time, frame counter)
    unmapped: list[tuple[int, str, datetime]] = []
    for item, device in accepted:
        pk = device.pk
        lorawan = item.lorawan
        if lorawan is not None:
            if lorawan.missed_frames:
                if (pk, uplinks.MISSED_FRAMES) not in series:  # registered before the COPY
                    raise KeyError(uplinks.MISSED_FRAMES)
                if lorawan.f_cnt is not None:
                    f_cnts.append((pk, item.received_at, lorawan.f_cnt))
            unmapped.extend((pk, f, item.received_at) for f in lorawan.unmapped)
        if item.status is not None:
            statuses[pk] = (item.status, item.received_at, item.device_id)
        rows.extend([(series[pk, r.metric], r.time, r.value) for r in item.readings])
        previous = seen.get(pk)
        if previous is None or item.received_at > previous:
            seen[pk] = item.received_at
    return rows, statuses, seen, f_cnts, unmapped


async def _insert_readings(
    conn: AsyncConn, cur: psycopg.AsyncCursor[Any], rows: list[_Row], storage: str
) -> None:
    """Fast path in a savepoint; on a unique violation (a redelivery), the
    idempotent ``ON CONFLICT DO NOTHING`` path. At the plain level, a batch with
    readings below the rollups' watermark takes the path that adds them to the
    rollups' late parts."""
    if storage != "timescale":
        await cur.execute(q.BELOW_WATERMARK, {"first": min(row[1] for row in rows)})
        below = await cur.fetchone()
        if below is not None and below[1]:
            await _copy(cur, q.COPY_STAGING, rows)
            await cur.execute(q.INSERT_READINGS_BELOW_WATERMARK)
            return
    try:
        async with conn.transaction():
            await _copy(cur, q.COPY_READINGS, rows)
        return
    except psycopg.errors.UniqueViolation:
        pass
    await _copy(cur, q.COPY_STAGING, rows)
    await cur.execute(q.INSERT_READINGS)


async def _copy(cur: psycopg.AsyncCursor[Any], statement: str, rows: list[_Row]) -> None:
    async with cur.copy(statement) as copy:
        await copy.write(encode_readings(rows))  # one await for the whole batch
