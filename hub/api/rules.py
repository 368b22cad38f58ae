"""/rules: alert rules. Profile defaults are read-only; operators add their own."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status

from hub.alerts.params import check_against_profiles
from hub.api.auth import Operator
from hub.api.deps import API_PREFIX, DbConn, Profiles
from hub.api.privacy import Visible
from hub.api.problems import responses
from hub.api.schemas.alerts import RuleIn, RuleOut
from hub.errors import InvalidParameter, NotFound, RuleSpecError
from hub.model import RuleSpec
from hub.profiles import Profile
from hub.store import devices as device_store
from hub.store import rules as store
from hub.store.db import AsyncConn

router = APIRouter(prefix=f"{API_PREFIX}/rules", tags=["rules"])

RuleId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The rule's id.")]


async def _spec(body: RuleIn, conn: AsyncConn, profiles: dict[str, Profile]) -> RuleSpec:
    try:
        spec = RuleSpec(**body.model_dump())
        check_against_profiles(spec, profiles)
    except RuleSpecError as exc:
        raise InvalidParameter(exc.field, exc.message, location="body") from None
    if spec.device_id is not None:
        device = await device_store.get_device(conn, spec.device_id)
        if device is None:
            raise InvalidParameter("device_id", f"no device {spec.device_id!r}", location="body")
        if device.profile != spec.profile:
            raise InvalidParameter(
                "device_id",
                f"device {spec.device_id!r} is a {device.profile}, not a {spec.profile}",
                location="body",
            )
    return spec


@router.get(
    "", summary="List alert rules", response_model=list[RuleOut], responses=responses(401, 422)
)
async def list_rules(
    conn: DbConn,
    vis: Visible,
    profile: Annotated[str | None, Query(max_length=63)] = None,
    source: Annotated[
        Literal["profile", "api"] | None,
        Query(description="`profile` defaults or rules made through the `api`."),
    ] = None,
) -> list[RuleOut]:
    return [
        RuleOut.of(r) for r in await store.list_rules(conn, profile=profile, source=source, vis=vis)
    ]


@router.get(
    "/{rule_id}", summary="One alert rule", response_model=RuleOut, responses=responses(401, 404)
)
async def get_rule(rule_id: RuleId, conn: DbConn, vis: Visible) -> RuleOut:
    rule = await store.get_rule(conn, rule_id, vis)
    if rule is None:
        raise NotFound(f"no rule {rule_id}")
    return RuleOut.of(rule)


@router.post(
    "",
    summary="Create an alert rule (operator)",
    status_code=status.HTTP_201_CREATED,
    response_model=RuleOut,
    responses=responses(401, 403, 422),
)
async def create_rule(
    body: RuleIn, request: Request, conn: DbConn, _: Operator, profiles: Profiles
) -> RuleOut:
    """The rule judges the next reading committed after this answer."""
    spec = await _spec(body, conn, profiles)
    rule = await store.create_rule(conn, spec)
    await _changed(request, conn)
    return RuleOut.of(rule)


async def _changed(request: Request, conn: DbConn) -> None:
    """Commit, then tell the alert engine (when this process runs one) to re-read
    its rules before it judges the next reading."""
    await conn.commit()
    request.app.state.rules_changed()


@router.put(
    "/{rule_id}",
    summary="Replace an alert rule (operator)",
    response_model=RuleOut,
    responses=responses(401, 403, 404, 409, 422),
)
async def update_rule(
    rule_id: RuleId, body: RuleIn, request: Request, conn: DbConn, _: Operator, profiles: Profiles
) -> RuleOut:
    """Profile defaults cannot be changed here (409): edit the profile file. The
    change holds from the next reading committed after this answer."""
    spec = await _spec(body, conn, profiles)
    rule = await store.update_rule(conn, rule_id, spec)
    if rule is None:
        raise NotFound(f"no rule {rule_id}")
    await _changed(request, conn)
    return RuleOut.of(rule)


@router.delete(
    "/{rule_id}",
    summary="Delete an alert rule and its alerts (operator)",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(401, 403, 404, 409),
)
async def delete_rule(rule_id: RuleId, request: Request, conn: DbConn, _: Operator) -> Response:
    """Profile defaults cannot be deleted (409); disable them in the profile file."""
    if not await store.delete_rule(conn, rule_id):
        raise NotFound(f"no rule {rule_id}")
    await _changed(request, conn)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
