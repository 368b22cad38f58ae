"""/api-keys: key management over HTTP for admins (the CLI does the same)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from hub.access import Permission, Role, generate_key, hash_key, permission_allowed, shown_prefix
from hub.api.auth import Admin
from hub.api.deps import API_PREFIX, DbConn
from hub.api.problems import responses
from hub.errors import InvalidParameter, NotFound
from hub.store import apikeys as store

router = APIRouter(prefix=f"{API_PREFIX}/api-keys", tags=["api keys"])


class ApiKeyOut(BaseModel):
    id: int
    name: str
    role: Role
    prefix: str = Field(description="The key's first characters, to recognise it.")
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="To the minute.")
    permissions: list[Permission] = Field(
        default_factory=list,
        description="Beside the role: `personal` lets it read personal devices' own data "
        "(docs/privacy.md).",
    )

    @classmethod
    def of(cls, k: store.ApiKey) -> ApiKeyOut:
        return cls(
            id=k.id,
            name=k.name,
            role=k.role,
            prefix=k.prefix,
            created_at=k.created_at,
            revoked_at=k.revoked_at,
            last_used_at=k.last_used_at,
            permissions=[p for p in k.permissions if p == "personal"],
        )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself: shown only in this response.")


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "open data portal", "role": "viewer"}]},
    )

    name: str = Field(min_length=1, max_length=200, description="Who or what uses the key.")
    role: Role
    permissions: list[Permission] = Field(
        default_factory=list,
        description="`personal` (operator and admin keys only): may read personal devices' "
        "own data.",
    )


class ApiKeyPatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"permissions": ["personal"]}]}
    )

    permissions: list[Permission] = Field(description="The key's permissions from now on.")


def _check_permissions(role: str, permissions: list[Permission]) -> None:
    for permission in permissions:
        if not permission_allowed(role, permission):
            raise InvalidParameter(
                "permissions",
                f"only operator and admin keys may read {permission} data; not a {role}",
                location="body",
            )


@router.get(
    "",
    summary="List API keys (admin)",
    response_model=list[ApiKeyOut],
    responses=responses(401, 403),
)
async def list_keys(conn: DbConn, _: Admin) -> list[ApiKeyOut]:
    return [ApiKeyOut.of(k) for k in await store.alist_all(conn)]


@router.post(
    "",
    summary="Create an API key (admin); the key is shown once",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=responses(401, 403),
)
async def create_key(body: ApiKeyIn, conn: DbConn, _: Admin) -> ApiKeyCreated:
    _check_permissions(body.role, body.permissions)
    key = generate_key()
    row = await store.ainsert(
        conn,
        name=body.name,
        role=body.role,
        key_hash=hash_key(key),
        prefix=shown_prefix(key),
        permissions=tuple(dict.fromkeys(body.permissions)),
    )
    return ApiKeyCreated(**ApiKeyOut.of(row).model_dump(), key=key)


@router.post(
    "/{key_id}/revoke",
    summary="Revoke an API key (admin)",
    response_model=ApiKeyOut,
    responses=responses(401, 403, 404),
)
async def revoke_key(
    key_id: Annotated[int, Path(ge=1, le=2**31 - 1)], conn: DbConn, _: Admin
) -> ApiKeyOut:
    row = await store.arevoke(conn, key_id)
    if row is None:
        raise NotFound(f"no active API key {key_id}")
    return ApiKeyOut.of(row)


@router.patch(
    "/{key_id}",
    summary="Grant or withdraw an API key's permissions (admin)",
    response_model=ApiKeyOut,
    responses=responses(401, 403, 404),
)
async def change_key(
    key_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: ApiKeyPatch, conn: DbConn, _: Admin
) -> ApiKeyOut:
    current = next((k for k in await store.alist_all(conn) if k.id == key_id), None)
    if current is None or current.revoked_at is not None:
        raise NotFound(f"no active API key {key_id}")
    _check_permissions(current.role, body.permissions)
    row = current
    for permission in ("personal",):
        granted = permission in body.permissions
        row = await store.aset_permission(conn, key_id, permission, granted=granted) or row
    return ApiKeyOut.of(row)
