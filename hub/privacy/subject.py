"""Data subject requests (GDPR articles 15, 17 and 20): export or erase one device.

``export_device`` writes everything the hub holds on a device into a zip of CSV
(the tables: readings, rollups, access log) and JSON (the rest: registry, alerts with
their history, rules, dead letters, other rows that point at the device), with a
``manifest.json`` counting each file. ``erase_device`` deletes all of it, raw
readings and dead letters included, and records *that* it happened in
``privacy_erasures``: when, by whom and how many rows of each kind, under a SHA-256
of the id, never the id or the data. District aggregates over personal devices are
computed from the remaining devices, so they still add up; the access log keeps its
rows (the audit trail) under the erasure's reference instead of the id.

Both are commands (``hub privacy export|erase --device ID``) and admin API calls
(hub.api.subjects). docs/privacy.md, "Data subject requests".
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import orjson
from psycopg.types.json import Jsonb

from hub import __version__
from hub.errors import NotFound
from hub.privacy.access_log import Read, record
from hub.privacy.policy import ALL, Visibility
from hub.store import rollup_keep
from hub.store import subject as store
from hub.store.db import AsyncConn

# progress(step, done, total): a step's name, rows written so far, rows expected.
Progress = Callable[[str, int, int], None]


def _quiet(step: str, done: int, total: int) -> None:
    return None


def command_reader(command: str, user: str) -> Visibility:
    """Who reads when a command exports: the hub itself, on behalf of a user of the
    machine; named so in the access log."""
    return Visibility(ALL, ALL, key_name=f"{command} (user {user})", audited=True)


def device_hash(device_id: str) -> str:
    """How an erased device is named from then on (``privacy_erasures.device_hash``)."""
    return hashlib.sha256(device_id.encode()).hexdigest()


def erasure_reference(device_id: str) -> str:
    """What replaces the id in the access log: ``erased:`` and 12 hex digits."""
    return f"erased:{device_hash(device_id)[:12]}"


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC)


def _cell(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass
class _Zip:
    archive: zipfile.ZipFile
    counts: dict[str, int] = field(default_factory=dict)

    def json(self, name: str, value: Any, rows: int) -> None:
        self.archive.writestr(name, _json(value))
        self.counts[name] = rows

    def csv(self, name: str) -> tuple[IO[str], Any]:
        handle = io.TextIOWrapper(
            self.archive.open(name, "w", force_zip64=True), encoding="utf-8", newline=""
        )
        return handle, csv.writer(handle)


def _dead_letter(row: tuple[Any, ...]) -> dict[str, Any]:
    id_, received_at, topic, payload, reason, detail, device_id, fmt = row
    letter: dict[str, Any] = {
        "id": id_,
        "received_at": received_at,
        "topic": topic,
        "reason": reason,
        "detail": detail,
        "device_id": device_id,
        "format": fmt,
        "payload_base64": base64.b64encode(payload).decode(),
    }
    with contextlib.suppress(UnicodeDecodeError):
        letter["payload_text"] = bytes(payload).decode("utf-8")
    return letter


async def export_device(
    conn: AsyncConn,
    device_id: str,
    target: IO[bytes],
    *,
    reader: Visibility,
    what: str,
    progress: Progress = _quiet,
) -> dict[str, int]:
    """Write the device's zip to ``target``; return the rows per file (the manifest).
    The export is a read of the device's data: it goes into the access log as
    ``what``, for ``reader`` (after the zip is written, so the zip lists the reads
    before it)."""
    device = await store.find_device(conn, device_id)
    if device is None:
        raise NotFound(f"no device {device_id!r}")
    series = await store.series_of(conn, device)
    ids = list(series)
    total = await store.count_readings(conn, ids)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        out = _Zip(archive)
        others: dict[str, list[Any]] = {}
        for schema, table, column in await store.device_tables(conn):
            others[table] = await store.rows_of(conn, schema, table, column, device.pk)
        registry = {
            "device": device.row,
            "series": [{"id": k, "metric": m} for k, m in series.items()],
            "related": others,
        }
        out.json("device.json", registry, 1 + len(series) + sum(map(len, others.values())))
        progress("registry", 1, 1)

        handle, writer = out.csv("readings.csv")
        with handle:
            writer.writerow(["metric", "time", "value"])
            done = 0
            async for metric, time, value in store.stream_readings(conn, ids):
                writer.writerow([metric, time.isoformat(), value])
                done += 1
                if done % 5000 == 0:
                    progress("readings", done, total)
        out.counts["readings.csv"] = done
        progress("readings", done, total)

        for view, name in (
            ("readings_1h", "readings_hourly.csv"),
            ("readings_1d", "readings_daily.csv"),
        ):
            handle, writer = out.csv(name)
            with handle:
                writer.writerow(store.ROLLUP_COLUMNS)
                done = 0
                async for row in store.stream_rollups(conn, view, ids):
                    writer.writerow([_cell(v) for v in row])
                    done += 1
            out.counts[name] = done
            progress(name.removesuffix(".csv"), done, done)

        alerts = await store.json_rows(conn, store.ALERTS, {"device": device.pk})
        out.json("alerts.json", alerts, len(alerts))
        rules = await store.json_rows(conn, store.RULES, {"device_id": device.device_id})
        out.json("rules.json", rules, len(rules))
        letters = [_dead_letter(r) for r in await store.dead_letters(conn, device)]
        out.json("dead_letters.json", letters, len(letters))
        progress("alerts and dead letters", 1, 1)

        handle, writer = out.csv("access_log.csv")
        with handle:
            writer.writerow(store.ACCESS_LOG_COLUMNS)
            entries = await store.access_log(conn, device.device_id)
            for entry in entries:
                writer.writerow([_cell(v) for v in entry])
        out.counts["access_log.csv"] = len(entries)
        progress("access log", len(entries), len(entries))

        manifest = {
            "device_id": device.device_id,
            "profile": device.profile,
            "data_class": device.data_class,
            "exported_at": datetime.now(UTC),
            "hub_version": __version__,
            "files": out.counts,
        }
        archive.writestr("manifest.json", _json(manifest))
    if device.data_class == "personal":
        await record(conn, reader, [Read(device.device_id, what, out.counts["readings.csv"])])
    return out.counts


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure deleted, as recorded in ``privacy_erasures``."""

    id: int
    at: datetime
    device_hash: str
    counts: dict[str, int]


