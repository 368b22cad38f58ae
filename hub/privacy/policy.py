"""The read policy: what a reader may see of each data class (docs/privacy.md).

One place for every read surface (the /api/v1 routes, the dashboard, SensorThings,
NGSI-LD and their MQTT and push paths). A reader's :class:`Visibility` says which
classes' devices it may see at all (``listed``) and which classes' own data it may
read (``own``: readings, latest values, exact location, name). The store's queries
take the Visibility's :meth:`~Visibility.params` and filter with the SQL fragments
below (:func:`listed_sql`, :func:`own_sql`, and the presented columns
:func:`lat_sql`, :func:`lon_sql`, :func:`name_sql`); the API dependencies
(:mod:`hub.api.privacy`) build the Visibility from the caller's key.

===========================  =========  ==============  ====================
reader                       public     internal        personal
===========================  =========  ==============  ====================
no key (open-data mode)      in full    not served      aggregates only
any key without `personal`   in full    in full         listed, coarse place,
                                                        no name; aggregates
operator/admin + `personal`  in full    in full         in full, logged
===========================  =========  ==============  ====================

Aggregates (:mod:`hub.privacy.aggregates`) cover at least ``HUB_PRIVACY_MIN_GROUP``
devices per district and hour or day; a smaller group is suppressed and says so.
A place that is not exact is rounded to :data:`GRID_DEGREES` (0.01 degrees: about
1.1 km north-south and 0.5 km east-west at 63 degrees north).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from hub.config import Settings
from hub.privacy.classes import DATA_CLASSES, DataClass

GRID_DEGREES: Final = 0.01
_GRID_DECIMALS: Final = 2
ALL: Final[frozenset[DataClass]] = frozenset(DATA_CLASSES)


@dataclass(frozen=True, slots=True)
class Visibility:
    """What one reader may see: devices of the ``listed`` classes, and the own data
    (readings, latest values, exact place, name) of devices of the ``own`` classes.
    ``key_*`` name the key for the access log (None: anonymous or the hub itself)."""

    listed: frozenset[DataClass]
    own: frozenset[DataClass]
    key_id: int | None = None
    key_prefix: str | None = None
    key_name: str | None = None
    audited: bool = False  # reads of personal data are logged (hub.privacy.access_log)
    # Where the log is written: the primary database, on a connection of its own (the
    # request's may be a read-only replica's); None: on the caller's connection.
    log_url: str | None = None

    def params(self) -> dict[str, Any]:
        """The query parameters of the SQL fragments of this module."""
        return {"privacy_listed": sorted(self.listed), "privacy_own": sorted(self.own)}

    def lists(self, data_class: str) -> bool:
        return data_class in self.listed

    def reads(self, data_class: str) -> bool:
        """May read the own data of a device of this class."""
        return data_class in self.own

    def logs(self, data_class: str) -> bool:
        """A read of this class's own data goes into the access log."""
        return self.audited and data_class == "personal"

    @property
    def restricted(self) -> bool:
        return self.own != ALL or self.listed != ALL


# The hub itself (ingest, alert engine, background jobs) and the tests of the store.
UNRESTRICTED: Final = Visibility(ALL, ALL)
# No key, open-data mode.
PUBLIC: Final = Visibility(frozenset({"public"}), frozenset({"public"}))
# What the hub sends out to readers it cannot tell apart, on targets that operators
# configure (the SensorThings MQTT feed on the hub's broker, NGSI-LD subscription
# notifications, the push to a context broker): what a key without the personal
# permission reads in full. Personal devices never leave this way.
OUTBOUND: Final = Visibility(frozenset({"public", "internal"}), frozenset({"public", "internal"}))


def visibility(
    *,
    role: str | None,
    permissions: frozenset[str] = frozenset(),
    key_id: int | None = None,
    key_prefix: str | None = None,
    key_name: str | None = None,
    log_url: str | None = None,
) -> Visibility:
    """The Visibility of a reader: ``role`` None is the public (open-data mode)."""
    if role is None:
        return PUBLIC
    personal = "personal" in permissions and role in ("operator", "admin")
    own: frozenset[DataClass] = ALL if personal else frozenset({"public", "internal"})
    return Visibility(ALL, own, key_id, key_prefix, key_name, audited=personal, log_url=log_url)


