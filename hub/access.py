"""API keys and roles: how keys are made and hashed, and what each role may do.

A key is ``hub_`` followed by 43 URL-safe characters (256 random bits). Only its
SHA-256 is stored: with that much entropy a salt or a slow hash adds nothing, and a
plain hash can be found through a unique index. The key itself is printed once, at
creation; a lost key is revoked and replaced. The first characters (``prefix``) are
kept in clear so that a key can be recognised in ``hub apikey list``.

Roles are ordered: ``viewer`` < ``operator`` < ``admin``. A viewer may read, an
operator may also change devices, alerts and rules, an admin may also manage keys.
``ingest`` stands beside them: it may only send data to the HTTP ingest endpoints
(a network server's webhook, a gateway), which operators and admins may too.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final, Literal, get_args

Role = Literal["viewer", "operator", "admin", "ingest"]
# Permissions a key may carry beside its role. ``personal``: read personal devices'
# own data, not only their aggregates (docs/privacy.md); only operator and admin keys.
Permission = Literal["personal"]
PERMISSIONS: Final[tuple[Permission, ...]] = get_args(Permission)
PERMISSION_ROLES: Final[dict[Permission, tuple[Role, ...]]] = {"personal": ("operator", "admin")}
ROLES: Final[tuple[Role, ...]] = get_args(Role)
_ORDERED: Final[tuple[Role, ...]] = ("viewer", "operator", "admin")
KEY_PREFIX: Final = "hub_"
_SHOWN_PREFIX_CHARS: Final = 12


def generate_key() -> str:
    """A new random key (256 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def shown_prefix(key: str) -> str:
    return key[:_SHOWN_PREFIX_CHARS]


def permission_allowed(role: str, permission: Permission) -> bool:
    """Whether a key of ``role`` may be granted ``permission``."""
    return role in PERMISSION_ROLES[permission]


def role_allows(role: str, needed: Role) -> bool:
    """Whether a key of ``role`` may do what needs ``needed``."""
    if needed == "ingest":
        return role in ("ingest", "operator", "admin")
    if role not in _ORDERED or needed not in _ORDERED:
        return False
    return _ORDERED.index(role) >= _ORDERED.index(needed)
