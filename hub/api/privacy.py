"""The read policy as API dependencies: the caller's :class:`Visibility`
(hub.privacy.policy) from its key, for routes and the device filters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from hub.api.auth import Principal, Reader
from hub.api.deps import AppSettings
from hub.errors import Forbidden, NotFound
from hub.model import Device
from hub.privacy.policy import Visibility, visibility
from hub.store import devices as device_store
from hub.store.db import AsyncConn


def visibility_of(principal: Principal, log_url: str | None = None) -> Visibility:
    """What the caller may see; its reads of personal data are logged to ``log_url``
    (the primary database) when given."""
    return visibility(
        role=principal.role,
        permissions=principal.permissions,
        key_id=principal.key_id,
        key_prefix=principal.prefix,
        key_name=principal.name if principal.key_id is not None else None,
        log_url=log_url,
    )


def _visible(principal: Reader, settings: AppSettings) -> Visibility:
    return visibility_of(principal, settings.database_url)


# A read route's caller (any key, or the public in open-data mode), as what it may see.
Visible = Annotated[Visibility, Depends(_visible)]


async def require_listed(conn: AsyncConn, device_id: str, vis: Visibility) -> Device:
    """The device as the reader may see it, or a 404 (also when it may not see it)."""
    device = await device_store.get_device(conn, device_id, vis)
    if device is None:
        raise NotFound(f"no device {device_id!r}")
    return device


async def require_own_data(conn: AsyncConn, device_id: str, vis: Visibility) -> Device:
    """The device whose own data (readings) the reader may read; a 404 when it may
    not see the device, a 403 when it sees it but may only read aggregates."""
    device = await require_listed(conn, device_id, vis)
    if not vis.reads(device.data_class):
        raise Forbidden(
            f"device {device_id!r} is {device.data_class} data: its readings are served "
            "only as aggregates (/api/v1/aggregates/districts) unless the key has the "
            "personal permission (docs/privacy.md)"
        )
    return device
