"""Connections: every hub connection works in UTC and names itself."""

from __future__ import annotations

from typing import Any

import psycopg

CONNECT_TIMEOUT_S = 5


def connect_kwargs(purpose: str) -> dict[str, Any]:
    """libpq options shared by every connection of the hub."""
    return {
        "connect_timeout": CONNECT_TIMEOUT_S,
        "application_name": f"hub-{purpose}",
        "options": "-c TimeZone=UTC",
    }


def connect(url: str, purpose: str, **kwargs: Any) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(url, **connect_kwargs(purpose), **kwargs)


async def aconnect(
    url: str, purpose: str, **kwargs: Any
) -> psycopg.AsyncConnection[tuple[Any, ...]]:
    return await psycopg.AsyncConnection.connect(url, **connect_kwargs(purpose), **kwargs)
