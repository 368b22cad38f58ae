"""The batch writer: decoded messages in, one committed transaction out.

A batch is written as: register unknown devices and series (idempotent, committed
on their own), then in one transaction a binary COPY of the readings into a
temporary staging table, ``INSERT ... ON CONFLICT DO NOTHING`` into ``readings``
(a reading is unique per series and time, so a redelivered message adds nothing),
the dead letters, status changes and ``last_seen``. Only when :meth:`write`
returns may the messages be acknowledged.

When the database is unreachable, :meth:`write` keeps the batch and retries with
capped backoff until it succeeds: the pipeline behind it stops taking messages and
the broker holds the backlog. A batch the database refuses for another reason is
written message by message, and a message that still fails becomes a dead letter
(``store_rejected``), so one bad value cannot stop the pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from hub.model import DeadLetter, Item, Outcome, Reading
from hub.store import ingest_sql as q
from hub.store import uplinks
from hub.store.copy_binary import encode_readings
from hub.store.db import aconnect

log = logging.getLogger(__name__)

AsyncConn = psycopg.AsyncConnection[tuple[Any, ...]]

LAST_SEEN_RESOLUTION = timedelta(seconds=30)
# Devices changed through the API (decommissioned, profile changed) are seen by
# the ingest at the latest this long after the change.
DEVICE_CACHE_TTL_S = 30.0
_Row = tuple[int, datetime, float]
_TRANSIENT = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


@dataclass(frozen=True, slots=True)
class _Device:
    pk: int
    profile: str
    decommissioned: bool


class BatchWriter:
    """Writes batches over one connection, reconnecting as needed.

    Args:
        url: PostgreSQL URL.
        storage: ``plain`` (rollups kept here) or ``timescale`` (continuous aggregates).
        auto_register: register unknown devices; otherwise their messages are dead letters.
        retry_max_s: cap of the backoff while the database is unreachable.
    """

    def __init__(
        self, url: str, *, storage: str, auto_register: bool, retry_max_s: float = 5.0
    ) -> None:
        self._url = url
        self._storage = storage
        self._insert = (
            q.INSERT_READINGS if storage == "timescale" else q.INSERT_READINGS_WITH_ROLLUPS
        )
        self._auto_register = auto_register
        self._retry_max_s = retry_max_s
        self._conn: AsyncConn | None = None
        self._devices: dict[str, _Device] = {}
        self._devices_since = time.monotonic()
        self._series: dict[tuple[int, str], int] = {}
        self._last_seen: dict[int, datetime] = {}
        self.database_up = False
        self.unreachable = False  # the last attempt to write failed to reach the database
        self._registered: list[tuple[str, str, str | None, str | None]] = []
        self._keep_refused = True

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def write(
        self, items: Sequence[Item], dead: Sequence[DeadLetter], *, keep_refused: bool = True
    ) -> Outcome:
        """Commit the batch; wait (retrying) while the database is unreachable.

        With ``keep_refused`` off (a replay of dead letters), items the writer refuses
        are not stored as new dead letters, only reported in ``Outcome.refused``."""
        self._keep_refused = keep_refused
        attempt = 0
        one_by_one = False
        while True:
            try:
                if one_by_one:
                    outcome = await self._write_one_by_one(items, dead)
                else:
                    outcome = await self._write_batch(await self._connection(), items, dead)
                self.database_up = True
                self.unreachable = False
                return outcome
            except (psycopg.OperationalError, psycopg.InterfaceError, *_TRANSIENT) as exc:
                if not isinstance(exc, _TRANSIENT):
                    await self._drop_connection()
                    if self.database_up or attempt == 0:
                        log.warning("database unreachable, ingest paused: %s", _first_line(exc))
                    self.database_up = False
                    self.unreachable = True
                attempt += 1
                delay = min(self._retry_max_s, 0.1 * 2 ** min(attempt, 8))
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            except psycopg.Error as exc:
                if one_by_one:
                    raise
                log.error(
                    "database refused a batch (%s); writing message by message", _first_line(exc)
                )
                one_by_one = True

    # -- batch ------------------------------------------------------------------------

    async def _connection(self) -> AsyncConn:
        if self._conn is None or self._conn.closed:
            self._conn = await aconnect(self._url, "ingest", autocommit=True)
            await self._conn.execute(q.CREATE_STAGING)
            if not self.database_up:
                log.info("database connected; ingest running")
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(TimeoutError, psycopg.Error, OSError):
                await asyncio.wait_for(conn.close(), 2)

    async def _write_batch(
        self, conn: AsyncConn, items: Sequence[Item], dead: Sequence[DeadLetter]
    ) -> Outcome:
        outcome = Outcome()
        self._registered = []
        devices = await self._resolve_devices(conn, items)
        outcome.registered = self._registered
        accepted: list[tuple[Item, _Device]] = []
        rejected: list[DeadLetter] = list(dead)
        for item in items:
            device = devices.get(item.device_id)
            refusal = self._refusal(item, device)
            if refusal is not None:
                if self._keep_refused:
                    rejected.append(refusal)
                outcome.refused[id(item)] = refusal
            elif device is not None:
                accepted.append((item, device))
        series = await self._resolve_series(conn, accepted)

        rows: list[_Row] = []
        statuses: dict[int, tuple[str, datetime, str]] = {}
        seen: dict[int, datetime] = {}
        f_cnts: list[tuple[int, datetime, int]] = []  # (device pk, time, frame counter)
        unmapped: list[tuple[int, str, datetime]] = []
        for item, device in accepted:
            lorawan = item.lorawan
            if lorawan is not None:
                if lorawan.missed_frames and lorawan.f_cnt is not None:
                    f_cnts.append((device.pk, item.received_at, lorawan.f_cnt))
                unmapped.extend((device.pk, f, item.received_at) for f in lorawan.unmapped)
            if item.status is not None:
                statuses[device.pk] = (item.status, item.received_at, item.device_id)
            for reading in item.readings:
                rows.append((series[device.pk, reading.metric], reading.time, reading.value))
            previous = seen.get(device.pk)
            if previous is None or item.received_at > previous:
                seen[device.pk] = item.received_at
        seen = {
            pk: at
            for pk, at in seen.items()
            if pk not in self._last_seen or at - self._last_seen[pk] >= LAST_SEEN_RESOLUTION
        }

        missed: list[Reading] = []
        async with conn.transaction(), conn.cursor() as cur:
            if f_cnts:
                names = {device.pk: item.device_id for item, device in accepted}
                for pk, at, gap in await uplinks.missed_frames(cur, f_cnts):
                    rows.append((series[pk, uplinks.MISSED_FRAMES], at, gap))
                    missed.append(Reading(names[pk], uplinks.MISSED_FRAMES, at, gap))
            if rows:
                await self._insert_readings(conn, cur, rows)
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
                await cur.execute(
                    q.UPDATE_LAST_SEEN, {"ids": list(seen), "ats": list(seen.values())}
                )

        self._last_seen.update(seen)
        for item, _ in accepted:
            outcome.readings.extend(item.readings)
            outcome.profiles[item.device_id] = item.profile
            if item.receive_time_used:
                outcome.receive_time_used += 1
        outcome.readings.extend(missed)
        outcome.statuses = [(device_id, s) for s, _, device_id in statuses.values()]
        outcome.dead.update(d.reason for d in rejected)
        return outcome

    async def _insert_readings(
        self, conn: AsyncConn, cur: psycopg.AsyncCursor[Any], rows: list[_Row]
    ) -> None:
        """Fast path in a savepoint; on a unique violation (a redelivery), the
        idempotent ``ON CONFLICT DO NOTHING`` path."""
        try:
            async with conn.transaction():
                if self._storage == "timescale":
                    await _copy(cur, q.COPY_READINGS, rows)
                else:
                    await _copy(cur, q.COPY_STAGING, rows)
                    await cur.execute(q.INSERT_NEW_READINGS_WITH_ROLLUPS)
            return
        except psycopg.errors.UniqueViolation:
            pass
        await _copy(cur, q.COPY_STAGING, rows)
        await cur.execute(self._insert)

    def _refusal(self, item: Item, device: _Device | None) -> DeadLetter | None:
        def dead(reason: str, detail: str) -> DeadLetter:
            return DeadLetter(
                item.received_at,
                item.topic,
                item.payload,
                reason,
                detail,
                item.device_id,
                item.format,
            )

        if device is None:
            return dead("unknown_device", f"device {item.device_id!r} is not registered")
        if device.decommissioned:
            return dead("unknown_device", f"device {item.device_id!r} is decommissioned")
        if device.profile != item.profile:
            return dead(
                "profile_mismatch", f"device {item.device_id!r} is registered as {device.profile!r}"
            )
        return None

    async def _resolve_devices(self, conn: AsyncConn, items: Sequence[Item]) -> dict[str, _Device]:
        if time.monotonic() - self._devices_since > DEVICE_CACHE_TTL_S:
            self._devices.clear()
            self._devices_since = time.monotonic()
        wanted = {item.device_id: item.profile for item in items}
        missing = [d for d in wanted if d not in self._devices]
        if missing:
            await self._load_devices(conn, missing)
            unknown = [d for d in missing if d not in self._devices]
            if unknown and self._auto_register:
                identities = {
                    item.device_id: item.lorawan
                    for item in items
                    if item.lorawan is not None and item.lorawan.register
                }
                plain = [d for d in unknown if d not in identities]
                if plain:
                    await conn.execute(
                        q.REGISTER_DEVICES,
                        {"device_ids": plain, "profiles": [wanted[d] for d in plain]},
                    )
                lorawan = [d for d in unknown if d in identities]
                self._registered = [
                    (d, wanted[d], identities[d].dev_eui, identities[d].external_id)
                    for d in lorawan
                ]
                if lorawan:
                    await uplinks.register(
                        conn,
                        [
                            (
                                d,
                                wanted[d],
                                identities[d].dev_eui,
                                identities[d].external_id,
                                identities[d].name,
                            )
                            for d in lorawan
                        ],
                    )
                await self._load_devices(conn, unknown)
                for device_id in unknown:
                    log.info("device registered", extra={"device_id": device_id})
        return {d: self._devices[d] for d in wanted if d in self._devices}

    async def _load_devices(self, conn: AsyncConn, device_ids: list[str]) -> None:
        cur = await conn.execute(q.SELECT_DEVICES, {"device_ids": device_ids})
        for pk, device_id, profile, decommissioned in await cur.fetchall():
            self._devices[device_id] = _Device(pk, profile, decommissioned)

    async def _resolve_series(
        self, conn: AsyncConn, accepted: Sequence[tuple[Item, _Device]]
    ) -> dict[tuple[int, str], int]:
        missing = {
            (device.pk, r.metric)
            for item, device in accepted
            for r in item.readings
            if (device.pk, r.metric) not in self._series
        }
        missing.update(
            (device.pk, uplinks.MISSED_FRAMES)
            for item, device in accepted
            if item.lorawan is not None
            and item.lorawan.missed_frames
            and (device.pk, uplinks.MISSED_FRAMES) not in self._series
        )
        if missing:
            params = {"devices": [d for d, _ in missing], "metrics": [m for _, m in missing]}
            await conn.execute(q.REGISTER_SERIES, params)
            cur = await conn.execute(q.SELECT_SERIES, params)
            for pk, device, metric in await cur.fetchall():
                self._series[device, metric] = pk
        return self._series

    # -- fallback ---------------------------------------------------------------------

    async def _write_one_by_one(self, items: Sequence[Item], dead: Sequence[DeadLetter]) -> Outcome:
        total = Outcome()
        for item in items:
            try:
                conn = await self._connection()
                one = await self._write_batch(conn, [item], [])
            except (psycopg.OperationalError, psycopg.InterfaceError):
                raise
            except psycopg.Error as exc:
                detail = _first_line(exc)
                log.error(
                    "message refused by the database: %s",
                    detail,
                    extra={"device_id": item.device_id, "topic": item.topic},
                )
                conn = await self._connection()
                one = await self._write_batch(
                    conn,
                    [],
                    [
                        DeadLetter(
                            item.received_at,
                            item.topic,
                            item.payload,
                            "store_rejected",
                            detail,
                            item.device_id,
                        )
                    ],
                )
            total.readings.extend(one.readings)
            total.dead.update(one.dead)
            total.statuses.extend(one.statuses)
            total.profiles.update(one.profiles)
            total.receive_time_used += one.receive_time_used
        if dead:
            conn = await self._connection()
            total.dead.update((await self._write_batch(conn, [], dead)).dead)
        return total


async def _copy(cur: psycopg.AsyncCursor[Any], statement: str, rows: list[_Row]) -> None:
    async with cur.copy(statement) as copy:
        await copy.write(encode_readings(rows))  # one await for the whole batch


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
