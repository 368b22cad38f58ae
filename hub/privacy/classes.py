"""Data classes: how open a device's data may be.

``public``: anyone may read it in open-data mode (air quality, street lights).
``internal``: operations data for the municipality's own staff (any API key).
``personal``: data that can be tied to a household (water meters): outside keys with
the ``personal`` permission it is only served as aggregates over groups of devices.

A profile names its class (``data_class`` in its YAML); a device may override it
(``data_class_override``). ``devices.data_class`` holds the EFFECTIVE class, kept by a
trigger (migration 0090) from the override or the profile's class in
``profile_data_classes``, which the hub fills from the loaded profiles at start-up
(:func:`sync_profile_classes`). A profile that omits ``data_class`` is ``internal``:
never public by omission, and still readable by the staff who run the hub.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, Literal, get_args

from hub.store.db import Conn

if TYPE_CHECKING:
    from hub.profiles import Profile

DataClass = Literal["public", "internal", "personal"]
DATA_CLASSES: Final[tuple[DataClass, ...]] = get_args(DataClass)
DEFAULT_CLASS: Final[DataClass] = "internal"


def parse_class(value: str) -> DataClass:
    """A data class from text (CLI, CSV); ValueError names the allowed ones."""
    text = value.strip().lower()
    for known in DATA_CLASSES:
        if text == known:
            return known
    raise ValueError(f"data class {value!r} is not one of {', '.join(DATA_CLASSES)}")


def profile_class(profile: Profile | None) -> DataClass:
    """The class of a profile's devices (the default for an unknown profile)."""
    return profile.data_class if profile is not None else DEFAULT_CLASS


def classes_of(profiles: Mapping[str, Profile]) -> dict[str, DataClass]:
    return {name: profile.data_class for name, profile in profiles.items()}


UPSERT_PROFILE_CLASS = """
INSERT INTO profile_data_classes (profile, data_class)
VALUES (%(profile)s, %(data_class)s)
ON CONFLICT (profile) DO UPDATE SET data_class = excluded.data_class, updated_at = now()
WHERE profile_data_classes.data_class <> excluded.data_class
"""
# The trigger recomputes data_class from the override or the table just written.
RECLASSIFY_DEVICES = """
UPDATE devices d SET data_class = p.data_class
FROM profile_data_classes p
WHERE d.profile = p.profile AND d.data_class_override IS NULL
  AND d.data_class <> p.data_class
"""
COUNT_BY_CLASS = "SELECT data_class, count(*) FROM devices GROUP BY data_class"


def sync_profile_classes(conn: Conn, profiles: Mapping[str, Profile]) -> int:
    """Record each loaded profile's class and re-class the devices that follow it;
    returns how many devices changed class. Idempotent."""
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            UPSERT_PROFILE_CLASS,
            [{"profile": n, "data_class": c} for n, c in classes_of(profiles).items()],
        )
        cur.execute(RECLASSIFY_DEVICES)
        return max(cur.rowcount, 0)


def devices_by_class(conn: Conn) -> dict[DataClass, int]:
    rows = conn.execute(COUNT_BY_CLASS).fetchall()
    counts: dict[DataClass, int] = dict.fromkeys(DATA_CLASSES, 0)
    for data_class, count in rows:
        counts[parse_class(data_class)] = int(count)
    return counts
