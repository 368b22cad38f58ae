"""POST /dead-letters/replay: decode kept messages again with today's profiles."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.exceptions import HTTPException

from hub.api import params
from hub.api.auth import Operator
from hub.api.deadletters import Reason
from hub.api.deps import API_PREFIX, AppSettings, DbConn, Profiles
from hub.api.problems import responses
from hub.api.schemas.devices import DEVICE_ID_PATTERN
from hub.ingest.replay import ReplayFilter, replay
from hub.store import queries_meta

router = APIRouter(prefix=f"{API_PREFIX}/dead-letters", tags=["dead letters"])


def _text_time(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 date-time string, like 2026-01-01T00:00:00Z")
    return value


BodyTime = Annotated[params.Time, BeforeValidator(_text_time)]


class ReplayRequest(BaseModel):
    """Which dead letters to replay; every field narrows the choice."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reasons": ["no_mapping", "undecoded"]}]},
    )

    reasons: list[Reason] | None = Field(None, description="Only letters refused for these.")
    device_id: str | None = Field(None, pattern=DEVICE_ID_PATTERN)
    start: BodyTime | None = Field(None, alias="from", description="Received at or after.")
    end: BodyTime | None = Field(None, alias="to", description="Received before.")
    limit: Annotated[int, Field(ge=1, le=1_000_000)] = 100_000


class ReplayOut(BaseModel):
    examined: int = Field(description="Dead letters decoded again (not replayed before).")
    stored: int = Field(description="Of these, now stored; each is marked replayed.")
    readings: int = Field(description="Readings they held (one stored before adds nothing).")
    still_refused: dict[str, int] = Field(
        description="Letters that still fail, by today's reason (they stay, with that reason)."
    )


@router.post(
    "/replay",
    summary="Replay dead letters with today's profiles (operator)",
    response_model=ReplayOut,
    responses=responses(401, 403, 422, 503),
)
async def replay_dead_letters(
    request: Request,
    conn: DbConn,
    _: Operator,
    settings: AppSettings,
    profiles: Profiles,
    body: ReplayRequest | None = None,
) -> ReplayOut:
    """What decodes now is stored (idempotent) and its letter marked replayed; what
    still fails stays with its new reason. Replaying twice adds nothing."""
    body = body or ReplayRequest()
    storage = await queries_meta.storage_level(conn) or "plain"
    where = ReplayFilter(
        reasons=sorted(set(body.reasons)) if body.reasons else None,
        device_id=body.device_id,
        start=params.instant(body.start, settings.timezone, "from") if body.start else None,
        end=params.instant(body.end, settings.timezone, "to") if body.end else None,
        limit=body.limit,
    )
    result = await replay(
        settings,
        profiles,
        storage=storage,
        sources=getattr(request.app.state, "sources", None),
        where=where,
    )
    return ReplayOut(
        examined=result.examined,
        stored=result.stored,
        readings=result.readings,
        still_refused=dict(result.still_refused),
    )


@router.api_route("/replay", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def replay_other_methods() -> None:
    """Without it, GET /dead-letters/replay would be read as the dead letter "replay"."""
    raise HTTPException(status_code=405)