async def erase_device(
    conn: AsyncConn,
    device_id: str,
    *,
    level: str,
    requested_by: str,
    personal_retention_days: int,
    progress: Progress = _quiet,
) -> Erasure:
    """Delete everything of the device; ``conn`` in autocommit mode (TimescaleDB's
    refreshes run between the steps). Raw readings go first, day by day where other
    households' rollups must be kept (rollup_keep); the rest in one transaction."""
    device = await store.find_device(conn, device_id)
    if device is None:
        raise NotFound(f"no device {device_id!r}")
    series = list((await store.series_of(conn, device)).keys())
    counts: dict[str, int] = {"readings": 0}
    oldest = await rollup_keep.oldest_raw(conn, series)
    newest = await store.newest_raw(conn, series)
    if oldest is not None and newest is not None:
        # Before this day the other households' raw readings may be gone (retention):
        # their hourly rollups are held while the day's invalidation is consumed.
        guarded_until = (
            rollup_keep.day_start(datetime.now(UTC) - timedelta(days=personal_retention_days))
            + 2 * rollup_keep.DAY
            if personal_retention_days > 0
            else rollup_keep.day_start(oldest)
        )
        others = await rollup_keep.personal_series(conn, exclude_device=device.pk)
        day = rollup_keep.day_start(oldest)
        days = max(1, (min(newest, guarded_until) - day) // rollup_keep.DAY + 1)
        step = 0
        while day < guarded_until and day <= newest:
            result = await rollup_keep.delete_day(conn, level, series=series, day=day, hold=others)
            counts["readings"] += result.deleted
            step += 1
            progress("readings", step, days)
            day += rollup_keep.DAY
        cur = await conn.execute(store.DELETE_READINGS_FROM, {"series": series, "start": day})
        counts["readings"] += max(cur.rowcount, 0)
    progress("readings", 1, 1)
    async with conn.transaction():
        counts["rollups"] = await rollup_keep.delete_rollups(conn, level, series)
        cur = await conn.execute(store.DELETE_ALERTS, {"device": device.pk})
        counts["alerts"] = max(cur.rowcount, 0)
        cur = await conn.execute(store.DELETE_RULES, {"device_id": device.device_id})
        counts["rules"] = max(cur.rowcount, 0)
        cur = await conn.execute(
            store.DELETE_DEAD_LETTERS, {"device_id": device.device_id, "needles": device.needles}
        )
        counts["dead_letters"] = max(cur.rowcount, 0)
        for schema, table, column in await store.device_tables(conn):
            deleted = await store.delete_rows_of(conn, schema, table, column, device.pk)
            if deleted:
                counts[table] = deleted
        cur = await conn.execute(store.DELETE_SERIES, {"device": device.pk})
        counts["series"] = max(cur.rowcount, 0)
        await conn.execute(store.DELETE_DEVICE, {"device": device.pk})
        counts["devices"] = 1
        cur = await conn.execute(
            store.PSEUDONYMISE_ACCESS_LOG,
            {"device_id": device.device_id, "reference": erasure_reference(device.device_id)},
        )
        counts["access_log_pseudonymised"] = max(cur.rowcount, 0)
        digest = device_hash(device.device_id)
        cur = await conn.execute(
            store.RECORD_ERASURE,
            {
                "hash": digest,
                "profile": device.profile,
                "data_class": device.data_class,
                "requested_by": requested_by,
                "counts": Jsonb(counts),
            },
        )
        row = await cur.fetchone()
        assert row is not None
    progress("registry", 1, 1)
    return Erasure(row[0], row[1], digest, counts)


async def erasures_of(conn: AsyncConn, device_id: str) -> list[dict[str, Any]]:
    """The erasure records of a device id (looked up by its hash)."""
    cur = await conn.execute(store.ERASURES_OF, {"hash": device_hash(device_id)})
    names = ("id", "at", "profile", "data_class", "requested_by", "counts")
    return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]
