"""API keys: how they are made, hashed and checked, and the ``hub apikey`` commands.

A key is ``hub_`` followed by 43 URL-safe characters (256 random bits). Only its
SHA-256 is stored: with that much entropy a salt or a slow hash adds nothing, and a
plain hash can be found through a unique index. The key itself is printed once, at
creation; a lost key is revoked and replaced. The first characters (``prefix``) are
kept in clear so that a key can be recognised in ``hub apikey list``.

Roles are ordered: ``viewer`` < ``operator`` < ``admin``. A viewer may read, an
operator may also change devices, alerts and rules, an admin may also manage keys.
``ingest`` stands beside them: it may only send data to the HTTP ingest endpoints
(a network server's webhook, a gateway), which operators and admins may too.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import sys
from collections.abc import Iterator
from typing import Final, Literal, TextIO, get_args

import psycopg

from hub.config import Settings
from hub.errors import MigrationError
from hub.store.db import Conn

Role = Literal["viewer", "operator", "admin", "ingest"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
_ORDERED: Final[tuple[Role, ...]] = ("viewer", "operator", "admin")
KEY_PREFIX: Final = "hub_"
_SHOWN_PREFIX_CHARS: Final = 12


def generate_key() -> str:
    """A new random key (256 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def shown_prefix(key: str) -> str:
    return key[:_SHOWN_PREFIX_CHARS]


def role_allows(role: str, needed: Role) -> bool:
    """Whether a key of ``role`` may do what needs ``needed``."""
    if needed == "ingest":
        return role in ("ingest", "operator", "admin")
    if role not in _ORDERED or needed not in _ORDERED:
        return False
    return _ORDERED.index(role) >= _ORDERED.index(needed)


@contextlib.contextmanager
def _database(settings: Settings) -> Iterator[Conn]:
    from hub.store.db import session

    try:
        with session(settings.database_url, "cli") as conn:
            yield conn
    except psycopg.errors.UndefinedTable:
        raise MigrationError("the database is not migrated: run 'hub migrate' first") from None


def create(settings: Settings, *, role: Role, name: str, out: TextIO = sys.stdout) -> str:
    """Store a new key and print it once; returns the key."""
    from hub.store import apikeys as store

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
    from hub.store import apikeys as store

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
    from hub.store import apikeys as store

    with _database(settings) as conn:
        row = store.revoke(conn, key_id)
    if row is None:
        print(f"no active API key with id {key_id}", file=out)
        return False
    print(f"API key {row.id} ({row.role}, {row.name!r}) revoked", file=out)
    return True
