"""Plain numbered SQL migrations, applied in order, each in its own transaction.

Files in ``migrations/`` are named ``NNNN_name.sql`` (for every storage level) or
``NNNN_name.plain.sql`` / ``NNNN_name.timescale.sql`` (one of the two is applied,
by the storage level). The level is chosen once, at the first migration, from
``pg_available_extensions`` and the ``HUB_STORAGE`` setting, and kept in
``hub_meta``; later runs follow it. Applied versions are kept in
``schema_migrations``, so running ``hub migrate`` again changes nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psycopg

from hub.errors import MigrationError
from hub.store.db import Conn

log = logging.getLogger(__name__)

StorageLevel = Literal["plain", "timescale"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(plain|timescale))?\.sql$")
_LOCK_KEY = 0x6875625F6D6967  # "hub_mig": one migrator at a time

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    variant     text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS hub_meta (
    key    text PRIMARY KEY,
    value  text NOT NULL
);
"""
GET_STORAGE_LEVEL = "SELECT value FROM hub_meta WHERE key = 'storage_level'"
_SET_LEVEL = "INSERT INTO hub_meta (key, value) VALUES ('storage_level', %(level)s)"
_APPLIED = "SELECT version FROM schema_migrations"
_RECORD = (
    "INSERT INTO schema_migrations (version, name, variant) "
    "VALUES (%(version)s, %(name)s, %(variant)s)"
)
_TIMESCALE_AVAILABLE = """
SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),
       current_setting('shared_preload_libraries') LIKE '%%timescaledb%%'
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    variant: str  # "all", "plain" or "timescale"
    path: Path


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file name not understood: {path.name}")
        version, name, variant = match.groups()
        found.append(Migration(int(version), name, variant or "all", path))
    return found


def _choose_level(conn: Conn, wanted: str) -> StorageLevel:
    row = conn.execute(_TIMESCALE_AVAILABLE).fetchone()
    available, preloaded = bool(row and row[0]), bool(row and row[1])
    if wanted == "plain":
        return "plain"
    if available and preloaded:
        return "timescale"
    why = (
        "the extension is installed but not in shared_preload_libraries"
        if available
        else "the extension is not installed"
    )
    if wanted == "timescale":
        raise MigrationError(f"HUB_STORAGE=timescale, but {why}")
    log.warning("TimescaleDB not used (%s): plain PostgreSQL storage", why)
    return "plain"


def migrate(
    conn: Conn,
    *,
    storage: str = "auto",
    directory: Path = MIGRATIONS_DIR,
) -> StorageLevel:
    """Apply every pending migration; return the storage level in force."""
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        conn.execute(_BOOTSTRAP)
        row = conn.execute(GET_STORAGE_LEVEL).fetchone()
        if row is None:
            level = _choose_level(conn, storage)
            conn.execute(_SET_LEVEL, {"level": level})
        else:
            level = str(row[0])  # type: ignore[assignment]
            if storage not in ("auto", level):
                log.warning(
                    "HUB_STORAGE=%s ignored: this database was created with %s storage",
                    storage,
                    level,
                )
        applied = {r[0] for r in conn.execute(_APPLIED).fetchall()}
        for migration in discover(directory):
            if migration.version in applied or migration.variant not in ("all", level):
                continue
            log.info(
                "applying migration %04d %s (%s)",
                migration.version,
                migration.name,
                migration.variant,
            )
            try:
                with conn.transaction():
                    conn.execute(migration.path.read_text())
                    conn.execute(
                        _RECORD,
                        {
                            "version": migration.version,
                            "name": migration.name,
                            "variant": migration.variant,
                        },
                    )
            except psycopg.Error as exc:
                raise MigrationError(f"migration {migration.path.name} failed: {exc}") from exc
        log.info("storage level: %s", level)
        return level
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def storage_level(conn: Conn) -> StorageLevel | None:
    """The level recorded at migration time, or None on an unmigrated database."""
    try:
        with conn.transaction():
            row = conn.execute(GET_STORAGE_LEVEL).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return None if row is None else row[0]
