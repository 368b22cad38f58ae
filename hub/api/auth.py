"""Who is calling: API keys from ``Authorization: Bearer <key>`` or ``X-API-Key``.

Reads need a key of any role unless open-data mode (``HUB_OPEN_DATA``) makes them
public; writes need ``operator`` (or ``admin``), key management needs ``admin``; an
``ingest`` key may only send data (hub.api.ingest_auth). A
key that is sent must be valid even where none is needed, so a typo is reported
rather than silently ignored.

The key is looked up with its own short-lived connection, so a long response (the
live stream, an export) does not hold a pool connection for authentication.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from hub.access import Role, hash_key, role_allows
from hub.errors import Forbidden, Unauthenticated
from hub.store import apikeys
from hub.store.db import pooled

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API key (`hub apikey create`) as `Authorization: Bearer <key>`.",
)
_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="apiKey",
    description="The same API key in an `X-API-Key` header, for clients that cannot set "
    "`Authorization`.",
)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a key's id, name, role and permissions, or the anonymous public
    (open data)."""

    key_id: int | None
    name: str
    role: Role | None
    permissions: frozenset[str] = frozenset()
    prefix: str | None = None

    @property
    def personal(self) -> bool:
        """May read personal devices' own data (hub.privacy.policy)."""
        return "personal" in self.permissions and self.role in ("operator", "admin")

    @property
    def actor(self) -> str:
        """How the caller is named in alert history."""
        return f"apikey:{self.key_id}:{self.name}" if self.key_id is not None else "anonymous"


ANONYMOUS = Principal(None, "anonymous", None)


async def _identify(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None,
    header: str | None,
) -> Principal | None:
    key = bearer.credentials if bearer is not None else header
    if not key:
        return None
    async with pooled(request.app.state.pool) as conn:
        found = await apikeys.find_active(conn, hash_key(key))
    if found is None:
        raise Unauthenticated("unknown or revoked API key")
    role: Role = found.role  # type: ignore[assignment]  # the table's CHECK keeps it a Role
    return Principal(found.id, found.name, role, frozenset(found.permissions), found.prefix)


async def _read_access(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> Principal:
    principal = await _identify(request, bearer, header)
    if principal is not None:
        if principal.role == "ingest":
            raise Forbidden(f"the key {principal.name!r} is an ingest key: it may only send data")
        return principal
    if request.app.state.settings.open_data:
        return ANONYMOUS
    raise Unauthenticated(
        "reading this hub's data needs an API key: send 'Authorization: Bearer <key>'"
    )


def _role_access(needed: Role) -> object:
    async def check(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        header: Annotated[str | None, Security(_header)],
    ) -> Principal:
        principal = await _identify(request, bearer, header)
        if principal is None or principal.role is None:
            raise Unauthenticated(
                f"this operation needs an API key with the {needed} role: "
                "send 'Authorization: Bearer <key>'"
            )
        if not role_allows(principal.role, needed):
            raise Forbidden(
                f"this operation needs the {needed} role; the key {principal.name!r} "
                f"is a {principal.role}"
            )
        return principal

    return check


Reader = Annotated[Principal, Depends(_read_access)]
Operator = Annotated[Principal, Depends(_role_access("operator"))]
Admin = Annotated[Principal, Depends(_role_access("admin"))]
