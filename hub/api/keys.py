"""/api-keys: key management over HTTP for admins (the CLI does the same)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from hub.access import Role, generate_key, hash_key, shown_prefix
from hub.api.auth import Admin
from hub.api.deps import API_PREFIX, DbConn
from hub.api.problems import responses
from hub.errors import NotFound
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
    key = generate_key()
    row = await store.ainsert(
        conn, name=body.name, role=body.role, key_hash=hash_key(key), prefix=shown_prefix(key)
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
