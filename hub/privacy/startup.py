"""At start-up: record the profiles' data classes in the database (so the devices
follow them) and log what open-data mode exposes of each class."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from hub.config import Settings
from hub.privacy.classes import DATA_CLASSES, devices_by_class, sync_profile_classes
from hub.privacy.policy import exposure
from hub.profiles import Profile
from hub.store.db import session

log = logging.getLogger(__name__)


def prepare(settings: Settings, profiles: Mapping[str, Profile]) -> None:
    """Sync the profiles' classes into the database and log the exposure per class."""
    unclassed = sorted(n for n, p in profiles.items() if "data_class" not in p.model_fields_set)
    if unclassed:
        log.warning("profiles without data_class are treated as internal: %s", ", ".join(unclassed))
    with session(settings.database_url, "privacy") as conn:
        changed = sync_profile_classes(conn, profiles)
        counts = devices_by_class(conn)
    if changed:
        log.info("%d device(s) follow a changed profile data class", changed)
    described = exposure(settings)
    for data_class in DATA_CLASSES:
        log.info(
            "data class %s (%d devices): %s", data_class, counts[data_class], described[data_class]
        )
