"""Who may send data to the HTTP ingest: a key with the ``ingest`` role (or an
operator's or admin's), in ``Authorization: Bearer <key>`` or ``X-API-Key``.

Keys are remembered for ``_TTL_S`` seconds after they were found, so that the
ingest neither asks the database for every request (thousands a second) nor
answers 401 while the database is briefly away; a revoked key stops working
within that time. An unknown key is always looked up, so a new key works at once.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from fastapi import Request
from psycopg_pool import PoolTimeout

from hub.access import Role, hash_key, role_allows
from hub.api.auth import Principal
from hub.errors import Forbidden, StoreError, Unauthenticated
from hub.store import apikeys

_TTL_S = 30.0
_CACHE_MAX = 1000


class SenderUnavailable(Exception):
    """The key cannot be checked now (the database is away): the caller answers 503
    with Retry-After, as for any other request the ingest cannot take."""


# Documented in OpenAPI as the other routes' schemes; read here without FastAPI's
# dependency machinery, which costs more than the rest of an ingest request.
SECURITY: dict[str, Any] = {"security": [{"bearer": []}, {"apiKey": []}]}


def _key(request: Request) -> str | None:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials:
            return credentials.strip()
    return request.headers.get("x-api-key")


async def _look_up(
    request: Request, digest: bytes, hit: tuple[float, Principal] | None
) -> Principal:
    try:
        async with request.app.state.pool.connection() as conn:
            found = await apikeys.find_active(conn, digest)
    except (psycopg.OperationalError, PoolTimeout, StoreError) as exc:
        if hit is not None:
            return hit[1]  # found a little while ago: still good while the database is away
        raise SenderUnavailable(f"cannot check the API key now: {exc}") from None
    if found is None:
        raise Unauthenticated("unknown or revoked API key")
    role: Role = found.role  # type: ignore[assignment]  # the table's CHECK keeps it a Role
    return Principal(found.id, found.name, role)


async def authorize_sender(request: Request) -> Principal:
    """The caller of an ingest endpoint, if its key may send data; else 401/403
    (:class:`SenderUnavailable` when it cannot be checked now)."""
    key = _key(request)
    if not key:
        raise Unauthenticated(
            "sending data needs an API key with the ingest role: send "
            "'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        )
    digest = hash_key(key)
    cache: dict[bytes, tuple[float, Principal]] = request.app.state.ingest_keys
    hit = cache.get(digest)
    now = time.monotonic()
    if hit is not None and now - hit[0] < _TTL_S:
        principal = hit[1]
    else:
        principal = await _look_up(request, digest, hit)
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[digest] = (now, principal)
    if principal.role is None or not role_allows(principal.role, "ingest"):
        raise Forbidden(
            f"sending data needs the ingest role (or operator); the key {principal.name!r} "
            f"is a {principal.role}"
        )
    return principal