def _column(alias: str, name: str) -> str:
    return f"{alias}.{name}" if alias else name


def listed_sql(alias: str = "") -> str:
    """The device (row of ``devices`` as ``alias``) may be shown to the reader."""
    return f"{_column(alias, 'data_class')} = ANY(%(privacy_listed)s::text[])"


def own_sql(alias: str = "") -> str:
    """The device's own data (readings, latest values, exact place) may be served."""
    return f"{_column(alias, 'data_class')} = ANY(%(privacy_own)s::text[])"


def _coarse(alias: str, name: str) -> str:
    column = _column(alias, name)
    return (
        f"CASE WHEN {own_sql(alias)} THEN {column} "
        f"ELSE round({column}::numeric, {_GRID_DECIMALS})::float8 END"
    )


def lat_sql(alias: str = "") -> str:
    """The latitude as the reader may see it (rounded to the grid if not exact)."""
    return _coarse(alias, "lat")


def lon_sql(alias: str = "") -> str:
    return _coarse(alias, "lon")


def name_sql(alias: str = "") -> str:
    """A device's name (often an address) only where its exact place may be seen."""
    return f"CASE WHEN {own_sql(alias)} THEN {_column(alias, 'name')} END"


# The class of a dead letter (``dead_letters`` as ``alias``): its registered device's,
# else that of the profile its topic names (<prefix>/<profile>/<device>/...), else
# internal.
def dead_letter_class_sql(alias: str) -> str:
    return f"""coalesce(
    (SELECT dc.data_class FROM devices dc WHERE dc.device_id = {alias}.device_id),
    (SELECT pc.data_class FROM profile_data_classes pc
     WHERE pc.profile = split_part({alias}.topic, '/', 2)),
    'internal')"""


def dead_letter_own_sql(alias: str) -> str:
    """The dead letter's payload may be served to the reader."""
    return f"{dead_letter_class_sql(alias)} = ANY(%(privacy_own)s::text[])"


# What of an alert is a reading of its device (withheld where its own data is).
ALERT_READING_FIELDS: Final = ("value", "message", "details")


def event_shown(vis: Visibility, data_class: str, event_type: str) -> bool:
    """Whether a live event (reading, status, alert) of a device of this class reaches
    the reader: readings are own data, status and alerts need only the device listed."""
    return vis.reads(data_class) if event_type == "reading" else vis.lists(data_class)


def shown_alert(vis: Visibility, data_class: str, alert: dict[str, Any]) -> dict[str, Any]:
    """An alert as the reader may see it: without the reading in it unless it may read
    the device's own data."""
    if vis.reads(data_class):
        return alert
    return {k: v for k, v in alert.items() if k not in ALERT_READING_FIELDS}


def coarse(value: float | None) -> float | None:
    """A coordinate rounded to the grid, as :func:`lat_sql` does it."""
    return None if value is None else round(value, _GRID_DECIMALS)


def exposure(settings: Settings) -> dict[DataClass, str]:
    """What a reader without a key gets of each class (for /readyz and the start-up log)."""
    group = settings.privacy_min_group
    if not settings.open_data:
        return {
            "public": "served to API keys only (open-data mode is off)",
            "internal": "served to API keys only (open-data mode is off)",
            "personal": "to keys without the personal permission only as aggregates "
            f"(groups of at least {group} devices) and a coarse place; "
            "own data only to operator/admin keys with it, logged",
        }
    return {
        "public": "open data: served in full without a key",
        "internal": "not served without a key; in full to any API key",
        "personal": "without a key only as aggregates per district and hour or day over "
        f"groups of at least {group} devices (smaller groups suppressed), never an id or "
        "place; own data only to operator/admin keys with the personal permission, logged",
    }
