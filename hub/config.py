"""Settings, read once from ``HUB_*`` environment variables (or a ``.env`` file).

Build them with :func:`load_settings` at start-up and pass the object down; nothing
in the hub reads the environment on its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.errors import ConfigError

_REPO_PROFILES = Path(__file__).resolve().parent.parent / "device_profiles"


class Settings(BaseSettings):
    """Every knob of the hub. The README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(
        env_prefix="HUB_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        "postgresql://localhost:5432/hub",
        description="PostgreSQL connection URL (libpq form).",
    )
    database_read_url: str | None = Field(
        None,
        description="PostgreSQL URL of a streaming replica that the API's GET requests read "
        "from (unset: the primary), falling back to the primary while it does not answer; "
        "/readyz reports its replay lag and where reads go.",
    )
    roles: str = Field(
        "ingest,api,alerts",
        description="What this process runs, comma-separated: ingest (MQTT and HTTP ingest), "
        "api (the HTTP API and dashboard), alerts (stands by for the one alert engine). "
        "/healthz, /readyz and /metrics are served by every process.",
    )
    readings_notify: bool = Field(
        False,
        description="Pass committed readings between hub processes on the PostgreSQL channel "
        "hub_readings (LISTEN/NOTIFY): turn on in every process when more than one runs "
        "(required with the alerts role but not the ingest role).",
    )
    mqtt_url: str = Field(
        "mqtt://localhost:1883",
        description="Broker URL: mqtt://[user:password@]host:port, or mqtts:// for TLS.",
    )
    topic_prefix: str = Field("city", description="First level of every device topic.")
    mqtt_client_id: str = Field(
        "hub-ingest", description="Fixed client id of the ingest's persistent session."
    )
    mqtt_session_expiry_s: int = Field(
        7 * 24 * 3600,
        ge=0,
        description="How long the broker keeps the session (and queued readings) while the hub is away.",
    )
    mqtt_share_group: str | None = Field(
        None,
        description="If set, subscribe as $share/<group>/... so several hub processes split the stream.",
    )
    mqtt_receive_maximum: int = Field(
        65535,
        ge=1,
        le=65535,
        description="MQTT v5 receive maximum: unacknowledged messages the broker may send at once.",
    )
    mqtt_reconnect_max_s: float = Field(
        30.0, gt=0, description="Cap of the exponential reconnect backoff."
    )
    batch_max_messages: int = Field(
        5000, ge=1, description="Flush a batch when it holds this many messages."
    )
    batch_max_delay_ms: int = Field(
        50,  # bench.ingest steady 5,000 msg/s: p99 148 ms at 100, 75 ms at 50
        ge=1,
        description="Flush a batch at the latest this long after its first message.",
    )
    db_writers: int = Field(
        2,
        ge=1,
        le=8,
        description="Batches written to the database at once, each on its own connection "
        "(acknowledgements still go out in receive order).",
    )
    auto_register_devices: bool = Field(
        True,
        description="Register unknown devices on their first valid message; off sends them to dead letters.",
    )
    max_payload_bytes: int = Field(
        65536, ge=64, description="Larger payloads go to dead letters as 'oversize'."
    )
    sources: str | None = Field(
        None,
        description="Extra MQTT sources (other brokers: ChirpStack, The Things Stack) and the "
        "profile rules of network-server uplinks: a YAML file, or the same document inline "
        "(docs/integrations.md).",
    )
    device_directory_refresh_s: float = Field(
        10.0,
        gt=0,
        description="Seconds between two reloads of the devices' DevEUIs and external ids "
        "that network-server uplinks are matched by (an unknown one is also looked up at once).",
    )
    ingest_http_queue: int = Field(
        10000,
        ge=1,
        description="HTTP ingest messages waiting for a batch at most; when full, requests "
        "get 503 with Retry-After.",
    )
    ingest_http_wait_s: float = Field(
        8.0,  # under The Things Stack's 10 s webhook timeout
        gt=0,
        description="Longest an HTTP ingest request waits for its batch to be committed; then "
        "503 with Retry-After (the sender's retry is the redelivery; nothing is stored twice).",
    )
    ingest_retry_after_s: int = Field(
        5, ge=1, description="Retry-After (seconds) of a 503 from the HTTP ingest."
    )
    max_future_s: int = Field(
        300, ge=0, description="Refuse readings stamped further than this in the future."
    )
    max_past_s: int = Field(
        400 * 24 * 3600, ge=0, description="Refuse readings stamped further than this in the past."
    )
    timezone: str = Field(
        "Europe/Oslo",
        description="Local time zone for night windows, daily buckets, dusk and dawn.",
    )
    storage: Literal["auto", "plain", "timescale"] = Field(
        "auto",
        description="Storage level chosen at first migration: auto uses TimescaleDB when available.",
    )
    retention_days: int = Field(
        0, ge=0, description="Drop raw readings older than this many days (0 keeps them forever)."
    )
    rollup_refresh_s: float = Field(
        60.0,
        gt=0,
        description="Plain storage: seconds between two incremental refreshes of the hourly "
        "and daily rollups (reads are exact in between: docs/adr/0015).",
    )
    rollup_lag_s: int = Field(
        600,
        ge=0,
        description="Plain storage: an hour is materialized once it ended this long ago; "
        "readings arriving later for it take the ingest's slower late path.",
    )
    personal_retention_days: int = Field(
        400,
        ge=0,
        description="Keep raw readings of personal devices this many days, then only their "
        "hourly and daily rollups (0 keeps them forever).",
    )
    personal_retention_interval_s: float = Field(
        3600.0, gt=0, description="Seconds between two runs of the personal-data retention job."
    )
    profiles_dir: Path = Field(_REPO_PROFILES, description="Folder of device profile YAML files.")
    mqtt_passwd_file: Path | None = Field(
        None,
        description="Mosquitto password file that `hub devices provision` writes device credentials to.",
    )
    mqtt_acl_file: Path | None = Field(
        None,
        description="Mosquitto ACL file that `hub devices provision` writes device entries to.",
    )
    api_host: str = Field("127.0.0.1", description="Address the HTTP API listens on.")
    api_port: int = Field(8000, ge=1, le=65535, description="Port of the HTTP API and dashboard.")
    map_tile_url: str | None = Field(
        None,
        description="Map tiles of the dashboard, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png "
        "or a local tile server; unset draws the devices on a plain background (no internet needed).",
    )
    map_tile_attribution: str = Field(
        "",
        description="Attribution shown under the map when tiles are used (e.g. the tiles' copyright).",
    )
    map_districts: Path | None = Field(
        None,
        description="GeoJSON file of the municipality's districts (polygons with a `name` "
        "property), drawn on the dashboard's map with their names; works without tiles.",
    )
    open_data: bool = Field(
        False,
        description="Open-data mode: anyone may read (GET) the API without a key. Writes "
        "always need an operator or admin key.",
    )
    privacy_min_group: int = Field(
        5,
        ge=2,
        description="Fewest personal devices (e.g. household meters) an aggregate may cover; "
        "a smaller group is suppressed (docs/privacy.md).",
    )
    privacy_access_log_days: int = Field(
        400,
        ge=1,
        description="Days the log of who read personal data keeps its entries.",
    )
    api_max_range_days: int = Field(
        31,
        ge=1,
        description="Longest time range of one raw-readings request; longer ranges get a 422 "
        "(ask for buckets, or use the CSV export).",
    )
    api_max_rows: int = Field(
        10000,
        ge=100,
        description="Most values in one readings response (raw readings per page, or "
        "buckets x metrics); a request that asks for more gets a 422.",
    )
    export_max_range_days: int = Field(
        400,
        ge=1,
        description="Longest time range of one CSV export (streamed, not held in memory).",
    )
    sse_buffer: int = Field(
        1000,
        ge=10,
        description="Events buffered per live-stream client; a client that falls this far "
        "behind is disconnected (and may reconnect).",
    )
    sse_heartbeat_s: float = Field(
        15.0, gt=0, description="Seconds between keep-alive comments on an idle live stream."
    )
    sta_default_top: int = Field(
        100, ge=1, description="SensorThings API: entities per page when a request has no $top."
    )
    sta_max_top: int = Field(
        10000,
        ge=1,
        description="SensorThings API: most entities per page; a larger $top gets pages of "
        "this size with @iot.nextLink.",
    )
    sta_mqtt: bool = Field(
        False,
        description="SensorThings MQTT extension: publish each committed reading as an STA "
        "Observation to v1.1/Datastreams({id})/Observations on the hub's broker.",
    )
    sta_mqtt_endpoint: str | None = Field(
        None,
        description="Broker URL shown to STA clients in serverSettings (default: HUB_MQTT_URL "
        "without credentials).",
    )
    sta_mqtt_buffer: int = Field(
        20000,
        ge=100,
        description="Observations waiting to be published to MQTT; when full, newer ones are "
        "dropped and counted (the readings stay stored).",
    )
    alerts_enabled: bool = Field(
        True,
        description="Alert rules are evaluated at all (off: no process of this one's settings "
        "stands by for the engine, whatever HUB_ROLES says).",
    )
    alerts_interval_s: float = Field(
        30.0,
        ge=0.2,
        description="Seconds between two runs of the scheduled rules (window, stale, domain).",
    )
    alerts_point_buffer: int = Field(
        50000,  # bench.ingest --mode drain --readings 4: 2 overflows at 10,000, 1 at 50,000
        ge=100,
        description="Readings buffered for the point rules; on overflow the engine re-reads "
        "recent readings from the database instead of slowing the ingest.",
    )
    alerts_webhook_urls: str | None = Field(
        None, description="Comma-separated http(s) URLs that receive every alert change as JSON."
    )
    alerts_webhook_secret: SecretStr | None = Field(
        None,
        description="Key of the HMAC-SHA256 signature sent in X-Hub-Signature-256 (unsigned "
        "when unset).",
    )
    alerts_webhook_timeout_s: float = Field(
        5.0, gt=0, description="Timeout of one webhook request."
    )
    alerts_notify_max_attempts: int = Field(
        8, ge=1, description="Attempts per notification before it is marked dead."
    )
    alerts_notify_backoff_s: float = Field(
        2.0, gt=0, description="Wait before the first retry of a notification; doubles each time."
    )
    alerts_notify_backoff_max_s: float = Field(
        600.0, gt=0, description="Longest wait between two attempts of a notification."
    )
    alerts_mqtt_notify: bool = Field(
        True, description="Publish alert changes to {prefix}/alerts/{profile}/{device_id}."
    )
    alerts_site_lat: float | None = Field(
        None,
        ge=-90,
        le=90,
        description="Latitude used for street lights registered without coordinates.",
    )
    alerts_site_lon: float | None = Field(
        None,
        ge=-180,
        le=180,
        description="Longitude used for street lights registered without coordinates.",
    )
    ngsi_ld_context_url: str | None = Field(
        None,
        description="@context URL the NGSI-LD API and the push announce; default the hub's own context document.",
    )
    ngsi_ld_broker_url: str | None = Field(
        None,
        description="NGSI-LD context broker to push entities to (its base URL, before /ngsi-ld/v1); unset: no push.",
    )
    ngsi_ld_broker_tenant: str | None = Field(
        None, description="Tenant sent to the broker in the NGSILD-Tenant header."
    )
    ngsi_ld_broker_token: SecretStr | None = Field(
        None, description="Bearer token sent to the broker in the Authorization header."
    )
    ngsi_ld_push_batch: int = Field(
        100, ge=1, le=1000, description="Entities per upsert request to the broker."
    )
    ngsi_ld_push_queue: int = Field(
        100_000,
        ge=1,
        description="Changed devices waiting to be pushed, at most; past it the push rescans the database instead.",
    )
    ngsi_ld_push_interval_s: float = Field(
        1.0,
        gt=0,
        description="Seconds between two push rounds, at least (changes in between are coalesced).",
    )
    ngsi_ld_push_timeout_s: float = Field(
        10.0, gt=0, description="Timeout of one upsert request to the broker."
    )
    ngsi_ld_push_backoff_max_s: float = Field(
        60.0, gt=0, description="Longest wait between two attempts while the broker fails."
    )
    ngsi_ld_temporal_attrs: str | None = Field(
        None,
        description="NGSI-LD attributes (comma-separated, e.g. pm10,no2) whose every instance the push also sends to the broker's temporal API; unset: none.",
    )
    log_format: Literal["text", "json"] = Field("text", description="Log lines as text or JSON.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Lowest level logged."
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in {"postgresql", "postgres"}:
            raise ValueError("must start with postgresql://")
        return value

    @field_validator("database_read_url")
    @classmethod
    def _check_read_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in {"postgresql", "postgres"}:
            raise ValueError("must start with postgresql://")
        return value

    @field_validator("roles")
    @classmethod
    def _check_roles(cls, value: str) -> str:
        roles = parse_roles(value)
        unknown = roles - ROLES
        if unknown or not roles:
            raise ValueError(f"roles are any of {', '.join(sorted(ROLES))} (got {value!r})")
        return value

    def has_role(self, role: str) -> bool:
        return role in parse_roles(self.roles)

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
            raise ValueError("must look like mqtt://host:port or mqtts://host:port")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError as exc:
            raise ValueError(f"bad port ({exc})") from None
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if not value or any(c in value for c in "/+#"):
            raise ValueError("must be one non-empty topic level without '/', '+' or '#'")
        return value

    @field_validator("alerts_webhook_urls")
    @classmethod
    def _check_webhook_urls(cls, value: str | None) -> str | None:
        for url in webhook_urls(value):
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise ValueError(f"not an http(s) URL: {url!r}")
        return value

    @field_validator("ngsi_ld_broker_url", "ngsi_ld_context_url")
    @classmethod
    def _check_http_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise ValueError(f"not an http(s) URL: {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a validation failure into one clear ConfigError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"HUB_{field.upper()}", message) from None


ROLES = frozenset({"ingest", "api", "alerts"})


def parse_roles(value: str) -> frozenset[str]:
    """The roles of ``HUB_ROLES`` (comma-separated)."""
    return frozenset(r.strip() for r in value.split(",") if r.strip())


def webhook_urls(value: str | None) -> list[str]:
    """The URLs of ``HUB_ALERTS_WEBHOOK_URLS`` (comma-separated)."""
    return [u.strip() for u in (value or "").split(",") if u.strip()]


def mqtt_endpoint(url: str) -> tuple[str, int, bool, str | None, str | None]:
    """Split an MQTT URL into host, port, TLS flag, username and password."""
    parts = urlsplit(url)
    tls = parts.scheme == "mqtts"
    return (
        parts.hostname or "localhost",
        parts.port or (8883 if tls else 1883),
        tls,
        parts.username,
        parts.password,
    )
