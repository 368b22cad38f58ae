"""The read policy: what a caller may see of each data class (docs/privacy.md).

One place for every read surface (the /api/v1 routes, the dashboard, SensorThings,
NGSI-LD and their MQTT and push paths): the store's queries take a
:class:`Visibility` and filter on ``devices.data_class`` with :func:`sql_filter`;
the API dependencies build the Visibility from the caller.
"""

from __future__ import annotations

from hub.config import Settings
from hub.privacy.classes import DataClass


def exposure(settings: Settings) -> dict[DataClass, str]:
    """What a reader without a key gets of each class (for /readyz and the start-up log)."""
    if not settings.open_data:
        return {
            "public": "served to API keys only (open-data mode is off)",
            "internal": "served to API keys only (open-data mode is off)",
            "personal": "aggregates for keys without the personal permission "
            f"(groups of at least {settings.privacy_min_group} devices); "
            "own data only to keys with it",
        }
    return {
        "public": "open data: served in full without a key",
        "internal": "not served without a key; in full to any API key",
        "personal": "without a key only aggregates per district and hour or day over groups "
        f"of at least {settings.privacy_min_group} devices (smaller groups suppressed); "
        "own data only to keys with the personal permission",
    }
