"""``hub apikey create | list | revoke``: keys stored, listed and revoked, and
printed (a new key only once). How keys are made is :mod:`hub.access`."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TextIO

import psycopg

from hub.access import Role, generate_key, hash_key, shown_prefix
from hub.config import Settings
from hub.errors import MigrationError
from hub.store import apikeys as store
from hub.store.db import Conn, session


@contextlib.contextmanager
def _database(settings: Settings) -> Iterator[Conn]:
    try:
        with session(settings.database_url, "cli") as conn:
            yield conn
    except psycopg.errors.UndefinedTable:
        raise MigrationError("the database is not migrated: run 'hub migrate' first") from None


def create(settings: Settings, *, role: Role, name: str, out: TextIO = sys.stdout) -> str:
    """Store a new key and print it once; returns the key."""
    key = generate_key()
    with _database(settings) as conn:
        row = store.insert(
            conn, name=name, role=role, key_hash=hash_key(key), prefix=shown_prefix(key)
        )
    print(
        f"API key {row.id} ({row.role}, {row.name!r}) created. It is shown only this once:",
        file=out,
    )
    print(key, file=out)
    return key


def list_keys(settings: Settings, *, out: TextIO = sys.stdout) -> None:
    with _database(settings) as conn:
        keys = store.list_all(conn)
    print(
        f"{'id':>4}  {'role':<8}  {'prefix':<12}  {'created':<20}  {'last used':<20}  name",
        file=out,
    )
    for k in keys:
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else ""
        last = f"{k.last_used_at:%Y-%m-%d %H:%M:%S}" if k.last_used_at else "never"
        print(
            f"{k.id:>4}  {k.role:<8}  {k.prefix:<12}  {k.created_at:%Y-%m-%d %H:%M:%S}  "
            f"{last:<20}  {k.name} {state}".rstrip(),
            file=out,
        )


def revoke(settings: Settings, key_id: int, *, out: TextIO = sys.stdout) -> bool:
    with _database(settings) as conn:
        row = store.revoke(conn, key_id)
    if row is None:
        print(f"no active API key with id {key_id}", file=out)
        return False
    print(f"API key {row.id} ({row.role}, {row.name!r}) revoked", file=out)
    return True
