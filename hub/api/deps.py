"""What routes get injected: a database connection (one transaction per request),
the settings and the device profiles. (The device a path names, as the reader may
see it: hub.api.privacy.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from hub.config import Settings
from hub.profiles import Profile
from hub.store.db import AsyncConn, pooled

# Every resource of the API lives under this path (routers carry it themselves, so a
# route's template is its whole path, as the latency metric labels it).
API_PREFIX = "/api/v1"


async def _connection(request: Request) -> AsyncIterator[AsyncConn]:
    # The pool commits when the block ends without error and rolls back otherwise;
    # scope="function" ends it before the response is sent, so a 2xx means committed.
    # A read (GET, HEAD) goes to the replica while it answers (hub.api.replica).
    state = request.app.state
    reading = request.method in ("GET", "HEAD")
    async with state.reads.connection() if reading else pooled(state.pool) as conn:
        yield conn


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _profiles(request: Request) -> dict[str, Profile]:
    profiles: dict[str, Profile] = request.app.state.profiles
    return profiles


DbConn = Annotated[AsyncConn, Depends(_connection, scope="function")]
AppSettings = Annotated[Settings, Depends(_settings)]
Profiles = Annotated[dict[str, Profile], Depends(_profiles)]
