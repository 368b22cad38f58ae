"""The hub's errors, in one tree.

    HubError
     ├── ConfigError        invalid settings (names the HUB_ variable)
     ├── ProfileError       a device profile file is wrong (file, field, what)
     ├── PayloadError       an MQTT message cannot become readings (reason, detail)
     ├── StoreError         the database refused or is unreachable
     │    └── MigrationError  a migration failed or the schema is unknown
     ├── ConflictError      the request conflicts with the current state (read-only rule, invalid transition)
     └── DevstackError      the private PostgreSQL/Mosquitto could not start

Lower-level errors (psycopg, paho, pydantic) are translated where they enter the
hub, so callers handle these and nothing else.
"""

from __future__ import annotations

from typing import Final


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HubError):
    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable
        self.message = message


class ProfileError(HubError):
    def __init__(self, file: str, field: str, message: str) -> None:
        super().__init__(f"{file}: {field}: {message}")
        self.file = file
        self.field = field
        self.message = message


# Why a message became a dead letter. Stored in dead_letters.reason and used as the
# label of the dead-letter counter, so keep the set small and stable.
DEAD_LETTER_REASONS: Final = (
    "bad_topic",
    "oversize",
    "decode",
    "unknown_profile",
    "unknown_device",
    "profile_mismatch",
    "unknown_metric",
    "wrong_type",
    "bad_unit",
    "implausible_value",
    "bad_timestamp",
    "empty",
    "store_rejected",
    "undecoded",  # a network server's uplink without a decoded payload (kept for replay)
    "no_mapping",  # the device's profile has no decoded: mapping for a network server's uplink
)


class PayloadError(HubError):
    """A message that cannot be turned into readings; it goes to the dead letters."""

    def __init__(
        self,
        reason: str,
        detail: str,
        *,
        topic: str | None = None,
        device_id: str | None = None,
    ) -> None:
        if reason not in DEAD_LETTER_REASONS:
            raise ValueError(f"unknown dead-letter reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.topic = topic
        self.device_id = device_id


class RuleSpecError(HubError, ValueError):
    """A rule specification is invalid; ``field`` names the offending part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class StoreError(HubError):
    """The database refused a statement or could not be reached."""


class MigrationError(StoreError):
    pass


class ConflictError(HubError):
    """A change the current state forbids: editing a profile default rule,
    acknowledging a resolved alert."""


class DevstackError(HubError):
    """A private server of the development stack could not be started."""
