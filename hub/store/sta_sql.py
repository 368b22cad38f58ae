"""The SensorThings entity sets as SQL over the hub's own tables (no copies).

Each entity set is a :class:`Source`: a FROM clause, its key, one SQL template per
property, and its navigation links. Templates are constants of this module: ``{e}``
is the alias of the entity's main table, ``{j}`` of the table joined to it,
``{c}`` the child alias and ``{pk}`` the parent's key in a to-many link. The
compiler (:mod:`hub.store.sta_compile`) fills them with ``psycopg.sql.Identifier``
and placeholders only; no request text ever becomes SQL text.

The device profiles (Sensors, ObservedProperties, units) are not tables: each
query carries them as array parameters in the ``sta_sensors`` and ``sta_metrics``
common table expressions (:data:`CATALOGUE`).

Observation ids are ``"{series_id}-{microseconds since 1970 UTC}"``: a reading is
unique per series and time, neither changes on restart or on TimescaleDB
compression, so the id is stable (docs/sensorthings.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hub.privacy import policy

Kind = Literal["int", "number", "text", "bool", "time", "date", "tod", "json", "point", "range"]

CATALOGUE = """sta_sensors (id, name, description, metadata) AS (
    SELECT * FROM unnest(%(cat_sensor_id)s::text[], %(cat_sensor_name)s::text[],
                         %(cat_sensor_description)s::text[], %(cat_sensor_metadata)s::text[])
), sta_metrics (profile, metric, description, unit_name, unit_symbol, unit_definition,
                definition, properties) AS (
    SELECT * FROM unnest(%(cat_metric_profile)s::text[], %(cat_metric_name)s::text[],
                         %(cat_metric_description)s::text[], %(cat_metric_unit_name)s::text[],
                         %(cat_metric_unit_symbol)s::text[], %(cat_metric_unit_definition)s::text[],
                         %(cat_metric_definition)s::text[], %(cat_metric_properties)s::jsonb[])
)"""

# Only devices whose own data the reader may read (hub.privacy.policy): a Thing, its
# place and its Observations are a device's own data. Every statement carries the
# reader's Visibility parameters (hub.sta.router).
_DEVICES = f"(SELECT * FROM devices WHERE {policy.own_sql()})"
_OWN_SERIES = (
    f"{{e}}.series_id IN (SELECT s.id FROM series s JOIN devices d ON d.id = s.device "
    f"WHERE {policy.own_sql('d')})"
)

OM_MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
GEO_JSON = "application/geo+json"

_POINT_JSON = (
    "CASE WHEN {e}.lat IS NOT NULL AND {e}.lon IS NOT NULL THEN jsonb_build_object("
    "'type', 'Point', 'coordinates', jsonb_build_array({e}.lon, {e}.lat)) END"
)
_POINT = "point({e}.lon, {e}.lat)"
_LOCATED = "{e}.lat IS NOT NULL AND {e}.lon IS NOT NULL"
_DEVICE_NAME = "coalesce({e}.name, {e}.device_id)"
_OBS_ID = "{e}.series_id::text || '-' || (extract(epoch FROM {e}.time) * 1000000)::bigint::text"
_METRIC_OF = (
    "(SELECT {col} FROM sta_metrics m WHERE m.profile = {{j}}.profile AND m.metric = {{e}}.metric)"
)


@dataclass(frozen=True, slots=True)
class Column:
    """One property: ``sql`` for filtering and ordering, ``out`` (if different) for output."""

    sql: str
    kind: Kind
    out: str | None = None
    nonnull: bool = False  # never NULL (lets paging continue from a key)


@dataclass(frozen=True, slots=True)
class Link:
    """A navigation property. To-one: ``fk`` gives the target's key from the parent
    (over ``{e}``). To-many: ``cond`` ties a child (``{c}``, ``{cj}``) to the parent key
    ``{pk}``; ``single`` when the hub never has more than one (filterable)."""

    target: str
    many: bool
    fk: str | None = None
    cond: str | None = None
    single: bool = False


@dataclass(frozen=True, slots=True)
class Source:
    from_: str
    key: str
    key_kind: Kind
    columns: dict[str, Column]
    links: dict[str, Link]
    where: str | None = None
    tiebreak: tuple[tuple[str, Kind], ...] = ()
    kinds: dict[str, Kind] = field(default_factory=dict)


THINGS = Source(
    from_=_DEVICES + " {e}",
    key="{e}.id",
    key_kind="int",
    tiebreak=(("{e}.id", "int"),),
    columns={
        "name": Column(_DEVICE_NAME, "text", nonnull=True),
        "description": Column(
            "coalesce((SELECT s.description FROM sta_sensors s WHERE s.id = {e}.profile), "
            "{e}.profile)",
            "text",
        ),
        "properties": Column(
            "jsonb_build_object('deviceId', {e}.device_id, 'profile', {e}.profile, "
            "'district', {e}.district, 'status', {e}.status, "
            "'registeredAt', {e}.registered_at, 'lastSeen', {e}.last_seen, "
            "'devEui', {e}.dev_eui, 'externalId', {e}.external_id, "
            "'decommissioned', {e}.decommissioned_at IS NOT NULL)",
            "json",
        ),
    },
    links={
        "Locations": Link("Locations", True, cond="{c}.id = {pk}", single=True),
        "HistoricalLocations": Link("HistoricalLocations", True, cond="{c}.id = {pk}", single=True),
        "Datastreams": Link("Datastreams", True, cond="{c}.device = {pk}"),
    },
)


def _place(geometry: str, links: dict[str, Link]) -> Source:
    """A device's place as an entity: a Location (``location``) or a
    FeatureOfInterest (``feature``), one per placed device."""
    return Source(
        from_=_DEVICES + " {e}",
        where=_LOCATED,
        key="{e}.id",
        key_kind="int",
        tiebreak=(("{e}.id", "int"),),
        columns={
            "name": Column(_DEVICE_NAME, "text", nonnull=True),
            "description": Column("'Place of device ' || {e}.device_id", "text"),
            "encodingType": Column(f"'{GEO_JSON}'::text", "text"),
            geometry: Column(_POINT, "point", out=_POINT_JSON),
        },
        links=links,
    )


LOCATIONS = _place(
    "location",
    {
        "Things": Link("Things", True, cond="{c}.id = {pk}", single=True),
        "HistoricalLocations": Link("HistoricalLocations", True, cond="{c}.id = {pk}", single=True),
    },
)

HISTORICAL_LOCATIONS = Source(
    from_=_DEVICES + " {e}",
    where=_LOCATED,
    key="{e}.id",
    key_kind="int",
    tiebreak=(("{e}.id", "int"),),
    columns={"time": Column("{e}.registered_at", "time", nonnull=True)},
    links={
        "Thing": Link("Things", False, fk="{e}.id"),
        "Locations": Link("Locations", True, cond="{c}.id = {pk}", single=True),
    },
)

SENSORS = Source(
    from_="sta_sensors {e}",
    key="{e}.id",
    key_kind="text",
    tiebreak=(("{e}.id", "int"),),
    columns={
        "name": Column("{e}.name", "text"),
        "description": Column("{e}.description", "text"),
        "encodingType": Column("'application/json'::text", "text"),
        "metadata": Column("{e}.metadata", "text"),
    },
    links={"Datastreams": Link("Datastreams", True, cond="{cj}.profile = {pk}")},
)

OBSERVED_PROPERTIES = Source(
    from_="(SELECT DISTINCT ON (metric) * FROM sta_metrics ORDER BY metric, profile) {e}",
    key="{e}.metric",
    key_kind="text",
    tiebreak=(("{e}.metric", "text"),),
    columns={
        "name": Column("{e}.metric", "text", nonnull=True),
        "definition": Column("{e}.definition", "text"),
        "description": Column("{e}.description", "text"),
        "properties": Column("{e}.properties", "json"),
    },
    links={"Datastreams": Link("Datastreams", True, cond="{c}.metric = {pk}")},
)

# Two scalar subqueries (not one with min and max) so each is one index probe.
_RANGE = (
    "tstzrange((SELECT min(r.time) FROM readings r WHERE r.series_id = {e}.id), "
    "(SELECT max(r.time) FROM readings r WHERE r.series_id = {e}.id), '[]')"
)

DATASTREAMS = Source(
    from_="series {e} JOIN " + _DEVICES + " {j} ON {j}.id = {e}.device",
    key="{e}.id",
    key_kind="int",
    tiebreak=(("{e}.id", "int"),),
    columns={
        "name": Column(
            "coalesce({j}.name, {j}.device_id) || ' ' || {e}.metric", "text", nonnull=True
        ),
        "description": Column(_METRIC_OF.format(col="m.description"), "text"),
        "unitOfMeasurement": Column(
            _METRIC_OF.format(
                col="jsonb_build_object('name', m.unit_name, 'symbol', m.unit_symbol, "
                "'definition', m.unit_definition)"
            ),
            "json",
        ),
        "observationType": Column(f"'{OM_MEASUREMENT}'::text", "text"),
        "observedArea": Column(
            "point({j}.lon, {j}.lat)", "point", out=_POINT_JSON.replace("{e}", "{j}")
        ),
        "phenomenonTime": Column(_RANGE, "range"),
        "resultTime": Column(_RANGE, "range"),
        "properties": Column(
            "jsonb_build_object('deviceId', {j}.device_id, 'metric', {e}.metric, "
            "'profile', {j}.profile)",
            "json",
        ),
    },
    links={
        "Thing": Link("Things", False, fk="{e}.device"),
        "Sensor": Link("Sensors", False, fk="{j}.profile"),
        "ObservedProperty": Link("ObservedProperties", False, fk="{e}.metric"),
        "Observations": Link("Observations", True, cond="{c}.series_id = {pk}"),
    },
)

OBSERVATIONS = Source(
    from_="readings {e}",
    where=_OWN_SERIES,
    key=_OBS_ID,
    key_kind="text",
    tiebreak=(("{e}.series_id", "int"), ("{e}.time", "time")),
    columns={
        "phenomenonTime": Column("{e}.time", "time", nonnull=True),
        "resultTime": Column("{e}.time", "time", nonnull=True),
        "result": Column("{e}.value", "number", nonnull=True),
    },
    links={
        "Datastream": Link("Datastreams", False, fk="{e}.series_id"),
        "FeatureOfInterest": Link(
            "FeaturesOfInterest",
            False,
            fk="(SELECT s.device FROM series s WHERE s.id = {e}.series_id)",
        ),
    },
)

FEATURES_OF_INTEREST = _place(
    "feature",
    {
        "Observations": Link(
            "Observations",
            True,
            cond="{c}.series_id IN (SELECT s.id FROM series s WHERE s.device = {pk})",
        )
    },
)

SOURCES: dict[str, Source] = {
    "Things": THINGS,
    "Locations": LOCATIONS,
    "HistoricalLocations": HISTORICAL_LOCATIONS,
    "Datastreams": DATASTREAMS,
    "Sensors": SENSORS,
    "ObservedProperties": OBSERVED_PROPERTIES,
    "Observations": OBSERVATIONS,
    "FeaturesOfInterest": FEATURES_OF_INTEREST,
}

# An Observation is addressed by its series and time (the readings' primary key).
OBSERVATION_KEY = "{e}.series_id = %(key_series)s AND {e}.time = %(key_time)s"
