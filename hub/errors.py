"""The hub's errors, in one tree.

    HubError
     ├── ConfigError         invalid settings (names the HUB_ variable)
     ├── ProfileError        a device profile file is wrong (file, field, what)
     ├── RuleSpecError       an alert rule specification is wrong (field, what)
     ├── PayloadError        a message cannot become readings (dead-letter reason, detail)
     ├── StoreError          the database cannot be reached (psycopg's connection
     │    │                  errors and pool timeouts, translated by hub.store.db)
     │    └── MigrationError   a migration failed or the database is not migrated
     ├── OutOfRangeError     a value the database cannot hold (psycopg's DataError,
     │                       translated by hub.store.db)
     ├── ConflictError       the change conflicts with the current state (a read-only
     │                       rule, an invalid transition, a device id already taken)
     ├── ProvisionError      a device cannot be provisioned as asked
     ├── NotifyError         a notification could not be delivered (it is retried)
     ├── MqttProtocolError   the broker sent something the ingest cannot accept
     ├── DevstackError       the private PostgreSQL/Mosquitto could not start
     └── ApiError            a request the API refuses (hub.api.problems maps each
          │                  error of this tree to an HTTP status, in one table)
          ├── NotFound          404  no such device, alert, rule, ...
          ├── InvalidParameter  422  a parameter is malformed or past a limit (names it)
          ├── Unauthenticated   401  a key is needed, or the key given is unknown/revoked
          └── Forbidden         403  the key's role is too low

Lower-level errors (psycopg, paho, pydantic) are translated where they enter the
hub, so callers handle these and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args


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
DeadLetterReason = Literal[
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
]
DEAD_LETTER_REASONS: Final[tuple[DeadLetterReason, ...]] = get_args(DeadLetterReason)


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
    """The database cannot be reached (or dropped the connection)."""


class MigrationError(StoreError):
    pass


class OutOfRangeError(HubError):
    """A value the database cannot hold (an absurd date, a number out of range)."""


class ConflictError(HubError):
    """A change the current state forbids: editing a profile default rule,
    acknowledging a resolved alert, registering a device id that is taken."""


class ProvisionError(HubError):
    """A device cannot be provisioned as asked (bad id, unknown profile, bad file)."""


class NotifyError(HubError):
    """A notification could not be delivered (it will be retried)."""


class MqttProtocolError(HubError):
    """The broker sent something this client cannot accept."""


class DevstackError(HubError):
    """A private server of the development stack could not be started."""


class ApiError(HubError):
    """A request the API refuses; ``detail`` is for the person who sent it."""

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


class NotFound(ApiError):
    pass


class Unauthenticated(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="hub"'})


class Forbidden(ApiError):
    pass


@dataclass(frozen=True, slots=True)
class BadParameter:
    """One wrong parameter of a request: which, where (query, path, header, body), why."""

    name: str
    location: str
    reason: str


class InvalidParameter(ApiError):
    def __init__(self, name: str, reason: str, *, location: str = "query") -> None:
        super().__init__(f"{name}: {reason}")
        self.params = [BadParameter(name, location, reason)]
