"""The latest hourly air-quality class of each monitor (table of migration 0021)."""

from __future__ import annotations

from datetime import datetime

from psycopg.types.json import Jsonb

from hub.model import AirQualityClass
from hub.privacy import policy
from hub.privacy.policy import UNRESTRICTED, Visibility
from hub.store.db import AsyncConn

UPSERT_CLASS = """
INSERT INTO air_quality_classes (device, hour, class, pollutants, means, updated_at)
VALUES (%(device)s, %(hour)s, %(class)s, %(pollutants)s, %(means)s, now())
ON CONFLICT (device) DO UPDATE
SET hour = excluded.hour, class = excluded.class, pollutants = excluded.pollutants,
    means = excluded.means, updated_at = now()
WHERE air_quality_classes.hour <= excluded.hour
"""
# Hourly means of a device are its own data (hub.privacy.policy).
LIST_CLASSES = f"""
SELECT d.device_id, d.district, c.hour, c.class, c.pollutants, c.means, c.updated_at
FROM air_quality_classes c JOIN devices d ON d.id = c.device
WHERE d.decommissioned_at IS NULL AND {policy.own_sql("d")}
  AND (%(device_id)s::text IS NULL OR d.device_id = %(device_id)s)
ORDER BY d.device_id
"""


async def save_class(
    conn: AsyncConn,
    *,
    device: int,
    hour: datetime,
    class_name: str,
    pollutants: dict[str, str],
    means: dict[str, float],
) -> None:
    """Keep the class of ``hour`` for a monitor unless a later hour is stored."""
    await conn.execute(
        UPSERT_CLASS,
        {
            "device": device,
            "hour": hour,
            "class": class_name,
            "pollutants": Jsonb(pollutants),
            "means": Jsonb(means),
        },
    )


async def air_quality_classes(
    conn: AsyncConn, *, device_id: str | None = None, vis: Visibility = UNRESTRICTED
) -> list[AirQualityClass]:
    """Each monitor's latest hourly class (one monitor with ``device_id``), of the
    monitors whose own data the reader may read."""
    cur = await conn.execute(LIST_CLASSES, {"device_id": device_id, **vis.params()})
    return [
        AirQualityClass(
            device_id=device_id_,
            district=district,
            hour=hour,
            class_name=class_name,
            pollutants=dict(pollutants),
            means={k: float(v) for k, v in means.items()},
            updated_at=updated_at,
        )
        for device_id_, district, hour, class_name, pollutants, means, updated_at in (
            await cur.fetchall()
        )
    ]
