"""``hub apikey create | list | revoke``: keys stored, listed and revoked, and
printed (a new key only once). How keys are made is :mod:`hub.access`."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TextIO

import psycopg

from hub.access import Permission, Role, generate_key, hash_key, permission_allowed, shown_prefix
from hub.config import Settings
from hub.errors import HubError, MigrationError
from hub.store import apikeys as store
from hub.store.db import Conn, session


@contextlib.contextmanager
def _database(settings: Settings) -> Iterator[Conn]:
    try:
        with session(settings.database_url, "cli") as conn:
            yield conn
    except psycopg.errors.UndefinedTable:
        raise MigrationError("the database is not migrated: run 'hub migrate' first") from None


def create(
    settings: Settings,
    *,
    role: Role,
    name: str,
    permissions: tuple[Permission, ...] = (),
    out: TextIO = sys.stdout,
) -> str:
    """Store a new key and print it once; returns the key."""
    for permission in permissions:
        _check_permission(role, permission)
    key = generate_key()
    with _database(settings) as conn:
        row = store.insert(
            conn,
            name=name,
            role=role,
            key_hash=hash_key(key),
            prefix=shown_prefix(key),
            permissions=tuple(dict.fromkeys(permissions)),
        )
    extra = f", may read {', '.join(row.permissions)} data" if row.permissions else ""
    print(
        f"API key {row.id} ({row.role}{extra}, {row.name!r}) created. It is shown only this once:",
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
            f"{last:<20}  {k.name}{_permissions(k)} {state}".rstrip(),
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


def _check_permission(role: str, permission: Permission) -> None:
    if not permission_allowed(role, permission):
        raise HubError(f"only operator and admin keys may read {permission} data; not a {role}")


def _permissions(key: store.ApiKey) -> str:
    return f" [{', '.join(key.permissions)}]" if key.permissions else ""


def set_permission(
    settings: Settings,
    key_id: int,
    permission: Permission,
    *,
    granted: bool,
    out: TextIO = sys.stdout,
) -> bool:
    """``hub apikey grant|withdraw ID personal``."""
    with _database(settings) as conn:
        if granted:
            current = next((k for k in store.list_all(conn) if k.id == key_id), None)
            if current is not None:
                _check_permission(current.role, permission)
        row = store.set_permission(conn, key_id, permission, granted=granted)
    if row is None:
        print(f"no active API key with id {key_id}", file=out)
        return False
    state = "may now read" if granted else "may no longer read"
    print(f"API key {row.id} ({row.role}, {row.name!r}) {state} {permission} data", file=out)
    return True
