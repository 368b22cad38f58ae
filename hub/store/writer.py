"""The batch writer: decoded messages in, one committed transaction out.

A batch is written as: register unknown devices and series (idempotent, committed
on their own), then in one transaction a binary COPY of the readings into a
temporary staging table, ``INSERT ... ON CONFLICT DO NOTHING`` into ``readings``
(a reading is unique per series and time, so a redelivered message adds nothing),
the dead letters, status changes and ``last_seen``. Only when :meth:`write`
returns may the messages be acknowledged.

The parts: :mod:`hub.store.batch` writes one batch in one transaction,
:mod:`hub.store.ingest_devices` caches (and registers) devices and series; this
module holds the connection and the retry policy.

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
from collections.abc import Sequence

import psycopg

from hub.backoff import backoff_delay
from hub.model import DeadLetter, Item, Outcome
from hub.store import ingest_sql as q
from hub.store.batch import write_batch
from hub.store.db import CONNECTION_ERRORS, AsyncConn, aconnect, first_line
from hub.store.ingest_devices import DeviceCache

log = logging.getLogger(__name__)


_TRANSIENT = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


class BatchWriter:
    """Writes batches over one connection, reconnecting as needed.

    Args:
        url: PostgreSQL URL.
        storage: ``plain`` (rollups refreshed from a watermark: :mod:`hub.store.rollups`)
            or ``timescale`` (continuous aggregates).
        auto_register: register unknown devices; otherwise their messages are dead letters.
        retry_max_s: cap of the backoff while the database is unreachable.
    """

    def __init__(
        self,
        url: str,
        *,
        storage: str,
        auto_register: bool,
        retry_max_s: float = 5.0,
        notify: bool = False,
    ) -> None:
        self._url = url
        self._notify = notify
        self._storage = storage
        self._retry_max_s = retry_max_s
        self._conn: AsyncConn | None = None
        self._cache = DeviceCache(auto_register=auto_register)
        self.database_up = False
        self.unreachable = False  # the last attempt to write failed to reach the database

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
        attempt = 0
        one_by_one = False
        while True:
            try:
                if one_by_one:
                    outcome = await self._write_one_by_one(items, dead, keep_refused)
                else:
                    outcome = await self._batch(items, dead, keep_refused)
                self.database_up = True
                self.unreachable = False
                return outcome
            except (*CONNECTION_ERRORS, *_TRANSIENT) as exc:
                if not isinstance(exc, _TRANSIENT):
                    await self._drop_connection()
                    if self.database_up or attempt == 0:
                        log.warning("database unreachable, ingest paused: %s", first_line(exc))
                    self.database_up = False
                    self.unreachable = True
                attempt += 1
                await asyncio.sleep(backoff_delay(attempt, base=0.1, cap=self._retry_max_s))
            except psycopg.Error as exc:
                if one_by_one:
                    raise
                log.error(
                    "database refused a batch (%s); writing message by message", first_line(exc)
                )
                one_by_one = True

    async def _batch(
        self, items: Sequence[Item], dead: Sequence[DeadLetter], keep_refused: bool
    ) -> Outcome:
        return await write_batch(
            await self._connection(),
            self._cache,
            items,
            dead,
            storage=self._storage,
            keep_refused=keep_refused,
            notify=self._notify,
        )

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
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that arrives as the inner await finishes.
            with contextlib.suppress(TimeoutError, psycopg.Error, OSError):
                async with asyncio.timeout(2):
                    await conn.close()

    # -- fallback ---------------------------------------------------------------------

    async def _write_one_by_one(
        self, items: Sequence[Item], dead: Sequence[DeadLetter], keep_refused: bool
    ) -> Outcome:
        """Each message in its own transaction; one the database refuses becomes a
        ``store_rejected`` dead letter."""
        total = Outcome()
        for item in items:
            try:
                one = await self._batch([item], [], keep_refused)
            except CONNECTION_ERRORS:
                raise
            except psycopg.Error as exc:
                detail = first_line(exc)
                log.error(
                    "message refused by the database: %s",
                    detail,
                    extra={"device_id": item.device_id, "topic": item.topic},
                )
                refused = DeadLetter(
                    item.received_at,
                    item.topic,
                    item.payload,
                    "store_rejected",
                    detail,
                    item.device_id,
                )
                one = await self._batch([], [refused], keep_refused)
            total.readings.extend(one.readings)
            total.dead.update(one.dead)
            total.statuses.extend(one.statuses)
            total.profiles.update(one.profiles)
            total.receive_time_used += one.receive_time_used
        if dead:
            total.dead.update((await self._batch([], dead, keep_refused)).dead)
        return total
