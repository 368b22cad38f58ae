"""Retention of personal data: raw readings of ``personal`` devices are kept
``HUB_PERSONAL_RETENTION_DAYS`` (default 400: a billing year and a margin), then
only their hourly and daily rollups remain.

A job of ``hub run`` (:func:`run_personal_retention`), every
``HUB_PERSONAL_RETENTION_INTERVAL_S``: it deletes whole UTC days older than the
cutoff, oldest first, at both storage levels through :mod:`hub.store.rollup_keep`,
which keeps the rollups (TimescaleDB: the continuous aggregates survive any later
refresh; plain: a day is deleted only once its rollups hold all of it, so rollups
filled later from a watermark lose nothing). One process at a time does it (an
advisory lock), so several hub processes may all run the job.

Metrics: ``hub_privacy_retention_runs_total{outcome}``,
``hub_privacy_retention_deleted_readings_total``,
``hub_privacy_retention_blocked_days`` (days past the cutoff still waiting for their
rollups), ``hub_privacy_retention_oldest_raw_age_seconds`` (age of the oldest raw
personal reading after a run: at most the retention plus a day and the interval)
and ``hub_privacy_retention_last_run_timestamp_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from prometheus_client import Counter, Gauge

from hub.store import rollup_keep
from hub.store.db import AsyncConn, aconnect

log = logging.getLogger(__name__)

RUNS = Counter(
    "hub_privacy_retention_runs", "Runs of the personal-data retention job, by outcome", ["outcome"]
)
DELETED = Counter(
    "hub_privacy_retention_deleted_readings",
    "Raw readings of personal devices deleted by the retention job (their rollups stay)",
)
BLOCKED_DAYS = Gauge(
    "hub_privacy_retention_blocked_days",
    "Days past the personal-data cutoff kept because their rollups do not hold them yet",
)
OLDEST_AGE = Gauge(
    "hub_privacy_retention_oldest_raw_age_seconds",
    "Age of the oldest raw reading of a personal device after the last run (0: none)",
)
LAST_RUN = Gauge(
    "hub_privacy_retention_last_run_timestamp_seconds",
    "When the personal-data retention job last finished a run (Unix time)",
)
_LOCK_KEY = 0x6875625F70726574  # "hub_pret": one retention run at a time
_TRY_LOCK = "SELECT pg_try_advisory_lock(%(key)s)"
_UNLOCK = "SELECT pg_advisory_unlock(%(key)s)"


@dataclass(frozen=True, slots=True)
class RetentionRun:
    """What one run did."""

    cutoff: datetime
    deleted: int
    days: int
    blocked_days: int
    restored_days: int
    oldest_raw: datetime | None


def cutoff_for(now: datetime, days: int) -> datetime:
    """Raw personal readings before this instant go: midnight UTC of the day
    ``days`` before ``now`` (whole days, so whole hourly and daily buckets go)."""
    return rollup_keep.day_start(now.astimezone(UTC) - timedelta(days=days))


async def run_once(
    conn: AsyncConn, level: str, days: int, *, now: datetime | None = None
) -> RetentionRun | None:
    """One pass (``conn`` in autocommit mode); None when another process holds the lock."""
    cur = await conn.execute(_TRY_LOCK, {"key": _LOCK_KEY})
    row = await cur.fetchone()
    if not (row and row[0]):
        return None
    try:
        return await _run(conn, level, days, now or datetime.now(UTC))
    finally:
        await conn.execute(_UNLOCK, {"key": _LOCK_KEY})


async def _run(conn: AsyncConn, level: str, days: int, now: datetime) -> RetentionRun:
    cutoff = cutoff_for(now, days)
    restored = await rollup_keep.restore_held(conn, level)
    series = await rollup_keep.personal_series(conn)
    oldest = await rollup_keep.oldest_raw(conn, series)
    deleted = done = blocked = 0
    if oldest is not None and oldest < cutoff:
        day = rollup_keep.day_start(oldest)
        while day < cutoff:
            result = await rollup_keep.delete_day(
                conn, level, series=series, day=day, hold=series, covered_only=True
            )
            if result.blocked:
                # later days are newer still: their rollups cannot be further along
                blocked = (cutoff - day) // rollup_keep.DAY
                log.warning(
                    "personal retention: %s and %d later day(s) kept: their rollups do not "
                    "hold all their readings yet",
                    day.date(),
                    blocked - 1,
                )
                break
            deleted += result.deleted
            done += 1
            day += rollup_keep.DAY
        oldest = await rollup_keep.oldest_raw(conn, series)
    return RetentionRun(cutoff, deleted, done, blocked, restored, oldest)


def _record(run: RetentionRun) -> None:
    DELETED.inc(run.deleted)
    BLOCKED_DAYS.set(run.blocked_days)
    age = (datetime.now(UTC) - run.oldest_raw).total_seconds() if run.oldest_raw else 0.0
    OLDEST_AGE.set(max(age, 0.0))
    LAST_RUN.set(time.time())
    RUNS.labels("ok").inc()


async def run_personal_retention(url: str, level: str, days: int, interval_s: float) -> None:
    """Keep the retention of personal data in force until cancelled (0 days: off)."""
    if days <= 0:
        log.info("personal retention off (HUB_PERSONAL_RETENTION_DAYS=0): raw readings kept")
        return
    log.info("personal retention: raw readings of personal devices kept %d days", days)
    while True:
        try:
            async with await aconnect(url, "privacy-retention", autocommit=True) as conn:
                run = await run_once(conn, level, days)
            if run is not None:
                _record(run)
                if run.deleted or run.restored_days:
                    log.info(
                        "personal retention: %d raw readings of %d day(s) before %s deleted; "
                        "rollups kept",
                        run.deleted,
                        run.days,
                        run.cutoff.date(),
                    )
        except psycopg.Error as exc:
            RUNS.labels("failed").inc()
            log.warning("personal retention run failed: %s", exc)
        await asyncio.sleep(interval_s)
